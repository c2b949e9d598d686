package train

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads better unqualified
	"github.com/gomlx/gomlx/pkg/core/tensors/images"

	"github.com/mocokit/mocokit/models"
)

// nchw lays out convolutions as PyTorch does: input and output [N, C, H, W],
// kernel [Out, In, K, K], so torchvision weights are used as they are.
var nchw = ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
}

// bnMode says how batch norm runs: with the running statistics
// (evaluation), or with the statistics of the batch, computed over Splits
// interleaved sub-batches (sample n in split n mod Splits), as MoCo's
// CIFAR-10 demonstration's SplitBatchNorm does; 0 or 1 is one batch.
type bnMode struct {
	Training bool
	Splits   int
}

var (
	evalMode  = bnMode{}
	trainMode = bnMode{Training: true, Splits: 1}
)

// forward runs the network described by cfg on x ([N, 3, H, W]).
//
// vals holds every weight, bias and running statistic by state_dict name.
// In training mode batch norm normalises with the batch statistics and the
// running statistics it would leave behind are returned, by name; in
// evaluation mode it uses the running statistics and stats is empty.
func forward(cfg models.Config, vals map[string]*Node, x *Node, bn bnMode) (
	out *Node, stats map[string]*Node) {
	acts := map[string]*Node{models.Input: x}
	stats = map[string]*Node{}
	for _, op := range cfg.Ops() {
		in := acts[op.Inputs[0]]
		var y *Node
		switch op.Kind {
		case models.Conv:
			p := op.Padding
			y = Convolve(in, vals[op.Name+".weight"]).AxesConfig(nchw).
				StridePerAxis(op.Stride, op.Stride).
				PaddingPerDim([][2]int{{p, p}, {p, p}}).Done()
		case models.BatchNorm:
			y = batchNorm(op.Name, vals, in, bn, stats)
		case models.ReLU:
			y = relu(in, bn.Training)
		case models.MaxPool:
			p := op.Padding
			y = MaxPool(in).ChannelsAxis(images.ChannelsFirst).Window(op.Kernel).
				Strides(op.Stride).PaddingPerDim([][2]int{{p, p}, {p, p}}).Done()
		case models.Add:
			y = Add(in, acts[op.Inputs[1]])
		case models.GlobalAvgPool:
			y = ReduceMean(in, 2, 3)
		case models.Linear:
			y = linear(in, vals[op.Name+".weight"], vals[op.Name+".bias"])
		default:
			panic(fmt.Sprintf("train: layer kind %s has no graph", op.Kind))
		}
		acts[op.Output] = y
		out = y
	}
	return out, stats
}

// relu is max(x, 0). In training its gradient is the output gradient
// where the output is positive, 0 elsewhere, as PyTorch's: GoMLX's gradient
// of Max makes eight full-size tensors per activation. The value is
// written x + (max(x, 0) - x), with the gradient stopped on the second
// term, which is max(x, 0) exactly; the gradient reads the output, which
// the next layer keeps anyway, so no mask is kept. Evaluation graphs are
// never differentiated and take Max.
func relu(x *Node, training bool) *Node {
	y := MaxScalar(x, 0)
	if !training {
		return y
	}
	y = Add(x, StopGradient(Sub(y, x)))
	return IdentityWithCustomGradient(y, func(out, v *Node) *Node {
		return Mul(v, Sign(out))
	})
}

// linear is x·wᵀ + b with w [Out, In] as torch.nn.Linear stores it,
// computed as a 1x1 convolution: the gradients of GoMLX's Dot, DotGeneral
// and Einsum materialise an [N, In, Out] product, the convolution's do not.
func linear(x, w, b *Node) *Node {
	return Add(matmulT(x, w), Reshape(b, 1, b.Shape().Dimensions[0]))
}

// matmulT is x·wᵀ for x [N, D] and w [M, D], as a 1x1 convolution.
func matmulT(x, w *Node) *Node {
	n, d, m := x.Shape().Dimensions[0], x.Shape().Dimensions[1], w.Shape().Dimensions[0]
	y := Convolve(Reshape(x, n, d, 1, 1), Reshape(w, m, d, 1, 1)).AxesConfig(nchw).Done()
	return Reshape(y, n, m)
}

// batchNorm is torch.nn.BatchNorm2d. In training mode the gradient flows
// through the batch mean and variance, the input is normalised with the
// biased variance and the running variance follows the unbiased one, as
// PyTorch does. It runs the backend's batch-norm ops (BatchNormGradient
// for the gradient), which mocokit's Go backend computes in
// float64, as PyTorch's CPU kernels accumulate: in float32 the gradient of
// a channel whose mean is large against its spread loses most of its
// digits (measured: 14% off PyTorch on a CIFAR-stem layer). Splits become
// features of their own: [N, C, H, W] is [N/S, S*C, H, W] in memory.
func batchNorm(name string, vals map[string]*Node, x *Node, bn bnMode,
	stats map[string]*Node) *Node {
	w, b := vals[name+".weight"], vals[name+".bias"]
	if !bn.Training {
		return InternalBatchNormForInference(x, w, b, vals[name+".running_mean"],
			vals[name+".running_var"], models.BatchNormEpsilon, 1)
	}
	dims := x.Shape().Dimensions
	n, c, h, wd := dims[0], dims[1], dims[2], dims[3]
	s := max(bn.Splits, 1)
	perSplit := func(v *Node) *Node { return Reshape(BroadcastToDims(Reshape(v, 1, c), s, c), s*c) }
	y, mean, variance := InternalBatchNormForTraining(Reshape(x, n/s, s*c, h, wd),
		perSplit(w), perSplit(b), models.BatchNormEpsilon, 1)
	updateRunningStats(name, vals, ReduceMean(Reshape(mean, s, c), 0),
		Reshape(variance, s, c), n/s*h*wd, stats)
	return Reshape(y, n, c, h, wd)
}

// updateRunningStats blends the running statistics towards the batch's:
// mean is [C], variance the biased variance of each split [S, C] over n
// values; the running variance follows the splits' mean unbiased variance.
func updateRunningStats(name string, vals map[string]*Node, mean, variance *Node,
	n int, stats map[string]*Node) {
	m := models.BatchNormMomentum
	unbiased := ReduceMean(MulScalar(variance, float64(n)/float64(max(n-1, 1))), 0)
	blend := func(old, batch *Node) *Node {
		batch = ConvertDType(batch, old.DType())
		return StopGradient(Add(MulScalar(old, 1-m), MulScalar(batch, m)))
	}
	stats[name+".running_mean"] = blend(vals[name+".running_mean"], mean)
	stats[name+".running_var"] = blend(vals[name+".running_var"], unbiased)
}

// crossEntropy is the mean cross-entropy of logits [N, K] against labels
// [N] (int32), and the number of rows whose argmax is the label.
func crossEntropy(logits, labels *Node) (loss, correct *Node) {
	k := logits.Shape().Dimensions[1]
	oneHot := OneHot(labels, k, logits.DType())
	logp := LogSoftmax(logits, -1)
	loss = Neg(ReduceAllMean(ReduceSum(Mul(oneHot, logp), -1)))
	hit := Equal(ConvertDType(ArgMax(logits, -1), dtypes.Int32), labels)
	correct = ReduceAllSum(ConvertDType(hit, dtypes.Float32))
	return loss, correct
}
