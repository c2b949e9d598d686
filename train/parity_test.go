package train

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/convert/torchfile"
	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/models"
)

var stems = map[string]models.Stem{"imagenet": models.StemImageNet, "cifar": models.StemCIFAR}

var (
	refOnce sync.Once
	refDir  string
	refErr  error
)

// reference runs testdata/parity.py once per test binary: PyTorch writes the
// weights, batches and expected values (about 270 MB, so they are made in
// the run rather than committed).
func reference(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		testenv.Missing(t, "no /usr/bin/python3 for the PyTorch reference")
	}
	refOnce.Do(func() {
		refDir, refErr = os.MkdirTemp("", "mocokit-parity-")
		if refErr != nil {
			return
		}
		out, err := exec.Command("/usr/bin/python3", "testdata/parity.py", refDir).
			CombinedOutput()
		if err != nil {
			refErr = &pythonError{err: err, out: string(out)}
		}
	})
	if refErr != nil {
		testenv.Missing(t, "PyTorch reference: %v", refErr)
	}
	return refDir
}

type pythonError struct {
	err error
	out string
}

func (e *pythonError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if refDir != "" {
		os.RemoveAll(refDir)
	}
	os.Exit(code)
}

// readTorch reads a torch.save'd dict of tensors as float32 by name.
func readTorch(t *testing.T, path string) map[string]*models.Tensor {
	t.Helper()
	v, err := torchfile.ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := torchfile.StateDict(v)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*models.Tensor{}
	for _, e := range entries {
		data, err := e.Tensor.Float32()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		out[e.Name] = &models.Tensor{Shape: e.Tensor.Shape, Data: data}
	}
	return out
}

func labels(t *models.Tensor) []int32 {
	out := make([]int32, len(t.Data))
	for i, v := range t.Data {
		out[i] = int32(v)
	}
	return out
}

// relDiff is max|a-b| / max(max|b|, floor): a relative error that does not
// explode on entries that happen to be near zero.
func relDiff(a, b []float32, floor float64) float64 {
	var diff, scale float64
	for i := range b {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return diff / math.Max(scale, floor)
}

func maxAbs(a, b []float32) float64 {
	var d float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func parityNetwork(t *testing.T, stem string, opt SGD) (*Network, map[string]*models.Tensor) {
	t.Helper()
	return parityNetworkOn(t, parityBackend(t), stem, opt)
}

// parityNetworkOn builds the parity network of stem on backend b.
func parityNetworkOn(t *testing.T, b backends.Backend, stem string, opt SGD) (
	*Network, map[string]*models.Tensor) {
	t.Helper()
	dir := filepath.Join(reference(t), stem)
	cfg := models.ResNet18(stems[stem], 10)
	n, err := NewNetwork(b, cfg, models.Weights(readTorch(t, filepath.Join(dir,
		"init.pt"))), opt)
	if err != nil {
		t.Fatal(err)
	}
	return n, readTorch(t, filepath.Join(dir, "batch.pt"))
}

func TestEvalLogitsMatchPyTorch(t *testing.T) {
	for stem := range stems {
		t.Run(stem, func(t *testing.T) {
			n, batch := parityNetwork(t, stem, SGD{})
			ref := readTorch(t, filepath.Join(refDir, stem, "ref.pt"))
			got, err := n.Logits(Batch{Images: batch["x"].Data, Size: 32})
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbs(got, ref["eval_logits"].Data)
			t.Logf("eval logits: max |GoMLX - PyTorch| = %.2g", d)
			if d > 1e-4 {
				t.Errorf("eval logits differ from PyTorch by %g (> 1e-4)", d)
			}
		})
	}
}
