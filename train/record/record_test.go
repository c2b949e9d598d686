package record

import (
	"math"
	"testing"
)

// stepsPerEpoch and lossEvery shape the synthetic runs: CIFAR-10's 50,000
// images in batches of 128, the loss logged every 100 steps.
const (
	stepsPerEpoch = 391
	lossEvery     = 100
)

// addSyntheticEpoch records epoch e of a run whose loss falls and whose
// accuracies rise with e; every third epoch skips the test set.
func addSyntheticEpoch(t *testing.T, r *Record, e int) {
	t.Helper()
	for step := lossEvery; step <= stepsPerEpoch; step += lossEvery {
		loss := 2.3/float64(e) + 0.1/float64(step)
		if err := r.AddStepLoss(e, step, loss); err != nil {
			t.Fatal(err)
		}
	}
	testAcc := 40 + 5*float64(e)
	if e%3 == 0 {
		testAcc = math.NaN()
	}
	err := r.AddEpoch(Epoch{
		Epoch: e, Steps: stepsPerEpoch, LR: 0.1 * math.Pow(0.5, float64(e-1)),
		TrainLoss: 2.3 / float64(e), TrainAcc: 30 + 6*float64(e), TestAcc: testAcc,
		Seconds: 100 + float64(e)/3,
		Extra:   map[string]float64{"acc5": 70 + 2*float64(e), "knn_acc": 35 + 4*float64(e)},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// syntheticRun records epochs 1..n.
func syntheticRun(t *testing.T, n int) *Record {
	t.Helper()
	r := &Record{Name: "resnet18 baseline"}
	for e := 1; e <= n; e++ {
		addSyntheticEpoch(t, r, e)
	}
	return r
}

func TestAddEpochRejectsRepeatedOrOlderEpochs(t *testing.T) {
	r := syntheticRun(t, 3)
	for _, e := range []int{3, 2, 0} {
		if err := r.AddEpoch(Epoch{Epoch: e}); err == nil {
			t.Errorf("AddEpoch(%d) after epoch 3: no error", e)
		}
	}
	if len(r.Epochs) != 3 {
		t.Errorf("%d epochs after rejected adds, want 3", len(r.Epochs))
	}
	if err := r.AddEpoch(Epoch{Epoch: 5}); err != nil {
		t.Errorf("AddEpoch(5) after epoch 3: %v", err)
	}
}

func TestAddStepLossRejectsGoingBack(t *testing.T) {
	r := syntheticRun(t, 2)
	bad := [][2]int{{2, 500}, {1, 50}, {3, 0}, {0, 10}}
	for _, b := range bad {
		if err := r.AddStepLoss(b[0], b[1], 1); err == nil {
			t.Errorf("AddStepLoss(epoch %d, step %d) after epoch 2: no error", b[0], b[1])
		}
	}
	if err := r.AddStepLoss(3, 100, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.AddStepLoss(3, 100, 1); err == nil {
		t.Error("the same step twice: no error")
	}
	if err := r.AddEpoch(Epoch{Epoch: 2}); err == nil {
		t.Error("epoch 2 after a step loss of epoch 3: no error")
	}
}

func TestAddEpochCopiesExtra(t *testing.T) {
	var r Record
	extra := map[string]float64{"acc5": 90}
	if err := r.AddEpoch(Epoch{Epoch: 1, Extra: extra}); err != nil {
		t.Fatal(err)
	}
	extra["acc5"] = 10
	if got := r.Epochs[0].Extra["acc5"]; got != 90 {
		t.Errorf("acc5 = %v after the caller changed its map, want 90", got)
	}
}

func TestTruncateKeepsEpochsUpToCheckpoint(t *testing.T) {
	r := syntheticRun(t, 5)
	if err := r.AddStepLoss(6, 100, 0.3); err != nil {
		t.Fatal(err)
	}
	r.Truncate(3)
	if len(r.Epochs) != 3 || r.Epochs[2].Epoch != 3 {
		t.Fatalf("epochs after Truncate(3): %+v", r.Epochs)
	}
	want := 3 * (stepsPerEpoch / lossEvery)
	if len(r.StepLoss) != want {
		t.Fatalf("%d step losses after Truncate(3), want %d", len(r.StepLoss), want)
	}
	if last := r.StepLoss[len(r.StepLoss)-1]; last.Epoch != 3 || last.Step != 300 {
		t.Errorf("last step loss %+v, want epoch 3 step 300", last)
	}
}

func TestLossAndTimeListsPerEpochAndPerLoggedStep(t *testing.T) {
	r := syntheticRun(t, 4)
	lt := r.LossAndTime()
	if len(lt.TestAcc) != 4 || len(lt.TrainAcc) != 4 || len(lt.TrainTime) != 4 {
		t.Fatalf("lengths %d %d %d, want 4 each", len(lt.TestAcc), len(lt.TrainAcc),
			len(lt.TrainTime))
	}
	if len(lt.TrainLoss) != 12 {
		t.Fatalf("%d train_loss entries, want 12 (3 per epoch)", len(lt.TrainLoss))
	}
	if lt.TrainAcc[1] != 42 || lt.TestAcc[3] != 60 || !math.IsNaN(lt.TestAcc[2]) {
		t.Errorf("train_acc[1]=%v test_acc[3]=%v test_acc[2]=%v, want 42, 60, NaN",
			lt.TrainAcc[1], lt.TestAcc[3], lt.TestAcc[2])
	}
	e, step := 2.0, 100.0
	if want := 2.3/e + 0.1/step; lt.TrainLoss[3] != want {
		t.Errorf("train_loss[3] = %v, want %v (epoch 2, step 100)", lt.TrainLoss[3], want)
	}
	if want := 100 + 4.0/3; lt.TrainTime[3] != want {
		t.Errorf("train_time[3] = %v, want %v", lt.TrainTime[3], want)
	}
}
