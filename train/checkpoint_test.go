package train

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mocokit/mocokit/models"
)

func TestCheckpointRoundTrip(t *testing.T) {
	cfg := models.ResNet18(models.StemCIFAR, 10)
	w := InitWeights(cfg, 3)
	w["bn1.num_batches_tracked"].Data[0] = 17
	mom := models.Weights{}
	for _, p := range cfg.Params() {
		if p.Trainable() {
			mom[p.Name] = w[p.Name]
		}
	}
	dir := filepath.Join(t.TempDir(), "epoch-0001")
	st := State{Kind: "baseline", Config: cfg, Epoch: 1, Step: 390, BestAcc: 41.5}
	if err := WriteCheckpoint(dir, &Checkpoint{State: st, Weights: w, Momentum: mom}); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Step != 390 || c.State.Epoch != 1 || c.State.Config != cfg {
		t.Errorf("state = %+v", c.State)
	}
	for name, want := range w {
		if got := c.Weights[name]; got == nil || !slices.Equal(got.Data, want.Data) {
			t.Fatalf("weight %s not restored", name)
		}
	}
	if len(c.Momentum) != len(mom) || !slices.Equal(c.Momentum["fc.bias"].Data, mom["fc.bias"].Data) {
		t.Errorf("momentum: %d tensors restored, want %d", len(c.Momentum), len(mom))
	}
	if err := WriteCheckpoint(dir, &Checkpoint{State: st, Weights: w}); err == nil {
		t.Error("overwriting an existing checkpoint succeeded")
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("left %d entries beside the checkpoint, want none", len(entries)-1)
	}
}

func TestCheckpointRejectsWrongWeights(t *testing.T) {
	cfg := models.ResNet18(models.StemCIFAR, 10)
	w := InitWeights(cfg, 3)
	delete(w, "fc.bias")
	dir := filepath.Join(t.TempDir(), "c")
	err := WriteCheckpoint(dir, &Checkpoint{State: State{Config: cfg}, Weights: w})
	if err == nil {
		t.Fatal("a checkpoint without fc.bias was written")
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("failed write left %s behind", dir)
	}
}
