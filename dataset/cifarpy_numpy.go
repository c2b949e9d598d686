package dataset

import (
	"fmt"

	"github.com/mocokit/mocokit/pickle"
)

// numpyArray is a C-ordered numpy array decoded from its pickle.
type numpyArray struct {
	shape []int
	dtype string // kind and size without byte order: "u1", "i8", "f4"
	data  []byte // little-endian
}

// decodeNumpyArray interprets the pickle of a numpy array, which is
// numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b"b") followed
// by BUILD with (version, shape, dtype, is_fortran, raw data).
func decodeNumpyArray(v any) (*numpyArray, error) {
	o, ok := v.(*pickle.Object)
	if !ok || o.Class.FullName() != "numpy.core.multiarray._reconstruct" {
		return nil, fmt.Errorf("a %s, want a numpy array", pickle.TypeName(v))
	}
	st, ok := o.State.(pickle.Tuple)
	if !ok || len(st) != 5 {
		return nil, fmt.Errorf("numpy array state is a %s, want a 5-tuple",
			pickle.TypeName(o.State))
	}
	shape, n, err := numpyShape(st[1])
	if err != nil {
		return nil, err
	}
	dtype, size, err := numpyDType(st[2])
	if err != nil {
		return nil, err
	}
	if fortran, _ := st[3].(bool); fortran && len(shape) > 1 {
		return nil, fmt.Errorf("Fortran-ordered arrays are not supported")
	}
	raw, ok := st[4].([]byte)
	if !ok {
		return nil, fmt.Errorf("numpy array data is a %s, want bytes", pickle.TypeName(st[4]))
	}
	if int64(len(raw)) != n*int64(size) {
		return nil, fmt.Errorf("numpy array of shape %v and %s has %d bytes of data, want %d",
			shape, dtype, len(raw), n*int64(size))
	}
	return &numpyArray{shape: shape, dtype: dtype, data: raw}, nil
}

// numpyShape checks a shape tuple and returns it with its element count.
func numpyShape(v any) ([]int, int64, error) {
	t, ok := v.(pickle.Tuple)
	if !ok || len(t) > 8 {
		return nil, 0, fmt.Errorf("numpy shape %v is not a short tuple", v)
	}
	shape := make([]int, len(t))
	n := int64(1)
	for i, d := range t {
		x, ok := d.(int64)
		if !ok || x < 0 || x > 1<<31 {
			return nil, 0, fmt.Errorf("bad numpy shape %v", t)
		}
		shape[i] = int(x)
		n *= x
		if n > 1<<34 {
			return nil, 0, fmt.Errorf("numpy shape %v is too large", t)
		}
	}
	return shape, n, nil
}

// numpyDType reads numpy.dtype("u1", False, True) with BUILD state
// (version, byte order, ...). Only little-endian or byte-order-free
// integer and float types are accepted.
func numpyDType(v any) (string, int, error) {
	o, ok := v.(*pickle.Object)
	if !ok || o.Class.FullName() != "numpy.dtype" || len(o.Args) == 0 {
		return "", 0, fmt.Errorf("numpy dtype is a %s", pickle.TypeName(v))
	}
	var name string
	switch s := o.Args[0].(type) {
	case string:
		name = s
	case []byte:
		name = string(s)
	}
	sizes := map[string]int{"u1": 1, "i1": 1, "b1": 1, "i2": 2, "u2": 2, "i4": 4, "u4": 4,
		"i8": 8, "u8": 8, "f4": 4, "f8": 8}
	size, ok := sizes[name]
	if !ok {
		return "", 0, fmt.Errorf("unsupported numpy dtype %q", name)
	}
	if st, ok := o.State.(pickle.Tuple); ok && len(st) > 1 {
		var order string
		switch s := st[1].(type) {
		case string:
			order = s
		case []byte:
			order = string(s)
		}
		if order != "<" && order != "|" && order != "=" {
			return "", 0, fmt.Errorf("numpy dtype %s has byte order %q, want little-endian",
				name, order)
		}
	}
	return name, size, nil
}
