package torchfile

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a tensor element type, named as torch names it ("float32").
type DType string

// Element types of torch storages.
const (
	Float32  DType = "float32"
	Float64  DType = "float64"
	Float16  DType = "float16"
	BFloat16 DType = "bfloat16"
	Int64    DType = "int64"
	Int32    DType = "int32"
	Int16    DType = "int16"
	Int8     DType = "int8"
	Uint8    DType = "uint8"
	Bool     DType = "bool"
)

// storageTypes maps torch's legacy storage class names to element types.
var storageTypes = map[string]DType{
	"FloatStorage":    Float32,
	"DoubleStorage":   Float64,
	"HalfStorage":     Float16,
	"BFloat16Storage": BFloat16,
	"LongStorage":     Int64,
	"IntStorage":      Int32,
	"ShortStorage":    Int16,
	"CharStorage":     Int8,
	"ByteStorage":     Uint8,
	"BoolStorage":     Bool,
	"UntypedStorage":  Uint8,
}

// Size returns the size of one element in bytes.
func (t DType) Size() int {
	switch t {
	case Float64, Int64:
		return 8
	case Float32, Int32:
		return 4
	case Float16, BFloat16, Int16:
		return 2
	}
	return 1
}

// Storage is one flat array of a torch file: the bytes of numel elements.
type Storage struct {
	Key      string // name in the file ("0", or a legacy pointer)
	DType    DType
	Numel    int
	Location string // device the tensor was saved from ("cpu", "cuda:0")
	// Data holds Numel elements, little-endian. It usually aliases the
	// buffer given to Read.
	Data []byte
}

// Tensor is a strided view of a storage, as torch rebuilds it.
type Tensor struct {
	DType        DType
	Shape        []int
	Stride       []int
	Offset       int // in elements of the storage
	RequiresGrad bool
	// Parameter is true for torch.nn.Parameter tensors.
	Parameter bool
	Storage   *Storage
}

// Numel returns the number of elements of the view.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// check verifies that every element of the view lies inside the storage.
// Shapes and strides were bounded when the tensor was built, so the sums
// here cannot overflow.
func (t *Tensor) check() error {
	s := t.Storage
	if s == nil || s.Data == nil && s.Numel > 0 {
		return fmt.Errorf("tensor without storage data")
	}
	if t.DType != s.DType {
		return fmt.Errorf("tensor of %s on storage %q of %s", t.DType, s.Key, s.DType)
	}
	if len(s.Data) < s.Numel*s.DType.Size() {
		return fmt.Errorf("storage %q has %d bytes, %d %s need %d", s.Key, len(s.Data),
			s.Numel, s.DType, s.Numel*s.DType.Size())
	}
	last := t.Offset
	for i, d := range t.Shape {
		if d == 0 {
			return nil
		}
		if st := t.Stride[i]; st != 0 && d-1 > (math.MaxInt64-last)/st {
			return fmt.Errorf("tensor view of shape %v overflows", t.Shape)
		}
		last += (d - 1) * t.Stride[i]
	}
	if last >= s.Numel {
		return fmt.Errorf("storage %q has %d bytes, tensor view needs %d", s.Key,
			s.Numel*s.DType.Size(), (last+1)*s.DType.Size())
	}
	return nil
}

// contiguous reports whether the view is the row-major layout of a
// contiguous run of its storage.
func (t *Tensor) contiguous() bool {
	want := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		if t.Shape[i] != 1 && t.Stride[i] != want {
			return false
		}
		want *= t.Shape[i]
	}
	return true
}

// indices returns the storage index of each element of the view in
// row-major order, iterating with an odometer rather than recursion.
func (t *Tensor) indices(visit func(i, idx int)) {
	n := t.Numel()
	if n == 0 {
		return
	}
	if t.contiguous() {
		for i := 0; i < n; i++ {
			visit(i, t.Offset+i)
		}
		return
	}
	pos := make([]int, len(t.Shape))
	idx := t.Offset
	for i := 0; i < n; i++ {
		visit(i, idx)
		for d := len(t.Shape) - 1; d >= 0; d-- {
			pos[d]++
			idx += t.Stride[d]
			if pos[d] < t.Shape[d] {
				break
			}
			idx -= pos[d] * t.Stride[d]
			pos[d] = 0
		}
	}
}

// Float32 returns the elements in row-major order as float32, converting
// from the other float and integer types.
func (t *Tensor) Float32() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	get, err := floatReader(t.DType, t.Storage.Data)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.Numel())
	t.indices(func(i, idx int) { out[i] = get(idx) })
	return out, nil
}

// Int64 returns the elements in row-major order as int64. Only integer
// and bool tensors convert; floats are an error rather than truncated.
func (t *Tensor) Int64() ([]int64, error) {
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	get, err := intReader(t.DType, t.Storage.Data)
	if err != nil {
		return nil, err
	}
	out := make([]int64, t.Numel())
	t.indices(func(i, idx int) { out[i] = get(idx) })
	return out, nil
}

func floatReader(dt DType, b []byte) (func(int) float32, error) {
	le := binary.LittleEndian
	switch dt {
	case Float32:
		return func(i int) float32 { return math.Float32frombits(le.Uint32(b[4*i:])) }, nil
	case Float64:
		return func(i int) float32 { return float32(math.Float64frombits(le.Uint64(b[8*i:]))) }, nil
	case Float16:
		return func(i int) float32 { return halfToFloat(le.Uint16(b[2*i:])) }, nil
	case BFloat16:
		return func(i int) float32 {
			return math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}, nil
	}
	get, err := intReader(dt, b)
	if err != nil {
		return nil, err
	}
	return func(i int) float32 { return float32(get(i)) }, nil
}

func intReader(dt DType, b []byte) (func(int) int64, error) {
	le := binary.LittleEndian
	switch dt {
	case Int64:
		return func(i int) int64 { return int64(le.Uint64(b[8*i:])) }, nil
	case Int32:
		return func(i int) int64 { return int64(int32(le.Uint32(b[4*i:]))) }, nil
	case Int16:
		return func(i int) int64 { return int64(int16(le.Uint16(b[2*i:]))) }, nil
	case Int8:
		return func(i int) int64 { return int64(int8(b[i])) }, nil
	case Uint8:
		return func(i int) int64 { return int64(b[i]) }, nil
	case Bool:
		return func(i int) int64 { return int64(min(b[i], 1)) }, nil
	}
	return nil, fmt.Errorf("torchfile: cannot read %s tensor as integers", dt)
}

// halfToFloat converts an IEEE 754 binary16 value to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: normalise into a float32 exponent.
	e := uint32(113)
	for frac&0x400 == 0 {
		frac <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
}
