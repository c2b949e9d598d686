package backend

import "github.com/gomlx/gomlx/backends"

// gradient computes BatchNormGradient's three outputs; see its comment.
func (bn *batchNorm) gradient(scale, mean, variance, dy backends.Op) (
	gradOperand, gradScale, gradOffset backends.Op, err error) {
	b := bn.b
	if err = bn.widenAll(&scale, &mean, &variance, &dy); err != nil {
		return nil, nil, nil, err
	}
	inv, err := bn.invStd(variance)
	if err != nil {
		return nil, nil, nil, err
	}
	xc, err := bn.centered(mean)
	if err != nil {
		return nil, nil, nil, err
	}
	if gradOffset, err = b.ReduceSum(dy, bn.reduceAxes...); err != nil {
		return nil, nil, nil, err
	}
	dyXc, err := b.Mul(dy, xc)
	if err != nil {
		return nil, nil, nil, err
	}
	sumDyXc, err := b.ReduceSum(dyXc, bn.reduceAxes...)
	if err != nil {
		return nil, nil, nil, err
	}
	if gradScale, err = b.Mul(sumDyXc, inv); err != nil {
		return nil, nil, nil, err
	}
	gradOperand, err = bn.operandGradient(scale, inv, xc, dy, gradScale, gradOffset)
	if err != nil {
		return nil, nil, nil, err
	}
	err = bn.narrowAll(&gradOperand, &gradScale, &gradOffset)
	return gradOperand, gradScale, gradOffset, err
}

// operandGradient is scale*inv * (dy - gradOffset/N - xc * inv*gradScale/N),
// written as dy*a + xc*c + d with per-feature a = scale*inv,
// c = -a*inv*gradScale/N and d = -a*gradOffset/N.
func (bn *batchNorm) operandGradient(scale, inv, xc, dy, gradScale, gradOffset backends.Op) (
	backends.Op, error) {
	b := bn.b
	a, err := b.Mul(scale, inv)
	if err != nil {
		return nil, err
	}
	negAOverN, err := b.Div(a, bn.count)
	if err != nil {
		return nil, err
	}
	if negAOverN, err = b.Neg(negAOverN); err != nil {
		return nil, err
	}
	c, err := b.Mul(negAOverN, inv)
	if err != nil {
		return nil, err
	}
	if c, err = b.Mul(c, gradScale); err != nil {
		return nil, err
	}
	d, err := b.Mul(negAOverN, gradOffset)
	if err != nil {
		return nil, err
	}
	first, err := bn.affine(dy, a, d)
	if err != nil {
		return nil, err
	}
	cs, err := bn.spread(c)
	if err != nil {
		return nil, err
	}
	second, err := b.Mul(xc, cs)
	if err != nil {
		return nil, err
	}
	return b.Add(first, second)
}
