package backend

import (
	"fmt"
	"runtime"
	"sync"
)

// parallel splits [0, n) into one contiguous range per core (at most n)
// and runs fn on each at once.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// typedFlats asserts a native call's flat inputs and outputs to one type.
func typedFlats[T float32 | float64](in, out []any) (ins, outs [][]T, err error) {
	ins, outs = make([][]T, len(in)), make([][]T, len(out))
	for i, v := range in {
		var ok bool
		if ins[i], ok = v.([]T); !ok {
			return nil, nil, fmt.Errorf("input %d is %T, not %T", i, v, []T(nil))
		}
	}
	for i, v := range out {
		var ok bool
		if outs[i], ok = v.([]T); !ok {
			return nil, nil, fmt.Errorf("output %d is %T, not %T", i, v, []T(nil))
		}
	}
	return ins, outs, nil
}
