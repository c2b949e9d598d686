package record

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotutil"
)

// decodePNG reads path as a PNG, failing t if it is not one.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// colourCounts counts the pixels of each colour in img.
func colourCounts(img image.Image) map[color.RGBA]int {
	counts := make(map[color.RGBA]int)
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			counts[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}]++
		}
	}
	return counts
}

// checkPlot fails t unless path is an 800x900 PNG on a white background
// showing every series colour the plot uses.
func checkPlot(t *testing.T, path string, series int) {
	t.Helper()
	img := decodePNG(t, path)
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 900 {
		t.Fatalf("plot is %dx%d, want 800x900", b.Dx(), b.Dy())
	}
	counts := colourCounts(img)
	white := color.RGBA{255, 255, 255, 255}
	if n := counts[white]; n < 800*900/2 || n == 800*900 {
		t.Errorf("%d white pixels of %d: want a white background with a drawing", n, 800*900)
	}
	// Each curve's colour appears solid along its line and points.
	for i := range series {
		c := color.RGBAModel.Convert(plotutil.Color(i)).(color.RGBA)
		if counts[c] < 200 {
			t.Errorf("series %d colour %v covers %d pixels, want at least 200", i, c, counts[c])
		}
	}
}

func TestPlotDrawsTheCurves(t *testing.T) {
	r := syntheticRun(t, 8)
	path := filepath.Join(t.TempDir(), "curves.png")
	if err := r.Plot(path); err != nil {
		t.Fatal(err)
	}
	// Epoch loss, train, test, acc5, knn_acc.
	checkPlot(t, path, 5)
	if out := os.Getenv("MOCOKIT_RECORD_PLOT"); out != "" {
		if err := r.Plot(strings.TrimSuffix(out, ".png") + "-synthetic.png"); err != nil {
			t.Fatal(err)
		}
	}
	img := decodePNG(t, path)
	if n := colourCounts(img)[color.RGBAModel.Convert(stepLossColor).(color.RGBA)]; n < 200 {
		t.Errorf("step-loss colour covers %d pixels, want at least 200", n)
	}
}

func TestPlotDrawsTheBaselineFile(t *testing.T) {
	r, err := ReadJSON(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	r.Name = "ResNet-18 CIFAR-10 baseline"
	path := filepath.Join(t.TempDir(), "baseline.png")
	if err := r.Plot(path); err != nil {
		t.Fatal(err)
	}
	// The baseline's epochs have no mean loss: train and test accuracy only.
	checkPlot(t, path, 0)
	counts := colourCounts(decodePNG(t, path))
	for i := 1; i <= 2; i++ {
		c := color.RGBAModel.Convert(plotutil.Color(i)).(color.RGBA)
		if counts[c] < 200 {
			t.Errorf("accuracy series %d colour covers %d pixels", i, counts[c])
		}
	}
	if out := os.Getenv("MOCOKIT_RECORD_PLOT"); out != "" {
		// Lets a person look at the picture.
		if err := r.Plot(out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPlotOfAnEmptyRecordFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.png")
	if err := new(Record).Plot(path); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("empty plot left a file: %v", err)
	}
}

// checkOnlyFiles fails t unless dir holds exactly the files named.
func checkOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

func TestFailedWritesLeaveNoTemporaryFile(t *testing.T) {
	r := syntheticRun(t, 2)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing", "record.json")
	if err := r.WriteJSON(missing); err == nil {
		t.Error("WriteJSON into a missing folder: no error")
	}
	if err := r.Plot(filepath.Join(dir, "missing", "curves.png")); err == nil {
		t.Error("Plot into a missing folder: no error")
	}

	// A folder in the way fails the rename, after the temporary file was
	// written: it must be removed, and the folder left alone.
	inTheWay := filepath.Join(dir, "record.json")
	if err := os.Mkdir(inTheWay, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(inTheWay); err == nil {
		t.Error("WriteJSON over a folder: no error")
	}
	if err := os.Mkdir(filepath.Join(dir, "curves.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Plot(filepath.Join(dir, "curves.png")); err == nil {
		t.Error("Plot over a folder: no error")
	}
	checkOnlyFiles(t, dir, "curves.png", "record.json")
}

func TestWriteJSONReplacesAnOlderFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "record.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syntheticRun(t, 1).WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	r, err := ReadJSON(path)
	if err != nil || len(r.Epochs) != 1 {
		t.Fatalf("read back %v, %v; want one epoch", r, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want -rw-r--r--", info.Mode(), err)
	}
	checkOnlyFiles(t, dir, "record.json")
}

func TestEpochTicksLabelWholeEpochs(t *testing.T) {
	cases := []struct {
		max    float64
		labels string
	}{
		{1, "0,1"},
		{14, "0,2,4,6,8,10,12,14"},
		{50, "0,5,10,15,20,25,30,35,40,45,50"},
		{200, "0,20,40,60,80,100,120,140,160,180,200"},
		{800, "0,100,200,300,400,500,600,700,800"},
	}
	for _, c := range cases {
		var labels []string
		for _, tick := range (epochTicks{}).Ticks(0, c.max) {
			if tick.Label != "" {
				labels = append(labels, tick.Label)
			}
		}
		if got := strings.Join(labels, ","); got != c.labels {
			t.Errorf("0..%v: labels %s, want %s", c.max, got, c.labels)
		}
	}
}
