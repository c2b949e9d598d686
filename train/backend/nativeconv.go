package backend

import "fmt"

// Block sizes, variables so that tests can make them small enough for every
// path to run on small convolutions.
var (
	// chunkValues bounds the patch matrix of one block, in values: a few
	// MiB, so that the block stays in cache on its way to the GEMM. (A
	// product block for a scatter can be as large as the output.)
	chunkValues = 1 << 20

	// minBlockRows is the fewest rows a block of batch entries must have;
	// with fewer, the columns are blocked instead (byKernelPositions,
	// colMajorByChannels).
	minBlockRows = 256
)

// minChannelsFirst is the fewest output positions for which a
// channels-first output is written by one GEMM per batch entry; below it,
// those GEMMs are nearly matrix-vector products that each read the whole
// kernel, and one GEMM into a block buffer and a scatter cost less.
const minChannelsFirst = 64

// convPlan runs a convolution natively: for each block of batch entries,
// the input patches gathered into a [rows, K*C] matrix, multiplied by the
// kernel laid out as [K*C, Cout], the product written to the output. Rows
// are (batch entry, output position); columns (kernel position, input
// channel). The output is written by the GEMM itself when its layout
// allows, else through a block buffer. Channels-first inputs take the
// paths of channelsfirst.go instead.
type convPlan struct {
	batch, numO, numK int
	chans, cOut       int

	inBatch, inChan   int      // input strides
	kIn, kOut         int      // kernel strides of the channel axes
	kOff              []int    // kernel offset of each kernel position
	spOff             []int    // input offset of (o, k), o*numK+k; -1 where padding
	spOffK            []int    // the same by kernel position: (k, o) at k*numO+o
	spansK, spansO    [][]span // spOffK by kernel position, spOff by output position
	outBatch, outChan int      // output strides
	outOff            []int    // output offset of each output position
	layout            outLayout

	// colMajor stores the patches as [cols, rows]: when the input's
	// channels are not contiguous (channels-first), each column is then
	// read from one channel's plane in order.
	colMajor bool

	// byInputs multiplies the kernel by the input planes in place and sums
	// the products into the outputs (col2im), where the input has far
	// fewer positions than the output: a dilated input, as in the gradient
	// of a strided convolution with respect to its input. taps lists, for
	// output position o, taps[tapStart[o]:tapStart[o+1]], the (kernel
	// position, input position) pairs it sees, as k*numI+i.
	byInputs       bool
	numI           int
	tapStart, taps []int

	// perChannel runs one GEMM per input channel (byChannels): the
	// kernel's rows and the output's columns are contiguous, as in the
	// gradient of a channels-first convolution with respect to its kernel.
	perChannel bool
}

// outLayout is how the output lies in memory.
type outLayout int

const (
	outOther         outLayout = iota
	outChannelsLast            // [B, O..., Cout]
	outChannelsFirst           // [B, Cout, O...]
	outChannelsMajor           // [Cout, B, O...], as a channels-first kernel's gradient
)

// newConvPlan lays out c's index arithmetic.
func newConvPlan(c *conv) *convPlan {
	inS, kS, outS := c.in.Strides(), c.kernel.Strides(), c.out.Strides()
	p := &convPlan{batch: c.batch, numO: product(c.outSp),
		numK: product(c.kSp), chans: c.chans, cOut: c.cOut,
		inBatch: inS[c.axes.InputBatch], inChan: inS[c.axes.InputChannels],
		kIn: kS[c.axes.KernelInputChannels], kOut: kS[c.axes.KernelOutputChannels],
		outBatch: outS[c.axes.OutputBatch], outChan: outS[c.axes.OutputChannels]}
	kPos, oPos := positions(c.kSp), positions(c.outSp)
	for _, k := range kPos {
		off := 0
		for a, i := range k {
			off += i * kS[c.axes.KernelSpatial[a]]
		}
		p.kOff = append(p.kOff, off)
	}
	for _, o := range oPos {
		off := 0
		for a, i := range o {
			off += i * outS[c.axes.OutputSpatial[a]]
		}
		p.outOff = append(p.outOff, off)
	}
	p.spOff = make([]int, 0, p.numO*p.numK)
	for _, o := range oPos {
		for _, k := range kPos {
			p.spOff = append(p.spOff, c.inputOffset(o, k, inS))
		}
	}
	p.dropDeadTaps()
	p.layout = p.findLayout()
	p.colMajor = p.inChan != 1 || p.numO == 1 && p.kernelInPlace()
	p.perChannel = p.findPerChannel()
	p.findByInputs(c)
	p.findSpans()
	return p
}

// findSpans lays out the offsets the channels-first gathers read:
// byChannels by output position, runColMajor by kernel position.
func (p *convPlan) findSpans() {
	switch {
	case p.perChannel:
		p.spansO = spansOf(p.spOff, p.numO, p.numK)
	case p.colMajor && !p.byInputs:
		p.spOffK = make([]int, len(p.spOff))
		for o := range p.numO {
			for k := range p.numK {
				p.spOffK[k*p.numO+o] = p.spOff[o*p.numK+k]
			}
		}
		p.spansK = spansOf(p.spOffK, p.numK, p.numO)
	}
}

// findByInputs sets byInputs and its taps where it pays: channels-first
// input planes, dense, with at most half as many positions as the
// channels-first output.
func (p *convPlan) findByInputs(c *conv) {
	p.numI = product(c.inSp)
	inS := c.in.Strides()
	dense := p.colMajor && !p.perChannel && p.layout == outChannelsFirst &&
		2*p.numI <= p.numO && p.inChan >= p.numI
	for a, step := len(c.inSp)-1, 1; a >= 0 && dense; a-- {
		dense = inS[c.axes.InputSpatial[a]] == step
		step *= c.inSp[a]
	}
	if !dense {
		return
	}
	p.byInputs = true
	p.tapStart = make([]int, 0, p.numO+1)
	for o := range p.numO {
		p.tapStart = append(p.tapStart, len(p.taps))
		for k, i := range p.spOff[o*p.numK:][:p.numK] {
			if i >= 0 {
				p.taps = append(p.taps, k*p.numI+i)
			}
		}
	}
	p.tapStart = append(p.tapStart, len(p.taps))
}

// dropDeadTaps removes the kernel positions that fall in padding for
// every output position, which would multiply only zeros: a 3x3 kernel
// padded by 1 over a 1x1 map keeps its centre alone.
func (p *convPlan) dropDeadTaps() {
	var live []int
	for k := range p.numK {
		for o := range p.numO {
			if p.spOff[o*p.numK+k] >= 0 {
				live = append(live, k)
				break
			}
		}
	}
	if len(live) == p.numK {
		return
	}
	kOff, spOff := make([]int, len(live)), make([]int, 0, p.numO*len(live))
	for i, k := range live {
		kOff[i] = p.kOff[k]
	}
	for o := range p.numO {
		for _, k := range live {
			spOff = append(spOff, p.spOff[o*p.numK+k])
		}
	}
	p.kOff, p.spOff, p.numK = kOff, spOff, len(live)
}

// inputOffset is the input offset that output position o sees at kernel
// position k, or -1 where that falls in padding or between dilated values.
func (c *conv) inputOffset(o, k, inStrides []int) int {
	off := 0
	for a := range o {
		pos := o[a]*c.strides[a] + k[a]*c.kDil[a] - c.paddings[a][0]
		if pos < 0 || pos%c.inDil[a] != 0 || pos/c.inDil[a] >= c.inSp[a] {
			return -1
		}
		off += pos / c.inDil[a] * inStrides[c.axes.InputSpatial[a]]
	}
	return off
}

// findLayout recognises outputs a GEMM can write directly.
func (p *convPlan) findLayout() outLayout {
	contiguous := func(step int) bool {
		for o, off := range p.outOff {
			if off != o*step {
				return false
			}
		}
		return true
	}
	switch {
	case p.outChan == 1 && p.outBatch == p.numO*p.cOut && contiguous(p.cOut):
		return outChannelsLast
	case p.outChan == p.numO && p.outBatch == p.numO*p.cOut && contiguous(1) &&
		p.numO >= minChannelsFirst:
		return outChannelsFirst
	case p.outBatch == p.numO && contiguous(1) && p.outChan >= p.batch*p.numO:
		return outChannelsMajor
	}
	return outOther
}

// minPerChannelPositions is the fewest kernel positions for which
// byChannels runs: each of its GEMMs sums over the kernel positions only,
// and with an 8x8 map (64 positions) one GEMM over blocks of channels
// (colMajor) ran the ImageNet stem's step at batch 128 4% faster.
const minPerChannelPositions = 256

// findPerChannel recognises convolutions that byChannels can run: the
// kernel's positions contiguous within each (input channel, output
// channel), and the output channels-major.
func (p *convPlan) findPerChannel() bool {
	if p.numK < minPerChannelPositions || p.kOut < p.numK || p.layout != outChannelsMajor {
		return false
	}
	for k, off := range p.kOff {
		if off != k {
			return false
		}
	}
	return true
}

// kernelInPlace reports whether the kernel lies as a [Cout, C*K] matrix,
// as a channels-first kernel [Cout, C, K...] does.
func (p *convPlan) kernelInPlace() bool {
	if p.kIn != p.numK || p.kOut < p.chans*p.numK {
		return false
	}
	for k, off := range p.kOff {
		if off != k {
			return false
		}
	}
	return true
}

// run convolves in[0] with the kernel in[1] into outs[0].
func (p *convPlan) run(g gemm, in, outs []any) error {
	out := outs[0]
	switch x := in[0].(type) {
	case []float32:
		return runConv(p, g, x, in[1].([]float32), out.([]float32), g.Sgemm)
	case []float64:
		return runConv(p, g, x, in[1].([]float64), out.([]float64), g.Dgemm)
	}
	return fmt.Errorf("convolution of %T", in[0])
}

func runConv[T float32 | float64](p *convPlan, g gemm, x, kernel, out []T,
	mul gemmFunc[T]) error {
	switch {
	case p.numK == 0: // every tap sees padding
		clear(out)
		return nil
	case p.perChannel:
		return byChannels(p, x, kernel, out, mul)
	case p.byInputs:
		return byInputs(p, x, kernel, out, mul)
	case p.colMajor:
		return runColMajor(p, x, kernel, out, mul)
	}
	kmat := borrow[T](p.numK * p.chans * p.cOut)
	defer giveBack(kmat)
	kernelMatrix(p, kernel, kmat)
	cols := p.numK * p.chans
	per := max(1, chunkValues/max(1, p.numO*cols))
	if per >= p.batch || per*p.numO >= minBlockRows || p.numK == 1 {
		return byRows(p, x, kmat, out, min(per, p.batch), mul)
	}
	return byKernelPositions(p, x, kmat, out, mul)
}

// byRows multiplies blocks of per batch entries, each with all its
// columns.
func byRows[T float32 | float64](p *convPlan, x, kmat, out []T, per int,
	mul gemmFunc[T]) error {
	cols := p.numK * p.chans
	patches := borrow[T](per * p.numO * cols)
	defer giveBack(patches)
	var block []T
	if p.layout == outOther {
		block = borrow[T](per * p.numO * p.cOut)
		defer giveBack(block)
	}
	for b0 := 0; b0 < p.batch; b0 += per {
		b1 := min(b0+per, p.batch)
		rows := (b1 - b0) * p.numO
		part := patches[:rows*cols]
		gather(p, x, part, b0, b1, 0, p.numK)
		if err := multiply(p, mul, part, kmat, out, block, b0, b1, cols, 0); err != nil {
			return err
		}
		if p.layout == outOther {
			scatter(p, block, out, b0, b1)
		}
	}
	return nil
}

// byKernelPositions multiplies all rows at once, a block of kernel
// positions (columns) at a time, adding up the products: for the kernel
// gradient, whose rows are few (input channels times kernel positions) and
// whose columns are many (output positions times batch), row blocks would
// be too thin for a fast GEMM.
func byKernelPositions[T float32 | float64](p *convPlan, x, kmat, out []T,
	mul gemmFunc[T]) error {
	rows := p.batch * p.numO
	per := max(1, chunkValues/(rows*p.chans))
	patches := borrow[T](rows * min(per, p.numK) * p.chans)
	defer giveBack(patches)
	var block []T
	if p.layout == outOther {
		block = borrow[T](rows * p.cOut)
		defer giveBack(block)
	}
	for k0 := 0; k0 < p.numK; k0 += per {
		k1 := min(k0+per, p.numK)
		cols := (k1 - k0) * p.chans
		part := patches[:rows*cols]
		gather(p, x, part, 0, p.batch, k0, k1)
		km := kmat[k0*p.chans*p.cOut : k1*p.chans*p.cOut]
		var beta T
		if k0 > 0 {
			beta = 1
		}
		if err := multiply(p, mul, part, km, out, block, 0, p.batch, cols, beta); err != nil {
			return err
		}
	}
	if p.layout == outOther {
		scatter(p, block, out, 0, p.batch)
	}
	return nil
}

// kernelMatrix lays the kernel out as [K*C, Cout].
func kernelMatrix[T float32 | float64](p *convPlan, kernel, kmat []T) {
	for k, kOff := range p.kOff {
		for c := range p.chans {
			row := kmat[(k*p.chans+c)*p.cOut:][:p.cOut]
			src := kOff + c*p.kIn
			for co := range row {
				row[co] = kernel[src+co*p.kOut]
			}
		}
	}
}

// gather fills the patch rows of batch entries [b0, b1), kernel positions
// [k0, k1), splitting the rows among the cores.
func gather[T float32 | float64](p *convPlan, x, patches []T, b0, b1, k0, k1 int) {
	parallel((b1-b0)*p.numO, func(r0, r1 int) {
		gatherRows(p, x, patches, b0, r0, r1, k0, k1)
	})
}

// gatherRows fills rows [r0, r1) of a block starting at batch entry b0.
func gatherRows[T float32 | float64](p *convPlan, x, patches []T, b0, r0, r1, k0, k1 int) {
	cols := (k1 - k0) * p.chans
	for r := r0; r < r1; r++ {
		b, o := b0+r/p.numO, r%p.numO
		base := b * p.inBatch
		dst := patches[r*cols:][:cols]
		offs := p.spOff[o*p.numK+k0 : o*p.numK+k1]
		for k, off := range offs {
			seg := dst[k*p.chans:][:p.chans]
			if off < 0 {
				clear(seg)
				continue
			}
			src := base + off
			if p.inChan == 1 {
				copy(seg, x[src:src+p.chans])
				continue
			}
			for c := range seg {
				seg[c] = x[src+c*p.inChan]
			}
		}
	}
}

// multiply adds the product of the patches of batch entries [b0, b1) (cols
// columns) and kmat to beta times out, or, for the outOther layout, to beta
// times block, which the caller scatters.
func multiply[T float32 | float64](p *convPlan, mul gemmFunc[T], patches, kmat, out, block []T,
	b0, b1, cols int, beta T) error {
	rows := (b1 - b0) * p.numO
	switch p.layout {
	case outChannelsLast:
		return mul(false, false, rows, p.cOut, cols, 1, patches, cols, kmat, p.cOut, beta,
			out[b0*p.outBatch:][:rows*p.cOut], p.cOut)
	case outChannelsFirst:
		// Per batch entry, [Cout, O] = kmat^T [Cout, cols] x patches^T [cols, O].
		for b := b0; b < b1; b++ {
			err := mul(true, true, p.cOut, p.numO, cols, 1, kmat, p.cOut,
				patches[(b-b0)*p.numO*cols:][:p.numO*cols], cols, beta,
				out[b*p.outBatch:][:p.numO*p.cOut], p.numO)
			if err != nil {
				return err
			}
		}
		return nil
	case outChannelsMajor:
		// [Cout, rows] = kmat^T [Cout, cols] x patches^T [cols, rows].
		return mul(true, true, p.cOut, rows, cols, 1, kmat, p.cOut, patches, cols, beta,
			out[b0*p.numO:], p.outChan)
	}
	return mul(false, false, rows, p.cOut, cols, 1, patches, cols, kmat, p.cOut, beta,
		block[:rows*p.cOut], p.cOut)
}

// scatter writes a block's [rows, Cout] product to the output.
func scatter[T float32 | float64](p *convPlan, block, out []T, b0, b1 int) {
	for r := range (b1 - b0) * p.numO {
		b, o := b0+r/p.numO, r%p.numO
		dst := b*p.outBatch + p.outOff[o]
		for co, v := range block[r*p.cOut:][:p.cOut] {
			out[dst+co*p.outChan] = v
		}
	}
}
