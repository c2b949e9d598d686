package train

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mocokit/mocokit/models"
)

func (r *Run) kind() string {
	if r.Probe {
		return KindLinCls
	}
	return KindBaseline
}

func (r *Run) command() string {
	if r.Probe {
		return "lincls"
	}
	return "baseline"
}

// probeWeights takes the encoder of a pretrained network (any head; its fc
// is dropped, as main_lincls.py deletes it) and adds a new fc for cfg,
// initialised N(0, 0.01) with zero bias.
func probeWeights(cfg models.Config, pretrained models.Weights, seed uint64) models.Weights {
	if pretrained == nil {
		return nil
	}
	w := encoderOf(pretrained)
	rng := rand.New(rand.NewPCG(seed, 0x6c696e))
	fc := models.NewTensor(cfg.NumClasses, models.FeatureDim)
	for i := range fc.Data {
		fc.Data[i] = float32(rng.NormFloat64() * 0.01)
	}
	w["fc.weight"], w["fc.bias"] = fc, models.NewTensor(cfg.NumClasses)
	return w
}

// encoderOf copies every tensor but the head's.
func encoderOf(w models.Weights) models.Weights {
	out := models.Weights{}
	for name, t := range w {
		if !strings.HasPrefix(name, "fc.") {
			out[name] = &models.Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
		}
	}
	return out
}

// checkFrozen is main_lincls.py's sanity check: the encoder's weights and
// running statistics are exactly those the probe started from.
func (r *Run) checkFrozen() error {
	if !r.Probe {
		return nil
	}
	w, err := r.net.Weights()
	if err != nil {
		return err
	}
	for name, t := range r.frozen {
		if models.ParamSuffix(name) == "num_batches_tracked" {
			continue
		}
		if !slices.Equal(w[name].Data, t.Data) {
			return fmt.Errorf("train: the frozen encoder changed: %s", name)
		}
	}
	r.Log.Info("the frozen encoder did not change", "tensors", len(r.frozen))
	return nil
}
