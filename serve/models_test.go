package serve

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/inference/inferencetest"
)

// modelsDir links the fixture's two models into a folder as alpha.onnx
// (the classifier) and beta.onnx (the embedding), beside a non-model file.
func modelsDir(t *testing.T, fx *inferencetest.Fixture) string {
	dir := t.TempDir()
	for name, target := range map[string]string{"alpha.onnx": fx.Classifier,
		"beta.onnx": fx.Embedding} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a model"), 0o644)
	return dir
}

func TestModelsFolderServesEachModelByName(t *testing.T) {
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	dir := modelsDir(t, fx)
	s, err := New(Config{ModelsDir: dir, ORTLib: lib, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	png := readFile(t, fx, fx.Expected.Files[2])
	for _, c := range []struct {
		query, model string
		classes      bool
	}{{"", "alpha", true}, {"?model=alpha", "alpha", true}, {"?model=beta", "beta", false}} {
		body, ct := multipartBody(t, nil, "img", png)
		var got classifyAnswer
		rec := postPath(t, s, "/classify"+c.query, body, ct, &got)
		if rec.Code != 200 || got.Model != c.model ||
			(len(got.Predictions) > 0) != c.classes || (len(got.Embedding) == 128) == c.classes {
			t.Errorf("%q: %d model %q, %d predictions, %d values", c.query, rec.Code,
				got.Model, len(got.Predictions), len(got.Embedding))
		}
	}
	body, ct := multipartBody(t, nil, "img", png)
	var got classifyAnswer
	if rec := postPath(t, s, "/classify?model=gamma", body, ct, &got); rec.Code != 404 ||
		got.Error != `no model "gamma"; available models: alpha, beta` {
		t.Errorf("unknown model: %d %q", rec.Code, got.Error)
	}
	var ready map[string]any
	rec := send(t, s.Handler(), "GET", "/readyz", "")
	json.Unmarshal(rec.Body.Bytes(), &ready)
	if rec.Code != 200 || ready["model"] != "alpha" ||
		strings.Join(s.Models(), ",") != "alpha,beta" {
		t.Errorf("/readyz %d %v, models %v", rec.Code, ready, s.Models())
	}
	if rec := send(t, s.Handler(), "GET", "/v2/models/beta", ""); rec.Code != 200 ||
		!strings.Contains(rec.Body.String(), `"outputs":[{"name":"embedding",`+
			`"datatype":"FP32","shape":[-1,128]}]`) {
		t.Errorf("/v2/models/beta: %d %s", rec.Code, rec.Body)
	}
}

func TestModelsFolderDefaultAndErrors(t *testing.T) {
	fx := inferencetest.Get(t)
	dir := modelsDir(t, fx)
	list, def, err := modelFiles(Config{ModelsDir: dir, DefaultModel: "beta"})
	if err != nil || def != "beta" || len(list) != 2 || list[0].name != "alpha" {
		t.Fatalf("default beta: %v %q %d", err, def, len(list))
	}
	if _, _, err := modelFiles(Config{ModelsDir: dir, DefaultModel: "gamma"}); err == nil ||
		err.Error() != `serve: default model "gamma" is not one of alpha, beta` {
		t.Errorf("unknown default: %v", err)
	}
	if _, _, err := modelFiles(Config{ModelsDir: t.TempDir()}); err == nil ||
		!strings.Contains(err.Error(), "no .onnx file in") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := New(Config{Model: fx.Classifier, ModelsDir: dir}); err == nil {
		t.Error("both --model and --models accepted")
	}
}

func TestNotReadyUntilModelsLoad(t *testing.T) {
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	s, err := newUnloaded(Config{Model: fx.Classifier, ORTLib: lib, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	png := readFile(t, fx, fx.Expected.Files[0])
	check := func(when string, want map[string]int) {
		for path, status := range want {
			rec := send(t, s.Handler(), "GET", path, "")
			if path == "/classify" {
				body, ct := multipartBody(t, nil, "img", png)
				rec = postPath(t, s, path, body, ct, nil)
			}
			if rec.Code != status {
				t.Errorf("%s: %s answered %d %s, want %d", when, path, rec.Code, rec.Body,
					status)
			}
		}
	}
	check("loading", map[string]int{"/healthz": 200, "/readyz": 503,
		"/v2/health/live": 200, "/v2/health/ready": 400, "/classify": 503,
		"/v2/models/classifier/ready": 400})
	if err := s.load(); err != nil {
		t.Fatal(err)
	}
	check("loaded", map[string]int{"/readyz": 200, "/v2/health/ready": 200,
		"/classify": 200, "/v2/models/classifier/ready": 200})
	s.Close()
	check("closed", map[string]int{"/readyz": 503, "/classify": 503, "/healthz": 200})
}

func TestMetricsCountRequestsByRouteAndStatus(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	png := readFile(t, fx, fx.Expected.Files[0])
	for range 3 {
		body, ct := multipartBody(t, nil, "img", png)
		post(t, s.Handler(), body, ct, nil)
	}
	body, ct := multipartBody(t, nil, "img", []byte("text"))
	post(t, s.Handler(), body, ct, nil)
	send(t, s.Handler(), "GET", "/no/such/page", "")
	send(t, s.Handler(), "GET", "/v2/models/classifier", "")
	m := scrape(t, s)
	for _, want := range []string{
		`mocokit_http_requests_total{code="200",route="/classify"} 3`,
		`mocokit_http_requests_total{code="415",route="/classify"} 1`,
		`mocokit_http_requests_total{code="404",route="unmatched"} 1`,
		`mocokit_http_requests_total{code="200",route="/v2/models/:name"} 1`,
		`mocokit_http_request_duration_seconds_count{route="/classify"} 4`,
		`mocokit_batch_size_sum{model="classifier"} 3`,
		`mocokit_inference_duration_seconds_count{model="classifier"} 3`,
		`mocokit_queue_length{model="classifier"} 0`,
		"process_resident_memory_bytes ", "go_goroutines ",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// postPath is post to another target than /classify.
func postPath(t *testing.T, s *Server, target string, body io.Reader, ct string,
	out any) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, body)
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if out != nil {
		json.Unmarshal(rec.Body.Bytes(), out)
	}
	return rec
}
