package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/mocokit/mocokit/augment"
	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/loader"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/train/record"
)

// stepLossEvery is how often the record logs the training loss, as the
// original baseline's loss_and_time.json did.
const stepLossEvery = 200

// Run is one supervised training run.
type Run struct {
	Options  Options
	Out      string // run directory
	TrainSet *dataset.Dataset
	TestSet  *dataset.Dataset // nil: no test accuracy
	Backend  backends.Backend
	Keep     int // epoch checkpoints kept besides best (0: all)
	Workers  int // data loader workers (0: all cores)
	Log      *slog.Logger
	Status   *os.File // progress bar when a terminal; nil for log lines only
	// OnStep, when set, sees the loss of every step (epoch and step from 1).
	OnStep func(epoch, step int, loss float64)
	// ResumeEpochs, with Resume, trains to this many epochs instead of the
	// count the run was started with (0: that count).
	ResumeEpochs int
	// Probe runs the linear classification protocol: the encoder of the
	// starting weights is frozen (batch norm in evaluation mode) and only a
	// new fc, initialised N(0, 0.01) with zero bias, learns.
	Probe bool

	net     *Network
	frozen  models.Weights // the encoder a probe must leave as it found it
	state   State
	rec     *record.Record
	sampler *loader.Loader
	tester  *loader.Loader
}

// Start prepares a fresh run from initial weights (nil: torchvision's
// initialisation from the seed).
func (r *Run) Start(w models.Weights) error {
	if err := r.Options.Validate(); err != nil {
		return err
	}
	if err := checkFreshRunDir(r.Out); err != nil {
		return err
	}
	cfg := models.ResNet18(r.Options.Stem, len(r.TrainSet.Classes))
	kind := KindBaseline
	if r.Probe {
		kind = KindLinCls
		if w = probeWeights(cfg, w, r.Options.Seed); w == nil {
			return fmt.Errorf("train: the linear probe needs pretrained encoder weights")
		}
	}
	if r.Probe {
		if err := cfg.Check(w); err != nil {
			return fmt.Errorf("train: the pretrained encoder does not fit a %s-stem "+
				"ResNet-18: %w", cfg.Stem, err)
		}
	}
	w = r.initialWeights(cfg, w)
	opts, _ := json.Marshal(r.Options)
	r.state = State{Kind: kind, Config: cfg, Options: opts, Metadata: r.metadata()}
	r.rec = &record.Record{Name: "resnet18 " + r.Options.Preset}
	return r.setup(w, nil)
}

// Resume continues the run whose checkpoint is at dir (or a run directory's
// last checkpoint), with the options it was started with.
func (r *Run) Resume(dir string) error {
	c, rec, err := openResume(dir, r.Out, r.kind(), &r.Options, r.Log)
	if err != nil {
		return err
	}
	if err := sameClasses(c, r.TrainSet.Classes); err != nil {
		return fmt.Errorf("train: resuming %s: %w", dir, err)
	}
	if r.ResumeEpochs > 0 {
		r.Options.Epochs = r.ResumeEpochs
	}
	r.state, r.rec = c.State, rec
	return r.setup(c.Weights, c.Momentum)
}

// initialWeights takes every tensor of from that fits cfg and initialises
// the rest (a new fc when fine-tuning an encoder on other classes).
func (r *Run) initialWeights(cfg models.Config, from models.Weights) models.Weights {
	w := InitWeights(cfg, r.Options.Seed)
	if from == nil {
		return w
	}
	var fresh []string
	for _, p := range cfg.Params() {
		t, ok := from[p.Name]
		if ok && slices.Equal(t.Shape, p.Shape) {
			w[p.Name] = t
		} else if p.Kind != models.NumBatchesTracked {
			fresh = append(fresh, p.Name)
		}
	}
	if len(fresh) > 0 {
		r.Log.Info("initialised tensors the starting weights lack", "tensors", fresh)
	}
	return w
}

func (r *Run) setup(w, momentum models.Weights) error {
	o := r.Options
	opt := SGD{Momentum: o.Momentum, WeightDecay: o.WeightDecay, Nesterov: o.Nesterov}
	newNet := NewNetwork
	if r.Probe {
		newNet = NewLinearProbe
		r.frozen = encoderOf(w)
	}
	net, err := newNet(r.Backend, r.state.Config, w, opt)
	if err != nil {
		return err
	}
	if momentum != nil {
		if err := net.SetMomentum(momentum); err != nil {
			return err
		}
	}
	r.net = net
	size := o.InputSize()
	r.sampler, err = loader.New(r.TrainSet, loader.Config{BatchSize: o.BatchSize,
		Shuffle: true, Seed: o.Seed, Views: 1,
		Transform: then(resizeTo(size, r.TrainSet), trainTransform(o.Augment, size)),
		Mean:      o.Mean, Std: o.Std, Size: size, Workers: r.Workers})
	if err != nil {
		return fmt.Errorf("train: training data: %w", err)
	}
	if r.TestSet != nil {
		test := subset(r.TestSet, o.TestImages)
		r.tester, err = loader.New(test, loader.Config{BatchSize: 250, Views: 1,
			Mean: o.Mean, Std: o.Std, Size: size, Workers: r.Workers,
			Transform: resizeTo(size, test)})
		if err != nil {
			return fmt.Errorf("train: test data: %w", err)
		}
	}
	return os.MkdirAll(r.Out, 0o755)
}

// then composes two transforms either of which may be nil.
func then(first, second augment.Transform) augment.Transform {
	switch {
	case first == nil:
		return second
	case second == nil:
		return first
	}
	return augment.Compose(first, second)
}

func trainTransform(kind string, size int) augment.Transform {
	switch kind {
	case "crop-flip":
		return augment.Compose(augment.RandomCrop(size, 4), augment.RandomHorizontalFlip(0.5))
	case "rrc-flip":
		return augment.Compose(augment.RandomResizedCrop(size, 0.08, 1, 3.0/4, 4.0/3),
			augment.RandomHorizontalFlip(0.5))
	}
	return nil
}

// subset keeps n images spread evenly over ds (all when n is 0), so that a
// capped evaluation still sees every class of a class-sorted test set.
func subset(ds *dataset.Dataset, n int) *dataset.Dataset {
	if n <= 0 || n >= len(ds.Samples) {
		return ds
	}
	out := &dataset.Dataset{Classes: ds.Classes, Samples: make([]dataset.Sample, n)}
	for i := range n {
		out.Samples[i] = ds.Samples[i*len(ds.Samples)/n]
	}
	return out
}

func (r *Run) metadata() models.Metadata {
	o := r.Options
	return models.Metadata{Arch: "resnet18", Stem: o.Stem, Head: models.HeadClassifier,
		Output:  "logits",
		Classes: r.TrainSet.Classes, Source: "mocokit train " + r.command() + " --preset " +
			o.Preset,
		Preprocess: models.Preprocess{InputSize: o.InputSize(), Mean: o.Mean, Std: o.Std}}
}

// Train runs the remaining epochs. It returns after the last epoch, after
// the early-stopping accuracy is reached, or when ctx is cancelled (the
// last finished epoch is then the newest checkpoint).
func (r *Run) Train(ctx context.Context) error {
	sched, _ := ParseSchedule(r.Options.Schedule)
	for epoch := r.state.Epoch; epoch < r.Options.Epochs; epoch++ {
		lr := sched.LR(r.Options.LR, epoch, r.Options.Epochs)
		e, err := r.epoch(ctx, epoch, lr)
		if err != nil {
			return err
		}
		if err := r.finishEpoch(e); err != nil {
			return err
		}
		if stop := r.Options.StopAtTrainAcc; stop > 0 && e.TrainAcc > stop {
			r.Log.Info("training accuracy reached the stopping point",
				"train_acc", e.TrainAcc, "stop_at", stop)
			break
		}
	}
	return r.checkFrozen()
}

func (r *Run) epoch(ctx context.Context, epoch int, lr float64) (record.Epoch, error) {
	start := time.Now()
	steps := r.sampler.StepsPerEpoch()
	if c := r.Options.StepsPerEpoch; c > 0 {
		steps = min(steps, c)
	}
	prog := record.NewProgress(r.Status, r.Log, epoch+1, steps)
	var sum, window float64
	var correct, seen, step int
	for b, err := range r.sampler.Epoch(ctx, epoch) {
		if err != nil {
			return record.Epoch{}, fmt.Errorf("train: epoch %d: %w", epoch+1, err)
		}
		res, err := r.net.Step(Batch{Images: b.Views[0], Labels: b.Labels, Size: b.Size}, lr)
		if err != nil {
			return record.Epoch{}, err
		}
		if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
			return record.Epoch{}, fmt.Errorf("train: loss became %v at epoch %d step %d "+
				"(learning rate %g too high?)", res.Loss, epoch+1, step+1, lr)
		}
		step++
		if r.OnStep != nil {
			r.OnStep(epoch+1, step, res.Loss)
		}
		sum, window = sum+res.Loss, window+res.Loss
		correct, seen = correct+res.Correct, seen+len(b.Labels)
		prog.Step(res.Loss, 100*float64(res.Correct)/float64(len(b.Labels)), len(b.Labels))
		if step%stepLossEvery == 0 {
			if err := r.rec.AddStepLoss(epoch+1, step, window/stepLossEvery); err != nil {
				return record.Epoch{}, fmt.Errorf("train: %w", err)
			}
			window = 0
		}
		if step == steps {
			break
		}
	}
	prog.Done()
	if step == 0 {
		return record.Epoch{}, errors.New("train: the training set gave no batch")
	}
	r.state.Step += step
	return record.Epoch{Epoch: epoch + 1, Steps: step, LR: lr, TrainLoss: sum / float64(step),
		TrainAcc: 100 * float64(correct) / float64(seen), TestAcc: math.NaN(),
		Seconds: time.Since(start).Seconds()}, ctx.Err()
}

func (r *Run) finishEpoch(e record.Epoch) error {
	if r.tester != nil {
		acc, err := r.testAccuracy()
		if err != nil {
			return err
		}
		e.TestAcc = acc
	}
	if err := r.rec.AddEpoch(e); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.state.Epoch = e.Epoch
	isBest := r.tester != nil && e.TestAcc > r.state.BestAcc
	if isBest || r.tester == nil {
		r.state.BestAcc, r.state.BestEpoch = e.TestAcc, e.Epoch
		isBest = true
	}
	r.Log.Info("epoch done", "epoch", e.Epoch, "lr", e.LR, "train_loss", e.TrainLoss,
		"train_acc", e.TrainAcc, "test_acc", e.TestAcc, "seconds", e.Seconds)
	if err := r.checkpoint(isBest); err != nil {
		return err
	}
	return writeRecord(r.Out, r.rec)
}

func (r *Run) checkpoint(isBest bool) error {
	w, err := r.net.Weights()
	if err != nil {
		return err
	}
	mom, err := r.net.Momentum()
	if err != nil {
		return err
	}
	c := &Checkpoint{State: r.state, Weights: w, Momentum: mom}
	return saveEpoch(r.Out, c, isBest, r.Keep)
}

// testAccuracy is the top-1 accuracy in percent on the test set.
func (r *Run) testAccuracy() (float64, error) { return accuracy(r.net, r.tester) }

func countCorrect(logits []float32, labels []int32) int {
	k := len(logits) / len(labels)
	n := 0
	for i, y := range labels {
		row := logits[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == int(y) {
			n++
		}
	}
	return n
}

// Network is the network being trained.
func (r *Run) Network() *Network { return r.net }

// Record is the run's history so far.
func (r *Run) Record() *record.Record { return r.rec }

// State is the run's progress as its next checkpoint would record it.
func (r *Run) State() State { return r.state }
