package augment

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// precisionBits is Pillow's fixed-point precision for 8-bit resampling
// coefficients (Resample.c).
const precisionBits = 32 - 8 - 2

// ResizeBilinear resizes img to width x height as torchvision's resize
// does for a PIL image: Image.resize with the BILINEAR filter, which
// widens the triangle filter by the scale factor when shrinking (an
// antialiased resize), uses fixed-point coefficients, and resamples the
// rows first, then the columns, rounding to 8 bits in between.
func ResizeBilinear(img *image.NRGBA, width, height int) (*image.NRGBA, error) {
	if width < 1 || height < 1 {
		return nil, fmt.Errorf("augment: resize to %dx%d: sides must be at least 1",
			width, height)
	}
	w, h := size(img)
	out := clone(img)
	if width != w {
		out = resampleRows(out, newCoeffs(w, width))
	}
	if height != h {
		out = resampleColumns(out, newCoeffs(h, height))
	}
	return out, nil
}

// coeffs are the fixed-point weights of one resampling direction: output
// pixel i reads the n[i] input pixels from first[i] with weights
// k[i*ksize:].
type coeffs struct {
	ksize    int
	first, n []int
	k        []int32
}

// newCoeffs computes Pillow's precompute_coeffs and normalize_coeffs_8bpc
// for the bilinear filter (support 1) from inSize to outSize pixels.
func newCoeffs(inSize, outSize int) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterScale := max(scale, 1)
	support := filterScale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, first: make([]int, outSize), n: make([]int, outSize),
		k: make([]int32, outSize*ksize)}
	weights := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		var sum float64
		for x := 0; x < xmax; x++ {
			weights[x] = triangle((float64(x+xmin) - center + 0.5) / filterScale)
			sum += weights[x]
		}
		for x := 0; x < xmax; x++ {
			if sum != 0 {
				weights[x] /= sum
			}
			c.k[xx*ksize+x] = fixedPoint(weights[x])
		}
		c.first[xx], c.n[xx] = xmin, xmax
	}
	return c
}

// triangle is the bilinear filter.
func triangle(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

// fixedPoint rounds a weight to precisionBits fractional bits, half away
// from zero, as Pillow's normalize_coeffs_8bpc.
func fixedPoint(w float64) int32 {
	scaled := w * (1 << precisionBits)
	if w < 0 {
		return int32(-0.5 + scaled)
	}
	return int32(0.5 + scaled)
}

// clip8 turns a fixed-point sum into a byte as Pillow's clip8: an
// arithmetic shift (floor), clamped to [0, 255].
func clip8(v int32) uint8 {
	v >>= precisionBits
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// resampleRows resamples every row of img (an opaque origin image) to
// len(c.first) pixels.
func resampleRows(img *image.NRGBA, c coeffs) *image.NRGBA {
	_, h := size(img)
	outW := len(c.first)
	out := newOpaque(outW, h)
	for y := 0; y < h; y++ {
		src := img.Pix[y*img.Stride:]
		dst := out.Pix[y*out.Stride:]
		for xx := 0; xx < outW; xx++ {
			k := c.k[xx*c.ksize:]
			for ch := 0; ch < 3; ch++ {
				acc := int32(1 << (precisionBits - 1))
				for x := 0; x < c.n[xx]; x++ {
					acc += int32(src[(c.first[xx]+x)*4+ch]) * k[x]
				}
				dst[xx*4+ch] = clip8(acc)
			}
		}
	}
	return out
}

// resampleColumns resamples every column of img (an opaque origin image)
// to len(c.first) pixels.
func resampleColumns(img *image.NRGBA, c coeffs) *image.NRGBA {
	w, _ := size(img)
	outH := len(c.first)
	out := newOpaque(w, outH)
	for yy := 0; yy < outH; yy++ {
		k := c.k[yy*c.ksize:]
		dst := out.Pix[yy*out.Stride:]
		for i := 0; i < w*4; i++ {
			if i%4 == 3 {
				continue
			}
			acc := int32(1 << (precisionBits - 1))
			for y := 0; y < c.n[yy]; y++ {
				acc += int32(img.Pix[(c.first[yy]+y)*img.Stride+i]) * k[y]
			}
			dst[i] = clip8(acc)
		}
	}
	return out
}

// ResizedCrop crops img as Crop and resizes the crop to side x side as
// ResizeBilinear: torchvision's resized_crop.
func ResizedCrop(img *image.NRGBA, top, left, height, width, side int) (*image.NRGBA, error) {
	crop, err := Crop(img, top, left, height, width)
	if err != nil {
		return nil, err
	}
	return ResizeBilinear(crop, side, side)
}

// ShorterSide returns the size torchvision's Resize(side) gives a
// width x height image: the shorter side becomes side and the longer one
// keeps the aspect ratio, truncated.
func ShorterSide(width, height, side int) (w, h int) {
	if width <= height {
		return side, int(float64(side) * float64(height) / float64(width))
	}
	return int(float64(side) * float64(width) / float64(height)), side
}

// Resize returns transforms.Resize(side) with bilinear interpolation: the
// shorter side becomes side (see ShorterSide).
func Resize(side int) Transform {
	if side < 1 {
		return invalidf("Resize(%d): size must be at least 1", side)
	}
	return resize{side}
}

type resize struct{ side int }

func (r resize) check() error { return nil }

func (r resize) Apply(img *image.NRGBA, _ *rand.Rand) (*image.NRGBA, error) {
	w, h := size(img)
	nw, nh := ShorterSide(w, h, r.side)
	if nw == w && nh == h {
		return img, nil
	}
	return ResizeBilinear(img, nw, nh)
}
