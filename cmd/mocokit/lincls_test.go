package main

import (
	"context"
	"testing"

	"github.com/mocokit/mocokit/internal/fixtures"
)

// TestClassifyResizesLikeTorchvision sends the 1,000 test images at their
// own 32x32 size to the linear-probe model, which takes 224x224 inputs: the
// server resizes them with imaging's bilinear filter, PyTorch's reference
// was computed on PIL's bilinear resize (torchvision's Resize). The labels
// must agree.
func TestClassifyResizesLikeTorchvision(t *testing.T) {
	_, c := startServer(t, "model_best.pth.tar")
	imgs := fixtures.Images(t, "images32.u8", 32)
	want := fixtures.Argmax(fixtures.Float32s(t, "lincls.out.f32"), 10)
	differ := 0
	for i, img := range imgs {
		res, err := c.Classify(context.Background(), "img.png", pngReader(t, img), 1)
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if res.Predictions[0].Index != want[i] {
			differ++
			t.Logf("image %d: label %d, PyTorch %d", i, res.Predictions[0].Index, want[i])
		}
	}
	t.Logf("%d of %d labels differ from PyTorch's", differ, len(imgs))
	if differ > 0 {
		t.Errorf("%d of %d labels differ from PyTorch's", differ, len(imgs))
	}
}
