"""Write CIFAR-10 in the original cifar-10-batches-py layout.

usage: /usr/bin/python3 make_cifar_pickles.py OUT_DIR [--per-class N]
           [--variant py2|py3p2|py3p4]
       /usr/bin/python3 make_cifar_pickles.py --full OUT_DIR [--variant ...]

Images come from the CIFAR-10 JPEG copy (scripts/cifar_jpeg.py). The small
mode takes N images per class (default 20) of the test set into test_batch
and N/2 per class of the training set spread over data_batch_1..5; --full
writes the whole 10,000-image test set and the 50,000-image training set.
Files go to OUT_DIR/cifar-10-batches-py/, as pickled dicts with "data"
(uint8 numpy array [n, 3072]: the R plane, then G, then B, each 32x32 row
by row), "labels", "filenames", "batch_label", and batches.meta with
"label_names".

Variants: py2 (default) reproduces the original Python 2 files: protocol 2,
bytes keys, every str (and the array bytes) as SHORT_BINSTRING/BINSTRING.
py3p2 is Python 3 at protocol 2 with bytes keys (bytes become
_codecs.encode calls); py3p4 is Python 3 at protocol 4 with str keys.

In the small mode, OUT_DIR/expected/<batch>.u8 holds each batch's rows as
raw bytes and OUT_DIR/expected/<batch>.json its labels, for comparison.
"""
import argparse
import json
import os
import pickle
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import cifar_jpeg  # noqa: E402


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2's str opcodes, as cPickle did."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def text(s, variant):
    return s if variant == "py3p4" else s.encode("latin1")


def dump(obj, path, variant):
    with open(path, "wb") as f:
        if variant == "py2":
            Py2Pickler(f, protocol=2).dump(obj)
        else:
            pickle.dump(obj, f, protocol=2 if variant == "py3p2" else 4)


def rows(images):
    """[n, 32, 32, 3] RGB to CIFAR's [n, 3072] plane order."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))


def batch(images, labels, names, label, variant):
    k = lambda s: text(s, variant)  # noqa: E731
    return {k("batch_label"): k(label), k("labels"): [int(x) for x in labels],
            k("data"): rows(images), k("filenames"): [k(n.replace("/", "_")) for n in names]}


def write_split(out, split, images, labels, names, parts, variant, expected):
    order = np.random.RandomState(1 if split == "train" else 2).permutation(len(labels))
    images, labels = images[order], labels[order]
    names = [names[i] for i in order]
    files = ["test_batch"] if split == "test" else ["data_batch_%d" % i for i in range(1, 6)]
    for i, name in enumerate(files):
        sl = slice(i * len(labels) // parts, (i + 1) * len(labels) // parts)
        b = batch(images[sl], labels[sl], names[sl], "%s batch %d of %d" % (
            "testing" if split == "test" else "training", i + 1, parts), variant)
        dump(b, os.path.join(out, "cifar-10-batches-py", name), variant)
        if expected:
            with open(os.path.join(out, "expected", name + ".u8"), "wb") as f:
                f.write(rows(images[sl]).tobytes())
            with open(os.path.join(out, "expected", name + ".json"), "w") as f:
                json.dump([int(x) for x in labels[sl]], f)


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--full", metavar="OUT_DIR")
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--variant", choices=["py2", "py3p2", "py3p4"], default="py2")
    a = ap.parse_args()
    out = a.full or a.out
    if not out:
        sys.exit(__doc__)
    small = a.full is None
    os.makedirs(os.path.join(out, "cifar-10-batches-py"), exist_ok=True)
    if small:
        os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    test = cifar_jpeg.load("test", limit_per_class=a.per_class if small else None)
    write_split(out, "test", *test, 1, a.variant, small)
    train = cifar_jpeg.load("train", limit_per_class=max(1, a.per_class // 2) if small else None)
    write_split(out, "train", *train, 5, a.variant, small)
    k = lambda s: text(s, a.variant)  # noqa: E731
    meta = {k("num_cases_per_batch"): len(train[1]) // 5,
            k("label_names"): [k(c) for c in cifar_jpeg.CLASSES], k("num_vis"): 3072}
    dump(meta, os.path.join(out, "cifar-10-batches-py", "batches.meta"), a.variant)


if __name__ == "__main__":
    main()
