package torchfile

import (
	"fmt"
	"strings"

	"github.com/mocokit/mocokit/pickle"
)

// plainClasses are module prefixes whose classes may appear in whole-model
// pickles, DataParallel's wrapper among them. They become *pickle.Object
// data; no code of theirs ever runs.
var plainClasses = []string{"torch.nn.modules.", "torchvision.models.",
	"torch.nn.parallel.data_parallel.DataParallel"}

// stdGlobals are harmless standard-library globals that torch pickles use.
var stdGlobals = map[string]bool{
	"collections.OrderedDict": true, "builtins.set": true, "__builtin__.set": true,
	"builtins.frozenset": true, "__builtin__.frozenset": true, "_codecs.encode": true,
	"copyreg._reconstructor": true, "copy_reg._reconstructor": true,
	"builtins.bytearray": true,
}

// torchDTypes are torch's dtype objects, which optimizer and AMP state may
// reference; they stand for their names.
var torchDTypes = map[string]bool{
	"float32": true, "float64": true, "float16": true, "bfloat16": true, "int64": true,
	"int32": true, "int16": true, "int8": true, "uint8": true, "bool": true,
	"float": true, "double": true, "half": true, "long": true, "int": true,
}

// finder returns the pickle Find function for torch files: the tensor
// rebuild functions, storage classes, module classes as plain data, and
// whatever opts.Allow adds.
func (r *reader) finder() func(module, name string) (*pickle.Global, error) {
	extra := map[string]bool{}
	for _, n := range r.opts.Allow {
		extra[n] = true
	}
	return func(module, name string) (*pickle.Global, error) {
		full := module + "." + name
		if g := r.torchGlobal(module, name); g != nil {
			return g, nil
		}
		if stdGlobals[full] {
			return pickle.Std(module, name), nil
		}
		for _, p := range plainClasses {
			if strings.HasPrefix(full, p) && !strings.Contains(name, "__") {
				return &pickle.Global{Module: module, Name: name}, nil
			}
		}
		if extra[full] {
			return &pickle.Global{Module: module, Name: name}, nil
		}
		return nil, &pickle.ForbiddenError{Module: module, Name: name}
	}
}

func (r *reader) torchGlobal(module, name string) *pickle.Global {
	g := &pickle.Global{Module: module, Name: name}
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		g.Call = r.rebuildTensorV2
	case "torch._utils._rebuild_tensor":
		g.Call = r.rebuildTensor
	case "torch._utils._rebuild_parameter", "torch.nn.parameter.Parameter":
		g.Call = rebuildParameter
	case "torch.Size":
		g.Call = callSize
	case "torch.device":
	case "torch.storage.UntypedStorage", "torch.storage._UntypedStorage":
		g.Value = Uint8
	default:
		if module != "torch" {
			return nil
		}
		if dt, ok := storageTypes[name]; ok {
			g.Value = dt
		} else if torchDTypes[name] {
			g.Value = name
		} else {
			return nil
		}
	}
	return g
}

// rebuildTensorV2 mirrors torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks).
func (r *reader) rebuildTensorV2(args pickle.Tuple) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("want at least 4 arguments, got %d", len(args))
	}
	t, err := r.newTensor(args[0], args[1], args[2], args[3])
	if err != nil {
		return nil, err
	}
	if len(args) > 4 {
		t.RequiresGrad, _ = args[4].(bool)
	}
	return t, nil
}

// rebuildTensor mirrors the older torch._utils._rebuild_tensor(storage,
// storage_offset, size, stride).
func (r *reader) rebuildTensor(args pickle.Tuple) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("want 4 arguments, got %d", len(args))
	}
	return r.newTensor(args[0], args[1], args[2], args[3])
}

func (r *reader) newTensor(st, off, size, stride any) (*Tensor, error) {
	s, ok := st.(*Storage)
	if !ok {
		return nil, fmt.Errorf("want a storage, got %s", pickle.TypeName(st))
	}
	offset, ok := off.(int64)
	if !ok || offset < 0 || offset > maxDim {
		return nil, fmt.Errorf("bad storage offset %s", brief(off))
	}
	shape, err := intTuple(size, "size")
	if err != nil {
		return nil, err
	}
	strides, err := intTuple(stride, "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(strides) {
		return nil, fmt.Errorf("size has %d dimensions, stride %d", len(shape), len(strides))
	}
	n := int64(1)
	for _, d := range shape {
		if d != 0 && n > r.opts.MaxElements/int64(d) {
			return nil, fmt.Errorf("tensor of shape %v exceeds %d elements", shape,
				r.opts.MaxElements)
		}
		n *= int64(d)
	}
	t := &Tensor{DType: s.DType, Shape: shape, Stride: strides, Offset: int(offset), Storage: s}
	r.tensors = append(r.tensors, t)
	return t, nil
}

// maxDim bounds every size, stride and offset so that view arithmetic in
// int64 cannot overflow (64 dimensions of 2^48 * 2^48 stay below 2^63).
const maxDim = 1 << 48

func intTuple(v any, what string) ([]int, error) {
	t, ok := v.(pickle.Tuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s must be a tuple, got %s", what, pickle.TypeName(v))
	}
	if len(t) > 64 {
		return nil, fmt.Errorf("tensor %s has %d dimensions", what, len(t))
	}
	out := make([]int, len(t))
	for i, e := range t {
		x, ok := e.(int64)
		if !ok || x < 0 || x > maxDim {
			return nil, fmt.Errorf("bad tensor %s %s", what, brief(e))
		}
		out[i] = int(x)
	}
	return out, nil
}

// rebuildParameter mirrors torch._utils._rebuild_parameter(data,
// requires_grad, backward_hooks): a Parameter is its tensor.
func rebuildParameter(args pickle.Tuple) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("want at least 1 argument")
	}
	t, ok := args[0].(*Tensor)
	if !ok {
		return nil, fmt.Errorf("want a tensor, got %s", pickle.TypeName(args[0]))
	}
	t.Parameter = true
	if len(args) > 1 {
		t.RequiresGrad, _ = args[1].(bool)
	}
	return t, nil
}

func callSize(args pickle.Tuple) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want 1 argument, got %d", len(args))
	}
	switch v := args[0].(type) {
	case pickle.Tuple:
		return v, nil
	case *pickle.List:
		return pickle.Tuple(v.Items), nil
	}
	return nil, fmt.Errorf("want a tuple, got %s", pickle.TypeName(args[0]))
}

// brief formats a decoded value for an error message: numbers and short
// strings as they are, anything else by its type. Printing a hostile value
// whole could take exponential time and memory: a pickle of a few hundred
// bytes can build a tuple that shares itself at every level.
func brief(v any) string {
	switch x := v.(type) {
	case nil, bool, int64, float64:
		return fmt.Sprint(x)
	case string:
		if len(x) <= 40 {
			return fmt.Sprintf("%q", x)
		}
	}
	return "a " + pickle.TypeName(v)
}
