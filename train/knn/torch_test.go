package knn

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

// torchCase is a kNN problem for the comparison with PyTorch.
type torchCase struct {
	nBank, nTest, dim, classes, k int
	t                             float64
	bank, test                    []float32
	bankLabels, testLabels        []int32
}

// newTorchCase draws features around one random centre per class, with
// noise and a random length per row, so that votes are neither unanimous
// nor random and the normalisation matters.
func newTorchCase(seed uint64) *torchCase {
	c := &torchCase{nBank: 3000, nTest: 500, dim: 64, classes: 10, k: 200, t: 0.1}
	rng := rand.New(rand.NewPCG(seed, 2))
	centres := make([]float64, c.classes*c.dim)
	for i := range centres {
		centres[i] = rng.NormFloat64()
	}
	draw := func(n int) ([]float32, []int32) {
		x, labels := make([]float32, n*c.dim), make([]int32, n)
		for r := range n {
			labels[r] = int32(rng.IntN(c.classes))
			length := math.Exp(rng.Float64()*4 - 2)
			for j := range c.dim {
				v := 0.25*centres[int(labels[r])*c.dim+j] + rng.NormFloat64()
				x[r*c.dim+j] = float32(length * v)
			}
		}
		return x, labels
	}
	c.bank, c.bankLabels = draw(c.nBank)
	c.test, c.testLabels = draw(c.nTest)
	return c
}

// torchReference runs testdata/knn_predict.py on c and returns PyTorch's
// predictions and class scores ([nTest, classes]).
func torchReference(t *testing.T, c *torchCase) ([]int32, []float32) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		testenv.Missing(t, "/usr/bin/python3 cannot import torch: %v", err)
	}
	dir := t.TempDir()
	writeLE(t, filepath.Join(dir, "bank.f32"), c.bank)
	writeLE(t, filepath.Join(dir, "bank_labels.i32"), c.bankLabels)
	writeLE(t, filepath.Join(dir, "test.f32"), c.test)
	out, err := exec.Command("/usr/bin/python3", "testdata/knn_predict.py", dir,
		fmt.Sprint(c.nBank), fmt.Sprint(c.nTest), fmt.Sprint(c.dim),
		fmt.Sprint(c.classes), fmt.Sprint(c.k), fmt.Sprint(c.t)).CombinedOutput()
	if err != nil {
		t.Fatalf("knn_predict.py: %v\n%s", err, out)
	}
	pred := make([]int32, c.nTest)
	readLE(t, filepath.Join(dir, "pred.i32"), pred)
	scores := make([]float32, c.nTest*c.classes)
	readLE(t, filepath.Join(dir, "scores.f32"), scores)
	return pred, scores
}

func writeLE[T int32 | float32](t *testing.T, path string, data []T) {
	t.Helper()
	buf, err := binary.Append(nil, binary.LittleEndian, data)
	if err == nil {
		err = os.WriteFile(path, buf, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func readLE[T int32 | float32](t *testing.T, path string, data []T) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := binary.Decode(buf, binary.LittleEndian, data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// normalised is scores divided by their sum, which removes the per-row
// factor by which Go's scores differ from the demo's.
func normalised[T float32 | float64](scores []T) []float64 {
	var sum float64
	for _, s := range scores {
		sum += float64(s)
	}
	out := make([]float64, len(scores))
	for i, s := range scores {
		out[i] = float64(s) / sum
	}
	return out
}

// Rounding: the similarities of two float32 matrix multiplications differ
// in the last bits, and a score is a float32 sum of up to k weights.
const (
	scoreTolerance = 2e-5 // on scores normalised to sum 1
	tieTolerance   = 1e-5 // relative gap of the two best classes
)

func TestPredictMatchesPyTorch(t *testing.T) {
	c := newTorchCase(11)
	torchPred, torchScores := torchReference(t, c)
	b := newBackend(t)
	cfg := Config{K: c.k, Temperature: c.t, Classes: c.classes}

	pred, err := Predict(b, cfg, c.bank, c.bankLabels, c.test, c.dim)
	if err != nil {
		t.Fatal(err)
	}
	ties, differ := 0, 0
	for r := range c.nTest {
		row := torchScores[r*c.classes : (r+1)*c.classes]
		best, second := topTwo(row)
		nearTie := best-second <= tieTolerance*best
		if nearTie {
			ties++
		}
		if pred[r] == torchPred[r] {
			continue
		}
		differ++
		gap := float64(row[torchPred[r]] - row[pred[r]])
		if gap > tieTolerance*float64(best) {
			t.Errorf("test row %d: Go predicts %d, PyTorch %d; PyTorch's scores %v",
				r, pred[r], torchPred[r], row)
		}
	}
	t.Logf("%d test rows: %d predictions differ, %d near-ties in PyTorch's scores",
		c.nTest, differ, ties)

	acc, err := Accuracy(b, cfg, c.bank, c.bankLabels, c.test, c.testLabels, c.dim)
	if err != nil {
		t.Fatal(err)
	}
	if want := percentCorrect(torchPred, c.testLabels); differ == 0 && acc != want {
		t.Errorf("Accuracy = %v, PyTorch's predictions score %v", acc, want)
	}
	t.Logf("top-1 accuracy %.2f%%", acc)
}

func TestScoresMatchPyTorch(t *testing.T) {
	c := newTorchCase(12)
	_, torchScores := torchReference(t, c)
	cfg := Config{K: c.k, Temperature: c.t, Classes: c.classes, Chunk: 64}
	scores := make([]float64, c.nTest*c.classes)
	err := vote(newBackend(t), cfg, c.bank, c.bankLabels, c.test, c.dim,
		func(r int, s []float64) { copy(scores[r*c.classes:], s) })
	if err != nil {
		t.Fatal(err)
	}
	// A row whose k-th and (k+1)-th neighbours are within rounding of each
	// other may keep a different k-th one; that changes its scores by one
	// weight, which is allowed for a few rows.
	worst, off := 0.0, 0
	for r := range c.nTest {
		got := normalised(scores[r*c.classes : (r+1)*c.classes])
		want := normalised(torchScores[r*c.classes : (r+1)*c.classes])
		rowWorst := 0.0
		for j := range got {
			rowWorst = max(rowWorst, math.Abs(got[j]-want[j]))
		}
		if rowWorst > scoreTolerance {
			off++
		}
		worst = max(worst, rowWorst)
	}
	t.Logf("largest difference of normalised scores %.2g; %d rows beyond %g",
		worst, off, scoreTolerance)
	if off > c.nTest/100 {
		t.Errorf("%d of %d rows have scores beyond %g of PyTorch's", off, c.nTest,
			scoreTolerance)
	}
}

// topTwo is the largest and second-largest score of a row.
func topTwo(row []float32) (best, second float32) {
	best, second = float32(math.Inf(-1)), float32(math.Inf(-1))
	for _, s := range row {
		if s > best {
			best, second = s, best
		} else if s > second {
			second = s
		}
	}
	return best, second
}

func percentCorrect(pred, labels []int32) float64 {
	correct := 0
	for i := range pred {
		if pred[i] == labels[i] {
			correct++
		}
	}
	return 100 * float64(correct) / float64(len(pred))
}
