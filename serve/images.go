package serve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"

	"github.com/mocokit/mocokit/dataset"

	// The image formats /classify accepts. image/gif decodes a GIF's first
	// frame only; image/jpeg reads baseline and progressive JPEGs, grayscale,
	// YCbCr, CMYK and YCCK (Adobe) alike.
	_ "image/gif"

	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// acceptedFormats are the formats registered above, for error messages.
const acceptedFormats = "bmp, gif, jpeg, png, tiff, webp"

// decodeUpload decodes an uploaded image, turned upright as its EXIF
// orientation says (JPEG). The header is checked (checkHeader) before any
// pixel is decoded. Errors are *apiError: 415 for a format it does not
// read, 413 for too many pixels, 400 for a damaged file.
//
// Alpha and grayscale are left as they are: inference.Preprocess composites
// transparent pixels on white and expands gray to RGB for every caller.
func decodeUpload(data []byte, maxPixels int) (image.Image, error) {
	_, format, err := checkHeader(data, maxPixels)
	if err != nil {
		return nil, err
	}
	return decodePixels(data, format)
}

// checkHeader reads an image's header and refuses the image before any
// pixel is decoded if its declared size is over maxPixels, so that a small
// file that declares a huge image is refused without allocating it, or if
// it is a JPEG with more scans than maxJPEGScans.
func checkHeader(data []byte, maxPixels int) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return cfg, "", headerError(data, err, maxPixels)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return cfg, "", errorf(http.StatusBadRequest, "%s image has no pixels (%dx%d)",
			format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return cfg, "", tooManyPixels(format, int64(cfg.Width), int64(cfg.Height), maxPixels)
	}
	if format == "jpeg" {
		if n := jpegScans(data, maxJPEGScans); n > maxJPEGScans {
			return cfg, "", errorf(http.StatusBadRequest, "jpeg image has more than %d "+
				"scans; encoders write about ten, and each costs a pass over the whole "+
				"image; re-encode it", maxJPEGScans)
		}
	}
	return cfg, format, nil
}

func tooManyPixels(format string, width, height int64, maxPixels int) error {
	return errorf(http.StatusRequestEntityTooLarge, "%s image is %dx%d, %d pixels, more "+
		"than the limit of %d; send a smaller image", format, width, height,
		width*height, maxPixels)
}

// decodePixels decodes an image whose header checkHeader accepted.
func decodePixels(data []byte, format string) (image.Image, error) {
	// imaging.Decode decodes with the image package, then applies the EXIF
	// orientation (all eight values), which image/jpeg ignores.
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		if unsupported(err) {
			return nil, unsupportedVariant(format, err)
		}
		return nil, errorf(http.StatusBadRequest, "truncated or corrupt %s image: %v",
			format, err)
	}
	if format == "webp" {
		img = dataset.WebPRGB(img)
	}
	return img, nil
}

// headerError explains why an image header could not be read.
func headerError(data []byte, err error, maxPixels int) error {
	if pngOverflow(err) {
		// IHDR, the first chunk, holds the width and height at bytes 16-23.
		return tooManyPixels("png", int64(binary.BigEndian.Uint32(data[16:])),
			int64(binary.BigEndian.Uint32(data[20:])), maxPixels)
	}
	if unsupported(err) {
		return unsupportedVariant("", err)
	}
	if !errors.Is(err, image.ErrFormat) {
		return errorf(http.StatusBadRequest, "corrupt image header: %v", err)
	}
	if name := sniffUnsupported(data); name != "" {
		return errorf(http.StatusUnsupportedMediaType,
			"unsupported image format %s; accepted formats: %s", name, acceptedFormats)
	}
	kind := http.DetectContentType(data)
	if strings.HasPrefix(kind, "image/") {
		return errorf(http.StatusUnsupportedMediaType,
			"unsupported image format %s; accepted formats: %s", kind, acceptedFormats)
	}
	return errorf(http.StatusUnsupportedMediaType,
		"upload is not an image (looks like %s); accepted formats: %s", kind,
		acceptedFormats)
}

// unsupported tells whether a decoder recognised its format but not the
// variant: a lossless or 12-bit JPEG, a compressed BMP, an exotic TIFF.
func unsupported(err error) bool {
	var (
		j jpeg.UnsupportedError
		p png.UnsupportedError
		t tiff.UnsupportedError
	)
	return errors.As(err, &j) || errors.As(err, &p) || errors.As(err, &t) ||
		errors.Is(err, bmp.ErrUnsupported)
}

// pngOverflow tells whether image/png refused a header because its width
// times height (times 8 bytes) overflows an int: an image far over any
// pixel limit, not an unsupported variant.
func pngOverflow(err error) bool {
	var p png.UnsupportedError
	return errors.As(err, &p) && p == "dimension overflow"
}

func unsupportedVariant(format string, err error) error {
	if format != "" {
		format += " "
	}
	return errorf(http.StatusUnsupportedMediaType, "unsupported %simage variant (%v); "+
		"convert it to an ordinary png or jpeg; accepted formats: %s", format, err,
		acceptedFormats)
}

// signatures are image formats people upload that the server does not
// read, by the bytes they start with, so that the 415 names them.
var signatures = []struct {
	offset int
	magic  string
	name   string
}{
	{4, "ftypavif", "AVIF"},
	{4, "ftypavis", "AVIF"},
	{4, "ftypheic", "HEIC"},
	{4, "ftypheix", "HEIC"},
	{4, "ftyphevc", "HEIC"},
	{4, "ftypmif1", "HEIF"},
	{0, "\xff\x0a", "JPEG XL"},
	{0, "\x00\x00\x00\x0cJXL \x0d\x0a\x87\x0a", "JPEG XL"},
	{0, "\x00\x00\x00\x0cjP  \x0d\x0a\x87\x0a", "JPEG 2000"},
	{0, "8BPS", "Photoshop (PSD)"},
	{0, "II\x2a\x00\x10\x00\x00\x00CR", "Canon raw (CR2)"},
}

// sniffUnsupported names the unsupported image format data is in, or "".
func sniffUnsupported(data []byte) string {
	for _, s := range signatures {
		if len(data) >= s.offset+len(s.magic) &&
			string(data[s.offset:s.offset+len(s.magic)]) == s.magic {
			return s.name
		}
	}
	head := strings.ToLower(string(data[:min(len(data), 512)]))
	if strings.Contains(head, "<svg") {
		return "SVG"
	}
	return ""
}
