package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/loader"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/train/knn"
	"github.com/mocokit/mocokit/train/record"
)

// MoCoRun is one MoCo pretraining run. Labels of TrainSet are used only by
// the kNN monitor, never by training.
type MoCoRun struct {
	Options  MoCoOptions
	Out      string
	TrainSet *dataset.Dataset
	TestSet  *dataset.Dataset // nil: no kNN monitor
	Backend  backends.Backend
	Keep     int
	Workers  int
	Log      *slog.Logger
	Status   *os.File
	// SavePth also writes each epoch as main_moco.py's
	// checkpoint_NNNN.pth.tar, which main_lincls.py can load.
	SavePth bool
	OnStep  func(epoch, step int, loss float64)
	// ResumeEpochs, with Resume, trains to this many epochs instead of the
	// count the run was started with (0: that count).
	ResumeEpochs int

	moco    *MoCo
	state   State
	rec     *record.Record
	sampler *loader.Loader
}

// Start prepares a fresh run (w nil: torchvision's initialisation).
func (r *MoCoRun) Start(w models.Weights) error {
	o := r.Options
	if err := o.Validate(); err != nil {
		return err
	}
	if err := checkFreshRunDir(r.Out); err != nil {
		return err
	}
	cfg := o.Config()
	if w == nil {
		w = InitWeights(cfg, o.Seed)
	}
	opts, _ := json.Marshal(o)
	r.state = State{Kind: KindMoCo, Config: cfg, Options: opts, Metadata: r.metadata()}
	r.rec = &record.Record{Name: "resnet18 MoCo " + o.Preset}
	m, err := NewMoCo(r.Backend, cfg, w, o.MoCo(), r.sgd(), nil, o.Seed)
	if err != nil {
		return err
	}
	r.moco = m
	return r.setup()
}

// Resume continues the MoCo run whose checkpoint is at dir.
func (r *MoCoRun) Resume(dir string) error {
	c, rec, err := openResume(dir, r.Out, KindMoCo, &r.Options, r.Log)
	if err != nil {
		return err
	}
	if c.Key == nil || c.Queue == nil {
		return fmt.Errorf("train: %s lacks MoCo's key encoder or queue", dir)
	}
	if r.ResumeEpochs > 0 {
		r.Options.Epochs = r.ResumeEpochs
	}
	r.state, r.rec = c.State, rec
	m, err := NewMoCo(r.Backend, c.State.Config, c.Weights, r.Options.MoCo(), r.sgd(),
		c.Queue, r.Options.Seed)
	if err != nil {
		return err
	}
	if err := m.SetKey(c.Key); err != nil {
		return err
	}
	if err := m.q.SetMomentum(c.Momentum); err != nil {
		return err
	}
	m.SetQueuePtr(c.State.QueuePtr)
	m.steps = c.State.Step
	r.moco = m
	return r.setup()
}

func (r *MoCoRun) sgd() SGD {
	return SGD{Momentum: r.Options.Momentum, WeightDecay: r.Options.WeightDecay}
}

func (r *MoCoRun) metadata() models.Metadata {
	o := r.Options
	return models.Metadata{Arch: "resnet18", Stem: o.Stem, Head: o.Config().Head,
		Output:     "embedding",
		Source:     "mocokit train moco --preset " + o.Preset,
		Preprocess: models.Preprocess{InputSize: o.Size, Mean: o.Mean, Std: o.Std}}
}

func (r *MoCoRun) setup() error {
	o := r.Options
	var err error
	r.sampler, err = loader.New(r.TrainSet, loader.Config{BatchSize: o.BatchSize,
		Shuffle: true, DropLast: true, Seed: o.Seed, Transform: o.Augmentation(), Views: 2,
		Mean: o.Mean, Std: o.Std, Size: o.Size, Workers: r.Workers})
	if err != nil {
		return fmt.Errorf("train: training data: %w", err)
	}
	return os.MkdirAll(r.Out, 0o755)
}

// Train runs the remaining epochs.
func (r *MoCoRun) Train(ctx context.Context) error {
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
	}
	return nil
}

func (r *MoCoRun) epoch(ctx context.Context, epoch int, lr float64) (record.Epoch, error) {
	start := time.Now()
	steps := r.sampler.StepsPerEpoch()
	if c := r.Options.StepsPerEpoch; c > 0 {
		steps = min(steps, c)
	}
	prog := record.NewProgress(r.Status, r.Log, epoch+1, steps)
	var sum float64
	var top1, top5, queries, step int
	for b, err := range r.sampler.Epoch(ctx, epoch) {
		if err != nil {
			return record.Epoch{}, fmt.Errorf("train: epoch %d: %w", epoch+1, err)
		}
		res, err := r.moco.Step(b.Views[0], b.Views[1], b.Size, lr)
		if err != nil {
			return record.Epoch{}, err
		}
		if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
			return record.Epoch{}, fmt.Errorf("train: loss became %v at epoch %d step %d",
				res.Loss, epoch+1, step+1)
		}
		step++
		if r.OnStep != nil {
			r.OnStep(epoch+1, step, res.Loss)
		}
		sum += res.Loss
		top1, top5, queries = top1+res.Top1, top5+res.Top5, queries+res.Queries
		prog.Step(res.Loss, 100*float64(res.Top1)/float64(res.Queries), len(b.Labels))
		if step == steps {
			break
		}
	}
	prog.Done()
	if step == 0 {
		return record.Epoch{}, errors.New("train: the training set gave no whole batch")
	}
	r.state.Step += step
	return record.Epoch{Epoch: epoch + 1, Steps: step, LR: lr, TrainLoss: sum / float64(step),
		TrainAcc: 100 * float64(top1) / float64(queries), TestAcc: math.NaN(),
		Extra:   map[string]float64{"acc5": 100 * float64(top5) / float64(queries)},
		Seconds: time.Since(start).Seconds()}, ctx.Err()
}

func (r *MoCoRun) finishEpoch(e record.Epoch) error {
	o := r.Options
	if r.TestSet != nil && o.KNNEvery > 0 && (e.Epoch%o.KNNEvery == 0 || e.Epoch == o.Epochs) {
		acc, err := r.KNNAccuracy()
		if err != nil {
			return err
		}
		e.TestAcc = acc
		e.Extra["knn_acc"] = acc
	}
	if err := r.rec.AddEpoch(e); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.state.Epoch, r.state.QueuePtr = e.Epoch, r.moco.QueuePtr()
	isBest := math.IsNaN(e.TestAcc) && r.state.BestEpoch == 0 || e.TestAcc > r.state.BestAcc
	if isBest {
		r.state.BestEpoch = e.Epoch
		if !math.IsNaN(e.TestAcc) {
			r.state.BestAcc = e.TestAcc
		}
	}
	r.Log.Info("epoch done", "epoch", e.Epoch, "lr", e.LR, "loss", e.TrainLoss,
		"acc1", e.TrainAcc, "acc5", e.Extra["acc5"], "knn_acc", e.TestAcc, "seconds", e.Seconds)
	c, err := r.checkpoint()
	if err != nil {
		return err
	}
	if err := saveEpoch(r.Out, c, isBest, r.Keep); err != nil {
		return err
	}
	if r.SavePth {
		path := filepath.Join(r.Out, fmt.Sprintf("checkpoint_%04d.pth.tar", e.Epoch-1))
		if err := WriteMoCoPth(path, c, o); err != nil {
			return err
		}
	}
	return writeRecord(r.Out, r.rec)
}

func (r *MoCoRun) checkpoint() (*Checkpoint, error) {
	q, err := r.moco.q.Weights()
	if err != nil {
		return nil, err
	}
	mom, err := r.moco.q.Momentum()
	if err != nil {
		return nil, err
	}
	k, err := r.moco.k.Weights()
	if err != nil {
		return nil, err
	}
	return &Checkpoint{State: r.state, Weights: q, Momentum: mom, Key: k,
		Queue: r.moco.Queue()}, nil
}

// KNNAccuracy is the weighted kNN monitor's top-1 accuracy in percent:
// the query encoder's normalised embeddings of (a spread subset of) the
// training set vote for the test images' classes.
func (r *MoCoRun) KNNAccuracy() (float64, error) {
	o := r.Options
	bank, bankLabels, err := r.embedAll(subset(r.TrainSet, o.KNNBank))
	if err != nil {
		return 0, err
	}
	test, testLabels, err := r.embedAll(subset(r.TestSet, o.TestImages))
	if err != nil {
		return 0, err
	}
	cfg := knn.Config{K: o.KNNK, Temperature: o.KNNT, Classes: len(r.TrainSet.Classes)}
	return knn.Accuracy(r.Backend, cfg, bank, bankLabels, test, testLabels, o.Dim)
}

func (r *MoCoRun) embedAll(ds *dataset.Dataset) ([]float32, []int32, error) {
	o := r.Options
	l, err := loader.New(ds, loader.Config{BatchSize: 250, Views: 1, Mean: o.Mean,
		Std: o.Std, Size: o.Size, Transform: resizeTo(o.Size, ds), Workers: r.Workers})
	if err != nil {
		return nil, nil, fmt.Errorf("train: kNN data: %w", err)
	}
	var feats []float32
	var labels []int32
	for b, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			return nil, nil, fmt.Errorf("train: kNN data: %w", err)
		}
		f, err := r.moco.Embed(b.Views[0], b.Size)
		if err != nil {
			return nil, nil, err
		}
		feats, labels = append(feats, f...), append(labels, b.Labels...)
	}
	return feats, labels, nil
}

// Record is the run's history so far.
func (r *MoCoRun) Record() *record.Record { return r.rec }

// State is the run's progress.
func (r *MoCoRun) State() State { return r.state }
