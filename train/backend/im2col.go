package backend

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
)

// patches builds the [B*O, K*C] matrix whose row (b, o) holds, kernel
// position by kernel position, the C input values that output o of example
// b sees. It takes one strided slice per kernel position, or one per output
// position when there are fewer of those: the gradient of a convolution
// with respect to its kernel is a convolution whose "kernel" is the whole
// output, with 9 output positions and a thousand kernel positions.
func (c *conv) patches(x backends.Op) (backends.Op, error) {
	numK, numO := product(c.kSp), product(c.outSp)
	if numK <= numO {
		return c.patchesByKernelPosition(x, numK, numO)
	}
	return c.patchesByOutputPosition(x, numK, numO)
}

// patchesByKernelPosition slices, for each kernel position, the input seen
// by every output at once: a [B, O..., C] block. Concatenated on the channel
// axis they make [B, O..., K*C].
func (c *conv) patchesByKernelPosition(x backends.Op, numK, numO int) (backends.Op, error) {
	dims := c.paddedDims()
	rank := len(dims)
	parts := make([]backends.Op, 0, numK)
	for _, k := range positions(c.kSp) {
		starts, limits, strides := make([]int, rank), slices.Clone(dims), repeat(1, rank)
		for a := range k {
			starts[1+a] = k[a] * c.kDil[a]
			limits[1+a] = starts[1+a] + (c.outSp[a]-1)*c.strides[a] + 1
			strides[1+a] = c.strides[a]
		}
		part, err := c.b.Slice(x, starts, limits, strides)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	joined := parts[0]
	if len(parts) > 1 {
		var err error
		if joined, err = c.b.Concatenate(rank-1, parts...); err != nil {
			return nil, err
		}
	}
	return c.b.Reshape(joined, c.batch*numO, numK*c.chans)
}

// patchesByOutputPosition slices, for each output position, the window it
// sees: a [B, K..., C] block, flattened to [B, 1, K*C]. Concatenated on
// axis 1 they make [B, O, K*C].
func (c *conv) patchesByOutputPosition(x backends.Op, numK, numO int) (backends.Op, error) {
	dims := c.paddedDims()
	rank := len(dims)
	parts := make([]backends.Op, 0, numO)
	for _, o := range positions(c.outSp) {
		starts, limits, strides := make([]int, rank), slices.Clone(dims), repeat(1, rank)
		for a := range o {
			starts[1+a] = o[a] * c.strides[a]
			limits[1+a] = starts[1+a] + (c.kSp[a]-1)*c.kDil[a] + 1
			strides[1+a] = c.kDil[a]
		}
		part, err := c.b.Slice(x, starts, limits, strides)
		if err != nil {
			return nil, err
		}
		if part, err = c.b.Reshape(part, c.batch, 1, numK*c.chans); err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	joined := parts[0]
	if len(parts) > 1 {
		var err error
		if joined, err = c.b.Concatenate(1, parts...); err != nil {
			return nil, err
		}
	}
	return c.b.Reshape(joined, c.batch*numO, numK*c.chans)
}

// positions lists every multi-index below dims in row-major order.
func positions(dims []int) [][]int {
	list := [][]int{make([]int, len(dims))}
	for axis, n := range dims {
		next := make([][]int, 0, len(list)*n)
		for _, prefix := range list {
			for i := range n {
				p := slices.Clone(prefix)
				p[axis] = i
				next = append(next, p)
			}
		}
		list = next
	}
	return list
}
