package convert

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mocokit/mocokit/convert/torchfile"
	"github.com/mocokit/mocokit/pickle"
)

// Load reads a PyTorch file and recognises its layout.
func Load(path string) (*Checkpoint, error) {
	v, err := torchfile.ReadFile(path, nil)
	var forbidden *pickle.ForbiddenError
	if errors.As(err, &forbidden) && forbidden.Module == "__main__" {
		return nil, fmt.Errorf("%w; a model class of your own script cannot be "+
			"read without running its code: save model.state_dict() instead", err)
	}
	if err != nil {
		return nil, err
	}
	ck, err := fromObject(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ck, nil
}

// fromObject recognises what torch.save wrote: a module, a checkpoint dict
// holding a state_dict, or a state_dict itself.
func fromObject(v any) (*Checkpoint, error) {
	ck := &Checkpoint{Epoch: -1, BestAcc1: -1}
	switch obj := v.(type) {
	case *pickle.Object:
		ck.Arch, ck.Module = obj.Class.FullName(), obj
		if err := ck.setStateDict(obj); err != nil {
			return nil, err
		}
		ck.classify(true, false)
		return ck, nil
	case *pickle.Dict:
		sd, ok := obj.Get("state_dict")
		if !ok {
			if !allTensors(obj) {
				return nil, fmt.Errorf("a dict with keys %s: neither a state_dict "+
					"nor a checkpoint with one", dictKeys(obj, 10))
			}
			sd = obj
		}
		if err := ck.setStateDict(sd); err != nil {
			return nil, err
		}
		bestAcc, err := ck.readEntries(obj)
		if err != nil {
			return nil, err
		}
		ck.classify(false, bestAcc)
		return ck, nil
	}
	return nil, fmt.Errorf("holds a %s, not a model, checkpoint or state_dict",
		pickle.TypeName(v))
}

func (ck *Checkpoint) setStateDict(v any) error {
	named, err := torchfile.StateDict(v)
	if err != nil {
		return err
	}
	if len(named) == 0 {
		return fmt.Errorf("the state_dict is empty")
	}
	ck.Tensors = make(map[string]*torchfile.Tensor, len(named))
	for _, n := range named {
		ck.Tensors[n.Name] = n.Tensor
		ck.Order = append(ck.Order, n.Name)
	}
	return nil
}

// readEntries reads epoch, arch and best_acc1 from a checkpoint dict and
// reports whether best_acc1 is present (main_lincls.py stores it).
func (ck *Checkpoint) readEntries(d *pickle.Dict) (bool, error) {
	if v, ok := d.Get("arch"); ok {
		if s, ok := v.(string); ok {
			ck.Arch = s
		}
	}
	if v, ok := d.Get("epoch"); ok {
		if e, ok := v.(int64); ok {
			ck.Epoch = int(e)
		}
	}
	v, ok := d.Get("best_acc1")
	if !ok {
		return false, nil
	}
	acc, err := scalar(v)
	if err != nil {
		return false, fmt.Errorf("best_acc1: %w", err)
	}
	ck.BestAcc1 = acc
	return true, nil
}

// scalar reads a Python number or a one-element tensor (main_lincls.py
// stores best_acc1 as a tensor).
func scalar(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case *torchfile.Tensor:
		f, err := x.Float32()
		if err != nil {
			return 0, err
		}
		if len(f) != 1 {
			return 0, fmt.Errorf("a tensor of shape %v, want one number", x.Shape)
		}
		return float64(f[0]), nil
	}
	return 0, fmt.Errorf("a %s, want a number", pickle.TypeName(v))
}

func allTensors(d *pickle.Dict) bool {
	for _, v := range d.Values() {
		if _, ok := v.(*torchfile.Tensor); !ok {
			return false
		}
	}
	return d.Len() > 0
}

func dictKeys(d *pickle.Dict, n int) string {
	var keys []string
	for _, k := range d.Keys() {
		if len(keys) == n {
			keys = append(keys, "...")
			break
		}
		if s, ok := k.(string); ok {
			keys = append(keys, s)
		} else {
			keys = append(keys, "a "+pickle.TypeName(k))
		}
	}
	return "[" + strings.Join(keys, ", ") + "]"
}
