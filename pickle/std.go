package pickle

import (
	"fmt"
	"strings"
)

// Std returns the Go meaning of a few harmless standard-library globals
// that pickles of plain data use, or nil for any other name:
//
//   - collections.OrderedDict: an empty *Dict (SETITEMS then fills it)
//   - builtins.set, builtins.frozenset (and __builtin__.*): a *Set
//   - _codecs.encode(str, "latin1"): []byte, how protocol 2 writes bytes
//   - builtins.bytearray, builtins.bytes: []byte
//   - copy_reg._reconstructor / copyreg._reconstructor(cls, base, state):
//     an *Object of cls, how protocols 0 and 1 create instances
//
// Std never allows anything by itself: a Find function decides whether to
// use it.
func Std(module, name string) *Global {
	g := &Global{Module: module, Name: name}
	switch module + "." + name {
	case "collections.OrderedDict":
		g.Call = callOrderedDict
	case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset":
		g.Call = callSet
	case "_codecs.encode":
		g.Call = callEncode
	case "builtins.bytearray", "builtins.bytes", "__builtin__.bytearray", "__builtin__.bytes":
		g.Call = callBytes
	case "copy_reg._reconstructor", "copyreg._reconstructor":
		g.Call = callReconstructor
	default:
		return nil
	}
	return g
}

// Allow returns a Find function that lets through exactly the given
// "module.name" globals: those Std knows get their Go meaning, the others
// become plain *Object values when called. Everything else is forbidden.
func Allow(names ...string) func(module, name string) (*Global, error) {
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[n] = true
	}
	return func(module, name string) (*Global, error) {
		if !allowed[module+"."+name] {
			return nil, &ForbiddenError{Module: module, Name: name}
		}
		if g := Std(module, name); g != nil {
			return g, nil
		}
		return &Global{Module: module, Name: name}, nil
	}
}

// NewGlobal returns the Global for "module.name" built from its full name.
func NewGlobal(full string, call func(Tuple) (any, error)) *Global {
	m, n := splitName(full)
	return &Global{Module: m, Name: n, Call: call}
}

func callOrderedDict(args Tuple) (any, error) {
	// Python pickles an OrderedDict as a call without arguments followed by
	// SETITEMS; other forms are not needed.
	if len(args) != 0 {
		return nil, fmt.Errorf("want no arguments, got %d", len(args))
	}
	return NewDict(), nil
}

func callSet(args Tuple) (any, error) {
	if len(args) == 0 {
		return &Set{}, nil
	}
	switch v := args[0].(type) {
	case *List:
		return &Set{Items: append([]any(nil), v.Items...)}, nil
	case Tuple:
		return &Set{Items: append([]any(nil), v...)}, nil
	}
	return nil, fmt.Errorf("want a list, got %s", TypeName(args[0]))
}

// callEncode implements _codecs.encode(text, "latin1"), with which Python 3
// writes bytes at protocol 2: each code point of text is one byte.
func callEncode(args Tuple) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("want 2 arguments, got %d", len(args))
	}
	text, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("want (str, str), got (%s, %s)",
			TypeName(args[0]), TypeName(args[1]))
	}
	switch strings.ToLower(strings.ReplaceAll(enc, "-", "")) {
	case "latin1", "iso88591", "latin":
	default:
		return nil, fmt.Errorf("unsupported encoding %q", enc)
	}
	out := make([]byte, 0, len(text))
	for _, r := range text {
		if r > 0xff {
			return nil, fmt.Errorf("code point U+%04X outside latin1", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

func callBytes(args Tuple) (any, error) {
	if len(args) == 0 {
		return []byte{}, nil
	}
	if b, ok := args[0].([]byte); ok {
		return append([]byte(nil), b...), nil
	}
	if len(args) == 2 {
		return callEncode(args)
	}
	return nil, fmt.Errorf("unsupported arguments (%s)", TypeName(args[0]))
}

func callReconstructor(args Tuple) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("want 3 arguments, got %d", len(args))
	}
	cls, ok := args[0].(*Global)
	if !ok {
		return nil, fmt.Errorf("want a class, got %s", TypeName(args[0]))
	}
	if cls.Call != nil {
		return cls.Call(Tuple{})
	}
	return &Object{Class: cls, State: args[2]}, nil
}
