package backend

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/core/tensors/images"
)

// refPad is XLA's Pad written out: the element at index i of an axis moves
// to Start + i*(Interior+1); positions outside [0, out) are dropped.
func refPad(x array, fill float64, cfg []backends.PadAxis) array {
	dims := make([]int, len(x.dims))
	for axis, d := range x.dims {
		dims[axis] = d
		if axis < len(cfg) {
			c := cfg[axis]
			dims[axis] = c.Start + c.End + d + max(d-1, 0)*c.Interior
		}
	}
	out := newArray(dims...)
	for i := range out.data {
		out.data[i] = fill
	}
	each(x.dims, func(idx []int) {
		pos := make([]int, len(idx))
		for axis, i := range idx {
			pos[axis] = i
			if axis < len(cfg) {
				pos[axis] = cfg[axis].Start + i*(cfg[axis].Interior+1)
			}
			if pos[axis] < 0 || pos[axis] >= dims[axis] {
				return
			}
		}
		out.data[out.index(pos)] = x.data[x.index(idx)]
	})
	return out
}

func TestPadMatchesReference(t *testing.T) {
	bk := testBackend(t, "")
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		dims []int
		cfg  []backends.PadAxis
	}{
		{[]int{5}, []backends.PadAxis{{Start: 2, End: 3}}},
		{[]int{5}, []backends.PadAxis{{Start: -2, End: -1}}},
		{[]int{5}, []backends.PadAxis{{Start: -2, End: 3, Interior: 1}}},
		{[]int{5}, []backends.PadAxis{{Start: 1, End: -3, Interior: 2}}},
		{[]int{5}, []backends.PadAxis{{Start: -7, End: 4}}}, // crops all, fills 2
		{[]int{1}, []backends.PadAxis{{Start: 1, End: 1, Interior: 3}}},
		{[]int{3, 4}, []backends.PadAxis{{Start: 1, End: 0, Interior: 1}}}, // second axis untouched
		{[]int{2, 3, 4}, []backends.PadAxis{{}, {Start: -1, End: 2, Interior: 2},
			{Start: 3, End: -2, Interior: 1}}},
		{[]int{2, 4, 4, 3}, []backends.PadAxis{{}, {Start: 1, End: 1}, {Start: 1, End: 1}, {}}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v%+v", tc.dims, tc.cfg), func(t *testing.T) {
			x := randomArray(rng, 0, tc.dims...)
			got := runOp(t, bk, func(b *builder, p []backends.Op) (backends.Op, error) {
				fill, err := b.scalar(dtypes.Float64, 7.5)
				if err != nil {
					return nil, err
				}
				return b.Pad(p[0], fill, tc.cfg...)
			}, x)
			assertClose(t, "Pad", got, refPad(x, 7.5, tc.cfg), 0)
		})
	}
}

func TestPadFloat32Operand(t *testing.T) {
	bk := testBackend(t, "")
	b := bk.Builder("pad32").(*builder)
	shape := shapes.Make(dtypes.Float32, 2, 3)
	x, err := b.Parameter("x", shape, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill, err := b.scalar(dtypes.Float32, -1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Pad(x, fill, backends.PadAxis{Start: 1}, backends.PadAxis{End: -1, Interior: 1})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := b.Compile([]backends.Op{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := bk.BufferFromFlatData(0, []float32{1, 2, 3, 4, 5, 6}, shape)
	if err != nil {
		t.Fatal(err)
	}
	res, err := exe.Execute([]backends.Buffer{buf}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 3*4)
	if err := bk.BufferToFlatData(res[0], got); err != nil {
		t.Fatal(err)
	}
	want := []float32{-1, -1, -1, -1, 1, -1, 2, -1, 4, -1, 5, -1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Pad float32 = %v, want %v", got, want)
		}
	}
}

func TestPadRejectsBadConfig(t *testing.T) {
	bk := testBackend(t, "")
	b := bk.Builder("padbad").(*builder)
	x, err := b.Parameter("x", shapes.Make(dtypes.Float64, 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	fill, err := b.scalar(dtypes.Float64, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := [][]backends.PadAxis{
		{{Start: -3, End: -1}},   // fewer than zero elements left
		{{Interior: -1}},         // negative interior
		{{Start: 1}, {Start: 1}}, // more axes than the operand has
	}
	for _, cfg := range bad {
		if _, err := b.Pad(x, fill, cfg...); err == nil {
			t.Errorf("Pad(%+v) of a [3] operand: no error", cfg)
		}
	}
	fill32, err := b.scalar(dtypes.Float32, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pad(x, fill32, backends.PadAxis{Start: 1}); err == nil {
		t.Error("Pad with a float32 fill of a float64 operand: no error")
	}
}

// refReverse reverses x along axes.
func refReverse(x array, axes ...int) array {
	out := newArray(x.dims...)
	each(x.dims, func(idx []int) {
		src := append([]int(nil), idx...)
		for _, axis := range axes {
			src[axis] = x.dims[axis] - 1 - idx[axis]
		}
		out.data[out.index(idx)] = x.data[x.index(src)]
	})
	return out
}

// TestReverseMatchesReference runs Reverse composed of simplego's Gather
// (gemm=go) and natively (on the recording builder).
func TestReverseMatchesReference(t *testing.T) {
	t.Run("composed", func(t *testing.T) { testReverse(t, testBackend(t, "gemm=go")) })
	t.Run("native", func(t *testing.T) {
		needOpenBLAS(t)
		testReverse(t, testBackend(t, "gemm=openblas"))
	})
}

func testReverse(t *testing.T, bk backends.Backend) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		dims []int
		axes []int
	}{
		{[]int{6}, []int{0}},
		{[]int{3, 3, 2, 4}, []int{0, 1}}, // a kernel's spatial axes, channels last
		{[]int{4, 2, 3, 3}, []int{2, 3}}, // channels first
		{[]int{2, 1, 5}, []int{1, 2}},    // a size-1 axis
		{[]int{2, 3}, nil},
		{[]int{3, 4, 2}, []int{0, 2}}, // first and last
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v%v", tc.dims, tc.axes), func(t *testing.T) {
			x := randomArray(rng, 0, tc.dims...)
			got := runOp(t, bk, func(b *builder, p []backends.Op) (backends.Op, error) {
				return b.Reverse(p[0], tc.axes...)
			}, x)
			assertClose(t, "Reverse", got, refReverse(x, tc.axes...), 0)
		})
	}
}

// TestNativeOpsLeaveBFloat16ToSimplego runs Reverse and a max pool on
// BFloat16 on the recording builder: the native steps take float32 and
// float64 only, so these must stay with simplego and still work.
func TestNativeOpsLeaveBFloat16ToSimplego(t *testing.T) {
	needOpenBLAS(t)
	bk := testBackend(t, "gemm=openblas")
	vals := make([]bfloat16.BFloat16, 16)
	for i := range vals {
		vals[i] = bfloat16.FromFloat32(float32(i))
	}
	x := tensors.FromFlatDataAndDimensions(vals, 1, 1, 4, 4)
	outs := graph.MustExecOnceN(bk, func(x *graph.Node) []*graph.Node {
		return []*graph.Node{graph.Reverse(x, 3),
			graph.MaxPool(x).ChannelsAxis(images.ChannelsFirst).Window(2).Done()}
	}, x)
	rev := tensors.MustCopyFlatData[bfloat16.BFloat16](outs[0])
	pool := tensors.MustCopyFlatData[bfloat16.BFloat16](outs[1])
	if rev[0].Float32() != 3 || rev[3].Float32() != 0 || len(pool) != 4 ||
		pool[0].Float32() != 5 || pool[3].Float32() != 15 {
		t.Errorf("Reverse row 0 starts %v, %v; max pool %v", rev[0], rev[3], pool)
	}
}
