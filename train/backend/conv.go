package backend

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// ConvGeneral implements backends.StandardOps.ConvGeneral. Empty strides,
// paddings and dilations mean 1, 0 and 1 (graph's convolution gradient
// passes empty ones, which simplego rejects or trips over). Without channel
// or batch groups it runs as im2col: the input patches gathered by slices
// into one matrix, multiplied by the kernel in one DotGeneral, which
// simplego spreads over all cores, unlike its convolution loop. Grouped
// convolutions, integer ones, and every convolution when im2col is off, go
// to simplego's own.
func (b *builder) ConvGeneral(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (backends.Op, error) {
	spatial := len(axes.InputSpatial)
	if len(strides) == 0 {
		strides = repeat(1, spatial)
	}
	if len(paddings) == 0 {
		paddings = make([][2]int, spatial)
	}
	// simplego's loop for dilated convolutions indexes both dilations
	// whenever either is set, so neither may be left empty.
	if len(inputDilations) == 0 {
		inputDilations = repeat(1, spatial)
	}
	if len(kernelDilations) == 0 {
		kernelDilations = repeat(1, spatial)
	}
	if !b.im2col || channelGroupCount > 1 || batchGroupCount > 1 {
		return b.Builder.ConvGeneral(input, kernel, axes, strides, paddings,
			inputDilations, kernelDilations, channelGroupCount, batchGroupCount)
	}
	c, err := b.newConv(input, kernel, axes, strides, paddings, inputDilations, kernelDilations)
	if err != nil {
		return nil, fmt.Errorf("backend: ConvGeneral: %w", err)
	}
	if !c.in.DType.IsFloat() {
		return b.Builder.ConvGeneral(input, kernel, axes, strides, paddings,
			inputDilations, kernelDilations, channelGroupCount, batchGroupCount)
	}
	if r, ok := b.Builder.(*recorder); ok && c.nativeOK() {
		return r.convolve(input, kernel, c)
	}
	out, err := c.im2col(input, kernel)
	if err != nil {
		return nil, fmt.Errorf("backend: ConvGeneral: input %s, kernel %s: %w", c.in, c.kernel, err)
	}
	return out, nil
}

// conv is one convolution's geometry with every parameter spelled out.
type conv struct {
	b                  *builder
	in, kernel, out    shapes.Shape
	axes               backends.ConvolveAxesConfig
	strides            []int
	paddings           [][2]int
	inDil, kDil        []int
	inSp, kSp, outSp   []int // spatial dimensions of input, kernel and output
	batch, chans, cOut int
}

func (b *builder) newConv(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inDil, kDil []int) (*conv, error) {
	in, err := b.shapeOf(input)
	if err != nil {
		return nil, err
	}
	ks, err := b.shapeOf(kernel)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.ConvGeneralOp(in, ks, axes, strides, paddings, inDil, kDil, 1, 1)
	if err != nil {
		return nil, err
	}
	n := len(axes.InputSpatial)
	c := &conv{b: b, in: in, kernel: ks, out: out, axes: axes, strides: strides,
		paddings: paddings, inDil: inDil, kDil: kDil,
		batch: in.Dimensions[axes.InputBatch], chans: in.Dimensions[axes.InputChannels],
		cOut: ks.Dimensions[axes.KernelOutputChannels]}
	for a := range n {
		c.inSp = append(c.inSp, in.Dimensions[axes.InputSpatial[a]])
		c.kSp = append(c.kSp, ks.Dimensions[axes.KernelSpatial[a]])
		c.outSp = append(c.outSp, out.Dimensions[axes.OutputSpatial[a]])
	}
	return c, nil
}

// im2col computes the convolution as patches [B*O, K*C] times the kernel
// [K*C, Cout], where O and K count output and kernel positions.
func (c *conv) im2col(input, kernel backends.Op) (backends.Op, error) {
	b := c.b
	x, err := c.paddedInput(input)
	if err != nil {
		return nil, err
	}
	patches, err := c.patches(x)
	if err != nil {
		return nil, err
	}
	kmat, err := c.kernelMatrix(kernel)
	if err != nil {
		return nil, err
	}
	y, err := b.DotGeneral(patches, []int{1}, nil, kmat, []int{0}, nil)
	if err != nil {
		return nil, err
	}
	dims := append(append([]int{c.batch}, c.outSp...), c.cOut)
	if y, err = b.Reshape(y, dims...); err != nil {
		return nil, err
	}
	// y's axes are batch, spatial..., channels; put each where axes says.
	perm := make([]int, len(dims))
	perm[c.axes.OutputBatch] = 0
	for a, axis := range c.axes.OutputSpatial {
		perm[axis] = 1 + a
	}
	perm[c.axes.OutputChannels] = len(dims) - 1
	return c.transpose(y, perm)
}

// transpose skips the identity permutation.
func (c *conv) transpose(x backends.Op, perm []int) (backends.Op, error) {
	for i, p := range perm {
		if i != p {
			return c.b.Transpose(x, perm...)
		}
	}
	return x, nil
}

// paddedInput lays the input out as [B, spatial..., C], with the input
// dilation's zeros inserted and the padding added (or cropped, if negative).
func (c *conv) paddedInput(input backends.Op) (backends.Op, error) {
	perm := append(append([]int{c.axes.InputBatch}, c.axes.InputSpatial...),
		c.axes.InputChannels)
	x, err := c.transpose(input, perm)
	if err != nil {
		return nil, err
	}
	pads := make([]backends.PadAxis, len(perm))
	needed := false
	for a := range c.inSp {
		pads[1+a] = backends.PadAxis{Start: c.paddings[a][0], End: c.paddings[a][1],
			Interior: c.inDil[a] - 1}
		needed = needed || pads[1+a] != backends.PadAxis{}
	}
	if !needed {
		return x, nil
	}
	zero, err := c.b.scalar(c.in.DType, 0)
	if err != nil {
		return nil, err
	}
	return c.b.Pad(x, zero, pads...)
}

// paddedDims are the dimensions of paddedInput's result.
func (c *conv) paddedDims() []int {
	dims := []int{c.batch}
	for a, d := range c.inSp {
		dims = append(dims, (d-1)*c.inDil[a]+1+c.paddings[a][0]+c.paddings[a][1])
	}
	return append(dims, c.chans)
}

// kernelMatrix lays the kernel out as [K*C, Cout], kernel positions in
// row-major order, input channels fastest, as patches lays out its columns.
func (c *conv) kernelMatrix(kernel backends.Op) (backends.Op, error) {
	perm := append(slices.Clone(c.axes.KernelSpatial), c.axes.KernelInputChannels,
		c.axes.KernelOutputChannels)
	k, err := c.transpose(kernel, perm)
	if err != nil {
		return nil, err
	}
	return c.b.Reshape(k, product(c.kSp)*c.chans, c.cOut)
}

// nativeOK reports whether the native convolution takes c: float32 or
// float64 throughout, and no empty dimension (which GEMM cannot take).
func (c *conv) nativeOK() bool {
	dt := c.in.DType
	if !nativeFloat(dt) || c.kernel.DType != dt {
		return false
	}
	return c.batch > 0 && c.chans > 0 && c.cOut > 0 && product(c.outSp) > 0 &&
		product(c.kSp) > 0
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// nativeFloat reports whether native steps take dtype: float32 and
// float64; the 16-bit floats stay with simplego.
func nativeFloat(dtype dtypes.DType) bool {
	return dtype == dtypes.Float32 || dtype == dtypes.Float64
}
