"""Model, images and PyTorch timings for scripts/bench_serve.sh.

Usage: /usr/bin/python3 bench_serve.py OUT_DIR SECONDS

Writes OUT_DIR/model.onnx (torchvision's resnet18, 10 classes, seeded
weights, exported with mocokit's metadata like serve/testdata/make_model.py),
OUT_DIR/images/NNN.png (256 CIFAR-10 test images, lossless, so that every
path sees the same pixels), and OUT_DIR/torch.json: PyTorch eager on the same
model and images at concurrency 1, 8 and 64, each round of C images run in
batches of at most 32 (the server's --max-batch), an image's latency being
the time until its batch is done.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "serve", "testdata"))
import cifar_jpeg  # noqa: E402
import make_model  # noqa: E402

MAX_BATCH = 32


def bench(model, x, concurrency, seconds):
    with torch.no_grad():  # warm up: the first runs allocate and pick kernels
        model(x[:min(concurrency, MAX_BATCH)])
    lat, images, start = [], 0, time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        for b in range(0, concurrency, MAX_BATCH):
            n = min(MAX_BATCH, concurrency - b)
            idx = [(i + k) % len(x) for k in range(n)]
            i += n
            with torch.no_grad():
                model(x[idx])
            lat += [time.perf_counter() - t0] * n
        images += concurrency
    elapsed = time.perf_counter() - start
    lat = np.array(lat) * 1000
    return {"images_per_s": images / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99))}


def main():
    out, seconds = sys.argv[1], float(sys.argv[2])
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = torchvision.models.resnet18(num_classes=10).eval()
    make_model.export(model, os.path.join(out, "model.onnx"), "logits",
                      make_model.props(cifar_jpeg.CLASSES, "classifier", "logits"))
    images, _, _ = cifar_jpeg.load("test", limit_per_class=26)
    images = images[:256]
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    for k, img in enumerate(images):
        Image.fromarray(img).save(os.path.join(out, "images", "%03d.png" % k))
    x = make_model.to_input(images)
    result = {str(c): bench(model, x, c, seconds) for c in (1, 8, 64)}
    json.dump(result, open(os.path.join(out, "torch.json"), "w"))


if __name__ == "__main__":
    main()
