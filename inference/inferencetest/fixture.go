// Package inferencetest builds, for tests, a real ResNet-18 exported to ONNX
// with mocokit metadata and PyTorch's outputs for real CIFAR-10 test images,
// by running serve/testdata/make_model.py with the system Python (which has
// PyTorch 1.13). The fixture is made once per test binary.
package inferencetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

// Python is the interpreter that has torch, torchvision and onnx.
const Python = "/usr/bin/python3"

// PerClass is how many test images per class the fixture holds.
const PerClass = 5

// Fixture is what make_model.py wrote into Dir.
type Fixture struct {
	Dir        string
	Classifier string // classifier.onnx: 10 CIFAR-10 classes, output "logits"
	Embedding  string // embedding.onnx: 128 values, no classes
	Dataset    string // dataset/<class>/NNNN.png
	Expected   Expected
}

// Expected holds PyTorch's results for the fixture's images.
type Expected struct {
	Files        []string    `json:"files"` // relative to Dir, class then name order
	Labels       []int       `json:"labels"`
	Logits       [][]float64 `json:"logits"`
	Embedding    [][]float64 `json:"embedding"`
	Pred         []int       `json:"pred"`
	MinMargin    float64     `json:"min_margin"` // smallest top-1 minus top-2 logit
	ResizedFiles []string    `json:"resized_files"`
	ResizedInput [][]float64 `json:"resized_input"` // torchvision's tensors, CHW
}

var (
	once    sync.Once
	fixture *Fixture
	err     error
)

// Get returns the fixture, making it on first use; it skips the test when
// the system Python lacks PyTorch.
func Get(tb testing.TB) *Fixture {
	tb.Helper()
	if out, e := exec.Command(Python, "-c", "import torch, torchvision, onnx").
		CombinedOutput(); e != nil {
		testenv.Missing(tb, "%s cannot import torch, torchvision and onnx (scripts/setup.sh "+
			"--test installs them): %v %s", Python, e, out)
	}
	once.Do(func() { fixture, err = build() })
	if err != nil {
		tb.Fatal(err)
	}
	return fixture
}

// Cleanup removes the fixture's files; call it from TestMain after m.Run.
func Cleanup() {
	if fixture != nil {
		os.RemoveAll(fixture.Dir)
	}
}

func build() (*Fixture, error) {
	script := filepath.Join(repoRoot(), "serve", "testdata", "make_model.py")
	dir, err := os.MkdirTemp("", "mocokit-model-")
	if err != nil {
		return nil, err
	}
	f := &Fixture{Dir: dir, Classifier: filepath.Join(dir, "classifier.onnx"),
		Embedding: filepath.Join(dir, "embedding.onnx"),
		Dataset:   filepath.Join(dir, "dataset")}
	fixture = f
	cmd := exec.Command(Python, script, dir, fmt.Sprint(PerClass))
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", Python, script, err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &f.Expected); err != nil {
		return nil, fmt.Errorf("expected.json: %w", err)
	}
	return f, nil
}

// repoRoot is the module's root directory, found from this file's path
// because tests run in their package's directory.
func repoRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..")
}

// Library returns the onnxruntime library for tests: $MOCOKIT_ORT_LIB, or
// the one scripts/setup.sh installed under the repository root. It skips the
// test when there is none.
func Library(tb testing.TB) string {
	tb.Helper()
	if v := os.Getenv("MOCOKIT_ORT_LIB"); v != "" {
		return v
	}
	dir := filepath.Join(repoRoot(), ".deps", "onnxruntime")
	matches, _ := filepath.Glob(filepath.Join(dir, "libonnxruntime.so*"))
	if len(matches) == 0 {
		testenv.Missing(tb, "no onnxruntime library in %s: run scripts/setup.sh", dir)
	}
	return matches[len(matches)-1]
}
