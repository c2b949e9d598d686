package backend

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
)

// windowTable lays out windowed reductions (pooling) for native runs. The
// leading axes whose windows are one element wide, stride 1, unpadded (a
// pool's batch and channel axes) are flattened into outer blocks of inner
// values; within a block, table lists for each window its k elements'
// offsets, -1 for padding, in row-major order.
type windowTable struct {
	outer, inner int // blocks, and values per block, of the operand
	windows, k   int // windows per block, and elements per window
	table        []int
}

// newWindowTable builds the table of windows of the given size, strides
// and paddings over an operand of dims; strides and paddings are complete.
func newWindowTable(dims, size, strides []int, paddings [][2]int) *windowTable {
	lead := 0
	for lead < len(dims) && size[lead] == 1 && strides[lead] == 1 &&
		paddings[lead] == [2]int{} {
		lead++
	}
	t := &windowTable{outer: product(dims[:lead]), inner: product(dims[lead:]),
		k: product(size[lead:])}
	in, sz := dims[lead:], size[lead:]
	out := make([]int, len(in))
	for a := range in {
		out[a] = (in[a]+paddings[lead+a][0]+paddings[lead+a][1]-sz[a])/strides[lead+a] + 1
	}
	t.windows = product(out)
	offsets := positions(sz)
	for _, w := range positions(out) {
		for _, off := range offsets {
			t.table = append(t.table, innerOffset(in, w, off, strides[lead:], paddings[lead:]))
		}
	}
	return t
}

// innerOffset is the offset, within a block, of element off of window w,
// or -1 if it is padding.
func innerOffset(dims, w, off, strides []int, paddings [][2]int) int {
	idx := 0
	for a := range dims {
		pos := w[a]*strides[a] + off[a] - paddings[a][0]
		if pos < 0 || pos >= dims[a] {
			return -1
		}
		idx = idx*dims[a] + pos
	}
	return idx
}

// eachBlock calls fn for every outer block, the blocks split among the
// cores.
func (t *windowTable) eachBlock(fn func(o int)) {
	parallel(t.outer, func(o0, o1 int) {
		for o := o0; o < o1; o++ {
			fn(o)
		}
	})
}

// extreme is the max (or min) of x's elements at offs from base, ignoring
// padding, starting from -Inf (+Inf), with Go's max and min as simplego
// uses them.
func extreme[T float32 | float64](x []T, base int, offs []int, isMax bool) T {
	if isMax {
		best := T(math.Inf(-1))
		for _, i := range offs {
			if i >= 0 {
				best = max(best, x[base+i])
			}
		}
		return best
	}
	best := T(math.Inf(1))
	for _, i := range offs {
		if i >= 0 {
			best = min(best, x[base+i])
		}
	}
	return best
}

// maxPoolPlan runs ReduceWindow with a max reduction.
type maxPoolPlan struct{ t *windowTable }

func (p *maxPoolPlan) run(_ gemm, in, out []any) error {
	switch x := in[0].(type) {
	case []float32:
		maxPool(p.t, x, out[0].([]float32))
	case []float64:
		maxPool(p.t, x, out[0].([]float64))
	default:
		return fmt.Errorf("max pool of %T", in[0])
	}
	return nil
}

func maxPool[T float32 | float64](t *windowTable, x, y []T) {
	t.eachBlock(func(o int) {
		for w := range t.windows {
			y[o*t.windows+w] = extreme(x, o*t.inner, t.table[w*t.k:][:t.k], true)
		}
	})
}

// selectScatterPlan runs SelectAndScatterMax or Min as the composed op
// defines it: each window's source value goes to the first element, in
// row-major order, equal to the window's extreme.
type selectScatterPlan struct {
	t     *windowTable
	isMax bool
}

func (p *selectScatterPlan) run(_ gemm, in, out []any) error {
	switch x := in[0].(type) {
	case []float32:
		selectScatter(p, x, in[1].([]float32), out[0].([]float32))
	case []float64:
		selectScatter(p, x, in[1].([]float64), out[0].([]float64))
	default:
		return fmt.Errorf("select and scatter of %T", in[0])
	}
	return nil
}

func selectScatter[T float32 | float64](p *selectScatterPlan, x, source, y []T) {
	t := p.t
	t.eachBlock(func(o int) {
		base := o * t.inner
		clear(y[base : base+t.inner])
		for w := range t.windows {
			offs := t.table[w*t.k:][:t.k]
			best := extreme(x, base, offs, p.isMax)
			if i := slices.IndexFunc(offs, func(i int) bool {
				return i >= 0 && x[base+i] == best
			}); i >= 0 {
				y[base+offs[i]] += source[o*t.windows+w]
			}
		}
	})
}

// ReduceWindow runs a max pool natively when b records for native steps:
// a float max reduction, no dilations, strides and paddings given for
// every axis. Everything else is simplego's.
func (b *builder) ReduceWindow(x backends.Op, reduction backends.ReduceOpType,
	size, strides, baseDilations, windowDilations []int, paddings [][2]int) (
	backends.Op, error) {
	simple := func(bb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		y, err := bb.ReduceWindow(in[0], reduction, size, strides, baseDilations,
			windowDilations, paddings)
		return []backends.Op{y}, err
	}
	r, ok := b.Builder.(*recorder)
	shape, err := b.shapeOf(x)
	if !ok || err != nil || reduction != backends.ReduceOpMax || !nativeFloat(shape.DType) ||
		shape.Size() == 0 || len(size) != shape.Rank() || len(strides) != shape.Rank() ||
		len(paddings) != shape.Rank() || !ones(baseDilations) || !ones(windowDilations) {
		outs, err := simple(b.Builder, []backends.Op{x})
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	}
	plan := &maxPoolPlan{newWindowTable(shape.Dimensions, size, strides, paddings)}
	outs, err := r.recordNative("ReduceWindow", []backends.Op{x}, plan, simple)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// ones reports whether every value is 1 (none is).
func ones(v []int) bool {
	return !slices.ContainsFunc(v, func(d int) bool { return d != 1 })
}
