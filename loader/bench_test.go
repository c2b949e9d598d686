package loader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/augment"
	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/internal/testenv"
)

var (
	cifarOnce sync.Once
	cifarTest *dataset.Dataset
	cifarErr  error
)

// cifarTestSet is the CIFAR-10 test split of the JPEG copy
// ($MOCOKIT_CIFAR_JPEG, else the shared folder next to the repository).
func cifarTestSet(tb testing.TB) *dataset.Dataset {
	dir := os.Getenv("MOCOKIT_CIFAR_JPEG")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "cifar10-jpeg")
	}
	archive := filepath.Join(dir, "test.tar")
	if _, err := os.Stat(archive); err != nil {
		testenv.Missing(tb, "CIFAR-10 JPEG copy: %v", err)
	}
	cifarOnce.Do(func() { cifarTest, cifarErr = dataset.Load(archive, dataset.Test) })
	if cifarErr != nil {
		tb.Fatal(cifarErr)
	}
	return cifarTest
}

// BenchmarkCIFARTrainPipeline measures the baseline's training input:
// RandomCrop(32, 4), horizontal flip and normalisation of the CIFAR-10
// (JPEG q75 copy) test images, decoded YCbCr converted on the way, in
// batches of 256. Each iteration is one batch.
func BenchmarkCIFARTrainPipeline(b *testing.B) {
	ds := cifarTestSet(b)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			l, err := New(ds, Config{BatchSize: 256, Shuffle: true, Seed: 1, Workers: workers,
				Transform: augment.Compose(augment.RandomCrop(32, 4),
					augment.RandomHorizontalFlip(0.5)),
				Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}, Size: 32})
			if err != nil {
				b.Fatal(err)
			}
			images := 0
			b.ResetTimer()
			for epoch := 0; images < b.N*256; epoch++ {
				for batch, err := range l.Epoch(context.Background(), epoch) {
					if err != nil {
						b.Fatal(err)
					}
					if images += len(batch.Labels); images >= b.N*256 {
						break
					}
				}
			}
			b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
