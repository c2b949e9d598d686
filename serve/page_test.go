package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mocokit/mocokit/inference/inferencetest"
)

// evaluated is a server that has evaluated the classifier on the
// fixture's 50 images.
func evaluated(t *testing.T) (*Server, *inferencetest.Fixture) {
	t.Helper()
	s, fx := newServer(t, classifier, func(c *Config) { c.EvalBatch = 16 })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s.StartEval(ctx, fx.Dataset)
	deadline := time.Now().Add(2 * time.Minute)
	for s.EvalStatus().Status == evalRunning && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := s.EvalStatus(); st.Status != evalDone {
		t.Fatalf("evaluation %s: %s", st.Status, st.Error)
	}
	return s, fx
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestEvalConfusionMatchesPyTorch(t *testing.T) {
	s, fx := evaluated(t)
	var st EvalStatus
	if err := json.Unmarshal(get(t, s.Handler(), "/eval").Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	pythonCounts(t, fx) // checks the margins are wide enough to agree on argmax
	want := make([][]int, 10)
	for i := range want {
		want[i] = make([]int, 10)
	}
	for i, label := range fx.Expected.Labels {
		want[label][fx.Expected.Pred[i]]++
	}
	if len(st.Confusion) != 10 || len(st.PredictedClasses) != 10 ||
		st.PredictedClasses[3] != "cat" {
		t.Fatalf("confusion %v, predicted classes %v", st.Confusion, st.PredictedClasses)
	}
	for i := range want {
		for j := range want[i] {
			if st.Confusion[i][j] != want[i][j] {
				t.Fatalf("row %d (%s): %v, PyTorch %v", i, st.PerClass[i].Class,
					st.Confusion[i], want[i])
			}
		}
		if st.Confusion[i][i] != st.PerClass[i].Correct {
			t.Errorf("class %d: diagonal %d, %d correct", i, st.Confusion[i][i],
				st.PerClass[i].Correct)
		}
	}
}

func TestConfusionPictureShadesCellsByShareOfRow(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	rec := get(t, s.Handler(), "/eval/confusion.png")
	if rec.Code != http.StatusNotFound ||
		!strings.Contains(rec.Body.String(), "start the server with --eval-testset") {
		t.Fatalf("before an evaluation: %d %s", rec.Code, rec.Body)
	}
	classes := []string{"cat", "dog", "airplane"}
	counts := [][]int{{3, 1, 0}, {0, 4, 0}, {2, 2, 4}}
	res := Result{Confusion: counts, PredictedClasses: classes}
	for _, c := range classes {
		res.PerClass = append(res.PerClass, ClassResult{Class: c})
	}
	s.eval.set(func(e *evalState) { e.status, e.result = evalDone, &res })

	rec = get(t, s.Handler(), "/eval/confusion.png")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	l := newConfusionLayout(classes, classes)
	if img.Bounds() != l.bounds() {
		t.Fatalf("picture %v, layout %v", img.Bounds(), l.bounds())
	}
	for i, row := range counts {
		total := row[0] + row[1] + row[2]
		for j, n := range row {
			// A corner of the cell, clear of the count written in its middle.
			at := l.cell(i, j).Min.Add(image.Pt(3, 3))
			got := color.RGBAModel.Convert(img.At(at.X, at.Y)).(color.RGBA)
			want := cellColour(float64(n) / float64(total))
			if got != want {
				t.Errorf("cell %d,%d (%d of %d): %v, want %v", i, j, n, total, got, want)
			}
		}
	}
	if cellColour(1) != barColour || cellColour(0) != (color.RGBA{255, 255, 255, 255}) {
		t.Fatalf("scale runs from %v to %v", cellColour(0), cellColour(1))
	}
}

func TestPageIsSelfContained(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	rec := get(t, s.Handler(), "/")
	page := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"),
		"text/html") || !strings.Contains(page, `<input type="file" id="file"`) {
		t.Fatalf("GET /: %d %s", rec.Code, page)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp,
		"default-src 'self'") {
		t.Fatalf("policy %q", csp)
	}
	for _, path := range []string{"/web/app.js", "/web/style.css"} {
		rec := get(t, s.Handler(), path)
		if rec.Code != http.StatusOK || rec.Body.Len() < 100 {
			t.Fatalf("%s: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
		page += rec.Body.String()
	}
	// Nothing is fetched from elsewhere: the page works without internet.
	for _, outside := range []string{"http://", "https://", "//cdn"} {
		if i := strings.Index(page, outside); i >= 0 {
			t.Fatalf("the page refers to %q", page[i:min(len(page), i+60)])
		}
	}
	if rec := get(t, s.Handler(), "/web/missing.js"); rec.Code != http.StatusNotFound {
		t.Fatalf("missing file: %d", rec.Code)
	}
}

func TestPageFilesAnswerJSONOrRedirect(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	for _, path := range []string{"/web/", "/web/index.html"} {
		rec := get(t, s.Handler(), path)
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/" {
			t.Errorf("%s: %d to %q, want a redirect to /", path, rec.Code,
				rec.Header().Get("Location"))
		}
	}
	for _, path := range []string{"/web/nope.js", "/web/../../etc/passwd", "/web/web/",
		"/web/./app.js", "/web/web"} {
		rec := get(t, s.Handler(), path)
		var got struct{ Error string }
		err := json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != http.StatusNotFound || err != nil ||
			!strings.HasPrefix(got.Error, "no file ") {
			t.Errorf("%s: %d %s %q, want a JSON 404", path, rec.Code,
				rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	rec := get(t, s.Handler(), "/web/app.js")
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("/web/app.js is %q", ct)
	}
}
