package augment

import (
	"fmt"
	"image"
)

// ToTensor writes img into dst as float32 in CHW order (all of red, then
// green, then blue, each row by row), each byte v becoming
// (v/255 - mean[c]) / std[c] in single precision: torchvision's to_tensor
// followed by normalize. dst must hold exactly 3*width*height values.
func ToTensor(img *image.NRGBA, mean, std [3]float32, dst []float32) error {
	w, h := size(img)
	if len(dst) != 3*w*h {
		return fmt.Errorf("augment: ToTensor of a %dx%d image needs %d values, got %d",
			w, h, 3*w*h, len(dst))
	}
	for c, s := range std {
		if s == 0 {
			return fmt.Errorf("augment: ToTensor: std of channel %d is zero", c)
		}
	}
	plane := w * h
	for y := 0; y < h; y++ {
		p := img.Pix[off(img, 0, y):]
		for x := 0; x < w; x++ {
			i := y*w + x
			for c := 0; c < 3; c++ {
				v := float32(p[x*4+c]) / 255
				dst[c*plane+i] = (v - mean[c]) / std[c]
			}
		}
	}
	return nil
}
