package export

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/models"
)

// BenchmarkWriteFile exports a ResNet-18 classifier (11.2 M parameters):
// building the graph, encoding 45 MB and the synced atomic write.
func BenchmarkWriteFile(b *testing.B) {
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	cfg := models.ResNet18(models.StemImageNet, 10)
	w := randomWeights(cfg, 1)
	meta := cifar32("logits")
	path := filepath.Join(b.TempDir(), "model.onnx")
	for b.Loop() {
		if err := WriteFile(path, cfg, w, meta); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
}

// BenchmarkModel is the in-memory part of BenchmarkWriteFile.
func BenchmarkModel(b *testing.B) {
	cfg := models.ResNet18(models.StemImageNet, 10)
	w := randomWeights(cfg, 1)
	meta := cifar32("logits")
	for b.Loop() {
		if _, err := Model(cfg, w, meta); err != nil {
			b.Fatal(err)
		}
	}
}
