package train

import (
	"math"
	"math/rand/v2"

	"github.com/mocokit/mocokit/models"
)

// InitWeights returns weights initialised as torchvision initialises
// ResNet-18: convolutions He-normal with fan-out (std √(2/fan_out)), batch
// norm weight 1 and bias 0 with running mean 0 and variance 1, and linear
// layers as torch.nn.Linear's default, uniform in ±1/√fan_in for weight and
// bias. The same seed gives the same weights.
func InitWeights(cfg models.Config, seed uint64) models.Weights {
	rng := rand.New(rand.NewPCG(seed, 0x6d6f636f))
	w := models.Weights{}
	for _, op := range cfg.Ops() {
		for _, p := range op.Params() {
			t := models.NewTensor(p.Shape...)
			initParam(t, op, p, rng)
			w[p.Name] = t
		}
	}
	return w
}

func initParam(t *models.Tensor, op models.Op, p models.Param, rng *rand.Rand) {
	switch {
	case op.Kind == models.Conv:
		std := math.Sqrt(2 / float64(op.Out*op.Kernel*op.Kernel))
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
	case op.Kind == models.Linear:
		bound := 1 / math.Sqrt(float64(op.In))
		for i := range t.Data {
			t.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	case p.Kind == models.Weight, p.Kind == models.RunningVar:
		for i := range t.Data {
			t.Data[i] = 1
		}
	}
}
