package convert_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mocokit/mocokit/convert"
	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/models"
)

var (
	layoutsOnce sync.Once
	layoutsDir  string
	layoutsErr  error
)

// layouts writes testdata/make_layouts.py's files once per test binary.
func layouts(t *testing.T) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		testenv.Missing(t, "/usr/bin/python3 cannot import torchvision: %v", err)
	}
	layoutsOnce.Do(func() {
		layoutsDir, layoutsErr = os.MkdirTemp("", "mocokit-layouts-")
		if layoutsErr != nil {
			return
		}
		out, err := exec.Command("/usr/bin/python3", "testdata/make_layouts.py",
			layoutsDir).CombinedOutput()
		if err != nil {
			layoutsErr = err
			t.Logf("%s", out)
		}
	})
	if layoutsErr != nil {
		t.Fatal(layoutsErr)
	}
	return layoutsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if layoutsDir != "" {
		os.RemoveAll(layoutsDir)
	}
	os.Exit(code)
}

// TestUnknownLayoutsAreRefusedWithTheirKeys checks that a file that is not
// a ResNet-18 is refused with the keys that give it away, and that no
// output file is left behind.
func TestUnknownLayoutsAreRefusedWithTheirKeys(t *testing.T) {
	dir := layouts(t)
	cases := map[string][]string{
		"resnet34.pth":      {"resnet18", "96 unexpected", "layer1.2.bn1.bias"},
		"edited.pth":        {"1 missing (layer4.1.bn2.weight)", "1 unexpected (foo.weight)"},
		"not_a_model.pth":   {"neither a state_dict nor a checkpoint", "epoch", "lr"},
		"ambiguous.pth.tar": {"moco-checkpoint", "122 unexpected", "module.bn1.bias"},
		"resnet50.pth":      {"Bottleneck", "ResNet-18 only"},
		"pool_kept.pth":     {"conv1 stride 1, maxpool MaxPool2d", "neither"},
		"no_pool.pth":       {"conv1 stride 2, maxpool Identity", "neither"},
		"dropout_fc.pth":    {"fc layers not recognised", "fc.1.weight [10 512]"},
		"own_class.pth":     {`"__main__.Net"`, "save model.state_dict() instead"},
	}
	for file, wants := range cases {
		t.Run(file, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.onnx")
			_, err := convert.PthToONNX(filepath.Join(dir, file), out, convert.Options{})
			if err == nil {
				t.Fatal("converted; want an error")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
				t.Errorf("output file exists after a failed conversion")
			}
		})
	}
}

// TestDataParallelModelConverts reads a whole model saved inside
// nn.DataParallel, whose names carry its "module." prefix.
func TestDataParallelModelConverts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.onnx")
	rep, err := convert.PthToONNX(filepath.Join(layouts(t), "data_parallel.pth"), out,
		convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint.Kind != convert.KindModel || rep.Plan.Config.NumClasses != 10 {
		t.Errorf("got %s %s, want a pickled 10-class model", rep.Checkpoint.Kind,
			rep.Plan.Config)
	}
}

// TestOutputMayNotBeTheInputOrAFolder refuses, before reading anything, an
// output path that would destroy the checkpoint or that names a folder.
func TestOutputMayNotBeTheInputOrAFolder(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "sd.pth")
	if err := os.WriteFile(in, []byte("not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	for out, want := range map[string]string{in: "is the input file", dir: "is a folder"} {
		_, err := convert.PthToONNX(in, out, convert.Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("output %s: %v, want an error saying it %s", out, err, want)
		}
	}
	if data, _ := os.ReadFile(in); string(data) != "not read" {
		t.Errorf("the input changed: %q", data)
	}
}

// TestCIFARStemIsInferredAndCanBeForced reads conv1's 3x3 kernel as the
// CIFAR stem, keeps all 100 outputs when 100 classes are named, and fails
// when the imagenet stem is forced on those weights.
func TestCIFARStemIsInferredAndCanBeForced(t *testing.T) {
	in := filepath.Join(layouts(t), "cifar_stem.pth")
	classes := make([]string, 100)
	for i := range classes {
		classes[i] = "c" + string(rune('A'+i%26))
	}
	out := filepath.Join(t.TempDir(), "m.onnx")
	rep, err := convert.PthToONNX(in, out, convert.Options{Classes: classes})
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Plan.Config; c.Stem != models.StemCIFAR || c.NumClasses != 100 {
		t.Errorf("got %s, want the cifar stem with 100 classes", c)
	}
	_, err = convert.PthToONNX(in, out+"2", convert.Options{Stem: models.StemImageNet,
		Classes: classes})
	if err == nil || !strings.Contains(err.Error(), "conv1.weight [64 3 3 3] (want [64 3 7 7])") {
		t.Errorf("forcing the imagenet stem: got %v, want a conv1 shape error", err)
	}
	rep, err = convert.PthToONNX(in, out+"3", convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Plan.Meta.Classes; len(got) != 100 || got[42] != "42" {
		t.Errorf("a 100-way fc without class names: classes %v, want 0..99", got)
	}
	_, err = convert.PthToONNX(in, out+"4", convert.Options{Classes: classes[:10]})
	if err == nil || !strings.Contains(err.Error(), "100 outputs but 10 class names") {
		t.Errorf("10 names for 100 outputs: got %v, want an error", err)
	}
}
