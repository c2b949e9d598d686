package client

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mocokit/mocokit/inference"
	"github.com/mocokit/mocokit/inference/inferencetest"
	"github.com/mocokit/mocokit/serve"
)

func TestMain(m *testing.M) {
	code := m.Run()
	inferencetest.Cleanup()
	os.Exit(code)
}

// startServer runs the real server on the fixture's classifier.
func startServer(t *testing.T) (*Client, *serve.Server, *inferencetest.Fixture) {
	t.Helper()
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	s, err := serve.New(serve.Config{Model: fx.Classifier, ORTLib: lib, Threads: 2,
		MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	c, err := New(ts.URL+"/", WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return c, s, fx
}

func TestClassifyReturnsServerPredictions(t *testing.T) {
	c, _, fx := startServer(t)
	f, err := os.Open(filepath.Join(fx.Dir, fx.Expected.Files[12]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := c.Classify(context.Background(), "bird.png", f, 3)
	if err != nil {
		t.Fatal(err)
	}
	var logits []float32
	for _, v := range fx.Expected.Logits[12] {
		logits = append(logits, float32(v))
	}
	want := inference.Softmax(logits)
	top := inference.TopK(want, 3)
	if res.Model != "classifier" || len(res.Predictions) != 3 {
		t.Fatalf("result %+v", res)
	}
	for i, p := range res.Predictions {
		if p.Index != top[i] || math.Abs(p.Probability-want[top[i]]) > 1e-4 {
			t.Errorf("prediction %d: %+v, PyTorch %d with %.5f", i, p, top[i], want[top[i]])
		}
	}

	var out bytes.Buffer
	if err := PrintPredictions(&out, "bird.png", res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "bird.png: "+res.Predictions[0].Label) ||
		!strings.HasSuffix(lines[0], "%") {
		t.Fatalf("printed %q", out.String())
	}
}

func TestClassifyReportsServerErrors(t *testing.T) {
	c, _, _ := startServer(t)
	_, err := c.Classify(context.Background(), "notes.txt", strings.NewReader("text"), 0)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnsupportedMediaType ||
		!strings.Contains(apiErr.Message, "upload is not an image") ||
		!strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("error %v", err)
	}
	_, err = c.Classify(context.Background(), "big.png",
		bytes.NewReader(make([]byte, 2<<20)), 0)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("error %v", err)
	}
}

func TestEvalStatus(t *testing.T) {
	c, s, fx := startServer(t)
	st, err := c.Eval(context.Background())
	if err != nil || st.Status != "off" || st.Model != "classifier" {
		t.Fatalf("status %+v, %v", st, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.StartEval(ctx, fx.Dataset)
	for st.Status != "done" && st.Status != "failed" {
		time.Sleep(50 * time.Millisecond)
		if st, err = c.Eval(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := s.EvalStatus()
	if st.Status != "done" || st.Total != 50 || st.Correct != want.Correct ||
		len(st.PerClass) != 10 || st.PerClass[3].Correct != want.PerClass[3].Correct {
		t.Fatalf("client %+v, server %+v", st, want)
	}
}

func TestNonJSONErrorsKeepTheBody(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer ts.Close()
	c, err := New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Eval(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 ||
		apiErr.Message != "<html>bad gateway</html>" {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Fatalf("message %q", err.Error())
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://host", "http://"} {
		if _, err := New(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestPrintEmbedding(t *testing.T) {
	var out bytes.Buffer
	PrintPredictions(&out, "x.png", &Result{Model: "moco", Embedding: make([]float32, 128)})
	if out.String() != "x.png: 128-value embedding from moco\n" {
		t.Fatalf("%q", out.String())
	}
	out.Reset()
	PrintPredictions(&out, "y.jpg", &Result{Predictions: []Prediction{
		{Label: "cat", Probability: 0.8765}, {Label: "airplane", Probability: 0.01}}})
	want := "y.jpg: cat       87.65%\ny.jpg: airplane   1.00%\n"
	if out.String() != want {
		t.Fatalf("%q, want %q", out.String(), want)
	}
}
