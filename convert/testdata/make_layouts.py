"""Write PyTorch files whose layout the converter must refuse or adapt.

Usage: /usr/bin/python3 make_layouts.py OUT_DIR

  resnet34.pth        a torchvision resnet34 state_dict (not ResNet-18)
  edited.pth          a resnet18 state_dict without layer4.1.bn2.weight and
                      with an extra foo.weight
  cifar_stem.pth      a resnet18 with the CIFAR stem (3x3 conv1, no max pool)
                      and a 100-way fc, as a plain state_dict
  not_a_model.pth     a dict of numbers, no tensors
  ambiguous.pth.tar   a checkpoint holding both MoCo encoder_q keys and a
                      plain classifier's keys
"""
import os
import sys

import torch
import torchvision


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet34().state_dict(),
               os.path.join(out, "resnet34.pth"))

    sd = torchvision.models.resnet18(num_classes=10).state_dict()
    del sd["layer4.1.bn2.weight"]
    sd["foo.weight"] = torch.zeros(3)
    torch.save(sd, os.path.join(out, "edited.pth"))

    m = torchvision.models.resnet18(num_classes=100)
    m.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = torch.nn.Identity()
    torch.save(m.state_dict(), os.path.join(out, "cifar_stem.pth"))

    torch.save({"epoch": 3, "lr": 0.1}, os.path.join(out, "not_a_model.pth"))

    plain = torchvision.models.resnet18(num_classes=10).state_dict()
    mixed = {"module.encoder_q." + k: v for k, v in plain.items()}
    mixed.update({"module." + k: v for k, v in plain.items()})
    torch.save({"epoch": 1, "arch": "resnet18", "state_dict": mixed},
               os.path.join(out, "ambiguous.pth.tar"))


if __name__ == "__main__":
    main()
