package augment

import (
	"fmt"
	"image"
	"math"
)

// Luma is the ITU-R 601-2 luma of an RGB pixel as Pillow's convert("L")
// computes it: fixed-point weights 19595, 38470 and 7471 out of 65536,
// rounded.
func Luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// Grayscale returns img's luma (see Luma) in all three channels, as
// torchvision's rgb_to_grayscale(img, num_output_channels=3) on a PIL image.
func Grayscale(img *image.NRGBA) *image.NRGBA {
	return mapPixels(img, func(p []uint8) {
		l := Luma(p[0], p[1], p[2])
		p[0], p[1], p[2] = l, l, l
	})
}

// mapPixels returns an opaque copy of img with f applied to each pixel's
// R, G, B bytes in place.
func mapPixels(img *image.NRGBA, f func(p []uint8)) *image.NRGBA {
	out := clone(img)
	for i := 0; i < len(out.Pix); i += 4 {
		f(out.Pix[i : i+3])
	}
	return out
}

// AdjustBrightness blends img with black by factor, as PIL's
// ImageEnhance.Brightness (torchvision's adjust_brightness).
func AdjustBrightness(img *image.NRGBA, factor float64) (*image.NRGBA, error) {
	if !(factor >= 0) {
		return nil, fmt.Errorf("augment: brightness factor %v is not non-negative", factor)
	}
	a := float32(factor)
	return mapPixels(img, func(p []uint8) {
		p[0], p[1], p[2] = blend(0, p[0], a), blend(0, p[1], a), blend(0, p[2], a)
	}), nil
}

// AdjustContrast blends img with a gray image of its mean luma by factor,
// as PIL's ImageEnhance.Contrast (torchvision's adjust_contrast).
func AdjustContrast(img *image.NRGBA, factor float64) (*image.NRGBA, error) {
	if !(factor >= 0) {
		return nil, fmt.Errorf("augment: contrast factor %v is not non-negative", factor)
	}
	m, a := meanLuma(img), float32(factor)
	return mapPixels(img, func(p []uint8) {
		p[0], p[1], p[2] = blend(m, p[0], a), blend(m, p[1], a), blend(m, p[2], a)
	}), nil
}

// meanLuma is ImageStat's mean of the luma image, rounded half up as
// ImageEnhance.Contrast rounds it.
func meanLuma(img *image.NRGBA) uint8 {
	w, h := size(img)
	var sum float64
	for y := 0; y < h; y++ {
		p := img.Pix[off(img, 0, y):]
		for x := 0; x < w*4; x += 4 {
			sum += float64(Luma(p[x], p[x+1], p[x+2]))
		}
	}
	return uint8(sum/float64(w*h) + 0.5)
}

// AdjustSaturation blends img with its grayscale by factor, as PIL's
// ImageEnhance.Color (torchvision's adjust_saturation).
func AdjustSaturation(img *image.NRGBA, factor float64) (*image.NRGBA, error) {
	if !(factor >= 0) {
		return nil, fmt.Errorf("augment: saturation factor %v is not non-negative", factor)
	}
	a := float32(factor)
	return mapPixels(img, func(p []uint8) {
		l := Luma(p[0], p[1], p[2])
		p[0], p[1], p[2] = blend(l, p[0], a), blend(l, p[1], a), blend(l, p[2], a)
	}), nil
}

// blend is Pillow's ImagingBlend of one byte: from + alpha*(to-from) in
// single precision, truncated, and clamped when alpha extrapolates.
func blend(from, to uint8, alpha float32) uint8 {
	// The explicit float32 conversion keeps the product rounded on its
	// own, as C computes it, rather than fused into the addition.
	v := float32(from) + float32(alpha*float32(int(to)-int(from)))
	if alpha >= 0 && alpha <= 1 {
		return uint8(v)
	}
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}

// AdjustHue rotates img's hue by factor of a turn (in [-0.5, 0.5]), as
// torchvision's adjust_hue on a PIL image: Pillow's RGB to HSV conversion,
// the hue byte shifted by factor*255 truncated (wrapping around), and
// back.
func AdjustHue(img *image.NRGBA, factor float64) (*image.NRGBA, error) {
	if !(factor >= -0.5 && factor <= 0.5) {
		return nil, fmt.Errorf("augment: hue factor %v outside [-0.5, 0.5]", factor)
	}
	shift := uint8(int(factor*255) & 0xff)
	return mapPixels(img, func(p []uint8) {
		h, s, v := rgbToHSV(p[0], p[1], p[2])
		p[0], p[1], p[2] = hsvToRGB(h+shift, s, v)
	}), nil
}

// rgbToHSV is Pillow's rgb2hsv for one pixel, with its mix of single and
// double precision kept: each float32 conversion below is a C assignment
// to a float variable.
func rgbToHSV(r, g, b uint8) (h, s, v uint8) {
	maxc, minc := max(r, g, b), min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	sat := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var hue float32
	switch {
	case r == maxc:
		hue = bc - gc
	case g == maxc:
		hue = float32(2.0 + float64(rc) - float64(bc))
	default:
		hue = float32(4.0 + float64(gc) - float64(rc))
	}
	hue = float32(math.Mod(float64(hue)/6.0+1.0, 1.0))
	return clampByte(int(float64(hue) * 255.0)), clampByte(int(float64(sat) * 255.0)), maxc
}

// hsvToRGB is Pillow's hsv2rgb for one pixel (see rgbToHSV on precision).
func hsvToRGB(h, s, v uint8) (r, g, b uint8) {
	if s == 0 {
		return v, v, v
	}
	h6 := float64(h) * 6.0 / 255.0
	i := int(math.Floor(h6))
	f := float32(h6 - float64(i))
	fs := float32(float64(s) / 255.0)
	fv := float64(v)
	p := clampByte(int(math.Round(fv * (1.0 - float64(fs)))))
	q := clampByte(int(math.Round(fv * (1.0 - float64(fs*f)))))
	t := clampByte(int(math.Round(fv * (1.0 - float64(float64(fs)*(1.0-float64(f)))))))
	switch i % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}

func clampByte(v int) uint8 {
	return uint8(min(max(v, 0), 255))
}
