"""Write the models and expected outputs that serve's and inference's tests use.

Usage: /usr/bin/python3 make_model.py OUT_DIR [PER_CLASS]

Builds torchvision's resnet18 with a seeded random init and
  - classifier.onnx: a 10-way fc fitted for a few hundred steps on the pooled
    features of 100 training images per class, so that its predictions vary;
  - embedding.onnx: the same trunk with a 128-way fc and no class names;
both exported with opset 13, input "input" and a dynamic batch, and carrying
mocokit's metadata_props (models.Metadata.Props). It writes PER_CLASS
(default 5) test images per class as PNG, decoded from the JPEG copy by PIL,
under OUT_DIR/dataset/<class>/NNNN.png, and PyTorch's outputs for them in
OUT_DIR/expected.json.
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import cifar_jpeg  # noqa: E402

MEAN, STD, SIZE = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 32


def to_input(images):
    """uint8 [N,32,32,3] -> normalised float [N,3,32,32], like ToTensor+Normalize."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def props(classes, head, output):
    return {
        "mocokit.arch": "resnet18",
        "mocokit.stem": "imagenet",
        "mocokit.head": head,
        "mocokit.output": output,
        "mocokit.classes": json.dumps(classes),
        "mocokit.input_size": str(SIZE),
        "mocokit.mean": json.dumps(MEAN),
        "mocokit.std": json.dumps(STD),
        "mocokit.source": "serve/testdata/make_model.py (seed 0)",
    }


def export(model, path, output, meta):
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(model, dummy, path, opset_version=13,
                      input_names=["input"], output_names=[output],
                      dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}})
    m = onnx.load(path)
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, path)


def fit_fc(model, images, labels):
    """Fit the fc on frozen pooled features, so predictions are not constant."""
    fc = model.fc
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        feats = model(to_input(images))
    model.fc = fc
    opt = torch.optim.Adam(fc.parameters(), lr=1e-2)
    target = torch.from_numpy(labels)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(fc(feats), target)
        loss.backward()
        opt.step()


def write_resized(out, images):
    """Write images upscaled to 45x45 and what torchvision's bilinear Resize to
    32x32, ToTensor and Normalize make of them, to check the resize path."""
    tf = torchvision.transforms.Compose([
        torchvision.transforms.Resize((SIZE, SIZE)),
        torchvision.transforms.ToTensor(),
        torchvision.transforms.Normalize(MEAN, STD)])
    os.makedirs(os.path.join(out, "resized"), exist_ok=True)
    result = []
    for i, img in enumerate(images):
        big = Image.fromarray(img).resize((45, 45), Image.BICUBIC)
        name = os.path.join("resized", "%d.png" % i)
        big.save(os.path.join(out, name))
        result.append((name, tf(Image.open(os.path.join(out, name))).flatten()))
    return result


def main():
    out = sys.argv[1]
    per_class = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.manual_seed(0)
    classes = cifar_jpeg.CLASSES
    clf = torchvision.models.resnet18(num_classes=10).eval()
    train_x, train_y, _ = cifar_jpeg.load("train", limit_per_class=100)
    fit_fc(clf, train_x, train_y)
    emb = torchvision.models.resnet18(num_classes=128).eval()
    export(clf, os.path.join(out, "classifier.onnx"), "logits",
           props(classes, "classifier", "logits"))
    export(emb, os.path.join(out, "embedding.onnx"), "embedding",
           props([], "moco", "embedding"))

    images, labels, names = cifar_jpeg.load("test", limit_per_class=per_class)
    files = []
    for img, name in zip(images, names):
        path = os.path.join(out, "dataset", name.replace(".jpg", ".png"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(img).save(path)
        files.append(os.path.relpath(path, out))
    with torch.no_grad():
        x = to_input(images)
        logits = clf(x).numpy().astype(np.float64)
        embedding = emb(x).numpy().astype(np.float64)
    resized = write_resized(out, images[:3])
    top2 = np.sort(logits, axis=1)[:, -2:]
    json.dump({
        "files": files,
        "labels": labels.tolist(),
        "logits": logits.tolist(),
        "embedding": embedding.tolist(),
        "pred": logits.argmax(axis=1).tolist(),
        "resized_files": [f for f, _ in resized],
        "resized_input": [x.tolist() for _, x in resized],
        "min_margin": float((top2[:, 1] - top2[:, 0]).min()),
    }, open(os.path.join(out, "expected.json"), "w"))


if __name__ == "__main__":
    main()
