package pickle

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// fetch writes a memo GET for key and reports whether key was memoised.
func (e *encoder) fetch(key any) bool {
	i, ok := e.memo[key]
	if !ok {
		return false
	}
	if i <= 0xff {
		e.buf.Write([]byte{opBinGet, byte(i)})
	} else {
		e.buf.WriteByte(opLongBinGet)
		e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
	return true
}

// put memoises the value on top of the stack under key.
func (e *encoder) put(key any) {
	i := len(e.memo)
	e.memo[key] = i
	if i <= 0xff {
		e.buf.Write([]byte{opBinPut, byte(i)})
	} else {
		e.buf.WriteByte(opLongBinPut)
		e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
}

// encodeList memoises the empty list before its items, so that a list
// that contains itself refers back to it as Python's pickler does.
func (e *encoder) encodeList(l *List, depth int) error {
	if l == nil {
		return fmt.Errorf("nil *List")
	}
	if e.fetch(l) {
		return nil
	}
	e.buf.WriteByte(opEmptyList)
	e.put(l)
	for start := 0; start < len(l.Items); start += batchSize {
		e.buf.WriteByte(opMark)
		for _, item := range l.Items[start:min(start+batchSize, len(l.Items))] {
			if err := e.encode(item, depth+1); err != nil {
				return err
			}
		}
		e.buf.WriteByte(opAppends)
	}
	return nil
}

// encodeDict writes a plain dict. Its State is what BUILD gave a dict
// subclass when it was decoded; a plain dict has none to write back.
func (e *encoder) encodeDict(d *Dict, depth int) error {
	if d == nil {
		return fmt.Errorf("nil *Dict")
	}
	if e.fetch(d) {
		return nil
	}
	if d.State != nil {
		return fmt.Errorf("a plain dict cannot carry state; use a *Call")
	}
	e.buf.WriteByte(opEmptyDict)
	e.put(d)
	return e.setItems(d, depth)
}

// setItems stores d's entries into the dict on top of the stack.
func (e *encoder) setItems(d *Dict, depth int) error {
	keys, vals := d.Keys(), d.Values()
	for start := 0; start < len(keys); start += batchSize {
		e.buf.WriteByte(opMark)
		for i := start; i < min(start+batchSize, len(keys)); i++ {
			if err := e.encode(keys[i], depth+1); err != nil {
				return err
			}
			if err := e.encode(vals[i], depth+1); err != nil {
				return err
			}
		}
		e.buf.WriteByte(opSetItems)
	}
	return nil
}

// encodeGlobal writes GLOBAL, whose operands are lines of text: a name
// with a newline in it could not be read back.
func (e *encoder) encodeGlobal(g *Global) error {
	if g == nil {
		return fmt.Errorf("nil *Global")
	}
	if g.Module == "" || g.Name == "" || strings.ContainsAny(g.Module+g.Name, "\n\r") {
		return fmt.Errorf("bad global %q", g.FullName())
	}
	if e.fetch(g.FullName()) {
		return nil
	}
	e.buf.WriteByte(opGlobal)
	e.buf.WriteString(g.Module + "\n" + g.Name + "\n")
	e.put(g.FullName())
	return nil
}

// encodeCall writes Func(*Args) with REDUCE, then the items and state.
// The result is memoised before them, as CPython's save_reduce does.
func (e *encoder) encodeCall(c *Call, depth int) error {
	if c == nil {
		return fmt.Errorf("nil *Call")
	}
	if e.fetch(c) {
		return nil
	}
	if err := e.encodeGlobal(c.Func); err != nil {
		return err
	}
	args := c.Args
	if args == nil {
		args = Tuple{}
	}
	if err := e.encodeTuple(args, depth+1); err != nil {
		return err
	}
	e.buf.WriteByte(opReduce)
	e.put(c)
	if c.Items != nil {
		if err := e.setItems(c.Items, depth); err != nil {
			return err
		}
	}
	if c.State != nil {
		if err := e.encode(c.State, depth+1); err != nil {
			return err
		}
		e.buf.WriteByte(opBuild)
	}
	return nil
}
