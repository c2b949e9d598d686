package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Call is a value that the unpickler builds by calling Func with Args
// (REDUCE), as Python pickles an object through its __reduce__. Items,
// when non-nil, are then stored into the result (SETITEMS), as an
// OrderedDict carries its entries; State, when non-nil, is applied by
// BUILD. Dumps encodes a *Call once and refers to it through the memo
// wherever else it appears.
type Call struct {
	Func  *Global
	Args  Tuple
	Items *Dict
	State any
}

// OrderedDict returns the call that rebuilds d as a collections.OrderedDict,
// keeping its order.
func OrderedDict(d *Dict) *Call {
	return &Call{Func: &Global{Module: "collections", Name: "OrderedDict"}, Args: Tuple{},
		Items: d}
}

// PersistentID is a reference that the unpickler resolves with its
// persistent_load instead of decoding (BINPERSID): torch names storages so.
type PersistentID struct {
	ID any
}

// maxEncodeDepth bounds how deeply Dumps follows nested values, so that a
// tuple that contains itself is an error rather than a stack overflow.
const maxEncodeDepth = 1000

// batchSize is how many list items or dict entries one APPENDS or SETITEMS
// carries, as CPython's pickler batches them.
const batchSize = 1000

// Dumps encodes v as a pickle of protocol 2, the protocol torch.save uses,
// so that Python's pickle.load and this package's Loads both read it.
//
// v may hold nil, bool, int, int64, float64, string, []byte, Tuple, *List,
// *Dict (a plain dict), *Global, *Call and PersistentID values. Pointers
// that appear more than once (and the globals, by name) are written once
// and then fetched from the memo, so shared and self-referencing lists and
// dicts keep their shape.
func Dumps(v any) ([]byte, error) {
	e := &encoder{memo: map[any]int{}}
	e.buf.Write([]byte{opProto, 2})
	if err := e.encode(v, 0); err != nil {
		return nil, fmt.Errorf("pickle: encode: %w", err)
	}
	e.buf.WriteByte(opStop)
	return e.buf.Bytes(), nil
}

// encoder holds the state of one Dumps.
type encoder struct {
	buf  bytes.Buffer
	memo map[any]int // *List, *Dict, *Call or a global's full name
}

func (e *encoder) encode(v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("values nested deeper than %d", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		e.buf.WriteByte(opNone)
	case bool:
		e.encodeBool(x)
	case int:
		e.encodeInt(int64(x))
	case int64:
		e.encodeInt(x)
	case float64:
		e.buf.WriteByte(opBinFloat)
		e.buf.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(x)))
	case string:
		e.encodeString(x)
	case []byte:
		return e.encodeBytes(x, depth)
	case Tuple:
		return e.encodeTuple(x, depth)
	case *List:
		return e.encodeList(x, depth)
	case *Dict:
		return e.encodeDict(x, depth)
	case *Global:
		return e.encodeGlobal(x)
	case *Call:
		return e.encodeCall(x, depth)
	case PersistentID:
		if err := e.encode(x.ID, depth+1); err != nil {
			return err
		}
		e.buf.WriteByte(opBinPersID)
	default:
		return fmt.Errorf("cannot pickle a Go %T", v)
	}
	return nil
}

func (e *encoder) encodeBool(b bool) {
	if b {
		e.buf.WriteByte(opNewTrue)
	} else {
		e.buf.WriteByte(opNewFalse)
	}
}

// encodeInt picks the shortest opcode, as CPython does: BININT1 and
// BININT2 for small unsigned values, BININT for int32, LONG1 beyond.
func (e *encoder) encodeInt(i int64) {
	switch {
	case i >= 0 && i <= math.MaxUint8:
		e.buf.Write([]byte{opBinInt1, byte(i)})
	case i >= 0 && i <= math.MaxUint16:
		e.buf.WriteByte(opBinInt2)
		e.buf.Write(binary.LittleEndian.AppendUint16(nil, uint16(i)))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		e.buf.WriteByte(opBinInt)
		e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(i))))
	default:
		b := twosComplement(i)
		e.buf.Write([]byte{opLong1, byte(len(b))})
		e.buf.Write(b)
	}
}

// twosComplement returns the shortest little-endian two's complement bytes
// of i, the payload of LONG1.
func twosComplement(i int64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(i))
	for len(b) > 1 {
		last, prev := b[len(b)-1], b[len(b)-2]
		if last == 0 && prev&0x80 == 0 || last == 0xff && prev&0x80 != 0 {
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

func (e *encoder) encodeString(s string) {
	e.buf.WriteByte(opBinUnicode)
	e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	e.buf.WriteString(s)
}

// encodeBytes writes bytes as protocol 2 must, since it has no bytes
// opcode: _codecs.encode(latin1 text, "latin1"), which is what CPython
// writes for bytes at protocol 2.
func (e *encoder) encodeBytes(b []byte, depth int) error {
	runes := make([]rune, len(b))
	for i, c := range b {
		runes[i] = rune(c)
	}
	return e.encodeCall(&Call{Func: &Global{Module: "_codecs", Name: "encode"},
		Args: Tuple{string(runes), "latin1"}}, depth)
}

func (e *encoder) encodeTuple(t Tuple, depth int) error {
	if len(t) == 0 {
		e.buf.WriteByte(opEmptyTuple)
		return nil
	}
	if len(t) > 3 {
		e.buf.WriteByte(opMark)
	}
	for _, item := range t {
		if err := e.encode(item, depth+1); err != nil {
			return err
		}
	}
	switch len(t) {
	case 1:
		e.buf.WriteByte(opTuple1)
	case 2:
		e.buf.WriteByte(opTuple2)
	case 3:
		e.buf.WriteByte(opTuple3)
	default:
		e.buf.WriteByte(opTuple)
	}
	return nil
}
