package torchfile

import (
	"fmt"

	"github.com/mocokit/mocokit/pickle"
)

// Named is one entry of a state_dict.
type Named struct {
	Name   string
	Tensor *Tensor
}

// maxModuleDepth bounds the nesting of modules StateDict follows.
const maxModuleDepth = 256

// StateDict flattens v to the (name, tensor) pairs of a state_dict, in
// torch's order. v is either a module object from a whole pickled model
// (torch.save(model)), whose _parameters and _buffers are gathered through
// _modules as torch's Module.state_dict does, or a dict of name to tensor
// (a saved state_dict). None parameters and non-persistent buffers are
// skipped.
func StateDict(v any) ([]Named, error) {
	switch m := v.(type) {
	case *pickle.Dict:
		return dictStateDict(m)
	case *pickle.Object:
		return moduleStateDict(m)
	}
	return nil, fmt.Errorf("torchfile: state_dict of a %s: want a module or a dict",
		pickle.TypeName(v))
}

func dictStateDict(d *pickle.Dict) ([]Named, error) {
	out := make([]Named, 0, d.Len())
	for i, k := range d.Keys() {
		name := asString(k)
		t, ok := d.Values()[i].(*Tensor)
		if name == "" || !ok {
			return nil, fmt.Errorf("torchfile: state_dict entry %s is a %s, not a tensor",
				brief(k), pickle.TypeName(d.Values()[i]))
		}
		out = append(out, Named{Name: name, Tensor: t})
	}
	return out, nil
}

type moduleVisit struct {
	prefix string
	obj    *pickle.Object
	depth  int
}

// moduleStateDict walks the module tree depth first with an explicit
// stack, so a hostile tree can neither recurse deeply nor loop.
func moduleStateDict(root *pickle.Object) ([]Named, error) {
	var out []Named
	seen := map[*pickle.Object]bool{}
	stack := []moduleVisit{{obj: root}}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[v.obj] {
			return nil, fmt.Errorf("torchfile: module %q appears twice in the tree", v.prefix)
		}
		seen[v.obj] = true
		own, err := moduleTensors(v.prefix, v.obj)
		if err != nil {
			return nil, err
		}
		out = append(out, own...)
		children, err := attrDict(v.obj, "_modules")
		if err != nil {
			return nil, err
		}
		// Push in reverse so that children are visited in their order.
		for i := children.Len() - 1; i >= 0; i-- {
			c := children.Values()[i]
			if c == nil {
				continue
			}
			child, ok := c.(*pickle.Object)
			name := v.prefix + asString(children.Keys()[i])
			if !ok {
				return nil, fmt.Errorf("torchfile: submodule %q is a %s", name, pickle.TypeName(c))
			}
			if v.depth >= maxModuleDepth {
				return nil, fmt.Errorf("torchfile: modules nested deeper than %d", maxModuleDepth)
			}
			stack = append(stack, moduleVisit{prefix: name + ".", obj: child, depth: v.depth + 1})
		}
	}
	return out, nil
}

// moduleTensors returns a module's own parameters and persistent buffers.
func moduleTensors(prefix string, m *pickle.Object) ([]Named, error) {
	params, err := attrDict(m, "_parameters")
	if err != nil {
		return nil, err
	}
	buffers, err := attrDict(m, "_buffers")
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	if s, ok := m.Attr("_non_persistent_buffers_set"); ok {
		if set, ok := s.(*pickle.Set); ok {
			for _, k := range set.Items {
				skip[asString(k)] = true
			}
		}
	}
	var out []Named
	for _, d := range []*pickle.Dict{params, buffers} {
		for i, k := range d.Keys() {
			name, v := asString(k), d.Values()[i]
			if v == nil || (d == buffers && skip[name]) {
				continue
			}
			t, ok := v.(*Tensor)
			if !ok {
				return nil, fmt.Errorf("torchfile: %s%s is a %s, not a tensor",
					prefix, name, pickle.TypeName(v))
			}
			out = append(out, Named{Name: prefix + name, Tensor: t})
		}
	}
	return out, nil
}

// attrDict returns the dict attribute name of a module; a missing one is
// empty, as modules without parameters may be pickled without it.
func attrDict(m *pickle.Object, name string) (*pickle.Dict, error) {
	v, ok := m.Attr(name)
	if !ok || v == nil {
		if _, isDict := m.State.(*pickle.Dict); !isDict {
			return nil, fmt.Errorf("torchfile: %s is not a module (no attribute dict)",
				pickle.TypeName(m))
		}
		return pickle.NewDict(), nil
	}
	d, ok := v.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("torchfile: %s.%s is a %s, not a dict",
			pickle.TypeName(m), name, pickle.TypeName(v))
	}
	return d, nil
}
