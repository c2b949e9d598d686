package export

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"

	"github.com/mocokit/mocokit/models"
)

// Test fixtures made by testdata/make_reference.py are large (45 MB of
// weights per variant), so they are generated once per test binary into a
// directory that TestMain removes.
var (
	refOnce sync.Once
	refDir  string
	refErr  error
	refSkip string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if refDir != "" {
		os.RemoveAll(refDir)
	}
	os.Exit(code)
}

// python returns the interpreter that has PyTorch: Debian's, not the pyenv
// one first on PATH, unless MOCOKIT_PYTHON names another.
func python() string {
	if p := os.Getenv("MOCOKIT_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// referenceVariant is one entry of the manifest make_reference.py writes.
type referenceVariant struct {
	Name        string  `json:"name"`
	Stem        string  `json:"stem"`
	Head        string  `json:"head"`
	NumClasses  int     `json:"num_classes"`
	EmbedDim    int     `json:"embed_dim"`
	HiddenDim   int     `json:"hidden_dim"`
	InputSize   int     `json:"input_size"`
	Batch       int     `json:"batch"`
	InputSource string  `json:"input_source"`
	Params      [][]any `json:"params"`
	OutputShape []int   `json:"output_shape"`
}

func (v referenceVariant) config() models.Config {
	return models.Config{Stem: models.Stem(v.Stem), Head: models.Head(v.Head),
		NumClasses: v.NumClasses, EmbedDim: v.EmbedDim, HiddenDim: v.HiddenDim}
}

// reference runs make_reference.py once and returns its variants, skipping
// the test when PyTorch is not installed.
func reference(t testing.TB) []referenceVariant {
	t.Helper()
	refOnce.Do(func() {
		if err := exec.Command(python(), "-c", "import torch, torchvision").Run(); err != nil {
			refSkip = fmt.Sprintf("%s cannot import torch and torchvision (%v); "+
				"run scripts/setup.sh --test or set MOCOKIT_PYTHON", python(), err)
			return
		}
		refDir, refErr = os.MkdirTemp("", "mocokit-export-ref-")
		if refErr != nil {
			return
		}
		cmd := exec.Command(python(), filepath.Join("testdata", "make_reference.py"), refDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			refErr = fmt.Errorf("make_reference.py: %v\n%s", err, out)
		}
	})
	if refSkip != "" {
		testenv.Missing(t, "%s", refSkip)
	}
	if refErr != nil {
		t.Fatal(refErr)
	}
	b, err := os.ReadFile(filepath.Join(refDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Variants []referenceVariant }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Variants
}

func referenceByName(t testing.TB, name string) referenceVariant {
	t.Helper()
	for _, v := range reference(t) {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no reference variant %q", name)
	return referenceVariant{}
}

func readFloats(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("%s: %d bytes is not a whole number of float32", path, len(b))
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return f
}

// referenceWeights splits the variant's parameter dump in the order of
// cfg.Params(), checking that PyTorch's state_dict has that order and those
// shapes, and adds num_batches_tracked, which the dump leaves out.
func referenceWeights(t testing.TB, v referenceVariant) models.Weights {
	t.Helper()
	data := readFloats(t, filepath.Join(refDir, v.Name+".params.bin"))
	w := models.Weights{}
	i, off := 0, 0
	for _, p := range v.config().Params() {
		if p.Kind == models.NumBatchesTracked {
			w[p.Name] = models.NewTensor()
			continue
		}
		if i >= len(v.Params) {
			t.Fatalf("%s: PyTorch has no parameter for %s", v.Name, p.Name)
		}
		if got := v.Params[i][0].(string); got != p.Name {
			t.Fatalf("%s: parameter %d is %s in PyTorch, %s in models", v.Name, i, got, p.Name)
		}
		if got := fmt.Sprint(v.Params[i][1]); got != fmt.Sprint(p.Shape) {
			t.Fatalf("%s: %s has shape %s in PyTorch, %v in models", v.Name, p.Name, got,
				p.Shape)
		}
		w[p.Name] = &models.Tensor{Shape: p.Shape, Data: data[off : off+p.Size()]}
		i, off = i+1, off+p.Size()
	}
	if i != len(v.Params) || off != len(data) {
		t.Fatalf("%s: %d of %d parameters and %d of %d values used", v.Name, i,
			len(v.Params), off, len(data))
	}
	return w
}

func referenceMetadata(v referenceVariant) models.Metadata {
	return models.Metadata{
		Output: "logits",
		Preprocess: models.Preprocess{InputSize: v.InputSize,
			Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}},
		Source: "make_reference.py " + v.Name,
	}
}

// randomWeights fills every parameter of cfg with seeded values in a range
// that keeps activations finite; running variances are positive.
func randomWeights(cfg models.Config, seed uint64) models.Weights {
	r := rand.New(rand.NewPCG(seed, 1))
	w := models.Weights{}
	for _, p := range cfg.Params() {
		t := models.NewTensor(p.Shape...)
		for i := range t.Data {
			switch p.Kind {
			case models.RunningVar:
				t.Data[i] = 0.5 + r.Float32()
			case models.NumBatchesTracked:
				t.Data[i] = 7
			default:
				t.Data[i] = (r.Float32() - 0.5) / 10
			}
		}
		w[p.Name] = t
	}
	return w
}

func maxAbsDiff(t testing.TB, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	d := 0.0
	for i := range got {
		if math.IsNaN(float64(got[i])) {
			t.Fatalf("value %d is NaN", i)
		}
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
	}
	return d
}

// runChecker runs onnx.checker.check_model with full_check (which also runs
// shape inference) on path.
func runChecker(t testing.TB, path string) {
	t.Helper()
	if err := exec.Command(python(), "-c", "import onnx").Run(); err != nil {
		testenv.Missing(t, "%s cannot import onnx (%v); install python3-onnx", python(), err)
	}
	script := strings.Join([]string{
		"import sys, onnx",
		"onnx.checker.check_model(sys.argv[1], full_check=True)",
		"print('ok', onnx.__version__)",
	}, "\n")
	out, err := exec.Command(python(), "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
	if !strings.HasPrefix(string(out), "ok ") {
		t.Fatalf("onnx.checker printed %q", out)
	}
	t.Logf("onnx.checker (onnx %s) accepts %s", strings.TrimSpace(string(out[3:])),
		filepath.Base(path))
}
