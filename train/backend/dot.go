package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// gemm is a BLAS library's matrix multiply: row-major
// C = alpha*op(A)*op(B) + beta*C.
type gemm interface {
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
		b []float32, ldb int, beta float32, c []float32, ldc int) error
	Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int,
		b []float64, ldb int, beta float64, c []float64, ldc int) error
	Describe() string
}

// gemmFunc is gemm.Sgemm or gemm.Dgemm.
type gemmFunc[T float32 | float64] func(transA, transB bool, m, n, k int, alpha T, a []T,
	lda int, b []T, ldb int, beta T, c []T, ldc int) error

// dotPlan is a DotGeneral as a loop of GEMM calls: for each of batch
// matrices, [M, K] (or [K, M] when transA) times [K, N] (or [N, K] when
// transB), written to [M, N]. The output of DotGeneral is laid out
// [batch..., lhs free axes..., rhs free axes...], which is exactly that.
type dotPlan struct {
	batch, m, n, k int
	transA, transB bool
}

// planDot returns the GEMM form of a DotGeneral, or nil when it has none:
// batch axes leading on both sides in the same order, and the contracting
// axes one run, in increasing order, right after the batch axes or at the
// end, on each side.
func planDot(lhs, rhs shapes.Shape, lc, lb, rc, rb []int) *dotPlan {
	dtype := lhs.DType
	if rhs.DType != dtype || (dtype != dtypes.Float32 && dtype != dtypes.Float64) {
		return nil
	}
	nb := len(lb)
	if len(rb) != nb || !isRun(lb, 0) || !isRun(rb, 0) || len(lc) != len(rc) {
		return nil
	}
	lFirst, okL := contractingAt(lhs.Rank(), nb, lc)
	rFirst, okR := contractingAt(rhs.Rank(), nb, rc)
	if !okL || !okR {
		return nil
	}
	p := &dotPlan{batch: product(lhs.Dimensions[:nb])}
	p.k = 1
	for _, a := range lc {
		p.k *= lhs.Dimensions[a]
	}
	if p.batch == 0 || p.k == 0 {
		return nil
	}
	p.m = lhs.Size() / (p.batch * p.k)
	p.n = rhs.Size() / (p.batch * p.k)
	if p.m == 0 || p.n == 0 {
		return nil
	}
	// Contracting first means the operand is stored [K, M] for the lhs
	// (transposed for GEMM) and [K, N] for the rhs (as GEMM wants it).
	p.transA = lFirst
	p.transB = !rFirst
	return p
}

// isRun reports whether axes are from, from+1, ...
func isRun(axes []int, from int) bool {
	for i, a := range axes {
		if a != from+i {
			return false
		}
	}
	return true
}

// contractingAt tells where the contracting axes lie among a rank-rank
// operand's non-batch axes: first (true) or last (false); ok is false when
// neither.
func contractingAt(rank, nb int, axes []int) (first, ok bool) {
	if len(axes) == 0 {
		return false, false
	}
	if isRun(axes, rank-len(axes)) {
		return false, true
	}
	if isRun(axes, nb) {
		return true, true
	}
	return false, false
}

// run multiplies lhs by rhs into outs[0], all flat and laid out as the plan says.
func (p *dotPlan) run(g gemm, in, outs []any) error {
	out := outs[0]
	switch a := in[0].(type) {
	case []float32:
		return runDot(p, a, in[1].([]float32), out.([]float32), g.Sgemm)
	case []float64:
		return runDot(p, a, in[1].([]float64), out.([]float64), g.Dgemm)
	}
	return fmt.Errorf("DotGeneral by GEMM: unexpected operand %T", in[0])
}

func runDot[T float32 | float64](p *dotPlan, a, b, c []T, mul gemmFunc[T]) error {
	lda, ldb := p.k, p.n
	if p.transA {
		lda = p.m
	}
	if p.transB {
		ldb = p.k
	}
	sa, sb, sc := p.m*p.k, p.k*p.n, p.m*p.n
	for i := range p.batch {
		err := mul(p.transA, p.transB, p.m, p.n, p.k, 1, a[i*sa:(i+1)*sa], lda,
			b[i*sb:(i+1)*sb], ldb, 0, c[i*sc:(i+1)*sc], p.n)
		if err != nil {
			return err
		}
	}
	return nil
}

// nativeOp is a call that runs outside simplego, on flat buffers: its
// operands in, its outputs out, of the call's output shapes.
type nativeOp interface {
	run(g gemm, in, out []any) error
}

// runNative runs a native call into new buffers.
func runNative(be backends.Backend, g gemm, c *call, in []backends.Buffer,
	dev backends.DeviceNum) ([]backends.Buffer, error) {
	outs, outFlats := make([]backends.Buffer, len(c.outs)), make([]any, len(c.outs))
	var err error
	for i, v := range c.outs {
		if outs[i], outFlats[i], err = be.NewSharedBuffer(dev, v.shape); err != nil {
			break
		}
	}
	flats := make([]any, len(in))
	for i, b := range in {
		if err != nil {
			break
		}
		flats[i], err = be.BufferData(b)
	}
	if err == nil {
		err = c.native.run(g, flats, outFlats)
	}
	if err != nil {
		for _, b := range outs {
			if b != nil {
				_ = be.BufferFinalize(b)
			}
		}
		return nil, fmt.Errorf("%s of %s: %w", c.name, shapesOf(c.inputs), err)
	}
	return outs, nil
}
