// Package record keeps the history of a training run: one entry per epoch
// (loss, train and test top-1 accuracy, time, learning rate, and any extra
// metric such as MoCo's top-5 or kNN accuracy) and the loss logged every
// few steps. It writes the history as JSON that also carries the four keys
// of the PyTorch baseline's loss_and_time.json, reads either form back,
// draws the curves as a PNG, and reports the steps of an epoch as they run.
package record

import (
	"fmt"
	"math"
	"slices"
)

// Epoch is what one finished epoch measured. A metric that was not measured
// is NaN: TestAcc when the test set was skipped, say.
type Epoch struct {
	// Epoch numbers epochs from 1.
	Epoch int
	// Steps is the number of optimiser steps the epoch took; 0 if unknown.
	Steps int
	// LR is the learning rate the epoch trained with.
	LR float64
	// TrainLoss is the mean training loss over the epoch.
	TrainLoss float64
	// TrainAcc is the top-1 accuracy on the training batches, in percent.
	TrainAcc float64
	// TestAcc is the top-1 accuracy on the test set, in percent.
	TestAcc float64
	// Seconds is the epoch's wall-clock time.
	Seconds float64
	// Extra holds further per-epoch metrics by name ("acc5", "knn_acc").
	Extra map[string]float64
}

// StepLoss is the training loss logged during an epoch, usually the mean
// over the steps since the previous entry.
type StepLoss struct {
	// Epoch is the epoch the step belongs to, from 1.
	Epoch int
	// Step counts the epoch's steps from 1: the loss was logged after it.
	Step int
	// Loss is the logged value.
	Loss float64
}

// Record is the history of one training run. The zero value is an empty
// record ready to use.
type Record struct {
	// Name titles the plots ("resnet18 baseline"); it may be empty.
	Name string
	// Epochs holds the finished epochs in order.
	Epochs []Epoch
	// StepLoss holds the logged losses in order.
	StepLoss []StepLoss
}

// lastEpoch is the number of the newest finished epoch, 0 if none.
func (r *Record) lastEpoch() int {
	if len(r.Epochs) == 0 {
		return 0
	}
	return r.Epochs[len(r.Epochs)-1].Epoch
}

// AddEpoch appends a finished epoch. Epoch numbers must increase, so that a
// resumed run that repeats an epoch is caught rather than recorded twice.
func (r *Record) AddEpoch(e Epoch) error {
	if e.Epoch <= r.lastEpoch() {
		return fmt.Errorf("record: epoch %d after epoch %d", e.Epoch, r.lastEpoch())
	}
	if n := len(r.StepLoss); n > 0 && r.StepLoss[n-1].Epoch > e.Epoch {
		return fmt.Errorf("record: epoch %d after a step loss of epoch %d",
			e.Epoch, r.StepLoss[n-1].Epoch)
	}
	e.Extra = cloneExtra(e.Extra)
	r.Epochs = append(r.Epochs, e)
	return nil
}

// AddStepLoss appends a loss logged after step (counted from 1) of an epoch
// still running, that is, one after the newest finished epoch. Entries must
// move forward.
func (r *Record) AddStepLoss(epoch, step int, loss float64) error {
	if epoch < 1 || step < 1 {
		return fmt.Errorf("record: step loss at epoch %d step %d: both count from 1", epoch, step)
	}
	if epoch <= r.lastEpoch() {
		return fmt.Errorf("record: step loss of epoch %d after epoch %d finished",
			epoch, r.lastEpoch())
	}
	if n := len(r.StepLoss); n > 0 {
		last := r.StepLoss[n-1]
		if epoch < last.Epoch || epoch == last.Epoch && step <= last.Step {
			return fmt.Errorf("record: step loss at epoch %d step %d after epoch %d step %d",
				epoch, step, last.Epoch, last.Step)
		}
	}
	r.StepLoss = append(r.StepLoss, StepLoss{Epoch: epoch, Step: step, Loss: loss})
	return nil
}

// Truncate drops every epoch and step loss after epoch lastEpoch. A run
// resumed from the checkpoint of lastEpoch calls it first: a record written
// after that checkpoint would otherwise keep epochs the run is about to
// train again.
func (r *Record) Truncate(lastEpoch int) {
	r.Epochs = slices.DeleteFunc(r.Epochs, func(e Epoch) bool { return e.Epoch > lastEpoch })
	r.StepLoss = slices.DeleteFunc(r.StepLoss, func(s StepLoss) bool {
		return s.Epoch > lastEpoch
	})
}

// LossAndTime is the PyTorch baseline's loss_and_time.json: per-epoch
// accuracies and times, and the step losses, each as a flat list.
type LossAndTime struct {
	// TestAcc is the test top-1 accuracy per epoch, in percent.
	TestAcc []float64
	// TrainAcc is the training top-1 accuracy per epoch, in percent.
	TrainAcc []float64
	// TrainLoss is every logged step loss, in order.
	TrainLoss []float64
	// TrainTime is each epoch's time in seconds.
	TrainTime []float64
}

// LossAndTime returns the record in the baseline's four lists.
func (r *Record) LossAndTime() LossAndTime {
	var lt LossAndTime
	for _, e := range r.Epochs {
		lt.TestAcc = append(lt.TestAcc, e.TestAcc)
		lt.TrainAcc = append(lt.TrainAcc, e.TrainAcc)
		lt.TrainTime = append(lt.TrainTime, e.Seconds)
	}
	for _, s := range r.StepLoss {
		lt.TrainLoss = append(lt.TrainLoss, s.Loss)
	}
	return lt
}

// extraNames lists the Extra metrics any epoch carries, sorted.
func (r *Record) extraNames() []string {
	var names []string
	for _, e := range r.Epochs {
		for name := range e.Extra {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// cloneExtra copies m so that the caller may reuse its map.
func cloneExtra(m map[string]float64) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// isFinite reports whether x can be written as a JSON number.
func isFinite(x float64) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0)
}
