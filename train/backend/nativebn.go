package backend

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// bnPlan runs BatchNormForInference, BatchNormForTraining or
// BatchNormGradient natively on flat buffers. Each feature's sums run over
// the operand in place, in float64 whatever its dtype, and the features
// are split among the cores: two passes over the operand where simplego's
// composition makes a dozen full-size tensors.
type bnPlan struct {
	op string // the backend op's name
	// The operand is [outer, features, inner] in memory.
	outer, features, inner int
	epsilon                float64
}

// nativeBatchNorm records op (one of the three batch-norm ops) to run
// natively when b records for native steps and the operand suits
// (newBNPlan); it returns nil outputs and no error otherwise. The shadow
// builder checks the call with the composition of simplego ops.
func (b *builder) nativeBatchNorm(op string, featureAxis int, epsilon float32,
	in ...backends.Op) ([]backends.Op, error) {
	r, ok := b.Builder.(*recorder)
	if !ok {
		return nil, nil
	}
	shape, err := b.shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	p := newBNPlan(op, shape, featureAxis, epsilon)
	if p == nil {
		return nil, nil
	}
	return r.recordNative(op, in, p, func(bb backends.Builder, in []backends.Op) (
		[]backends.Op, error) {
		return composeBatchNorm(&builder{Builder: bb}, op, in, epsilon, featureAxis)
	})
}

// composeBatchNorm builds op of simplego's ops on b.
func composeBatchNorm(b *builder, op string, in []backends.Op, epsilon float32,
	featureAxis int) ([]backends.Op, error) {
	var o0, o1, o2 backends.Op
	var err error
	switch op {
	case "BatchNormForInference":
		o0, err = b.BatchNormForInference(in[0], in[1], in[2], in[3], in[4], epsilon,
			featureAxis)
		return []backends.Op{o0}, err
	case "BatchNormForTraining":
		o0, o1, o2, err = b.BatchNormForTraining(in[0], in[1], in[2], epsilon, featureAxis)
	default:
		o0, o1, o2, err = b.BatchNormGradient(in[0], in[1], in[2], in[3], in[4], epsilon,
			featureAxis)
	}
	return []backends.Op{o0, o1, o2}, err
}

// newBNPlan returns the plan of op for the operand's shape, or nil if the
// native ops do not take it: float32 or float64, nothing empty.
func newBNPlan(op string, shape shapes.Shape, featureAxis int, epsilon float32) *bnPlan {
	if !nativeFloat(shape.DType) || shape.Size() == 0 || featureAxis < 0 ||
		featureAxis >= shape.Rank() {
		return nil
	}
	p := &bnPlan{op: op, outer: 1, inner: 1, epsilon: float64(epsilon),
		features: shape.Dimensions[featureAxis]}
	for a, d := range shape.Dimensions {
		switch {
		case a < featureAxis:
			p.outer *= d
		case a > featureAxis:
			p.inner *= d
		}
	}
	return p
}

// run computes the op's three outputs from its inputs, all of one dtype.
func (p *bnPlan) run(_ gemm, in, out []any) error {
	switch in[0].(type) {
	case []float32:
		return runBatchNorm[float32](p, in, out)
	case []float64:
		return runBatchNorm[float64](p, in, out)
	}
	return fmt.Errorf("batch norm of %T", in[0])
}

func runBatchNorm[T float32 | float64](p *bnPlan, in, out []any) error {
	ins, outs, err := typedFlats[T](in, out)
	if err != nil {
		return fmt.Errorf("batch norm: %w", err)
	}
	each := trainFeature[T]
	switch p.op {
	case "BatchNormForInference":
		each = inferFeature[T]
	case "BatchNormGradient":
		each = gradFeature[T]
	}
	parallel(p.features, func(f0, f1 int) {
		for f := f0; f < f1; f++ {
			each(p, f, ins, outs)
		}
	})
	return nil
}

// featureBlock is the o-th contiguous block of feature f's values in t.
func featureBlock[T float32 | float64](p *bnPlan, t []T, o, f int) []T {
	return t[(o*p.features+f)*p.inner:][:p.inner]
}

// inferFeature normalises feature f with the given statistics. ins:
// operand, scale, offset, mean, variance; outs: normalised.
func inferFeature[T float32 | float64](p *bnPlan, f int, ins, outs [][]T) {
	mean := float64(ins[3][f])
	a := float64(ins[1][f]) / math.Sqrt(float64(ins[4][f])+p.epsilon)
	b := float64(ins[2][f])
	for o := range p.outer {
		y := featureBlock(p, outs[0], o, f)
		for i, v := range featureBlock(p, ins[0], o, f) {
			y[i] = T((float64(v)-mean)*a + b)
		}
	}
}

// trainFeature normalises feature f with its batch mean and biased
// variance. ins: operand, scale, offset; outs: normalised, mean, variance.
// The sums are taken about the feature's first value, so that the
// variance keeps its digits when the mean is large against the spread.
func trainFeature[T float32 | float64](p *bnPlan, f int, ins, outs [][]T) {
	x, scale, offset := ins[0], ins[1], ins[2]
	shift := float64(featureBlock(p, x, 0, f)[0])
	if math.IsInf(shift, 0) || math.IsNaN(shift) {
		shift = 0
	}
	var sum, sq float64
	for o := range p.outer {
		s, q := shiftedSums(featureBlock(p, x, o, f), shift)
		sum, sq = sum+s, sq+q
	}
	n := float64(p.outer * p.inner)
	d := sum / n
	mean, variance := shift+d, max(sq/n-d*d, 0)
	a := float64(scale[f]) / math.Sqrt(variance+p.epsilon)
	b := float64(offset[f])
	for o := range p.outer {
		y := featureBlock(p, outs[0], o, f)
		for i, v := range featureBlock(p, x, o, f) {
			y[i] = T((float64(v)-mean)*a + b)
		}
	}
	outs[1][f], outs[2][f] = T(mean), T(variance)
}

// shiftedSums returns the sums of x-shift and of its square.
func shiftedSums[T float32 | float64](x []T, shift float64) (sum, sq float64) {
	var s0, s1, q0, q1 float64
	i := 0
	for ; i+1 < len(x); i += 2 {
		d0, d1 := float64(x[i])-shift, float64(x[i+1])-shift
		s0, s1 = s0+d0, s1+d1
		q0, q1 = q0+d0*d0, q1+d1*d1
	}
	if i < len(x) {
		d := float64(x[i]) - shift
		s0, q0 = s0+d, q0+d*d
	}
	return s0 + s1, q0 + q1
}

// gradFeature is BatchNormGradient for feature f; see its comment in
// batchnorm.go. ins: operand, scale, mean, variance, output gradient;
// outs: gradients of the operand, scale and offset.
func gradFeature[T float32 | float64](p *bnPlan, f int, ins, outs [][]T) {
	x, dy := ins[0], ins[4]
	mean := float64(ins[2][f])
	inv := 1 / math.Sqrt(float64(ins[3][f])+p.epsilon)
	var sumDy, sumDyXc float64
	for o := range p.outer {
		s, sx := gradSums(featureBlock(p, x, o, f), featureBlock(p, dy, o, f), mean)
		sumDy, sumDyXc = sumDy+s, sumDyXc+sx
	}
	n := float64(p.outer * p.inner)
	gradScale := sumDyXc * inv
	a := float64(ins[1][f]) * inv
	c, d := -a*inv*gradScale/n, -a*sumDy/n
	for o := range p.outer {
		dx, g := featureBlock(p, outs[0], o, f), featureBlock(p, dy, o, f)
		for i, v := range featureBlock(p, x, o, f) {
			dx[i] = T(float64(g[i])*a + (float64(v)-mean)*c + d)
		}
	}
	outs[1][f], outs[2][f] = T(gradScale), T(sumDy)
}

// gradSums returns the sums of dy and of dy*(x-mean).
func gradSums[T float32 | float64](x, dy []T, mean float64) (sum, sumXc float64) {
	var s0, s1, p0, p1 float64
	dy = dy[:len(x)]
	i := 0
	for ; i+1 < len(x); i += 2 {
		g0, g1 := float64(dy[i]), float64(dy[i+1])
		s0, s1 = s0+g0, s1+g1
		p0, p1 = p0+g0*(float64(x[i])-mean), p1+g1*(float64(x[i+1])-mean)
	}
	if i < len(x) {
		g := float64(dy[i])
		s0, p0 = s0+g, p0+g*(float64(x[i])-mean)
	}
	return s0 + s1, p0 + p1
}
