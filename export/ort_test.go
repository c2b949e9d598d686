package export

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"

	ort "github.com/yalue/onnxruntime_go"
)

// ortLibVersion is the onnxruntime release scripts/setup.sh installs, the
// one onnxruntime_go v1.27.0 is written against.
const ortLibVersion = "1.24.1"

var (
	ortOnce sync.Once
	ortErr  error
	ortSkip string
)

// ortLibrary finds the onnxruntime shared library: MOCOKIT_ORT_LIB, else the
// copy scripts/setup.sh installs under the repository's .deps.
func ortLibrary() string {
	if p := os.Getenv("MOCOKIT_ORT_LIB"); p != "" {
		return p
	}
	return filepath.Join("..", ".deps", "onnxruntime", "libonnxruntime.so."+ortLibVersion)
}

// initORT starts the onnxruntime environment once per test binary, skipping
// the test when the library is absent.
func initORT(t testing.TB) {
	t.Helper()
	ortOnce.Do(func() {
		lib := ortLibrary()
		if _, err := os.Stat(lib); err != nil {
			ortSkip = fmt.Sprintf("onnxruntime library not found (%v); run "+
				"scripts/setup.sh or set MOCOKIT_ORT_LIB", err)
			return
		}
		ort.SetSharedLibraryPath(lib)
		ortErr = ort.InitializeEnvironment(ort.WithLogLevelWarning())
	})
	if ortSkip != "" {
		testenv.Missing(t, "%s", ortSkip)
	}
	if ortErr != nil {
		t.Fatalf("onnxruntime: %v", ortErr)
	}
}

// runORT runs the model at path on a batch of [3, size, size] images and
// returns output of batch rows of outDim values.
func runORT(t testing.TB, path, output string, input []float32, batch, size, outDim int,
) []float32 {
	t.Helper()
	initORT(t)
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		t.Fatal(err)
	}
	session, err := ort.NewDynamicAdvancedSession(path, []string{"input"},
		[]string{output}, opts)
	if err != nil {
		t.Fatalf("onnxruntime cannot load %s: %v", path, err)
	}
	defer session.Destroy()
	x, err := ort.NewTensor(ort.NewShape(int64(batch), 3, int64(size), int64(size)), input)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Destroy()
	y, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(batch), int64(outDim)))
	if err != nil {
		t.Fatal(err)
	}
	defer y.Destroy()
	if err := session.Run([]ort.Value{x}, []ort.Value{y}); err != nil {
		t.Fatalf("onnxruntime cannot run %s: %v", path, err)
	}
	return append([]float32(nil), y.GetData()...)
}
