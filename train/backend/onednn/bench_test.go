package onednn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkConv times the 3x3 convolutions of a CIFAR-stem ResNet-18 at
// batch 32, in PyTorch's layouts, reorders included:
//
//	go test ./train/backend/onednn -run '^$' -bench Conv
func BenchmarkConv(b *testing.B) {
	l := loadOrSkip(b)
	nchw := [4]int{0, 1, 2, 3}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ ch, hw int }{{64, 32}, {128, 16}, {256, 8}, {512, 4}} {
		s := ConvSpec{Src: layout([4]int{32, c.ch, c.hw, c.hw}, nchw),
			Weights: layout([4]int{c.ch, c.ch, 3, 3}, nchw),
			Dst:     layout([4]int{32, c.ch, c.hw, c.hw}, nchw),
			Strides: [2]int{1, 1}, PadLow: [2]int{1, 1}, PadHigh: [2]int{1, 1}}
		conv, err := l.NewConv(s)
		if err != nil {
			b.Fatal(err)
		}
		src, w := randoms(rng, s.Src.span()), randoms(rng, s.Weights.span())
		dst := make([]float32, s.Dst.span())
		b.Run(fmt.Sprintf("%dx%dx%d", c.ch, c.hw, c.hw), func(b *testing.B) {
			for b.Loop() {
				if err := conv.Run(src, w, dst); err != nil {
					b.Fatal(err)
				}
			}
			flops := 2 * float64(32*c.ch*c.ch*9*c.hw*c.hw)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(0, "ns/op")
			b.Log(conv.Impl())
		})
	}
}
