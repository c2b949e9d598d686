package augment

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

const python = "/usr/bin/python3" // Debian's, with torch and torchvision

// parityCase is one functional transform with its parameters fixed, run
// by torchvision (op, args) and by this package (run).
type parityCase struct {
	Name  string    `json:"name"`
	Input string    `json:"input"`
	Op    string    `json:"op"`
	Args  []float64 `json:"args"`
	run   func(*image.NRGBA) (*image.NRGBA, error)
}

var cifarMean, cifarStd = [3]float32{0.4914, 0.4822, 0.4465}, [3]float32{0.247, 0.243, 0.261}

// parityCases are the cases run on every input image.
func parityCases() []parityCase {
	var cs []parityCase
	add := func(op string, run func(*image.NRGBA) (*image.NRGBA, error), args ...float64) {
		cs = append(cs, parityCase{Op: op, Args: args, run: run})
	}
	add("crop", func(m *image.NRGBA) (*image.NRGBA, error) { return Crop(m, 3, 5, 20, 17) },
		3, 5, 20, 17)
	add("crop", func(m *image.NRGBA) (*image.NRGBA, error) { return Crop(m, -4, 2, 32, 32) },
		-4, 2, 32, 32)
	add("pad", func(m *image.NRGBA) (*image.NRGBA, error) { return Pad(m, 4) }, 4)
	add("hflip", func(m *image.NRGBA) (*image.NRGBA, error) { return HFlip(m), nil })
	for _, s := range []int{15, 24, 35, 50} {
		add("center_crop", func(m *image.NRGBA) (*image.NRGBA, error) {
			return CenterCrop(m, s)
		}, float64(s))
	}
	for _, wh := range [][2]int{{20, 20}, {17, 23}, {224, 224}, {45, 30}, {7, 5}} {
		add("resize", func(m *image.NRGBA) (*image.NRGBA, error) {
			return ResizeBilinear(m, wh[0], wh[1])
		}, float64(wh[0]), float64(wh[1]))
	}
	add("resize_short", func(m *image.NRGBA) (*image.NRGBA, error) {
		return Resize(96).Apply(m, nil)
	}, 96)
	add("resized_crop", func(m *image.NRGBA) (*image.NRGBA, error) {
		return ResizedCrop(m, 2, 3, 19, 14, 32)
	}, 2, 3, 19, 14, 32)
	add("resized_crop", func(m *image.NRGBA) (*image.NRGBA, error) {
		return ResizedCrop(m, 0, 1, 21, 25, 16)
	}, 0, 1, 21, 25, 16)
	addFactor := func(op string, f func(*image.NRGBA, float64) (*image.NRGBA, error),
		factors ...float64) {
		for _, v := range factors {
			add(op, func(m *image.NRGBA) (*image.NRGBA, error) { return f(m, v) }, v)
		}
	}
	addFactor("brightness", AdjustBrightness, 0, 0.6, 0.83, 1, 1.37)
	addFactor("contrast", AdjustContrast, 0, 0.6, 0.91, 1.4)
	addFactor("saturation", AdjustSaturation, 0, 0.6, 1.23)
	addFactor("hue", AdjustHue, -0.5, -0.1, -0.013, 0, 0.03, 0.1, 0.5)
	addFactor("blur", GaussianBlurPIL, 0.1, 0.37, 0.8, 1.3, 2.0)
	add("grayscale", func(m *image.NRGBA) (*image.NRGBA, error) { return Grayscale(m), nil })
	return cs
}

// writeParityInputs writes the input images as PNG and returns their names.
func writeParityInputs(t *testing.T, dir string) []string {
	inputs := map[string]*image.NRGBA{"noise": noiseImage(32, 32, 7), "scene": sceneImage(40, 27)}
	for i, m := range cifarImages(t, 3) {
		inputs[fmt.Sprintf("cifar%d", i)] = m
	}
	var names []string
	for name, m := range inputs {
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// runReference has torchvision compute every case into dir.
func runReference(t *testing.T, dir string, cases []parityCase) {
	if err := exec.Command(python, "-c", "import torchvision").Run(); err != nil {
		testenv.Missing(t, "%s cannot import torchvision: %v", python, err)
	}
	js, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "testdata/reference.py", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("testdata/reference.py: %v\n%s", err, out)
	}
}

// readPNG reads one of the inputs back, as the reference saw it.
func readPNG(t *testing.T, path string) *image.NRGBA {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewNRGBA(m.Bounds())
	for y := 0; y < m.Bounds().Dy(); y++ {
		for x := 0; x < m.Bounds().Dx(); x++ {
			out.Set(x, y, m.At(x, y))
		}
	}
	return out
}

// maxDiff is the largest difference between an image's RGB bytes and raw
// RGB rows; -1 when the sizes differ.
func maxDiff(img *image.NRGBA, raw []byte) int {
	w, h := size(img)
	if len(raw) != w*h*3 {
		return -1
	}
	worst := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				d := int(img.Pix[off(img, x, y)+c]) - int(raw[(y*w+x)*3+c])
				worst = max(worst, d, -d)
			}
		}
	}
	return worst
}

func TestFunctionalTransformsMatchTorchvision(t *testing.T) {
	dir := t.TempDir()
	inputs := writeParityInputs(t, dir)
	var cases []parityCase
	for _, in := range inputs {
		for i, c := range parityCases() {
			c.Name, c.Input = fmt.Sprintf("%s-%s-%d", in, c.Op, i), in+".png"
			cases = append(cases, c)
		}
	}
	ts := tensorCases(inputs)
	runReference(t, dir, append(cases, ts...))

	worst := map[string]int{}
	for _, c := range cases {
		got, err := c.run(readPNG(t, filepath.Join(dir, c.Input)))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		want, err := os.ReadFile(filepath.Join(dir, c.Name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		d := maxDiff(got, want)
		if d < 0 {
			t.Fatalf("%s %v: got %v, torchvision %d bytes", c.Name, c.Args, got.Bounds(), len(want))
		}
		worst[c.Op] = max(worst[c.Op], d)
		if d != 0 {
			t.Errorf("%s %v: differs from torchvision by up to %d levels", c.Name, c.Args, d)
		}
	}
	t.Logf("largest difference per op, in levels of 255: %v", worst)
	checkTensorCases(t, dir, ts)
}

// tensorCases are ToTensor with normalisation on every input.
func tensorCases(inputs []string) []parityCase {
	var cs []parityCase
	args := []float64{}
	for _, v := range append(cifarMean[:], cifarStd[:]...) {
		args = append(args, float64(v))
	}
	for _, in := range inputs {
		cs = append(cs, parityCase{Name: in + "-tensor", Input: in + ".png", Op: "tensor",
			Args: args})
	}
	return cs
}

// checkTensorCases compares ToTensor with torchvision bit for bit.
func checkTensorCases(t *testing.T, dir string, cases []parityCase) {
	for _, c := range cases {
		img := readPNG(t, filepath.Join(dir, c.Input))
		w, h := size(img)
		got := make([]float32, 3*w*h)
		if err := ToTensor(img, cifarMean, cifarStd, got); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, c.Name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(raw)/4)
		if err := binary.Read(bytes.NewReader(raw), binary.NativeEndian, want); err != nil {
			t.Fatal(err)
		}
		if len(want) != len(got) {
			t.Fatalf("%s: %d values, torchvision %d", c.Name, len(got), len(want))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: value %d is %v, torchvision %v", c.Name, i, got[i], want[i])
			}
		}
	}
}
