package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// array is a row-major float64 tensor for the plain-Go references.
type array struct {
	dims []int
	data []float64
}

func newArray(dims ...int) array {
	return array{dims: append([]int(nil), dims...), data: make([]float64, product(dims))}
}

// randomArray fills dims with values drawn from a seeded generator; with
// levels > 0 the values are integers in [0, levels), so that ties occur.
func randomArray(rng *rand.Rand, levels int, dims ...int) array {
	a := newArray(dims...)
	for i := range a.data {
		if levels > 0 {
			a.data[i] = float64(rng.IntN(levels))
		} else {
			a.data[i] = rng.NormFloat64()
		}
	}
	return a
}

// index returns the flat index of a multi-index.
func (a array) index(idx []int) int {
	flat := 0
	for i, v := range idx {
		flat = flat*a.dims[i] + v
	}
	return flat
}

// each calls fn with every multi-index of dims in row-major order.
func each(dims []int, fn func(idx []int)) {
	if product(dims) == 0 {
		return
	}
	idx := make([]int, len(dims))
	for {
		fn(idx)
		axis := len(dims) - 1
		for ; axis >= 0; axis-- {
			idx[axis]++
			if idx[axis] < dims[axis] {
				break
			}
			idx[axis] = 0
		}
		if axis < 0 {
			return
		}
	}
}

// assertClose fails t when got and want differ in shape or by more than tol
// in any element, relative to the element's magnitude when that exceeds 1.
func assertClose(t *testing.T, what string, got, want array, tol float64) {
	t.Helper()
	if len(got.dims) != len(want.dims) || product(got.dims) != product(want.dims) {
		t.Fatalf("%s: shape %v, want %v", what, got.dims, want.dims)
	}
	for i := range got.dims {
		if got.dims[i] != want.dims[i] {
			t.Fatalf("%s: shape %v, want %v", what, got.dims, want.dims)
		}
	}
	for i := range want.data {
		diff := math.Abs(got.data[i] - want.data[i])
		if diff > tol*math.Max(1, math.Abs(want.data[i])) || math.IsNaN(got.data[i]) {
			t.Fatalf("%s: element %d = %g, want %g (dims %v)", what, i, got.data[i],
				want.data[i], want.dims)
		}
	}
}

// runOps builds a computation of the given inputs (float64 parameters) on
// backend bk with build, runs it and returns its outputs.
func runOps(t *testing.T, bk backends.Backend,
	build func(b *builder, params []backends.Op) ([]backends.Op, error), inputs ...array) []array {
	t.Helper()
	return runOpsAs(t, bk, dtypes.Float64, build, inputs...)
}

// runOpsAs is runOps with parameters of dtype, float32 or float64; the
// outputs come back as float64.
func runOpsAs(t *testing.T, bk backends.Backend, dtype dtypes.DType,
	build func(b *builder, params []backends.Op) ([]backends.Op, error), inputs ...array) []array {
	t.Helper()
	b, ok := bk.Builder(t.Name()).(*builder)
	if !ok {
		t.Fatalf("backend %s does not build with the training ops", bk)
	}
	params := make([]backends.Op, len(inputs))
	buffers := make([]backends.Buffer, len(inputs))
	for i, in := range inputs {
		shape := shapes.Make(dtype, in.dims...)
		var err error
		if params[i], err = b.Parameter("x", shape, nil); err != nil {
			t.Fatal(err)
		}
		var flat any = in.data
		if dtype == dtypes.Float32 {
			flat = convertFlat[float64, float32](in.data)
		}
		if buffers[i], err = bk.BufferFromFlatData(0, flat, shape); err != nil {
			t.Fatal(err)
		}
	}
	outs, err := build(b, params)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := b.Compile(outs, nil)
	if err != nil {
		t.Fatal(err)
	}
	results, err := exe.Execute(buffers, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	arrays := make([]array, len(results))
	for i, r := range results {
		shape, err := bk.BufferShape(r)
		if err != nil {
			t.Fatal(err)
		}
		arrays[i] = newArray(shape.Dimensions...)
		if shape.DType == dtypes.Float32 {
			flat := make([]float32, len(arrays[i].data))
			if err := bk.BufferToFlatData(r, flat); err != nil {
				t.Fatal(err)
			}
			arrays[i].data = convertFlat[float32, float64](flat)
			continue
		}
		if err := bk.BufferToFlatData(r, arrays[i].data); err != nil {
			t.Fatal(err)
		}
	}
	return arrays
}

// runOp is runOps for a computation with one output.
func runOp(t *testing.T, bk backends.Backend,
	build func(b *builder, params []backends.Op) (backends.Op, error), inputs ...array) array {
	t.Helper()
	return runOps(t, bk, func(b *builder, params []backends.Op) ([]backends.Op, error) {
		out, err := build(b, params)
		return []backends.Op{out}, err
	}, inputs...)[0]
}

// testBackend is the "go" backend with the given options.
func testBackend(t testing.TB, config string) backends.Backend {
	t.Helper()
	bk, err := newGo(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bk.Finalize)
	return bk
}

// runParam adds a float64 parameter of the given dimensions to b.
func runParam(t *testing.T, b *builder, dims ...int) backends.Op {
	t.Helper()
	p, err := b.Parameter("p", shapes.Make(dtypes.Float64, dims...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func convertFlat[From, To float32 | float64](x []From) []To {
	y := make([]To, len(x))
	for i, v := range x {
		y[i] = To(v)
	}
	return y
}
