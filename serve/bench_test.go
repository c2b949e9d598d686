package serve

import (
	"bytes"
	"image/png"
	"net/http"
	"testing"
	"time"

	"github.com/mocokit/mocokit/inference"
)

// BenchmarkClassifyOverhead alternates, image by image, the whole
// /classify path for one 32x32 PNG (multipart, decoding, preprocessing,
// onnxruntime, softmax, JSON) and onnxruntime alone on the same image
// preprocessed once, so that both see the same machine load. It reports
// the images/s of each and their ratio.
func BenchmarkClassifyOverhead(b *testing.B) {
	s, fx := newServer(b, classifier, nil)
	file := readFile(b, fx, fx.Expected.Files[0])
	body, ct := multipartBody(b, nil, "img", file)
	data := body.Bytes()
	img, err := png.Decode(bytes.NewReader(file))
	if err != nil {
		b.Fatal(err)
	}
	x, err := inference.Preprocess(img, s.Session().Metadata().Preprocess)
	if err != nil {
		b.Fatal(err)
	}
	var inServer, direct time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if rec := post(b, s.Handler(), bytes.NewReader(data), ct, nil); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		mid := time.Now()
		if _, err := s.Session().Run(x, 1); err != nil {
			b.Fatal(err)
		}
		inServer += mid.Sub(start)
		direct += time.Since(mid)
	}
	b.ReportMetric(float64(b.N)/inServer.Seconds(), "classify-images/s")
	b.ReportMetric(float64(b.N)/direct.Seconds(), "onnxruntime-images/s")
	b.ReportMetric(inServer.Seconds()/direct.Seconds(), "time-ratio")
}
