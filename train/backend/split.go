package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// step is one part of a split graph: a simplego executable, or one call
// run natively (a BLAS matrix multiplication or convolution, batch norm,
// pooling, a fused element-wise chain).
type step struct {
	exec    backends.Executable
	native  *call
	inputs  []*value
	outputs []*value
	last    []bool // per input: no later step reads it
}

// Compile fuses element-wise chains (fuse.go) and cuts the graph into
// steps. A call's level is the number of native calls on its longest path
// from the parameters; the calls simplego runs at one level form one subgraph, run
// before that level's native calls. Constants have no level: each subgraph
// that reads one builds its own.
func (r *recorder) Compile(outputs []backends.Op, shardings []*backends.ShardingSpec) (
	backends.Executable, error) {
	for _, s := range shardings {
		if s != nil {
			return nil, fmt.Errorf("Compile %q: sharding is not supported by backend %q",
				r.name, GoName)
		}
	}
	if err := r.usable("Compile"); err != nil {
		return nil, err
	}
	outs, err := r.valuesOf("Compile", outputs)
	if err != nil {
		return nil, err
	}
	r.fuse(outs)
	p := newPlanner(r, outs)
	steps, err := p.steps()
	if err != nil {
		for _, s := range steps {
			if s.exec != nil {
				s.exec.Finalize()
			}
		}
		return nil, fmt.Errorf("Compile %q: %w", r.name, err)
	}
	r.release()
	return newSplitExec(r, steps, outs), nil
}

// release drops the shadow graph once the parts are compiled: only the
// shapes and the replay functions of the calls are still needed.
func (r *recorder) release() {
	for _, c := range r.calls {
		for _, v := range c.outs {
			v.shadow = nil
		}
	}
	r.shadow = nil
}

// planner holds what Compile works out about the calls.
type planner struct {
	r       *recorder
	outputs []*value
	isOut   map[*value]bool
	feeds   map[*call]bool // calls read by a native call
	live    map[*call]bool
	level   map[*call]int
}

func newPlanner(r *recorder, outputs []*value) *planner {
	p := &planner{r: r, outputs: outputs, isOut: map[*value]bool{},
		feeds: map[*call]bool{}, live: liveCalls(outputs), level: map[*call]int{}}
	for _, v := range outputs {
		p.isOut[v] = true
	}
	for _, c := range r.calls {
		if c.native != nil {
			for _, in := range c.inputs {
				p.feeds[in.call] = true
			}
		}
	}
	return p
}

// isParam reports whether c is a parameter of the computation.
func isParam(c *call) bool { return c.replay == nil }

// floating reports whether c has no inputs and is rebuilt where used: a
// constant, an iota. Graph outputs and operands of native calls, which need
// a buffer, are never floating.
func (p *planner) floating(c *call) bool {
	if isParam(c) || len(c.inputs) > 0 || p.feeds[c] {
		return false
	}
	for _, v := range c.outs {
		if p.isOut[v] {
			return false
		}
	}
	return true
}

// levels assigns every live call that runs in a step its level and
// returns the highest.
func (p *planner) levels() int {
	top := 0
	for _, c := range p.r.calls {
		if !p.live[c] || isParam(c) || p.floating(c) {
			continue
		}
		l := 0
		for _, in := range c.inputs {
			src := in.call
			if isParam(src) || p.floating(src) {
				continue
			}
			ls := p.level[src]
			if src.native != nil {
				ls++
			}
			l = max(l, ls)
		}
		p.level[c] = l
		top = max(top, l)
	}
	return top
}

// steps builds and compiles the steps in order.
func (p *planner) steps() ([]*step, error) {
	top := p.levels()
	groups := make([][]*call, top+1)
	dots := make([][]*call, top+1)
	for _, c := range p.r.calls {
		l, ok := p.level[c]
		switch {
		case !ok:
		case c.native != nil:
			dots[l] = append(dots[l], c)
		default:
			groups[l] = append(groups[l], c)
		}
	}
	consumers := p.consumers()
	var steps []*step
	for l := range top + 1 {
		if len(groups[l]) > 0 {
			s, err := p.subgraph(l, groups[l], consumers)
			if err != nil {
				return steps, err
			}
			if s != nil {
				steps = append(steps, s)
			}
		}
		for _, c := range dots[l] {
			steps = append(steps, &step{native: c, inputs: c.inputs, outputs: c.outs})
		}
	}
	markLastUses(steps)
	return steps, nil
}

// consumers lists, per value, the live calls that read it.
func (p *planner) consumers() map[*value][]*call {
	m := map[*value][]*call{}
	for _, c := range p.r.calls {
		if p.live[c] {
			for _, in := range c.inputs {
				m[in] = append(m[in], c)
			}
		}
	}
	return m
}

// subgraph compiles one level's simplego calls: its parameters are the
// values they read from elsewhere, its outputs the values read elsewhere.
func (p *planner) subgraph(l int, calls []*call, consumers map[*value][]*call) (*step, error) {
	in := map[*call]bool{}
	for _, c := range calls {
		in[c] = true
	}
	s := &step{}
	seen := map[*value]bool{}
	for _, c := range calls {
		for _, v := range c.inputs {
			if !in[v.call] && !p.floating(v.call) && !seen[v] {
				seen[v] = true
				s.inputs = append(s.inputs, v)
			}
		}
	}
	for _, c := range calls {
		for _, v := range c.outs {
			if p.isOut[v] || readElsewhere(consumers[v], in) {
				s.outputs = append(s.outputs, v)
			}
		}
	}
	if len(s.outputs) == 0 {
		return nil, nil
	}
	exec, err := p.build(fmt.Sprintf("%s#%d", p.r.name, l), calls, s)
	if err != nil {
		return nil, fmt.Errorf("part %d: %w", l, err)
	}
	s.exec = exec
	return s, nil
}

func readElsewhere(readers []*call, in map[*call]bool) bool {
	for _, c := range readers {
		if !in[c] {
			return true
		}
	}
	return false
}

// build replays calls on a new simplego builder and compiles them.
func (p *planner) build(name string, calls []*call, s *step) (backends.Executable, error) {
	b := p.r.inner.Builder(name)
	if len(p.r.devices) > 0 {
		if err := b.DeviceAssignment(p.r.devices...); err != nil {
			return nil, err
		}
	}
	ops := map[*value]backends.Op{}
	for _, v := range s.inputs {
		op, err := b.Parameter(fmt.Sprintf("v%d", v.id), v.shape, nil)
		if err != nil {
			return nil, err
		}
		ops[v] = op
	}
	for _, c := range calls {
		if err := replayInto(b, c, ops); err != nil {
			return nil, err
		}
	}
	outs := make([]backends.Op, len(s.outputs))
	for i, v := range s.outputs {
		outs[i] = ops[v]
	}
	return b.Compile(outs, nil)
}

// replayInto builds c on b, first building any floating call it reads.
func replayInto(b backends.Builder, c *call, ops map[*value]backends.Op) error {
	in := make([]backends.Op, len(c.inputs))
	for i, v := range c.inputs {
		if _, ok := ops[v]; !ok {
			if err := replayInto(b, v.call, ops); err != nil {
				return err
			}
		}
		in[i] = ops[v]
	}
	outs, err := c.replay(b, in)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	for i, v := range c.outs {
		ops[v] = outs[i]
	}
	return nil
}

// markLastUses sets, for each step input, whether no later step reads it.
func markLastUses(steps []*step) {
	seen := map[*value]bool{}
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		s.last = make([]bool, len(s.inputs))
		for j, v := range s.inputs {
			s.last[j] = !seen[v]
			seen[v] = true
		}
	}
}

// shapesOf lists the values' shapes.
func shapesOf(vals []*value) []shapes.Shape {
	out := make([]shapes.Shape, len(vals))
	for i, v := range vals {
		out[i] = v.shape
	}
	return out
}
