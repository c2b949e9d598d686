"""Load the CIFAR-10 JPEG copy (train.tar / test.tar) as numpy arrays.

Images are decoded with PIL and returned as uint8 [N, 32, 32, 3] in RGB,
ordered by class index and then by file name, with int64 labels.
"""
import io
import os
import tarfile

import numpy as np
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]


def default_dir():
    """$MOCOKIT_CIFAR_JPEG, else shared/data/cifar10-jpeg beside the repository."""
    if os.environ.get("MOCOKIT_CIFAR_JPEG"):
        return os.environ["MOCOKIT_CIFAR_JPEG"]
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "shared", "data", "cifar10-jpeg")


def load(split, data_dir=None, limit_per_class=None):
    """Return (images, labels, names) of split 'train' or 'test'."""
    path = os.path.join(data_dir or default_dir(), split + ".tar")
    entries = []
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if not member.isfile() or len(parts) < 3:
                continue
            cls = parts[-2]
            if cls not in CLASSES:
                continue
            entries.append((CLASSES.index(cls), parts[-1], member))
        entries.sort(key=lambda e: (e[0], e[1]))
        if limit_per_class:
            kept, seen = [], {}
            for e in entries:
                if seen.get(e[0], 0) < limit_per_class:
                    kept.append(e)
                    seen[e[0]] = seen.get(e[0], 0) + 1
            entries = kept
        images = np.empty((len(entries), 32, 32, 3), dtype=np.uint8)
        for i, (_, _, member) in enumerate(entries):
            data = tar.extractfile(member).read()
            images[i] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    labels = np.array([e[0] for e in entries], dtype=np.int64)
    names = ["%s/%s" % (CLASSES[e[0]], e[1]) for e in entries]
    return images, labels, names
