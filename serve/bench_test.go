package serve

import (
	"bytes"
	"image/png"
	"net/http"
	"testing"

	"github.com/mocokit/mocokit/inference"
)

// BenchmarkClassify is the whole /classify path for one 32x32 PNG: multipart
// parsing, decoding, preprocessing, onnxruntime at batch 1, softmax, JSON.
func BenchmarkClassify(b *testing.B) {
	s, fx := newServer(b, classifier, nil)
	body, ct := multipartBody(b, nil, "img", readFile(b, fx, fx.Expected.Files[0]))
	data := body.Bytes()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := post(b, s.Handler(), bytes.NewReader(data), ct, nil); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkSessionRun is onnxruntime alone on the same image, preprocessed
// once: the gap to BenchmarkClassify is the HTTP and decoding overhead.
func BenchmarkSessionRun(b *testing.B) {
	s, fx := newServer(b, classifier, nil)
	img, err := png.Decode(bytes.NewReader(readFile(b, fx, fx.Expected.Files[0])))
	if err != nil {
		b.Fatal(err)
	}
	x, err := inference.Preprocess(img, s.Session().Metadata().Preprocess)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Session().Run(x, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
