package dataset

import (
	"bytes"
	"fmt"
	"image"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"

	// Image formats a dataset (and the server, which decodes through image
	// too) may hold.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// MaxImagePixels bounds the declared size of one dataset image, checked
// before decoding so that a corrupt header cannot make it allocate gigabytes.
const MaxImagePixels = 1 << 26

// imageExts are the file name extensions taken as images.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true,
	".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

func isImageName(name string) bool {
	return imageExts[strings.ToLower(filepath.Ext(name))]
}

// decodeImage decodes one image file's bytes; name is for errors.
func decodeImage(name string, data []byte) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("undecodable image %q: %w", name, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, fmt.Errorf("image %q is %dx%d, more than %d pixels", name,
			cfg.Width, cfg.Height, MaxImagePixels)
	}
	// As the server does: EXIF orientation applied, so that an evaluation
	// sees a photo the way /classify does.
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("undecodable image %q: %w", name, err)
	}
	if format == "webp" {
		img = WebPRGB(img)
	}
	return img, nil
}
