package augment

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// Crop returns the height x width region of img whose top-left corner is
// at row top, column left, as torchvision's crop on a PIL image
// (Image.crop): the parts of the region outside img are black, so a
// negative top or left pads.
func Crop(img *image.NRGBA, top, left, height, width int) (*image.NRGBA, error) {
	if height < 1 || width < 1 {
		return nil, fmt.Errorf("augment: crop of %dx%d: sides must be at least 1", width, height)
	}
	w, h := size(img)
	out := newOpaque(width, height)
	for y := 0; y < height; y++ {
		sy := top + y
		if sy < 0 || sy >= h {
			continue
		}
		x0, x1 := max(0, -left), min(width, w-left)
		if x0 >= x1 {
			continue
		}
		src := img.Pix[off(img, left+x0, sy):]
		dst := out.Pix[y*out.Stride+x0*4:]
		for i := 0; i < (x1-x0)*4; i += 4 {
			dst[i], dst[i+1], dst[i+2] = src[i], src[i+1], src[i+2]
		}
	}
	return out, nil
}

// Pad returns img with padding black pixels on every side, as
// torchvision's pad with fill 0 and padding_mode "constant".
func Pad(img *image.NRGBA, padding int) (*image.NRGBA, error) {
	if padding < 0 {
		return nil, fmt.Errorf("augment: negative padding %d", padding)
	}
	w, h := size(img)
	return Crop(img, -padding, -padding, h+2*padding, w+2*padding)
}

// HFlip returns img mirrored left to right.
func HFlip(img *image.NRGBA) *image.NRGBA {
	w, h := size(img)
	out := newOpaque(w, h)
	for y := 0; y < h; y++ {
		src := img.Pix[off(img, 0, y):]
		dst := out.Pix[y*out.Stride:]
		for x := 0; x < w; x++ {
			s, d := x*4, (w-1-x)*4
			dst[d], dst[d+1], dst[d+2] = src[s], src[s+1], src[s+2]
		}
	}
	return out
}

// CenterCrop returns the side x side centre of img as torchvision's
// center_crop: an image smaller than side is padded with black first, and
// an odd margin is split with Python's round (half to even).
func CenterCrop(img *image.NRGBA, side int) (*image.NRGBA, error) {
	if side < 1 {
		return nil, fmt.Errorf("augment: center crop to %d: size must be at least 1", side)
	}
	w, h := size(img)
	return Crop(img, centerOffset(h, side), centerOffset(w, side), side, side)
}

// centerOffset is where a crop of side c starts in a side of n.
func centerOffset(n, c int) int {
	if c > n {
		return -((c - n) / 2)
	}
	return int(math.RoundToEven(float64(n-c) / 2))
}

// RandomCrop returns transforms.RandomCrop(size, padding): the image is
// padded with padding black pixels on each side, then a size x size window
// is taken at a uniformly drawn position.
func RandomCrop(size, padding int) Transform {
	if size < 1 || padding < 0 {
		return invalidf("RandomCrop(%d, %d): want size >= 1 and padding >= 0", size, padding)
	}
	return randomCrop{size, padding}
}

type randomCrop struct{ size, padding int }

func (c randomCrop) check() error { return nil }

func (c randomCrop) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	w, h := size(img)
	w, h = w+2*c.padding, h+2*c.padding
	if w < c.size || h < c.size {
		return nil, fmt.Errorf("augment: RandomCrop(%d): padded image is only %dx%d",
			c.size, w, h)
	}
	top, left := 0, 0
	// As torchvision, a crop of the whole padded image draws nothing.
	if w != c.size || h != c.size {
		top = rng.IntN(h - c.size + 1)
		left = rng.IntN(w - c.size + 1)
	}
	return Crop(img, top-c.padding, left-c.padding, c.size, c.size)
}

// RandomHorizontalFlip mirrors the image with probability p.
func RandomHorizontalFlip(p float64) Transform {
	if !isProbability(p) {
		return invalidf("RandomHorizontalFlip: probability %v outside [0, 1]", p)
	}
	return randomFlip{p}
}

type randomFlip struct{ p float64 }

func (f randomFlip) check() error { return nil }

func (f randomFlip) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	if rng.Float64() < f.p {
		return HFlip(img), nil
	}
	return img, nil
}

// CenterCropTo returns transforms.CenterCrop(size).
func CenterCropTo(size int) Transform {
	if size < 1 {
		return invalidf("CenterCrop(%d): size must be at least 1", size)
	}
	return centerCrop{size}
}

type centerCrop struct{ size int }

func (c centerCrop) check() error { return nil }

func (c centerCrop) Apply(img *image.NRGBA, _ *rand.Rand) (*image.NRGBA, error) {
	return CenterCrop(img, c.size)
}
