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
  resnet50.pth        a torchvision resnet50 state_dict
  pool_kept.pth       a whole resnet18 with a 3x3/1 conv1 but its max pool
  no_pool.pth         a whole resnet18 with its 7x7/2 conv1 and no max pool
  dropout_fc.pth      a resnet18 state_dict whose fc is Dropout then Linear
  own_class.pth       a whole model of a class defined in this script
  data_parallel.pth   a whole resnet18 wrapped in nn.DataParallel
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
    more(out)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)


def more(out):
    torch.save(torchvision.models.resnet50().state_dict(),
               os.path.join(out, "resnet50.pth"))
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    torch.save(m, os.path.join(out, "pool_kept.pth"))
    m = torchvision.models.resnet18(num_classes=10)
    m.maxpool = torch.nn.Identity()
    torch.save(m, os.path.join(out, "no_pool.pth"))
    m = torchvision.models.resnet18(num_classes=10)
    m.fc = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(512, 10))
    torch.save(m.state_dict(), os.path.join(out, "dropout_fc.pth"))
    torch.save(Net(), os.path.join(out, "own_class.pth"))
    torch.save(torch.nn.DataParallel(torchvision.models.resnet18(num_classes=10)),
               os.path.join(out, "data_parallel.pth"))


if __name__ == "__main__":
    main()
