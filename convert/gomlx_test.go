package convert_test

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/convert"
	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/train"
	"github.com/mocokit/mocokit/train/backend"
)

func python(t *testing.T, args ...string) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		testenv.Missing(t, "/usr/bin/python3 cannot import torchvision: %v", err)
	}
	out, err := exec.Command("/usr/bin/python3",
		append([]string{"testdata/gomlx_roundtrip.py"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func writeF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGoMLXRoundTripWithPyTorch converts a PyTorch state_dict to a GoMLX
// checkpoint, checks GoMLX's logits against PyTorch's, writes the
// checkpoint back as a .pth and has PyTorch load it strictly and reproduce
// the same logits.
func TestGoMLXRoundTripWithPyTorch(t *testing.T) {
	b, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, stem := range []string{"imagenet", "cifar"} {
		t.Run(stem, func(t *testing.T) {
			dir := t.TempDir()
			python(t, "write", dir, stem)
			ckpt := filepath.Join(dir, "ckpt")
			if _, err := convert.PthToGoMLX(filepath.Join(dir, "model.pth"), ckpt,
				convert.Options{}); err != nil {
				t.Fatal(err)
			}
			c, err := train.ReadCheckpoint(ckpt)
			if err != nil {
				t.Fatal(err)
			}
			if c.State.Config != models.ResNet18(models.Stem(stem), 10) {
				t.Fatalf("config %+v", c.State.Config)
			}
			if got := c.Weights["layer1.0.bn1.num_batches_tracked"].Data[0]; got != 123 {
				t.Errorf("num_batches_tracked %v, want 123", got)
			}
			net, err := train.NewNetwork(b, c.State.Config, c.Weights, train.SGD{})
			if err != nil {
				t.Fatal(err)
			}
			x := readF32(t, filepath.Join(dir, "input.f32"))
			got, err := net.Logits(train.Batch{Images: x, Size: 32})
			if err != nil {
				t.Fatal(err)
			}
			want := readF32(t, filepath.Join(dir, "logits.f32"))
			var d float64
			for i := range want {
				d = math.Max(d, math.Abs(float64(got[i]-want[i])))
			}
			t.Logf("GoMLX vs PyTorch logits: max |diff| %.2g", d)
			if d > 1e-4 {
				t.Errorf("GoMLX logits differ from PyTorch's by %g", d)
			}
			pth := filepath.Join(dir, "back.pth")
			if _, err := convert.GoMLXToPth(ckpt, pth); err != nil {
				t.Fatal(err)
			}
			writeF32(t, filepath.Join(dir, "go_logits.f32"), got)
			out := python(t, "check", pth, stem, filepath.Join(dir, "input.f32"),
				filepath.Join(dir, "go_logits.f32"))
			back, err := strconv.ParseFloat(out, 64)
			if err != nil || back > 1e-4 {
				t.Errorf("PyTorch on the written .pth vs GoMLX: %q", out)
			}
		})
	}
}

func TestPthToGoMLXRefusesExistingOutput(t *testing.T) {
	dir := t.TempDir()
	if _, err := convert.PthToGoMLX(filepath.Join(dir, "none.pth"), dir,
		convert.Options{}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("err = %v, want one saying the output exists", err)
	}
}
