package train

import (
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/export"
	"github.com/mocokit/mocokit/inference"
	"github.com/mocokit/mocokit/inference/inferencetest"
	"github.com/mocokit/mocokit/models"
)

// TestExportedONNXMatchesGoMLX trains two steps (so the running statistics
// are the network's own), exports through the ONNX writer and compares
// onnxruntime's logits with GoMLX's on the same batch.
func TestExportedONNXMatchesGoMLX(t *testing.T) {
	lib := inferencetest.Library(t)
	for _, stem := range []models.Stem{models.StemCIFAR, models.StemImageNet} {
		t.Run(string(stem), func(t *testing.T) {
			cfg := models.ResNet18(stem, 10)
			n, err := NewNetwork(testBackend(t), cfg, InitWeights(cfg, 5),
				SGD{Momentum: 0.9})
			if err != nil {
				t.Fatal(err)
			}
			b := randomBatch(16, 9)
			for range 2 {
				if _, err := n.Step(b, 0.05); err != nil {
					t.Fatal(err)
				}
			}
			want, err := n.Logits(b)
			if err != nil {
				t.Fatal(err)
			}
			w, err := n.Weights()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "m.onnx")
			meta := models.Metadata{Classes: make([]string, 10),
				Preprocess: models.Presets["cifar32"]}
			for i := range meta.Classes {
				meta.Classes[i] = string(rune('a' + i))
			}
			if err := export.WriteFile(path, cfg, w, meta); err != nil {
				t.Fatal(err)
			}
			s, err := inference.Open(path, inference.Options{Library: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Run(b.Images, 16)
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbs(got, want)
			t.Logf("max |onnxruntime - GoMLX| = %.2g", d)
			if d > 1e-4 {
				t.Errorf("exported model differs from GoMLX by %g (> 1e-4)", d)
			}
		})
	}
}
