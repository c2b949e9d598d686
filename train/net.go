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
			y = MaxScalar(in, 0)
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
// PyTorch does. The statistics and the normalisation run in float64, as
// PyTorch's CPU kernels accumulate them: in float32 the gradient of a
// channel whose mean is large against its spread loses most of its digits
// (measured: 14% off PyTorch on a CIFAR-stem layer).
func batchNorm(name string, vals map[string]*Node, x *Node, bn bnMode,
	stats map[string]*Node) *Node {
	w, b := vals[name+".weight"], vals[name+".bias"]
	if !bn.Training {
		mean, variance := vals[name+".running_mean"], vals[name+".running_var"]
		scale := Mul(Rsqrt(AddScalar(variance, models.BatchNormEpsilon)), w)
		shift := Sub(b, Mul(mean, scale))
		return Add(Mul(x, channelAxis(scale)), channelAxis(shift))
	}
	dims := x.Shape().Dimensions
	n, c, h, wd := dims[0], dims[1], dims[2], dims[3]
	s := max(bn.Splits, 1)
	dt := x.DType()
	xs := Reshape(ConvertDType(x, dtypes.Float64), n/s, s, c, h, wd)
	mean := ReduceMean(xs, 0, 3, 4) // [s, c]
	centred := Sub(xs, Reshape(mean, 1, s, c, 1, 1))
	variance := ReduceMean(Square(centred), 0, 3, 4)
	updateRunningStats(name, vals, ReduceMean(mean, 0), variance, n/s*h*wd, stats)
	// Rsqrt has no gradient in GoMLX; w / sqrt(var + eps) has.
	scale := Div(ConvertDType(Reshape(w, 1, c), dtypes.Float64),
		Sqrt(AddScalar(variance, models.BatchNormEpsilon)))
	y := Add(Mul(centred, Reshape(scale, 1, s, c, 1, 1)),
		Reshape(ConvertDType(b, dtypes.Float64), 1, 1, c, 1, 1))
	return ConvertDType(Reshape(y, n, c, h, wd), dt)
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

// channelAxis reshapes a per-channel vector [C] to [1, C, 1, 1].
func channelAxis(v *Node) *Node { return Reshape(v, 1, v.Shape().Dimensions[0], 1, 1) }

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
