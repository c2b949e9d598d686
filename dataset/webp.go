package dataset

import "image"

// Lossy WebP stores Y'CbCr in the studio range of ITU-R BT.601 (Y' from 16
// to 235), but golang.org/x/image/webp returns it as an image.YCbCr, whose
// colour model is JPEG's full-range one: decoded as it comes, white turns
// light gray and red (255, 0, 0) turns (239, 15, 14). WebPRGB converts with
// libwebp's own fixed-point formulas (src/dsp/yuv.h) instead.

// Fixed-point constants of libwebp's VP8YUVToR, VP8YUVToG and VP8YUVToB.
const (
	yuvFix2  = 6
	yuvMask2 = (256 << yuvFix2) - 1
)

func multHi(v, coeff int) int { return (v * coeff) >> 8 }

func clip8(v int) uint8 {
	switch {
	case v&^yuvMask2 == 0:
		return uint8(v >> yuvFix2)
	case v < 0:
		return 0
	}
	return 255
}

// yuvToRGB is one pixel of libwebp's conversion, u being Cb and v Cr.
func yuvToRGB(y, u, v uint8) (r, g, b uint8) {
	yy := multHi(int(y), 19077)
	r = clip8(yy + multHi(int(v), 26149) - 14234)
	g = clip8(yy - multHi(int(u), 6419) - multHi(int(v), 13320) + 8708)
	b = clip8(yy + multHi(int(u), 33050) - 17685)
	return r, g, b
}

// WebPRGB converts a lossy WebP's Y'CbCr (with or without alpha) to NRGBA;
// other images (a lossless WebP is NRGBA already) are returned as they are.
func WebPRGB(img image.Image) image.Image {
	var (
		ycc   *image.YCbCr
		alpha func(x, y int) uint8
	)
	switch m := img.(type) {
	case *image.YCbCr:
		ycc, alpha = m, func(int, int) uint8 { return 0xff }
	case *image.NYCbCrA:
		ycc = &m.YCbCr
		alpha = func(x, y int) uint8 { return m.A[m.AOffset(x, y)] }
	default:
		return img
	}
	b := ycc.Rect
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := ycc.COffset(x, y)
			r, g, bl := yuvToRGB(ycc.Y[ycc.YOffset(x, y)], ycc.Cb[c], ycc.Cr[c])
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = r, g, bl, alpha(x, y)
		}
	}
	return out
}
