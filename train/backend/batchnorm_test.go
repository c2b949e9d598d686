package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// featureStats returns, per feature along axis, the mean and the biased
// variance of x.
func featureStats(x array, axis int) (mean, variance []float64) {
	c := x.dims[axis]
	n := float64(len(x.data) / c)
	mean, variance = make([]float64, c), make([]float64, c)
	each(x.dims, func(idx []int) { mean[idx[axis]] += x.data[x.index(idx)] / n })
	each(x.dims, func(idx []int) {
		d := x.data[x.index(idx)] - mean[idx[axis]]
		variance[idx[axis]] += d * d / n
	})
	return mean, variance
}

// refBatchNorm normalises x with the given statistics.
func refBatchNorm(x array, axis int, scale, offset, mean, variance []float64, eps float64) array {
	out := newArray(x.dims...)
	each(x.dims, func(idx []int) {
		f := idx[axis]
		out.data[x.index(idx)] = (x.data[x.index(idx)]-mean[f])/math.Sqrt(variance[f]+eps)*
			scale[f] + offset[f]
	})
	return out
}

// refBatchNormGradient is the gradient of refBatchNorm with batch
// statistics, from the chain rule through mean and variance term by term.
func refBatchNormGradient(x, dy array, axis int, scale []float64, eps float64) (
	dx array, dScale, dOffset []float64) {
	mean, variance := featureStats(x, axis)
	c := x.dims[axis]
	n := float64(len(x.data) / c)
	dScale, dOffset = make([]float64, c), make([]float64, c)
	dVar, dMean := make([]float64, c), make([]float64, c)
	each(x.dims, func(idx []int) {
		f, i := idx[axis], x.index(idx)
		std := math.Sqrt(variance[f] + eps)
		xhat := (x.data[i] - mean[f]) / std
		dOffset[f] += dy.data[i]
		dScale[f] += dy.data[i] * xhat
		dxhat := dy.data[i] * scale[f]
		dVar[f] += dxhat * (x.data[i] - mean[f]) * -0.5 / (std * std * std)
		dMean[f] += -dxhat / std
	})
	dx = newArray(x.dims...)
	each(x.dims, func(idx []int) {
		f, i := idx[axis], x.index(idx)
		std := math.Sqrt(variance[f] + eps)
		dx.data[i] = dy.data[i]*scale[f]/std + dVar[f]*2*(x.data[i]-mean[f])/n + dMean[f]/n
	})
	return dx, dScale, dOffset
}

func vec(v []float64) array { return array{dims: []int{len(v)}, data: v} }

// TestBatchNormOpsMatchReference runs the three ops composed of simplego's
// (gemm=go) and natively (nativebn.go, on the recording builder).
func TestBatchNormOpsMatchReference(t *testing.T) {
	t.Run("composed", func(t *testing.T) { testBatchNormOps(t, testBackend(t, "gemm=go")) })
	t.Run("native", func(t *testing.T) {
		needOpenBLAS(t)
		testBatchNormOps(t, testBackend(t, "gemm=openblas"))
	})
}

func testBatchNormOps(t *testing.T, bk backends.Backend) {
	rng := rand.New(rand.NewPCG(19, 20))
	const eps = float32(1e-5)
	for _, axis := range []int{0, 1, 3} {
		x := randomArray(rng, 0, 4, 3, 2, 5)
		c := x.dims[axis]
		scale, offset := randomArray(rng, 0, c), randomArray(rng, 0, c)
		runMean, runVar := randomArray(rng, 0, c), randomArray(rng, 0, c)
		for i := range runVar.data {
			runVar.data[i] = math.Abs(runVar.data[i]) + 0.1
		}
		dy := randomArray(rng, 0, x.dims...)

		got := runOps(t, bk, func(b *builder, p []backends.Op) ([]backends.Op, error) {
			inf, err := b.BatchNormForInference(p[0], p[1], p[2], p[3], p[4], eps, axis)
			if err != nil {
				return nil, err
			}
			norm, mean, variance, err := b.BatchNormForTraining(p[0], p[1], p[2], eps, axis)
			if err != nil {
				return nil, err
			}
			dx, dScale, dOffset, err := b.BatchNormGradient(p[0], p[1], mean, variance, p[5],
				eps, axis)
			return []backends.Op{inf, norm, mean, variance, dx, dScale, dOffset}, err
		}, x, scale, offset, runMean, runVar, dy)

		e := float64(eps)
		mean, variance := featureStats(x, axis)
		dx, dScale, dOffset := refBatchNormGradient(x, dy, axis, scale.data, e)
		assertClose(t, "inference", got[0],
			refBatchNorm(x, axis, scale.data, offset.data, runMean.data, runVar.data, e), 1e-12)
		assertClose(t, "training", got[1],
			refBatchNorm(x, axis, scale.data, offset.data, mean, variance, e), 1e-12)
		assertClose(t, "batch mean", got[2], vec(mean), 1e-12)
		assertClose(t, "batch variance", got[3], vec(variance), 1e-12)
		assertClose(t, "grad operand", got[4], dx, 1e-10)
		assertClose(t, "grad scale", got[5], vec(dScale), 1e-10)
		assertClose(t, "grad offset", got[6], vec(dOffset), 1e-10)
	}
}

// TestNativeBatchNormMatchesComposedInFloat32 runs the three ops in
// float32 on a feature map whose mean is large against its spread, natively
// and composed: both accumulate in float64, so they agree to float32
// rounding.
func TestNativeBatchNormMatchesComposedInFloat32(t *testing.T) {
	needOpenBLAS(t)
	native, composed := testBackend(t, "gemm=openblas"), testBackend(t, "gemm=go")
	const eps = 1e-5
	ops := func(x, scale, offset, dy *graph.Node) []*graph.Node {
		y, mean, variance := graph.InternalBatchNormForTraining(x, scale, offset, eps, 1)
		dx, dScale, dOffset := graph.InternalBatchNormGradient(x, scale, mean, variance, dy,
			eps, 1)
		inf := graph.InternalBatchNormForInference(x, scale, offset, mean, variance, eps, 1)
		return []*graph.Node{y, mean, variance, dx, dScale, dOffset, inf}
	}
	dims := []int{8, 6, 5, 5}
	inputs := func() []any {
		x := randomTensor(1, dtypes.Float32, dims)
		tensors.MustMutableFlatData(x, func(v []float32) {
			for i := range v {
				v[i] = 300 + 0.01*v[i]
			}
		})
		return []any{x, randomTensor(2, dtypes.Float32, dims[1:2]),
			randomTensor(3, dtypes.Float32, dims[1:2]), randomTensor(4, dtypes.Float32, dims)}
	}
	want := graph.MustExecOnceN(composed, ops, inputs()...)
	got := graph.MustExecOnceN(native, ops, inputs()...)
	names := []string{"normalised", "mean", "variance", "grad operand", "grad scale",
		"grad offset", "inference"}
	for i, name := range names {
		if d := tensorRelDiff(got[i], want[i]); !(d <= 1e-5) {
			t.Errorf("%s: native and composed differ by %.2g relative (> 1e-5)", name, d)
		}
	}
}
