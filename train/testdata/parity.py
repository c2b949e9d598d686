"""Writes PyTorch reference values for mocokit's GoMLX parity tests.

Usage: parity.py OUT_DIR

For each stem (imagenet: torchvision resnet18; cifar: 3x3/1 conv1 and no max
pool) it writes OUT_DIR/<stem>/:
  init.pt   state_dict the Go side starts from (running statistics randomised
            so evaluation mode differs from training mode)
  batch.pt  {"x": [8,3,32,32], "y": [8]}
  ref.pt    eval_logits, train_logits, loss, grad.<name> for every trainable
            parameter, and after.<name> for the whole state_dict after one
            SGD step (lr 0.1, momentum 0.9, weight decay 5e-4, Nesterov)
  curve.pt  (imagenet only: the seed preset's network) ten steps of the
            seed preset (SGD lr 0.005, momentum 0.5) from init.pt on the
            batches x [10,32,3,32,32], y [10,32]: losses [10] in float32 and
            losses64 [10] with the same steps run in float64. The ImageNet
            stem on 32x32 inputs amplifies rounding so much that PyTorch's own
            float32 curve leaves its float64 curve by about 0.1 within ten
            steps; the float64 curve is the trajectory the arithmetic defines.
"""
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(1)
torch.backends.cudnn.deterministic = True


def network(stem):
    m = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    return m


def randomise_stats(m, gen):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            mod.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            mod.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            mod.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def save(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=True)


def one_step(m, x, y, d):
    ref = OrderedDict()
    m.eval()
    with torch.no_grad():
        ref["eval_logits"] = m(x).clone()
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9,
                          weight_decay=5e-4, nesterov=True)
    out = m(x)
    ref["train_logits"] = out.detach().clone()
    loss = nn.functional.cross_entropy(out, y)
    opt.zero_grad()
    loss.backward()
    ref["loss"] = loss.detach().reshape(())
    for name, p in m.named_parameters():
        ref["grad." + name] = p.grad.clone()
    opt.step()
    for name, t in m.state_dict().items():
        ref["after." + name] = t.clone().float()
    save(ref, os.path.join(d, "ref.pt"))


def seed_steps(m, xs, ys, dtype):
    m = m.to(dtype)
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.005, momentum=0.5)
    losses = []
    for x, y in zip(xs, ys):
        loss = nn.functional.cross_entropy(m(x.to(dtype)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses)


def curve(m, init, gen, d):
    xs = torch.rand(10, 32, 3, 32, 32, generator=gen) * 2 - 1
    ys = torch.randint(0, 10, (10, 32), generator=gen)
    m.load_state_dict(init)
    losses = seed_steps(m, xs, ys, torch.float32)
    m.load_state_dict(init)
    losses64 = seed_steps(m, xs, ys, torch.float64)
    save(OrderedDict(x=xs, y=ys, losses=losses, losses64=losses64.float()),
         os.path.join(d, "curve.pt"))


def main(out):
    for i, stem in enumerate(["imagenet", "cifar"]):
        d = os.path.join(out, stem)
        os.makedirs(d, exist_ok=True)
        gen = torch.Generator().manual_seed(7 + i)
        torch.manual_seed(11 + i)
        m = network(stem)
        with torch.no_grad():
            randomise_stats(m, gen)
        init = OrderedDict((k, v.clone()) for k, v in m.state_dict().items())
        save(init, os.path.join(d, "init.pt"))
        x = torch.randn(8, 3, 32, 32, generator=gen)
        y = torch.randint(0, 10, (8,), generator=gen)
        save(OrderedDict(x=x, y=y), os.path.join(d, "batch.pt"))
        one_step(m, x, y, d)
        if stem == "imagenet":
            curve(m, init, gen, d)


if __name__ == "__main__":
    main(sys.argv[1])
