package serve

import (
	"bytes"
	"image"
	"image/gif"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func TestClassifyAcceptsLosslessFormatsAlike(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	data := readFile(t, fx, fx.Expected.Files[20])
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	encoded := map[string][]byte{"png": data}
	var b bytes.Buffer
	if err := bmp.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	encoded["bmp"] = append([]byte(nil), b.Bytes()...)
	b.Reset()
	if err := tiff.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	encoded["tiff"] = append([]byte(nil), b.Bytes()...)
	answers := map[string]classifyAnswer{}
	for format, data := range encoded {
		body, ct := multipartBody(t, map[string]string{"topk": "10"}, "img", data)
		var got classifyAnswer
		if rec := post(t, s.Handler(), body, ct, &got); rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d %s", format, rec.Code, got.Error)
		}
		answers[format] = got
	}
	for _, format := range []string{"bmp", "tiff"} {
		for i, p := range answers[format].Predictions {
			if p != answers["png"].Predictions[i] {
				t.Errorf("%s: %+v, png %+v", format, p, answers["png"].Predictions[i])
			}
		}
	}

	b.Reset()
	if err := gif.Encode(&b, img, nil); err != nil { // paletted: colours change
		t.Fatal(err)
	}
	body, ct := multipartBody(t, nil, "img", b.Bytes())
	var got classifyAnswer
	if rec := post(t, s.Handler(), body, ct, &got); rec.Code != http.StatusOK ||
		len(got.Predictions) != 5 {
		t.Fatalf("gif: status %d %+v", rec.Code, got)
	}
}

func TestRecoveredPanicAnswers500AndKeepsServing(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	s.echo.GET("/panic", func(echo.Context) error { panic("boom") })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/panic", nil))
	if rec.Code != http.StatusInternalServerError ||
		!strings.Contains(rec.Body.String(), `{"error":"internal error"}`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after a panic: %d", rec.Code)
	}
}
