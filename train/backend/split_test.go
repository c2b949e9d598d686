package backend

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/train/backend/blas"
)

func needOpenBLAS(t *testing.T) {
	t.Helper()
	if _, err := blas.Load(); err != nil {
		testenv.Missing(t, "OpenBLAS (scripts/setup.sh installs libopenblas0): %v", err)
	}
}

// splitGraph has the cases the split executor must hand over right: a
// matrix product of a product (two BLAS steps in a row), a constant read
// by a BLAS call, a parameter returned as an output, and values read both
// by simplego and by BLAS.
func splitGraph(b *builder, p []backends.Op) ([]backends.Op, error) {
	x, w := p[0], p[1]
	xw, err := b.DotGeneral(x, []int{1}, nil, w, []int{0}, nil)
	if err != nil {
		return nil, err
	}
	c, err := b.Constant([]float64{1, -2, 0.5, 3, 0, 1}, 3, 2)
	if err != nil {
		return nil, err
	}
	xwc, err := b.DotGeneral(xw, []int{1}, nil, c, []int{0}, nil)
	if err != nil {
		return nil, err
	}
	neg, err := b.Neg(xw)
	if err != nil {
		return nil, err
	}
	sum, err := b.Add(xwc, xwc)
	if err != nil {
		return nil, err
	}
	return []backends.Op{sum, x, neg, xwc}, nil
}

// TestSplitExecutorMatchesSimplego runs splitGraph on the OpenBLAS path and
// on simplego alone: same values, every output.
func TestSplitExecutorMatchesSimplego(t *testing.T) {
	needOpenBLAS(t)
	x := array{dims: []int{4, 5}, data: make([]float64, 20)}
	w := array{dims: []int{5, 3}, data: make([]float64, 15)}
	for i := range x.data {
		x.data[i] = float64(i%7) - 3
	}
	for i := range w.data {
		w.data[i] = float64(i%4) * 0.5
	}
	got := runOps(t, testBackend(t, "gemm=openblas"), splitGraph, x, w)
	want := runOps(t, testBackend(t, "gemm=go"), splitGraph, x, w)
	if len(got) != len(want) {
		t.Fatalf("%d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		assertClose(t, fmt.Sprintf("output %d", i), got[i], want[i], 1e-12)
	}
}

// TestSplitExecutorDonationsAndErrors checks that a donated input is
// freed, one not donated is left to the caller, and that a compiled
// builder refuses more ops.
func TestSplitExecutorDonationsAndErrors(t *testing.T) {
	needOpenBLAS(t)
	bk := testBackend(t, "gemm=openblas")
	b := bk.Builder("donations").(*builder)
	shape := shapes.Make(dtypes.Float64, 2, 2)
	x, err := b.Parameter("x", shape, nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.DotGeneral(x, []int{1}, nil, x, []int{0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := b.Compile([]backends.Op{y}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Neg(x); err == nil || !strings.Contains(err.Error(), "already compiled") {
		t.Errorf("op after Compile: error %v, want one saying the builder is compiled", err)
	}
	for _, donate := range []bool{false, true} {
		in, outs := run2x2(t, bk, exe, donate)
		got := make([]float64, 4)
		if err := bk.BufferToFlatData(outs[0], got); err != nil {
			t.Fatal(err)
		}
		if want := []float64{7, 10, 15, 22}; !equalFloats(got, want) {
			t.Errorf("donate %v: x·x = %v, want %v", donate, got, want)
		}
		// simplego refuses to free a buffer twice: a donated input is
		// already freed, one not donated is the caller's to free.
		err = bk.BufferFinalize(in)
		if donate != (err != nil) {
			t.Errorf("donate %v: freeing the input afterwards gives error %v", donate, err)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// xxPlusX compiles x·x + x, whose last read of x is in a simplego part
// after the BLAS product; withX returns x as a second output.
func xxPlusX(t *testing.T, bk backends.Backend, withX bool) backends.Executable {
	t.Helper()
	b := bk.Builder("hand-over").(*builder)
	x, err := b.Parameter("x", shapes.Make(dtypes.Float64, 2, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	xx, err := b.DotGeneral(x, []int{1}, nil, x, []int{0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := b.Add(xx, x)
	if err != nil {
		t.Fatal(err)
	}
	outs := []backends.Op{sum}
	if withX {
		outs = append(outs, x)
	}
	exe, err := b.Compile(outs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestSplitExecutorHandsDonationsToSimplego checks the hand-over of a
// donated input to simplego (consumed there), a donated input that is also
// an output (returned as is), one not donated (copied, left to the caller)
// and the check of the inputs' shapes.
func TestSplitExecutorHandsDonationsToSimplego(t *testing.T) {
	needOpenBLAS(t)
	bk := testBackend(t, "gemm=openblas")
	for _, withX := range []bool{false, true} {
		exe := xxPlusX(t, bk, withX)
		for _, donate := range []bool{false, true} {
			in, outs := run2x2(t, bk, exe, donate)
			for i, want := range [][]float64{{8, 12, 18, 26}, {1, 2, 3, 4}}[:len(outs)] {
				got := make([]float64, 4)
				if err := bk.BufferToFlatData(outs[i], got); err != nil {
					t.Fatal(err)
				}
				if !equalFloats(got, want) {
					t.Errorf("x output %v, donate %v: output %d = %v, want %v", withX,
						donate, i, got, want)
				}
			}
			reused := false
			for _, o := range outs {
				reused = reused || o == in
			}
			switch {
			case !donate && reused:
				t.Errorf("x output %v: an input not donated was returned", withX)
			case withX && donate && outs[1] != in:
				t.Errorf("donated x, also an output, not returned as is")
			case !withX && donate && !reused && bk.BufferFinalize(in) == nil:
				t.Errorf("donated x neither consumed nor reused by simplego")
			case !donate && bk.BufferFinalize(in) != nil:
				t.Errorf("x output %v: input not donated no longer the caller's", withX)
			}
		}
	}
	exe := xxPlusX(t, bk, false)
	wrong, err := bk.BufferFromFlatData(0, []float64{1, 2, 3}, shapes.Make(dtypes.Float64, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exe.Execute([]backends.Buffer{wrong}, nil, 0); err == nil ||
		!strings.Contains(err.Error(), "want (Float64)[2 2]") {
		t.Errorf("input of the wrong shape: error %v, want one naming both shapes", err)
	}
}

// run2x2 runs exe on the 2x2 input [[1, 2], [3, 4]], donated or not, and
// returns the input buffer and the outputs.
func run2x2(t *testing.T, bk backends.Backend, exe backends.Executable, donate bool) (
	backends.Buffer, []backends.Buffer) {
	t.Helper()
	in, err := bk.BufferFromFlatData(0, []float64{1, 2, 3, 4}, shapes.Make(dtypes.Float64, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exe.Execute([]backends.Buffer{in}, []bool{donate}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return in, outs
}
