package serve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/mocokit/mocokit/inference"
	"github.com/mocokit/mocokit/models"
)

// The fixtures of serve/testdata/make_images.py: 48x32, four solid quadrants.
var (
	fixtureSize = image.Pt(48, 32)
	quadrants   = []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255},
		{255, 255, 0, 255}}
)

func readImageFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// quadrantColours samples the middle of each quadrant of img.
func quadrantColours(img image.Image) []color.RGBA {
	b := img.Bounds()
	var out []color.RGBA
	for i := range 4 {
		x := b.Min.X + (i%2)*b.Dx()/2 + b.Dx()/4
		y := b.Min.Y + (i/2)*b.Dy()/2 + b.Dy()/4
		out = append(out, color.RGBAModel.Convert(img.At(x, y)).(color.RGBA))
	}
	return out
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

// luma is PIL's convert("L") of a colour, as the grayscale fixtures hold it.
func luma(c color.RGBA) color.RGBA {
	y := uint8((int(c.R)*299 + int(c.G)*587 + int(c.B)*114 + 500) / 1000)
	return color.RGBA{y, y, y, 255}
}

func TestDecodeUploadReadsEveryFormatAndVariant(t *testing.T) {
	for _, c := range []struct {
		file string
		tol  int  // largest channel difference from the picture
		gray bool // stored as grayscale
	}{
		{"ref.png", 0, false}, {"ref.bmp", 0, false}, {"ref.tiff", 0, false},
		{"lossless.webp", 0, false}, {"lossy.webp", 4, false}, {"frames.gif", 0, false},
		{"baseline.jpg", 8, false}, {"progressive.jpg", 8, false},
		{"cmyk.jpg", 8, false}, {"gray.jpg", 4, true}, {"gray.png", 1, true},
	} {
		img, err := decodeUpload(readImageFixture(t, c.file), DefaultMaxPixels)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if img.Bounds().Size() != fixtureSize {
			t.Errorf("%s: size %v, want %v", c.file, img.Bounds().Size(), fixtureSize)
			continue
		}
		for i, got := range quadrantColours(img) {
			want := quadrants[i]
			if c.gray {
				want = luma(want)
			}
			if !near(got, want, c.tol) {
				t.Errorf("%s: quadrant %d is %v, want %v within %d", c.file, i, got, want,
					c.tol)
			}
		}
	}
}

func TestDecodeUploadHonoursEXIFOrientation(t *testing.T) {
	for n := 1; n <= 8; n++ {
		file := "orient" + string(rune('0'+n)) + ".jpg"
		data := readImageFixture(t, file)
		img, err := decodeUpload(data, DefaultMaxPixels)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if n >= 5 { // stored on its side: the file itself is 32x48
			cfg, _, _ := image.DecodeConfig(bytes.NewReader(data))
			if cfg.Width != fixtureSize.Y || cfg.Height != fixtureSize.X {
				t.Fatalf("%s: stored %dx%d, the fixture is not rotated", file, cfg.Width,
					cfg.Height)
			}
		}
		if img.Bounds().Size() != fixtureSize {
			t.Errorf("%s: upright size %v, want %v", file, img.Bounds().Size(), fixtureSize)
			continue
		}
		for i, got := range quadrantColours(img) {
			if !near(got, quadrants[i], 8) {
				t.Errorf("%s: quadrant %d is %v, want %v", file, i, got, quadrants[i])
			}
		}
	}
}

// preprocess48 is Preprocess at the fixtures' scale, so that two images are
// compared after exactly what /classify does to them.
func preprocess48(t *testing.T, img image.Image) []float32 {
	t.Helper()
	x, err := inference.Preprocess(img, models.Preprocess{InputSize: 32,
		Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestUploadAlphaIsCompositedOnWhite(t *testing.T) {
	img, err := decodeUpload(readImageFixture(t, "alpha.png"), DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	// What the picture is on a white page: the left half white.
	want := image.NewRGBA(image.Rectangle{Max: fixtureSize})
	ref, err := decodeUpload(readImageFixture(t, "ref.png"), DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	draw.Draw(want, want.Rect, ref, image.Point{}, draw.Src)
	draw.Draw(want, image.Rect(0, 0, 24, 32), image.White, image.Point{}, draw.Src)
	got, exp := preprocess48(t, img), preprocess48(t, want)
	for i := range exp {
		if got[i] != exp[i] {
			t.Fatalf("value %d: %g, composited on white %g", i, got[i], exp[i])
		}
	}
	if got[0] != 1 { // white, (1 - 0.5) / 0.5
		t.Fatalf("a transparent pixel became %g, want white (1)", got[0])
	}
}

func TestUploadGrayscaleIsExpandedToRGB(t *testing.T) {
	img, err := decodeUpload(readImageFixture(t, "gray.png"), DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	x := preprocess48(t, img)
	plane := len(x) / 3
	for i := range plane {
		if x[i] != x[plane+i] || x[i] != x[2*plane+i] {
			t.Fatalf("pixel %d: channels %g %g %g, want equal", i, x[i], x[plane+i],
				x[2*plane+i])
		}
	}
	if x[0] == x[plane-1] {
		t.Fatal("the gray image lost its quadrants")
	}
}

func TestDecodeUploadRefusesOtherFormatsWithTheList(t *testing.T) {
	const list = "accepted formats: bmp, gif, jpeg, png, tiff, webp"
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("name,label\ncat,3\n"), "upload is not an image (looks like text/plain"},
		{"pdf", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj"), "upload is not an image (looks like " +
			"application/pdf)"},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`),
			"unsupported image format SVG"},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
			"unsupported image format HEIC"},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"),
			"unsupported image format AVIF"},
		{"ico", []byte("\x00\x00\x01\x00\x01\x00\x10\x10"), "unsupported image format " +
			"image/x-icon"},
		{"lossless jpeg", []byte("\xff\xd8\xff\xc3\x00\x0b\x08\x00\x10\x00\x10\x01\x01" +
			"\x11\x00\xff\xd9"), "unsupported image variant (unsupported JPEG feature"},
		{"12-bit jpeg", []byte("\xff\xd8\xff\xc1\x00\x0b\x0c\x00\x10\x00\x10\x01\x01" +
			"\x11\x00\xff\xd9"), "unsupported image variant (unsupported JPEG feature"},
	} {
		_, err := decodeUpload(c.data, DefaultMaxPixels)
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != http.StatusUnsupportedMediaType ||
			!strings.Contains(ae.message, c.want) || !strings.Contains(ae.message, list) {
			t.Errorf("%s: %v, want 415 %q and the list", c.name, err, c.want)
		}
	}
}

func TestDecodeUploadRefusesDamagedImages(t *testing.T) {
	for _, file := range []string{"baseline.jpg", "progressive.jpg", "ref.png",
		"frames.gif", "ref.bmp", "ref.tiff", "lossless.webp"} {
		data := readImageFixture(t, file)
		_, err := decodeUpload(data[:len(data)/3], DefaultMaxPixels) // inside frame 1
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != http.StatusBadRequest {
			t.Errorf("%s cut short: %v, want a 400", file, err)
		}
	}
}

// hugeHeaders are files of each format whose header declares far more
// pixels than the default limit, with no pixel data behind it.
func hugeHeaders(t *testing.T) map[string][]byte {
	out := map[string][]byte{"png": hugePNGHeader(t)}

	jpg := bytes.Clone(readImageFixture(t, "baseline.jpg"))
	sof := bytes.Index(jpg, []byte{0xff, 0xc0})
	binary.BigEndian.PutUint16(jpg[sof+5:], 60000) // height
	binary.BigEndian.PutUint16(jpg[sof+7:], 60000) // width
	out["jpeg"] = jpg

	gif := []byte("GIF89a\x60\xea\x60\xea\x00\x00\x00")
	out["gif"] = gif

	bmpHeader := bytes.Clone(readImageFixture(t, "ref.bmp")[:54])
	binary.LittleEndian.PutUint32(bmpHeader[18:], 60000)
	binary.LittleEndian.PutUint32(bmpHeader[22:], 60000)
	out["bmp"] = bmpHeader

	webp := bytes.Clone(readImageFixture(t, "lossless.webp"))
	vp8l := bytes.Index(webp, []byte("VP8L")) + 8
	// After the 0x2f signature: 14 bits of width-1, 14 of height-1.
	binary.LittleEndian.PutUint32(webp[vp8l+1:],
		binary.LittleEndian.Uint32(webp[vp8l+1:])|(1<<28-1))
	out["webp"] = webp

	out["tiff"] = hugeTIFF(t)
	return out
}

// hugeTIFF is a small TIFF whose IFD says 60000x60000.
func hugeTIFF(t *testing.T) []byte {
	var b bytes.Buffer
	if err := tiff.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2)), nil); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	le := binary.LittleEndian // x/image/tiff writes "II", little-endian
	ifd := int(le.Uint32(data[4:]))
	for i := range int(le.Uint16(data[ifd:])) {
		e := ifd + 2 + 12*i
		if tag := le.Uint16(data[e:]); tag == 256 || tag == 257 { // ImageWidth, ImageLength
			if le.Uint16(data[e+2:]) == 3 { // SHORT
				le.PutUint16(data[e+8:], 60000)
			} else {
				le.PutUint32(data[e+8:], 60000)
			}
		}
	}
	return data
}

func TestDecodeUploadChecksPixelsBeforeDecodingEveryFormat(t *testing.T) {
	for format, data := range hugeHeaders(t) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decodeUpload(data, DefaultMaxPixels)
		runtime.ReadMemStats(&after)
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != http.StatusRequestEntityTooLarge ||
			!strings.Contains(ae.message, format+" image is ") ||
			!strings.Contains(ae.message, "more than the limit of 16777216") {
			t.Errorf("%s: %v, want a 413 naming the size", format, err)
		}
		// The declared image would need gigabytes; the check reads a header.
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
			t.Errorf("%s: decoding allocated %d bytes before refusing", format, grown)
		}
	}
}

func TestClassifyAnswersEveryFixtureFormat(t *testing.T) {
	s, _ := newServer(t, classifier, nil)
	files, err := filepath.Glob(filepath.Join("testdata", "images", "*"))
	if err != nil || len(files) != 21 { // what make_images.py writes
		t.Fatalf("%d fixtures: %v", len(files), err)
	}
	for _, path := range files {
		body, ct := multipartBody(t, nil, "img", readImageFixture(t, filepath.Base(path)))
		var got classifyAnswer
		if rec := post(t, s.Handler(), body, ct, &got); rec.Code != http.StatusOK ||
			len(got.Predictions) != 5 {
			t.Errorf("%s: status %d %q, %d predictions", path, rec.Code, got.Error,
				len(got.Predictions))
		}
	}
}

func TestDecodeUploadKeepsLossyWebPAlpha(t *testing.T) {
	img, err := decodeUpload(readImageFixture(t, "alpha-lossy.webp"), DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	got := quadrantColours(img)
	if got[0].A != 0 || got[2].A != 0 {
		t.Errorf("left half %v %v, want transparent", got[0], got[2])
	}
	// Opaque on the right, in BT.601 studio range as libwebp decodes it.
	if !near(got[1], quadrants[1], 4) || !near(got[3], quadrants[3], 4) {
		t.Errorf("right half %v %v, want %v %v", got[1], got[3], quadrants[1],
			quadrants[3])
	}
}

func TestDecodeUploadRefusesPNGWhoseSizeOverflowsAs413(t *testing.T) {
	_, err := decodeUpload(pngHeader(t, math.MaxInt32, math.MaxInt32), DefaultMaxPixels)
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusRequestEntityTooLarge ||
		!strings.Contains(ae.message, "png image is 2147483647x2147483647") ||
		!strings.Contains(ae.message, "more than the limit of 16777216") {
		t.Fatalf("%v, want a 413 naming the size", err)
	}
}

// withScans is progressive.jpg with its last scan repeated until it has n.
func withScans(t *testing.T, n int) []byte {
	jpg := readImageFixture(t, "progressive.jpg")
	last := bytes.LastIndex(jpg, []byte{0xff, 0xda})
	eoi := bytes.LastIndex(jpg, []byte{0xff, 0xd9})
	out := bytes.Clone(jpg[:eoi])
	for range n - jpegScans(jpg, n) {
		out = append(out, jpg[last:eoi]...)
	}
	return append(out, jpg[eoi:]...)
}

func TestDecodeUploadRefusesJPEGWithTooManyScans(t *testing.T) {
	if _, err := decodeUpload(withScans(t, maxJPEGScans), DefaultMaxPixels); err != nil {
		t.Fatalf("%d scans: %v", maxJPEGScans, err)
	}
	_, err := decodeUpload(withScans(t, maxJPEGScans+1), DefaultMaxPixels)
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusBadRequest ||
		!strings.Contains(ae.message, "jpeg image has more than 100 scans") {
		t.Fatalf("%d scans: %v, want a 400 naming the scans", maxJPEGScans+1, err)
	}
}

func TestJPEGScansCountsMarkersNotSegmentBytes(t *testing.T) {
	prog := readImageFixture(t, "progressive.jpg")
	sos := []byte{0xff, 0xda}
	if got, want := jpegScans(prog, 1000), bytes.Count(prog, sos); got != want || got < 2 {
		t.Fatalf("progressive.jpg: %d scans, %d SOS markers", got, want)
	}
	// An APP15 segment full of SOS-like bytes, as an EXIF thumbnail holds.
	payload := bytes.Repeat(sos, 200)
	app := append([]byte{0xff, 0xef, 0, 0}, payload...)
	binary.BigEndian.PutUint16(app[2:], uint16(2+len(payload)))
	base := readImageFixture(t, "baseline.jpg")
	jpg := append(append(bytes.Clone(base[:2]), app...), base[2:]...)
	if n := jpegScans(jpg, maxJPEGScans); n != 1 {
		t.Fatalf("baseline.jpg with 200 SOS pairs in an APP15 segment: %d scans", n)
	}
	if _, err := decodeUpload(jpg, DefaultMaxPixels); err != nil {
		t.Fatal(err)
	}
}
