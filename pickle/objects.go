package pickle

import (
	"errors"
	"fmt"
	"strings"
)

func (d *decoder) stepObject(op byte) (bool, error) {
	switch op {
	case opGlobal, opInst:
		mod, err := d.line()
		if err != nil {
			return true, err
		}
		name, err := d.line()
		if err != nil {
			return true, err
		}
		g, err := d.find(string(mod), string(name))
		if err != nil {
			return true, err
		}
		if op == opGlobal {
			return true, d.push(g)
		}
		args, err := d.popMark()
		if err != nil {
			return true, err
		}
		return true, d.callPush(g, Tuple(args), nil)
	case opStackGlobal:
		return true, d.stackGlobal()
	case opReduce, opNewObj:
		args, err := d.pop()
		if err != nil {
			return true, err
		}
		return true, d.callValue(args, nil)
	case opNewObjEx:
		kw, err := d.pop()
		if err != nil {
			return true, err
		}
		args, err := d.pop()
		if err != nil {
			return true, err
		}
		return true, d.callValue(args, kw)
	case opObj:
		items, err := d.popMark()
		if err != nil {
			return true, err
		}
		if len(items) == 0 {
			return true, errStackUnderflow
		}
		return true, d.callPush(items[0], Tuple(items[1:]), nil)
	case opBuild:
		return true, d.build()
	case opPersID, opBinPersID:
		return true, d.persistent(op)
	}
	return false, nil
}

func (d *decoder) find(mod, name string) (*Global, error) {
	if d.opts.Find == nil {
		return nil, &ForbiddenError{Module: mod, Name: name}
	}
	g, err := d.opts.Find(mod, name)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, &ForbiddenError{Module: mod, Name: name}
	}
	return g, nil
}

func (d *decoder) stackGlobal() error {
	name, err := d.pop()
	if err != nil {
		return err
	}
	mod, err := d.pop()
	if err != nil {
		return err
	}
	ms, ok1 := mod.(string)
	ns, ok2 := name.(string)
	if !ok1 || !ok2 {
		return fmt.Errorf("STACK_GLOBAL needs two str, got %s and %s", TypeName(mod), TypeName(name))
	}
	g, err := d.find(ms, ns)
	if err != nil {
		return err
	}
	return d.push(g)
}

// callValue pops the callable below args (already popped) and pushes the
// result of calling it.
func (d *decoder) callValue(args, kw any) error {
	callable, err := d.pop()
	if err != nil {
		return err
	}
	t, ok := args.(Tuple)
	if !ok {
		return fmt.Errorf("call arguments must be a tuple, got %s", TypeName(args))
	}
	var kwargs *Dict
	if kw != nil {
		if kwargs, ok = kw.(*Dict); !ok {
			return fmt.Errorf("keyword arguments must be a dict, got %s", TypeName(kw))
		}
	}
	return d.callPush(callable, t, kwargs)
}

func (d *decoder) callPush(callable any, args Tuple, kwargs *Dict) error {
	g, ok := callable.(*Global)
	if !ok {
		return fmt.Errorf("cannot call a value of type %s", TypeName(callable))
	}
	if err := d.charge(argCost(args)); err != nil {
		return err
	}
	if g.Call == nil {
		return d.push(&Object{Class: g, Args: args, Kwargs: kwargs})
	}
	if kwargs != nil && kwargs.Len() > 0 {
		return fmt.Errorf("%s: keyword arguments are not supported", g.FullName())
	}
	v, err := g.Call(args)
	if err != nil {
		return fmt.Errorf("%s: %w", g.FullName(), err)
	}
	return d.push(v)
}

func (d *decoder) build() error {
	state, err := d.pop()
	if err != nil {
		return err
	}
	obj, err := d.top()
	if err != nil {
		return err
	}
	if o, ok := obj.(*Object); ok {
		if o.State != nil {
			if err := d.charge(argCost(Tuple{state})); err != nil {
				return err
			}
			if merged, ok := mergeState(o.State, state); ok {
				o.State = merged
				return nil
			}
		}
		o.State = state
		return nil
	}
	if dict, ok := obj.(*Dict); ok && dict.State == nil {
		dict.State = state
		return nil
	}
	if d.opts.Build == nil {
		return fmt.Errorf("BUILD on a value of type %s", TypeName(obj))
	}
	v, err := d.opts.Build(obj, state)
	if err != nil {
		return err
	}
	d.stack[len(d.stack)-1] = v
	return nil
}

// mergeState adds a second BUILD's dict to an existing dict state.
func mergeState(old, state any) (any, bool) {
	od, ok1 := old.(*Dict)
	nd, ok2 := state.(*Dict)
	if !ok1 || !ok2 {
		return nil, false
	}
	for i, k := range nd.Keys() {
		od.Set(k, nd.Values()[i])
	}
	return od, true
}

func (d *decoder) persistent(op byte) error {
	var pid any
	if op == opPersID {
		b, err := d.line()
		if err != nil {
			return err
		}
		pid = string(b)
	} else {
		v, err := d.pop()
		if err != nil {
			return err
		}
		pid = v
	}
	if d.opts.PersistentLoad == nil {
		return errors.New("persistent id without a PersistentLoad hook")
	}
	v, err := d.opts.PersistentLoad(pid)
	if err != nil {
		return fmt.Errorf("persistent id: %w", err)
	}
	return d.push(v)
}

// splitName splits "module.name" at its last dot.
func splitName(full string) (string, string) {
	i := strings.LastIndexByte(full, '.')
	if i < 0 {
		return "", full
	}
	return full[:i], full[i+1:]
}
