package pickle

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Opcodes, as named in CPython's Lib/pickle.py.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'

	// Protocol 2.
	opProto    = 0x80
	opNewObj   = 0x81
	opExt1     = 0x82
	opExt2     = 0x83
	opExt4     = 0x84
	opTuple1   = 0x85
	opTuple2   = 0x86
	opTuple3   = 0x87
	opNewTrue  = 0x88
	opNewFalse = 0x89
	opLong1    = 0x8a
	opLong4    = 0x8b

	// Protocol 3.
	opBinBytes      = 'B'
	opShortBinBytes = 'C'

	// Protocol 4.
	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opBinBytes8       = 0x8e
	opEmptySet        = 0x8f
	opAddItems        = 0x90
	opFrozenSet       = 0x91
	opNewObjEx        = 0x92
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95

	// Protocol 5.
	opByteArray8     = 0x96
	opNextBuffer     = 0x97
	opReadOnlyBuffer = 0x98
)

// step executes one opcode other than STOP.
func (d *decoder) step(op byte) error {
	switch op {
	case opProto:
		p, err := d.byte1()
		if err == nil && p > 5 {
			err = fmt.Errorf("unsupported pickle protocol %d", p)
		}
		return err
	case opFrame:
		n, err := d.uint64()
		if err == nil && n > uint64(d.remaining()) {
			err = fmt.Errorf("frame of %d bytes exceeds the %d bytes left", n, d.remaining())
		}
		return err
	case opNone:
		return d.push(nil)
	case opNewTrue:
		return d.push(true)
	case opNewFalse:
		return d.push(false)
	case opReadOnlyBuffer:
		_, err := d.top()
		return err
	case opNextBuffer:
		return fmt.Errorf("out-of-band buffers are not supported")
	case opExt1, opExt2, opExt4:
		return fmt.Errorf("extension registry codes are not supported")
	}
	if handled, err := d.stepNumber(op); handled {
		return err
	}
	if handled, err := d.stepText(op); handled {
		return err
	}
	if handled, err := d.stepStack(op); handled {
		return err
	}
	if handled, err := d.stepContainer(op); handled {
		return err
	}
	if handled, err := d.stepObject(op); handled {
		return err
	}
	return fmt.Errorf("invalid opcode 0x%02x", op)
}

func (d *decoder) stepNumber(op byte) (bool, error) {
	switch op {
	case opBinInt1:
		v, err := d.byte1()
		return true, d.pushErr(int64(v), err)
	case opBinInt2:
		v, err := d.uint16()
		return true, d.pushErr(int64(v), err)
	case opBinInt:
		v, err := d.uint32()
		return true, d.pushErr(int64(int32(uint32(v))), err)
	case opLong1:
		n, err := d.byte1()
		if err != nil {
			return true, err
		}
		return true, d.long(uint64(n))
	case opLong4:
		n, err := d.uint32()
		if err != nil {
			return true, err
		}
		return true, d.long(uint64(int32(uint32(n))))
	case opBinFloat:
		b, err := d.take(8)
		if err != nil {
			return true, err
		}
		return true, d.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opInt, opLong, opFloat:
		b, err := d.line()
		if err != nil {
			return true, err
		}
		v, err := parseTextNumber(op, string(b))
		return true, d.pushErr(v, err)
	}
	return false, nil
}

func (d *decoder) pushErr(v any, err error) error {
	if err != nil {
		return err
	}
	return d.push(v)
}

func (d *decoder) long(n uint64) error {
	if n > uint64(d.opts.MaxLongBytes) {
		return fmt.Errorf("LONG of %d bytes exceeds the limit of %d", int64(n), d.opts.MaxLongBytes)
	}
	b, err := d.take(int(n))
	if err != nil {
		return err
	}
	return d.push(decodeLong(b))
}

func (d *decoder) stepText(op byte) (bool, error) {
	var n uint64
	var err error
	switch op {
	case opShortBinString, opShortBinBytes, opShortBinUnicode:
		var v int
		v, err = d.byte1()
		n = uint64(v)
	case opBinString:
		var v int
		v, err = d.uint32()
		if int32(uint32(v)) < 0 {
			return true, fmt.Errorf("negative BINSTRING length %d", int32(uint32(v)))
		}
		n = uint64(v)
	case opBinBytes, opBinUnicode:
		var v int
		v, err = d.uint32()
		n = uint64(v)
	case opBinBytes8, opBinUnicode8, opByteArray8:
		n, err = d.uint64()
	case opString, opUnicode:
		return true, d.textString(op)
	default:
		return false, nil
	}
	if err != nil {
		return true, err
	}
	b, err := d.sized(n)
	if err != nil {
		return true, err
	}
	switch op {
	case opShortBinUnicode, opBinUnicode, opBinUnicode8:
		return true, d.push(string(b))
	}
	// Python 2 str (BINSTRING) holds raw bytes, such as numpy array data, so
	// it decodes as bytes, like Python 3 does with encoding="bytes".
	return true, d.push(append([]byte(nil), b...))
}

func (d *decoder) textString(op byte) error {
	b, err := d.line()
	if err != nil {
		return err
	}
	if op == opUnicode {
		s, err := rawUnicodeEscape(b)
		return d.pushErr(s, err)
	}
	v, err := unquotePy(b)
	return d.pushErr(v, err)
}

func (d *decoder) stepStack(op byte) (bool, error) {
	switch op {
	case opMark:
		return true, d.mark()
	case opPop:
		if len(d.stack) == 0 {
			// Python pops a whole MARK level when the stack is empty.
			_, err := d.popMark()
			return true, err
		}
		_, err := d.pop()
		return true, err
	case opPopMark:
		_, err := d.popMark()
		return true, err
	case opDup:
		v, err := d.top()
		return true, d.pushErr(v, err)
	case opPut:
		idx, err := d.lineIndex()
		if err != nil {
			return true, err
		}
		return true, d.memoPut(idx)
	case opBinPut, opLongBinPut, opBinGet, opLongBinGet:
		var idx int
		var err error
		if op == opBinPut || op == opBinGet {
			idx, err = d.byte1()
		} else {
			idx, err = d.uint32()
		}
		if err != nil {
			return true, err
		}
		if op == opBinPut || op == opLongBinPut {
			return true, d.memoPut(idx)
		}
		return true, d.memoGet(idx)
	case opMemoize:
		return true, d.memoPut(len(d.memo))
	case opGet:
		idx, err := d.lineIndex()
		if err != nil {
			return true, err
		}
		return true, d.memoGet(idx)
	}
	return false, nil
}

// lineIndex reads the decimal memo index of PUT and GET (protocol 0).
func (d *decoder) lineIndex() (int, error) {
	b, err := d.line()
	if err != nil {
		return 0, err
	}
	return parseIndex(b)
}
