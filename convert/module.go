package convert

import (
	"fmt"

	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/pickle"
)

// checkModuleStem compares the stem inferred from conv1's weights with what
// a whole pickled model says about itself: its max pool (a MaxPool2d or an
// Identity) and conv1's stride. A state_dict records neither, so this check
// is only possible for pickled models.
func checkModuleStem(m *pickle.Object, stem models.Stem) error {
	if m != nil && m.Class.Name == "DataParallel" {
		m = submodule(m, "module")
	}
	if m == nil {
		return nil
	}
	pool := submodule(m, "maxpool")
	hasPool := pool != nil && pool.Class.Name == "MaxPool2d"
	stride := -1
	if conv := submodule(m, "conv1"); conv != nil {
		stride = firstInt(attr(conv, "stride"))
	}
	wantPool, wantStride := stem == models.StemImageNet, 1
	if stem == models.StemImageNet {
		wantStride = 2
	}
	if hasPool == wantPool && (stride < 0 || stride == wantStride) {
		return nil
	}
	return fmt.Errorf("the model's stem (conv1 stride %d, %s) is neither "+
		"mocokit's imagenet stem (7x7/2 conv1 and a max pool) nor its cifar stem "+
		"(3x3/1 conv1, no max pool)", stride, poolName(pool))
}

func poolName(pool *pickle.Object) string {
	if pool == nil {
		return "no maxpool"
	}
	return "maxpool " + pool.Class.Name
}

// submodule returns the child module name of m, or nil.
func submodule(m *pickle.Object, name string) *pickle.Object {
	mods, ok := attr(m, "_modules").(*pickle.Dict)
	if !ok {
		return nil
	}
	v, _ := mods.Get(name)
	child, _ := v.(*pickle.Object)
	return child
}

func attr(o *pickle.Object, name string) any {
	v, _ := o.Attr(name)
	return v
}

// firstInt reads an int or the first element of a tuple of ints, as
// Conv2d stores its stride; -1 when it is neither.
func firstInt(v any) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case pickle.Tuple:
		if len(x) > 0 {
			return firstInt(x[0])
		}
	}
	return -1
}
