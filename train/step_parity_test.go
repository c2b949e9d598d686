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
// (torchvision's resnet18, SGD lr 0.005, momentum 0.5) from the same
// weights and batches as PyTorch. On 32x32 inputs the ImageNet stem
// amplifies rounding (a max-pool window whose two largest values nearly tie
// sends its gradient elsewhere when the last bit differs), so that
// PyTorch's own float32 run leaves its float64 run by about 0.14 within ten
// steps: there is no float32 curve to follow to 1e-3. The test therefore
// runs mocokit's step graph in float64 against PyTorch in float64, within
// 1e-3, and checks that mocokit's float32 run stays within twice PyTorch's
// own float32 departure from that exact curve: the two float32 runs round
// differently (OpenBLAS sums in blocks, as PyTorch's kernels do), and
// which of them drifts further from step to step is chance.
func TestSeedPresetLossCurveMatchesPyTorch(t *testing.T) {
	curve := readTorch(t, filepath.Join(reference(t), "imagenet", "curve.pt"))
	want, torch32 := curve["losses64"].Data, curve["losses"].Data
	go64 := seedCurve(t, curve, true)
	go32 := seedCurve(t, curve, false)
	for i := range want {
		t.Logf("step %2d: PyTorch float64 %.6f float32 %.6f; mocokit float64 %.6f "+
			"float32 %.6f", i+1, want[i], torch32[i], go64[i], go32[i])
	}
	d64, d32, torchD32 := maxAbs(go64, want), maxAbs(go32, want), maxAbs(torch32, want)
	t.Logf("departure from PyTorch float64: mocokit float64 %.2g, mocokit float32 %.2g, "+
		"PyTorch float32 %.2g", d64, d32, torchD32)
	if d64 > 1e-3 {
		t.Errorf("float64 loss curve departs from PyTorch's by %.2g (> 1e-3)", d64)
	}
	if d32 > 2*torchD32 {
		t.Errorf("float32 curve departs by %.2g, over twice PyTorch's own float32 (%.2g)",
			d32, torchD32)
	}
}

// seedCurve runs the ten steps and returns their losses.
func seedCurve(t *testing.T, curve map[string]*models.Tensor, float64s bool) []float32 {
	t.Helper()
	n, _ := parityNetworkOn(t, testBackend(t), "imagenet", SGD{Momentum: 0.5})
	if float64s {
		for _, ts := range [][]*tensors.Tensor{n.params, n.stats, n.momentum} {
			for i := range ts {
				ts[i] = f64(ts[i])
			}
		}
	}
	per := 32 * 3 * 32 * 32
	var losses []float32
	for i := range curve["losses64"].Data {
		x := tensors.FromFlatDataAndDimensions(curve["x"].Data[i*per:(i+1)*per], 32, 3, 32, 32)
		if float64s {
			x = f64(x)
		}
		y := tensors.FromFlatDataAndDimensions(
			labels(&models.Tensor{Data: curve["y"].Data[i*32 : (i+1)*32]}), 32)
		args := appendTensors(nil, n.params, n.stats, n.momentum)
		outs, err := n.stepExec.Exec(append(args, x, y, tensors.FromScalar(float32(0.005)))...)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float32(tensorFloat(outs[0])))
		rest := outs[2:]
		n.params = append(n.params[:0], rest[:len(n.params)]...)
		rest = rest[len(n.params):]
		n.stats = append(n.stats[:0], rest[:len(n.stats)]...)
		n.momentum = append(n.momentum[:0], rest[len(n.stats):]...)
	}
	return losses
}

func f64(t *tensors.Tensor) *tensors.Tensor {
	v := tensors.MustCopyFlatData[float32](t)
	d := make([]float64, len(v))
	for i := range v {
		d[i] = float64(v[i])
	}
	return tensors.FromFlatDataAndDimensions(d, t.Shape().Dimensions...)
}

func tensorFloat(t *tensors.Tensor) float64 {
	if v, err := tensors.CopyFlatData[float64](t); err == nil {
		return v[0]
	}
	return float64(scalar(t))
}
