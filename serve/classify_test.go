package serve

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mocokit/mocokit/dataset"
)

type classifyAnswer struct {
	ClassifyResponse
	Error string `json:"error"`
}

func TestClassifyMatchesPyTorch(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	for i := 0; i < len(fx.Expected.Files); i += 7 { // 8 images over the classes
		file := fx.Expected.Files[i]
		body, ct := multipartBody(t, map[string]string{"topk": "10"}, "img",
			readFile(t, fx, file))
		var got classifyAnswer
		if rec := post(t, s.Handler(), body, ct, &got); rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", file, rec.Code, got.Error)
		}
		want := softmax64(fx.Expected.Logits[i])
		rank := make([]int, len(want))
		for j := range rank {
			rank[j] = j
		}
		sort.SliceStable(rank, func(a, b int) bool { return want[rank[a]] > want[rank[b]] })
		if got.Model != "classifier" || len(got.Predictions) != 10 {
			t.Fatalf("%s: model %q, %d predictions", file, got.Model, len(got.Predictions))
		}
		for j, p := range got.Predictions {
			if p.Index != rank[j] || p.Label != dataset.CIFAR10Classes[p.Index] {
				t.Errorf("%s: prediction %d is %d %q, PyTorch ranks %d first", file, j,
					p.Index, p.Label, rank[j])
			}
			if d := math.Abs(p.Probability - want[p.Index]); d > 1e-4 {
				t.Errorf("%s: p(%s) = %.6f, PyTorch %.6f", file, p.Label, p.Probability,
					want[p.Index])
			}
		}
	}
}

func TestClassifyDefaultsToTop5(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	body, ct := multipartBody(t, nil, "img", readFile(t, fx, fx.Expected.Files[0]))
	var got classifyAnswer
	post(t, s.Handler(), body, ct, &got)
	if len(got.Predictions) != 5 || got.Predictions[0].Index != fx.Expected.Pred[0] {
		t.Fatalf("predictions %+v, want 5 led by %d", got.Predictions, fx.Expected.Pred[0])
	}
	for j := 1; j < 5; j++ {
		if got.Predictions[j].Probability > got.Predictions[j-1].Probability {
			t.Fatalf("not sorted: %+v", got.Predictions)
		}
	}
}

func TestClassifyEmbeddingModel(t *testing.T) {
	s, fx := newServer(t, embedding, nil)
	body, ct := multipartBody(t, nil, "img", readFile(t, fx, fx.Expected.Files[3]))
	var got classifyAnswer
	if rec := post(t, s.Handler(), body, ct, &got); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, got.Error)
	}
	if got.Model != "embedding" || len(got.Predictions) != 0 || len(got.Embedding) != 128 {
		t.Fatalf("model %q, %d predictions, %d values", got.Model, len(got.Predictions),
			len(got.Embedding))
	}
	for j, want := range fx.Expected.Embedding[3] {
		if d := math.Abs(float64(got.Embedding[j]) - want); d > 1e-4 {
			t.Fatalf("value %d: %g, PyTorch %g", j, got.Embedding[j], want)
		}
	}
}

// unknownLength hides a body's length so that only reading it finds the size.
type unknownLength struct{ io.Reader }

type badInput struct {
	name   string
	req    func() (io.Reader, string)
	status int
	want   string
}

// badInputs are requests /classify must refuse, with the status and the
// message it must answer; png is a valid upload.
func badInputs(t *testing.T, png []byte) []badInput {
	form := func(fields map[string]string, field string, data []byte) func() (io.Reader,
		string) {
		return func() (io.Reader, string) {
			b, ct := multipartBody(t, fields, field, data)
			return b, ct
		}
	}
	big := bytes.Repeat([]byte{0x89}, 100<<10)
	return []badInput{
		{"not an image", form(nil, "img", []byte("hello, I am text")), 415,
			"upload is not an image (looks like text/plain; charset=utf-8); " +
				"accepted formats: bmp, gif, jpeg, png, tiff, webp"},
		{"unsupported format", form(nil, "img", []byte("\x00\x00\x01\x00\x01\x00 icon")),
			415, "unsupported image format image/x-icon; accepted formats: bmp, gif"},
		{"truncated png", form(nil, "img", png[:len(png)/2]), 400,
			"truncated or corrupt png image: png: invalid format: not enough pixel data"},
		{"corrupt header", form(nil, "img", append([]byte("\x89PNG\r\n\x1a\n"),
			"garbage!garbage!garbage!"...)), 400, "corrupt image header"},
		{"empty upload", form(nil, "img", []byte{}), 400, `empty upload in field "img"`},
		{"missing field", form(map[string]string{"topk": "3"}, "", nil), 400,
			`missing form field "img"`},
		{"wrong field", form(nil, "image", png), 400, `missing form field "img"`},
		{"oversized body", form(nil, "img", big), 413,
			"request body larger than the limit of 65536 bytes"},
		{"oversized body, length unknown", func() (io.Reader, string) {
			b, ct := multipartBody(t, nil, "img", big)
			return unknownLength{b}, ct
		}, 413, "request body larger than the limit of 65536 bytes"},
		{"huge declared size", form(nil, "img", hugePNGHeader(t)), 413,
			"png image is 100000x100000, 10000000000 pixels, more than the limit of 16777216"},
		{"topk zero", form(map[string]string{"topk": "0"}, "img", png), 400,
			`topk "0": want an integer from 1 to 10`},
		{"topk too big", form(map[string]string{"topk": "11"}, "img", png), 400,
			`topk "11": want an integer from 1 to 10`},
		{"topk not a number", form(map[string]string{"topk": "five"}, "img", png), 400,
			`topk "five": want an integer from 1 to 10`},
		{"topk padded past 64 bytes", form(map[string]string{
			"topk": "1" + strings.Repeat(" ", 63) + "garbage"}, "img", png), 400,
			"topk field is longer than 64 bytes"},
		{"topk with garbage", form(map[string]string{"topk": "1     garbage"}, "img", png),
			400, `topk "1     garbage": want an integer from 1 to 10`},
		{"not multipart", func() (io.Reader, string) {
			return strings.NewReader(`{"img": "x"}`), "application/json"
		}, 400, `want a multipart/form-data body with the image in field "img"`},
		{"broken multipart", func() (io.Reader, string) {
			return strings.NewReader("--x\r\nnonsense"), "multipart/form-data; boundary=x"
		}, 400, "malformed multipart body"},
	}
}

func TestClassifyRejectsBadInputAndKeepsServing(t *testing.T) {
	s, fx := newServer(t, classifier, func(c *Config) { c.MaxBodyBytes = 64 << 10 })
	png := readFile(t, fx, fx.Expected.Files[0])
	for _, c := range badInputs(t, png) {
		body, ct := c.req()
		var got classifyAnswer
		rec := post(t, s.Handler(), body, ct, &got)
		if rec.Code != c.status || !strings.Contains(got.Error, c.want) {
			t.Errorf("%s: status %d %q, want %d %q", c.name, rec.Code, got.Error,
				c.status, c.want)
		}
		ok, ct := multipartBody(t, nil, "img", png)
		var good classifyAnswer
		if rec := post(t, s.Handler(), ok, ct, &good); rec.Code != http.StatusOK ||
			good.Predictions[0].Index != fx.Expected.Pred[0] {
			t.Fatalf("after %s: status %d %q", c.name, rec.Code, good.Error)
		}
	}
}

func TestClassifyCompositesTransparentPNG(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	clear := image.NewNRGBA(image.Rect(0, 0, 32, 32)) // transparent black
	white := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for i := range white.Pix {
		white.Pix[i] = 0xff
	}
	white.Set(0, 0, color.NRGBA{255, 255, 255, 255})
	var a, b classifyAnswer
	body, ct := multipartBody(t, map[string]string{"topk": "10"}, "img", encodePNG(t, clear))
	post(t, s.Handler(), body, ct, &a)
	body, ct = multipartBody(t, map[string]string{"topk": "10"}, "img", encodePNG(t, white))
	post(t, s.Handler(), body, ct, &b)
	for i := range a.Predictions {
		if a.Predictions[i] != b.Predictions[i] {
			t.Fatalf("transparent image %+v, white image %+v", a.Predictions[i],
				b.Predictions[i])
		}
	}
}

func TestRoutesAnswerJSON(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	for _, c := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/healthz", 200, `{"status":"ok"}`},
		{"GET", "/readyz", 200, `{"model":"classifier","status":"ready"}`},
		{"GET", "/eval", 200, `"status":"off"`},
		{"GET", "/nowhere", 404, `{"error":"Not Found"}`},
		{"GET", "/classify", 405, `{"error":"Method Not Allowed"}`},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, rec.Code, rec.Body,
				c.status, c.want)
		}
	}
}

func TestDecodingIsBoundedInPixelsAcrossRequests(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	if s.cfg.MaxDecodePixels != 4*DefaultMaxPixels {
		t.Fatalf("default decoding budget %d pixels", s.cfg.MaxDecodePixels)
	}
	png := readFile(t, fx, fx.Expected.Files[0])
	cfg, _, err := image.DecodeConfig(bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	pixels := int64(cfg.Width * cfg.Height)
	// classify gives up after wait, as a request timeout would.
	classify := func(wait time.Duration) (*httptest.ResponseRecorder, classifyAnswer) {
		body, ct := multipartBody(t, nil, "img", png)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/classify", body)
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		var got classifyAnswer
		jsonUnmarshal(rec.Body.Bytes(), &got)
		return rec, got
	}

	// Other requests decode all but one pixel too few: this one waits, then
	// is answered 503 when its time is up.
	held := s.cfg.MaxDecodePixels - pixels + 1
	s.decoding.Acquire(context.Background(), held)
	rec, got := classify(300 * time.Millisecond)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(got.Error, "too many large images are being decoded") {
		t.Fatalf("budget spent: %d %q, want 503 with Retry-After", rec.Code, got.Error)
	}
	s.decoding.Release(1) // exactly this image's pixels are free now
	if rec, got := classify(time.Minute); rec.Code != http.StatusOK {
		t.Fatalf("budget for one image: %d %q", rec.Code, got.Error)
	}
	s.decoding.Release(held - 1)
	if !s.decoding.TryAcquire(s.cfg.MaxDecodePixels) {
		t.Fatal("the requests did not give back the pixels they decoded")
	}
}

func TestClassifyManyImagesStopsAtTheDeadline(t *testing.T) {
	s, fx := newServer(t, classifier, func(c *Config) { c.RequestTimeout = time.Nanosecond })
	png := readFile(t, fx, fx.Expected.Files[0])
	files := map[string][]byte{"a.png": png, "b.png": png[:len(png)/2]}
	body, ct := multiImageBody(t, files, []string{"a.png", "b.png"})
	var got classifyAnswer
	rec := post(t, s.Handler(), body, ct, &got)
	// Without the deadline the damaged second image would be the answer.
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(got.Error, "no answer within the request timeout of 1ns") {
		t.Fatalf("%d %q, want 503 at the deadline", rec.Code, got.Error)
	}
}

func TestCheckFiniteRefusesNaNAndInfinity(t *testing.T) {
	if err := checkFinite("m", [][]float32{{1, -2}, {3e38}}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		err := checkFinite("m", [][]float32{{1}, {0, float32(v)}})
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != http.StatusInternalServerError ||
			ae.message != `model "m" produced non-finite output (NaN or infinity) `+
				"for this input" {
			t.Errorf("%v: %v, want a 500 naming the problem", v, err)
		}
	}
}
