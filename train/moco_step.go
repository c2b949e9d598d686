package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Step runs one MoCo step on two views of a batch ([N, 3, H, W] each):
// the key encoder follows the query encoder by momentum, encodes the keys
// from a shuffled batch (so that split batch norm cannot pair a query with
// its key), the contrastive loss trains the query encoder by SGD at rate
// lr, and the keys join the queue.
func (m *MoCo) Step(view1, view2 []float32, size int, lr float64) (MoCoStep, error) {
	n := len(view1) / (3 * size * size)
	rng := rand.New(rand.NewPCG(m.seed, uint64(m.steps)))
	perm := make([]int32, n)
	for i, p := range rng.Perm(n) {
		perm[i] = int32(p)
	}
	return m.StepShuffled(view1, view2, size, perm, lr)
}

// StepShuffled is Step with the key batch's shuffle given: the key encoder
// sees view2[perm[i]] at row i.
func (m *MoCo) StepShuffled(view1, view2 []float32, size int, perm []int32, lr float64) (
	MoCoStep, error) {
	x1, err := imageTensor(Batch{Images: view1, Size: size})
	if err != nil {
		return MoCoStep{}, err
	}
	x2, err := imageTensor(Batch{Images: view2, Size: size})
	if err != nil {
		return MoCoStep{}, err
	}
	n := x1.Shape().Dimensions[0]
	if err := m.checkBatch(n, perm); err != nil {
		return MoCoStep{}, err
	}
	unperm := make([]int32, n)
	for i, p := range perm {
		unperm[p] = int32(i)
	}
	args := appendTensors(nil, m.q.params, m.q.stats, m.q.momentum, m.k.params, m.k.stats)
	args = append(args, tensors.FromFlatDataAndDimensions(append([]float32(nil), m.queue...),
		m.Config.K, m.dim), x1, x2, tensors.FromFlatDataAndDimensions(perm, n),
		tensors.FromFlatDataAndDimensions(unperm, n), tensors.FromScalar(float32(lr)))
	outs, err := m.exec.Exec(args...)
	if err != nil {
		return MoCoStep{}, fmt.Errorf("train: MoCo step: %w", err)
	}
	res := MoCoStep{Loss: float64(scalar(outs[0])), Top1: int(scalar(outs[1])),
		Top5: int(scalar(outs[2])), Queries: n}
	if m.Config.Symmetric {
		res.Queries = 2 * n
	}
	rest := outs[3:]
	take := func(old []*tensors.Tensor) []*tensors.Tensor {
		fresh := replace(old, rest[:len(old)])
		rest = rest[len(old):]
		return fresh
	}
	m.q.params, m.q.stats, m.q.momentum = take(m.q.params), take(m.q.stats), take(m.q.momentum)
	m.k.params, m.k.stats = take(m.k.params), take(m.k.stats)
	keys, err := tensors.CopyFlatData[float32](rest[0])
	if err != nil {
		return MoCoStep{}, err
	}
	m.enqueue(keys)
	if m.withLogits {
		m.lastLogits, _ = tensors.CopyFlatData[float32](rest[1])
	}
	m.q.tracked++
	m.k.tracked++
	if m.Config.Symmetric {
		m.q.tracked++
		m.k.tracked++
	}
	m.steps++
	return res, nil
}

func (m *MoCo) checkBatch(n int, perm []int32) error {
	keys := n
	if m.Config.Symmetric {
		keys = 2 * n
	}
	if m.Config.K%keys != 0 {
		return fmt.Errorf("train: queue length %d is not a multiple of the %d keys a step "+
			"enqueues", m.Config.K, keys)
	}
	if s := max(m.Config.BNSplits, 1); n%s != 0 {
		return fmt.Errorf("train: batch of %d does not split into %d batch-norm groups", n, s)
	}
	seen := make([]bool, n)
	for _, p := range perm {
		if p < 0 || int(p) >= n || seen[p] {
			return fmt.Errorf("train: key shuffle is not a permutation of %d rows", n)
		}
		seen[p] = true
	}
	return nil
}

// enqueue writes keys [n, dim] at the queue pointer, replacing the oldest.
func (m *MoCo) enqueue(keys []float32) {
	copy(m.queue[m.ptr*m.dim:], keys)
	m.ptr = (m.ptr + len(keys)/m.dim) % m.Config.K
}

// stepGraph's inputs: query parameters, statistics and momentum, key
// parameters and statistics, the queue, both views, the key shuffle and its
// inverse, the learning rate. Outputs: loss, top-1 and top-5 counts, the
// new query parameters, statistics and momentum, the new key parameters and
// statistics, and the keys to enqueue.
func (m *MoCo) stepGraph(in []*Node) []*Node {
	np, ns := len(m.q.params), len(m.q.stats)
	pos := 0
	take := func(k int) []*Node {
		s := in[pos : pos+k]
		pos += k
		return s
	}
	qP, qS, qM, kP, kS := take(np), take(ns), take(np), take(np), take(ns)
	queue, x1, x2, perm, unperm, lr := in[pos], in[pos+1], in[pos+2], in[pos+3], in[pos+4],
		in[pos+5]
	newKP := make([]*Node, np)
	for i := range kP {
		newKP[i] = Add(MulScalar(kP[i], m.Config.M), MulScalar(StopGradient(qP[i]), 1-m.Config.M))
	}
	c := &contrast{m: m, qVals: m.q.named(qP, qS), kVals: m.k.named(newKP, kS), queue: queue,
		perm: perm, unperm: unperm}
	loss, top1, top5, keys, logits := c.run(x1, x2)
	if m.Config.Symmetric {
		l2, t1, t5, k1, _ := c.run(x2, x1)
		loss, top1, top5 = Add(loss, l2), Add(top1, t1), Add(top5, t5)
		keys = Concatenate([]*Node{k1, keys}, 0)
	}
	grads := Gradient(loss, qP...)
	newQP, newQM := make([]*Node, np), make([]*Node, np)
	for i := range qP {
		newQP[i], newQM[i] = m.q.Opt.update(qP[i], grads[i], qM[i], lr)
	}
	outs := append([]*Node{loss, top1, top5}, newQP...)
	outs = append(outs, c.stats(m.q, c.qVals)...)
	outs = append(outs, newQM...)
	outs = append(outs, newKP...)
	outs = append(outs, c.stats(m.k, c.kVals)...)
	outs = append(outs, keys)
	if m.withLogits {
		outs = append(outs, logits)
	}
	return outs
}

// contrast computes MoCo's loss for one pairing of views, carrying the
// running statistics of both encoders from one call to the next.
type contrast struct {
	m                   *MoCo
	qVals, kVals        map[string]*Node
	queue, perm, unperm *Node
}

func (c *contrast) run(xq, xk *Node) (loss, top1, top5, keys, logits *Node) {
	bn := bnMode{Training: true, Splits: c.m.Config.BNSplits}
	qOut, qStats := forward(c.m.q.Config, c.qVals, xq, bn)
	kOut, kStats := forward(c.m.k.Config, c.kVals, Gather(xk, ExpandAxes(c.perm, -1)), bn)
	merge(c.qVals, qStats)
	merge(c.kVals, kStats)
	q := l2Normalize(qOut)
	k := StopGradient(Gather(l2Normalize(kOut), ExpandAxes(c.unperm, -1)))
	pos := ReduceSum(Mul(q, k), -1)
	neg := matmulT(q, c.queue)
	t := c.m.Config.T
	logits = DivScalar(Concatenate([]*Node{ExpandAxes(pos, -1), neg}, 1), t)
	loss = Neg(ReduceAllMean(Slice(LogSoftmax(logits, -1), AxisRange(), AxisElem(0))))
	beaten := ReduceSum(ConvertDType(GreaterThan(neg, ExpandAxes(pos, -1)), dtypes.Float32), -1)
	top1 = ReduceAllSum(ConvertDType(LessThan(beaten, OnesLike(beaten)), dtypes.Float32))
	top5 = ReduceAllSum(ConvertDType(LessThan(beaten, AddScalar(ZerosLike(beaten), 5)),
		dtypes.Float32))
	return loss, top1, top5, k, logits
}

func merge(vals, stats map[string]*Node) {
	for name, v := range stats {
		vals[name] = v
	}
}

// stats lists an encoder's running statistics in its order, as they stand
// after the forward passes.
func (c *contrast) stats(n *Network, vals map[string]*Node) []*Node {
	out := make([]*Node, len(n.buffers))
	for i, p := range n.buffers {
		out[i] = vals[p.Name]
	}
	return out
}

// l2Normalize is F.normalize(x, dim=1): x / max(‖x‖, 1e-12).
func l2Normalize(x *Node) *Node {
	norm := Sqrt(ReduceSum(Square(x), -1))
	return Div(x, ExpandAxes(MaxScalar(norm, 1e-12), -1))
}

// Embed returns the query encoder's L2-normalised outputs in evaluation
// mode, for the kNN monitor.
func (m *MoCo) Embed(images []float32, size int) ([]float32, error) {
	x, err := imageTensor(Batch{Images: images, Size: size})
	if err != nil {
		return nil, err
	}
	args := appendTensors(nil, m.q.params, m.q.stats)
	outs, err := m.embed.Exec(append(args, x)...)
	if err != nil {
		return nil, fmt.Errorf("train: embedding: %w", err)
	}
	return tensors.CopyFlatData[float32](outs[0])
}

func (m *MoCo) embedGraph(in []*Node) []*Node {
	np, ns := len(m.q.params), len(m.q.stats)
	out, _ := forward(m.q.Config, m.q.named(in[:np], in[np:np+ns]), in[np+ns], evalMode)
	return []*Node{l2Normalize(out)}
}
