"""Writes the image fixtures of serve's decoding tests into testdata/images.

Every file shows the same 48x32 picture, ref.png: four solid quadrants (red,
green, blue, yellow from the top left), in one of the formats and variants
/classify accepts. The orientN.jpg files store the picture transformed so
that honouring EXIF orientation N shows ref.png again. Run it with the
system Python (Pillow 9.4): /usr/bin/python3 serve/testdata/make_images.py
"""
import io
import os
import sys

from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
W, H = 48, 32
QUADRANTS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]

# The transpose that undoes what EXIF orientation N asks a viewer to do.
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def reference():
    img = Image.new("RGB", (W, H))
    for i, colour in enumerate(QUADRANTS):
        x0, y0 = (i % 2) * W // 2, (i // 2) * H // 2
        img.paste(colour, (x0, y0, x0 + W // 2, y0 + H // 2))
    return img


def save(img, name, **kw):
    img.save(os.path.join(OUT, name), **kw)


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = reference()
    save(ref, "ref.png")
    save(ref, "baseline.jpg", quality=95)
    save(ref, "progressive.jpg", quality=95, progressive=True)
    save(ref.convert("L"), "gray.jpg", quality=95)
    save(ref.convert("L"), "gray.png")
    save(ref.convert("CMYK"), "cmyk.jpg", quality=95)
    save(ref, "ref.bmp")
    save(ref, "ref.tiff")
    save(ref, "lossless.webp", lossless=True)
    save(ref, "lossy.webp", quality=90)
    second = ImageOps.invert(ref)
    save(ref.quantize(8), "frames.gif", save_all=True,
         append_images=[second.quantize(8)], duration=100, loop=0)
    # Left half fully transparent (storing black), right half opaque.
    rgba = ref.convert("RGBA")
    rgba.paste((0, 0, 0, 0), (0, 0, W // 2, H))
    save(rgba, "alpha.png")
    save(rgba, "alpha-lossy.webp", quality=90)
    for n, op in STORE.items():
        stored = ref if op is None else ref.transpose(op)
        exif = Image.Exif()
        exif[0x0112] = n
        save(stored, "orient%d.jpg" % n, quality=95, exif=exif.tobytes())
        check = ImageOps.exif_transpose(Image.open(os.path.join(OUT, "orient%d.jpg" % n)))
        if check.size != (W, H):
            sys.exit("orientation %d: PIL shows %s" % (n, check.size))


if __name__ == "__main__":
    main()
