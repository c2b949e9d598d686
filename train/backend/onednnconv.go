package backend

import (
	"fmt"
	"log/slog"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/mocokit/mocokit/train/backend/onednn"
)

// oneDNNConv runs a float32 2-D convolution with oneDNN. GoMLX writes
// both gradients of a convolution as convolutions too: with respect to the
// kernel, of the input by the output gradient, which oneDNN runs as its
// weights-gradient primitive; with respect to the input, of the output
// gradient by the reversed kernel, which it runs as the convolution it is
// where the input is not dilated (stride 1), else, with the kernel
// reversed back, as its source-gradient primitive. oneDNN reads and writes
// the operands in their own layouts, reordering them to and from the
// blocked ones it computes in.
type oneDNNConv struct {
	conv *onednn.Conv
	flip *kernelFlip // set for a source gradient: the kernel to reverse back
}

// newOneDNNConv prepares c for oneDNN, or returns nil where it does not
// apply: other dtypes or ranks, negative low padding, negative high
// padding but for a kernel gradient (whose high padding is recomputed), a
// dilated input with a dilated kernel, window strides or low padding
// beyond the kernel, or what oneDNN refuses.
func newOneDNNConv(lib *onednn.Lib, c *conv) *oneDNNConv {
	if lib == nil || c.in.DType != dtypes.Float32 || len(c.inSp) != 2 {
		return nil
	}
	dilated, negativeHigh := false, false
	for a := range 2 {
		if c.paddings[a][0] < 0 {
			return nil
		}
		dilated = dilated || c.inDil[a] != 1
		negativeHigh = negativeHigh || c.paddings[a][1] < 0
	}
	if dilated {
		return newOneDNNSourceGradient(lib, c, negativeHigh)
	}
	var conv *onednn.Conv
	var err error
	// A kernel with more positions than the output is that of a kernel
	// gradient: try that form first, then the plain convolution.
	if product(c.kSp) > product(c.outSp) {
		conv, err = lib.NewWeightsGradient(weightsGradientSpec(c))
	}
	if conv == nil && !negativeHigh {
		conv, err = lib.NewConv(convSpec(c))
	}
	if conv == nil {
		slog.Debug("convolution left to im2col", "error", err)
		return nil
	}
	return &oneDNNConv{conv: conv}
}

// newOneDNNSourceGradient is newOneDNNConv for c with a dilated input.
func newOneDNNSourceGradient(lib *onednn.Lib, c *conv, negativeHigh bool) *oneDNNConv {
	if negativeHigh {
		return nil
	}
	spec, ok := sourceGradientSpec(c)
	if !ok {
		return nil
	}
	conv, err := lib.NewSourceGradient(spec)
	if err != nil {
		slog.Debug("convolution left to im2col", "error", err)
		return nil
	}
	return &oneDNNConv{conv: conv, flip: newKernelFlip(c)}
}

// convSpec is c as a convolution.
func convSpec(c *conv) onednn.ConvSpec {
	ax := c.axes
	s := onednn.ConvSpec{
		Src: operand(c.in, ax.InputBatch, ax.InputChannels, ax.InputSpatial),
		Weights: operand(c.kernel, ax.KernelOutputChannels, ax.KernelInputChannels,
			ax.KernelSpatial),
		Dst: operand(c.out, ax.OutputBatch, ax.OutputChannels, ax.OutputSpatial),
	}
	for a := range 2 {
		s.Strides[a], s.Dilations[a] = c.strides[a], c.kDil[a]-1
		s.PadLow[a], s.PadHigh[a] = c.paddings[a][0], c.paddings[a][1]
	}
	return s
}

// weightsGradientSpec is c as the weights gradient of a convolution,
// which is how GoMLX writes one: c's output is the weights gradient, its
// input the convolution's source with batch and channel axes swapped, its
// kernel the gradient of the convolution's output, likewise swapped. c's
// window strides are the convolution's kernel dilations and the other way
// round. The high padding is the least the shapes need: any more only
// reads zeros.
func weightsGradientSpec(c *conv) onednn.ConvSpec {
	ax := c.axes
	s := onednn.ConvSpec{
		Src:     operand(c.in, ax.InputChannels, ax.InputBatch, ax.InputSpatial),
		Weights: operand(c.out, ax.OutputChannels, ax.OutputBatch, ax.OutputSpatial),
		Dst: operand(c.kernel, ax.KernelInputChannels, ax.KernelOutputChannels,
			ax.KernelSpatial),
	}
	for a := range 2 {
		s.Strides[a], s.Dilations[a] = c.kDil[a], c.strides[a]-1
		s.PadLow[a] = c.paddings[a][0]
		s.PadHigh[a] = (c.kSp[a]-1)*c.kDil[a] + (c.outSp[a]-1)*c.strides[a] + 1 -
			c.inSp[a] - c.paddings[a][0]
	}
	return s
}

// sourceGradientSpec is c, whose input is dilated, as the source gradient
// of a convolution, which is how GoMLX writes that of a strided one: c's
// input is the gradient of the convolution's output, dilated by its
// strides, c's kernel the convolution's reversed, with input and output
// channels swapped, and c's output the source gradient. The kernel that
// kernelFlip writes, laid out [output channels, input channels, height,
// width], is the weights. ok is false where c is not of that form.
func sourceGradientSpec(c *conv) (s onednn.ConvSpec, ok bool) {
	ax := c.axes
	s = onednn.ConvSpec{
		Src: operand(c.out, ax.OutputBatch, ax.OutputChannels, ax.OutputSpatial),
		Dst: operand(c.in, ax.InputBatch, ax.InputChannels, ax.InputSpatial),
	}
	dims := [4]int{c.kernel.Dimensions[ax.KernelInputChannels],
		c.kernel.Dimensions[ax.KernelOutputChannels], c.kSp[0], c.kSp[1]}
	s.Weights = onednn.Tensor{Dims: dims,
		Strides: [4]int{dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1}}
	for a := range 2 {
		if c.strides[a] != 1 || c.kDil[a] != 1 || c.paddings[a][0] > c.kSp[a]-1 {
			return s, false
		}
		s.Strides[a] = c.inDil[a]
		s.PadLow[a] = c.kSp[a] - 1 - c.paddings[a][0]
		s.PadHigh[a] = (c.inSp[a]-1)*c.inDil[a] + c.kSp[a] - c.outSp[a] - s.PadLow[a]
	}
	return s, true
}

// kernelFlip reverses a source gradient's kernel back: its values, read
// with strides sOut, sIn, sY, sX, are written reversed in space into an
// [outs, ins, kh, kw] array, the weights of the convolution whose source
// gradient it is.
type kernelFlip struct {
	outs, ins, kh, kw int
	sOut, sIn, sY, sX int
}

// newKernelFlip lays out the reversal of c's kernel, whose input channels
// are the convolution's output channels and the other way round.
func newKernelFlip(c *conv) *kernelFlip {
	ax, kS := c.axes, c.kernel.Strides()
	return &kernelFlip{
		outs: c.kernel.Dimensions[ax.KernelInputChannels],
		ins:  c.kernel.Dimensions[ax.KernelOutputChannels],
		kh:   c.kSp[0], kw: c.kSp[1],
		sOut: kS[ax.KernelInputChannels], sIn: kS[ax.KernelOutputChannels],
		sY: kS[ax.KernelSpatial[0]], sX: kS[ax.KernelSpatial[1]],
	}
}

// run writes kernel, reversed, into w.
func (f *kernelFlip) run(kernel, w []float32) {
	i := 0
	for o := range f.outs {
		for ci := range f.ins {
			for y := range f.kh {
				base := o*f.sOut + ci*f.sIn + (f.kh-1-y)*f.sY
				for x := range f.kw {
					w[i] = kernel[base+(f.kw-1-x)*f.sX]
					i++
				}
			}
		}
	}
}

// operand is the view of a tensor of shape s that oneDNN takes: the outer
// axis (batch, or output channels), the channels, then the two spatial
// axes, with their strides.
func operand(s shapes.Shape, outer, channels int, spatial []int) onednn.Tensor {
	strides := s.Strides()
	var t onednn.Tensor
	for i, a := range []int{outer, channels, spatial[0], spatial[1]} {
		t.Dims[i], t.Strides[i] = s.Dimensions[a], strides[a]
	}
	return t
}

func (p *oneDNNConv) run(_ gemm, in, out []any) error {
	x, xOK := in[0].([]float32)
	k, kOK := in[1].([]float32)
	y, yOK := out[0].([]float32)
	if !xOK || !kOK || !yOK {
		return fmt.Errorf("oneDNN convolution of %T by %T into %T", in[0], in[1], out[0])
	}
	if p.flip != nil {
		w := borrow[float32](len(k))
		defer giveBack(w)
		p.flip.run(k, w)
		k = w
	}
	return p.conv.Run(x, k, y)
}
