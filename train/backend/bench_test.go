package backend

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// BenchmarkConvStep times one forward and backward pass of a ResNet-18
// 3x3 convolution (64 to 64 channels, 16x16, batch 16, PyTorch's NCHW and
// OIHW layouts), and of its stride-2 downsampling one: run by oneDNN (the
// default), natively as im2col with OpenBLAS, as im2col from simplego's
// ops, and by simplego's own convolution loop:
//
//	go test ./train/backend -run '^$' -bench ConvStep -benchtime 3x
func BenchmarkConvStep(b *testing.B) {
	configs := map[string]string{
		"onednn":          "conv=onednn",
		"openblas":        "gemm=openblas,conv=im2col",
		"simplego-im2col": "gemm=go,conv=im2col",
		"simplego-loop":   "gemm=go,conv=direct",
	}
	for _, stride := range []int{1, 2} {
		for _, name := range []string{"onednn", "openblas", "simplego-im2col", "simplego-loop"} {
			b.Run(fmt.Sprintf("%s/stride%d", name, stride), func(b *testing.B) {
				benchConvStep(b, configs[name], stride)
			})
		}
	}
}

func benchConvStep(b *testing.B, conv string, stride int) {
	bk := testBackend(b, conv)
	rng := rand.New(rand.NewPCG(1, 1))
	x := randomTensor32(rng, 16, 64, 16, 16)
	k := randomTensor32(rng, 64, 64, 3, 3)
	step, err := graph.NewExec(bk, func(x, k *graph.Node) []*graph.Node {
		y := graph.ConvGeneral(x, k, torchAxes, []int{stride, stride},
			[][2]int{{1, 1}, {1, 1}}, nil, nil, 1, 1)
		loss := graph.ReduceAllSum(graph.Mul(y, y))
		return graph.Gradient(loss, x, k)
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := step.Exec(x, k); err != nil { // compiles
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		outs, err := step.Exec(x, k)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
}

var torchAxes = backends.ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
}

func randomTensor32(rng *rand.Rand, dims ...int) *tensors.Tensor {
	data := make([]float32, product(dims))
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}
