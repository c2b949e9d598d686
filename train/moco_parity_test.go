package train

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/models"
)

var (
	mocoOnce sync.Once
	mocoDir  string
	mocoErr  error
)

// mocoReference runs testdata/moco_parity.py once per test binary.
func mocoReference(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		testenv.Missing(t, "no /usr/bin/python3 for the PyTorch reference")
	}
	mocoOnce.Do(func() {
		if mocoDir, mocoErr = os.MkdirTemp("", "mocokit-moco-"); mocoErr != nil {
			return
		}
		out, err := exec.Command("/usr/bin/python3", "testdata/moco_parity.py", mocoDir).
			CombinedOutput()
		if err != nil {
			mocoErr = &pythonError{err: err, out: string(out)}
		}
	})
	if mocoErr != nil {
		testenv.Missing(t, "PyTorch MoCo reference: %v", mocoErr)
	}
	return mocoDir
}

func worstRel(t *testing.T, what string, got models.Weights, ref map[string]*models.Tensor,
	prefix string) {
	t.Helper()
	worst, worstName := 0.0, ""
	for name, g := range got {
		r, ok := ref[prefix+name]
		if !ok {
			t.Fatalf("%s: PyTorch has no %s", what, prefix+name)
		}
		if d := relDiff(g.Data, r.Data, 1e-6); d > worst {
			worst, worstName = d, name
		}
	}
	t.Logf("%s: worst %s, relative diff %.2g", what, worstName, worst)
	if worst > 1e-4 {
		t.Errorf("%s: %s differs from PyTorch by %.2g relative (> 1e-4)", what, worstName, worst)
	}
}

func TestMoCoStepMatchesPyTorch(t *testing.T) {
	cases := map[string]struct {
		head      models.Head
		splits    int
		symmetric bool
		k         int
	}{"v1": {models.HeadMoCo, 1, false, 32}, "v2": {models.HeadMoCoMLP, 2, true, 64}}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(mocoReference(t), name)
			cfg := models.Config{Stem: models.StemImageNet, Head: c.head, EmbedDim: 16,
				HiddenDim: 512}
			in := readTorch(t, filepath.Join(dir, "inputs.pt"))
			ref := readTorch(t, filepath.Join(dir, "ref.pt"))
			mc := MoCoConfig{K: c.k, M: 0.99, T: 0.07, BNSplits: c.splits, Symmetric: c.symmetric}
			m, err := newMoCo(parityBackend(t), cfg, readTorch(t, filepath.Join(dir, "init.pt")),
				mc, SGD{Momentum: 0.9, WeightDecay: 1e-4}, in["queue"], 0, true)
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.StepShuffled(in["x1"].Data, in["x2"].Data, 32, labels(in["perm"]), 0.03)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbs(m.lastLogits, ref["logits"].Data); d > 1e-4*max(1, maxAbsOf(ref["logits"].Data)) {
				t.Errorf("logits differ from PyTorch by %g", d)
			}
			if d := relDiff([]float32{float32(res.Loss)}, ref["loss"].Data, 0); d > 1e-4 {
				t.Errorf("loss %v, PyTorch %v", res.Loss, ref["loss"].Data[0])
			}
			if res.Top1 != int(ref["acc1"].Data[0]) || res.Top5 != int(ref["acc5"].Data[0]) {
				t.Errorf("top-1/top-5 %d/%d, PyTorch %v/%v", res.Top1, res.Top5,
					ref["acc1"].Data[0], ref["acc5"].Data[0])
			}
			q, err := m.Query().Weights()
			if err != nil {
				t.Fatal(err)
			}
			worstRel(t, "query encoder", q, ref, "q.")
			k, err := m.Key().Weights()
			if err != nil {
				t.Fatal(err)
			}
			worstRel(t, "key encoder", k, ref, "k.")
			if d := maxAbs(m.Queue().Data, ref["queue"].Data); d > 1e-5 {
				t.Errorf("queue differs from PyTorch by %g", d)
			}
		})
	}
}

func maxAbsOf(v []float32) float64 { return maxAbs(v, make([]float32, len(v))) }

func TestLinearProbeStepMatchesPyTorch(t *testing.T) {
	dir := filepath.Join(mocoReference(t), "lincls")
	init := readTorch(t, filepath.Join(dir, "init.pt"))
	in := readTorch(t, filepath.Join(dir, "inputs.pt"))
	ref := readTorch(t, filepath.Join(dir, "ref.pt"))
	cfg := models.ResNet18(models.StemImageNet, 10)
	n, err := NewLinearProbe(testBackend(t), cfg, init, SGD{Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Step(Batch{Images: in["x"].Data, Labels: labels(in["y"]), Size: 32}, 30)
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff([]float32{float32(res.Loss)}, ref["loss"].Data, 0); d > 1e-4 {
		t.Errorf("loss %v, PyTorch %v", res.Loss, ref["loss"].Data[0])
	}
	w, err := n.Weights()
	if err != nil {
		t.Fatal(err)
	}
	worstRel(t, "linear probe", w, ref, "after.")
	for name, t0 := range init {
		if len(name) > 3 && name[:3] == "fc." {
			continue
		}
		for i := range t0.Data {
			if w[name].Data[i] != t0.Data[i] {
				t.Fatalf("frozen %s changed at %d: %v -> %v", name, i, t0.Data[i], w[name].Data[i])
			}
		}
	}
}
