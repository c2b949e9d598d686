package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/train/backend/blas"
)

// dotCase is one DotGeneral: operand dimensions and axes.
type dotCase struct {
	name       string
	lhs, rhs   []int
	lc, lb     []int
	rc, rb     []int
	gemm       bool // planDot finds a GEMM form
	transposes [2]bool
}

var dotCases = []dotCase{
	{name: "matmul", lhs: []int{5, 7}, rhs: []int{7, 3},
		lc: []int{1}, rc: []int{0}, gemm: true},
	{name: "lhs transposed", lhs: []int{7, 5}, rhs: []int{7, 3},
		lc: []int{0}, rc: []int{0}, gemm: true, transposes: [2]bool{true, false}},
	{name: "rhs transposed", lhs: []int{5, 7}, rhs: []int{3, 7},
		lc: []int{1}, rc: []int{1}, gemm: true, transposes: [2]bool{false, true}},
	{name: "both transposed", lhs: []int{7, 5}, rhs: []int{3, 7},
		lc: []int{0}, rc: []int{1}, gemm: true, transposes: [2]bool{true, true}},
	{name: "batched", lhs: []int{4, 5, 7}, rhs: []int{4, 7, 3},
		lc: []int{2}, lb: []int{0}, rc: []int{1}, rb: []int{0}, gemm: true},
	{name: "batched, many free axes", lhs: []int{2, 3, 2, 6}, rhs: []int{2, 3, 6, 4},
		lc: []int{3}, lb: []int{0, 1}, rc: []int{2}, rb: []int{0, 1}, gemm: true},
	{name: "two contracting axes", lhs: []int{3, 4, 5}, rhs: []int{4, 5, 2},
		lc: []int{1, 2}, rc: []int{0, 1}, gemm: true},
	{name: "vector dot", lhs: []int{6}, rhs: []int{6},
		lc: []int{0}, rc: []int{0}, gemm: true, transposes: [2]bool{false, true}},
	{name: "contracting in the middle", lhs: []int{3, 6, 5}, rhs: []int{6, 2},
		lc: []int{1}, rc: []int{0}},
	{name: "batch axis last", lhs: []int{5, 4}, rhs: []int{4, 3},
		lb: []int{1}, rb: []int{0}},
	{name: "contracting axes swapped", lhs: []int{3, 4, 5}, rhs: []int{5, 4, 2},
		lc: []int{1, 2}, rc: []int{1, 0}},
}

// TestPlanDot checks which DotGeneral layouts become GEMM calls, and how.
func TestPlanDot(t *testing.T) {
	for _, c := range dotCases {
		p := planDot(shapes.Make(dtypes.Float32, c.lhs...), shapes.Make(dtypes.Float32, c.rhs...),
			c.lc, c.lb, c.rc, c.rb)
		if (p != nil) != c.gemm {
			t.Errorf("%s: planDot gives %+v, want a GEMM form: %v", c.name, p, c.gemm)
			continue
		}
		if p != nil && [2]bool{p.transA, p.transB} != c.transposes {
			t.Errorf("%s: transposes %v, want %v", c.name, [2]bool{p.transA, p.transB},
				c.transposes)
		}
	}
	if p := planDot(shapes.Make(dtypes.Int32, 2, 3), shapes.Make(dtypes.Int32, 3, 2),
		[]int{1}, nil, []int{0}, nil); p != nil {
		t.Errorf("int32 DotGeneral planned for BLAS: %+v", p)
	}
}

// TestDotGeneralOpenBLASMatchesSimplego runs every case, in float64 and
// float32, on the OpenBLAS path and on simplego's own matrix multiply.
func TestDotGeneralOpenBLASMatchesSimplego(t *testing.T) {
	if _, err := blas.Load(); err != nil {
		testenv.Missing(t, "OpenBLAS (scripts/setup.sh installs libopenblas0): %v", err)
	}
	fast, pure := testBackend(t, "gemm=openblas"), testBackend(t, "gemm=go")
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range dotCases {
		for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
			seed := rng.Uint64()
			lhs, rhs := randomTensor(seed, dtype, c.lhs), randomTensor(seed+1, dtype, c.rhs)
			dot := func(l, r *graph.Node) *graph.Node {
				return graph.DotGeneral(l, c.lc, c.lb, r, c.rc, c.rb)
			}
			want := graph.MustExecOnce(pure, dot, randomTensor(seed, dtype, c.lhs),
				randomTensor(seed+1, dtype, c.rhs))
			got := graph.MustExecOnce(fast, dot, lhs, rhs)
			tol := map[dtypes.DType]float64{dtypes.Float64: 1e-12, dtypes.Float32: 1e-5}[dtype]
			if d := tensorRelDiff(got, want); !(d <= tol) {
				t.Errorf("%s, %s: OpenBLAS and simplego differ by %.2g relative (> %g)",
					c.name, dtype, d, tol)
			}
		}
	}
}

// randomTensor is a standard-normal tensor drawn from seed.
func randomTensor(seed uint64, dtype dtypes.DType, dims []int) *tensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 5))
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	t := tensors.FromFlatDataAndDimensions(v, dims...)
	if dtype == dtypes.Float32 {
		f := make([]float32, n)
		for i := range v {
			f[i] = float32(v[i])
		}
		t = tensors.FromFlatDataAndDimensions(f, dims...)
	}
	return t
}

// tensorRelDiff is max |a-b| over max |b| of two float tensors.
func tensorRelDiff(a, b *tensors.Tensor) float64 {
	av, bv := float64s(a), float64s(b)
	if len(av) != len(bv) {
		return math.Inf(1)
	}
	var diff, scale float64
	for i := range bv {
		diff = math.Max(diff, math.Abs(av[i]-bv[i]))
		scale = math.Max(scale, math.Abs(bv[i]))
	}
	return diff / math.Max(scale, 1e-300)
}

func float64s(t *tensors.Tensor) []float64 {
	if t.DType() == dtypes.Float64 {
		return tensors.MustCopyFlatData[float64](t)
	}
	f := tensors.MustCopyFlatData[float32](t)
	out := make([]float64, len(f))
	for i := range f {
		out[i] = float64(f[i])
	}
	return out
}
