package train

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/train/backend/blas"
)

// TestOpenBLASStepMatchesPureGoInFloat64 runs one training step of each
// stem in float64 on the default backend, whose matrix multiplications
// OpenBLAS runs between simplego's parts of the graph, and on simplego
// alone. In float64 the two summation orders agree to about 1e-13, so any
// value of the step's outputs (loss, logits, weights, statistics and
// momentum after the update) that differs by more than 1e-9 relative is a
// wrong result, not rounding.
func TestOpenBLASStepMatchesPureGoInFloat64(t *testing.T) {
	if testBackendSpec != "go" {
		t.Skipf("MOCOKIT_TEST_BACKEND=%s: the comparison is of the default backend", testBackendSpec)
	}
	if _, err := blas.Load(); err != nil {
		testenv.Missing(t, "OpenBLAS (scripts/setup.sh installs libopenblas0): %v", err)
	}
	opt := SGD{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true}
	for stem := range stems {
		t.Run(stem, func(t *testing.T) {
			fast := float64Step(t, stem, testBackend(t), opt)
			pure := float64Step(t, stem, newTestBackend(t, pureGoSpec), opt)
			worst, at := 0.0, 0
			for i := range pure {
				if d := relDiff64(fast[i], pure[i]); d > worst || math.IsNaN(d) {
					worst, at = d, i
				}
			}
			t.Logf("%d outputs; worst relative difference %.2g (output %d)", len(pure), worst, at)
			if !(worst <= 1e-9) {
				t.Errorf("output %d differs by %.2g relative (> 1e-9)", at, worst)
			}
		})
	}
}

// float64Step builds the parity network of stem on b, converts its state
// and batch to float64 and runs one step of its step graph, returning every
// output as float64s.
func float64Step(t *testing.T, stem string, b backends.Backend, opt SGD) [][]float64 {
	t.Helper()
	n, batch := parityNetworkOn(t, b, stem, opt)
	for _, ts := range [][]*tensors.Tensor{n.params, n.stats, n.momentum} {
		for i := range ts {
			ts[i] = f64(ts[i])
		}
	}
	pb := parityBatch(batch)
	x := f64(tensors.FromFlatDataAndDimensions(pb.Images, len(pb.Labels), 3, pb.Size, pb.Size))
	y := tensors.FromFlatDataAndDimensions(pb.Labels, len(pb.Labels))
	args := appendTensors(nil, n.params, n.stats, n.momentum)
	outs, err := n.stepExec.Exec(append(args, x, y, tensors.FromScalar(float32(0.1)))...)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([][]float64, len(outs))
	for i, o := range outs {
		vals[i] = asFloat64s(t, o)
	}
	return vals
}

func asFloat64s(t *testing.T, o *tensors.Tensor) []float64 {
	t.Helper()
	switch o.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](o)
	case dtypes.Float32:
		v := tensors.MustCopyFlatData[float32](o)
		out := make([]float64, len(v))
		for i := range v {
			out[i] = float64(v[i])
		}
		return out
	}
	t.Fatalf("step output of dtype %s", o.DType())
	return nil
}

// relDiff64 is max |a-b| over max(max |b|, 1e-12).
func relDiff64(a, b []float64) float64 {
	var diff, scale float64
	for i := range b {
		diff = math.Max(diff, math.Abs(a[i]-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff / math.Max(scale, 1e-12)
}
