package torchfile

import (
	"archive/zip"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/pickle"
)

// smallEntries covers each kind of tensor a state_dict holds: weights of
// several ranks, an int64 scalar counter, a float scalar and an empty one.
func smallEntries() []Entry {
	return []Entry{
		{Name: "conv.weight", Shape: []int{2, 1, 2, 2},
			Float32: []float32{1, -2, 3.5, 0, float32(math.Inf(-1)), 1e-38, -0.25, float32(math.NaN())}},
		{Name: "bn.running_var", Shape: []int{3}, Float32: []float32{0.5, 1, 2}},
		{Name: "bn.num_batches_tracked", Shape: []int{}, Int64: []int64{1<<40 + 3}},
		{Name: "scale", Shape: []int{}, Float32: []float32{2.5}},
		{Name: "steps", Shape: []int{2, 2}, Int64: []int64{-1, 0, math.MaxInt64, math.MinInt64}},
		{Name: "empty", Shape: []int{0, 3}, Float32: []float32{}},
	}
}

// readBack reads a written state_dict with the package's own reader.
func readBack(t *testing.T, path string) []Named {
	t.Helper()
	v, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(*pickle.Dict)
	if !ok {
		t.Fatalf("read a %s, want an OrderedDict", pickle.TypeName(v))
	}
	sd, err := StateDict(d)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// checkTensors compares what was read with the entries written: names in
// order, dtypes, shapes, row-major strides and every value bit for bit.
func checkTensors(t *testing.T, got []Named, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d tensors, wrote %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.Tensor.DType != w.dtype() ||
			fmt.Sprint(g.Tensor.Shape) != fmt.Sprint(w.Shape) {
			t.Fatalf("tensor %d is %s %s %v, want %s %s %v", i, g.Name, g.Tensor.DType,
				g.Tensor.Shape, w.Name, w.dtype(), w.Shape)
		}
		if !g.Tensor.contiguous() || g.Tensor.Offset != 0 {
			t.Errorf("%s: strides %v offset %d, want a contiguous view", w.Name,
				g.Tensor.Stride, g.Tensor.Offset)
		}
		if w.Int64 != nil {
			v, err := g.Tensor.Int64()
			if err != nil || !reflect.DeepEqual(v, w.Int64) {
				t.Errorf("%s = %v (%v), want %v", w.Name, v, err, w.Int64)
			}
			continue
		}
		v, err := g.Tensor.Float32()
		if err != nil {
			t.Fatal(err)
		}
		for j := range w.Float32 {
			if math.Float32bits(v[j]) != math.Float32bits(w.Float32[j]) {
				t.Errorf("%s[%d] = %v, want %v", w.Name, j, v[j], w.Float32[j])
			}
		}
	}
}

func TestWriteStateDictRoundTripsThroughReader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sd.pth")
	if err := WriteStateDict(path, smallEntries()); err != nil {
		t.Fatal(err)
	}
	checkTensors(t, readBack(t, path), smallEntries())

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want -rw-r--r--", fi.Mode())
	}
	assertOnlyFiles(t, dir, "sd.pth")
}

// TestWriteStateDictLaysOutRecordsAsTorch checks the archive's records and
// that each one's data starts on a 64-byte boundary, as torch.save aligns
// them.
func TestWriteStateDictLaysOutRecordsAsTorch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sd.pth")
	if err := WriteStateDict(path, smallEntries()); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if off%recordAlign != 0 || f.Method != zip.Store {
			t.Errorf("%s: data at offset %d, method %d; want stored at a multiple of %d",
				f.Name, off, f.Method, recordAlign)
		}
	}
	want := "[archive/data.pkl archive/byteorder archive/data/0 archive/data/1 " +
		"archive/data/2 archive/data/3 archive/data/4 archive/data/5 archive/version]"
	if fmt.Sprint(names) != want {
		t.Errorf("records %v, want %s", names, want)
	}
	rc, err := zr.Open("archive/version")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var version [8]byte
	if n, _ := rc.Read(version[:]); string(version[:n]) != "3\n" {
		t.Errorf("version record %q, want \"3\\n\"", version[:n])
	}
}

// assertOnlyFiles fails unless dir holds exactly the named entries: a
// failed or finished write must leave no temporary file behind.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

func TestWriteStateDictRefusesBadEntriesAndWritesNothing(t *testing.T) {
	good := Entry{Name: "ok", Shape: []int{1}, Float32: []float32{1}}
	for _, c := range []struct {
		name  string
		entry Entry
		want  string
	}{
		{"short", Entry{Name: "fc.weight", Shape: []int{10, 512}, Float32: make([]float32, 5119)},
			`tensor "fc.weight" of shape [10 512] needs 5120 values, has 5119`},
		{"long scalar", Entry{Name: "bn1.num_batches_tracked", Int64: []int64{1, 2}},
			`tensor "bn1.num_batches_tracked" of shape [] needs 1 values, has 2`},
		{"both", Entry{Name: "x", Shape: []int{1}, Float32: []float32{1}, Int64: []int64{1}},
			`tensor "x" has both float32 and int64 values`},
		{"negative", Entry{Name: "y", Shape: []int{2, -1}, Float32: []float32{}},
			`tensor "y" has a bad shape [2 -1]`},
		{"huge", Entry{Name: "z", Shape: []int{1 << 20, 1 << 20}, Float32: []float32{}},
			`tensor "z" has a bad shape`},
		{"unnamed", Entry{Shape: []int{1}, Float32: []float32{1}}, "tensor without a name"},
		{"duplicate", good, `tensor "ok" appears twice`},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.pth")
		err := WriteStateDict(path, []Entry{good, c.entry})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		assertOnlyFiles(t, dir)
	}
}

func TestWriteStateDictFailureKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.pth")
	if err := WriteStateDict(path, smallEntries()); err != nil {
		t.Fatal(err)
	}
	bad := append(smallEntries(), Entry{Name: "fc.bias", Shape: []int{10}})
	err := WriteStateDict(path, bad)
	if err == nil || !strings.Contains(err.Error(), `"fc.bias"`) {
		t.Fatalf("error %v, want one naming fc.bias", err)
	}
	checkTensors(t, readBack(t, path), smallEntries())
	assertOnlyFiles(t, dir, "model.pth")
}

// TestWriteStateDictCleansUpWhenRenameFails makes the last step fail (the
// target is a directory that is not empty), after the temporary file has
// been written in full.
func TestWriteStateDictCleansUpWhenRenameFails(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteStateDict(target, smallEntries()); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	assertOnlyFiles(t, dir, "taken")
}

func TestWriteStateDictReportsMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "no", "such", "dir", "sd.pth"),
		filepath.Join(dir, "file", "sd.pth")} {
		err := WriteStateDict(path, smallEntries())
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v, want one naming %s", err, path)
		}
	}
	assertOnlyFiles(t, dir, "file")
}

func TestWriteStateDictReportsUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	err := WriteStateDict(filepath.Join(dir, "sd.pth"), smallEntries())
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("error %v, want permission denied", err)
	}
	assertOnlyFiles(t, dir)
}
