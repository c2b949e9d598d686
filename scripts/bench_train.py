"""PyTorch side of cmd/mocokit-trainbench: times ResNet-18 training steps and
eval-mode forward passes on random 32x32 batches.

Usage: /usr/bin/python3 bench_train.py --threads N

Reads one command a line on stdin and answers each with one JSON line on
stdout (the protocol of cmd/mocokit-trainbench/protocol.go):
  warm ROW         build the network for ROW and run one untimed step
  run ROW STEPS    time STEPS steps of ROW (warming it first if needed)
  quit             exit
ROW is STEM/BATCH/MODE: stem imagenet (torchvision's resnet18) or cifar
(3x3/1 conv1, no max pool), mode train (forward, cross-entropy, backward,
torch.optim.SGD step) or infer (eval mode, no gradients). Every answer
carries row, steps, images, seconds, peak_rss_bytes (VmHWM so far) and
version; a failed command answers {"error": ...} and the worker goes on.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torchvision

# The recipe of cmd/mocokit-trainbench/goworker.go: both sides do the same
# work per step.
LR, MOMENTUM, WEIGHT_DECAY, CLASSES, SIZE = 0.01, 0.9, 5e-4, 10, 32


def network(stem):
    m = torchvision.models.resnet18(num_classes=CLASSES)
    if stem == "cifar":
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    return m


def parse_row(key):
    stem, batch, mode = key.split("/")
    if stem not in ("imagenet", "cifar") or mode not in ("train", "infer"):
        raise ValueError("row %r: want imagenet|cifar/BATCH/train|infer" % key)
    if int(batch) < 1:
        raise ValueError("row %r: batch must be positive" % key)
    return stem, int(batch), mode


class Row:
    """A network, its optimiser and one random batch for a row key."""

    def __init__(self, key):
        stem, batch, self.mode = parse_row(key)
        gen = torch.Generator().manual_seed(1)
        torch.manual_seed(1)
        self.batch = batch
        self.model = network(stem)
        self.x = torch.randn(batch, 3, SIZE, SIZE, generator=gen)
        self.y = torch.randint(0, CLASSES, (batch,), generator=gen)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM,
                                   weight_decay=WEIGHT_DECAY, nesterov=True)
        self.model.train(self.mode == "train")

    def step(self):
        if self.mode == "infer":
            with torch.no_grad():
                self.model(self.x)
            return
        self.opt.zero_grad(set_to_none=True)
        logits = self.model(self.x)
        loss = nn.functional.cross_entropy(logits, self.y)
        loss.backward()
        self.opt.step()
        # The Go step hands back the loss and the number of correct
        # predictions; reading them here does the same work.
        loss.item()
        (logits.argmax(1) == self.y).sum().item()


def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                kb, unit = line.split()[1:3]
                if unit != "kB":
                    raise ValueError("unexpected /proc/self/status line %r" % line)
                return int(kb) * 1024
    return 0


class Worker:
    def __init__(self):
        self.key, self.row = None, None

    def prepare(self, key):
        if self.key != key:
            self.key, self.row = None, Row(key)
            self.row.step()
            self.key = key

    def do(self, verb, key, steps):
        start = time.perf_counter()
        self.prepare(key)
        if verb == "run":
            start = time.perf_counter()
            for _ in range(steps):
                self.row.step()
        seconds = time.perf_counter() - start
        return {"row": key, "steps": steps, "images": steps * self.row.batch,
                "seconds": seconds}


def parse_command(line):
    f = line.split()
    if f == ["quit"]:
        return "quit", None, 0
    if len(f) == 2 and f[0] == "warm":
        return "warm", f[1], 1
    if len(f) == 3 and f[0] == "run" and int(f[2]) >= 1:
        return "run", f[1], int(f[2])
    raise ValueError("command %r: want warm ROW, run ROW STEPS or quit" % line.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    worker = Worker()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            verb, key, steps = parse_command(line)
            if verb == "quit":
                return
            answer = worker.do(verb, key, steps)
        except Exception as e:  # answered, so that the parent can report it
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        answer["peak_rss_bytes"] = peak_rss()
        answer["version"] = torch.__version__
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
