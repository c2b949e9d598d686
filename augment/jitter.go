package augment

import (
	"image"
	"math/rand/v2"
)

// ColorJitter returns transforms.ColorJitter(brightness, contrast,
// saturation, hue): brightness, contrast and saturation factors drawn
// uniformly from [max(0, 1-x), 1+x], the hue factor from [-hue, hue], and
// the four adjustments applied in a random order. A zero leaves its
// adjustment out.
func ColorJitter(brightness, contrast, saturation, hue float64) Transform {
	for _, v := range []float64{brightness, contrast, saturation, hue} {
		if !(v >= 0) {
			return invalidf("ColorJitter(%v, %v, %v, %v): values must be non-negative",
				brightness, contrast, saturation, hue)
		}
	}
	if hue > 0.5 {
		return invalidf("ColorJitter: hue %v above 0.5", hue)
	}
	return colorJitter{ranges: [4]jitterRange{factorRange(brightness),
		factorRange(contrast), factorRange(saturation), {-hue, hue, hue != 0}}}
}

// jitterRange is the interval a factor is drawn from; on is false when
// torchvision would set the range to None and skip the adjustment.
type jitterRange struct {
	lo, hi float64
	on     bool
}

func factorRange(x float64) jitterRange {
	return jitterRange{max(0, 1-x), 1 + x, x != 0}
}

// colorJitter's ranges are brightness, contrast, saturation, hue: the
// function indices of torchvision's ColorJitter.forward.
type colorJitter struct {
	ranges [4]jitterRange
}

func (c colorJitter) check() error { return nil }

// JitterParams are the parameters one ColorJitter draws: the order of the
// four adjustments (0 brightness, 1 contrast, 2 saturation, 3 hue) and
// their factors; Apply[i] is false for an adjustment left out.
type JitterParams struct {
	Order   [4]int
	Factors [4]float64
	Apply   [4]bool
}

// params draws the parameters as torchvision's get_params: a random
// permutation, then one uniform draw for each adjustment switched on.
func (c colorJitter) params(rng *rand.Rand) JitterParams {
	var p JitterParams
	copy(p.Order[:], rng.Perm(4))
	for i, r := range c.ranges {
		if r.on {
			p.Factors[i], p.Apply[i] = uniform(rng, r.lo, r.hi), true
		}
	}
	return p
}

func (c colorJitter) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	return ApplyJitter(img, c.params(rng))
}

// ApplyJitter applies the adjustments of p in p.Order.
func ApplyJitter(img *image.NRGBA, p JitterParams) (*image.NRGBA, error) {
	adjust := [4]func(*image.NRGBA, float64) (*image.NRGBA, error){
		AdjustBrightness, AdjustContrast, AdjustSaturation, AdjustHue}
	for _, i := range p.Order {
		if i < 0 || i > 3 || !p.Apply[i] {
			continue
		}
		var err error
		if img, err = adjust[i](img, p.Factors[i]); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// RandomGrayscale converts the image to grayscale (see Grayscale) with
// probability p, as transforms.RandomGrayscale.
func RandomGrayscale(p float64) Transform {
	if !isProbability(p) {
		return invalidf("RandomGrayscale: probability %v outside [0, 1]", p)
	}
	return randomGrayscale{p}
}

type randomGrayscale struct{ p float64 }

func (g randomGrayscale) check() error { return nil }

func (g randomGrayscale) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	if rng.Float64() < g.p {
		return Grayscale(img), nil
	}
	return img, nil
}
