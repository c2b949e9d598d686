package knn

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/mocokit/mocokit/train/backend"
)

var (
	goBackendOnce sync.Once
	goBackend     backends.Backend
	goBackendErr  error
)

// newBackend is the pure-Go backend, built once for all tests.
func newBackend(tb testing.TB) backends.Backend {
	tb.Helper()
	goBackendOnce.Do(func() { goBackend, goBackendErr = backend.New(backend.GoName) })
	if goBackendErr != nil {
		tb.Fatalf("backend: %v", goBackendErr)
	}
	return goBackend
}

// randomFeatures is n rows of dim Gaussian values and labels in [0, classes).
func randomFeatures(seed uint64, n, dim, classes int) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(rng.IntN(classes))
	}
	return x, labels
}

func TestKOneIsNearestNeighbour(t *testing.T) {
	// The four axes of the plane, one class each; every test point lies
	// closest in angle to one axis, whatever its length.
	bank := []float32{1, 0, 0, 1, -1, 0, 0, -1}
	labels := []int32{0, 1, 2, 3}
	test := []float32{2, 0.5, 0.1, 3, -5, -1, 0.2, -1, 0.3, 0.2}
	cfg := Config{K: 1, Temperature: 0.1, Classes: 4}
	got, err := Predict(newBackend(t), cfg, bank, labels, test, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{0, 1, 2, 3, 0}; !slices.Equal(got, want) {
		t.Errorf("Predict = %v, want %v", got, want)
	}
	acc, err := Accuracy(newBackend(t), cfg, bank, labels, test, []int32{0, 1, 2, 0, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 60 {
		t.Errorf("Accuracy = %v, want 60 (3 of 5)", acc)
	}
}

func TestBankPointIsClassifiedAsItsLabel(t *testing.T) {
	bank, labels := randomFeatures(7, 300, 16, 5)
	// Each test point is a bank point scaled by 3: the same direction.
	rows := []int{0, 17, 99, 150, 299}
	test := make([]float32, 0, len(rows)*16)
	for _, r := range rows {
		for _, v := range bank[r*16 : (r+1)*16] {
			test = append(test, 3*v)
		}
	}
	// With k = 1 the point itself is the neighbour; with a small temperature
	// its weight, exp(1/t), outweighs four random neighbours together.
	for _, cfg := range []Config{{K: 1, Temperature: 0.1, Classes: 5},
		{K: 5, Temperature: 0.01, Classes: 5}} {
		got, err := Predict(newBackend(t), cfg, bank, labels, test, 16)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if got[i] != labels[r] {
				t.Errorf("k=%d t=%g: bank row %d predicted %d, want its label %d",
					cfg.K, cfg.Temperature, r, got[i], labels[r])
			}
		}
	}
}

func TestWeightedVoteFollowsTemperature(t *testing.T) {
	// Test point (1, 0). Class 0: one neighbour at 0 degrees (similarity 1);
	// class 1: two at +-60 degrees (similarity 0.5 each); class 2: one at
	// 180 degrees (similarity -1).
	s := float32(math.Sqrt(3) / 2)
	bank := []float32{1, 0, 0.5, s, 0.5, -s, -1, 0}
	labels := []int32{0, 1, 1, 2}
	test := []float32{1, 0}
	cases := []struct {
		k    int
		t    float64
		want int32
	}{
		{k: 1, t: 1, want: 0},   // the nearest alone
		{k: 3, t: 1, want: 1},   // e^1 = 2.72 < 2 e^0.5 = 3.30
		{k: 3, t: 0.1, want: 0}, // e^10 > 2 e^5
		{k: 200, t: 1, want: 1}, // k beyond the bank: all four vote
	}
	for _, c := range cases {
		cfg := Config{K: c.k, Temperature: c.t, Classes: 3}
		got, err := Predict(newBackend(t), cfg, bank, labels, test, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != c.want {
			t.Errorf("k=%d t=%g: predicted %d, want %d", c.k, c.t, got[0], c.want)
		}
	}

	// The scores themselves, relative to the nearest neighbour's weight.
	var scores []float64
	err := vote(newBackend(t), Config{K: 200, Temperature: 1, Classes: 3}, bank, labels,
		test, 2, func(_ int, s []float64) { scores = slices.Clone(s) })
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1, 2 * math.Exp(-0.5), math.Exp(-2)}
	for c := range want {
		if math.Abs(scores[c]-want[c]) > 1e-6 {
			t.Errorf("score of class %d = %.7f, want %.7f", c, scores[c], want[c])
		}
	}
}

func TestNormaliseKeepsZeroRowsZero(t *testing.T) {
	x, err := normalisedTensor([]float32{0, 0, 0, 3, 4, 0, -2, 0, 0}, 3, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer x.FinalizeAll()
	got := tensors.MustCopyFlatData[float32](x)
	want := []float32{0, 0, 0, 0.6, 0.8, 0, -1, 0, 0}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-7 {
			t.Fatalf("normalised = %v, want %v", got, want)
		}
	}
}

func TestChunkSizeDoesNotChangePredictions(t *testing.T) {
	bank, labels := randomFeatures(1, 500, 8, 4)
	test, _ := randomFeatures(2, 37, 8, 4)
	var first []int32
	for _, chunk := range []int{0, 1, 7, 37, 100} {
		cfg := Config{K: 20, Temperature: 0.1, Classes: 4, Chunk: chunk}
		got, err := Predict(newBackend(t), cfg, bank, labels, test, 8)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = got
		} else if !slices.Equal(got, first) {
			t.Errorf("chunk %d: predictions %v differ from chunk 0's %v", chunk, got, first)
		}
	}
}

func TestTopSelectsTheLargest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sims := make([]float32, 5000)
	for i := range sims {
		// Few distinct values, so that ties cross the boundary of the k.
		sims[i] = float32(rng.IntN(300)) / 300
	}
	for _, k := range []int{1, 2, 199, 200, 5000} {
		got := neighbours(nil).top(sims, k)
		order := make([]int, len(sims))
		for i := range order {
			order[i] = i
		}
		// Largest first; among equals the earlier bank row.
		sort.SliceStable(order, func(a, b int) bool { return sims[order[a]] > sims[order[b]] })
		want := slices.Clone(order[:k])
		idx := make([]int, len(got))
		for i, n := range got {
			idx[i] = int(n.index)
			if n.sim != sims[n.index] {
				t.Fatalf("k=%d: neighbour %d carries similarity %v, not %v",
					k, n.index, n.sim, sims[n.index])
			}
		}
		slices.Sort(idx)
		slices.Sort(want)
		if !slices.Equal(idx, want) {
			t.Errorf("k=%d: selected rows differ from a full sort's", k)
		}
	}
}

func TestBadInputErrors(t *testing.T) {
	b := newBackend(t)
	bank := []float32{1, 0, 0, 1}
	labels := []int32{0, 1}
	test := []float32{1, 1}
	ok := Config{K: 2, Temperature: 0.1, Classes: 2}
	cases := []struct {
		name       string
		b          backends.Backend
		cfg        Config
		bank, test []float32
		labels     []int32
		dim        int
		want       string
	}{
		{"no backend", nil, ok, bank, test, labels, 2, "no backend"},
		{"dim 0", b, ok, bank, test, labels, 0, "dimension 0"},
		{"bank length", b, ok, bank[:3], test, labels, 2, "bank of 3 values"},
		{"test length", b, ok, bank, test[:1], labels, 2, "test set of 1 values"},
		{"empty bank", b, ok, nil, test, nil, 2, "empty bank"},
		{"label count", b, ok, bank, test, labels[:1], 2, "1 bank labels for 2"},
		{"label range", b, ok, bank, test, []int32{0, 2}, 2, "label 2 at 1"},
		{"negative label", b, ok, bank, test, []int32{-1, 0}, 2, "label -1 at 0"},
		{"k 0", b, Config{K: 0, Temperature: 0.1, Classes: 2}, bank, test, labels, 2, "k = 0"},
		{"t 0", b, Config{K: 2, Temperature: 0, Classes: 2}, bank, test, labels, 2,
			"temperature 0"},
		{"t NaN", b, Config{K: 2, Temperature: math.NaN(), Classes: 2}, bank, test, labels, 2,
			"temperature NaN"},
		{"classes", b, Config{K: 2, Temperature: 0.1}, bank, test, labels, 2, "0 classes"},
		{"chunk", b, Config{K: 2, Temperature: 0.1, Classes: 2, Chunk: -1}, bank, test,
			labels, 2, "chunk of -1"},
		{"NaN bank feature", b, ok, []float32{1, 0, float32(math.NaN()), 1}, test, labels, 2,
			"bank row 1: feature is not finite"},
		{"infinite test feature", b, Config{K: 2, Temperature: 0.1, Classes: 2, Chunk: 2},
			bank, []float32{1, 1, 0, 1, 1, 0, float32(math.Inf(1)), 0}, labels, 2,
			"test row 3: feature is not finite"},
	}
	for _, c := range cases {
		_, err := Predict(c.b, c.cfg, c.bank, c.labels, c.test, c.dim)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}

	_, err := Accuracy(b, ok, bank, labels, test, []int32{0, 1}, 2)
	if err == nil || !strings.Contains(err.Error(), "2 test labels for 1") {
		t.Errorf("Accuracy with 2 labels for 1 feature: error %v", err)
	}
	_, err = Accuracy(b, ok, bank, labels, test, []int32{5}, 2)
	if err == nil || !strings.Contains(err.Error(), "test label 5") {
		t.Errorf("Accuracy with test label 5 of 2 classes: error %v", err)
	}
	_, err = Accuracy(b, ok, bank, labels, nil, nil, 2)
	if err == nil || !strings.Contains(err.Error(), "empty test set") {
		t.Errorf("Accuracy of no test features: error %v", err)
	}
}

func TestNoTestFeaturesNoPredictions(t *testing.T) {
	got, err := Predict(newBackend(t), Default(2), []float32{1, 0}, []int32{1}, nil, 2)
	if err != nil || len(got) != 0 {
		t.Errorf("Predict of no test features = %v, %v; want none, no error", got, err)
	}
}
