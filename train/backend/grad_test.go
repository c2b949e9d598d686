package backend

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/core/tensors/images"
)

// weightedSum reduces y to a scalar with fixed pseudo-random weights, so
// that every element of y matters to the loss with its own factor.
func weightedSum(y *graph.Node) *graph.Node {
	rng := rand.New(rand.NewPCG(42, uint64(y.Shape().Size())))
	w := randomArray(rng, 0, y.Shape().Dimensions...)
	return graph.ReduceAllSum(graph.Mul(y, graph.Const(y.Graph(), toTensor(w))))
}

func toTensor(a array) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(slices.Clone(a.data), a.dims...)
}

func fromTensor(t *tensors.Tensor) array {
	return array{dims: t.Shape().Dimensions, data: tensors.MustCopyFlatData[float64](t)}
}

func toArgs(params []array) []any {
	args := make([]any, len(params))
	for i, p := range params {
		args[i] = toTensor(p)
	}
	return args
}

// checkGradient compares graph.Gradient of weightedSum(f(params)) on the
// backend with central finite differences of the same loss, in float64.
func checkGradient(t *testing.T, bk backends.Backend, f func(in []*graph.Node) *graph.Node,
	tol float64, params ...array) {
	t.Helper()
	lossExec, err := graph.NewExec(bk, func(in []*graph.Node) *graph.Node {
		return weightedSum(f(in))
	})
	if err != nil {
		t.Fatal(err)
	}
	gradExec, err := graph.NewExec(bk, func(in []*graph.Node) []*graph.Node {
		return graph.Gradient(weightedSum(f(in)), in...)
	})
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gradExec.Exec(toArgs(params)...)
	if err != nil {
		t.Fatalf("gradient: %v", err)
	}
	loss := func(ps []array) float64 {
		out, err := lossExec.Exec(toArgs(ps)...)
		if err != nil {
			t.Fatalf("loss: %v", err)
		}
		return fromTensor(out[0]).data[0]
	}
	const h = 1e-6
	for p := range params {
		got := fromTensor(grads[p])
		want := newArray(params[p].dims...)
		for i := range params[p].data {
			shifted := slices.Clone(params)
			shifted[p] = array{dims: params[p].dims, data: slices.Clone(params[p].data)}
			shifted[p].data[i] += h
			up := loss(shifted)
			shifted[p].data[i] -= 2 * h
			down := loss(shifted)
			want.data[i] = (up - down) / (2 * h)
		}
		assertClose(t, "gradient of parameter "+string(rune('0'+p)), got, want, tol)
	}
}

func TestConvolveGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, conv := range []string{"conv=im2col", "conv=direct"} {
		bk := testBackend(t, conv)
		cases := []struct {
			name   string
			stride int
			pad    [][2]int
		}{
			{"stride1-pad1", 1, [][2]int{{1, 1}, {1, 1}}},
			{"stride2-pad1", 2, [][2]int{{1, 1}, {1, 1}}},
			{"stride2-nopad", 2, nil},
			{"stride1-uneven", 1, [][2]int{{0, 2}, {1, 0}}},
		}
		for _, tc := range cases {
			t.Run(conv+"/"+tc.name, func(t *testing.T) {
				x := randomArray(rng, 0, 2, 6, 5, 3) // channels last
				k := randomArray(rng, 0, 3, 3, 3, 4)
				checkGradient(t, bk, func(in []*graph.Node) *graph.Node {
					c := graph.Convolve(in[0], in[1]).Strides(tc.stride)
					if tc.pad != nil {
						c = c.PaddingPerDim(tc.pad)
					}
					return c.Done()
				}, 1e-6, x, k)
			})
		}
	}
}

func TestConvGeneralTorchLayoutGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	bk := testBackend(t, "")
	// PyTorch's layout: input NCHW, weight OIHW; ResNet's downsampling 1x1
	// stride 2 convolution, then its 3x3 stride 2 one.
	axes := backends.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	for _, size := range []int{1, 3} {
		x := randomArray(rng, 0, 2, 3, 6, 6)
		k := randomArray(rng, 0, 4, 3, size, size)
		pad := [][2]int{{size / 2, size / 2}, {size / 2, size / 2}}
		checkGradient(t, bk, func(in []*graph.Node) *graph.Node {
			return graph.ConvGeneral(in[0], in[1], axes, []int{2, 2}, pad, nil, nil, 1, 1)
		}, 1e-6, x, k)
	}
}

func TestMaxPoolGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	bk := testBackend(t, "")
	// ResNet's stem pool: 3x3, stride 2, padding 1, channels first.
	x := randomArray(rng, 0, 2, 3, 7, 8)
	checkGradient(t, bk, func(in []*graph.Node) *graph.Node {
		return graph.MaxPool(in[0]).ChannelsAxis(images.ChannelsFirst).Window(3).Strides(2).
			PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	}, 1e-6, x)
}

func TestStridedSliceGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	bk := testBackend(t, "")
	x := randomArray(rng, 0, 4, 9, 7)
	checkGradient(t, bk, func(in []*graph.Node) *graph.Node {
		s := graph.Slice(in[0], graph.AxisRange(1, 4), graph.AxisRange(1, 8).Stride(3),
			graph.AxisRange().Stride(2))
		return graph.Mul(s, s) // not linear, so the gradient depends on x
	}, 1e-6, x)
}

func TestBatchNormTrainingGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	bk := testBackend(t, "")
	x := randomArray(rng, 0, 4, 3, 3, 2)
	scale := randomArray(rng, 0, 3)
	offset := randomArray(rng, 0, 3)
	checkGradient(t, bk, func(in []*graph.Node) *graph.Node {
		y, _, _ := graph.InternalBatchNormForTraining(in[0], in[1], in[2], 1e-5, 1)
		return y
	}, 1e-5, x, scale, offset)
}

func TestLinearAsConvolutionGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	bk := testBackend(t, "")
	x := randomArray(rng, 0, 5, 6)
	w := randomArray(rng, 0, 6, 3)
	checkGradient(t, bk, func(in []*graph.Node) *graph.Node {
		return linearAsConvolution(in[0], in[1])
	}, 1e-6, x, w)
}

// linearAsConvolution computes x[B,I] · w[I,O] as a 1x1 convolution over a
// single position, whose gradient is again two convolutions.
func linearAsConvolution(x, w *graph.Node) *graph.Node {
	b, i, o := x.Shape().Dimensions[0], x.Shape().Dimensions[1], w.Shape().Dimensions[1]
	y := graph.Convolve(graph.Reshape(x, b, 1, i), graph.Reshape(w, 1, i, o)).Done()
	return graph.Reshape(y, b, o)
}

func TestMaxPoolGradientSplitsNothingOnTies(t *testing.T) {
	bk := testBackend(t, "")
	// All equal: each window's gradient goes whole to its first element.
	x := newArray(1, 1, 4, 4)
	got, err := graph.NewExec(bk, func(x *graph.Node) *graph.Node {
		y := graph.MaxPool(x).ChannelsAxis(images.ChannelsFirst).Window(2).Strides(2).Done()
		return graph.Gradient(graph.ReduceAllSum(y), x)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := got.Exec(toTensor(x))
	if err != nil {
		t.Fatal(err)
	}
	want := array{dims: []int{1, 1, 4, 4}, data: []float64{
		1, 0, 1, 0,
		0, 0, 0, 0,
		1, 0, 1, 0,
		0, 0, 0, 0,
	}}
	assertClose(t, "MaxPool gradient", fromTensor(out[0]), want, 0)
}
