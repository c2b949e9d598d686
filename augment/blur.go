package augment

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// blurPasses is the number of box blurs Pillow's GaussianBlur runs in each
// direction.
const blurPasses = 3

// GaussianBlurPIL blurs img as PIL's ImageFilter.GaussianBlur(radius):
// three box blurs of a fractional radius in each direction (first along
// rows, then along columns), whose combined variance is radius squared,
// in 24-bit fixed point with edge pixels repeated.
func GaussianBlurPIL(img *image.NRGBA, radius float64) (*image.NRGBA, error) {
	if !(radius >= 0) || math.IsInf(radius, 0) {
		return nil, fmt.Errorf("augment: blur radius %v is not a non-negative number", radius)
	}
	box := newBoxBlur(boxRadius(float32(radius)))
	out := clone(img)
	w, h := size(out)
	line := make([]uint8, max(w, h))
	tmp := make([]uint8, max(w, h))
	for ch := 0; ch < 3; ch++ {
		for y := 0; y < h; y++ {
			box.blurLine(out.Pix, y*out.Stride+ch, 4, w, line[:w], tmp[:w])
		}
		for x := 0; x < w; x++ {
			box.blurLine(out.Pix, x*4+ch, out.Stride, h, line[:h], tmp[:h])
		}
	}
	return out, nil
}

// boxRadius is Pillow's box radius for a Gaussian of standard deviation
// radius (Gwosdek et al., "Theoretical foundations of Gaussian
// convolution by extended box filtering", 2011), computed with the same
// mix of float and double as the C code. The conversions stop the
// compiler fusing a product into the next addition, which C does not.
func boxRadius(radius float32) float32 {
	sigma2 := float32(radius*radius) / blurPasses
	length := float32(math.Sqrt(12.0*float64(sigma2) + 1.0))
	l := float32(math.Floor((float64(length) - 1.0) / 2.0))
	a := float32(2*l+1) * (float32(l*(l+1)) - float32(3*sigma2))
	a /= 6 * (sigma2 - float32((l+1)*(l+1)))
	return l + a
}

// boxBlur is one extended box filter: weight ww on the 2r+1 pixels around
// the centre and fw on the two beyond them, out of 1<<24.
type boxBlur struct {
	r      int
	ww, fw uint32
}

func newBoxBlur(radius float32) boxBlur {
	r := int(radius)
	ww := uint32(float32(1<<24) / (radius*2 + 1))
	fw := ((1 << 24) - uint32(r*2+1)*ww) / 2
	return boxBlur{r, ww, fw}
}

// blurLine blurs the n bytes of pix at start, start+step, ... blurPasses
// times in place; line and tmp are scratch of n bytes.
func (b boxBlur) blurLine(pix []uint8, start, step, n int, line, tmp []uint8) {
	for i := range n {
		line[i] = pix[start+i*step]
	}
	for range blurPasses {
		b.pass(line, tmp)
		line, tmp = tmp, line
	}
	for i := range n {
		pix[start+i*step] = line[i]
	}
}

// pass is Pillow's ImagingLineBoxBlur on one line: a sliding window sum
// over [x-r, x+r] with indices clamped to the line.
func (b boxBlur) pass(in, out []uint8) {
	last := len(in) - 1
	at := func(i int) uint32 { return uint32(in[min(max(i, 0), last)]) }
	var acc uint32
	for i := -b.r; i <= b.r; i++ {
		acc += at(i)
	}
	for x := range in {
		if x > 0 {
			acc += at(x+b.r) - at(x-b.r-1)
		}
		far := at(x-b.r-1) + at(x+b.r+1)
		out[x] = uint8((acc*b.ww + far*b.fw + 1<<23) >> 24)
	}
}

// GaussianBlur returns MoCo v2's GaussianBlur(sigma): a standard
// deviation drawn uniformly from [sigmaMin, sigmaMax], then
// GaussianBlurPIL. MoCo v2 uses [0.1, 2.0] inside RandomApply(p=0.5).
func GaussianBlur(sigmaMin, sigmaMax float64) Transform {
	if !(sigmaMin >= 0 && sigmaMin <= sigmaMax) || math.IsInf(sigmaMax, 0) {
		return invalidf("GaussianBlur(%v, %v): want 0 <= min <= max", sigmaMin, sigmaMax)
	}
	return gaussianBlur{sigmaMin, sigmaMax}
}

type gaussianBlur struct{ lo, hi float64 }

func (g gaussianBlur) check() error { return nil }

func (g gaussianBlur) Apply(img *image.NRGBA, rng *rand.Rand) (*image.NRGBA, error) {
	return GaussianBlurPIL(img, uniform(rng, g.lo, g.hi))
}
