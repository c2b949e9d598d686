package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
)

// refSelectAndScatter is XLA's SelectAndScatter with a GE (max) or LE (min)
// select, written out: each window visits its positions in row-major
// order, skipping padding, keeps the first extreme, and adds its source
// value there.
func refSelectAndScatter(operand, source array, size, strides []int, paddings [][2]int,
	isMax bool) array {
	out := newArray(operand.dims...)
	each(source.dims, func(o []int) {
		chosen := -1
		best := 0.0
		each(size, func(w []int) {
			pos := make([]int, len(w))
			for a := range w {
				pos[a] = o[a]*strides[a] + w[a] - paddings[a][0]
				if pos[a] < 0 || pos[a] >= operand.dims[a] {
					return
				}
			}
			v := operand.data[operand.index(pos)]
			if chosen < 0 || (isMax && v > best) || (!isMax && v < best) {
				chosen, best = operand.index(pos), v
			}
		})
		if chosen >= 0 {
			out.data[chosen] += source.data[source.index(o)]
		}
	})
	return out
}

// poolBackends are the two ways the pooling ops run: composed of
// simplego's ops, and natively (nativepool.go, on the recording builder).
func poolBackends(t *testing.T) map[string]backends.Backend {
	needOpenBLAS(t)
	return map[string]backends.Backend{"composed": testBackend(t, "gemm=go"),
		"native": testBackend(t, "gemm=openblas")}
}

func TestSelectAndScatterMatchesReference(t *testing.T) {
	for name, bk := range poolBackends(t) {
		t.Run(name, func(t *testing.T) { testSelectAndScatterCases(t, bk) })
	}
}

func testSelectAndScatterCases(t *testing.T, bk backends.Backend) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		dims, size, strides []int
		paddings            [][2]int
		levels              int // integer values in [0, levels) make ties; 0: normal
	}{
		// ResNet's stem pool, channels first: 3x3, stride 2, padding 1, with ties.
		{[]int{2, 3, 8, 8}, []int{1, 1, 3, 3}, []int{1, 1, 2, 2},
			[][2]int{{0, 0}, {0, 0}, {1, 1}, {1, 1}}, 3},
		// Same, channels last, odd size, normal values.
		{[]int{2, 7, 7, 3}, []int{1, 3, 3, 1}, []int{1, 2, 2, 1},
			[][2]int{{0, 0}, {1, 1}, {1, 1}, {0, 0}}, 0},
		// Overlapping windows, stride 1, all equal: every window picks its first.
		{[]int{1, 5, 5, 1}, []int{1, 3, 3, 1}, []int{1, 1, 1, 1}, nil, 1},
		// Non-overlapping 2x2 windows, stride 2, no padding.
		{[]int{2, 6, 4, 2}, []int{1, 2, 2, 1}, []int{1, 2, 2, 1}, nil, 4},
		// Uneven padding, a window reaching only padding and one element, 1-D.
		{[]int{6}, []int{3}, []int{3}, [][2]int{{2, 3}}, 2},
		// Strided windows that skip elements (stride > window).
		{[]int{9, 4}, []int{2, 2}, []int{3, 2}, [][2]int{{0, 0}, {1, 0}}, 0},
	}
	for _, tc := range cases {
		for _, isMax := range []bool{true, false} {
			name := fmt.Sprintf("%v/w%v/s%v/p%v/max=%v", tc.dims, tc.size, tc.strides,
				tc.paddings, isMax)
			t.Run(name, func(t *testing.T) {
				testSelectAndScatter(t, bk, rng, tc.dims, tc.size, tc.strides, tc.paddings,
					tc.levels, isMax)
			})
		}
	}
}

func testSelectAndScatter(t *testing.T, bk backends.Backend, rng *rand.Rand,
	dims, size, strides []int, paddings [][2]int, levels int, isMax bool) {
	paddingsOrZero := paddings
	if paddingsOrZero == nil {
		paddingsOrZero = make([][2]int, len(dims))
	}
	outDims := make([]int, len(dims))
	for a := range dims {
		outDims[a] = (dims[a]+paddingsOrZero[a][0]+paddingsOrZero[a][1]-size[a])/strides[a] + 1
	}
	operand := randomArray(rng, levels, dims...)
	source := randomArray(rng, 0, outDims...)
	got := runOp(t, bk, func(b *builder, p []backends.Op) (backends.Op, error) {
		if isMax {
			return b.SelectAndScatterMax(p[0], p[1], size, strides, paddings)
		}
		return b.SelectAndScatterMin(p[0], p[1], size, strides, paddings)
	}, operand, source)
	want := refSelectAndScatter(operand, source, size, strides, paddingsOrZero, isMax)
	assertClose(t, "SelectAndScatter", got, want, 1e-12)
}

func TestSelectAndScatterMaxNeverPicksPadding(t *testing.T) {
	for name, bk := range poolBackends(t) {
		t.Run(name, func(t *testing.T) { testNeverPicksPadding(t, bk) })
	}
}

func testNeverPicksPadding(t *testing.T, bk backends.Backend) {
	// Every element is -Inf, the value padding holds: the padded corner
	// windows must still pick an element of the operand.
	operand := newArray(1, 4)
	for i := range operand.data {
		operand.data[i] = math.Inf(-1)
	}
	source := array{dims: []int{1, 2}, data: []float64{10, 20}}
	got := runOp(t, bk, func(b *builder, p []backends.Op) (backends.Op, error) {
		return b.SelectAndScatterMax(p[0], p[1], []int{1, 3}, []int{1, 2},
			[][2]int{{0, 0}, {1, 0}})
	}, operand, source)
	// Window 0 covers padding, 0, 1: picks 0. Window 1 covers 1, 2, 3: picks 1.
	want := array{dims: []int{1, 4}, data: []float64{10, 20, 0, 0}}
	assertClose(t, "SelectAndScatterMax", got, want, 0)
}

func TestSelectAndScatterRejectsMismatchedSource(t *testing.T) {
	bk := testBackend(t, "")
	b := bk.Builder("sas").(*builder)
	op := runParam(t, b, 1, 4, 4, 1)
	src := runParam(t, b, 1, 3, 3, 1)
	_, err := b.SelectAndScatterMax(op, src, []int{1, 2, 2, 1}, []int{1, 2, 2, 1}, nil)
	if err == nil {
		t.Fatal("source [1 3 3 1] for 2x2 windows of [1 4 4 1]: no error")
	}
}

// TestNativeMaxPoolEqualsSimplego runs ReduceWindow's max natively and on
// simplego: ties, padding, windows that skip elements, and a row of -Inf.
func TestNativeMaxPoolEqualsSimplego(t *testing.T) {
	bks := poolBackends(t)
	rng := rand.New(rand.NewPCG(9, 10))
	cases := []struct {
		dims, size, strides []int
		paddings            [][2]int
		levels              int
	}{
		{[]int{2, 3, 8, 8}, []int{1, 1, 3, 3}, []int{1, 1, 2, 2},
			[][2]int{{0, 0}, {0, 0}, {1, 1}, {1, 1}}, 3},
		{[]int{2, 7, 7, 3}, []int{1, 3, 3, 1}, []int{1, 2, 2, 1},
			[][2]int{{0, 0}, {1, 1}, {1, 1}, {0, 0}}, 0},
		{[]int{9, 4}, []int{2, 2}, []int{3, 2}, [][2]int{{0, 0}, {1, 0}}, 0},
	}
	for _, tc := range cases {
		x := randomArray(rng, tc.levels, tc.dims...)
		for i := range tc.dims[len(tc.dims)-1] {
			x.data[i] = math.Inf(-1)
		}
		pool := func(b *builder, p []backends.Op) (backends.Op, error) {
			return b.ReduceWindow(p[0], backends.ReduceOpMax, tc.size, tc.strides, nil, nil,
				tc.paddings)
		}
		want := runOp(t, bks["composed"], pool, x)
		got := runOp(t, bks["native"], pool, x)
		assertClose(t, fmt.Sprintf("max pool %v", tc.dims), got, want, 0)
	}
}
