package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"

	"github.com/mocokit/mocokit/models"
)

// A checkpoint is a directory holding one GoMLX checkpoint (the files
// GoMLX's checkpoints package writes and loads: the network's state_dict
// under the scope /model, the SGD momentum under /sgd, and for MoCo the key
// encoder under /key and the queue as /moco/queue, each variable named as
// in torchvision) and mocokit.json, the trainer's State.
const (
	stateFile    = "mocokit.json"
	modelScope   = "/model"
	sgdScope     = "/sgd"
	keyScope     = "/key"
	mocoScope    = "/moco"
	stateVersion = 1
)

// State is the part of a checkpoint that is not a tensor.
type State struct {
	Version   int             `json:"version"`
	Kind      string          `json:"kind"` // KindBaseline, KindMoCo, KindLinCls, KindImported
	Config    models.Config   `json:"config"`
	Metadata  models.Metadata `json:"metadata"`
	Options   json.RawMessage `json:"options,omitempty"`
	Epoch     int             `json:"epoch"` // completed epochs
	Step      int             `json:"step"`  // completed SGD steps
	BestAcc   float64         `json:"best_acc"`
	BestEpoch int             `json:"best_epoch"`
	QueuePtr  int             `json:"queue_ptr,omitempty"` // MoCo: where the next keys go
}

// Checkpoint is a State with its tensors.
type Checkpoint struct {
	State    State
	Weights  models.Weights
	Momentum models.Weights // nil when the checkpoint carries none
	Key      models.Weights // MoCo's key encoder, else nil
	Queue    *models.Tensor // MoCo's queue [K, dim], else nil
}

// WriteCheckpoint writes c as the checkpoint directory dir, which must not
// exist. It writes into a temporary sibling and renames it into place, so
// dir either holds a whole checkpoint or does not exist.
func WriteCheckpoint(dir string, c *Checkpoint) error {
	if err := c.State.Config.Check(c.Weights); err != nil {
		return fmt.Errorf("train: checkpoint weights: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	// MkdirTemp makes the directory private; a checkpoint is an ordinary one.
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := writeCheckpointFiles(tmp, c); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := syncTree(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	return nil
}

func writeCheckpointFiles(dir string, c *Checkpoint) error {
	ctx := context.New()
	addVariables(ctx.InAbsPath(modelScope), c.Weights)
	addVariables(ctx.InAbsPath(sgdScope), c.Momentum)
	addVariables(ctx.InAbsPath(keyScope), c.Key)
	if c.Queue != nil {
		addVariables(ctx.InAbsPath(mocoScope), models.Weights{"queue": c.Queue})
	}
	h, err := checkpoints.Build(ctx).Dir(dir).Done()
	if err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	st := c.State
	st.Version = stateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("train: checkpoint state: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, stateFile), append(b, '\n'), 0o644)
}

func addVariables(ctx *context.Context, w models.Weights) {
	for name, t := range w {
		ctx.VariableWithValue(name, toTensor(t))
	}
}

// ReadCheckpoint reads a checkpoint directory written by WriteCheckpoint
// (or a GoMLX checkpoint directory with a mocokit.json beside it).
func ReadCheckpoint(dir string) (*Checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("train: %s is not a mocokit checkpoint: %w", dir, err)
	}
	c := &Checkpoint{}
	if err := json.Unmarshal(b, &c.State); err != nil {
		return nil, fmt.Errorf("train: %s: %w", filepath.Join(dir, stateFile), err)
	}
	if c.State.Version != stateVersion {
		return nil, fmt.Errorf("train: %s: checkpoint version %d, this mocokit reads %d",
			dir, c.State.Version, stateVersion)
	}
	ctx := context.New()
	h, err := checkpoints.Load(ctx).Dir(dir).Done()
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	scopes, err := splitVariables(h.LoadedVariables())
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	c.Weights, c.Momentum, c.Key = scopes[modelScope], scopes[sgdScope], scopes[keyScope]
	c.Queue = scopes[mocoScope]["queue"]
	if c.Weights == nil {
		c.Weights = models.Weights{}
	}
	if err := c.State.Config.Check(c.Weights); err != nil {
		return nil, fmt.Errorf("train: checkpoint %s: %w", dir, err)
	}
	return c, nil
}

// splitVariables groups a checkpoint's variables by scope.
func splitVariables(vars map[string]*tensors.Tensor) (map[string]models.Weights, error) {
	out := map[string]models.Weights{}
	for key, t := range vars {
		scope, name := splitKey(key)
		switch scope {
		case modelScope, sgdScope, keyScope, mocoScope:
		default:
			continue // GoMLX's own bookkeeping, such as the global step
		}
		data, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", key, err)
		}
		if out[scope] == nil {
			out[scope] = models.Weights{}
		}
		out[scope][name] = &models.Tensor{Shape: t.Shape().Dimensions, Data: data}
	}
	return out, nil
}

// splitKey undoes context.VariableParameterNameFromScopeAndName.
func splitKey(key string) (scope, name string) {
	key = strings.TrimPrefix(key, context.VariableParameterPrefix)
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	if i == 0 {
		return "/", key[1:]
	}
	return key[:i], key[i+1:]
}

func syncTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("train: checkpoint: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("train: checkpoint: %w", err)
		}
	}
	return nil
}

// Checkpoint kinds: a training run's epoch, or weights brought in from
// another framework (no optimiser state, no run to resume).
const (
	KindBaseline = "baseline"
	KindMoCo     = "moco"
	KindLinCls   = "lincls"
	KindImported = "imported"
)
