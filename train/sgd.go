package train

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// SGD is torch.optim.SGD without dampening: weight decay is added to the
// gradient, the momentum buffer starts as the first step's gradient
// (momentum·0 + d, the same thing) and Nesterov looks one step ahead.
type SGD struct {
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
}

// update returns the new parameter and momentum buffer for one step with
// learning rate lr (a scalar node).
func (o SGD) update(p, grad, buf, lr *Node) (newP, newBuf *Node) {
	d := grad
	if o.WeightDecay != 0 {
		d = Add(d, MulScalar(p, o.WeightDecay))
	}
	newBuf = buf
	if o.Momentum != 0 {
		newBuf = Add(MulScalar(buf, o.Momentum), d)
		if o.Nesterov {
			d = Add(d, MulScalar(newBuf, o.Momentum))
		} else {
			d = newBuf
		}
	}
	newP = Sub(p, Mul(ConvertDType(lr, p.DType()), d))
	return newP, newBuf
}
