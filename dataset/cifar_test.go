package dataset

import (
	"encoding/json"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

var jpegTestTar = filepath.Join(cifarJPEGDir(), "test.tar")

const (
	python   = "/usr/bin/python3" // the interpreter that has PIL and numpy
	perClass = 20
)

// cifarJPEGDir is the CIFAR-10 JPEG copy: $MOCOKIT_CIFAR_JPEG, else
// shared/data/cifar10-jpeg beside the repository.
func cifarJPEGDir() string {
	if d := os.Getenv("MOCOKIT_CIFAR_JPEG"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "data", "cifar10-jpeg")
}

// pilFixture runs testdata/make_fixtures.py into a temporary folder.
func pilFixture(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(jpegTestTar); err != nil {
		testenv.Missing(t, "CIFAR-10 JPEG copy not available: %v", err)
	}
	dir := t.TempDir()
	out, err := exec.Command(python, filepath.Join("testdata", "make_fixtures.py"), dir,
		"20").CombinedOutput()
	if err != nil {
		testenv.Missing(t, "%s with PIL and numpy needed: %v\n%s", python, err, out)
	}
	return dir
}

type pilImages struct {
	pixels []byte   // [N,32,32,3]
	Labels []int    `json:"labels"`
	Names  []string `json:"names"`
}

func readPIL(t *testing.T, dir string) pilImages {
	t.Helper()
	var p pilImages
	data, err := os.ReadFile(filepath.Join(dir, "pil_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.pixels, err = os.ReadFile(filepath.Join(dir, "pil_test.rgb")); err != nil {
		t.Fatal(err)
	}
	return p
}

// rgbDiff compares img with PIL's 32x32 RGB bytes: max and sum of |diff|.
func rgbDiff(img image.Image, pil []byte) (worst int, sum int) {
	b := img.Bounds()
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			for c, v := range []uint32{r >> 8, g >> 8, bl >> 8} {
				d := int(v) - int(pil[(y*32+x)*3+c])
				d = max(d, -d)
				worst, sum = max(worst, d), sum+d
			}
		}
	}
	return worst, sum
}

func TestLoadJPEGTarMatchesPIL(t *testing.T) {
	dir := pilFixture(t)
	ds, err := Load(jpegTestTar, Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Samples) != 10000 || strings.Join(ds.Classes, ",") !=
		strings.Join(CIFAR10Classes, ",") {
		t.Fatalf("%d samples, classes %v", len(ds.Samples), ds.Classes)
	}
	counts := make([]int, len(ds.Classes))
	for _, s := range ds.Samples {
		counts[s.Label]++
		if b := s.Image.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
			t.Fatalf("%s is %v", s.Name, b)
		}
	}
	for c, n := range counts {
		if n != 1000 {
			t.Errorf("class %s: %d images, want 1000", ds.Classes[c], n)
		}
	}
	// The PIL images are the first 20 of each class, so the ones at
	// 1000*c .. 1000*c+19 here.
	pil := readPIL(t, dir)
	var worst, sum int
	for i, name := range pil.Names {
		s := ds.Samples[pil.Labels[i]*1000+i%perClass]
		if s.Name != "test/"+name || s.Label != pil.Labels[i] {
			t.Fatalf("sample %s label %d, PIL %s label %d", s.Name, s.Label, name,
				pil.Labels[i])
		}
		w, d := rgbDiff(s.Image, pil.pixels[i*3072:(i+1)*3072])
		worst, sum = max(worst, w), sum+d
	}
	mean := float64(sum) / float64(len(pil.pixels))
	t.Logf("Go's JPEG decoder vs PIL (libjpeg) over %d images: max |diff| %d, mean %.3f",
		len(pil.Names), worst, mean)
	// Go's decoder replicates subsampled chroma where libjpeg interpolates
	// it ("fancy upsampling"), so sharp colour edges differ by tens of
	// levels while the mean stays near one level: measured max 65, mean 1.41
	// on these 200 images.
	if mean > jpegMeanBound || worst > jpegMaxBound {
		t.Errorf("mean |diff| %.3f (bound %v), max %d (bound %d)", mean, jpegMeanBound,
			worst, jpegMaxBound)
	}
}

const (
	jpegMeanBound = 1.5
	jpegMaxBound  = 70
)

func TestLoadCIFARBinaryMatchesPIL(t *testing.T) {
	dir := pilFixture(t)
	pil := readPIL(t, dir)
	ds, err := Load(dir, Test) // finds cifar-10-batches-bin inside
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Samples) != len(pil.Names) || len(ds.Classes) != 10 ||
		ds.Classes[9] != "truck" {
		t.Fatalf("%d samples, classes %v", len(ds.Samples), ds.Classes)
	}
	for i, s := range ds.Samples {
		if w, _ := rgbDiff(s.Image, pil.pixels[i*3072:(i+1)*3072]); w != 0 ||
			s.Label != pil.Labels[i] {
			t.Fatalf("%s: label %d (PIL %d), max |diff| %d", s.Name, s.Label,
				pil.Labels[i], w)
		}
	}
	if ds.Samples[3].Name != "test_batch.bin:3" {
		t.Errorf("name %q", ds.Samples[3].Name)
	}
	train, err := LoadCIFARBinary(filepath.Join(dir, "cifar-10-batches-bin"), Train)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	for _, s := range train.Samples {
		counts[s.Label]++
	}
	if len(train.Samples) != 10*perClass || counts[0] != perClass || counts[9] != perClass {
		t.Fatalf("train: %d samples, per class %v", len(train.Samples), counts)
	}
	if train.Samples[len(train.Samples)-1].Name[:16] != "data_batch_5.bin" {
		t.Errorf("last train sample %q", train.Samples[len(train.Samples)-1].Name)
	}
}

func TestLoadCIFARBinaryRejectsTruncatedFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test_batch.bin"), make([]byte, 3073*2+5),
		0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, Test)
	if err == nil || !strings.Contains(err.Error(), "6151 bytes is not a whole number") {
		t.Fatalf("error %v", err)
	}
	record := make([]byte, 3073)
	record[0] = 10
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), record, 0o644)
	if _, err := Load(dir, Test); err == nil || !strings.Contains(err.Error(), "label 10") {
		t.Fatalf("error %v", err)
	}
}

func TestLoadDetectsCIFARPythonPickles(t *testing.T) {
	dir := pilFixture(t)
	pil := readPIL(t, dir)
	out, err := exec.Command(python, filepath.Join("testdata", "make_cifar_pickles.py"),
		dir, "--per-class", "20").CombinedOutput()
	if err != nil {
		t.Fatalf("make_cifar_pickles.py: %v\n%s", err, out)
	}
	for _, path := range []string{dir, filepath.Join(dir, "cifar-10-batches-py")} {
		ds, err := Load(path, Test)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Samples) != len(pil.Names) || ds.Classes[0] != "airplane" {
			t.Fatalf("%s: %d samples, classes %v", path, len(ds.Samples), ds.Classes)
		}
		// The script shuffles the images, as CIFAR-10's batches are: match
		// each sample to PIL's image by its pixels.
		labelOf := map[string]int{}
		for i := range pil.Names {
			labelOf[string(pil.pixels[i*3072:(i+1)*3072])] = pil.Labels[i]
		}
		seen := map[string]bool{}
		for _, s := range ds.Samples {
			key := string(rgbBytes(s.Image))
			label, ok := labelOf[key]
			if !ok || label != s.Label || seen[key] {
				t.Fatalf("%s: label %d; among PIL's images %v with label %d; repeated %v",
					s.Name, s.Label, ok, label, seen[key])
			}
			seen[key] = true
		}
	}
}

func rgbBytes(img image.Image) []byte {
	b := img.Bounds()
	out := make([]byte, 0, 3*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out = append(out, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	return out
}
