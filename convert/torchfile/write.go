package torchfile

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mocokit/mocokit/pickle"
)

// Entry is one named tensor to write: a float32 tensor when Int64 is nil,
// an int64 tensor (such as a batch norm's num_batches_tracked, a scalar of
// shape []) otherwise. The values are in row-major order.
type Entry struct {
	Name    string
	Shape   []int
	Float32 []float32
	Int64   []int64
}

// Tensors is a list of tensors written as a state_dict: a
// collections.OrderedDict from name to tensor, in the order given.
type Tensors []Entry

// TopEntry is one key of the dict WriteCheckpoint writes. Value is nil, a
// bool, int, int64, float64, string, an Entry (a tensor), Tensors (a
// state_dict), or a pickle.Tuple, *pickle.List or *pickle.Dict whose
// elements are any of these.
type TopEntry struct {
	Key   string
	Value any
}

// archiveName is the directory torch.save puts every record under when it
// writes to a buffer; torch.load accepts any name.
const archiveName = "archive"

// formatVersion is the serialization format version of torch 1.6 to 2.x.
const formatVersion = "3\n"

// WriteStateDict writes entries as torch.save(state_dict) does in its zip
// format (PyTorch 1.6 and later): archive/data.pkl holds a pickle of
// protocol 2 of a collections.OrderedDict whose values are
// torch._utils._rebuild_tensor_v2 calls on persistent ids ('storage',
// torch.FloatStorage or torch.LongStorage, key, 'cpu', numel);
// archive/data/<key> holds each storage, and archive/version the format
// version. Names keep the order given; torch.load reads the file and
// load_state_dict accepts it.
//
// The file appears whole or not at all: it is written to a temporary file
// in the same directory, synced, and renamed over path.
func WriteStateDict(path string, entries []Entry) error {
	w := &stateWriter{}
	sd, err := w.stateDict(Tensors(entries))
	if err != nil {
		return fmt.Errorf("torchfile: write %s: %w", path, err)
	}
	return w.writeFile(path, sd)
}

// WriteCheckpoint writes a dict of the given keys, in order, as
// torch.save({"epoch": 200, "arch": "resnet18", "state_dict": ...}) does
// in its zip format, atomically as WriteStateDict does. Tensors are
// numbered in the order they appear.
func WriteCheckpoint(path string, top ...TopEntry) error {
	w := &stateWriter{}
	d := pickle.NewDict()
	for _, e := range top {
		if _, dup := d.Get(e.Key); dup {
			return fmt.Errorf("torchfile: write %s: key %q appears twice", path, e.Key)
		}
		v, err := w.value(e.Value, 0)
		if err != nil {
			return fmt.Errorf("torchfile: write %s: %q: %w", path, e.Key, err)
		}
		d.Set(e.Key, v)
	}
	return w.writeFile(path, d)
}

// stateWriter turns entries into pickle values and keeps the storages
// they refer to, in the order of their keys.
type stateWriter struct {
	storages []Entry
}

// maxValueDepth bounds the nesting of checkpoint values, which a list
// that contains itself would otherwise make endless.
const maxValueDepth = 64

// value converts a checkpoint value to what package pickle writes.
func (w *stateWriter) value(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("values nested deeper than %d", maxValueDepth)
	}
	switch x := v.(type) {
	case nil, bool, int, int64, float64, string:
		return x, nil
	case Entry:
		return w.tensor(x)
	case Tensors:
		return w.stateDict(x)
	case pickle.Tuple:
		out := make(pickle.Tuple, len(x))
		for i, e := range x {
			var err error
			if out[i], err = w.value(e, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *pickle.List:
		t, err := w.value(pickle.Tuple(x.Items), depth)
		if err != nil {
			return nil, err
		}
		return &pickle.List{Items: t.(pickle.Tuple)}, nil
	case *pickle.Dict:
		out := pickle.NewDict()
		for i, k := range x.Keys() {
			e, err := w.value(x.Values()[i], depth+1)
			if err != nil {
				return nil, err
			}
			out.Set(k, e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot write a Go %T in a checkpoint", v)
}

// stateDict returns the OrderedDict of a state_dict's tensors.
func (w *stateWriter) stateDict(sd Tensors) (*pickle.Call, error) {
	d := pickle.NewDict()
	for _, e := range sd {
		if _, dup := d.Get(e.Name); dup {
			return nil, fmt.Errorf("tensor %q appears twice", e.Name)
		}
		t, err := w.tensor(e)
		if err != nil {
			return nil, err
		}
		d.Set(e.Name, t)
	}
	return pickle.OrderedDict(d), nil
}

// tensor returns the call torch.load rebuilds e with, and gives e a
// storage of its own.
func (w *stateWriter) tensor(e Entry) (*pickle.Call, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	key := fmt.Sprint(len(w.storages))
	w.storages = append(w.storages, e)
	class := "FloatStorage"
	if e.dtype() == Int64 {
		class = "LongStorage"
	}
	storage := pickle.PersistentID{ID: pickle.Tuple{"storage",
		&pickle.Global{Module: "torch", Name: class}, key, "cpu", int64(e.numel())}}
	shape, stride := make(pickle.Tuple, len(e.Shape)), make(pickle.Tuple, len(e.Shape))
	step := 1
	for i := len(e.Shape) - 1; i >= 0; i-- {
		shape[i], stride[i] = e.Shape[i], step
		// torch gives a dimension after an empty one the stride it would
		// have with size 1, so zero-size tensors keep sensible strides.
		step *= max(e.Shape[i], 1)
	}
	noHooks := pickle.OrderedDict(pickle.NewDict())
	return &pickle.Call{
		Func: &pickle.Global{Module: "torch._utils", Name: "_rebuild_tensor_v2"},
		Args: pickle.Tuple{storage, 0, shape, stride, false, noHooks},
	}, nil
}

// check reports an entry whose values do not fit its shape.
func (e Entry) check() error {
	if e.Name == "" {
		return fmt.Errorf("tensor without a name")
	}
	if e.Float32 != nil && e.Int64 != nil {
		return fmt.Errorf("tensor %q has both float32 and int64 values", e.Name)
	}
	// A storage is one zip record, whose size a plain zip header bounds;
	// bounding the product as it grows also keeps it from overflowing.
	limit := maxRecordBytes / e.dtype().Size()
	n := 1
	for _, d := range e.Shape {
		if d < 0 || d > 0 && n > limit/d {
			return fmt.Errorf("tensor %q has a bad shape %v (at most %d elements)",
				e.Name, e.Shape, limit)
		}
		n *= d
	}
	if have := e.numel(); have != n {
		return fmt.Errorf("tensor %q of shape %v needs %d values, has %d",
			e.Name, e.Shape, n, have)
	}
	return nil
}

func (e Entry) dtype() DType {
	if e.Int64 != nil {
		return Int64
	}
	return Float32
}

func (e Entry) numel() int {
	if e.Int64 != nil {
		return len(e.Int64)
	}
	return len(e.Float32)
}

// bytes returns the storage of e, little-endian as torch writes it on
// every machine it supports.
func (e Entry) bytes() []byte {
	if e.Int64 != nil {
		b := make([]byte, 0, 8*len(e.Int64))
		for _, v := range e.Int64 {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		return b
	}
	b := make([]byte, 0, 4*len(e.Float32))
	for _, v := range e.Float32 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}
