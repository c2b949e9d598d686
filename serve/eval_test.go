package serve

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/inference/inferencetest"
)

// pythonCounts are PyTorch's top-1 hits, overall and per label.
func pythonCounts(t *testing.T, fx *inferencetest.Fixture) (int, []int) {
	t.Helper()
	if fx.Expected.MinMargin < 1e-3 {
		t.Fatalf("PyTorch's smallest top-2 logit margin is %g: too close for ONNX "+
			"Runtime to rank the same; change make_model.py's seed", fx.Expected.MinMargin)
	}
	perClass := make([]int, 10)
	total := 0
	for i, p := range fx.Expected.Pred {
		if p == fx.Expected.Labels[i] {
			total++
			perClass[p]++
		}
	}
	return total, perClass
}

func TestEvaluateMatchesPyTorch(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	ds, err := dataset.Load(fx.Dataset, dataset.Test)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(context.Background(), s.Session(), ds, 16) // last batch partial
	if err != nil {
		t.Fatal(err)
	}
	correct, perClass := pythonCounts(t, fx)
	n := len(fx.Expected.Pred)
	if res.Total != n || res.Correct != correct || res.Top1 != float64(correct)/float64(n) {
		t.Fatalf("%d/%d correct (top-1 %v), PyTorch %d/%d", res.Correct, res.Total,
			res.Top1, correct, n)
	}
	t.Logf("top-1 %.2f (%d/%d), as PyTorch", res.Top1, res.Correct, res.Total)
	for c, pc := range res.PerClass {
		if pc.Class != dataset.CIFAR10Classes[c] || pc.Correct != perClass[c] ||
			pc.Total != inferencetest.PerClass {
			t.Errorf("class %d: %+v, PyTorch %d/%d", c, pc, perClass[c],
				inferencetest.PerClass)
		}
	}
}

func TestEvaluateMapsClassesByName(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	ds, err := dataset.Load(fx.Dataset, dataset.Test)
	if err != nil {
		t.Fatal(err)
	}
	// Keep only the trucks and relabel them as the only class of the dataset.
	trucks := &dataset.Dataset{Classes: []string{"truck"}}
	for _, sample := range ds.Samples {
		if sample.Label == 9 {
			sample.Label = 0
			trucks.Samples = append(trucks.Samples, sample)
		}
	}
	res, err := Evaluate(context.Background(), s.Session(), trucks, 64)
	if err != nil {
		t.Fatal(err)
	}
	_, perClass := pythonCounts(t, fx)
	if res.Total != inferencetest.PerClass || res.Correct != perClass[9] {
		t.Fatalf("trucks: %d/%d, PyTorch %d", res.Correct, res.Total, perClass[9])
	}
	trucks.Classes = []string{"lorry"}
	if _, err := Evaluate(context.Background(), s.Session(), trucks, 64); err == nil ||
		!strings.Contains(err.Error(), `dataset class "lorry" is not one of the model's`) {
		t.Fatalf("error %v", err)
	}
}

func TestEvalEndpointReportsBackgroundEvaluation(t *testing.T) {
	s, fx := newServer(t, classifier, func(c *Config) { c.EvalBatch = 8 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.StartEval(ctx, fx.Dataset)
	var st EvalStatus
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/eval", nil))
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		if st.Status != evalRunning || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	correct, perClass := pythonCounts(t, fx)
	if st.Status != evalDone || st.Done != 50 || st.Total != 50 || st.Correct != correct ||
		st.Model != "classifier" || len(st.PerClass) != 10 {
		t.Fatalf("status %+v, want done with %d/50 correct", st, correct)
	}
	if st.PerClass[9].Correct != perClass[9] || st.Top1 != float64(correct)/50 {
		t.Fatalf("trucks %+v, top-1 %v; PyTorch %d trucks", st.PerClass[9], st.Top1,
			perClass[9])
	}

	s.StartEval(ctx, "/nonexistent/dataset")
	for st = s.EvalStatus(); st.Status == evalRunning; st = s.EvalStatus() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.Status != evalFailed || !strings.Contains(st.Error, "/nonexistent/dataset") {
		t.Fatalf("status %+v, want failed naming the path", st)
	}
}
