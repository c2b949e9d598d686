package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
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

func TestBatchNormOpsMatchReference(t *testing.T) {
	bk := testBackend(t, "")
	rng := rand.New(rand.NewPCG(19, 20))
	const eps = float32(1e-5)
	for _, axis := range []int{1, 3} {
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
