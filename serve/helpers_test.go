package serve

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/inference/inferencetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	inferencetest.Cleanup()
	os.Exit(code)
}

// newServer serves the fixture's model (classifier or embedding).
func newServer(t testing.TB, model func(*inferencetest.Fixture) string,
	edit func(*Config)) (*Server, *inferencetest.Fixture) {
	t.Helper()
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	cfg := Config{Model: model(fx), ORTLib: lib, Threads: 2}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fx
}

func classifier(fx *inferencetest.Fixture) string { return fx.Classifier }
func embedding(fx *inferencetest.Fixture) string  { return fx.Embedding }

// multipartBody builds a form with the given fields; the file field is "img".
func multipartBody(t testing.TB, fields map[string]string, file string,
	data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if file != "" {
		fw, err := w.CreateFormFile(file, "upload")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	return &b, w.FormDataContentType()
}

// post sends a /classify request to the handler and decodes the JSON answer.
func post(t testing.TB, h http.Handler, body io.Reader, contentType string,
	out any) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/classify", body)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("status %d, body %q: %v", rec.Code, rec.Body.String(), err)
		}
	}
	return rec
}

func readFile(t testing.TB, fx *inferencetest.Fixture, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fx.Dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func softmax64(logits []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, v)
	}
	var sum float64
	p := make([]float64, len(logits))
	for i, v := range logits {
		p[i] = math.Exp(v - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNGHeader is a valid PNG signature and IHDR chunk declaring
// 100000x100000 pixels, and nothing else: 33 bytes.
func hugePNGHeader(t testing.TB) []byte { return pngHeader(t, 100000, 100000) }

// pngHeader is a valid PNG signature and IHDR chunk declaring width x height.
func pngHeader(t testing.TB, width, height uint32) []byte {
	h := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))[:33]
	put := func(off int, v uint32) {
		h[off], h[off+1], h[off+2], h[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	put(16, width)
	put(20, height)
	put(29, crc32.ChecksumIEEE(h[12:29]))
	return h
}
