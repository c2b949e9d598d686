package backend

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// splitExec runs a split graph's steps in order, handing each value's
// buffer from step to step and freeing it after its last reader.
type splitExec struct {
	backend backends.Backend
	gemm    gemm
	name    string
	steps   []*step
	params  []*value
	outputs []*value
	isOut   map[*value]bool
	values  int
}

func newSplitExec(r *recorder, steps []*step, outputs []*value) *splitExec {
	e := &splitExec{backend: r.inner, gemm: r.gemm, name: r.name, steps: steps,
		params: r.params, outputs: outputs, isOut: map[*value]bool{}, values: r.values}
	for _, v := range outputs {
		e.isOut[v] = true
	}
	return e
}

// Finalize frees the steps' executables.
func (e *splitExec) Finalize() {
	for _, s := range e.steps {
		if s.exec != nil {
			s.exec.Finalize()
		}
	}
}

// Inputs are the parameters in the order they were created.
func (e *splitExec) Inputs() (names []string, inputShapes []shapes.Shape) {
	for _, v := range e.params {
		names = append(names, v.call.param)
	}
	return names, shapesOf(e.params)
}

// Outputs are the shapes of the outputs given to Compile.
func (e *splitExec) Outputs() []shapes.Shape { return shapesOf(e.outputs) }

// run is the state of one Execute call.
type run struct {
	e     *splitExec
	dev   backends.DeviceNum
	bufs  []backends.Buffer // by value id
	owned []bool            // the buffer is ours to free or donate
}

// Execute runs the steps. Donated inputs are freed (or handed on as
// donations) after their last use.
func (e *splitExec) Execute(inputs []backends.Buffer, donate []bool,
	dev backends.DeviceNum) ([]backends.Buffer, error) {
	if len(inputs) != len(e.params) {
		return nil, fmt.Errorf("executing %q: %d inputs given, %d expected",
			e.name, len(inputs), len(e.params))
	}
	if err := e.checkInputs(inputs); err != nil {
		return nil, err
	}
	r := &run{e: e, dev: dev, bufs: make([]backends.Buffer, e.values),
		owned: make([]bool, e.values)}
	for i, v := range e.params {
		r.bufs[v.id] = inputs[i]
		r.owned[v.id] = i < len(donate) && donate[i]
	}
	for i, s := range e.steps {
		if err := r.step(s); err != nil {
			r.freeAll(nil)
			return nil, fmt.Errorf("executing %q, step %d of %d: %w", e.name, i+1,
				len(e.steps), err)
		}
	}
	outs, err := r.results()
	r.freeAll(outs)
	return outs, err
}

// checkInputs checks the inputs' shapes, as simplego does: a native step
// would otherwise index past a buffer of the wrong size. (Whether a buffer
// was already freed cannot be told through the backend's interface.)
func (e *splitExec) checkInputs(inputs []backends.Buffer) error {
	for i, v := range e.params {
		if inputs[i] == nil {
			return fmt.Errorf("executing %q: input %d (%s) is nil", e.name, i, v.call.param)
		}
		shape, err := e.backend.BufferShape(inputs[i])
		if err != nil {
			return fmt.Errorf("executing %q: input %d (%s): %w", e.name, i, v.call.param, err)
		}
		if !shape.Equal(v.shape) {
			return fmt.Errorf("executing %q: input %d (%s) is %s, want %s", e.name, i,
				v.call.param, shape, v.shape)
		}
	}
	return nil
}

// step runs one step and frees the inputs it was the last to read.
func (r *run) step(s *step) error {
	in := make([]backends.Buffer, len(s.inputs))
	for j, v := range s.inputs {
		if in[j] = r.bufs[v.id]; in[j] == nil {
			return fmt.Errorf("value %d (%s) has no buffer", v.id, v.shape)
		}
	}
	var outs []backends.Buffer
	donated := make([]bool, len(s.inputs))
	if s.native != nil {
		var err error
		if outs, err = runNative(r.e.backend, r.e.gemm, s.native, in, r.dev); err != nil {
			return err
		}
	} else {
		for j, v := range s.inputs {
			donated[j] = s.last[j] && r.owned[v.id] && !r.e.isOut[v]
		}
		var err error
		if outs, err = s.exec.Execute(in, donated, r.dev); err != nil {
			// simplego may have freed donated inputs already: leaking
			// them is safer than freeing them twice.
			for j, v := range s.inputs {
				if donated[j] {
					r.bufs[v.id] = nil
				}
			}
			return err
		}
	}
	for j, v := range s.outputs {
		r.bufs[v.id], r.owned[v.id] = outs[j], true
	}
	for j, v := range s.inputs {
		switch {
		case donated[j]:
			r.bufs[v.id] = nil
		case s.last[j] && r.owned[v.id] && !r.e.isOut[v]:
			r.free(v)
		}
	}
	return nil
}

func (r *run) free(v *value) {
	if b := r.bufs[v.id]; b != nil && r.owned[v.id] {
		_ = r.e.backend.BufferFinalize(b)
	}
	r.bufs[v.id] = nil
}

// results collects the outputs. A buffer the caller still owns (an input
// not donated) or one already returned is copied.
func (r *run) results() ([]backends.Buffer, error) {
	outs := make([]backends.Buffer, len(r.e.outputs))
	given := map[*value]bool{}
	copied := make([]bool, len(outs))
	var errs []error
	for i, v := range r.e.outputs {
		b := r.bufs[v.id]
		if b == nil {
			errs = append(errs, fmt.Errorf("output %d has no buffer", i))
			continue
		}
		if r.owned[v.id] && !given[v] {
			outs[i], given[v] = b, true
			continue
		}
		c, err := r.copy(b, v.shape)
		if err != nil {
			errs = append(errs, fmt.Errorf("output %d: %w", i, err))
		}
		outs[i], copied[i] = c, err == nil
	}
	if err := errors.Join(errs...); err != nil {
		// The buffers handed over directly are still in r.bufs, which
		// the caller frees; only the copies are freed here.
		for i, b := range outs {
			if copied[i] {
				_ = r.e.backend.BufferFinalize(b)
			}
		}
		return nil, err
	}
	return outs, nil
}

func (r *run) copy(b backends.Buffer, shape shapes.Shape) (backends.Buffer, error) {
	flat, err := r.e.backend.BufferData(b)
	if err != nil {
		return nil, err
	}
	out, outFlat, err := r.e.backend.NewSharedBuffer(r.dev, shape)
	if err != nil {
		return nil, err
	}
	if err := copyFlat(outFlat, flat); err != nil {
		_ = r.e.backend.BufferFinalize(out)
		return nil, err
	}
	return out, nil
}

// freeAll frees every buffer still owned except those in keep.
func (r *run) freeAll(keep []backends.Buffer) {
	kept := map[backends.Buffer]bool{}
	for _, b := range keep {
		kept[b] = true
	}
	for id, b := range r.bufs {
		if b != nil && r.owned[id] && !kept[b] {
			_ = r.e.backend.BufferFinalize(b)
		}
		r.bufs[id] = nil
	}
}

// copyFlat copies one flat slice into another of the same type and length.
func copyFlat(dst, src any) error {
	d, s := reflect.ValueOf(dst), reflect.ValueOf(src)
	if d.Kind() != reflect.Slice || d.Type() != s.Type() || d.Len() != s.Len() {
		return fmt.Errorf("copying a %T of %d values into a %T", src, s.Len(), dst)
	}
	reflect.Copy(d, s)
	return nil
}
