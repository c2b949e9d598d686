package pickle

import (
	"fmt"
	"strings"
)

// Tuple is a Python tuple.
type Tuple []any

// List is a Python list. It is a pointer type because pickles may share a
// list between several places (memo) and append to it afterwards.
type List struct {
	Items []any
}

// Set is a Python set or frozenset, kept in insertion order.
type Set struct {
	Items []any
}

// Dict is a Python dict that keeps its keys in insertion order, as
// Python 3.7+ dicts and collections.OrderedDict do.
type Dict struct {
	// State holds attributes that BUILD gave a dict subclass instance
	// (torch's state_dict keeps its _metadata there); nil otherwise.
	State any

	keys  []any
	vals  []any
	index map[hashKey]int
}

// hashKey makes scalar Python keys comparable in a Go map; str and bytes
// keys differ in kind so b"a" and "a" stay distinct entries, as in Python.
type hashKey struct {
	kind byte
	s    string
	i    int64
	f    float64
}

// NewDict returns an empty ordered dict.
func NewDict() *Dict {
	return &Dict{index: map[hashKey]int{}}
}

func keyOf(k any) (hashKey, bool) {
	switch v := k.(type) {
	case nil:
		return hashKey{kind: 'n'}, true
	case bool:
		if v {
			return hashKey{kind: 'i', i: 1}, true
		}
		return hashKey{kind: 'i'}, true
	case int64:
		return hashKey{kind: 'i', i: v}, true
	case float64:
		if v == float64(int64(v)) {
			return hashKey{kind: 'i', i: int64(v)}, true
		}
		return hashKey{kind: 'f', f: v}, true
	case string:
		return hashKey{kind: 's', s: v}, true
	case []byte:
		return hashKey{kind: 'b', s: string(v)}, true
	}
	return hashKey{}, false
}

// Set stores value under key, replacing an existing equal scalar key in
// place (keeping its position) as Python does.
func (d *Dict) Set(key, value any) {
	if d.index == nil {
		d.index = map[hashKey]int{}
	}
	hk, ok := keyOf(key)
	if ok {
		if i, found := d.index[hk]; found {
			d.vals[i] = value
			return
		}
		d.index[hk] = len(d.keys)
	}
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, value)
}

// Len returns the number of entries.
func (d *Dict) Len() int { return len(d.keys) }

// Keys returns the keys in insertion order.
func (d *Dict) Keys() []any { return d.keys }

// Values returns the values in insertion order.
func (d *Dict) Values() []any { return d.vals }

// Get returns the value of the str key k. Pickles written by Python 2 (or
// loaded with encoding="bytes") have bytes keys; Get falls back to a bytes
// key with the same content so callers need not care which they have.
func (d *Dict) Get(k string) (any, bool) {
	if i, ok := d.index[hashKey{kind: 's', s: k}]; ok {
		return d.vals[i], true
	}
	if i, ok := d.index[hashKey{kind: 'b', s: k}]; ok {
		return d.vals[i], true
	}
	return nil, false
}

// GetKey returns the value stored under a scalar key (int64, string, ...).
func (d *Dict) GetKey(k any) (any, bool) {
	hk, ok := keyOf(k)
	if !ok {
		return nil, false
	}
	i, found := d.index[hk]
	if !found {
		return nil, false
	}
	return d.vals[i], true
}

// Global is a class or function named by GLOBAL or STACK_GLOBAL and let
// through by the caller's Options.Find. If Call is nil, calling it (REDUCE,
// NEWOBJ) yields an *Object instead of running anything.
type Global struct {
	Module string
	Name   string
	// Call builds the value for REDUCE/NEWOBJ with the given arguments.
	Call func(args Tuple) (any, error)
	// Value, if non-nil, is what the global itself stands for when it is
	// used as a value rather than called (a dtype name, for instance).
	Value any
}

// FullName returns "module.name".
func (g *Global) FullName() string { return g.Module + "." + g.Name }

func (g *Global) String() string { return g.FullName() }

// Object is an instance of an allowed class, kept as plain data: the class,
// the arguments it was created with and the state BUILD gave it.
type Object struct {
	Class *Global
	Args  Tuple
	// Kwargs holds NEWOBJ_EX keyword arguments, nil otherwise.
	Kwargs *Dict
	// State is the argument of BUILD (usually a *Dict of attributes).
	State any
}

func (o *Object) String() string {
	return fmt.Sprintf("%s(%d args)", o.Class.FullName(), len(o.Args))
}

// Attr returns the attribute name of an object whose state is a dict, as
// plain classes and torch modules are pickled.
func (o *Object) Attr(name string) (any, bool) {
	switch s := o.State.(type) {
	case *Dict:
		return s.Get(name)
	case Tuple:
		// (dict, slotstate) form used by classes with __slots__.
		if len(s) == 2 {
			if d, ok := s[0].(*Dict); ok {
				return d.Get(name)
			}
		}
	}
	return nil, false
}

// TypeName names the Python type of a decoded value, for error messages.
func TypeName(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case *Set:
		return "set"
	case *Object:
		return t.Class.FullName()
	case *Global:
		return "global " + t.FullName()
	}
	s := fmt.Sprintf("%T", v)
	return strings.TrimPrefix(s, "*")
}
