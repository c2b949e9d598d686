package torchfile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

const python = "/usr/bin/python3"

// havePyTorch skips the test when the reference PyTorch is not installed.
func havePyTorch(t testing.TB) {
	t.Helper()
	if err := exec.Command(python, "-c", "import torch, torchvision").Run(); err != nil {
		testenv.Missing(t, "%s cannot import torch and torchvision: %v", python, err)
	}
}

// TestReadWholeResNet18 reads torch.save(torchvision resnet18()) in both
// formats and compares every state_dict tensor with PyTorch's values.
func TestReadWholeResNet18(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 45 MB model with PyTorch")
	}
	havePyTorch(t)
	dir := t.TempDir()
	cmd := exec.Command(python, "testdata/make_fixtures.py", "--resnet", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_fixtures.py: %v\n%s", err, out)
	}
	var meta []struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "resnet18.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "resnet18.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"resnet18.pt", "resnet18_legacy.pt"} {
		v, err := ReadFile(filepath.Join(dir, file), nil)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := StateDict(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(sd) != len(meta) {
			t.Fatalf("%s: %d tensors, want %d", file, len(sd), len(meta))
		}
		off := 0
		for i, n := range sd {
			if n.Name != meta[i].Name || fmt.Sprint(n.Tensor.Shape) != fmt.Sprint(meta[i].Shape) {
				t.Fatalf("%s: tensor %d is %s %v, want %s %v", file, i, n.Name,
					n.Tensor.Shape, meta[i].Name, meta[i].Shape)
			}
			got, err := n.Tensor.Float32()
			if err != nil {
				t.Fatal(err)
			}
			for j, g := range got {
				w := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(off+j):]))
				if g != w {
					t.Fatalf("%s: %s[%d] = %v, want %v", file, n.Name, j, g, w)
				}
			}
			off += len(got)
		}
		if 4*off != len(raw) {
			t.Fatalf("%s: compared %d values of %d", file, off, len(raw)/4)
		}
	}
}
