package train

import (
	"math/rand/v2"
	"testing"

	"github.com/mocokit/mocokit/models"
)

// BenchmarkStep times one training step of ResNet-18, batch 32, on random
// 32x32 images, on the default backend, for each stem. Its profile shows
// where a step's time goes:
//
//	go test ./train -run '^$' -bench Step/cifar -benchtime 3x -cpuprofile cpu.prof
//	go tool pprof -top -cum train.test cpu.prof
func BenchmarkStep(b *testing.B) {
	for _, stem := range []models.Stem{models.StemCIFAR, models.StemImageNet} {
		b.Run(string(stem), func(b *testing.B) {
			benchmarkNetwork(b, stem, func(n *Network, batch Batch) error {
				_, err := n.Step(batch, 0.01)
				return err
			})
		})
	}
}

// BenchmarkInfer times the eval-mode forward pass (Logits) of the same
// network and batch.
func BenchmarkInfer(b *testing.B) {
	for _, stem := range []models.Stem{models.StemCIFAR, models.StemImageNet} {
		b.Run(string(stem), func(b *testing.B) {
			benchmarkNetwork(b, stem, func(n *Network, batch Batch) error {
				_, err := n.Logits(batch)
				return err
			})
		})
	}
}

func benchmarkNetwork(b *testing.B, stem models.Stem, run func(*Network, Batch) error) {
	cfg := models.ResNet18(stem, 10)
	bk := newTestBackend(b, testBackendSpec)
	n, err := NewNetwork(bk, cfg, InitWeights(cfg, 1),
		SGD{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	batch := Batch{Images: make([]float32, 32*3*32*32), Labels: make([]int32, 32), Size: 32}
	for i := range batch.Images {
		batch.Images[i] = float32(rng.NormFloat64())
	}
	for i := range batch.Labels {
		batch.Labels[i] = int32(rng.IntN(10))
	}
	if err := run(n, batch); err != nil { // compiles
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := run(n, batch); err != nil {
			b.Fatal(err)
		}
	}
}
