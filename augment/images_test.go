package augment

import (
	"archive/tar"
	"image"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noiseImage is a w x h image of uniformly random bytes.
func noiseImage(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 1))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

// sceneImage is a w x h picture with what colour maths trips on: smooth
// gradients, flat gray, pure primaries and secondaries, black and white.
func sceneImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	primaries := [][3]uint8{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0},
		{0, 255, 255}, {255, 0, 255}, {0, 0, 0}, {255, 255, 255}, {128, 128, 128}}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := img.Pix[img.PixOffset(x, y):]
			switch {
			case y < h/3:
				p[0], p[1], p[2] = uint8(x*255/(w-1)), uint8(y*255/(h-1)), uint8(255-x*5)
			case y < 2*h/3:
				c := primaries[(x/4)%len(primaries)]
				p[0], p[1], p[2] = c[0], c[1], c[2]
			default:
				p[0], p[1], p[2] = uint8(200-x), uint8(60+x*3), uint8(x*x)
			}
			p[3] = 255
		}
	}
	return img
}

// cifarDir is the CIFAR-10 JPEG copy: $MOCOKIT_CIFAR_JPEG, else the
// shared folder next to the repository.
func cifarDir() string {
	if d := os.Getenv("MOCOKIT_CIFAR_JPEG"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "data", "cifar10-jpeg")
}

// cifarImages returns the first n images of the CIFAR-10 test archive as
// NRGBA, or nil when the archive is absent.
func cifarImages(t *testing.T, n int) []*image.NRGBA {
	t.Helper()
	f, err := os.Open(filepath.Join(cifarDir(), "test.tar"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []*image.NRGBA
	tr := tar.NewReader(f)
	for len(out) < n {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("reading test.tar: %v", err)
		}
		if !strings.HasSuffix(hdr.Name, ".jpg") {
			continue
		}
		img, err := jpeg.Decode(tr)
		if err != nil {
			t.Fatalf("%s: %v", hdr.Name, err)
		}
		rgba := image.NewNRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
		out = append(out, rgba)
	}
	return out
}
