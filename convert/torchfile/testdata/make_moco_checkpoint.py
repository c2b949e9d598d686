"""Write a checkpoint shaped like MoCo's main_moco.py output.

usage: /usr/bin/python3 make_moco_checkpoint.py OUT [--legacy] [--time]

The file holds {epoch, arch, state_dict, optimizer} like
checkpoint_0199.pth.tar: state_dict keys module.encoder_q.*,
module.encoder_k.* (torchvision resnet18 with a 128-way fc), module.queue
[128, 65536] and module.queue_ptr, and SGD state (lr 0.03, momentum 0.9,
weight decay 1e-4) with momentum buffers for encoder_q, whose parameters
are the only ones with gradients. --legacy writes the pre-1.6 format;
--time also prints how long torch.load takes to read the file back, to
compare with BenchmarkReadMoCoCheckpoint.
"""
import sys
import time

import torch
import torch.nn as nn
import torchvision


class MoCo(nn.Module):
    def __init__(self, dim=128, K=65536):
        super().__init__()
        self.encoder_q = torchvision.models.resnet18(num_classes=dim)
        self.encoder_k = torchvision.models.resnet18(num_classes=dim)
        for q, k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            k.data.copy_(q.data)
            k.requires_grad = False
        self.register_buffer("queue", nn.functional.normalize(torch.randn(dim, K), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))


class DataParallelLike(nn.Module):
    """Gives the module. prefix that nn.DataParallel gives, without GPUs."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    out = args[0]
    torch.manual_seed(0)
    model = DataParallelLike(MoCo())
    opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    for p in model.module.encoder_q.parameters():
        p.grad = torch.randn_like(p)
    opt.step()
    ckpt = {"epoch": 200, "arch": "resnet18", "state_dict": model.state_dict(),
            "optimizer": opt.state_dict()}
    torch.save(ckpt, out, _use_new_zipfile_serialization="--legacy" not in sys.argv)
    if "--time" in sys.argv:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            torch.load(out)
            best = min(best, time.perf_counter() - start)
        print("torch.load %s: %.3f s (best of 3)" % (out, best))


if __name__ == "__main__":
    main()
