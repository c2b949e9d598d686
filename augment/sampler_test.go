package augment

import (
	"bytes"
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestRandomResizedCropParamsStayInBoundsAndRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	scale, ratio := [2]float64{0.2, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	const width, height = 32, 32
	var areas []float64
	for range 2000 {
		top, left, h, w := RandomResizedCropParams(rng, width, height, scale, ratio)
		if top < 0 || left < 0 || h < 1 || w < 1 || top+h > height || left+w > width {
			t.Fatalf("box top %d left %d %dx%d outside %dx%d", top, left, w, h, width, height)
		}
		// The sides are rounded, so area and ratio may stray by half a pixel.
		area := float64(w*h) / (width * height)
		lo := (math.Sqrt(scale[0]*width*height) - 1) * (math.Sqrt(scale[0]*width*height) - 1)
		if float64(w*h) < lo || area > scale[1] {
			t.Fatalf("crop %dx%d has area fraction %.3f outside scale %v", w, h, area, scale)
		}
		if r := float64(w) / float64(h); r < ratio[0]*0.85 || r > ratio[1]/0.85 {
			t.Fatalf("crop %dx%d has ratio %.3f far outside %v", w, h, r, ratio)
		}
		areas = append(areas, area)
	}
	var mean float64
	for _, a := range areas {
		mean += a / float64(len(areas))
	}
	// Uniform area in [0.2, 1] (less the boxes that did not fit) averages
	// about 0.6.
	if mean < 0.5 || mean > 0.7 {
		t.Errorf("mean area fraction %.3f, want about 0.6", mean)
	}
}

func TestRandomResizedCropFallsBackToCentredCrop(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// No square-ish box of 90% of a 100x10 image fits, so every try fails.
	top, left, h, w := RandomResizedCropParams(rng, 100, 10, [2]float64{0.9, 1},
		[2]float64{3.0 / 4, 4.0 / 3})
	if top != 0 || left != 43 || h != 10 || w != 13 {
		t.Errorf("fallback box top %d left %d %dx%d, want top 0 left 43 13x10", top, left, w, h)
	}
}

func TestRandomCropIsAWindowOfThePaddedImage(t *testing.T) {
	img := noiseImage(32, 32, 5)
	padded, err := Pad(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	seen := map[[2]int]bool{}
	for range 400 {
		out, err := RandomCrop(32, 4).Apply(img, rng)
		if err != nil {
			t.Fatal(err)
		}
		top, left, ok := findWindow(padded, out)
		if !ok {
			t.Fatal("crop is no 32x32 window of the padded image")
		}
		seen[[2]int{top, left}] = true
	}
	// 400 draws over 81 offsets leave at most a handful unseen.
	if len(seen) < 75 {
		t.Errorf("only %d of the 81 offsets drawn", len(seen))
	}
}

// findWindow finds where sub sits inside img.
func findWindow(img, sub *image.NRGBA) (top, left int, ok bool) {
	w, h := size(img)
	sw, sh := size(sub)
	for y := 0; y+sh <= h; y++ {
		for x := 0; x+sw <= w; x++ {
			c, _ := Crop(img, y, x, sh, sw)
			if bytes.Equal(c.Pix, sub.Pix) {
				return y, x, true
			}
		}
	}
	return 0, 0, false
}

func TestRandomTransformsFollowTheirProbability(t *testing.T) {
	img := sceneImage(16, 16)
	flipped, gray := HFlip(img), Grayscale(img)
	for _, tc := range []struct {
		name string
		make func(p float64) Transform
		want *image.NRGBA
	}{
		{"flip", RandomHorizontalFlip, flipped},
		{"grayscale", RandomGrayscale, gray},
		{"apply", func(p float64) Transform { return RandomApply(horizontalFlip{}, p) }, flipped},
	} {
		for _, p := range []float64{0, 0.3, 1} {
			rng := rand.New(rand.NewPCG(11, 12))
			hits := 0
			const n = 2000
			for range n {
				out, err := tc.make(p).Apply(img, rng)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Equal(out.Pix, tc.want.Pix) {
					hits++
				} else if !bytes.Equal(out.Pix, img.Pix) {
					t.Fatalf("%s(%v) returned neither the image nor its transform", tc.name, p)
				}
			}
			if f := float64(hits) / n; math.Abs(f-p) > 0.04 {
				t.Errorf("%s(%v) applied to %.3f of the images", tc.name, p, f)
			}
		}
	}
}

// horizontalFlip always flips: a Transform from outside the package.
type horizontalFlip struct{}

func (horizontalFlip) Apply(img *image.NRGBA, _ *rand.Rand) (*image.NRGBA, error) {
	return HFlip(img), nil
}

func TestColorJitterDrawsFactorsInRangeAndOrder(t *testing.T) {
	cj := ColorJitter(0.4, 0.3, 0.2, 0.1).(colorJitter)
	rng := rand.New(rand.NewPCG(5, 6))
	orders := map[[4]int]bool{}
	for range 1000 {
		p := cj.params(rng)
		orders[p.Order] = true
		lims := [4][2]float64{{0.6, 1.4}, {0.7, 1.3}, {0.8, 1.2}, {-0.1, 0.1}}
		for i, l := range lims {
			if !p.Apply[i] || p.Factors[i] < l[0] || p.Factors[i] >= l[1] {
				t.Fatalf("factor %d = %v (apply %v) outside %v", i, p.Factors[i], p.Apply[i], l)
			}
		}
	}
	if len(orders) != 24 {
		t.Errorf("%d of the 24 orders drawn", len(orders))
	}
	if p := ColorJitter(0, 0.5, 0, 0).(colorJitter).params(rng); p.Apply != [4]bool{
		false, true, false, false} {
		t.Errorf("ColorJitter(0, 0.5, 0, 0) switches on %v", p.Apply)
	}
}

func TestColorJitterAppliesItsDrawnParameters(t *testing.T) {
	img := cifarOrScene(t)
	cj := ColorJitter(0.4, 0.4, 0.4, 0.1)
	got, err := cj.Apply(img, rand.New(rand.NewPCG(8, 8)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ApplyJitter(img, cj.(colorJitter).params(rand.New(rand.NewPCG(8, 8))))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Pix, want.Pix) || bytes.Equal(got.Pix, clone(img).Pix) {
		t.Error("ColorJitter's output is not its drawn adjustments of the image")
	}
}

func cifarOrScene(t *testing.T) *image.NRGBA {
	if imgs := cifarImages(t, 1); len(imgs) == 1 {
		return imgs[0]
	}
	return sceneImage(32, 32)
}

func TestTransformsAreDeterministicAndLeaveTheirInputAlone(t *testing.T) {
	img := cifarOrScene(t)
	before := bytes.Clone(img.Pix)
	moco := Compose(RandomResizedCrop(32, 0.2, 1, 3.0/4, 4.0/3),
		RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), 0.8), RandomGrayscale(0.2),
		RandomApply(GaussianBlur(0.1, 2), 0.5), RandomHorizontalFlip(0.5))
	if err := Check(moco); err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for seed := range uint64(20) {
		a, err := moco.Apply(img, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := moco.Apply(img, rand.New(rand.NewPCG(seed, 0)))
		if !bytes.Equal(a.Pix, b.Pix) || a.Bounds() != image.Rect(0, 0, 32, 32) {
			t.Fatalf("seed %d: outputs differ or are not 32x32 (%v)", seed, a.Bounds())
		}
		distinct[string(a.Pix)] = true
	}
	if len(distinct) < 19 {
		t.Errorf("20 seeds gave %d distinct views", len(distinct))
	}
	if !bytes.Equal(img.Pix, before) {
		t.Error("a transform modified its input")
	}
}

func TestSubImagesAreReadFromTheirOrigin(t *testing.T) {
	img := noiseImage(20, 20, 3)
	sub := img.SubImage(image.Rect(4, 6, 14, 18)).(*image.NRGBA)
	want, _ := Crop(img, 6, 4, 12, 10)
	for name, f := range map[string]func(*image.NRGBA) *image.NRGBA{
		"clone": clone,
		"flip":  func(m *image.NRGBA) *image.NRGBA { return HFlip(HFlip(m)) },
		"crop":  func(m *image.NRGBA) *image.NRGBA { c, _ := Crop(m, 0, 0, 12, 10); return c },
	} {
		if got := f(sub); !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%s of a sub-image differs from the same region cropped", name)
		}
	}
}

func TestInvalidParametersAreReported(t *testing.T) {
	for name, tr := range map[string]Transform{
		"crop":      RandomCrop(0, 4),
		"flip":      RandomHorizontalFlip(1.5),
		"rrc scale": RandomResizedCrop(32, 0.5, 0.2, 0.75, 1.33),
		"jitter":    ColorJitter(0.4, 0.4, 0.4, 0.6),
		"nested":    Compose(RandomHorizontalFlip(0.5), RandomApply(GaussianBlur(2, 1), 0.5)),
		"nil":       Compose(nil),
		"resize":    Resize(0),
	} {
		err := Check(tr)
		if err == nil || !strings.HasPrefix(err.Error(), "augment: ") {
			t.Errorf("%s: Check gave %v, want an augment error", name, err)
			continue
		}
		if tr, ok := tr.(invalid); ok {
			if _, err := tr.Apply(sceneImage(8, 8), nil); err == nil {
				t.Errorf("%s: Apply succeeded", name)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := RandomCrop(40, 2).Apply(sceneImage(32, 32), rng); err == nil {
		t.Error("RandomCrop(40, 2) of a 32x32 image succeeded")
	}
	if err := ToTensor(sceneImage(4, 4), cifarMean, cifarStd, make([]float32, 47)); err == nil {
		t.Error("ToTensor into a short slice succeeded")
	}
	if err := ToTensor(sceneImage(4, 4), cifarMean, [3]float32{1, 0, 1},
		make([]float32, 48)); err == nil {
		t.Error("ToTensor with a zero std succeeded")
	}
}
