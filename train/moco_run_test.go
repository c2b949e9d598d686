package train

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/convert/torchfile"
	"github.com/mocokit/mocokit/dataset"
)

func tinyMoCoOptions() MoCoOptions {
	o := MoCoPresets["default"]
	o.Stem, o.BatchSize, o.K, o.Dim, o.BNSplits = "imagenet", 8, 32, 16, 2
	o.Epochs, o.StepsPerEpoch, o.KNNEvery, o.KNNK = 3, 2, 1, 5
	return o
}

func TestMoCoResumeContinuesExactly(t *testing.T) {
	o := tinyMoCoOptions()
	ds := noiseDataset(24, 3)
	whole := map[stepKey]float64{}
	full := &MoCoRun{Options: o, Out: t.TempDir(), TrainSet: ds, TestSet: ds,
		Backend: testBackend(t), Log: quietLog(),
		OnStep: func(e, s int, l float64) { whole[stepKey{e, s}] = l }}
	if err := full.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := full.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	parts := map[stepKey]float64{}
	first := o
	first.Epochs = 1
	r := &MoCoRun{Options: first, Out: out, TrainSet: ds, TestSet: ds, Backend: testBackend(t),
		Log: quietLog(), SavePth: true,
		OnStep: func(e, s int, l float64) { parts[stepKey{e, s}] = l }}
	if err := r.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	resumed := &MoCoRun{Out: out, TrainSet: ds, TestSet: ds, ResumeEpochs: 3,
		Backend: testBackend(t), Log: quietLog(),
		OnStep: func(e, s int, l float64) { parts[stepKey{e, s}] = l }}
	if err := resumed.Resume(out); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 6 || len(whole) != 6 {
		t.Fatalf("steps: %d interrupted, %d whole, want 6 each", len(parts), len(whole))
	}
	for k, want := range whole {
		if parts[k] != want {
			t.Errorf("epoch %d step %d: loss %v after resuming, %v uninterrupted",
				k.epoch, k.step, parts[k], want)
		}
	}
	checkMoCoOutputs(t, out)
}

func checkMoCoOutputs(t *testing.T, out string) {
	t.Helper()
	c, err := ReadCheckpoint(filepath.Join(out, lastLink))
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Kind != KindMoCo || c.State.QueuePtr != (6*8)%32 || c.Key == nil {
		t.Errorf("last checkpoint: kind %s, queue pointer %d (want 16), key encoder %v",
			c.State.Kind, c.State.QueuePtr, c.Key != nil)
	}
	v, err := torchfile.ReadFile(filepath.Join(out, "checkpoint_0000.pth.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, RecordFile)); err != nil || v == nil {
		t.Errorf("record: %v", err)
	}
}

// TestShortMoCoRunOnCIFAR pretrains on real CIFAR-10 images for 50 steps:
// once the queue holds real keys the loss falls, and the kNN monitor beats
// chance; a linear probe on the encoder then beats chance too.
func TestShortMoCoRunOnCIFAR(t *testing.T) {
	if testing.Short() {
		t.Skip("minutes of training")
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
	o := MoCoPresets["default"]
	o.Stem, o.BatchSize, o.K, o.BNSplits = "imagenet", 32, 256, 4
	o.Epochs, o.StepsPerEpoch, o.KNNEvery, o.KNNBank, o.TestImages = 1, 50, 1, 2000, 500
	var losses []float64
	out := t.TempDir()
	r := &MoCoRun{Options: o, Out: out, TrainSet: trainSet, TestSet: testSet,
		Backend: testBackend(t), Log: quietLog(),
		OnStep: func(_, _ int, l float64) { losses = append(losses, l) }}
	if err := r.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	early, late := mean(losses[10:20]), mean(losses[40:50])
	e := r.Record().Epochs[0]
	t.Logf("MoCo: loss %.3f over steps 11-20, %.3f over 41-50; acc1 %.1f%%, kNN %.1f%% "+
		"(%.0f s)", early, late, e.TrainAcc, e.TestAcc, e.Seconds)
	if late >= early {
		t.Errorf("loss did not fall: %.3f then %.3f", early, late)
	}
	if e.TestAcc < 15 {
		t.Errorf("kNN accuracy %.1f%%, want above chance (10%%) by a margin", e.TestAcc)
	}
	probeLearns(t, out, trainSet, testSet)
}

func probeLearns(t *testing.T, pretrained string, trainSet, testSet *dataset.Dataset) {
	c, err := ReadCheckpoint(filepath.Join(pretrained, lastLink))
	if err != nil {
		t.Fatal(err)
	}
	o := LinclsPresets["default"]
	o.Stem, o.Mean, o.Std = c.State.Config.Stem, c.State.Metadata.Preprocess.Mean,
		c.State.Metadata.Preprocess.Std
	// lr 30 suits features pretrained for 200 epochs. After 50 steps every
	// feature still carries a large common positive part (their sum is in
	// the hundreds), which makes SGD on the fc unstable above lr ~1e-3; and
	// 60 steps learn more from the plain images than from RandomResizedCrop.
	o.LR, o.Augment = 0.001, "none"
	// 2000 test images: with 500, rounding differences in the pretraining
	// moved the accuracy by 3 points (16.6% against 13.8%), one standard
	// error being 1.6. With 2000 it is 0.7 at chance, so 13% is well above
	// chance and well below the 16-18% measured.
	o.BatchSize, o.Epochs, o.StepsPerEpoch, o.TestImages = 32, 1, 60, 2000
	r := &Run{Options: o, Out: t.TempDir(), TrainSet: trainSet, TestSet: testSet,
		Backend: testBackend(t), Log: quietLog(), Probe: true}
	if err := r.Start(c.Weights); err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := r.Record().Epochs[0]
	t.Logf("linear probe: %d steps, test accuracy %.1f%% (%d images)", e.Steps, e.TestAcc,
		o.TestImages)
	if e.TestAcc < 13 {
		t.Errorf("linear probe accuracy %.1f%%, want above chance (10%%) by a margin", e.TestAcc)
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
