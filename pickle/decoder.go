package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// decoder holds the state of one pickle machine run.
type decoder struct {
	data  []byte
	pos   int
	opts  Options
	stack []any
	// metastack keeps the stacks saved by MARK; its length is the MARK depth.
	metastack [][]any
	// stacked counts values on all stacks, so MaxStack bounds their sum.
	stacked int
	memo    map[int]any
	// work bounds what calls and BUILD merges may copy in total: memo
	// references let a small input hand the same big value to a call many
	// times, so each call is charged the size of its arguments.
	work  int
	op    byte
	opPos int
}

var errStackUnderflow = errors.New("stack underflow")

func (d *decoder) remaining() int { return len(d.data) - d.pos }

// take returns the next n bytes, checking n against what is left first so
// that a declared length can never cause an allocation or a panic.
func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, fmt.Errorf("needs %d bytes, %d left", n, d.remaining())
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) byte1() (int, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (d *decoder) uint16() (int, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

func (d *decoder) uint32() (int, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint32(b)), nil
}

func (d *decoder) uint64() (uint64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// sized reads a value of declared length n, checked against MaxBytes.
func (d *decoder) sized(n uint64) ([]byte, error) {
	if n > uint64(d.opts.MaxBytes) {
		return nil, fmt.Errorf("declared length %d exceeds the limit of %d", n, d.opts.MaxBytes)
	}
	if n > uint64(d.remaining()) {
		return nil, fmt.Errorf("declared length %d exceeds the %d bytes left", n, d.remaining())
	}
	return d.take(int(n))
}

// line reads a protocol 0 text argument up to its newline.
func (d *decoder) line() ([]byte, error) {
	end := min(len(d.data), d.pos+maxLine)
	i := bytes.IndexByte(d.data[d.pos:end], '\n')
	if i < 0 {
		return nil, fmt.Errorf("text argument without newline within %d bytes", end-d.pos)
	}
	b := d.data[d.pos : d.pos+i]
	d.pos += i + 1
	return b, nil
}

func (d *decoder) push(v any) error {
	if d.stacked >= d.opts.MaxStack {
		return fmt.Errorf("stack exceeds %d values", d.opts.MaxStack)
	}
	d.stack = append(d.stack, v)
	d.stacked++
	return nil
}

func (d *decoder) pop() (any, error) {
	n := len(d.stack)
	if n == 0 {
		return nil, errStackUnderflow
	}
	v := d.stack[n-1]
	d.stack[n-1] = nil
	d.stack = d.stack[:n-1]
	d.stacked--
	return v, nil
}

func (d *decoder) top() (any, error) {
	if len(d.stack) == 0 {
		return nil, errStackUnderflow
	}
	return d.stack[len(d.stack)-1], nil
}

func (d *decoder) mark() error {
	if len(d.metastack) >= d.opts.MaxDepth {
		return fmt.Errorf("more than %d MARKs open (too deeply nested)", d.opts.MaxDepth)
	}
	d.metastack = append(d.metastack, d.stack)
	d.stack = nil
	return nil
}

// popMark returns the values pushed since the last MARK and restores the
// stack that MARK saved.
func (d *decoder) popMark() ([]any, error) {
	n := len(d.metastack)
	if n == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	items := d.stack
	d.stack = d.metastack[n-1]
	d.metastack[n-1] = nil
	d.metastack = d.metastack[:n-1]
	d.stacked -= len(items)
	return items, nil
}

func (d *decoder) memoPut(idx int) error {
	v, err := d.top()
	if err != nil {
		return err
	}
	if idx < 0 {
		return fmt.Errorf("negative memo index %d", idx)
	}
	if _, ok := d.memo[idx]; !ok && len(d.memo) >= d.opts.MaxMemo {
		return fmt.Errorf("memo exceeds %d entries", d.opts.MaxMemo)
	}
	d.memo[idx] = v
	return nil
}

func (d *decoder) memoGet(idx int) error {
	v, ok := d.memo[idx]
	if !ok {
		return fmt.Errorf("memo index %d not defined", idx)
	}
	return d.push(v)
}

// run executes opcodes until STOP.
func (d *decoder) run() (any, error) {
	for {
		if d.pos >= len(d.data) {
			d.op, d.opPos = 0, d.pos
			return nil, ErrNoStop
		}
		d.opPos = d.pos
		d.op = d.data[d.pos]
		d.pos++
		if d.op == opStop {
			if len(d.metastack) != 0 {
				return nil, errors.New("STOP with an open MARK")
			}
			if len(d.stack) != 1 {
				return nil, fmt.Errorf("STOP with %d values on the stack, want 1", len(d.stack))
			}
			return d.stack[0], nil
		}
		if err := d.step(d.op); err != nil {
			return nil, err
		}
	}
}

// charge spends n units of the work budget.
func (d *decoder) charge(n int) error {
	d.work -= n
	if d.work < 0 {
		return errors.New("input reuses large values too often (work limit exceeded)")
	}
	return nil
}

// argCost is what a call with these arguments may copy: the bytes of its
// strings and the items of its containers, one level deep.
func argCost(args Tuple) int {
	n := 1 + len(args)
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		case *List:
			n += len(v.Items)
		case Tuple:
			n += len(v)
		case *Dict:
			n += v.Len()
		case *Set:
			n += len(v.Items)
		}
	}
	return n
}
