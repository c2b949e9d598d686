package backend

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// fuseGraph has what fusion must get right: a chain with a scalar
// broadcast and a scalar operand, values read both inside the chain and
// outside it (by a reduction and as outputs), and a value made outside
// the chain from its values and read by it again (g1 -> ReduceSum -> g2),
// which must split the chain in two.
func fuseGraph(b *builder, p []backends.Op) ([]backends.Op, error) {
	x, y, s := p[0], p[1], p[2]
	var err error
	do := func(op backends.Op, e error) backends.Op {
		if err == nil {
			err = e
		}
		return op
	}
	shape, e := b.OpShape(x)
	if e != nil {
		return nil, e
	}
	a := do(b.Mul(x, y))
	bb := do(b.Add(a, do(b.BroadcastInDim(s, shape, nil))))
	c := do(b.Sub(bb, x))
	d := do(b.Neg(c))
	e2 := do(b.Div(d, do(b.Mul(y, y))))
	f := do(b.Max(do(b.Mul(e2, s)), do(b.Min(x, y)))) // a scalar operand
	sum := do(b.ReduceSum(bb, 0, 1))
	g := do(b.Mul(f, do(b.BroadcastInDim(sum, shape, nil))))
	h := do(b.Add(g, do(b.Identity(do(b.Sign(a))))))
	return []backends.Op{h, a, sum}, err
}

// TestFusedOpsEqualSimplego runs fuseGraph fused and on simplego alone:
// the same float64 operations in the same order give the same bits.
func TestFusedOpsEqualSimplego(t *testing.T) {
	needOpenBLAS(t)
	rng := rand.New(rand.NewPCG(7, 8))
	x, y := randomArray(rng, 0, 64, 80), randomArray(rng, 0, 64, 80)
	for i := range y.data {
		y.data[i] += 3
	}
	s := array{data: []float64{0.37}}
	want := runOps(t, testBackend(t, "gemm=go"), fuseGraph, x, y, s)
	got := runOps(t, testBackend(t, "gemm=openblas"), fuseGraph, x, y, s)
	for i, name := range []string{"h", "a", "sum"} {
		assertClose(t, name, got[i], want[i], 0)
	}
}

// TestFuseSplitsAtOutsideReads checks the groups fuseGraph makes: the
// chain up to the reduction, then the rest, in an order where every call
// follows what it reads.
func TestFuseSplitsAtOutsideReads(t *testing.T) {
	needOpenBLAS(t)
	b := testBackend(t, "gemm=openblas").Builder(t.Name()).(*builder)
	r := b.Builder.(*recorder)
	var params []backends.Op
	for _, dims := range [][]int{{64, 80}, {64, 80}, {}} {
		p, err := b.Parameter("p", shapes.Make(dtypes.Float64, dims...), nil)
		if err != nil {
			t.Fatal(err)
		}
		params = append(params, p)
	}
	outs, err := fuseGraph(b, params)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := r.valuesOf("test", outs)
	if err != nil {
		t.Fatal(err)
	}
	r.fuse(vals)
	var fused []*call
	seen := map[*call]bool{}
	for _, c := range r.calls {
		for _, in := range c.inputs {
			if !seen[in.call] {
				t.Errorf("%s reads %s, which comes after it", c.name, in.call.name)
			}
		}
		seen[c] = true
		if _, ok := c.native.(*fusedPlan); ok {
			fused = append(fused, c)
		}
	}
	if len(fused) != 2 {
		t.Fatalf("%d fused calls, want 2", len(fused))
	}
	for i, want := range []int{10, 5} { // a to f with the broadcast; then g to h
		if n := len(fused[i].native.(*fusedPlan).ops); n != want {
			t.Errorf("fused call %d has %d ops, want %d", i, n, want)
		}
	}
}

// TestFusedFloat32EqualsSimplego runs a float32 chain through GoMLX's
// graph fused and on simplego alone.
func TestFusedFloat32EqualsSimplego(t *testing.T) {
	needOpenBLAS(t)
	chain := func(x, y *graph.Node) *graph.Node {
		z := graph.Add(graph.MulScalar(x, 0.9), y)
		return graph.Sub(x, graph.Mul(graph.Scalar(x.Graph(), dtypes.Float32, 0.01),
			graph.Add(z, graph.MulScalar(z, 0.9))))
	}
	dims := []int{3, 50, 70}
	want := graph.MustExecOnce(testBackend(t, "gemm=go"), chain,
		randomTensor(1, dtypes.Float32, dims), randomTensor(2, dtypes.Float32, dims))
	got := graph.MustExecOnce(testBackend(t, "gemm=openblas"), chain,
		randomTensor(1, dtypes.Float32, dims), randomTensor(2, dtypes.Float32, dims))
	if d := tensorRelDiff(got, want); d != 0 {
		t.Errorf("fused and simplego differ by %.2g relative", d)
	}
}

// crossedGroups has two chains of different shapes, each reading a
// reduction of the other: fused whole, they would make a cycle.
func crossedGroups(b *builder, p []backends.Op) ([]backends.Op, error) {
	x, y := p[0], p[1]
	var err error
	do := func(op backends.Op, e error) backends.Op {
		if err == nil {
			err = e
		}
		return op
	}
	sx, sy := shapes.Make(dtypes.Float64, 64, 80), shapes.Make(dtypes.Float64, 80, 64)
	ga := do(b.Mul(x, x))
	h1 := do(b.Mul(y, y))
	gb := do(b.Add(ga, do(b.BroadcastInDim(do(b.ReduceSum(h1, 0, 1)), sx, nil))))
	h2 := do(b.Add(h1, do(b.BroadcastInDim(do(b.ReduceSum(ga, 0, 1)), sy, nil))))
	return []backends.Op{gb, h2}, err
}

// TestFusionUndoesCycles runs crossedGroups fused and on simplego alone.
func TestFusionUndoesCycles(t *testing.T) {
	needOpenBLAS(t)
	rng := rand.New(rand.NewPCG(11, 12))
	x, y := randomArray(rng, 0, 64, 80), randomArray(rng, 0, 80, 64)
	want := runOps(t, testBackend(t, "gemm=go"), crossedGroups, x, y)
	got := runOps(t, testBackend(t, "gemm=openblas"), crossedGroups, x, y)
	for i, name := range []string{"gb", "h2"} {
		assertClose(t, name, got[i], want[i], 0)
	}
}
