package train

import (
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/mocokit/mocokit/models"
)

// trainOutputs runs the forward pass in training mode and returns the
// logits, the loss and the gradient of every trainable parameter.
func trainOutputs(t *testing.T, n *Network, b Batch) (logits []float32, loss float32,
	grads map[string][]float32) {
	t.Helper()
	np, ns := len(n.params), len(n.stats)
	e, err := NewExec(n.backend, func(in []*Node) []*Node {
		vals := n.named(in[:np], in[np:np+ns])
		out, _ := forward(n.Config, vals, in[np+ns], trainMode)
		l, _ := crossEntropy(out, in[np+ns+1])
		return append([]*Node{out, l}, Gradient(l, in[:np]...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	x, y, err := batchTensors(b)
	if err != nil {
		t.Fatal(err)
	}
	args := appendTensors(nil, n.params, n.stats)
	outs, err := e.Exec(append(args, x, y)...)
	if err != nil {
		t.Fatal(err)
	}
	logits = tensors.MustCopyFlatData[float32](outs[0])
	loss = scalar(outs[1])
	grads = map[string][]float32{}
	for i, p := range n.trainable {
		grads[p.Name] = tensors.MustCopyFlatData[float32](outs[2+i])
	}
	return logits, loss, grads
}

func parityBatch(batch map[string]*models.Tensor) Batch {
	return Batch{Images: batch["x"].Data, Labels: labels(batch["y"]), Size: 32}
}

func TestTrainModeAndGradientsMatchPyTorch(t *testing.T) {
	for stem := range stems {
		t.Run(stem, func(t *testing.T) {
			n, batch := parityNetwork(t, stem, SGD{})
			ref := readTorch(t, filepath.Join(refDir, stem, "ref.pt"))
			logits, loss, grads := trainOutputs(t, n, parityBatch(batch))
			if d := maxAbs(logits, ref["train_logits"].Data); d > 1e-4 {
				t.Errorf("train-mode logits differ by %g (> 1e-4)", d)
			}
			if d := relDiff([]float32{loss}, ref["loss"].Data, 0); d > 1e-4 {
				t.Errorf("loss %g, PyTorch %g", loss, ref["loss"].Data[0])
			}
			worst, worstName := 0.0, ""
			for name, g := range grads {
				d := relDiff(g, ref["grad."+name].Data, 1e-6)
				if d > worst {
					worst, worstName = d, name
				}
			}
			t.Logf("loss %.6f; worst gradient %s, relative diff %.2g", loss, worstName, worst)
			if worst > 1e-4 {
				t.Errorf("gradient of %s differs by %.2g relative (> 1e-4)", worstName, worst)
			}
		})
	}
}

func TestSGDStepMatchesPyTorch(t *testing.T) {
	opt := SGD{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true}
	for stem := range stems {
		t.Run(stem, func(t *testing.T) {
			n, batch := parityNetwork(t, stem, opt)
			ref := readTorch(t, filepath.Join(refDir, stem, "ref.pt"))
			res, err := n.Step(parityBatch(batch), 0.1)
			if err != nil {
				t.Fatal(err)
			}
			if d := relDiff([]float32{float32(res.Loss)}, ref["loss"].Data, 0); d > 1e-4 {
				t.Errorf("step loss %g, PyTorch %g", res.Loss, ref["loss"].Data[0])
			}
			w, err := n.Weights()
			if err != nil {
				t.Fatal(err)
			}
			worst, worstName := 0.0, ""
			for _, p := range n.Config.Params() {
				d := relDiff(w[p.Name].Data, ref["after."+p.Name].Data, 1e-6)
				if d > worst {
					worst, worstName = d, p.Name
				}
			}
			t.Logf("after one step: worst %s, relative diff %.2g", worstName, worst)
			if worst > 1e-4 {
				t.Errorf("%s after one step differs by %.2g relative (> 1e-4)", worstName, worst)
			}
		})
	}
}

// TestSeedPresetLossCurveMatchesPyTorch runs ten steps of the seed preset
// (torchvision's resnet18, SGD lr 0.005, momentum 0.5) and compares the
// losses with PyTorch's run of the same steps in float64: on 32x32 inputs
// the ImageNet stem amplifies rounding so that PyTorch's own float32 run
// drifts from its float64 run by about 0.1, which the test logs.
func TestSeedPresetLossCurveMatchesPyTorch(t *testing.T) {
	n, _ := parityNetwork(t, "imagenet", SGD{Momentum: 0.5})
	curve := readTorch(t, filepath.Join(refDir, "imagenet", "curve.pt"))
	per := 32 * 3 * 32 * 32
	var worst, worst32 float64
	for i, want := range curve["losses64"].Data {
		b := Batch{Images: curve["x"].Data[i*per : (i+1)*per],
			Labels: labels(&models.Tensor{Data: curve["y"].Data[i*32 : (i+1)*32]}),
			Size:   32}
		res, err := n.Step(b, 0.005)
		if err != nil {
			t.Fatal(err)
		}
		got := []float32{float32(res.Loss)}
		worst = max(worst, maxAbs(got, []float32{want}))
		worst32 = max(worst32, maxAbs(got, curve["losses"].Data[i:i+1]))
		t.Logf("step %2d: loss %.6f, PyTorch float64 %.6f, float32 %.6f", i+1, res.Loss,
			want, curve["losses"].Data[i])
	}
	t.Logf("max departure: %.2g from PyTorch float64, %.2g from PyTorch float32",
		worst, worst32)
	if worst > 1e-3 {
		t.Errorf("loss curve departs from PyTorch's by %.2g (> 1e-3)", worst)
	}
}
