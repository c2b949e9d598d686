package torchfile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/pickle"
)

// randomResNet18 returns a torchvision resnet18(num_classes=10) state_dict
// with seeded random values: positive running variances, and batch
// counters beyond 32 bits so that their int64 type matters.
func randomResNet18(seed uint64) []Entry {
	rng := rand.New(rand.NewPCG(seed, 1))
	var entries []Entry
	for i, p := range models.ResNet18(models.StemImageNet, 10).Params() {
		e := Entry{Name: p.Name, Shape: p.Shape}
		if p.Kind == models.NumBatchesTracked {
			e.Int64 = []int64{1<<33 + int64(i)}
			entries = append(entries, e)
			continue
		}
		e.Float32 = make([]float32, p.Size())
		for j := range e.Float32 {
			e.Float32[j] = float32(rng.NormFloat64())
			if p.Kind == models.RunningVar {
				e.Float32[j] = float32(rng.Float64() + 0.5)
			}
		}
		entries = append(entries, e)
	}
	return entries
}

// writeReference writes what Python compares the loaded tensors with: the
// float32 values of all entries in order (little-endian) and, as JSON,
// the names, shapes and int64 values.
func writeReference(t *testing.T, dir string, entries []Entry) (raw, meta string) {
	t.Helper()
	type row struct {
		Name  string  `json:"name"`
		Shape []int   `json:"shape"`
		Int64 []int64 `json:"int64,omitempty"`
	}
	var rows []row
	var b []byte
	for _, e := range entries {
		rows = append(rows, row{Name: e.Name, Shape: append([]int{}, e.Shape...), Int64: e.Int64})
		for _, v := range e.Float32 {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	raw, meta = filepath.Join(dir, "values.f32"), filepath.Join(dir, "meta.json")
	if err := os.WriteFile(raw, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meta, js, 0o644); err != nil {
		t.Fatal(err)
	}
	return raw, meta
}

// loadInTorchvision has torch.load read the file (a .pth state_dict with
// the restricted unpickler of weights_only), torchvision's resnet18 take it with
// strict=True, and reports for every tensor of the loaded model its dtype,
// shape and whether its bits equal the reference.
const loadInTorchvision = `
import collections, json, sys
import numpy as np, torch, torchvision
path, raw, meta = sys.argv[1:4]
meta = json.load(open(meta))
# torch 1.13's weights_only unpickler rejects floats (BINFLOAT), in the
# files torch.save writes as well, so only a plain state_dict can use it.
ckpt = torch.load(path, weights_only=True) if path.endswith(".pth") else torch.load(path)
sd = ckpt["state_dict"] if "state_dict" in ckpt else ckpt
assert type(sd) is collections.OrderedDict, type(sd)
assert list(sd) == [m["name"] for m in meta], "key order differs"
model = torchvision.models.resnet18(num_classes=10)
model.load_state_dict(sd, strict=True)
values = np.fromfile(raw, dtype="<u4")
off, rows = 0, []
for m in meta:
    t = model.state_dict()[m["name"]]
    if "int64" in m:
        equal = t.reshape(-1).tolist() == m["int64"]
    else:
        n = t.numel()
        equal = bool((t.numpy().reshape(-1).view("<u4") == values[off:off + n]).all())
        off += n
    rows.append({"name": m["name"], "dtype": str(t.dtype), "shape": list(t.shape),
                 "equal": equal})
assert off == len(values), (off, len(values))
extra = {k: ckpt[k] for k in ckpt if k != "state_dict"} if "state_dict" in ckpt else {}
json.dump({"tensors": rows, "extra": extra}, sys.stdout)
`

type torchReport struct {
	Tensors []struct {
		Name  string
		DType string
		Shape []int
		Equal bool
	}
	Extra map[string]any
}

// loadWithTorch runs loadInTorchvision on path against entries.
func loadWithTorch(t *testing.T, path string, entries []Entry) torchReport {
	t.Helper()
	raw, meta := writeReference(t, t.TempDir(), entries)
	cmd := exec.Command(python, "-c", loadInTorchvision, path, raw, meta)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("python: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var rep torchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	if len(rep.Tensors) != len(entries) {
		t.Fatalf("python compared %d tensors, want %d", len(rep.Tensors), len(entries))
	}
	for i, r := range rep.Tensors {
		e := entries[i]
		dtype := "torch.float32"
		if e.Int64 != nil {
			dtype = "torch.int64"
		}
		if r.Name != e.Name || r.DType != dtype || fmt.Sprint(r.Shape) != fmt.Sprint(e.Shape) ||
			!r.Equal {
			t.Errorf("torch loaded %s %s %v equal=%v, want %s %s %v with equal values",
				r.Name, r.DType, r.Shape, r.Equal, e.Name, dtype, e.Shape)
		}
	}
	return rep
}

func TestWriteStateDictLoadsIntoTorchvisionResNet18(t *testing.T) {
	havePyTorch(t)
	entries := randomResNet18(7)
	path := filepath.Join(t.TempDir(), "resnet18.pth")
	if err := WriteStateDict(path, entries); err != nil {
		t.Fatal(err)
	}
	if n := len(loadWithTorch(t, path, entries).Tensors); n != 122 {
		t.Errorf("resnet18 has %d state_dict tensors, want 122", n)
	}
	checkTensors(t, readBack(t, path), entries)
}

// checkpointEntries are the keys of a main_lincls.py style checkpoint,
// with an optimizer state nested in dicts and lists.
func checkpointEntries(sd []Entry) []TopEntry {
	group := pickle.NewDict()
	group.Set("lr", 0.1)
	group.Set("momentum", 0.9)
	group.Set("nesterov", false)
	group.Set("params", &pickle.List{Items: []any{0, 1}})
	optimizer := pickle.NewDict()
	optimizer.Set("state", pickle.NewDict())
	optimizer.Set("param_groups", &pickle.List{Items: []any{group}})
	return []TopEntry{
		{Key: "epoch", Value: 100},
		{Key: "arch", Value: "resnet18"},
		{Key: "state_dict", Value: Tensors(sd)},
		{Key: "best_acc1", Value: 91.25},
		{Key: "optimizer", Value: optimizer},
	}
}

func TestWriteCheckpointIsReadByTorchAndReader(t *testing.T) {
	entries := randomResNet18(11)
	path := filepath.Join(t.TempDir(), "model_best.pth.tar")
	if err := WriteCheckpoint(path, checkpointEntries(entries)...); err != nil {
		t.Fatal(err)
	}

	v, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := v.(*pickle.Dict)
	if k := fmt.Sprint(d.Keys()); k != "[epoch arch state_dict best_acc1 optimizer]" {
		t.Errorf("checkpoint keys %s", k)
	}
	epoch, _ := d.Get("epoch")
	arch, _ := d.Get("arch")
	best, _ := d.Get("best_acc1")
	if epoch != int64(100) || arch != "resnet18" || best != 91.25 {
		t.Errorf("epoch %v arch %v best_acc1 %v", epoch, arch, best)
	}
	sd, _ := d.Get("state_dict")
	named, err := StateDict(sd)
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, named, entries)

	havePyTorch(t)
	extra := loadWithTorch(t, path, entries).Extra
	want := `map[arch:resnet18 best_acc1:91.25 epoch:100 optimizer:map[param_groups:` +
		`[map[lr:0.1 momentum:0.9 nesterov:false params:[0 1]]] state:map[]]]`
	if got := fmt.Sprint(extra); got != want {
		t.Errorf("torch read the other keys as %s, want %s", got, want)
	}
}

func TestWriteCheckpointRefusesUnknownValues(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.pth")
	loop := &pickle.List{}
	loop.Items = append(loop.Items, loop)
	for _, c := range []struct {
		top  []TopEntry
		want string
	}{
		{[]TopEntry{{Key: "lr", Value: float32(0.1)}}, `"lr": cannot write a Go float32`},
		{[]TopEntry{{Key: "a", Value: 1}, {Key: "a", Value: 2}}, `key "a" appears twice`},
		{[]TopEntry{{Key: "loop", Value: loop}}, "nested deeper than"},
		{[]TopEntry{{Key: "q", Value: Entry{Name: "queue", Shape: []int{2}}}},
			`tensor "queue" of shape [2] needs 2 values, has 0`},
	} {
		err := WriteCheckpoint(path, c.top...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
	assertOnlyFiles(t, dir)
}
