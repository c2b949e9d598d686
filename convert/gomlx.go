package convert

import (
	"fmt"
	"os"

	"github.com/mocokit/mocokit/convert/torchfile"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/train"
)

// PthToGoMLX reads a PyTorch file as PthToONNX does and writes its network
// as a GoMLX checkpoint directory out (which must not exist), for `train
// baseline --init` to fine-tune or `train eval` to evaluate.
func PthToGoMLX(in, out string, opt Options) (*Report, error) {
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("output %s exists; name a new checkpoint directory", out)
	}
	ck, plan, err := loadPlan(in, opt)
	if err != nil {
		return nil, err
	}
	st := train.State{Kind: train.KindImported, Config: plan.Config, Metadata: plan.Meta}
	c := &train.Checkpoint{State: st, Weights: plan.Weights}
	if err := train.WriteCheckpoint(out, c); err != nil {
		return nil, err
	}
	return &Report{In: in, Out: out, Checkpoint: ck, Plan: plan}, nil
}

// GoMLXToPth writes the network of a GoMLX checkpoint (a checkpoint
// directory or a run directory, whose last checkpoint is used) as a
// PyTorch state_dict file, in torchvision's names, order and dtypes
// (num_batches_tracked as int64), which torchvision's resnet18 loads with
// load_state_dict(strict=True). The file is written atomically.
func GoMLXToPth(in, out string) (models.Config, error) {
	dir, err := train.ResolveCheckpoint(in)
	if err != nil {
		return models.Config{}, err
	}
	c, err := train.ReadCheckpoint(dir)
	if err != nil {
		return models.Config{}, err
	}
	cfg := c.State.Config
	var entries []torchfile.Entry
	for _, p := range cfg.Params() {
		t := c.Weights[p.Name]
		e := torchfile.Entry{Name: p.Name, Shape: p.Shape}
		if p.Kind == models.NumBatchesTracked {
			e.Int64 = []int64{int64(t.Data[0])}
		} else {
			e.Float32 = t.Data
		}
		entries = append(entries, e)
	}
	if err := torchfile.WriteStateDict(out, entries); err != nil {
		return models.Config{}, err
	}
	return cfg, nil
}
