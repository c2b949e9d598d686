package backend

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/train/backend/onednn"
)

func needOneDNN(t *testing.T) *onednn.Lib {
	t.Helper()
	lib, err := onednn.Load()
	if err != nil {
		testenv.Missing(t, "oneDNN (scripts/setup.sh installs libdnnl2 and libdnnl-dev): %v", err)
	}
	return lib
}

// TestOneDNNConvolutionsEqualSimplegoLoop runs every case in float32 with
// conv=onednn and compares it with simplego's own convolution loop in
// float64, and its gradients with respect to both operands likewise where
// GoMLX can differentiate the case.
func TestOneDNNConvolutionsEqualSimplegoLoop(t *testing.T) {
	needOpenBLAS(t)
	needOneDNN(t)
	direct, fast := testBackend(t, "gemm=go,conv=direct"), testBackend(t, "conv=onednn")
	rng := rand.New(rand.NewPCG(31, 32))
	for _, tc := range convCases {
		if tc.channelGroups > 1 {
			continue
		}
		x := randomArray(rng, 0, tc.in...)
		k := randomArray(rng, 0, tc.kernel...)
		t.Run(tc.name, func(t *testing.T) {
			grads := true
			want, err := convWithGradients(direct, tc, dtypes.Float64, grads, x, k)
			if err != nil {
				grads = false
				want, err = convWithGradients(direct, tc, dtypes.Float64, grads, x, k)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := convWithGradients(fast, tc, dtypes.Float32, grads, x, k)
			if err != nil {
				t.Fatal(err)
			}
			for i, what := range []string{"output", "input gradient", "kernel gradient"}[:len(want)] {
				assertClose(t, fmt.Sprintf("%s %s", tc.name, what), got[i], want[i], 1e-4)
			}
		})
	}
}

// TestOneDNNTakesTheConvolutionsOfResNet checks that oneDNN runs the
// convolutions of a ResNet-18 step: forward, input gradients of stride 1
// and 2, kernel gradients; and not those it cannot.
func TestOneDNNTakesTheConvolutionsOfResNet(t *testing.T) {
	lib := needOneDNN(t)
	cases := []struct {
		name string
		tc   convCase
		want bool
	}{
		{"3x3", convCase{in: []int{4, 8, 6, 6}, kernel: []int{8, 8, 3, 3}, axes: torch2D,
			strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}}}, true},
		{"input gradient of a stride-2 convolution", convCase{in: []int{2, 3, 5, 5},
			kernel: []int{4, 3, 3, 3}, axes: torch2D, strides: []int{1, 1},
			paddings: [][2]int{{1, 1}, {1, 1}}, inDil: []int{2, 2}}, true},
		{"input and kernel dilated", convCase{in: []int{2, 3, 5, 5},
			kernel: []int{4, 3, 3, 3}, axes: torch2D, strides: []int{1, 1},
			paddings: [][2]int{{1, 1}, {1, 1}}, inDil: []int{2, 2}, kDil: []int{2, 2}}, false},
		{"kernel gradient", convCase{in: []int{3, 4, 10, 10}, kernel: []int{3, 5, 10, 10},
			axes: torchKernelGrad2D, strides: []int{1, 1},
			paddings: [][2]int{{1, 1}, {1, 1}}}, true},
		{"kernel gradient of a 1x1 stride-2 convolution, negative high padding",
			convCase{in: []int{3, 4, 8, 8}, kernel: []int{3, 5, 4, 4}, axes: torchKernelGrad2D,
				strides: []int{1, 1}, paddings: [][2]int{{0, -1}, {0, -1}}, kDil: []int{2, 2}},
			true},
		{"negative padding", convCase{in: []int{1, 8, 8, 2}, kernel: []int{3, 3, 2, 2},
			axes: channelsLast2D, strides: []int{1, 1},
			paddings: [][2]int{{-1, 1}, {2, -2}}}, false},
	}
	b := testBackend(t, "conv=onednn").Builder(t.Name()).(*builder)
	for _, c := range cases {
		cv := newTestConv(t, b, c.tc, dtypes.Float32)
		if got := newOneDNNConv(lib, cv) != nil; got != c.want {
			t.Errorf("%s: run by oneDNN %v, want %v", c.name, got, c.want)
		}
	}
	cv := newTestConv(t, b, cases[0].tc, dtypes.Float64)
	if newOneDNNConv(lib, cv) != nil {
		t.Error("a float64 convolution was given to oneDNN")
	}
}

// convWithGradients runs tc on x and k, as dtype, and with grads the
// gradients of the sum of the squared outputs with respect to both.
func convWithGradients(bk backends.Backend, tc convCase, dtype dtypes.DType, grads bool,
	x, k array) ([]array, error) {
	exec, err := graph.NewExec(bk, func(x, k *graph.Node) []*graph.Node {
		y := graph.ConvGeneral(x, k, tc.axes, tc.strides, tc.paddings, tc.inDil, tc.kDil, 1, 1)
		if !grads {
			return []*graph.Node{y}
		}
		g := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x, k)
		return []*graph.Node{y, g[0], g[1]}
	})
	if err != nil {
		return nil, err
	}
	outs, err := exec.Exec(tensorAs(x, dtype), tensorAs(k, dtype))
	if err != nil {
		return nil, err
	}
	arrays := make([]array, len(outs))
	for i, o := range outs {
		if dtype != dtypes.Float32 {
			arrays[i] = fromTensor(o)
			continue
		}
		arrays[i] = newArray(o.Shape().Dimensions...)
		arrays[i].data = convertFlat[float32, float64](tensors.MustCopyFlatData[float32](o))
	}
	return arrays, nil
}

func tensorAs(a array, dtype dtypes.DType) *tensors.Tensor {
	if dtype == dtypes.Float32 {
		return tensors.FromFlatDataAndDimensions(convertFlat[float64, float32](a.data), a.dims...)
	}
	return toTensor(a)
}

// newTestConv is the conv that tc's ConvGeneral would make on b, with
// operands of dtype.
func newTestConv(t *testing.T, b *builder, tc convCase, dtype dtypes.DType) *conv {
	t.Helper()
	x, err := b.Parameter("x", shapes.Make(dtype, tc.in...), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := b.Parameter("k", shapes.Make(dtype, tc.kernel...), nil)
	if err != nil {
		t.Fatal(err)
	}
	inDil, kDil := tc.inDil, tc.kDil
	if inDil == nil {
		inDil = []int{1, 1}
	}
	if kDil == nil {
		kDil = []int{1, 1}
	}
	c, err := b.newConv(x, k, tc.axes, tc.strides, tc.paddings, inDil, kDil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
