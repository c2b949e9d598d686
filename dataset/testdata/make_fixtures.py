"""Write the CIFAR-10 fixtures that dataset's tests compare against.

Usage: /usr/bin/python3 make_fixtures.py OUT_DIR PER_CLASS

From the CIFAR-10 JPEG copy (scripts/cifar_jpeg.py finds it), decoded by PIL:
  - OUT_DIR/pil_test.rgb: PER_CLASS test images per class, 32x32x3 bytes each
    (RGB, row-major), in class then file name order; their labels and names
    in OUT_DIR/pil_test.json;
  - OUT_DIR/cifar-10-batches-bin/: test_batch.bin with the same images, and
    data_batch_1.bin .. data_batch_5.bin with PER_CLASS training images per
    class spread over the five files, in CIFAR-10's binary record format
    (label byte, then the R, G and B planes); batches.meta.txt with the names.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import cifar_jpeg  # noqa: E402


def write_batch(path, images, labels):
    with open(path, "wb") as f:
        for img, label in zip(images, labels):
            f.write(bytes([int(label)]))
            f.write(np.ascontiguousarray(img.transpose(2, 0, 1)).tobytes())


def main():
    out, per_class = sys.argv[1], int(sys.argv[2])
    test_x, test_y, test_names = cifar_jpeg.load("test", limit_per_class=per_class)
    test_x.tofile(os.path.join(out, "pil_test.rgb"))
    json.dump({"labels": test_y.tolist(), "names": test_names},
              open(os.path.join(out, "pil_test.json"), "w"))
    bin_dir = os.path.join(out, "cifar-10-batches-bin")
    os.makedirs(bin_dir, exist_ok=True)
    write_batch(os.path.join(bin_dir, "test_batch.bin"), test_x, test_y)
    train_x, train_y, _ = cifar_jpeg.load("train", limit_per_class=per_class)
    for k in range(5):
        write_batch(os.path.join(bin_dir, "data_batch_%d.bin" % (k + 1)),
                    train_x[k::5], train_y[k::5])
    with open(os.path.join(bin_dir, "batches.meta.txt"), "w") as f:
        f.write("\n".join(cifar_jpeg.CLASSES) + "\n\n")


if __name__ == "__main__":
    main()
