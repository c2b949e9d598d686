package backend

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// SelectAndScatterMax implements backends.StandardOps.SelectAndScatterMax
// with XLA's semantics, the gradient of max pooling: for each window (as
// ReduceWindow places them) the first maximum in row-major order among the
// operand's own elements, never the padding, receives the window's source
// value; elements chosen by several windows receive the sum.
func (b *builder) SelectAndScatterMax(operand, source backends.Op, windowDimensions,
	windowStrides []int, paddings [][2]int) (backends.Op, error) {
	w, err := b.newWindows(operand, source, windowDimensions, windowStrides, paddings)
	if err != nil {
		return nil, fmt.Errorf("backend: SelectAndScatterMax: %w", err)
	}
	out, err := b.selectAndScatter(w, operand, source, true)
	if err != nil {
		return nil, fmt.Errorf("backend: SelectAndScatterMax: %w", err)
	}
	return out, nil
}

// SelectAndScatterMin is SelectAndScatterMax choosing the first minimum:
// the gradient of min pooling.
func (b *builder) SelectAndScatterMin(operand, source backends.Op, windowDimensions,
	windowStrides []int, paddings [][2]int) (backends.Op, error) {
	w, err := b.newWindows(operand, source, windowDimensions, windowStrides, paddings)
	if err != nil {
		return nil, fmt.Errorf("backend: SelectAndScatterMin: %w", err)
	}
	out, err := b.selectAndScatter(w, operand, source, false)
	if err != nil {
		return nil, fmt.Errorf("backend: SelectAndScatterMin: %w", err)
	}
	return out, nil
}

// windows is the geometry of a windowed reduction over an operand.
type windows struct {
	operand  shapes.Shape
	out      []int // windows per axis: the source's dimensions
	size     []int
	strides  []int
	paddings [][2]int
}

// newWindows validates the window configuration against the shapes.
func (b *builder) newWindows(operand, source backends.Op, size, strides []int,
	paddings [][2]int) (*windows, error) {
	opShape, err := b.shapeOf(operand)
	if err != nil {
		return nil, err
	}
	srcShape, err := b.shapeOf(source)
	if err != nil {
		return nil, err
	}
	rank := opShape.Rank()
	if len(size) != rank {
		return nil, fmt.Errorf("%d window dimensions for operand %s", len(size), opShape)
	}
	if len(strides) == 0 {
		strides = size
	}
	if len(paddings) == 0 {
		paddings = make([][2]int, rank)
	}
	if len(strides) != rank || len(paddings) != rank {
		return nil, fmt.Errorf("%d strides and %d paddings for operand %s",
			len(strides), len(paddings), opShape)
	}
	outShape, err := shapeinference.ReduceWindowOp(opShape, size, strides, nil, nil, paddings)
	if err != nil {
		return nil, err
	}
	if srcShape.DType != opShape.DType || !slices.Equal(srcShape.Dimensions, outShape.Dimensions) {
		return nil, fmt.Errorf("source %s does not match the windows %s of operand %s",
			srcShape, outShape, opShape)
	}
	return &windows{operand: opShape, out: outShape.Dimensions, size: size,
		strides: strides, paddings: paddings}, nil
}

// offsets lists every position inside a window, in row-major order: the
// order in which XLA's select visits them, so the first hit wins ties.
func (w *windows) offsets() [][]int {
	return positions(w.size)
}

// selectAndScatter builds one patch per window offset (the operand element
// at that offset in every window), finds each window's extreme, and adds the
// source where an offset is the first to hold it, placed back where the
// patch came from.
func (b *builder) selectAndScatter(w *windows, operand, source backends.Op, isMax bool) (
	backends.Op, error) {
	if r, ok := b.Builder.(*recorder); ok && nativeFloat(w.operand.DType) && w.operand.Size() > 0 {
		plan := &selectScatterPlan{t: newWindowTable(w.operand.Dimensions, w.size, w.strides,
			w.paddings), isMax: isMax}
		outs, err := r.recordNative("SelectAndScatter", []backends.Op{operand, source}, plan,
			func(bb backends.Builder, in []backends.Op) ([]backends.Op, error) {
				y, err := (&builder{Builder: bb}).selectAndScatter(w, in[0], in[1], isMax)
				return []backends.Op{y}, err
			})
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	}
	patches, err := b.windowPatches(w, operand, isMax)
	if err != nil {
		return nil, err
	}
	best := patches[0]
	for _, p := range patches[1:] {
		if isMax {
			best, err = b.Max(best, p)
		} else {
			best, err = b.Min(best, p)
		}
		if err != nil {
			return nil, err
		}
	}
	zero, err := b.scalar(w.operand.DType, 0)
	if err != nil {
		return nil, err
	}
	var notFound, sum backends.Op
	for i, off := range w.offsets() {
		sel, stillNotFound, err := b.firstHit(w, off, patches[i], best, notFound)
		if err != nil {
			return nil, err
		}
		notFound = stillNotFound
		placed, err := b.placeBack(w, off, sel, source, zero)
		if err != nil {
			return nil, err
		}
		if sum == nil {
			sum = placed
		} else if sum, err = b.Add(sum, placed); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// windowPatches returns, for each window offset, the operand elements at
// that offset of every window, shaped like the source. Padding holds the
// value that never wins (−Inf for max), though validMask excludes it too.
func (b *builder) windowPatches(w *windows, operand backends.Op, isMax bool) (
	[]backends.Op, error) {
	padded := operand
	paddedDims := slices.Clone(w.operand.Dimensions)
	padAxes := make([]backends.PadAxis, len(paddedDims))
	anyPad := false
	for axis, p := range w.paddings {
		padAxes[axis] = backends.PadAxis{Start: p[0], End: p[1]}
		paddedDims[axis] += p[0] + p[1]
		anyPad = anyPad || p != [2]int{}
	}
	if anyPad {
		never, err := b.extremeScalar(w.operand.DType, !isMax)
		if err != nil {
			return nil, err
		}
		if padded, err = b.Pad(operand, never, padAxes...); err != nil {
			return nil, err
		}
	}
	offsets := w.offsets()
	patches := make([]backends.Op, len(offsets))
	for i, off := range offsets {
		limits := make([]int, len(off))
		for axis := range off {
			limits[axis] = off[axis] + (w.out[axis]-1)*w.strides[axis] + 1
		}
		p, err := b.Slice(padded, off, limits, w.strides)
		if err != nil {
			return nil, err
		}
		patches[i] = p
	}
	return patches, nil
}

// firstHit marks the windows whose extreme sits at this offset and was not
// found at an earlier one; it returns those and the windows still unclaimed.
func (b *builder) firstHit(w *windows, off []int, patch, best, notFound backends.Op) (
	sel, stillNotFound backends.Op, err error) {
	hit, err := b.Equal(patch, best)
	if err != nil {
		return nil, nil, err
	}
	valid, err := b.validMask(w, off)
	if err != nil {
		return nil, nil, err
	}
	if valid != nil {
		if hit, err = b.LogicalAnd(hit, valid); err != nil {
			return nil, nil, err
		}
	}
	missed, err := b.LogicalNot(hit)
	if err != nil {
		return nil, nil, err
	}
	if notFound == nil {
		return hit, missed, nil
	}
	if sel, err = b.LogicalAnd(hit, notFound); err != nil {
		return nil, nil, err
	}
	stillNotFound, err = b.LogicalAnd(notFound, missed)
	return sel, stillNotFound, err
}

// validMask is true where this offset of a window falls on the operand
// rather than its padding; nil when it always does.
func (b *builder) validMask(w *windows, off []int) (backends.Op, error) {
	var mask backends.Op
	outShape := shapes.Make(dtypes.Bool, w.out...)
	for axis, p := range w.paddings {
		if p == [2]int{} {
			continue
		}
		valid := make([]bool, w.out[axis])
		allValid := true
		for o := range valid {
			pos := o*w.strides[axis] + off[axis] - p[0]
			valid[o] = pos >= 0 && pos < w.operand.Dimensions[axis]
			allValid = allValid && valid[o]
		}
		if allValid {
			continue
		}
		vec, err := b.Constant(valid, len(valid))
		if err != nil {
			return nil, err
		}
		axisMask, err := b.alongAxis(vec, outShape, axis)
		if err != nil {
			return nil, err
		}
		if mask == nil {
			mask = axisMask
		} else if mask, err = b.LogicalAnd(mask, axisMask); err != nil {
			return nil, err
		}
	}
	return mask, nil
}

// placeBack puts the selected source values where the patch at this offset
// came from in the operand: window o along an axis sits at o*stride +
// offset - padding, which Pad with interior stride-1 produces, and a
// negative edge drops what fell on padding.
func (b *builder) placeBack(w *windows, off []int, sel, source, zero backends.Op) (
	backends.Op, error) {
	picked, err := b.Where(sel, source, zero)
	if err != nil {
		return nil, err
	}
	axes := make([]backends.PadAxis, len(off))
	for axis := range off {
		start := off[axis] - w.paddings[axis][0]
		span := (w.out[axis]-1)*w.strides[axis] + 1
		axes[axis] = backends.PadAxis{
			Start:    start,
			End:      w.operand.Dimensions[axis] - start - span,
			Interior: w.strides[axis] - 1,
		}
	}
	return b.Pad(picked, zero, axes...)
}
