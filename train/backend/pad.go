package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Pad implements backends.StandardOps.Pad with XLA's semantics: per axis,
// Interior fill values go between neighbouring elements first, then Start
// and End add fill values at the edges, or remove elements when negative.
// The gradient of Slice and the im2col convolution use it.
func (b *builder) Pad(x, fillValue backends.Op, axesConfig ...backends.PadAxis) (
	backends.Op, error) {
	shape, err := b.shapeOf(x)
	if err != nil {
		return nil, fmt.Errorf("backend: Pad: %w", err)
	}
	fillShape, err := b.shapeOf(fillValue)
	if err != nil {
		return nil, fmt.Errorf("backend: Pad: %w", err)
	}
	if !fillShape.IsScalar() || fillShape.DType != shape.DType {
		return nil, fmt.Errorf("backend: Pad: fill value must be a %s scalar, got %s",
			shape.DType, fillShape)
	}
	if len(axesConfig) > shape.Rank() {
		return nil, fmt.Errorf("backend: Pad: %d axes configured for operand %s",
			len(axesConfig), shape)
	}
	dims := append([]int(nil), shape.Dimensions...)
	for axis, cfg := range axesConfig {
		if cfg.Interior < 0 {
			return nil, fmt.Errorf("backend: Pad: axis %d: negative interior padding %d",
				axis, cfg.Interior)
		}
		out := dims[axis] + cfg.Start + cfg.End
		if dims[axis] > 1 {
			out += (dims[axis] - 1) * cfg.Interior
		}
		if out < 0 {
			return nil, fmt.Errorf("backend: Pad: axis %d of %s: padding %+v leaves %d elements",
				axis, shape, cfg, out)
		}
		x, err = b.padAxis(x, fillValue, shape.DType, dims, axis, cfg)
		if err != nil {
			return nil, fmt.Errorf("backend: Pad: axis %d of %s, %+v: %w", axis, shape, cfg, err)
		}
		dims[axis] = out
	}
	return x, nil
}

// padAxis pads one axis of x, whose dimensions are dims.
func (b *builder) padAxis(x, fill backends.Op, dtype dtypes.DType, dims []int, axis int,
	cfg backends.PadAxis) (backends.Op, error) {
	d := dims[axis]
	start, end := cfg.Start, cfg.End
	if cfg.Interior > 0 && d > 1 {
		var err error
		x, err = b.interleave(x, fill, dtype, dims, axis, cfg.Interior)
		if err != nil {
			return nil, err
		}
		// interleave leaves Interior fill values after the last element
		// too; those are edge padding already, so End takes them back.
		d *= 1 + cfg.Interior
		end -= cfg.Interior
	}
	return b.padEdges(x, fill, dtype, withDim(dims, axis, d), axis, start, end)
}

// interleave puts n fill values after every element along axis: a
// [pre, d, post] view becomes [pre, d, 1+n, post], then [pre, d*(1+n), post].
func (b *builder) interleave(x, fill backends.Op, dtype dtypes.DType, dims []int,
	axis, n int) (backends.Op, error) {
	pre, d, post := product(dims[:axis]), dims[axis], product(dims[axis+1:])
	x4, err := b.Reshape(x, pre, d, 1, post)
	if err != nil {
		return nil, err
	}
	gap, err := b.fill(fill, dtype, []int{pre, d, n, post})
	if err != nil {
		return nil, err
	}
	joined, err := b.Concatenate(2, x4, gap)
	if err != nil {
		return nil, err
	}
	return b.Reshape(joined, withDim(dims, axis, d*(1+n))...)
}

// padEdges maps output index o along axis to x's index o-start, taking the
// fill value where that falls outside x: a slice of what survives, with
// fill blocks before and after it.
func (b *builder) padEdges(x, fill backends.Op, dtype dtypes.DType, dims []int, axis,
	start, end int) (backends.Op, error) {
	d := dims[axis]
	if start == 0 && end == 0 {
		return x, nil
	}
	out := d + start + end
	srcLo, srcHi := max(0, -start), min(d, out-start)
	if srcLo >= srcHi {
		return b.fill(fill, dtype, withDim(dims, axis, out))
	}
	var err error
	if srcLo > 0 || srcHi < d {
		x, err = b.sliceAxis(x, dims, axis, srcLo, srcHi, 1)
		if err != nil {
			return nil, err
		}
	}
	before, after := srcLo+start, out-(srcHi+start)
	parts := make([]backends.Op, 0, 3)
	if before > 0 {
		block, err := b.fill(fill, dtype, withDim(dims, axis, before))
		if err != nil {
			return nil, err
		}
		parts = append(parts, block)
	}
	parts = append(parts, x)
	if after > 0 {
		block, err := b.fill(fill, dtype, withDim(dims, axis, after))
		if err != nil {
			return nil, err
		}
		parts = append(parts, block)
	}
	if len(parts) == 1 {
		return x, nil
	}
	return b.Concatenate(axis, parts...)
}
