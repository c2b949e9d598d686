package serve

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/internal/testenv"
)

// chromium finds Debian's headless-capable browser.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	testenv.Missing(t, "no chromium to test the page in (scripts/setup.sh --test installs it)")
	return ""
}

// TestPageClassifiesAnUploadInChromium loads the page in headless Chromium
// from a server on loopback that has run an evaluation, picks a real CIFAR-10
// test image in the file input, and checks what the browser shows: five
// bars led by the class PyTorch predicts, the per-class table and the
// confusion matrix picture, and the bars' colour in a screenshot.
func TestPageClassifiesAnUploadInChromium(t *testing.T) {
	browser := chromium(t)
	s, fx := evaluated(t)
	srv := httptest.NewServer(s.Handler()) // 127.0.0.1
	defer srv.Close()
	const sample = 12
	upload := filepath.Join(fx.Dir, fx.Expected.Files[sample])
	wantLabel := dataset.CIFAR10Classes[fx.Expected.Pred[sample]]

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.NoSandbox, chromedp.WindowSize(1000, 1400),
		chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitReady(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{upload}),
		chromedp.WaitVisible(chromedp.CSS("#results li .bar")),
		chromedp.WaitVisible(chromedp.CSS("#eval-done")),
	)
	if err != nil {
		t.Fatal(err)
	}
	label, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#results li .label")))
	if err != nil || label != wantLabel {
		t.Fatalf("first class shown %q (%v), PyTorch predicts %q", label, err, wantLabel)
	}
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[
		document.querySelectorAll("#results li").length,
		document.querySelectorAll("#per-class tbody tr").length]`))
	if err != nil || counts[0] != 5 || counts[1] != 10 {
		t.Fatalf("%v bars and table rows (%v), want 5 and 10", counts, err)
	}
	width, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => {
		const img = document.getElementById("confusion");
		return img.complete && img.naturalWidth; })()`,
		chromedp.WithPollingTimeout(time.Minute)))
	l := newConfusionLayout(dataset.CIFAR10Classes, dataset.CIFAR10Classes)
	if err != nil || width != l.bounds().Dx() {
		t.Fatalf("confusion picture %d pixels wide (%v), want %d", width, err,
			l.bounds().Dx())
	}
	checkScreenshot(t, ctx)
}

// checkScreenshot looks for the bars in a screenshot of the page: at least
// the area of the top class's bar must be in their colour.
func checkScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), "page.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bar, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const r = document.querySelector("#results li .bar").getBoundingClientRect();
		return [r.width, r.height]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	want := int(bar[0]*bar[1]) * 9 / 10 // corners are rounded
	if n := countColour(img, barColour); n < want || want < 50 {
		t.Fatalf("%d pixels in the bars' colour %v; the top bar alone is %.0fx%.0f",
			n, barColour, bar[0], bar[1])
	}
}

func countColour(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == c {
				n++
			}
		}
	}
	return n
}
