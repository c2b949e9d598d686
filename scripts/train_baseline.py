"""Train the original project's supervised baseline with PyTorch.

torchvision resnet18 (ImageNet stem) with a 10-way fc, 32x32 inputs
normalised with mean/std 0.5, no augmentation, batch 32, SGD lr 0.005
momentum 0.5, StepLR(2, 0.8), up to --epochs epochs, stopping once training
accuracy passes 99.9%. Writes the whole pickled model (torch.save(model)),
as the original resnet18.pth, and loss_and_time.json.

Usage: /usr/bin/python3 scripts/train_baseline.py OUT_DIR [--epochs N]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cifar_jpeg  # noqa: E402


def to_tensor(images):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    return (x - 0.5) / 0.5


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            correct += (model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
    return 100.0 * correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    tr_img, tr_lab, _ = cifar_jpeg.load("train")
    te_img, te_lab, _ = cifar_jpeg.load("test")
    xtr, ytr = to_tensor(tr_img), torch.from_numpy(tr_lab)
    xte, yte = to_tensor(te_img), torch.from_numpy(te_lab)

    model = torchvision.models.resnet18()
    model.fc = torch.nn.Linear(model.fc.in_features, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.8)
    loss_fn = torch.nn.CrossEntropyLoss()
    rec = {"test_acc": [], "train_acc": [], "train_loss": [], "train_time": []}
    for epoch in range(args.epochs):
        model.train()
        start, correct, running = time.time(), 0, 0.0
        perm = torch.randperm(len(xtr))
        for step, i in enumerate(range(0, len(xtr), 32)):
            idx = perm[i:i + 32]
            out = model(xtr[idx])
            loss = loss_fn(out, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += (out.argmax(1) == ytr[idx]).sum().item()
            running += loss.item()
            if step % 200 == 199:
                rec["train_loss"].append(running / 200)
                running = 0.0
        sched.step()
        rec["train_time"].append(time.time() - start)
        rec["train_acc"].append(100.0 * correct / len(xtr))
        rec["test_acc"].append(evaluate(model, xte, yte))
        print("epoch %d train_acc %.2f test_acc %.2f time %.0fs" % (
            epoch + 1, rec["train_acc"][-1], rec["test_acc"][-1],
            rec["train_time"][-1]), flush=True)
        torch.save(model, os.path.join(args.out, "resnet18.pth"))
        with open(os.path.join(args.out, "loss_and_time.json"), "w") as f:
            json.dump(rec, f)
        if rec["train_acc"][-1] > 99.9:
            break


if __name__ == "__main__":
    main()
