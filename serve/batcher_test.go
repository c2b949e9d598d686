package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// gate blocks the default model's worker before each run until released,
// and reports every batch size, so that tests can fill the queue at will.
type gate struct {
	entered chan int      // a batch of this size is about to run
	release chan struct{} // lets one batch run
}

func holdBatches(s *Server) *gate {
	g := &gate{entered: make(chan int, 64), release: make(chan struct{}, 64)}
	s.models[s.name].batcher.beforeRun = func(n int) {
		g.entered <- n
		<-g.release
	}
	return g
}

func (g *gate) next(t *testing.T) int {
	t.Helper()
	select {
	case n := <-g.entered:
		return n
	case <-time.After(time.Minute):
		t.Fatal("no batch reached the worker")
		return 0
	}
}

// waitQueued waits until the default model's queue holds n images.
func waitQueued(t *testing.T, s *Server, n int64) {
	t.Helper()
	b := s.models[s.name].batcher
	for deadline := time.Now().Add(time.Minute); b.queued.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d images, want %d", b.queued.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// classifyAsync posts one image with topk 10 and delivers the recorder.
func classifyAsync(t *testing.T, s *Server, png []byte) <-chan *httptest.ResponseRecorder {
	body, ct := multipartBody(t, map[string]string{"topk": "10"}, "img", png)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/classify", body)
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		done <- rec
	}()
	return done
}

func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) classifyAnswer {
	t.Helper()
	var got classifyAnswer
	if err := jsonUnmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("status %d, body %s: %v", rec.Code, rec.Body, err)
	}
	return got
}

// checkAgainstPyTorch compares topk-10 predictions with PyTorch's logits.
func checkAgainstPyTorch(t *testing.T, preds []Prediction, logits []float64) {
	t.Helper()
	want := softmax64(logits)
	if len(preds) != len(want) {
		t.Fatalf("%d predictions, want %d", len(preds), len(want))
	}
	for _, p := range preds {
		if d := math.Abs(p.Probability - want[p.Index]); d > 1e-4 {
			t.Fatalf("p(%s) = %.6f, PyTorch %.6f", p.Label, p.Probability, want[p.Index])
		}
	}
}

func TestBatcherGathersConcurrentRequestsIntoOneRun(t *testing.T) {
	s, fx := newServer(t, classifier, func(c *Config) { c.MaxBatch = 8 })
	g := holdBatches(s)
	files := fx.Expected.Files[:8]
	first := classifyAsync(t, s, readFile(t, fx, files[0]))
	if n := g.next(t); n != 1 {
		t.Fatalf("first batch of %d, want 1", n)
	}
	var rest []<-chan *httptest.ResponseRecorder
	for _, f := range files[1:] {
		rest = append(rest, classifyAsync(t, s, readFile(t, fx, f)))
	}
	waitQueued(t, s, int64(len(rest)))
	g.release <- struct{}{}
	if n := g.next(t); n != len(rest) {
		t.Fatalf("second batch of %d, want %d", n, len(rest))
	}
	g.release <- struct{}{}
	checkAgainstPyTorch(t, decodeAnswer(t, <-first).Predictions, fx.Expected.Logits[0])
	for i, done := range rest {
		checkAgainstPyTorch(t, decodeAnswer(t, <-done).Predictions, fx.Expected.Logits[i+1])
	}
	metrics := scrape(t, s)
	for _, want := range []string{`mocokit_batch_size_count{model="classifier"} 2`,
		`mocokit_batch_size_sum{model="classifier"} 8`,
		`mocokit_inference_duration_seconds_count{model="classifier"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestBatchedAnswerEqualsSingleAnswer(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	png := readFile(t, fx, fx.Expected.Files[5])
	single := decodeAnswer(t, <-classifyAsync(t, s, png))
	g := holdBatches(s)
	var dones []<-chan *httptest.ResponseRecorder
	for range 6 {
		dones = append(dones, classifyAsync(t, s, png))
	}
	sizes := 0
	for sizes < 6 {
		n := g.next(t)
		sizes += n
		g.release <- struct{}{}
	}
	for _, done := range dones {
		got := decodeAnswer(t, <-done)
		for j, p := range got.Predictions {
			q := single.Predictions[j]
			if p.Index != q.Index || math.Abs(p.Probability-q.Probability) > 1e-6 {
				t.Fatalf("batched %+v, single %+v", p, q)
			}
		}
	}
}

func TestFullQueueAnswers429WithRetryAfter(t *testing.T) {
	s, fx := newServer(t, classifier, func(c *Config) { c.MaxBatch, c.MaxQueue = 1, 2 })
	g := holdBatches(s)
	png := readFile(t, fx, fx.Expected.Files[0])
	running := classifyAsync(t, s, png)
	g.next(t) // taken by the worker, so no longer queued
	queued := []<-chan *httptest.ResponseRecorder{classifyAsync(t, s, png),
		classifyAsync(t, s, png)}
	waitQueued(t, s, 2)

	rec := <-classifyAsync(t, s, png)
	var got classifyAnswer
	jsonUnmarshal(rec.Body.Bytes(), &got)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" ||
		!strings.Contains(got.Error, `the queue of model "classifier" is full (2 images `+
			`waiting, limit 2); retry later`) {
		t.Fatalf("full queue: %d %q, Retry-After %q", rec.Code, got.Error,
			rec.Header().Get("Retry-After"))
	}
	for range 3 {
		g.release <- struct{}{}
	}
	for _, done := range append(queued, running) {
		decodeAnswer(t, <-done)
	}
	if m := scrape(t, s); !strings.Contains(m,
		`mocokit_queue_rejected_total{model="classifier"} 1`) ||
		!strings.Contains(m, `mocokit_http_requests_total{code="429",route="/classify"} 1`) {
		t.Errorf("metrics miss the rejection:\n%s", m)
	}
}

func TestRequestTimeoutAnswers503(t *testing.T) {
	s, fx := newServer(t, classifier, func(c *Config) {
		c.RequestTimeout = 200 * time.Millisecond
	})
	g := holdBatches(s)
	done := classifyAsync(t, s, readFile(t, fx, fx.Expected.Files[0]))
	g.next(t)
	rec := <-done // the batch is held until after the answer
	g.release <- struct{}{}
	var got classifyAnswer
	jsonUnmarshal(rec.Body.Bytes(), &got)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		got.Error != "no answer within the request timeout of 200ms: the server is "+
			"overloaded; retry later" {
		t.Fatalf("timeout: %d %q", rec.Code, got.Error)
	}
}

// multiImageBody is a form with one "img" part per file.
func multiImageBody(t *testing.T, files map[string][]byte, order []string) (
	*bytes.Buffer, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("topk", "10")
	for _, name := range order {
		fw, err := w.CreateFormFile("img", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(files[name])
	}
	w.Close()
	return &b, w.FormDataContentType()
}

func TestClassifyManyImagesInOneRequest(t *testing.T) {
	s, fx := newServer(t, classifier, func(c *Config) { c.MaxQueue = 4 })
	files := map[string][]byte{}
	var order []string
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("image%d.png", i)
		files[name], order = readFile(t, fx, fx.Expected.Files[i*10]), append(order, name)
	}
	body, ct := multiImageBody(t, files, order)
	var got struct {
		BatchResponse
		Error string `json:"error"`
	}
	if rec := post(t, s.Handler(), body, ct, &got); rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, got.Error)
	}
	if got.Model != "classifier" || len(got.Results) != 3 {
		t.Fatalf("model %q, %d results", got.Model, len(got.Results))
	}
	for i, r := range got.Results {
		if r.File != order[i] {
			t.Errorf("result %d is for %q, want %q", i, r.File, order[i])
		}
		checkAgainstPyTorch(t, r.Predictions, fx.Expected.Logits[i*10])
	}

	files["broken.png"] = files[order[1]][:40]
	body, ct = multiImageBody(t, files, []string{order[0], "broken.png"})
	var bad classifyAnswer
	if rec := post(t, s.Handler(), body, ct, &bad); rec.Code != 400 ||
		!strings.HasPrefix(bad.Error, `image 2 of 2 ("broken.png"): `) {
		t.Errorf("broken second image: %d %q", rec.Code, bad.Error)
	}
	body, ct = multiImageBody(t, map[string][]byte{"a": files[order[0]]},
		[]string{"a", "a", "a", "a", "a"})
	if rec := post(t, s.Handler(), body, ct, &bad); rec.Code != 413 ||
		!strings.Contains(bad.Error, "more than 4 images in one request") {
		t.Errorf("5 images, queue of 4: %d %q", rec.Code, bad.Error)
	}
}

// scrape reads /metrics.
func scrape(t *testing.T, s *Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
