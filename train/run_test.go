package train

import (
	"context"
	"image"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/train/record"
)

// noiseDataset is n random 32x32 images in 10 classes.
func noiseDataset(n int, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 2))
	ds := &dataset.Dataset{Classes: dataset.CIFAR10Classes}
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
		for j := range img.Pix {
			img.Pix[j] = uint8(rng.IntN(256))
		}
		ds.Samples = append(ds.Samples, dataset.Sample{Image: img, Label: i % 10})
	}
	return ds
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type stepKey struct{ epoch, step int }

func newTestRun(t *testing.T, out string, o Options, ds *dataset.Dataset,
	losses map[stepKey]float64) *Run {
	return &Run{Options: o, Out: out, TrainSet: ds, TestSet: ds, Backend: testBackend(t),
		Log: quietLog(), OnStep: func(e, s int, l float64) { losses[stepKey{e, s}] = l }}
}

func TestResumeContinuesExactly(t *testing.T) {
	o := Presets["seed"]
	o.BatchSize, o.StepsPerEpoch, o.Epochs, o.Augment = 8, 3, 3, "crop-flip"
	o.Schedule = "step:1:0.5"
	ds := noiseDataset(40, 1)
	whole := map[stepKey]float64{}
	full := newTestRun(t, t.TempDir(), o, ds, whole)
	if err := full.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := full.Train(context.Background()); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	first := o
	first.Epochs = 1
	parts := map[stepKey]float64{}
	r := newTestRun(t, out, first, ds, parts)
	if err := r.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	resumed := newTestRun(t, out, Options{}, ds, parts)
	resumed.ResumeEpochs = 3
	if err := resumed.Resume(out); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 9 || len(whole) != 9 {
		t.Fatalf("steps: %d interrupted, %d whole, want 9 each", len(parts), len(whole))
	}
	for k, want := range whole {
		if parts[k] != want {
			t.Errorf("epoch %d step %d: loss %v after resuming, %v uninterrupted",
				k.epoch, k.step, parts[k], want)
		}
	}
	checkRunDir(t, out, resumed)
}

func checkRunDir(t *testing.T, out string, r *Run) {
	t.Helper()
	rec, err := record.ReadJSON(filepath.Join(out, RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Epochs) != 3 || rec.Epochs[2].LR != 0.005*0.25 {
		t.Errorf("record has %d epochs (last lr %v), want 3 (lr 0.00125)", len(rec.Epochs),
			rec.Epochs[len(rec.Epochs)-1].LR)
	}
	c, err := ReadCheckpoint(filepath.Join(out, lastLink))
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Epoch != 3 || c.State.Step != 9 {
		t.Errorf("last checkpoint at epoch %d step %d, want 3 and 9", c.State.Epoch, c.State.Step)
	}
	if got := c.Weights["bn1.num_batches_tracked"].Data[0]; got != 9 {
		t.Errorf("num_batches_tracked %v, want 9", got)
	}
	if _, err := os.Stat(filepath.Join(out, PlotFile)); err != nil {
		t.Error(err)
	}
	st := r.State()
	if _, err := ReadCheckpoint(filepath.Join(out, bestLink)); err != nil || st.BestEpoch < 1 {
		t.Errorf("best checkpoint: %v (best epoch %d)", err, st.BestEpoch)
	}
}

func cifarJPEG(t *testing.T) string {
	dir := os.Getenv("MOCOKIT_CIFAR_JPEG")
	if dir == "" {
		dir = "../../shared/data/cifar10-jpeg"
	}
	if _, err := os.Stat(filepath.Join(dir, "train.tar")); err != nil {
		testenv.Missing(t, "no CIFAR-10 JPEG copy at %s (set MOCOKIT_CIFAR_JPEG)", dir)
	}
	return dir
}

// TestShortRunOnCIFARLearns trains the ImageNet-stem network for 250 steps
// of 32 real CIFAR-10 images and checks it classifies the test set far
// better than chance.
func TestShortRunOnCIFARLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("a few minutes of training")
	}
	dir := cifarJPEG(t)
	trainSet, err := dataset.Load(dir, dataset.Train)
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := dataset.Load(dir, dataset.Test)
	if err != nil {
		t.Fatal(err)
	}
	o := Presets["seed"]
	o.LR, o.Momentum, o.Epochs, o.StepsPerEpoch, o.TestImages = 0.02, 0.9, 1, 250, 1000
	r := &Run{Options: o, Out: t.TempDir(), TrainSet: trainSet, TestSet: testSet,
		Backend: testBackend(t), Log: quietLog()}
	if err := r.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := r.Record().Epochs[0]
	t.Logf("250 steps of 32: train loss %.3f, train acc %.1f%%, test acc %.1f%% "+
		"(1000 images), %.0f s", e.TrainLoss, e.TrainAcc, e.TestAcc, e.Seconds)
	if e.TestAcc < 25 {
		t.Errorf("test accuracy %.1f%% after 250 steps, want well above 10%%", e.TestAcc)
	}
	if r.State().Config != models.ResNet18(models.StemImageNet, 10) {
		t.Errorf("config %+v", r.State().Config)
	}
}
