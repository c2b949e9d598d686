package record

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// examplePath is the PyTorch baseline's own loss_and_time.json.
const examplePath = "../../assets/resnet18-cifar10.loss_and_time.json"

// sameFloat is == except that NaN equals NaN.
func sameFloat(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

// checkSameRecord fails t unless got and want hold the same values.
func checkSameRecord(t *testing.T, got, want *Record) {
	t.Helper()
	if got.Name != want.Name || len(got.Epochs) != len(want.Epochs) ||
		len(got.StepLoss) != len(want.StepLoss) {
		t.Fatalf("got %q with %d epochs, %d step losses; want %q with %d, %d", got.Name,
			len(got.Epochs), len(got.StepLoss), want.Name, len(want.Epochs), len(want.StepLoss))
	}
	for i, g := range got.Epochs {
		w := want.Epochs[i]
		same := g.Epoch == w.Epoch && g.Steps == w.Steps && sameFloat(g.LR, w.LR) &&
			sameFloat(g.TrainLoss, w.TrainLoss) && sameFloat(g.TrainAcc, w.TrainAcc) &&
			sameFloat(g.TestAcc, w.TestAcc) && sameFloat(g.Seconds, w.Seconds) &&
			len(g.Extra) == len(w.Extra)
		for k, v := range w.Extra {
			gv, ok := g.Extra[k]
			same = same && ok && sameFloat(gv, v)
		}
		if !same {
			t.Errorf("epoch %d: got %+v, want %+v", i, g, w)
		}
	}
	for i, g := range got.StepLoss {
		w := want.StepLoss[i]
		if g.Epoch != w.Epoch || g.Step != w.Step || !sameFloat(g.Loss, w.Loss) {
			t.Errorf("step loss %d: got %+v, want %+v", i, g, w)
		}
	}
}

// readLists reads the named top-level lists of a JSON file; null is NaN.
func readLists(t *testing.T, path string, keys ...string) map[string][]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	lists := make(map[string][]float64)
	for _, k := range keys {
		var xs []*float64
		if err := json.Unmarshal(raw[k], &xs); err != nil {
			t.Fatalf("key %q: %v", k, err)
		}
		for _, x := range xs {
			v := math.NaN()
			if x != nil {
				v = *x
			}
			lists[k] = append(lists[k], v)
		}
	}
	return lists
}

var baselineKeys = []string{"test_acc", "train_acc", "train_loss", "train_time"}

func TestWriteJSONReadsBackTheSameRecord(t *testing.T) {
	want := syntheticRun(t, 5)
	path := filepath.Join(t.TempDir(), "record.json")
	if err := want.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSameRecord(t, got, want)
}

func TestWriteJSONCarriesTheBaselineKeys(t *testing.T) {
	r := syntheticRun(t, 5)
	path := filepath.Join(t.TempDir(), "record.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	lists := readLists(t, path, baselineKeys...)
	wantLen := map[string]int{"test_acc": 5, "train_acc": 5, "train_loss": 15, "train_time": 5}
	for k, n := range wantLen {
		if len(lists[k]) != n {
			t.Errorf("%s has %d entries, want %d", k, len(lists[k]), n)
		}
	}
	lt := r.LossAndTime()
	for i := range 5 {
		if !sameFloat(lists["test_acc"][i], lt.TestAcc[i]) ||
			lists["train_acc"][i] != lt.TrainAcc[i] || lists["train_time"][i] != lt.TrainTime[i] {
			t.Errorf("epoch %d: file %v %v %v, record %v %v %v", i+1, lists["test_acc"][i],
				lists["train_acc"][i], lists["train_time"][i], lt.TestAcc[i], lt.TrainAcc[i],
				lt.TrainTime[i])
		}
	}
	if !math.IsNaN(lists["test_acc"][2]) {
		t.Errorf("test_acc of epoch 3, not measured, is %v; want null", lists["test_acc"][2])
	}
	for i, s := range r.StepLoss {
		if lists["train_loss"][i] != s.Loss {
			t.Errorf("train_loss[%d] = %v, want %v", i, lists["train_loss"][i], s.Loss)
		}
	}
}

func TestResumedRunWritesTheSameFileAsAnUninterruptedOne(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.json")
	if err := syntheticRun(t, 6).WriteJSON(whole); err != nil {
		t.Fatal(err)
	}

	// The run wrote its record after epoch 4, then died before saving the
	// checkpoint of epoch 4: it resumes from epoch 3's.
	resumed := filepath.Join(dir, "resumed.json")
	if err := syntheticRun(t, 4).WriteJSON(resumed); err != nil {
		t.Fatal(err)
	}
	r, err := ReadJSON(resumed)
	if err != nil {
		t.Fatal(err)
	}
	r.Truncate(3)
	for e := 4; e <= 6; e++ {
		addSyntheticEpoch(t, r, e)
		if err := r.WriteJSON(resumed); err != nil {
			t.Fatal(err)
		}
	}

	a, errA := os.ReadFile(whole)
	b, errB := os.ReadFile(resumed)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("resumed file differs from the uninterrupted one:\n%s\n---\n%s", b, a)
	}
}

func TestNonFiniteValuesWriteAsNullAndReadAsNaN(t *testing.T) {
	var r Record
	err := r.AddEpoch(Epoch{Epoch: 1, TrainLoss: math.Inf(1), TestAcc: math.NaN(),
		Extra: map[string]float64{"knn_acc": math.NaN(), "acc5": 88.5}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "record.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) || bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Inf")) {
		t.Fatalf("not plain JSON:\n%s", b)
	}
	got, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	e := got.Epochs[0]
	if !math.IsNaN(e.TrainLoss) || !math.IsNaN(e.TestAcc) || !math.IsNaN(e.Extra["knn_acc"]) ||
		e.Extra["acc5"] != 88.5 {
		t.Errorf("read back %+v; want NaN loss, test and knn_acc, acc5 88.5", e)
	}
}

func TestLossAndTimeMarshalsTheFourKeys(t *testing.T) {
	lt := LossAndTime{TestAcc: []float64{math.NaN(), 61.5}, TrainAcc: []float64{40, 55.25},
		TrainLoss: []float64{2.1, 1.9, 1.7, 1.5}, TrainTime: []float64{120.5, 118}}
	b, err := json.Marshal(lt)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"test_acc":[null,61.5],"train_acc":[40,55.25],` +
		`"train_loss":[2.1,1.9,1.7,1.5],"train_time":[120.5,118]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestReadJSONImportsTheBaselineFile(t *testing.T) {
	r, err := ReadJSON(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	orig := readLists(t, examplePath, baselineKeys...)
	if len(r.Epochs) != 14 || len(r.StepLoss) != 98 {
		t.Fatalf("%d epochs, %d step losses; want 14, 98", len(r.Epochs), len(r.StepLoss))
	}
	first := r.Epochs[0]
	if first.Epoch != 1 || first.TestAcc != 52.75 || first.TrainAcc != 43.406 ||
		first.Seconds != orig["train_time"][0] || !math.IsNaN(first.LR) {
		t.Errorf("epoch 1 = %+v", first)
	}
	// Seven losses per epoch, logged at steps 200..1400 of each.
	if s := r.StepLoss[6]; s.Epoch != 1 || s.Step != 1400 {
		t.Errorf("step loss 6 = %+v, want epoch 1 step 1400", s)
	}
	if s := r.StepLoss[7]; s.Epoch != 2 || s.Step != 200 || s.Loss != orig["train_loss"][7] {
		t.Errorf("step loss 7 = %+v, want epoch 2 step 200 loss %v", s, orig["train_loss"][7])
	}

	// Written back, the four keys hold the original's values exactly.
	path := filepath.Join(t.TempDir(), "record.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	again := readLists(t, path, baselineKeys...)
	for _, k := range baselineKeys {
		if len(again[k]) != len(orig[k]) {
			t.Fatalf("%s: %d entries, want %d", k, len(again[k]), len(orig[k]))
		}
		for i := range orig[k] {
			if again[k][i] != orig[k][i] {
				t.Errorf("%s[%d] = %v, want %v", k, i, again[k][i], orig[k][i])
			}
		}
	}
}

func TestReadJSONRejectsMalformedFiles(t *testing.T) {
	cases := map[string]string{
		"not JSON":        `{"epochs": [`,
		"trailing data":   `{"epochs": []} {}`,
		"neither form":    `{"name": "x"}`,
		"epochs reversed": `{"epochs": [{"epoch": 2}, {"epoch": 1}]}`,
		"steps reversed": `{"epochs": [], "step_loss": [{"epoch": 1, "step": 200},` +
			` {"epoch": 1, "step": 100}]}`,
		"step zero":    `{"epochs": [], "step_loss": [{"epoch": 1, "step": 0}]}`,
		"uneven lists": `{"test_acc": [1, 2], "train_acc": [1], "train_time": [1, 2]}`,
		"losses left out": `{"test_acc": [1, 2], "train_acc": [1, 2], "train_time": [1, 2],` +
			` "train_loss": [3, 2, 1]}`,
	}
	dir := t.TempDir()
	for name, body := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadJSON(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s", name, err, path)
		}
	}
	if _, err := ReadJSON(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestRecordEncodesThroughEncodingJSON(t *testing.T) {
	want := syntheticRun(t, 3)
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Record
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	checkSameRecord(t, &got, want)
}
