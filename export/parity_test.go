package export

import (
	"path/filepath"
	"testing"
)

// tolerance is the largest absolute difference from PyTorch accepted; float32
// reorderings across 20 layers stay around 1e-5 on these outputs.
const tolerance = 1e-4

// writeReference exports a reference variant and returns the file's path.
func writeReference(t *testing.T, v referenceVariant) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), v.Name+".onnx")
	if err := WriteFile(path, v.config(), referenceWeights(t, v), referenceMetadata(v)); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExportedModelMatchesPyTorchOnOnnxruntime(t *testing.T) {
	for _, v := range reference(t) {
		t.Run(v.Name, func(t *testing.T) {
			path := writeReference(t, v)
			input := readFloats(t, filepath.Join(refDir, v.Name+".input.bin"))
			want := readFloats(t, filepath.Join(refDir, v.Name+".output.bin"))
			outDim := v.config().OutputDim()
			if len(v.OutputShape) != 2 || v.OutputShape[1] != outDim {
				t.Fatalf("PyTorch output %v, models says width %d", v.OutputShape, outDim)
			}

			got := runORT(t, path, "logits", input, v.Batch, v.InputSize, outDim)
			d := maxAbsDiff(t, got, want)
			t.Logf("%s (%s): max |onnxruntime - PyTorch| = %.3g over %d values",
				v.Name, v.InputSource, d, len(want))
			if d > tolerance {
				t.Errorf("max |onnxruntime - PyTorch| = %g, want <= %g", d, tolerance)
			}
		})
	}
}

func TestExportedModelPassesOnnxChecker(t *testing.T) {
	for _, v := range reference(t) {
		t.Run(v.Name, func(t *testing.T) {
			runChecker(t, writeReference(t, v))
		})
	}
}

// TestOnnxGoMatchesOnnxruntime reads the exported file with a second,
// independent implementation of ONNX.
func TestOnnxGoMatchesOnnxruntime(t *testing.T) {
	if testing.Short() {
		t.Skip("onnx-go is slow; skipped in -short mode")
	}
	for _, name := range []string{"imagenet-classifier", "cifar-moco-mlp"} {
		t.Run(name, func(t *testing.T) {
			v := referenceByName(t, name)
			path := writeReference(t, v)
			input := readFloats(t, filepath.Join(refDir, v.Name+".input.bin"))
			image := input[:3*v.InputSize*v.InputSize]
			outDim := v.config().OutputDim()

			got, err := VerifyOnnxGo(path, image, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := runORT(t, path, "logits", image, 1, v.InputSize, outDim)
			d := maxAbsDiff(t, got, want)
			t.Logf("%s: max |onnx-go - onnxruntime| = %.3g over %d values", name, d, outDim)
			if d > tolerance {
				t.Errorf("max |onnx-go - onnxruntime| = %g, want <= %g", d, tolerance)
			}
			pytorch := readFloats(t, filepath.Join(refDir, v.Name+".output.bin"))[:outDim]
			if d := maxAbsDiff(t, got, pytorch); d > tolerance {
				t.Errorf("max |onnx-go - PyTorch| = %g, want <= %g", d, tolerance)
			}

			// onnx-go's Gemm overwrites its bias at batch 1; VerifyOnnxGo must
			// not let one run change the next.
			again, err := VerifyOnnxGo(path, image, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(t, again, got); d != 0 {
				t.Errorf("second onnx-go run differs from the first by %g", d)
			}
		})
	}
}

func TestReadWeightsReturnsWhatWasExported(t *testing.T) {
	v := referenceByName(t, "cifar-moco-mlp")
	path := writeReference(t, v)
	want := referenceWeights(t, v)

	cfg, w, meta, err := ReadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != v.config() {
		t.Errorf("config %+v, want %+v", cfg, v.config())
	}
	if meta.Source != "make_reference.py "+v.Name || meta.Output != "logits" {
		t.Errorf("metadata %+v", meta)
	}
	if len(w) != len(want) {
		t.Fatalf("%d tensors, want %d", len(w), len(want))
	}
	for name, wt := range want {
		got := w[name]
		if got == nil {
			t.Fatalf("%s missing", name)
		}
		if name == "layer1.0.bn1.num_batches_tracked" && got.Data[0] != 0 {
			t.Errorf("%s = %v, want 0", name, got.Data[0])
		}
		if d := maxAbsDiff(t, got.Data, wt.Data); d != 0 {
			t.Fatalf("%s differs by %g after the round trip", name, d)
		}
	}
}
