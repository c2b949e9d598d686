package backend

// Channels-first inputs ([B, C, spatial...], as PyTorch lays them out) keep
// each channel's plane contiguous, so their patches are gathered as rows of
// that plane: [C*K, rows] with column (c, k), which is also how a
// channels-first kernel [Cout, C, K...] lies in memory. The forward
// convolution then multiplies the kernel in place.

// runColMajor convolves with the patches stored [cols, rows], cols ordered
// (input channel, kernel position): in blocks of batch entries with every
// column, or, when a block would hold too few rows, with every row and
// blocks of input channels, adding up the products.
func runColMajor[T float32 | float64](p *convPlan, x, kernel, out []T, mul gemmFunc[T]) error {
	a, lda := kernelRows(p, kernel)
	if !p.kernelInPlace() { // a copy
		defer giveBack(a)
	}
	cols := p.chans * p.numK
	per := max(1, chunkValues/max(1, p.numO*cols))
	if per >= p.batch || per*p.numO >= minBlockRows || p.chans == 1 {
		return colMajorByRows(p, x, a, lda, out, min(per, p.batch), mul)
	}
	return colMajorByChannels(p, x, a, lda, out, mul)
}

// colMajorByRows multiplies blocks of per batch entries.
func colMajorByRows[T float32 | float64](p *convPlan, x, a []T, lda int, out []T, per int,
	mul gemmFunc[T]) error {
	cols := p.chans * p.numK
	patches := borrow[T](per * p.numO * cols)
	defer giveBack(patches)
	dst := newColTarget(p, out, per)
	defer dst.release()
	for b0 := 0; b0 < p.batch; b0 += per {
		b1 := min(b0+per, p.batch)
		part := patches[:(b1-b0)*p.numO*cols]
		gatherColMajor(p, x, part, b0, b1, 0, p.chans)
		if err := dst.multiply(mul, part, a, lda, b0, b1, cols, 0); err != nil {
			return err
		}
		dst.finish(b0, b1)
	}
	return nil
}

// colMajorByChannels multiplies all rows at once, blocks of input channels
// at a time, adding up the products.
func colMajorByChannels[T float32 | float64](p *convPlan, x, a []T, lda int, out []T,
	mul gemmFunc[T]) error {
	rows := p.batch * p.numO
	perC := max(1, chunkValues/(rows*p.numK))
	patches := borrow[T](rows * min(perC, p.chans) * p.numK)
	defer giveBack(patches)
	dst := newColTarget(p, out, p.batch)
	defer dst.release()
	for c0 := 0; c0 < p.chans; c0 += perC {
		c1 := min(c0+perC, p.chans)
		part := patches[:rows*(c1-c0)*p.numK]
		gatherColMajor(p, x, part, 0, p.batch, c0, c1)
		var beta T
		if c0 > 0 {
			beta = 1
		}
		err := dst.multiply(mul, part, a[c0*p.numK:], lda, 0, p.batch, (c1-c0)*p.numK, beta)
		if err != nil {
			return err
		}
	}
	dst.finish(0, p.batch)
	return nil
}

// colTarget is where runColMajor's products go: the output itself, or, when
// its layout would take one product per batch entry or a scatter, a block
// that finish moves there: [rows, Cout] for outOther, [Cout, rows] for a
// channels-first output of several batch entries, whose rows of O values
// are then copied whole.
type colTarget[T float32 | float64] struct {
	p               *convPlan
	out             []T
	block, coutRows []T
}

func newColTarget[T float32 | float64](p *convPlan, out []T, entries int) *colTarget[T] {
	t := &colTarget[T]{p: p, out: out}
	switch {
	case p.layout == outOther:
		t.block = borrow[T](entries * p.numO * p.cOut)
	case p.layout == outChannelsFirst && entries > 1:
		t.coutRows = borrow[T](entries * p.numO * p.cOut)
	}
	return t
}

// release gives the target's block back.
func (t *colTarget[T]) release() {
	giveBack(t.block)
	giveBack(t.coutRows)
}

// multiply adds a [Cout, cols] times the patches [cols, rows] of batch
// entries [b0, b1) to beta times the target.
func (t *colTarget[T]) multiply(mul gemmFunc[T], patches, a []T, lda, b0, b1, cols int,
	beta T) error {
	p := t.p
	rows := (b1 - b0) * p.numO
	switch {
	case t.block != nil:
		return mul(true, true, rows, p.cOut, cols, 1, patches, rows, a, lda, beta,
			t.block[:rows*p.cOut], p.cOut)
	case t.coutRows != nil:
		return mul(false, false, p.cOut, rows, cols, 1, a, lda, patches, rows, beta,
			t.coutRows[:rows*p.cOut], rows)
	case p.layout == outChannelsLast:
		return mul(true, true, rows, p.cOut, cols, 1, patches, rows, a, lda, beta,
			t.out[b0*p.outBatch:][:rows*p.cOut], p.cOut)
	case p.layout == outChannelsMajor:
		// [Cout, rows] = a [Cout, cols] x patches [cols, rows].
		return mul(false, false, p.cOut, rows, cols, 1, a, lda, patches, rows, beta,
			t.out[b0*p.numO:], p.outChan)
	}
	// Channels-first, one batch entry: [Cout, O] = a x patches.
	return mul(false, false, p.cOut, p.numO, cols, 1, a, lda, patches, rows, beta,
		t.out[b0*p.outBatch:][:p.numO*p.cOut], p.numO)
}

// finish moves the products of batch entries [b0, b1) from the block to
// the output.
func (t *colTarget[T]) finish(b0, b1 int) {
	p := t.p
	switch {
	case t.block != nil:
		scatter(p, t.block, t.out, b0, b1)
	case t.coutRows != nil:
		rows := (b1 - b0) * p.numO
		for co := range p.cOut {
			for b := b0; b < b1; b++ {
				copy(t.out[b*p.outBatch+co*p.outChan:][:p.numO],
					t.coutRows[co*rows+(b-b0)*p.numO:][:p.numO])
			}
		}
	}
}

// kernelRows returns the kernel as a [Cout, C*K] matrix and its leading
// dimension: the kernel itself when it lies that way, else a copy borrowed
// from scratch.
func kernelRows[T float32 | float64](p *convPlan, kernel []T) ([]T, int) {
	if p.kernelInPlace() {
		return kernel, p.kOut
	}
	cols := p.chans * p.numK
	a := borrow[T](p.cOut * cols)
	for co := range p.cOut {
		for c := range p.chans {
			row := a[co*cols+c*p.numK:][:p.numK]
			base := co*p.kOut + c*p.kIn
			for k, off := range p.kOff {
				row[k] = kernel[base+off]
			}
		}
	}
	return a, cols
}

// gatherColMajor fills the patch columns of input channels [c0, c1) for
// batch entries [b0, b1), splitting the columns among the cores.
func gatherColMajor[T float32 | float64](p *convPlan, x, patches []T, b0, b1, c0, c1 int) {
	parallel((c1-c0)*p.numK, func(j0, j1 int) {
		gatherColumns(p, x, patches, b0, b1, c0, j0, j1)
	})
}

// gatherColumns fills columns [j0, j1) of a block whose first column is
// input channel c0's first.
func gatherColumns[T float32 | float64](p *convPlan, x, patches []T, b0, b1, c0, j0, j1 int) {
	rows := (b1 - b0) * p.numO
	for j := j0; j < j1; j++ {
		c, k := c0+j/p.numK, j%p.numK
		dst := patches[j*rows:][:rows]
		for b := b0; b < b1; b++ {
			d, base := dst[(b-b0)*p.numO:][:p.numO], b*p.inBatch+c*p.inChan
			if p.spansK != nil {
				copySpans(d, x, base, p.spansK[k])
				continue
			}
			copyPlane(d, x, base, p.spOffK[k*p.numO:][:p.numO])
		}
	}
}

// span is a stretch of n patch values, from start, that are either
// consecutive input values from offset off, or padding (off < 0).
type span struct{ start, n, off int }

// spansOf cuts each of the count rows of length n of offs into spans, or
// returns nil where the spans would be too short to beat a loop.
func spansOf(offs []int, count, n int) [][]span {
	all := make([][]span, count)
	total := 0
	for i := range all {
		row := offs[i*n:][:n]
		for j, off := range row {
			if j > 0 && (off < 0 && row[j-1] < 0 || off > 0 && off == row[j-1]+1) {
				all[i][len(all[i])-1].n++
				continue
			}
			all[i] = append(all[i], span{start: j, n: 1, off: off})
		}
		total += len(all[i])
	}
	if total*minSpanLength > len(offs) {
		return nil
	}
	return all
}

// minSpanLength is the shortest mean span with which copySpans takes over copyPlane.
const minSpanLength = 4

// copySpans is copyPlane by spans.
func copySpans[T float32 | float64](dst, x []T, base int, spans []span) {
	for _, r := range spans {
		d := dst[r.start:][:r.n]
		if r.off < 0 {
			clear(d)
			continue
		}
		copy(d, x[base+r.off:][:r.n])
	}
}

// copyPlane sets dst[i] to x[base+offs[i]], or 0 where offs[i] < 0.
func copyPlane[T float32 | float64](dst, x []T, base int, offs []int) {
	for i, off := range offs {
		if off < 0 {
			dst[i] = 0
			continue
		}
		dst[i] = x[base+off]
	}
}

// byChannels adds up one product per input channel c:
// out^T [Cout, rows] += kernel_c [Cout, K] x patches_c^T [K, rows], where
// patches_c [rows, K] holds channel c's input values. The kernel and the
// output are used in place. This is how the gradient of a channels-first
// convolution with respect to its kernel runs: its "kernel" is the output
// gradient, with a thousand positions.
func byChannels[T float32 | float64](p *convPlan, x, kernel, out []T, mul gemmFunc[T]) error {
	per := max(1, chunkValues/(p.numO*p.numK))
	patches := borrow[T](min(per, p.batch) * p.numO * p.numK)
	defer giveBack(patches)
	for b0 := 0; b0 < p.batch; b0 += per {
		b1 := min(b0+per, p.batch)
		rows := (b1 - b0) * p.numO
		part := patches[:rows*p.numK]
		for c := range p.chans {
			gatherChannel(p, x, part, b0, b1, c)
			var beta T
			if c > 0 {
				beta = 1
			}
			err := mul(false, true, p.cOut, rows, p.numK, 1, kernel[c*p.kIn:], p.kOut,
				part, p.numK, beta, out[b0*p.numO:], p.outChan)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// gatherChannel fills the [rows, K] patches of channel c for batch entries
// [b0, b1), splitting the rows among the cores.
func gatherChannel[T float32 | float64](p *convPlan, x, patches []T, b0, b1, c int) {
	parallel((b1-b0)*p.numO, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			b, o := b0+r/p.numO, r%p.numO
			d, base := patches[r*p.numK:][:p.numK], b*p.inBatch+c*p.inChan
			if p.spansO != nil {
				copySpans(d, x, base, p.spansO[o])
				continue
			}
			copyPlane(d, x, base, p.spOff[o*p.numK:][:p.numK])
		}
	})
}

// byInputs convolves, per batch entry, as
// cols [Cout*K, I] = kernel [Cout*K, C] x input [C, I], then sums each
// output value's taps from cols (col2im): the multiplication skips the
// zeros that dilating the input would put in the patches.
func byInputs[T float32 | float64](p *convPlan, x, kernel, out []T, mul gemmFunc[T]) error {
	m := p.cOut * p.numK
	a := borrow[T](m * p.chans)
	defer giveBack(a)
	for co := range p.cOut {
		for k, off := range p.kOff {
			row := a[(co*p.numK+k)*p.chans:][:p.chans]
			for c := range row {
				row[c] = kernel[c*p.kIn+co*p.kOut+off]
			}
		}
	}
	cols := borrow[T](m * p.numI)
	defer giveBack(cols)
	for b := range p.batch {
		err := mul(false, false, m, p.numI, p.chans, 1, a, p.chans, x[b*p.inBatch:], p.inChan,
			0, cols, p.numI)
		if err != nil {
			return err
		}
		col2im(p, cols, out[b*p.outBatch:])
	}
	return nil
}

// col2im sums each output position's taps from cols into out, one batch
// entry's channels-first output, splitting the output channels among the
// cores.
func col2im[T float32 | float64](p *convPlan, cols, out []T) {
	parallel(p.cOut, func(c0, c1 int) {
		for co := c0; co < c1; co++ {
			src := cols[co*p.numK*p.numI:][:p.numK*p.numI]
			dst := out[co*p.outChan:][:p.numO]
			for o := range dst {
				var sum T
				for _, t := range p.taps[p.tapStart[o]:p.tapStart[o+1]] {
					sum += src[t]
				}
				dst[o] = sum
			}
		}
	})
}
