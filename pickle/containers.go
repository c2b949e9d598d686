package pickle

import "fmt"

func (d *decoder) stepContainer(op byte) (bool, error) {
	switch op {
	case opEmptyTuple:
		return true, d.push(Tuple{})
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(d.stack) < n {
			return true, errStackUnderflow
		}
		t := append(Tuple(nil), d.stack[len(d.stack)-n:]...)
		d.stack = d.stack[:len(d.stack)-n]
		d.stacked -= n
		return true, d.push(t)
	case opTuple:
		items, err := d.popMark()
		return true, d.pushErr(Tuple(items), err)
	case opEmptyList:
		return true, d.push(&List{})
	case opList:
		items, err := d.popMark()
		return true, d.pushErr(&List{Items: items}, err)
	case opEmptyDict:
		return true, d.push(NewDict())
	case opDict:
		items, err := d.popMark()
		if err != nil {
			return true, err
		}
		dict := NewDict()
		return true, d.pushErr(dict, setPairs(dict, items))
	case opEmptySet:
		return true, d.push(&Set{})
	case opFrozenSet:
		items, err := d.popMark()
		return true, d.pushErr(&Set{Items: items}, err)
	case opAppend, opAppends, opSetItem, opSetItems, opAddItems:
		return true, d.fill(op)
	}
	return false, nil
}

// fill runs the opcodes that add items to the container below them.
func (d *decoder) fill(op byte) error {
	var items []any
	var err error
	switch op {
	case opAppend:
		var v any
		v, err = d.pop()
		items = []any{v}
	case opSetItem:
		if len(d.stack) < 2 {
			return errStackUnderflow
		}
		items = append([]any(nil), d.stack[len(d.stack)-2:]...)
		d.stack = d.stack[:len(d.stack)-2]
		d.stacked -= 2
	default:
		items, err = d.popMark()
	}
	if err != nil {
		return err
	}
	target, err := d.top()
	if err != nil {
		return err
	}
	switch t := target.(type) {
	case *List:
		if op == opAppend || op == opAppends {
			t.Items = append(t.Items, items...)
			return nil
		}
	case *Set:
		if op == opAddItems {
			t.Items = append(t.Items, items...)
			return nil
		}
	case *Dict:
		if op == opSetItem || op == opSetItems {
			return setPairs(t, items)
		}
	case *Object:
		// list and dict subclasses pickle their items this way.
		return d.fillObject(t, op, items)
	}
	return fmt.Errorf("cannot add items to %s", TypeName(target))
}

// fillObject keeps the items given to an instance of a list or dict
// subclass in its state, under "__items__".
func (d *decoder) fillObject(o *Object, op byte, items []any) error {
	st, ok := o.State.(*Dict)
	if o.State == nil {
		st = NewDict()
		o.State = st
	} else if !ok {
		return fmt.Errorf("cannot add items to %s", TypeName(o))
	}
	if op == opSetItem || op == opSetItems {
		sub := NewDict()
		if err := setPairs(sub, items); err != nil {
			return err
		}
		st.Set("__items__", sub)
		return nil
	}
	st.Set("__items__", &List{Items: items})
	return nil
}

func setPairs(dict *Dict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of items (%d) for a dict", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if !hashable(items[i]) {
			return fmt.Errorf("unhashable dict key of type %s", TypeName(items[i]))
		}
		dict.Set(items[i], items[i+1])
	}
	return nil
}

// hashable rejects the mutable containers Python refuses as dict keys.
func hashable(k any) bool {
	switch k.(type) {
	case *List, *Dict, *Set:
		return false
	}
	return true
}
