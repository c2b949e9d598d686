// Package pickle decodes Python pickles (protocols 0 to 5) as plain data,
// without ever running code.
//
// The format is the one of CPython's Lib/pickle.py. Where Python would
// import a module and call a class (GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ,
// BUILD), this decoder only asks the caller's Options.Find whether the name
// is allowed; an allowed global either has a Go function that builds a
// value from the arguments (an OrderedDict, a tensor) or yields an *Object
// that records the class, its arguments and its state. Anything else is an
// error naming the global.
//
// Decoding is hardened against hostile input: every declared length is
// checked against the bytes left and against a cap before any allocation,
// stack, memo and MARK depth are capped, the decoder never recurses over the
// input, and a panic (a bug) is turned into an error.
package pickle

import (
	"errors"
	"fmt"
)

// Default limits, used where an Options field is zero.
const (
	DefaultMaxBytes     = 4 << 30 // one str/bytes value
	DefaultMaxStack     = 1 << 22 // values on the stack, all MARK levels
	DefaultMaxMemo      = 1 << 22 // memo entries
	DefaultMaxDepth     = 1 << 12 // MARKs open at once
	DefaultMaxLongBytes = 64      // LONG1/LONG4/LONG payload
	maxLine             = 1 << 16 // protocol 0 text argument

	// An honest pickle passes each value to at most a call or two, so the
	// work budget is a small multiple of the input size.
	workFactor = 4
	workBase   = 1 << 20
)

// Options configure a decode. The zero value forbids every global and every
// persistent id, which is enough for pickles of plain data.
type Options struct {
	// Find resolves a global "module.name". It returns nil (or an error) to
	// forbid it. See Allow and Std.
	Find func(module, name string) (*Global, error)
	// PersistentLoad resolves PERSID/BINPERSID ids (torch uses them for
	// storages). If nil, persistent ids are an error.
	PersistentLoad func(pid any) (any, error)
	// Build applies BUILD's state to a value that is not an *Object (one a
	// Call returned). If nil, such a BUILD is an error.
	Build func(obj, state any) (any, error)

	MaxBytes     int // longest str/bytes value
	MaxStack     int // stack entries, all MARK levels together
	MaxMemo      int // memo entries
	MaxDepth     int // MARKs open at once
	MaxLongBytes int // longest LONG1/LONG4 payload
}

// ForbiddenError reports a global that Options.Find did not allow.
type ForbiddenError struct {
	Module, Name string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("forbidden global %q", e.Module+"."+e.Name)
}

// ErrNoStop reports input that ended before the STOP opcode.
var ErrNoStop = errors.New("truncated pickle (no STOP opcode)")

func (o *Options) limits() Options {
	var l Options
	if o != nil {
		l = *o
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxStack, DefaultMaxStack)
	def(&l.MaxMemo, DefaultMaxMemo)
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxLongBytes, DefaultMaxLongBytes)
	return l
}

// Loads decodes the pickle at the start of data. Bytes after STOP are
// ignored.
func Loads(data []byte, opts *Options) (any, error) {
	v, _, err := Unpickle(data, 0, opts)
	return v, err
}

// Unpickle decodes one pickle starting at data[off:] and returns its value
// and the offset just after its STOP opcode, so that several pickles in a
// row (as in torch's legacy format) can be read one after another.
func Unpickle(data []byte, off int, opts *Options) (v any, next int, err error) {
	if off < 0 || off > len(data) {
		return nil, off, fmt.Errorf("pickle: offset %d outside %d bytes", off, len(data))
	}
	d := &decoder{data: data, pos: off, opts: opts.limits(), memo: map[int]any{},
		work: workFactor*(len(data)-off) + workBase}
	defer func() {
		if r := recover(); r != nil {
			v, next = nil, off
			err = fmt.Errorf("pickle: internal error at offset %d: %v", d.pos, r)
		}
	}()
	v, err = d.run()
	if err != nil {
		return nil, off, fmt.Errorf("pickle: %w (opcode 0x%02x at offset %d)", err, d.op, d.opPos)
	}
	return v, d.pos, nil
}
