package dataset

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngBytes encodes a w x h image filled with one grey level.
func pngBytes(t *testing.T, w, h int, level uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = level
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFiles(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func grey(img image.Image) uint8 {
	return color.GrayModel.Convert(img.At(0, 0)).(color.Gray).Y
}

func TestLoadFolderUsesCIFAROrderForCIFARNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"truck/b.png": pngBytes(t, 4, 4, 1), "truck/a.png": pngBytes(t, 4, 4, 2),
		"cat/x.png": pngBytes(t, 4, 4, 3), "notes.txt": []byte("not an image"),
		"cat/readme.md": []byte("skipped"),
	})
	ds, err := Load(dir, Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Classes) != 10 || len(ds.Samples) != 3 {
		t.Fatalf("classes %v, %d samples", ds.Classes, len(ds.Samples))
	}
	want := []struct {
		name  string
		label int
		level uint8
	}{{"cat/x.png", 3, 3}, {"truck/a.png", 9, 2}, {"truck/b.png", 9, 1}}
	for i, w := range want {
		s := ds.Samples[i]
		if s.Name != w.name || s.Label != w.label || grey(s.Image) != w.level {
			t.Errorf("sample %d: %s label %d level %d, want %+v", i, s.Name, s.Label,
				grey(s.Image), w)
		}
	}
}

func TestLoadFolderSortsOtherClassNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"zebra/1.png": pngBytes(t, 2, 2, 0),
		"cat/1.png": pngBytes(t, 2, 2, 0), "ant/1.png": pngBytes(t, 2, 2, 0)})
	ds, err := LoadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ds.Classes, ",") != "ant,cat,zebra" || ds.Samples[2].Label != 2 {
		t.Fatalf("classes %v, labels %d", ds.Classes, ds.Samples[2].Label)
	}
}

func TestLoadPicksSplitFolder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"train/dog/1.png": pngBytes(t, 2, 2, 7),
		"test/dog/1.png": pngBytes(t, 2, 2, 8), "test/dog/2.png": pngBytes(t, 2, 2, 9)})
	ds, err := Load(dir, Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Samples) != 2 || grey(ds.Samples[0].Image) != 8 || ds.Samples[0].Label != 5 {
		t.Fatalf("%d samples, first level %d", len(ds.Samples), grey(ds.Samples[0].Image))
	}
	ds, err = Load(dir, Train)
	if err != nil || len(ds.Samples) != 1 || grey(ds.Samples[0].Image) != 7 {
		t.Fatalf("train split: %v", err)
	}
}

func writeTar(t *testing.T, path string, files map[string][]byte, gz bool) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"test/", "test/frog/"} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for name, data := range files {
		h := &tar.Header{Name: name, Size: int64(len(data)), Mode: 0o644}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	data := buf.Bytes()
	if gz {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(data)
		w.Close()
		data = z.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTarGzSelectsSplit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.tar.gz")
	writeTar(t, path, map[string][]byte{"test/frog/2.png": pngBytes(t, 3, 3, 2),
		"test/frog/1.png": pngBytes(t, 3, 3, 1), "train/frog/1.png": pngBytes(t, 3, 3, 9),
		"test/frog/._1.png": []byte("macOS junk")}, true)
	ds, err := Load(path, Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Samples) != 2 || ds.Samples[0].Name != "test/frog/1.png" ||
		grey(ds.Samples[1].Image) != 2 || ds.Samples[1].Label != 6 {
		t.Fatalf("%d samples: %+v", len(ds.Samples), ds.Samples)
	}
	noSplit := filepath.Join(t.TempDir(), "flat.tar")
	writeTar(t, noSplit, map[string][]byte{"horse/a.png": pngBytes(t, 3, 3, 4)}, false)
	if ds, err := Load(noSplit, Train); err != nil || len(ds.Samples) != 1 ||
		ds.Samples[0].Label != 7 {
		t.Fatalf("archive without split folders: %v", err)
	}
}

func TestLoadErrorsNameThePathAndProblem(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		files map[string][]byte
		path  string
		want  string
	}{
		{"empty folder", nil, "", "no images in class subfolders"},
		{"loose images", map[string][]byte{"a.png": pngBytes(t, 2, 2, 0)}, "",
			"unknown layout: 1 images but no class subfolders"},
		{"undecodable", map[string][]byte{"cat/x.jpg": []byte("not a jpeg")}, "",
			`undecodable image "cat/x.jpg"`},
		{"truncated", map[string][]byte{"cat/t.png": pngBytes(t, 8, 8, 1)[:40]}, "",
			`undecodable image "cat/t.png"`},
		{"huge", map[string][]byte{"cat/h.png": hugePNGHeader(t)}, "",
			`"cat/h.png" is 100000x100000, more than`},
		{"unknown file", map[string][]byte{"x.zip": []byte("zip")}, "x.zip",
			"unknown layout"},
		{"python pickles", map[string][]byte{"cifar-10-batches-py/test_batch": {0}}, "",
			"cifar-10-batches-py"},
		{"tar without the split", nil, "train-only.tar", "no images under test/"},
	}
	for i, c := range cases {
		root := filepath.Join(dir, string(rune('a'+i)))
		os.MkdirAll(root, 0o755)
		writeFiles(t, root, c.files)
		if c.name == "tar without the split" {
			writeTar(t, filepath.Join(root, c.path),
				map[string][]byte{"train/cat/1.png": pngBytes(t, 2, 2, 0)}, false)
		}
		path := filepath.Join(root, c.path)
		_, err := Load(path, Test)
		if err == nil || !strings.Contains(err.Error(), c.want) ||
			!strings.Contains(err.Error(), root) {
			t.Errorf("%s: error %v, want it to name %s and say %q", c.name, err, root, c.want)
		}
	}
	if _, err := Load(dir, "validation"); err == nil ||
		!strings.Contains(err.Error(), `unknown split "validation"`) {
		t.Errorf("split error %v", err)
	}
}

// hugePNGHeader is a PNG signature and IHDR declaring 100000x100000 pixels
// with no image data: decoding it must fail before allocating.
func hugePNGHeader(t *testing.T) []byte {
	small := pngBytes(t, 1, 1, 0)
	ihdr := append([]byte(nil), small[:33]...)
	put := func(off int, v uint32) {
		ihdr[off], ihdr[off+1], ihdr[off+2], ihdr[off+3] = byte(v>>24), byte(v>>16),
			byte(v>>8), byte(v)
	}
	put(16, 100000)
	put(20, 100000)
	put(29, crc32.ChecksumIEEE(ihdr[12:29]))
	return ihdr
}
