"""Write the four kinds of PyTorch file mocokit converts, with references.

Usage: /usr/bin/python3 scripts/make_checkpoints.py OUT_DIR [--train-seconds S]

A torchvision resnet18 with a 10-way fc (the original baseline's recipe) is
trained for --train-seconds on the CIFAR-10 JPEG copy so that its
predictions are far from random. Its weights then fill the files below; the
linear-probe and MoCo ones, which see 224x224 inputs, get batch-norm
statistics measured on 224x224 images:
  resnet18[_legacy].pth         the whole pickled model, torch.save(model)
  state_dict[_legacy].pth       its plain state_dict
  model_best[_legacy].pth.tar   a main_lincls.py checkpoint (1000-way fc,
                                rows 0-9 trained, module.* names)
  checkpoint_0199[_legacy].pth.tar  a main_moco.py checkpoint (MoCo v1)
  checkpoint_mlp.pth.tar        a MoCo v2 checkpoint (--mlp head)
"_legacy" files use _use_new_zipfile_serialization=False.

References, all little-endian:
  images32.u8    the first 100 test images of each class, [1000, 32, 32, 3]
  images224.u8   the same resized to 224x224 by PIL (bilinear), as
                 torchvision's Resize(224) does
  labels.i64     their labels
  NAME.out.f32   PyTorch's eval-mode output of each model on them, [1000, D]
                 (for lincls, the first 10 of its 1000 outputs)
  test_acc.json  top-1 accuracy (percent and count) of the trained model on
                 all 10,000 test images (32x32, mean/std 0.5)
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cifar_jpeg  # noqa: E402


def normalise(images):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    return x.sub(0.5).div(0.5)


def train(seconds, seed):
    torch.manual_seed(seed)
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Linear(512, 10)
    images, labels, _ = cifar_jpeg.load("train")
    x, y = normalise(images), torch.from_numpy(labels)
    opt = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.5)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    start, steps = time.time(), 0
    perm = torch.randperm(len(x))
    while time.time() - start < seconds:
        i = (steps * 32) % len(x)
        idx = perm[i:i + 32]
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    print("trained %d steps in %.0fs, last loss %.3f" % (
        steps, time.time() - start, loss.item()), flush=True)
    return model.eval(), images[perm[:256].numpy()]


def calibrated_at_224(trained, images):
    """A copy of trained whose batch-norm statistics are those of images
    resized to 224x224, as if it had been trained at that size: without
    this, 224x224 inputs give activations in the hundreds, where float32
    rounding alone exceeds the 1e-4 the parity tests ask for."""
    model = copy.deepcopy(trained)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches
    model.train()
    with torch.no_grad():
        for i in range(0, len(images), 64):
            model(normalise(resize224(images[i:i + 64])))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    return model.eval()


def save(obj, out, name, legacy):
    if legacy:
        base, ext = name.split(".", 1)
        name = base + "_legacy." + ext
    torch.save(obj, os.path.join(out, name),
               _use_new_zipfile_serialization=not legacy)


def lincls_model(trained):
    gen = torch.Generator().manual_seed(1)
    model = torchvision.models.resnet18()
    state = {k: v for k, v in trained.state_dict().items() if not k.startswith("fc.")}
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        model.fc.weight.normal_(0, 0.01, generator=gen)
        model.fc.bias.zero_()
        model.fc.weight[:10] = trained.fc.weight
        model.fc.bias[:10] = trained.fc.bias
    return model.eval()


def with_momentum(opt, loss):
    """Give opt momentum buffers, as after training, leaving the weights."""
    lrs = [g["lr"] for g in opt.param_groups]
    for g in opt.param_groups:
        g["lr"] = 0.0
    loss().backward()
    opt.step()
    for g, lr in zip(opt.param_groups, lrs):
        g["lr"] = lr


def lincls_checkpoint(model):
    opt = torch.optim.SGD(model.fc.parameters(), lr=30.0, momentum=0.9)
    with_momentum(opt, lambda: model.fc(torch.randn(2, 512)).sum())
    state = {"module." + k: v for k, v in model.state_dict().items()}
    return {"epoch": 100, "arch": "resnet18", "state_dict": state,
            "best_acc1": torch.tensor(64.5), "optimizer": opt.state_dict()}


def moco_encoder(trained, mlp):
    enc = torchvision.models.resnet18(num_classes=128)
    state = {k: v for k, v in trained.state_dict().items() if not k.startswith("fc.")}
    enc.load_state_dict(state, strict=False)
    if mlp:
        enc.fc = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                     enc.fc)
    return enc.eval()


def moco_checkpoint(enc_q, queue_len):
    enc_k = copy.deepcopy(enc_q)
    opt = torch.optim.SGD(enc_q.parameters(), lr=0.03, momentum=0.9,
                          weight_decay=1e-4)
    with_momentum(opt, lambda: enc_q(torch.randn(4, 3, 32, 32)).sum())
    state = {}
    for k, v in enc_q.state_dict().items():
        state["module.encoder_q." + k] = v
    for k, v in enc_k.state_dict().items():
        state["module.encoder_k." + k] = v
    queue = torch.nn.functional.normalize(torch.randn(128, queue_len), dim=0)
    state["module.queue"] = queue
    state["module.queue_ptr"] = torch.zeros(1, dtype=torch.long)
    return {"epoch": 200, "arch": "resnet18", "state_dict": state,
            "optimizer": opt.state_dict()}


def outputs(model, images):
    with torch.no_grad():
        return torch.cat([model(normalise(images[i:i + 100]))
                          for i in range(0, len(images), 100)]).numpy()


def test_accuracy(model):
    images, labels, _ = cifar_jpeg.load("test")
    pred = outputs(model, images).argmax(1)
    correct = int((pred == labels).sum())
    return {"correct": correct, "total": len(labels),
            "top1": 100.0 * correct / len(labels)}


def resize224(images):
    return np.stack([np.asarray(Image.fromarray(im).resize((224, 224),
                                                            Image.BILINEAR))
                     for im in images])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train-seconds", type=float, default=120)
    ap.add_argument("--queue", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    trained, calibration = train(args.train_seconds, args.seed)
    at224 = calibrated_at_224(trained, calibration)
    lincls = lincls_model(at224)
    moco_q = moco_encoder(at224, mlp=False)
    moco_mlp = moco_encoder(at224, mlp=True)
    for legacy in (False, True):
        save(trained, args.out, "resnet18.pth", legacy)
        save(trained.state_dict(), args.out, "state_dict.pth", legacy)
        save(lincls_checkpoint(copy.deepcopy(lincls)), args.out,
             "model_best.pth.tar", legacy)
        save(moco_checkpoint(copy.deepcopy(moco_q), args.queue), args.out,
             "checkpoint_0199.pth.tar", legacy)
    save(moco_checkpoint(copy.deepcopy(moco_mlp), args.queue), args.out,
         "checkpoint_mlp.pth.tar", False)

    images, labels, _ = cifar_jpeg.load("test", limit_per_class=100)
    big = resize224(images)
    images.tofile(os.path.join(args.out, "images32.u8"))
    big.tofile(os.path.join(args.out, "images224.u8"))
    labels.tofile(os.path.join(args.out, "labels.i64"))
    feats = copy.deepcopy(moco_q)
    feats.fc = torch.nn.Identity()
    refs = {"resnet18": (trained, images), "lincls": (lincls, big),
            "moco": (moco_q, big), "moco_features": (feats, big),
            "moco_mlp": (moco_mlp, big)}
    for name, (model, inputs) in refs.items():
        out = outputs(model, inputs).astype("<f4")
        if name == "lincls":
            out = np.ascontiguousarray(out[:, :10])  # the CIFAR-10 rows
        out.tofile(os.path.join(args.out, name + ".out.f32"))
    with open(os.path.join(args.out, "test_acc.json"), "w") as f:
        json.dump(test_accuracy(trained), f)
    print("wrote", args.out, flush=True)


if __name__ == "__main__":
    main()
