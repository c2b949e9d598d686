"""Reference outputs of torchvision's functional transforms on PIL images.

Usage: reference.py DIR. DIR/cases.json lists {"name", "input", "op",
"args"}; for each case this writes DIR/<name>.out: the result as raw
uint8 RGB rows, or for op "tensor" as float32 CHW (native byte order).
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image, ImageFilter


def apply(op, img, a):
    if op == "crop":
        return F.crop(img, a[0], a[1], a[2], a[3])
    if op == "pad":
        return F.pad(img, a[0])
    if op == "hflip":
        return F.hflip(img)
    if op == "center_crop":
        return F.center_crop(img, a[0])
    if op == "resize":
        return F.resize(img, [a[1], a[0]])
    if op == "resize_short":
        return F.resize(img, a[0])
    if op == "resized_crop":
        return F.resized_crop(img, a[0], a[1], a[2], a[3], [a[4], a[4]])
    if op == "brightness":
        return F.adjust_brightness(img, a[0])
    if op == "contrast":
        return F.adjust_contrast(img, a[0])
    if op == "saturation":
        return F.adjust_saturation(img, a[0])
    if op == "hue":
        return F.adjust_hue(img, a[0])
    if op == "grayscale":
        return F.rgb_to_grayscale(img, num_output_channels=3)
    if op == "blur":
        # MoCo v2's GaussianBlur with its sigma fixed.
        return img.filter(ImageFilter.GaussianBlur(radius=a[0]))
    if op == "tensor":
        return F.normalize(F.to_tensor(img), a[0:3], a[3:6])
    raise ValueError("unknown op " + op)


def main(folder):
    with open(os.path.join(folder, "cases.json")) as f:
        cases = json.load(f)
    for c in cases:
        img = Image.open(os.path.join(folder, c["input"])).convert("RGB")
        out = apply(c["op"], img, c["args"])
        if isinstance(out, torch.Tensor):
            data = out.numpy().astype(np.float32).tobytes()
        else:
            data = np.asarray(out.convert("RGB"), dtype=np.uint8).tobytes()
        with open(os.path.join(folder, c["name"] + ".out"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
