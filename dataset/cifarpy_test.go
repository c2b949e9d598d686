package dataset

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

const cifarPyPython = "/usr/bin/python3" // has numpy and PIL

// makeCIFARPickles runs testdata/make_cifar_pickles.py for one variant.
func makeCIFARPickles(t *testing.T, variant string) string {
	t.Helper()
	if _, err := os.Stat(jpegTestTar); err != nil {
		testenv.Missing(t, "CIFAR-10 JPEG copy not available: %v", err)
	}
	if err := exec.Command(cifarPyPython, "-c", "import numpy, PIL").Run(); err != nil {
		testenv.Missing(t, "%s lacks numpy or PIL: %v", cifarPyPython, err)
	}
	dir := t.TempDir()
	out, err := exec.Command(cifarPyPython, filepath.Join("testdata", "make_cifar_pickles.py"),
		dir, "--variant", variant).CombinedOutput()
	if err != nil {
		t.Fatalf("make_cifar_pickles.py: %v\n%s", err, out)
	}
	return dir
}

// checkCIFARPyBatches compares samples with the rows and labels the script
// dumped raw for each batch, in order.
func checkCIFARPyBatches(t *testing.T, dir string, ds *Dataset, batches []string) {
	t.Helper()
	i := 0
	for _, b := range batches {
		rows, err := os.ReadFile(filepath.Join(dir, "expected", b+".u8"))
		if err != nil {
			t.Fatal(err)
		}
		var labels []int
		lb, err := os.ReadFile(filepath.Join(dir, "expected", b+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(lb, &labels); err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(labels)*cifarPyRow || len(labels) == 0 {
			t.Fatalf("%s: %d bytes for %d labels", b, len(rows), len(labels))
		}
		for r, label := range labels {
			s := ds.Samples[i]
			i++
			if s.Label != label || s.Name != fmt.Sprintf("%s[%d]", b, r) {
				t.Fatalf("sample %d: %s label %d, want %s[%d] label %d", i, s.Name, s.Label,
					b, r, label)
			}
			img := s.Image.(*image.NRGBA)
			want := rows[r*cifarPyRow : (r+1)*cifarPyRow]
			for p := 0; p < 1024; p++ {
				c := img.Pix[4*p : 4*p+4]
				if c[0] != want[p] || c[1] != want[1024+p] || c[2] != want[2048+p] || c[3] != 255 {
					t.Fatalf("%s: pixel %d = %v, want %d %d %d", s.Name, p, c, want[p],
						want[1024+p], want[2048+p])
				}
			}
		}
	}
	if i != len(ds.Samples) {
		t.Fatalf("%d samples, compared %d", len(ds.Samples), i)
	}
}

func TestLoadCIFARPythonMatchesNumpy(t *testing.T) {
	for _, variant := range []string{"py2", "py3p2", "py3p4"} {
		t.Run(variant, func(t *testing.T) {
			dir := makeCIFARPickles(t, variant)
			py := filepath.Join(dir, "cifar-10-batches-py")
			test, err := LoadCIFARPython(py, Test)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(test.Classes, ",") != strings.Join(CIFAR10Classes, ",") {
				t.Fatalf("classes %v", test.Classes)
			}
			if len(test.Samples) != 200 {
				t.Fatalf("%d test samples, want 200", len(test.Samples))
			}
			checkCIFARPyBatches(t, dir, test, []string{"test_batch"})
			train, err := LoadCIFARPython(py, Train)
			if err != nil {
				t.Fatal(err)
			}
			checkCIFARPyBatches(t, dir, train, []string{"data_batch_1", "data_batch_2",
				"data_batch_3", "data_batch_4", "data_batch_5"})
		})
	}
}

// badCIFARPickles rewrites test_batch in ways the loader must reject.
const badCIFARPickles = `
import os, pickle, sys, numpy as np
d = sys.argv[1]
src = pickle.load(open(os.path.join(d, "test_batch"), "rb"))
def write(name, obj):
    os.makedirs(os.path.join(d, name), exist_ok=True)
    os.link(os.path.join(d, "batches.meta"), os.path.join(d, name, "batches.meta"))
    pickle.dump(obj, open(os.path.join(d, name, "test_batch"), "wb"), protocol=4)
write("label", dict(src, labels=[10] + src["labels"][1:]))
write("count", dict(src, labels=src["labels"][1:]))
write("row", dict(src, data=np.zeros((200, 3071), np.uint8)))
write("dtype", dict(src, data=src["data"].astype(np.float32)))
write("nodata", {"labels": src["labels"]})
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))
write("evil", dict(src, labels=Evil()))
`

func TestLoadCIFARPythonRejectsBadBatches(t *testing.T) {
	dir := makeCIFARPickles(t, "py3p4")
	py := filepath.Join(dir, "cifar-10-batches-py")
	out, err := exec.Command(cifarPyPython, "-c", badCIFARPickles, py).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cases := map[string]string{
		"label":  "image 0 has label 10, only 10 classes",
		"count":  "199 labels for 200 images",
		"row":    "data is u1 [200 3071], want uint8 [n, 3072]",
		"dtype":  "data is f4 [200 3072]",
		"nodata": `no "data" entry`,
		"evil":   `forbidden global "posix.system"`,
	}
	for name, want := range cases {
		_, err := LoadCIFARPython(filepath.Join(py, name), Test)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, want)
		}
	}
	data, err := os.ReadFile(filepath.Join(py, "test_batch"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(py, "cut")
	os.MkdirAll(cut, 0o755)
	os.Link(filepath.Join(py, "batches.meta"), filepath.Join(cut, "batches.meta"))
	for _, n := range []int{0, 1, 50, len(data) / 2, len(data) - 1} {
		os.WriteFile(filepath.Join(cut, "test_batch"), data[:n], 0o644)
		if _, err := LoadCIFARPython(cut, Test); err == nil {
			t.Errorf("test_batch cut at %d of %d bytes loaded without error", n, len(data))
		}
	}
	if _, err := LoadCIFARPython(filepath.Join(py, "missing"), Test); err == nil {
		t.Error("missing directory loaded without error")
	}
}

// fullCIFARPy names a full cifar-10-batches-py directory, as written by
// make_cifar_pickles.py --full, through MOCOKIT_CIFAR_PY.
func fullCIFARPy(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("MOCOKIT_CIFAR_PY")
	if dir == "" {
		testenv.Missing(tb, "set MOCOKIT_CIFAR_PY to a cifar-10-batches-py directory "+
			"(testdata/make_cifar_pickles.py --full OUT_DIR)")
	}
	return dir
}

func TestLoadCIFARPythonFullSet(t *testing.T) {
	dir := fullCIFARPy(t)
	for split, perClass := range map[Split]int{Test: 1000, Train: 5000} {
		ds, err := LoadCIFARPython(dir, split)
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]int, len(ds.Classes))
		for _, s := range ds.Samples {
			counts[s.Label]++
		}
		for c, n := range counts {
			if n != perClass {
				t.Fatalf("%s: class %s has %d images, want %d", split, ds.Classes[c], n, perClass)
			}
		}
	}
}

func BenchmarkLoadCIFARPythonTest(b *testing.B) {
	dir := fullCIFARPy(b)
	for b.Loop() {
		if _, err := LoadCIFARPython(dir, Test); err != nil {
			b.Fatal(err)
		}
	}
}
