package backend

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// largestGradientNode builds the gradient of sum(linear(x, w)) for x[B,I]
// and w[I,O] and returns the size of the largest tensor in that graph.
func largestGradientNode(t *testing.T, linear func(x, w *graph.Node) *graph.Node,
	batch, in, out int) int {
	t.Helper()
	g := graph.NewGraph(testBackend(t, ""), "linear")
	defer g.Finalize()
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, batch, in))
	w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, in, out))
	graph.Gradient(graph.ReduceAllSum(linear(x, w)), x, w)
	largest := 0
	for _, n := range g.Nodes() {
		if n.NumOutputs() == 1 {
			largest = max(largest, n.Shape().Size())
		}
	}
	return largest
}

// TestLinearLayerGradientSizes records which way of writing a linear layer
// keeps its gradient free of a [B, I, O] tensor: graph's gradients of Dot
// and DotGeneral (so of Einsum and MatMul too) multiply broadcast operands
// and reduce, while a 1x1 convolution's gradient is two convolutions, each
// one matrix multiplication here.
func TestLinearLayerGradientSizes(t *testing.T) {
	const batch, in, out = 8, 16, 4
	cube := batch * in * out
	materialising := map[string]func(x, w *graph.Node) *graph.Node{
		"Dot": graph.Dot,
		"DotGeneral": func(x, w *graph.Node) *graph.Node {
			return graph.DotGeneral(x, []int{1}, nil, w, []int{0}, nil)
		},
		"Einsum": func(x, w *graph.Node) *graph.Node { return graph.Einsum("bi,io->bo", x, w) },
	}
	for name, linear := range materialising {
		got := largestGradientNode(t, linear, batch, in, out)
		t.Logf("%s: largest tensor in the gradient graph: %d elements", name, got)
		if got < cube {
			t.Errorf("%s: largest gradient tensor has %d elements, expected the %d of [B,I,O]",
				name, got, cube)
		}
	}
	got := largestGradientNode(t, linearAsConvolution, batch, in, out)
	t.Logf("1x1 convolution: largest tensor in the gradient graph: %d elements", got)
	if got >= cube {
		t.Errorf("1x1 convolution: largest gradient tensor has %d elements, want < %d",
			got, cube)
	}
}
