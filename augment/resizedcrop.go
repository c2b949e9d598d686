package augment

import (
	"image"
	"math"
	"math/rand/v2"
)

// RandomResizedCrop returns transforms.RandomResizedCrop(side, scale,
// ratio) with bilinear interpolation: a crop of random area (a fraction
// in [scaleMin, scaleMax] of the image) and aspect ratio (log-uniform in
// [ratioMin, ratioMax]) resized to side x side. torchvision's defaults are
// scale (0.08, 1) and ratio (3/4, 4/3).
func RandomResizedCrop(side int, scaleMin, scaleMax, ratioMin, ratioMax float64) Transform {
	switch {
	case side < 1:
		return invalidf("RandomResizedCrop(%d): size must be at least 1", side)
	case !(scaleMin > 0 && scaleMin <= scaleMax && scaleMax <= 1):
		return invalidf("RandomResizedCrop: scale (%v, %v) not within (0, 1] in order",
			scaleMin, scaleMax)
	case !(ratioMin > 0 && ratioMin <= ratioMax) || math.IsInf(ratioMax, 0):
		return invalidf("RandomResizedCrop: ratio (%v, %v) not positive in order",
			ratioMin, ratioMax)
	}
	return randomResizedCrop{side, [2]float64{scaleMin, scaleMax},
		[2]float64{ratioMin, ratioMax}}
}

type randomResizedCrop struct {
	side         int
	scale, ratio [2]float64
}

func (r randomResizedCrop) check() error { return nil }

func (r randomResizedCrop) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	w, h := size(img)
	top, left, ch, cw := RandomResizedCropParams(rng, w, h, r.scale, r.ratio)
	return ResizedCrop(img, top, left, ch, cw, r.side)
}

// RandomResizedCropParams draws the crop box of RandomResizedCrop for a
// width x height image as torchvision's get_params: up to ten tries of a
// random area and log-uniform aspect ratio whose rounded box fits, then
// the whole image cut to the nearest allowed ratio, centred.
func RandomResizedCropParams(rng *rand.Rand, width, height int,
	scale, ratio [2]float64) (top, left, h, w int) {
	area := float64(width * height)
	logMin, logMax := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(rng, scale[0], scale[1])
		aspect := math.Exp(uniform(rng, logMin, logMax))
		w = int(math.RoundToEven(math.Sqrt(target * aspect)))
		h = int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < w && w <= width && 0 < h && h <= height {
			top = rng.IntN(height - h + 1)
			left = rng.IntN(width - w + 1)
			return top, left, h, w
		}
	}
	inRatio := float64(width) / float64(height)
	switch {
	case inRatio < ratio[0]:
		w = width
		h = int(math.RoundToEven(float64(w) / ratio[0]))
	case inRatio > ratio[1]:
		h = height
		w = int(math.RoundToEven(float64(h) * ratio[1]))
	default:
		w, h = width, height
	}
	return (height - h) / 2, (width - w) / 2, h, w
}

// uniform draws from [lo, hi), as torch's uniform_.
func uniform(rng *rand.Rand, lo, hi float64) float64 {
	// Converted so that no platform fuses the multiply-add: the same seed
	// gives the same crops everywhere.
	return lo + float64((hi-lo)*rng.Float64())
}
