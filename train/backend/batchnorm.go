package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// BatchNormForInference implements backends.StandardOps.BatchNormForInference:
// (x - mean) * scale / sqrt(variance + epsilon) + offset, the per-feature
// vectors lying along featureAxis. It folds them into one multiplier and one
// addend per feature so the full-size tensor is touched twice.
func (b *builder) BatchNormForInference(operand, scale, offset, mean, variance backends.Op,
	epsilon float32, featureAxis int) (backends.Op, error) {
	if outs, err := b.nativeBatchNorm("BatchNormForInference", featureAxis, epsilon,
		operand, scale, offset, mean, variance); outs != nil || err != nil {
		if err != nil {
			return nil, fmt.Errorf("backend: BatchNormForInference: %w", err)
		}
		return outs[0], nil
	}
	bn, err := b.newBatchNorm(operand, featureAxis, epsilon)
	if err != nil {
		return nil, fmt.Errorf("backend: BatchNormForInference: %w", err)
	}
	out, err := bn.inference(scale, offset, mean, variance)
	if err != nil {
		return nil, fmt.Errorf("backend: BatchNormForInference: %w", err)
	}
	return out, nil
}

// BatchNormForTraining implements backends.StandardOps.BatchNormForTraining:
// it normalises with the batch's own mean and variance (the biased one, as
// XLA defines it) and returns them with the result.
func (b *builder) BatchNormForTraining(operand, scale, offset backends.Op, epsilon float32,
	featureAxis int) (normalized, batchMean, batchVariance backends.Op, err error) {
	if outs, err := b.nativeBatchNorm("BatchNormForTraining", featureAxis, epsilon,
		operand, scale, offset); outs != nil || err != nil {
		if err != nil {
			return nil, nil, nil, fmt.Errorf("backend: BatchNormForTraining: %w", err)
		}
		return outs[0], outs[1], outs[2], nil
	}
	bn, err := b.newBatchNorm(operand, featureAxis, epsilon)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backend: BatchNormForTraining: %w", err)
	}
	normalized, batchMean, batchVariance, err = bn.training(scale, offset)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backend: BatchNormForTraining: %w", err)
	}
	return normalized, batchMean, batchVariance, nil
}

// BatchNormGradient implements backends.StandardOps.BatchNormGradient, the
// gradient of BatchNormForTraining given the batch mean and variance it
// returned: with inv = 1/sqrt(variance+epsilon) and N elements per feature,
//
//	gradOffset  = sum(dy)
//	gradScale   = sum(dy * (x-mean)) * inv
//	gradOperand = scale*inv * (dy - gradOffset/N - (x-mean) * inv*gradScale/N)
func (b *builder) BatchNormGradient(operand, scale, mean, variance, gradOutput backends.Op,
	epsilon float32, featureAxis int) (gradOperand, gradScale, gradOffset backends.Op, err error) {
	if outs, err := b.nativeBatchNorm("BatchNormGradient", featureAxis, epsilon,
		operand, scale, mean, variance, gradOutput); outs != nil || err != nil {
		if err != nil {
			return nil, nil, nil, fmt.Errorf("backend: BatchNormGradient: %w", err)
		}
		return outs[0], outs[1], outs[2], nil
	}
	bn, err := b.newBatchNorm(operand, featureAxis, epsilon)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backend: BatchNormGradient: %w", err)
	}
	gradOperand, gradScale, gradOffset, err = bn.gradient(scale, mean, variance, gradOutput)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backend: BatchNormGradient: %w", err)
	}
	return gradOperand, gradScale, gradOffset, nil
}

// batchNorm holds what the three BatchNorm ops share. They run in
// float64 whatever the operand's floating dtype, as PyTorch's CPU kernels
// accumulate: in float32 the sums of a feature whose mean is large against
// its spread lose most of their digits.
type batchNorm struct {
	b           *builder
	dtype       dtypes.DType // the operand's
	x           backends.Op  // the operand in float64
	shape       shapes.Shape // of x
	featureAxis int
	reduceAxes  []int
	count       backends.Op // elements per feature, as a scalar of x's dtype
	epsilon     backends.Op
}

func (b *builder) newBatchNorm(x backends.Op, featureAxis int, epsilon float32) (
	*batchNorm, error) {
	shape, err := b.shapeOf(x)
	if err != nil {
		return nil, err
	}
	if featureAxis < 0 || featureAxis >= shape.Rank() {
		return nil, fmt.Errorf("feature axis %d out of range for operand %s", featureAxis, shape)
	}
	if !shape.DType.IsFloat() {
		return nil, fmt.Errorf("operand %s is not floating point", shape)
	}
	n := shape.Size() / shape.Dimensions[featureAxis]
	count, err := b.scalar(dtypes.Float64, float64(n))
	if err != nil {
		return nil, err
	}
	eps, err := b.scalar(dtypes.Float64, float64(epsilon))
	if err != nil {
		return nil, err
	}
	bn := &batchNorm{b: b, dtype: shape.DType, shape: shape.Clone(), featureAxis: featureAxis,
		reduceAxes: otherAxes(shape.Rank(), featureAxis), count: count, epsilon: eps}
	bn.shape.DType = dtypes.Float64
	if bn.x, err = bn.widen(x); err != nil {
		return nil, err
	}
	return bn, nil
}

// widen converts op to float64.
func (bn *batchNorm) widen(op backends.Op) (backends.Op, error) {
	if bn.dtype == dtypes.Float64 {
		return op, nil
	}
	return bn.b.ConvertDType(op, dtypes.Float64)
}

// widenAll widens each op in place.
func (bn *batchNorm) widenAll(ops ...*backends.Op) error {
	for _, op := range ops {
		var err error
		if *op, err = bn.widen(*op); err != nil {
			return err
		}
	}
	return nil
}

// narrowAll converts each op in place back to the operand's dtype.
func (bn *batchNorm) narrowAll(ops ...*backends.Op) error {
	if bn.dtype == dtypes.Float64 {
		return nil
	}
	for _, op := range ops {
		var err error
		if *op, err = bn.b.ConvertDType(*op, bn.dtype); err != nil {
			return err
		}
	}
	return nil
}

// spread broadcasts a per-feature vector to the operand's shape.
func (bn *batchNorm) spread(vec backends.Op) (backends.Op, error) {
	return bn.b.alongAxis(vec, bn.shape, bn.featureAxis)
}

// invStd is 1/sqrt(variance + epsilon), per feature.
func (bn *batchNorm) invStd(variance backends.Op) (backends.Op, error) {
	v, err := bn.b.Add(variance, bn.epsilon)
	if err != nil {
		return nil, err
	}
	return bn.b.Rsqrt(v)
}

// mean is the per-feature mean of t, a tensor shaped like the operand.
func (bn *batchNorm) mean(t backends.Op) (backends.Op, error) {
	sum, err := bn.b.ReduceSum(t, bn.reduceAxes...)
	if err != nil {
		return nil, err
	}
	return bn.b.Div(sum, bn.count)
}

// affine returns x*spread(mul) + spread(add).
func (bn *batchNorm) affine(x, mul, add backends.Op) (backends.Op, error) {
	m, err := bn.spread(mul)
	if err != nil {
		return nil, err
	}
	a, err := bn.spread(add)
	if err != nil {
		return nil, err
	}
	y, err := bn.b.Mul(x, m)
	if err != nil {
		return nil, err
	}
	return bn.b.Add(y, a)
}

func (bn *batchNorm) inference(scale, offset, mean, variance backends.Op) (backends.Op, error) {
	if err := bn.widenAll(&scale, &offset, &mean, &variance); err != nil {
		return nil, err
	}
	inv, err := bn.invStd(variance)
	if err != nil {
		return nil, err
	}
	mul, err := bn.b.Mul(scale, inv)
	if err != nil {
		return nil, err
	}
	shift, err := bn.b.Mul(mean, mul)
	if err != nil {
		return nil, err
	}
	add, err := bn.b.Sub(offset, shift)
	if err != nil {
		return nil, err
	}
	y, err := bn.affine(bn.x, mul, add)
	if err != nil {
		return nil, err
	}
	err = bn.narrowAll(&y)
	return y, err
}

// centered returns x - spread(mean).
func (bn *batchNorm) centered(mean backends.Op) (backends.Op, error) {
	m, err := bn.spread(mean)
	if err != nil {
		return nil, err
	}
	return bn.b.Sub(bn.x, m)
}

func (bn *batchNorm) training(scale, offset backends.Op) (
	normalized, mean, variance backends.Op, err error) {
	if err = bn.widenAll(&scale, &offset); err != nil {
		return nil, nil, nil, err
	}
	if mean, err = bn.mean(bn.x); err != nil {
		return nil, nil, nil, err
	}
	xc, err := bn.centered(mean)
	if err != nil {
		return nil, nil, nil, err
	}
	sq, err := bn.b.Mul(xc, xc)
	if err != nil {
		return nil, nil, nil, err
	}
	if variance, err = bn.mean(sq); err != nil {
		return nil, nil, nil, err
	}
	inv, err := bn.invStd(variance)
	if err != nil {
		return nil, nil, nil, err
	}
	mul, err := bn.b.Mul(scale, inv)
	if err != nil {
		return nil, nil, nil, err
	}
	if normalized, err = bn.affine(xc, mul, offset); err != nil {
		return nil, nil, nil, err
	}
	err = bn.narrowAll(&normalized, &mean, &variance)
	return normalized, mean, variance, err
}
