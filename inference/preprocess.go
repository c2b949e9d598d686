package inference

import (
	"fmt"
	"image"
	"image/draw"

	"github.com/disintegration/imaging"

	"github.com/mocokit/mocokit/models"
)

// Preprocess turns img into the network's input, [3,S,S] in CHW order, as
// torchvision's Resize (bilinear), ToTensor and Normalize do. Transparent
// pixels are composited on white: PIL's convert("RGB") would keep whatever
// colour a fully transparent pixel happens to store, which is arbitrary.
func Preprocess(img image.Image, p models.Preprocess) ([]float32, error) {
	dst := make([]float32, 3*p.InputSize*p.InputSize)
	return dst, PreprocessInto(dst, img, p)
}

// PreprocessInto is Preprocess writing into dst, which must hold exactly
// 3*S*S values (one image of a batch).
func PreprocessInto(dst []float32, img image.Image, p models.Preprocess) error {
	if err := p.Validate(); err != nil {
		return err
	}
	size := p.InputSize
	if len(dst) != 3*size*size {
		return fmt.Errorf("inference: %d values for a %dx%d image, want %d",
			len(dst), size, size, 3*size*size)
	}
	b := img.Bounds()
	if b.Empty() {
		return fmt.Errorf("inference: empty image %v", b)
	}
	rgba := opaqueRGBA(img)
	var src *image.NRGBA
	if b.Dx() != size || b.Dy() != size {
		src = imaging.Resize(rgba, size, size, imaging.Linear)
	} else {
		// Fully opaque, so premultiplied and straight colours are equal.
		src = &image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect}
	}
	writeCHW(dst, src, p)
	return nil
}

// opaqueRGBA draws img on white into a fresh image at the origin.
func opaqueRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		draw.Draw(out, out.Rect, img, b.Min, draw.Src)
		return out
	}
	draw.Draw(out, out.Rect, image.White, image.Point{}, draw.Src)
	draw.Draw(out, out.Rect, img, b.Min, draw.Over)
	return out
}

// writeCHW computes (v/255 - mean)/std in float32, the order of operations
// of ToTensor then Normalize, so the values match PyTorch's bit for bit.
func writeCHW(dst []float32, src *image.NRGBA, p models.Preprocess) {
	size := p.InputSize
	plane := size * size
	for y := 0; y < size; y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*size]
		for x := 0; x < size; x++ {
			i := y*size + x
			for c := 0; c < 3; c++ {
				v := float32(row[4*x+c]) / 255
				dst[c*plane+i] = (v - p.Mean[c]) / p.Std[c]
			}
		}
	}
}
