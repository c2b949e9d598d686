package inference

import (
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/inference/inferencetest"
	"github.com/mocokit/mocokit/models"
)

var cifar32 = models.Presets["cifar32"]

func TestPreprocessMatchesTorchvisionExactly(t *testing.T) {
	fx := inferencetest.Get(t)
	img := decodePNG(t, filepath.Join(fx.Dir, fx.Expected.Files[0]))
	x, err := Preprocess(img, cifar32)
	if err != nil {
		t.Fatal(err)
	}
	// Pixel (row 3, column 5) of each plane against ToTensor+Normalize done
	// by hand in float32, which is what torchvision computes.
	r, g, b, _ := img.At(5, 3).RGBA()
	for c, v := range []uint32{r >> 8, g >> 8, b >> 8} {
		want := (float32(v)/255 - 0.5) / 0.5
		if got := x[c*32*32+3*32+5]; got != want {
			t.Errorf("channel %d: %v, want %v", c, got, want)
		}
	}
}

func TestPreprocessResizeMatchesPILBilinear(t *testing.T) {
	fx := inferencetest.Get(t)
	for i, f := range fx.Expected.ResizedFiles {
		x, err := Preprocess(decodePNG(t, filepath.Join(fx.Dir, f)), cifar32)
		if err != nil {
			t.Fatal(err)
		}
		var worst, sum float64
		for j, want := range fx.Expected.ResizedInput[i] {
			d := math.Abs(float64(x[j]) - want)
			worst, sum = math.Max(worst, d), sum+d
		}
		mean := sum / float64(len(x))
		t.Logf("%s 45x45 -> 32x32: max |diff| %.4f, mean %.5f (2/255 = %.4f)", f,
			worst, mean, 2.0/255)
		// imaging.Linear and PIL's bilinear filter differ by at most one
		// rounding step of 8-bit output: 1/255 in [0,1], 2/255 after std 0.5.
		if worst > 2.0/255+1e-6 || mean > 0.002 {
			t.Errorf("%s: max |diff| %g, mean %g", f, worst, mean)
		}
	}
}

func TestPreprocessCompositesTransparencyOnWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(10, 10, 42, 42)) // not at the origin
	img.Set(10, 10, color.NRGBA{R: 255, A: 0})        // invisible red
	img.Set(11, 10, color.NRGBA{R: 0, G: 0, B: 0, A: 255})
	img.Set(12, 10, color.NRGBA{R: 0, G: 0, B: 0, A: 128})
	x, err := Preprocess(img, cifar32)
	if err != nil {
		t.Fatal(err)
	}
	half := float32(127)/255*2 - 1 // 255*(1-128/255) rounds to 127
	for c := 0; c < 3; c++ {
		p := x[c*32*32:]
		if p[0] != 1 || p[1] != -1 || math.Abs(float64(p[2]-half)) > 1.0/255 {
			t.Errorf("channel %d: %v %v %v, want 1 -1 %v", c, p[0], p[1], p[2], half)
		}
	}
}

func TestPreprocessRejectsBadInput(t *testing.T) {
	if _, err := Preprocess(image.NewRGBA(image.Rect(0, 0, 0, 0)), cifar32); err == nil {
		t.Error("empty image accepted")
	}
	bad := cifar32
	bad.Std[1] = 0
	if _, err := Preprocess(image.NewRGBA(image.Rect(0, 0, 4, 4)), bad); err == nil {
		t.Error("std 0 accepted")
	}
	if err := PreprocessInto(make([]float32, 5), image.NewRGBA(image.Rect(0, 0, 32, 32)),
		cifar32); err == nil {
		t.Error("short destination accepted")
	}
}

func TestSoftmaxIsStableAndSumsToOne(t *testing.T) {
	p := Softmax([]float32{1000, 999, -1000})
	e := math.Exp(-1)
	if math.Abs(p[0]-1/(1+e)) > 1e-12 || math.Abs(p[1]-e/(1+e)) > 1e-12 || p[2] != 0 {
		t.Fatalf("softmax %v", p)
	}
	if got := TopK([]float64{0.1, 0.5, 0.1, 0.3}, 3); got[0] != 1 || got[1] != 3 || got[2] != 0 {
		t.Fatalf("top-3 %v, want [1 3 0]", got)
	}
	if got := TopK([]float64{0.1}, 5); len(got) != 1 {
		t.Fatalf("top-5 of 1: %v", got)
	}
	if Argmax([]float32{1, 3, 3}) != 1 {
		t.Fatal("argmax does not take the first maximum")
	}
}
