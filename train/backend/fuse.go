package backend

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Element-wise chains (the SGD update of each parameter, gradients added
// along residual connections, ReLU) run fused: the float calls of one
// shape that the graph lets run together become one native call, which
// goes over the tensors a chunk at a time on every core, each op's result
// staying in cache until the next reads it. simplego runs each op over the
// whole tensor on one core and writes it to memory. The arithmetic is
// simplego's, op by op, so the results are the same bits.

// minFusedSize is the fewest values of a fused shape; smaller tensors stay
// with simplego.
const minFusedSize = 4096

// fusedChunk is how many values a worker takes at a time.
const fusedChunk = 2048

// fusedKind is what a fused op computes.
type fusedKind int

const (
	fusedAdd fusedKind = iota
	fusedSub
	fusedMul
	fusedDiv
	fusedMax
	fusedMin
	fusedNeg
	fusedSign
	fusedCopy  // Identity
	fusedSplat // a scalar broadcast to the shape
)

var fusedKinds = map[string]fusedKind{
	"Add": fusedAdd, "Sub": fusedSub, "Mul": fusedMul, "Div": fusedDiv,
	"Max": fusedMax, "Min": fusedMin, "Neg": fusedNeg, "Sign": fusedSign, "Identity": fusedCopy,
}

// fusedOp writes slot out from the slots in args.
type fusedOp struct {
	kind fusedKind
	args []int
	out  int
}

// fusedPlan runs the ops in order over each chunk. Slots are the inputs
// (0 to len(scalar)-1, whole tensors or scalars), then one per op.
type fusedPlan struct {
	size   int
	scalar []bool // per input
	ops    []fusedOp
	outs   []int // slots of the call's outputs
}

// fusionKind reports whether c can be fused into a group of shape s, and
// as what.
func fusionKind(c *call, s shapes.Shape) (fusedKind, bool) {
	if len(c.outs) != 1 || !c.outs[0].shape.Equal(s) {
		return 0, false
	}
	if c.name == "BroadcastInDim" {
		in := c.inputs[0].shape
		return fusedSplat, in.Rank() == 0 && in.DType == s.DType
	}
	k, ok := fusedKinds[c.name]
	if !ok {
		return 0, false
	}
	for _, in := range c.inputs {
		if !in.shape.Equal(s) && !(in.shape.Rank() == 0 && in.shape.DType == s.DType) {
			return 0, false
		}
	}
	return k, true
}

// fusable reports whether values of shape s are fused.
func fusable(s shapes.Shape) bool {
	return nativeFloat(s.DType) && s.Size() >= minFusedSize
}

// fusion is a group of calls being formed.
type fusion struct {
	shape   shapes.Shape
	calls   []*call
	vals    map[*value]bool // made by the group
	tainted map[*value]bool // made outside the group from its values
}

// fuser forms the groups in the order of the calls.
type fuser struct {
	live   map[*call]bool
	open   map[string]*fusion
	closed []*fusion
}

// fuse replaces the groups of live element-wise calls by native calls and
// puts the calls back in an order where every call follows its inputs.
// outputs are the graph's. Groups of different shapes can still read each
// other both ways through other calls (A's value reduced into B, B's into
// A): such a cycle unfuses one of its groups, until none is left.
func (r *recorder) fuse(outputs []*value) {
	f := &fuser{live: liveCalls(outputs), open: map[string]*fusion{}}
	for _, c := range r.calls {
		f.add(c)
	}
	for _, g := range f.open {
		f.closed = append(f.closed, g)
	}
	group := map[*call]*call{}
	members := map[*call]*fusion{}
	for _, g := range f.closed {
		if fc := g.call(r.calls, outputs, f.live); fc != nil {
			members[fc] = g
			for _, c := range g.calls {
				group[c] = fc
			}
		}
	}
	for len(group) > 0 {
		calls, cyclic := ordered(r.calls, group)
		if cyclic == nil {
			r.calls = calls
			return
		}
		for _, c := range members[cyclic].calls {
			delete(group, c)
			c.outs[0].call = c
		}
	}
}

// add puts c in the group of its shape if it can join it, and marks which
// groups c depends on.
func (f *fuser) add(c *call) {
	var joined *fusion
	if len(c.outs) == 1 && f.live[c] && fusable(c.outs[0].shape) {
		s := c.outs[0].shape
		if _, ok := fusionKind(c, s); ok {
			key := s.String()
			g := f.open[key]
			if g != nil && g.reads(c, g.tainted) {
				f.closed = append(f.closed, g)
				g = nil
			}
			if g == nil {
				g = &fusion{shape: s, vals: map[*value]bool{}, tainted: map[*value]bool{}}
				f.open[key] = g
			}
			g.calls = append(g.calls, c)
			g.vals[c.outs[0]] = true
			joined = g
		}
	}
	if !f.live[c] {
		return
	}
	for _, g := range f.open {
		if g != joined && (g.reads(c, g.vals) || g.reads(c, g.tainted)) {
			for _, v := range c.outs {
				g.tainted[v] = true
			}
		}
	}
}

// reads reports whether c reads a value in set.
func (g *fusion) reads(c *call, set map[*value]bool) bool {
	for _, in := range c.inputs {
		if set[in] {
			return true
		}
	}
	return false
}

// liveCalls are the calls the outputs depend on.
func liveCalls(outputs []*value) map[*call]bool {
	live := map[*call]bool{}
	var stack []*call
	for _, v := range outputs {
		stack = append(stack, v.call)
	}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[c] {
			continue
		}
		live[c] = true
		for _, in := range c.inputs {
			stack = append(stack, in.call)
		}
	}
	return live
}

// call builds the group's native call, or returns nil for a group with
// no arithmetic. Its outputs are the values read outside the group.
func (g *fusion) call(calls []*call, outputs []*value, live map[*call]bool) *call {
	if !slices.ContainsFunc(g.calls, func(c *call) bool { return c.name != "BroadcastInDim" }) {
		return nil
	}
	p := &fusedPlan{size: g.shape.Size()}
	fc := &call{name: "fused element-wise ops", native: p, replay: fusedReplay}
	input := map[*value]int{}  // slot of each input
	result := map[*value]int{} // op making each of the group's values
	for i, c := range g.calls {
		k, _ := fusionKind(c, g.shape)
		op := fusedOp{kind: k}
		for _, in := range c.inputs {
			if j, ok := result[in]; ok {
				op.args = append(op.args, -1-j) // the slot is known below
				continue
			}
			s, ok := input[in]
			if !ok {
				s = len(fc.inputs)
				input[in] = s
				fc.inputs = append(fc.inputs, in)
				p.scalar = append(p.scalar, in.shape.Rank() == 0)
			}
			op.args = append(op.args, s)
		}
		p.ops = append(p.ops, op)
		result[c.outs[0]] = i
	}
	outside := g.readOutside(calls, outputs, live)
	for i, c := range g.calls {
		op := &p.ops[i]
		op.out = len(fc.inputs) + i
		for j, a := range op.args {
			if a < 0 {
				op.args[j] = len(fc.inputs) - 1 - a
			}
		}
		if v := c.outs[0]; outside[v] {
			p.outs = append(p.outs, op.out)
			fc.outs = append(fc.outs, v)
			v.call = fc
		}
	}
	return fc
}

// readOutside are the group's values that live calls outside it read, or
// that are graph outputs.
func (g *fusion) readOutside(calls []*call, outputs []*value, live map[*call]bool) map[*value]bool {
	member := map[*call]bool{}
	for _, c := range g.calls {
		member[c] = true
	}
	read := map[*value]bool{}
	for _, v := range outputs {
		read[v] = g.vals[v]
	}
	for _, c := range calls {
		if !live[c] || member[c] {
			continue
		}
		for _, in := range c.inputs {
			if g.vals[in] {
				read[in] = true
			}
		}
	}
	return read
}

// fusedReplay is never run: a fused call is native.
func fusedReplay(backends.Builder, []backends.Op) ([]backends.Op, error) {
	return nil, fmt.Errorf("a fused call runs natively only")
}

// ordered lists the calls with each group's members replaced by its call,
// every call after the calls it reads; or, if the groups make a cycle, it
// returns a fused call on it.
func ordered(calls []*call, group map[*call]*call) (out []*call, cyclic *call) {
	const visiting, done = 1, 2
	state := map[*call]int{}
	var path []*call // the calls being visited, outermost first
	var visit func(c *call)
	visit = func(c *call) {
		if g := group[c]; g != nil {
			c = g
		}
		switch state[c] {
		case done:
			return
		case visiting:
			cyclic = onCycle(path[slices.Index(path, c):])
			return
		}
		state[c] = visiting
		path = append(path, c)
		for _, in := range c.inputs {
			if visit(in.call); cyclic != nil {
				return
			}
		}
		path = path[:len(path)-1]
		state[c] = done
		out = append(out, c)
	}
	for _, c := range calls {
		if visit(c); cyclic != nil {
			return nil, cyclic
		}
	}
	return out, nil
}

// onCycle returns a fused call among those of a cycle: the recorded graph
// has none, so every cycle passes through one.
func onCycle(cycle []*call) *call {
	for _, c := range cycle {
		if _, ok := c.native.(*fusedPlan); ok {
			return c
		}
	}
	return cycle[0]
}

// run computes the fused ops chunk by chunk, the chunks split among the
// cores.
func (p *fusedPlan) run(_ gemm, in, out []any) error {
	switch in[0].(type) {
	case []float32:
		return runFused[float32](p, in, out)
	case []float64:
		return runFused[float64](p, in, out)
	}
	return fmt.Errorf("fused ops on %T", in[0])
}

func runFused[T float32 | float64](p *fusedPlan, in, out []any) error {
	ins, outs, err := typedFlats[T](in, out)
	if err != nil {
		return fmt.Errorf("fused ops: %w", err)
	}
	parallel((p.size+fusedChunk-1)/fusedChunk, func(c0, c1 int) {
		fusedChunks(p, c0, c1, ins, outs)
	})
	return nil
}

// fusedChunks runs chunks [c0, c1).
func fusedChunks[T float32 | float64](p *fusedPlan, c0, c1 int, ins, outs [][]T) {
	nIn := len(p.scalar)
	slots := make([][]T, nIn+len(p.ops))
	temps := make([]T, len(p.ops)*fusedChunk)
	output := make([]int, len(slots)) // 1 + the output a slot is, or 0
	for k, s := range p.outs {
		output[s] = 1 + k
	}
	for i, isScalar := range p.scalar {
		if isScalar { // a chunk of the scalar
			slots[i] = make([]T, fusedChunk)
			for j := range slots[i] {
				slots[i][j] = ins[i][0]
			}
		}
	}
	for c := c0; c < c1; c++ {
		s, e := c*fusedChunk, min((c+1)*fusedChunk, p.size)
		for i, isScalar := range p.scalar {
			if !isScalar {
				slots[i] = ins[i][s:e]
			}
		}
		for i, op := range p.ops {
			k := output[op.out]
			if k == 0 && (op.kind == fusedSplat || op.kind == fusedCopy) {
				slots[op.out] = slots[op.args[0]][:e-s] // the same values
				continue
			}
			d := temps[i*fusedChunk:][:e-s]
			if k > 0 {
				d = outs[k-1][s:e]
			}
			apply(op, d, slots)
			slots[op.out] = d
		}
	}
}

// apply runs one op on a chunk into d.
func apply[T float32 | float64](op fusedOp, d []T, slots [][]T) {
	a := slots[op.args[0]][:len(d)]
	switch op.kind {
	case fusedSplat, fusedCopy:
		copy(d, a)
		return
	case fusedNeg:
		for j, x := range a {
			d[j] = -x
		}
		return
	case fusedSign: // as simplego's: 0 for NaN
		for j, x := range a {
			switch {
			case x < 0:
				d[j] = -1
			case x > 0:
				d[j] = 1
			default:
				d[j] = 0
			}
		}
		return
	}
	b := slots[op.args[1]][:len(d)]
	switch op.kind {
	case fusedAdd:
		for j, x := range a {
			d[j] = x + b[j]
		}
	case fusedSub:
		for j, x := range a {
			d[j] = x - b[j]
		}
	case fusedMul:
		for j, x := range a {
			d[j] = x * b[j]
		}
	case fusedDiv:
		for j, x := range a {
			d[j] = x / b[j]
		}
	case fusedMax: // Go's max and min, as simplego's
		for j, x := range a {
			d[j] = max(x, b[j])
		}
	case fusedMin:
		for j, x := range a {
			d[j] = min(x, b[j])
		}
	}
}
