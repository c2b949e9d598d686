package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mocokit/mocokit/client"
	"github.com/mocokit/mocokit/convert"
	"github.com/mocokit/mocokit/internal/fixtures"
	"github.com/mocokit/mocokit/serve"
)

// startServer converts a fixture checkpoint and serves it on httptest.
func startServer(t *testing.T, checkpoint string) (*serve.Server, *client.Client) {
	t.Helper()
	model := filepath.Join(t.TempDir(), "model.onnx")
	if _, err := convert.PthToONNX(fixtures.Path(t, checkpoint), model,
		convert.Options{}); err != nil {
		t.Fatal(err)
	}
	s, err := serve.New(serve.Config{Model: model, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// TestServedAccuracyEqualsPyTorch evaluates the converted, trained
// baseline on all 10,000 CIFAR-10 test images read from the original
// cifar-10-batches-py layout (written by Python's pickle from the JPEG
// copy) and expects exactly the number of correct images PyTorch counts on
// the same pixels.
func TestServedAccuracyEqualsPyTorch(t *testing.T) {
	var want struct{ Correct, Total int }
	readJSON(t, fixtures.Path(t, "test_acc.json"), &want)
	s, c := startServer(t, "resnet18.pth")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s.StartEval(ctx, fixtures.Path(t, "cifar-10-batches-py"))
	st := waitEval(ctx, t, c)
	t.Logf("served model: %d/%d correct; PyTorch: %d/%d", st.Correct, st.Total,
		want.Correct, want.Total)
	if st.Total != 10000 || st.Correct != want.Correct {
		t.Errorf("served model got %d of %d test images right, PyTorch %d of %d",
			st.Correct, st.Total, want.Correct, want.Total)
	}
	if len(st.PerClass) != 10 {
		t.Errorf("per-class results for %d classes, want 10", len(st.PerClass))
	}
}

func waitEval(ctx context.Context, t *testing.T, c *client.Client) *client.EvalStatus {
	t.Helper()
	for {
		st, err := c.Eval(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch st.Status {
		case "done":
			return st
		case "failed", "off":
			t.Fatalf("evaluation %s: %s", st.Status, st.Error)
		}
		select {
		case <-ctx.Done():
			t.Fatal("evaluation did not finish:", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestClassifyGivesPyTorchLabels sends 1,000 real test images, as PNG
// files of the pixels PyTorch saw, through POST /classify and expects
// PyTorch's top-1 label for every one.
func TestClassifyGivesPyTorchLabels(t *testing.T) {
	_, c := startServer(t, "resnet18.pth")
	imgs := fixtures.Images(t, "images32.u8", 32)
	want := fixtures.Argmax(fixtures.Float32s(t, "resnet18.out.f32"), 10)
	if len(want) != len(imgs) {
		t.Fatalf("%d reference outputs for %d images", len(want), len(imgs))
	}
	for i, img := range imgs {
		res, err := c.Classify(context.Background(), "img.png", pngReader(t, img), 1)
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if got := res.Predictions[0].Index; got != want[i] {
			t.Errorf("image %d: label %d (%s), PyTorch %d", i, got,
				res.Predictions[0].Label, want[i])
		}
	}
}

func pngReader(t *testing.T, img image.Image) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b.Bytes())
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
