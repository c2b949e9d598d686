// Package augment implements the image augmentations of torchvision's
// transforms (v0.14) as they behave on PIL images: random crops with
// padding, flips, RandomResizedCrop, resizing, colour jitter, grayscale,
// MoCo v2's Gaussian blur, and the final ToTensor plus Normalize.
//
// Each random transform draws its parameters from a *rand.Rand that the
// caller passes, so its output is a function of the image and the
// generator's state. The pixel maths are those of Pillow, which
// torchvision calls for PIL images: each deterministic step has an
// exported functional form (Crop, ResizeBilinear, AdjustHue, ...) that
// takes the parameters a random transform would draw.
//
// Images are *image.NRGBA; alpha is ignored and outputs are opaque, as
// torchvision sees an RGB image. No function modifies its input.
package augment

import (
	"fmt"
	"image"
	"math/rand/v2"
)

// Transform is one augmentation step.
type Transform interface {
	// Apply returns the transformed image, drawing any random parameter
	// from rng. It never modifies img.
	Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error)
}

// checker is implemented by the package's transforms so that a pipeline
// built with invalid parameters is reported before any image flows.
type checker interface {
	check() error
}

// Check reports the first invalid parameter given to a constructor
// anywhere inside t (Compose and RandomApply are looked through). A
// transform from outside this package is taken as valid.
func Check(t Transform) error {
	if c, ok := t.(checker); ok {
		return c.check()
	}
	return nil
}

// invalid is what a constructor returns for bad parameters: it fails
// every Apply with the reason, and Check reports it.
type invalid struct{ err error }

func (t invalid) Apply(*image.NRGBA, *rand.Rand) (*image.NRGBA, error) { return nil, t.err }
func (t invalid) check() error                                         { return t.err }

func invalidf(format string, args ...any) Transform {
	return invalid{fmt.Errorf("augment: "+format, args...)}
}

// Compose applies ts in order, as transforms.Compose.
func Compose(ts ...Transform) Transform { return compose(ts) }

type compose []Transform

func (c compose) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	for _, t := range c {
		var err error
		if img, err = t.Apply(img, rng); err != nil {
			return nil, err
		}
	}
	return img, nil
}

func (c compose) check() error {
	for _, t := range c {
		if t == nil {
			return fmt.Errorf("augment: Compose: nil transform")
		}
		if err := Check(t); err != nil {
			return err
		}
	}
	return nil
}

// RandomApply applies t with probability p, as transforms.RandomApply.
func RandomApply(t Transform, p float64) Transform {
	if t == nil {
		return invalidf("RandomApply: nil transform")
	}
	if !isProbability(p) {
		return invalidf("RandomApply: probability %v outside [0, 1]", p)
	}
	return randomApply{t, p}
}

type randomApply struct {
	t Transform
	p float64
}

func (r randomApply) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	// torchvision skips when p < u, so u == p applies.
	if r.p < rng.Float64() {
		return img, nil
	}
	return r.t.Apply(img, rng)
}

func (r randomApply) check() error { return Check(r.t) }

func isProbability(p float64) bool { return p >= 0 && p <= 1 }

// size returns img's width and height.
func size(img *image.NRGBA) (w, h int) {
	b := img.Bounds()
	return b.Dx(), b.Dy()
}

// off returns the offset in img.Pix of the pixel x, y counted from the
// image's top-left corner, whatever its bounds' origin.
func off(img *image.NRGBA, x, y int) int {
	return (y)*img.Stride + x*4 + img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y)
}

// newOpaque returns a w x h image at the origin with every alpha at 255
// and every colour at 0.
func newOpaque(w, h int) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(out.Pix); i += 4 {
		out.Pix[i] = 255
	}
	return out
}

// clone returns an opaque copy of img at the origin.
func clone(img *image.NRGBA) *image.NRGBA {
	w, h := size(img)
	out := newOpaque(w, h)
	for y := 0; y < h; y++ {
		src := img.Pix[off(img, 0, y):]
		dst := out.Pix[y*out.Stride:]
		for x := 0; x < w*4; x += 4 {
			dst[x], dst[x+1], dst[x+2] = src[x], src[x+1], src[x+2]
		}
	}
	return out
}
