package inference

import (
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/inference/inferencetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	inferencetest.Cleanup()
	os.Exit(code)
}

func openClassifier(t *testing.T) (*Session, *inferencetest.Fixture) {
	t.Helper()
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	s, err := Open(fx.Classifier, Options{Library: lib, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fx
}

func decodePNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// batchOf preprocesses the fixture's images into one batch.
func batchOf(t testing.TB, s *Session, fx *inferencetest.Fixture, files []string) []float32 {
	t.Helper()
	n := s.InputLen()
	x := make([]float32, len(files)*n)
	for i, f := range files {
		img := decodePNG(t, filepath.Join(fx.Dir, f))
		if err := PreprocessInto(x[i*n:(i+1)*n], img, s.Metadata().Preprocess); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func TestOpenReadsMetadataAndShapes(t *testing.T) {
	s, _ := openClassifier(t)
	m := s.Metadata()
	if strings.Join(m.Classes, ",") != strings.Join(dataset.CIFAR10Classes, ",") {
		t.Errorf("classes %v, want CIFAR-10's", m.Classes)
	}
	if m.Preprocess.InputSize != 32 || m.Preprocess.Mean != [3]float32{0.5, 0.5, 0.5} ||
		m.Preprocess.Std != [3]float32{0.5, 0.5, 0.5} || m.Arch != "resnet18" {
		t.Errorf("metadata %+v", m)
	}
	if s.InputName() != "input" || s.OutputName() != "logits" || s.OutputDim() != 10 {
		t.Errorf("input %q output %q dim %d", s.InputName(), s.OutputName(), s.OutputDim())
	}
	if shape := s.InputShape(); len(shape) != 4 || shape[0] != -1 || shape[1] != 3 {
		t.Errorf("input shape %v, want [-1 3 32 32]", shape)
	}
	if s.Device() != DeviceCPU || s.InputLen() != 3*32*32 {
		t.Errorf("device %q, input length %d", s.Device(), s.InputLen())
	}
}

func TestRunMatchesPyTorch(t *testing.T) {
	s, fx := openClassifier(t)
	files := fx.Expected.Files
	logits, err := s.Run(batchOf(t, s, fx, files), len(files))
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range files {
		for j, want := range fx.Expected.Logits[i] {
			worst = math.Max(worst, math.Abs(float64(logits[i*10+j])-want))
		}
		if got := Argmax(logits[i*10 : i*10+10]); got != fx.Expected.Pred[i] {
			t.Errorf("%s: argmax %d, PyTorch %d", files[i], got, fx.Expected.Pred[i])
		}
	}
	t.Logf("max |logit - PyTorch| over %d images: %.3g", len(files), worst)
	if worst > 1e-4 {
		t.Errorf("max |logit - PyTorch| = %g, want <= 1e-4", worst)
	}
}

func TestRunBatchEqualsSingleImages(t *testing.T) {
	s, fx := openClassifier(t)
	files := fx.Expected.Files[:4]
	x := batchOf(t, s, fx, files)
	all, err := s.Run(x, len(files))
	if err != nil {
		t.Fatal(err)
	}
	n := s.InputLen()
	for i := range files {
		one, err := s.Run(x[i*n:(i+1)*n], 1)
		if err != nil {
			t.Fatal(err)
		}
		for j := range one {
			if d := math.Abs(float64(one[j] - all[i*10+j])); d > 1e-5 {
				t.Fatalf("%s logit %d: %g alone, %g in a batch", files[i], j, one[j], all[i*10+j])
			}
		}
	}
}

func TestRunConcurrently(t *testing.T) {
	s, fx := openClassifier(t)
	files := fx.Expected.Files[:8]
	x := batchOf(t, s, fx, files)
	want, err := s.Run(x, len(files))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.Run(x, len(files))
			if err == nil && !slices.Equal(got, want) {
				err = errors.New("concurrent run gave different logits")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestRunRejectsWrongInputLength(t *testing.T) {
	s, _ := openClassifier(t)
	_, err := s.Run(make([]float32, 100), 1)
	if err == nil || !strings.Contains(err.Error(), "100 values for a batch of 1, want 3072") {
		t.Fatalf("error %v", err)
	}
	if _, err := s.Run(nil, 0); err == nil {
		t.Fatal("batch 0 accepted")
	}
}

func TestEmbeddingModel(t *testing.T) {
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	s, err := Open(fx.Embedding, Options{Library: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Metadata().Classes) != 0 || s.OutputDim() != 128 || s.OutputName() != "embedding" {
		t.Fatalf("classes %v, dim %d, output %q", s.Metadata().Classes, s.OutputDim(),
			s.OutputName())
	}
	files := fx.Expected.Files[:3]
	out, err := s.Run(batchOf(t, s, fx, files), len(files))
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		for j, want := range fx.Expected.Embedding[i] {
			if d := math.Abs(float64(out[i*128+j]) - want); d > 1e-4 {
				t.Fatalf("%s value %d: %g, PyTorch %g", files[i], j, out[i*128+j], want)
			}
		}
	}
}

func TestOpenRejectsModelWithoutMetadata(t *testing.T) {
	lib := inferencetest.Library(t)
	_, err := Open(filepath.Join("testdata", "nometa.onnx"), Options{Library: lib})
	if err == nil || !strings.Contains(err.Error(), "not a mocokit model") {
		t.Fatalf("error %v, want 'not a mocokit model'", err)
	}
	_, err = Open(filepath.Join(t.TempDir(), "absent.onnx"), Options{Library: lib})
	if err == nil || !strings.Contains(err.Error(), "absent.onnx") {
		t.Fatalf("error %v, want the path named", err)
	}
}

func TestCUDAFailsClearlyAndAutoFallsBack(t *testing.T) {
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	s, err := Open(fx.Classifier, Options{Library: lib, Device: DeviceCUDA})
	if err == nil {
		s.Close()
		t.Skip("the CUDA provider works on this machine")
	}
	if !errors.Is(err, ErrNoCUDA) ||
		!strings.Contains(err.Error(), "libonnxruntime_providers_shared.so") {
		t.Fatalf("error %v, want ErrNoCUDA naming the provider libraries", err)
	}
	s, err = Open(fx.Classifier, Options{Library: lib, Device: DeviceAuto})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Device() != DeviceCPU {
		t.Fatalf("auto ran on %q, want cpu", s.Device())
	}
	if _, err := Open(fx.Classifier, Options{Library: lib, Device: "tpu"}); err == nil ||
		!strings.Contains(err.Error(), `unknown device "tpu"`) {
		t.Fatalf("error %v", err)
	}
}
