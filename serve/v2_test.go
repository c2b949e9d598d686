package serve

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/inference"
	"github.com/mocokit/mocokit/inference/inferencetest"
)

// send makes a request to the handler and returns the recorder.
func send(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// fixtureTensors preprocesses fixture images as the v2 client would.
func fixtureTensors(t *testing.T, s *Server, fx *inferencetest.Fixture, idx []int) [][]float32 {
	t.Helper()
	var xs [][]float32
	for _, i := range idx {
		img, err := png.Decode(bytes.NewReader(readFile(t, fx, fx.Expected.Files[i])))
		if err != nil {
			t.Fatal(err)
		}
		x, err := inference.Preprocess(img, s.Session().Metadata().Preprocess)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	return xs
}

func TestV2HealthAndMetadata(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/v2/health/live", 200, `{"live":true}`},
		{"/v2/health/ready", 200, `{"ready":true}`},
		{"/v2/models/classifier/ready", 200, `{"name":"classifier","ready":true}`},
		{"/v2/models/classifier/versions/1/ready", 200, `{"name":"classifier","ready":true}`},
		{"/v2/models/nope/ready", 404, `{"error":"no model \"nope\"; available models: ` +
			`classifier"}`},
		{"/v2/models/classifier/versions/2", 404, `{"error":"model \"classifier\" has no ` +
			`version \"2\", only \"1\""}`},
	} {
		rec := send(t, s.Handler(), "GET", c.path, "")
		if rec.Code != c.status || strings.TrimSpace(rec.Body.String()) != c.want {
			t.Errorf("%s: %d %s, want %d %s", c.path, rec.Code, rec.Body, c.status, c.want)
		}
	}
	var server struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Extensions []string `json:"extensions"`
	}
	rec := send(t, s.Handler(), "GET", "/v2", "")
	if json.Unmarshal(rec.Body.Bytes(), &server); rec.Code != 200 ||
		server.Name != "mocokit" || server.Version == "" || server.Extensions == nil {
		t.Errorf("/v2: %d %s", rec.Code, rec.Body)
	}
	var meta map[string]any
	rec = send(t, s.Handler(), "GET", "/v2/models/classifier", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &meta); err != nil || rec.Code != 200 {
		t.Fatalf("metadata: %d %s", rec.Code, rec.Body)
	}
	want := map[string]any{
		"name": "classifier", "versions": []any{"1"}, "platform": "onnxruntime_onnx",
		"inputs": []any{map[string]any{"name": "input", "datatype": "FP32",
			"shape": []any{-1.0, 3.0, 32.0, 32.0}}},
		"outputs": []any{map[string]any{"name": "logits", "datatype": "FP32",
			"shape": []any{-1.0, 10.0}}},
	}
	for k, v := range want {
		if !reflect.DeepEqual(meta[k], v) {
			t.Errorf("metadata %s = %v, want %v", k, meta[k], v)
		}
	}
}

func TestV2InferMatchesPyTorch(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	xs := fixtureTensors(t, s, fx, []int{0, 13})
	flat := append(append([]float32{}, xs[0]...), xs[1]...)
	nested := make([][][][]float32, 2)
	for i, x := range xs {
		nested[i] = make([][][]float32, 3)
		for c := range 3 {
			nested[i][c] = make([][]float32, 32)
			for y := range 32 {
				nested[i][c][y] = x[c*1024+y*32 : c*1024+y*32+32]
			}
		}
	}
	for name, data := range map[string]any{"flat": flat, "nested": nested} {
		req, _ := json.Marshal(map[string]any{"id": "req-7", "inputs": []any{map[string]any{
			"name": "input", "shape": []int{2, 3, 32, 32}, "datatype": "FP32", "data": data}},
			"outputs": []any{map[string]any{"name": "logits"}}})
		rec := send(t, s.Handler(), "POST", "/v2/models/classifier/infer", string(req))
		var got struct {
			ModelName    string `json:"model_name"`
			ModelVersion string `json:"model_version"`
			ID           string `json:"id"`
			Outputs      []struct {
				Name     string    `json:"name"`
				Shape    []int64   `json:"shape"`
				Datatype string    `json:"datatype"`
				Data     []float64 `json:"data"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
		}
		if got.ModelName != "classifier" || got.ModelVersion != "1" || got.ID != "req-7" ||
			len(got.Outputs) != 1 {
			t.Fatalf("%s: %+v", name, got)
		}
		out := got.Outputs[0]
		if out.Name != "logits" || out.Datatype != "FP32" ||
			!reflect.DeepEqual(out.Shape, []int64{2, 10}) || len(out.Data) != 20 {
			t.Fatalf("%s: output %s %s %v with %d values", name, out.Name, out.Datatype,
				out.Shape, len(out.Data))
		}
		for i, img := range []int{0, 13} {
			for j, want := range fx.Expected.Logits[img] {
				if d := math.Abs(out.Data[i*10+j] - want); d > 1e-4 {
					t.Fatalf("%s: image %d logit %d = %g, PyTorch %g", name, img, j,
						out.Data[i*10+j], want)
				}
			}
		}
	}
}

func TestV2InferRejectsBadRequests(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	tensor := func(name, dtype, shape, data string) string {
		return `{"inputs":[{"name":"` + name + `","datatype":"` + dtype + `","shape":` +
			shape + `,"data":` + data + `}]}`
	}
	ones := "[" + strings.Repeat("1,", 3071) + "1]"
	for _, c := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"unknown model", "/v2/models/nope/infer", tensor("input", "FP32", "[1,3,32,32]",
			ones), 404, `no model "nope"; available models: classifier`},
		{"not JSON", "", "{inputs", 400, "inference request is not valid JSON"},
		{"no inputs", "", `{"inputs":[]}`, 400, `0 input tensors, want 1 named "input"`},
		{"wrong name", "", tensor("x", "FP32", "[1,3,32,32]", ones), 400,
			`model "classifier" has no input "x", only "input"`},
		{"wrong datatype", "", tensor("input", "INT8", "[1,3,32,32]", ones), 400,
			`input "input" has datatype "INT8", want "FP32"`},
		{"wrong shape", "", tensor("input", "FP32", "[3,32,32]", ones), 400,
			`input "input" has shape [3 32 32], want [N,3,32,32] with N at least 1`},
		{"too few values", "", tensor("input", "FP32", "[2,3,32,32]", ones), 400,
			`input "input": 3072 values, the shape needs 6144`},
		{"strings", "", tensor("input", "FP32", "[1,3,32,32]", `["a"]`), 400,
			`"data" holds a, want FP32 numbers`},
		{"over FP32", "", tensor("input", "FP32", "[1,3,32,32]", "[1,1,1e39,"+ones[7:]),
			400, `input "input": value 2 (1e+39) is out of FP32 range`},
		{"over FP64", "", tensor("input", "FP32", "[1,3,32,32]", "[[1e400],"+ones[3:]),
			400, `input "input": value 0 (1e400) is out of FP32 range`},
		{"null", "", tensor("input", "FP32", "[1,3,32,32]", "[1,null,"+ones[5:]), 400,
			`input "input": value 1 is null, want an FP32 number`},
		{"null data", "", tensor("input", "FP32", "[1,3,32,32]", "null"), 400,
			`input "input": value 0 is null`},
		{"trailing garbage", "", tensor("input", "FP32", "[1,3,32,32]", ones) + "xyz", 400,
			"inference request has more after its JSON object"},
		{"two documents", "", tensor("input", "FP32", "[1,3,32,32]", ones) + "{}", 400,
			"inference request has more after its JSON object"},
		{"unknown output", "", `{"inputs":[{"name":"input","datatype":"FP32","shape":` +
			`[1,3,32,32],"data":` + ones + `}],"outputs":[{"name":"probs"}]}`, 400,
			`model "classifier" has no output "probs", only "logits"`},
	} {
		path := c.path
		if path == "" {
			path = "/v2/models/classifier/infer"
		}
		rec := send(t, s.Handler(), "POST", path, c.body)
		var got struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != c.status || !strings.Contains(got.Error, c.want) {
			t.Errorf("%s: %d %q, want %d %q", c.name, rec.Code, got.Error, c.status, c.want)
		}
	}
}

func TestV2ErrorsQuoteLongValuesCut(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	huge := strings.Repeat("9", 1_000_000)
	tensor := func(name, data string) string {
		return `{"inputs":[{"name":"` + name + `","datatype":"FP32","shape":[1,3,32,32],` +
			`"data":` + data + `}]}`
	}
	for _, c := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"number in data", "", tensor("input", "["+huge+"]"), 400,
			`value 0 (` + huge[:40] + `...) is out of FP32 range`},
		{"nested number", "", tensor("input", "[["+huge+"]]"), 400,
			`value 0 (` + huge[:40] + `...) is out of FP32 range`},
		{"number as id", "", `{"id":` + huge + `}`, 400, `number in field "id", want string`},
		{"input name", "", tensor(huge, "[]"), 400, `no input "` + huge[:40] + `..."`},
		{"model name", "/v2/models/" + huge[:5000] + "/infer", tensor("input", "[]"), 404,
			`no model "` + huge[:40] + `..."`},
	} {
		path := c.path
		if path == "" {
			path = "/v2/models/classifier/infer"
		}
		rec := send(t, s.Handler(), "POST", path, c.body)
		var got struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != c.status || !strings.Contains(got.Error, c.want) ||
			rec.Body.Len() > 400 {
			t.Errorf("%s: %d, %d bytes %.200q, want %d %q", c.name, rec.Code, rec.Body.Len(),
				got.Error, c.status, c.want)
		}
	}
}

func TestV2InferAnswers500WhenTheModelOverflows(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	data := "[" + strings.Repeat("3e38,", 3071) + "3e38]"
	rec := send(t, s.Handler(), "POST", "/v2/models/classifier/infer",
		`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,32,32],"data":`+
			data+`}]}`)
	var got struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil ||
		rec.Code != http.StatusInternalServerError || got.Error != `model "classifier" `+
		"produced non-finite output (NaN or infinity) for this input" {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
}
