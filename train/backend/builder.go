package backend

import (
	"fmt"
	"math"
	"reflect"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// builder embeds simplego's builder, so every op it does not define here is
// simplego's. The ops defined here return simplego ops built from simplego
// ops, so graphs mix both freely.
type builder struct {
	backends.Builder

	// im2col selects the im2col convolution over simplego's loop.
	im2col bool
}

// Compile-time check that builder is a whole backends.Builder.
var _ backends.Builder = (*builder)(nil)

// shapeOf returns op's shape.
func (b *builder) shapeOf(op backends.Op) (shapes.Shape, error) {
	return b.OpShape(op)
}

// scalar returns a constant scalar of dtype holding v.
func (b *builder) scalar(dtype dtypes.DType, v float64) (backends.Op, error) {
	if dtype == dtypes.Float64 {
		return b.Constant([]float64{v})
	}
	if dtype.IsFloat() {
		c, err := b.Constant([]float64{v})
		if err != nil {
			return nil, err
		}
		return b.ConvertDType(c, dtype)
	}
	goType := dtype.GoType()
	if goType == nil {
		return nil, fmt.Errorf("no Go type for dtype %s", dtype)
	}
	flat := reflect.MakeSlice(reflect.SliceOf(goType), 1, 1)
	val := reflect.ValueOf(v)
	if !val.CanConvert(goType) {
		return nil, fmt.Errorf("cannot make a %s constant", dtype)
	}
	flat.Index(0).Set(val.Convert(goType))
	return b.Constant(flat.Interface())
}

// extremeScalar is the lowest (or, when highest is set, the highest) value
// of dtype: -Inf or +Inf for floats, the range's end for integers.
func (b *builder) extremeScalar(dtype dtypes.DType, highest bool) (backends.Op, error) {
	if dtype.IsFloat() {
		if highest {
			return b.scalar(dtype, math.Inf(1))
		}
		return b.scalar(dtype, math.Inf(-1))
	}
	var v any
	if highest {
		v = dtype.HighestValue()
	} else {
		v = dtype.LowestValue()
	}
	goType := dtype.GoType()
	val := reflect.ValueOf(v)
	if goType == nil || !val.CanConvert(goType) {
		return nil, fmt.Errorf("no extreme value for dtype %s", dtype)
	}
	flat := reflect.MakeSlice(reflect.SliceOf(goType), 1, 1)
	// Converting keeps the value: dtypes reports Int8's bound as an int16.
	flat.Index(0).Set(val.Convert(goType))
	return b.Constant(flat.Interface())
}

// fill broadcasts the scalar op to dims.
func (b *builder) fill(scalar backends.Op, dtype dtypes.DType, dims []int) (backends.Op, error) {
	return b.BroadcastInDim(scalar, shapes.Make(dtype, dims...), nil)
}

// alongAxis broadcasts a vector to shape, the vector lying along axis.
func (b *builder) alongAxis(vec backends.Op, shape shapes.Shape, axis int) (backends.Op, error) {
	return b.BroadcastInDim(vec, shape, []int{axis})
}

// sliceAxis slices [start, limit) with stride along one axis of x.
func (b *builder) sliceAxis(x backends.Op, dims []int, axis, start, limit, stride int) (
	backends.Op, error) {
	starts := make([]int, len(dims))
	limits := append([]int(nil), dims...)
	strides := make([]int, len(dims))
	for i := range strides {
		strides[i] = 1
	}
	starts[axis], limits[axis], strides[axis] = start, limit, stride
	return b.Slice(x, starts, limits, strides)
}

// otherAxes lists the axes of a rank-rank tensor except axis.
func otherAxes(rank, axis int) []int {
	axes := make([]int, 0, rank)
	for i := range rank {
		if i != axis {
			axes = append(axes, i)
		}
	}
	return axes
}

// product multiplies dims; 1 for none.
func product(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// withDim returns a copy of dims with dims[axis] set to d.
func withDim(dims []int, axis, d int) []int {
	out := append([]int(nil), dims...)
	out[axis] = d
	return out
}
