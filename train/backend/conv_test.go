package backend

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
)

// convCase is one ConvGeneral call: shapes and every parameter.
type convCase struct {
	name          string
	in, kernel    []int
	axes          backends.ConvolveAxesConfig
	strides       []int
	paddings      [][2]int
	inDil, kDil   []int
	channelGroups int
}

var (
	channelsLast2D = backends.ConvolveAxesConfig{
		InputBatch: 0, InputSpatial: []int{1, 2}, InputChannels: 3,
		KernelSpatial: []int{0, 1}, KernelInputChannels: 2, KernelOutputChannels: 3,
		OutputBatch: 0, OutputSpatial: []int{1, 2}, OutputChannels: 3,
	}
	torch2D = backends.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	// kernelGrad2D is the layout of the convolution that computes a
	// channels-last kernel's gradient: batch and channels trade places.
	kernelGrad2D = backends.ConvolveAxesConfig{
		InputBatch: 3, InputSpatial: []int{1, 2}, InputChannels: 0,
		KernelSpatial: []int{1, 2}, KernelInputChannels: 0, KernelOutputChannels: 3,
		OutputBatch: 2, OutputSpatial: []int{0, 1}, OutputChannels: 3,
	}
	// torchKernelGrad2D is the layout of the convolution that computes a
	// channels-first kernel's gradient, which byChannels runs.
	torchKernelGrad2D = backends.ConvolveAxesConfig{
		InputBatch: 1, InputChannels: 0, InputSpatial: []int{2, 3},
		KernelInputChannels: 0, KernelOutputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 1, OutputChannels: 0, OutputSpatial: []int{2, 3},
	}
	// channelsMajorOut writes [Cout, B, H, W] from a channels-last input.
	channelsMajorOut = backends.ConvolveAxesConfig{
		InputBatch: 0, InputSpatial: []int{1, 2}, InputChannels: 3,
		KernelSpatial: []int{0, 1}, KernelInputChannels: 2, KernelOutputChannels: 3,
		OutputBatch: 1, OutputSpatial: []int{2, 3}, OutputChannels: 0,
	}
	channelsFirst1D = backends.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2},
		KernelInputChannels: 0, KernelOutputChannels: 1, KernelSpatial: []int{2},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2},
	}
)

var convCases = []convCase{
	{name: "3x3-same", in: []int{2, 6, 6, 3}, kernel: []int{3, 3, 3, 4},
		axes: channelsLast2D, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "torch-3x3-stride2", in: []int{2, 3, 7, 8}, kernel: []int{5, 3, 3, 3},
		axes: torch2D, strides: []int{2, 2}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "torch-1x1-stride2", in: []int{2, 4, 6, 6}, kernel: []int{3, 4, 1, 1},
		axes: torch2D, strides: []int{2, 2}},
	{name: "torch-7x7-stride2-pad3", in: []int{1, 3, 12, 11}, kernel: []int{4, 3, 7, 7},
		axes: torch2D, strides: []int{2, 2}, paddings: [][2]int{{3, 3}, {3, 3}}},
	{name: "no-strides-given", in: []int{1, 5, 5, 2}, kernel: []int{2, 2, 2, 3},
		axes: channelsLast2D},
	{name: "uneven-strides-and-padding", in: []int{2, 9, 7, 2}, kernel: []int{3, 2, 2, 3},
		axes: channelsLast2D, strides: []int{2, 1}, paddings: [][2]int{{0, 2}, {1, 0}}},
	{name: "negative-padding", in: []int{1, 8, 8, 2}, kernel: []int{3, 3, 2, 2},
		axes: channelsLast2D, strides: []int{1, 1}, paddings: [][2]int{{-1, 1}, {2, -2}}},
	{name: "input-dilation", in: []int{2, 4, 4, 3}, kernel: []int{3, 3, 3, 2},
		axes: channelsLast2D, strides: []int{1, 1}, paddings: [][2]int{{2, 2}, {1, 2}},
		inDil: []int{2, 2}},
	{name: "kernel-dilation", in: []int{1, 9, 8, 2}, kernel: []int{3, 3, 2, 3},
		axes: channelsLast2D, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {0, 0}},
		kDil: []int{2, 3}},
	{name: "both-dilations", in: []int{1, 5, 5, 2}, kernel: []int{2, 2, 2, 2},
		axes: channelsLast2D, strides: []int{1, 1}, inDil: []int{2, 3}, kDil: []int{2, 1}},
	{name: "kernel-larger-than-output", in: []int{2, 6, 6, 3}, kernel: []int{5, 5, 3, 2},
		axes: channelsLast2D, strides: []int{1, 1}},
	{name: "kernel-gradient-layout", in: []int{3, 6, 6, 2}, kernel: []int{3, 3, 3, 4},
		axes: kernelGrad2D, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}},
		kDil: []int{2, 2}},
	{name: "torch-input-dilation", in: []int{2, 3, 5, 5}, kernel: []int{4, 3, 3, 3},
		axes: torch2D, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}},
		inDil: []int{2, 2}},
	{name: "torch-kernel-gradient-layout", in: []int{3, 4, 10, 10}, kernel: []int{3, 5, 10, 10},
		axes: torchKernelGrad2D, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "torch-kernel-gradient-of-strided-1x1", in: []int{3, 4, 8, 8},
		kernel: []int{3, 5, 4, 4}, axes: torchKernelGrad2D, strides: []int{1, 1},
		paddings: [][2]int{{0, -1}, {0, -1}}, kDil: []int{2, 2}},
	{name: "torch-kernel-gradient-few-positions", in: []int{3, 4, 5, 5},
		kernel: []int{3, 5, 5, 5}, axes: torchKernelGrad2D, strides: []int{1, 1},
		paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "channels-major-output", in: []int{2, 5, 5, 3}, kernel: []int{3, 3, 3, 4},
		axes: channelsMajorOut, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "1d-channels-first", in: []int{2, 3, 10}, kernel: []int{3, 4, 3},
		axes: channelsFirst1D, strides: []int{3}, paddings: [][2]int{{1, 0}}},
	{name: "torch-3x3-many-positions", in: []int{3, 4, 9, 9}, kernel: []int{5, 4, 3, 3},
		axes: torch2D, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "torch-3x3-over-1x1", in: []int{3, 4, 1, 1}, kernel: []int{5, 4, 3, 3},
		axes: torch2D, strides: []int{1, 1}, paddings: [][2]int{{1, 1}, {1, 1}}},
	{name: "every-tap-in-padding", in: []int{2, 3, 1, 1}, kernel: []int{4, 3, 1, 1},
		axes: torch2D, strides: []int{2, 2}, paddings: [][2]int{{1, 0}, {1, 0}}},
	{name: "channel-groups", in: []int{1, 5, 5, 4}, kernel: []int{3, 3, 2, 4},
		axes: channelsLast2D, strides: []int{1, 1}, channelGroups: 2},
}

func (tc convCase) build(b *builder, p []backends.Op) (backends.Op, error) {
	return b.ConvGeneral(p[0], p[1], tc.axes, tc.strides, tc.paddings, tc.inDil, tc.kDil,
		max(tc.channelGroups, 1), 1)
}

// TestConvolutionsEqualSimplegoLoop runs every case with im2col composed
// of simplego ops, and natively with OpenBLAS: with the usual block sizes,
// in blocks of one batch entry, and in blocks of one kernel position; all
// must give simplego's own convolution loop's result.
func TestConvolutionsEqualSimplegoLoop(t *testing.T) {
	needOpenBLAS(t)
	direct := testBackend(t, "gemm=go,conv=direct")
	ways := []struct {
		name        string
		spec        string
		chunk, rows int
	}{
		{"simplego im2col", "gemm=go,conv=im2col", chunkValues, minBlockRows},
		{"native", "gemm=openblas", chunkValues, minBlockRows},
		{"native, row blocks", "gemm=openblas", 1, 0},
		{"native, kernel-position blocks", "gemm=openblas", 1, 1 << 30},
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range convCases {
		x := randomArray(rng, 0, tc.in...)
		k := randomArray(rng, 0, tc.kernel...)
		want := runOp(t, direct, tc.build, x, k)
		for _, w := range ways {
			t.Run(tc.name+"/"+w.name, func(t *testing.T) {
				defer setBlocks(w.chunk, w.rows)()
				got := runOp(t, testBackend(t, w.spec), tc.build, x, k)
				assertClose(t, fmt.Sprintf("ConvGeneral %s", tc.name), got, want, 1e-12)
			})
		}
	}
}

// setBlocks sets the native convolution's block sizes and returns a
// function that restores them.
func setBlocks(chunk, rows int) func() {
	oldChunk, oldRows := chunkValues, minBlockRows
	chunkValues, minBlockRows = chunk, rows
	return func() { chunkValues, minBlockRows = oldChunk, oldRows }
}
