package backend

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Reverse implements backends.StandardOps.Reverse: along each given axis,
// index i takes the value at d-1-i. The gradient of a convolution with
// respect to its input reverses the kernel's spatial axes.
func (b *builder) Reverse(x backends.Op, axes ...int) (backends.Op, error) {
	shape, err := b.shapeOf(x)
	if err != nil {
		return nil, fmt.Errorf("backend: Reverse: %w", err)
	}
	seen := make(map[int]bool, len(axes))
	for _, axis := range axes {
		if axis < 0 || axis >= shape.Rank() {
			return nil, fmt.Errorf("backend: Reverse: axis %d out of range for %s", axis, shape)
		}
		if seen[axis] {
			return nil, fmt.Errorf("backend: Reverse: axis %d given twice", axis)
		}
		seen[axis] = true
	}
	if r, ok := b.Builder.(*recorder); ok && nativeFloat(shape.DType) && shape.Size() > 0 {
		outs, err := r.recordNative("Reverse", []backends.Op{x}, newReversePlan(shape, axes),
			func(bb backends.Builder, in []backends.Op) ([]backends.Op, error) {
				y, err := (&builder{Builder: bb}).Reverse(in[0], axes...)
				return []backends.Op{y}, err
			})
		if err != nil {
			return nil, fmt.Errorf("backend: Reverse: %w", err)
		}
		return outs[0], nil
	}
	for _, axis := range axes {
		if shape.Dimensions[axis] <= 1 {
			continue
		}
		x, err = b.reverseAxis(x, shape.Dimensions, axis)
		if err != nil {
			return nil, fmt.Errorf("backend: Reverse: axis %d of %s: %w", axis, shape, err)
		}
	}
	return x, nil
}

// reverseAxis gathers the slices along axis in reverse order. The gathered
// slices keep every other axis whole, and their batch axis (one per index)
// takes axis's place in the output.
func (b *builder) reverseAxis(x backends.Op, dims []int, axis int) (backends.Op, error) {
	d := dims[axis]
	indices := make([]int32, d)
	for i := range indices {
		indices[i] = int32(d - 1 - i)
	}
	idx, err := b.Constant(indices, d, 1)
	if err != nil {
		return nil, err
	}
	rank := len(dims)
	return b.Gather(x, idx, 1, otherAxes(rank, axis), []int{axis}, []int{axis},
		withDim(dims, axis, 1), false)
}

// reversePlan runs Reverse natively: each row along the last axis is
// copied, reversed or not, from the row it mirrors.
type reversePlan struct {
	dims     []int
	reversed []bool
}

func newReversePlan(shape shapes.Shape, axes []int) *reversePlan {
	p := &reversePlan{dims: slices.Clone(shape.Dimensions),
		reversed: make([]bool, shape.Rank())}
	for _, a := range axes {
		p.reversed[a] = true
	}
	return p
}

func (p *reversePlan) run(_ gemm, in, out []any) error {
	switch x := in[0].(type) {
	case []float32:
		reverseRows(p, x, out[0].([]float32))
	case []float64:
		reverseRows(p, x, out[0].([]float64))
	default:
		return fmt.Errorf("reverse of %T", in[0])
	}
	return nil
}

func reverseRows[T float32 | float64](p *reversePlan, x, y []T) {
	rank := len(p.dims)
	if rank == 0 {
		copy(y, x)
		return
	}
	// The trailing axes that are all reversed make blocks whose values are
	// simply in reverse order; the leading axes say which block each
	// output block mirrors.
	lead, n := rank, 1
	for lead > 0 && (p.reversed[lead-1] || p.dims[lead-1] == 1) {
		lead--
		n *= p.dims[lead]
	}
	tailReversed := lead < rank
	if !tailReversed {
		n = p.dims[rank-1]
		lead = rank - 1
	}
	strides := make([]int, lead)
	for a, s := lead-1, n; a >= 0; a-- {
		strides[a], s = s, s*p.dims[a]
	}
	leadReversed := slices.Contains(p.reversed[:lead], true)
	for r := range len(x) / n {
		src := r * n
		if leadReversed {
			src = p.mirror(r, strides)
		}
		dst, from := y[r*n:][:n], x[src:][:n]
		if !tailReversed {
			copy(dst, from)
			continue
		}
		for i, v := range from {
			dst[n-1-i] = v
		}
	}
}

// mirror is the offset of the block that block r mirrors, the blocks
// indexed by the leading axes, whose strides are given.
func (p *reversePlan) mirror(r int, strides []int) int {
	src := 0
	for a := len(strides) - 1; a >= 0; a-- {
		i := r % p.dims[a]
		r /= p.dims[a]
		if p.reversed[a] {
			i = p.dims[a] - 1 - i
		}
		src += i * strides[a]
	}
	return src
}
