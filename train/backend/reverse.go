package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
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
