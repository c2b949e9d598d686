package main

import (
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/export"
)

// writeFolderDataset makes train/ and test/ folders of class subfolders
// holding random 32x32 PNGs.
func writeFolderDataset(t *testing.T, perClass int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, split := range []string{"train", "test"} {
		for _, class := range []string{"apple", "pear", "plum"} {
			dir := filepath.Join(root, split, class)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range perClass {
				img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
				for j := range img.Pix {
					img.Pix[j] = uint8(rng.IntN(256))
				}
				f, err := os.Create(filepath.Join(dir, string(rune('a'+i))+".png"))
				if err != nil {
					t.Fatal(err)
				}
				if err := png.Encode(f, img); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
		}
	}
	return root
}

// TestTrainResumeExportAndBack runs the commands a user runs: a short
// baseline run, a resumed epoch, export to ONNX, and gomlx2pth.
func TestTrainResumeExportAndBack(t *testing.T) {
	data := writeFolderDataset(t, 4)
	out := filepath.Join(t.TempDir(), "run")
	common := []string{"train", "baseline", "--data", data, "--preset", "seed",
		"--batch-size", "4", "--steps-per-epoch", "2", "-o", out}
	msg, err := run(append(common, "--epochs", "1")...)
	if err != nil || !strings.Contains(msg, "trained 1 epochs (2 steps)") {
		t.Fatalf("train: %v\n%s", err, msg)
	}
	msg, err = run("train", "baseline", "--data", data, "-o", out, "--epochs", "2", "--resume")
	if err != nil || !strings.Contains(msg, "trained 2 epochs (4 steps)") {
		t.Fatalf("resume: %v\n%s", err, msg)
	}
	onnx := filepath.Join(t.TempDir(), "m.onnx")
	if msg, err = run("export", out, "-o", onnx); err != nil {
		t.Fatalf("export: %v\n%s", err, msg)
	}
	meta, _, err := export.ReadMetadata(onnx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(meta.Classes, ",") != "apple,pear,plum" || meta.Preprocess.InputSize != 32 {
		t.Errorf("exported metadata %+v", meta)
	}
	pth := filepath.Join(t.TempDir(), "m.pth")
	if msg, err = run("convert", "gomlx2pth", filepath.Join(out, "best"), "-o", pth); err != nil {
		t.Fatalf("gomlx2pth: %v\n%s", err, msg)
	}
	if msg, err = run("train", "eval", out, "--data", data); err != nil ||
		!strings.Contains(msg, "on 12 images") {
		t.Errorf("eval: %v\n%s", err, msg)
	}
}

func TestTrainRefusesBadInput(t *testing.T) {
	data := writeFolderDataset(t, 1)
	empty := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "baseline"}, "--data is required"},
		{[]string{"train", "baseline", "--data", data, "--preset", "fast"}, "unknown preset"},
		{[]string{"train", "baseline", "--data", data, "--lr", "-1"}, "learning rate"},
		{[]string{"train", "baseline", "--data", data, "--schedule", "linear"}, "schedule"},
		{[]string{"train", "baseline", "--data", data, "--resume", "-o", empty},
			"neither a checkpoint"},
		{[]string{"train", "baseline", "--data", filepath.Join(empty, "none")}, "no such file"},
		{[]string{"export", data, "-o", filepath.Join(empty, "m.onnx")}, "neither a checkpoint"},
		{[]string{"convert", "gomlx2pth", data, "-o", filepath.Join(empty, "m.pth")},
			"neither a checkpoint"},
		{[]string{"train", "baseline", "--data", data, "--resume", "--lr", "0.1", "-o", empty},
			"only --epochs may change"},
		{[]string{"train", "moco", "--data", data, "--batch-size", "0"}, "batch size"},
		{[]string{"train", "moco", "--data", data, "--batch-size", "8", "--bn-splits", "8",
			"--moco-k", "64"}, "at least 2"},
	}
	for _, c := range cases {
		_, err := run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it to say %q", c.args, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("refused commands left %d files behind", len(entries))
	}
}

// TestRunRefusesToOverwriteItsInput checks that export and gomlx2pth refuse
// to write inside the run they read, and that a new run refuses a
// directory holding one.
func TestRunRefusesToOverwriteItsInput(t *testing.T) {
	data := writeFolderDataset(t, 2)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "baseline", "--data", data, "--preset", "seed",
		"--batch-size", "4", "--steps-per-epoch", "1", "--epochs", "1", "-o", out}
	if msg, err := run(args...); err != nil {
		t.Fatalf("train: %v\n%s", err, msg)
	}
	state := filepath.Join(out, "last", "mocokit.json")
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"export", out, "-o", state},
		{"convert", "gomlx2pth", out, "-o", filepath.Join(out, "record.json")},
		args,
	} {
		if _, err := run(c...); err == nil {
			t.Errorf("%v succeeded", c)
		}
	}
	if after, _ := os.ReadFile(state); string(after) != string(before) {
		t.Error("the checkpoint's mocokit.json changed")
	}
}
