"""Writes PyTorch reference values for mocokit's MoCo and linear-probe parity
tests, following main_moco.py's MoCo (one device: the key batch is shuffled
by a given permutation) and the CIFAR-10 demonstration's SplitBatchNorm.

Usage: moco_parity.py OUT_DIR

Cases (OUT_DIR/<case>/): "v1" (linear head, plain batch norm, batch 8,
K 32) and "v2" (MLP head, batch norm over 2 splits, symmetric loss, batch
16, K 64), both on torchvision's resnet18 at 32x32, dim 16, m 0.99, T 0.07,
SGD lr 0.03, momentum 0.9, weight decay 1e-4:
  init.pt   the query encoder's state_dict (the key encoder is its copy)
  inputs.pt x1, x2 [N,3,32,32], perm [N], queue [K, dim] (rows are keys)
  ref.pt    logits [N, K+1] (first pairing), loss, acc1, acc5, q.<name>
            (query encoder after the step), k.<name> (key encoder after
            its momentum update and forward passes), queue (after enqueue)
and "lincls": one main_lincls.py step on the v1 encoder with a new 10-way
fc: init.pt (encoder and the fc), inputs.pt (x, y), ref.pt (loss, after.<name>).
"""
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

torch.set_num_threads(1)


class SplitBatchNorm(nn.BatchNorm2d):
    def __init__(self, num_features, num_splits):
        super().__init__(num_features)
        self.num_splits = num_splits

    def forward(self, x):
        n, c, h, w = x.shape
        s = self.num_splits
        if not self.training:
            return super().forward(x)
        rm = self.running_mean.repeat(s)
        rv = self.running_var.repeat(s)
        out = F.batch_norm(x.view(-1, c * s, h, w), rm, rv, self.weight.repeat(s),
                           self.bias.repeat(s), True, self.momentum, self.eps)
        self.running_mean.data.copy_(rm.view(s, c).mean(dim=0))
        self.running_var.data.copy_(rv.view(s, c).mean(dim=0))
        self.num_batches_tracked += 1
        return out.view(n, c, h, w)


def encoder(dim, mlp, splits):
    norm = (lambda c: SplitBatchNorm(c, splits)) if splits > 1 else None
    m = torchvision.models.resnet18(num_classes=dim, norm_layer=norm)
    if mlp:
        m.fc = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), m.fc)
    return m


def save(obj, path):
    torch.save(obj, path)


def contrast(q_enc, k_enc, xq, xk, perm, unperm, queue, t):
    q = F.normalize(q_enc(xq), dim=1)
    with torch.no_grad():
        k = F.normalize(k_enc(xk[perm]), dim=1)[unperm]
    l_pos = (q * k).sum(1, keepdim=True)
    l_neg = q @ queue.t()
    logits = torch.cat([l_pos, l_neg], dim=1) / t
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    loss = F.cross_entropy(logits, labels)
    rank = (l_neg > l_pos).sum(1)
    return loss, logits, k, (rank < 1).sum(), (rank < 5).sum()


def moco_case(out, name, mlp, splits, symmetric, gen, n=8, k=32):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(21)
    q_enc, k_enc = encoder(16, mlp, splits), encoder(16, mlp, splits)
    k_enc.load_state_dict(q_enc.state_dict())
    save(OrderedDict(q_enc.state_dict()), os.path.join(d, "init.pt"))
    x1 = torch.randn(n, 3, 32, 32, generator=gen)
    x2 = torch.randn(n, 3, 32, 32, generator=gen)
    perm = torch.randperm(n, generator=gen)
    unperm = torch.argsort(perm)
    queue = F.normalize(torch.randn(k, 16, generator=gen), dim=1)
    save(OrderedDict(x1=x1, x2=x2, perm=perm, queue=queue), os.path.join(d, "inputs.pt"))
    q_enc.train()
    k_enc.train()
    opt = torch.optim.SGD(q_enc.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    with torch.no_grad():
        for pq, pk in zip(q_enc.parameters(), k_enc.parameters()):
            pk.data = pk.data * 0.99 + pq.data * 0.01
    loss, logits, k2, a1, a5 = contrast(q_enc, k_enc, x1, x2, perm, unperm, queue, 0.07)
    keys = k2
    if symmetric:
        l21, _, k1, b1, b5 = contrast(q_enc, k_enc, x2, x1, perm, unperm, queue, 0.07)
        loss, a1, a5 = loss + l21, a1 + b1, a5 + b5
        keys = torch.cat([k1, k2], dim=0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    queue = queue.clone()
    queue[:keys.shape[0]] = keys
    ref = OrderedDict(logits=logits.detach(), loss=loss.detach().reshape(()),
                      acc1=a1.float(), acc5=a5.float(), queue=queue)
    for n, t in q_enc.state_dict().items():
        ref["q." + n] = t.float().clone()
    for n, t in k_enc.state_dict().items():
        ref["k." + n] = t.float().clone()
    save(ref, os.path.join(d, "ref.pt"))
    return q_enc


def lincls_case(out, q_enc, gen):
    d = os.path.join(out, "lincls")
    os.makedirs(d, exist_ok=True)
    model = torchvision.models.resnet18(num_classes=10)
    sd = {k: v for k, v in q_enc.state_dict().items() if not k.startswith("fc")}
    model.load_state_dict(sd, strict=False)
    for name, p in model.named_parameters():
        if name not in ["fc.weight", "fc.bias"]:
            p.requires_grad = False
    model.fc.weight.data.normal_(mean=0.0, std=0.01, generator=gen)
    model.fc.bias.data.zero_()
    save(OrderedDict(model.state_dict()), os.path.join(d, "init.pt"))
    x = torch.randn(8, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (8,), generator=gen)
    save(OrderedDict(x=x, y=y), os.path.join(d, "inputs.pt"))
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=30.0, momentum=0.9, weight_decay=0.0)
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    ref = OrderedDict(loss=loss.detach().reshape(()))
    for n, t in model.state_dict().items():
        ref["after." + n] = t.float().clone()
    save(ref, os.path.join(d, "ref.pt"))


def main(out):
    gen = torch.Generator().manual_seed(5)
    q_enc = moco_case(out, "v1", mlp=False, splits=1, symmetric=False, gen=gen)
    moco_case(out, "v2", mlp=True, splits=2, symmetric=True, gen=gen, n=16, k=64)
    lincls_case(out, q_enc, gen)


if __name__ == "__main__":
    main(sys.argv[1])
