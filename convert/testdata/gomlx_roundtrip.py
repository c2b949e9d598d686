"""PyTorch's side of mocokit's GoMLX conversion tests.

write OUT_DIR STEM: saves a torchvision resnet18 (10 classes; for the cifar
  stem conv1 is 3x3/1 and there is no max pool) with random batch-norm
  statistics as OUT_DIR/model.pth, an input batch as input.f32 and the
  model's eval-mode logits as logits.f32.
check PTH STEM INPUT.f32 LOGITS.f32: loads the state_dict written by mocokit
  with torch.load, into resnet18 with load_state_dict(strict=True), and
  prints the largest |difference| from the logits mocokit computed.
"""
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(1)


def network(stem):
    m = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    return m.eval()


def write(out, stem):
    torch.manual_seed(3)
    m = network(stem)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(123)
        x = torch.randn(4, 3, 32, 32)
        torch.save(m.state_dict(), out + "/model.pth")
        x.numpy().astype("<f4").tofile(out + "/input.f32")
        m(x).numpy().astype("<f4").tofile(out + "/logits.f32")


def check(pth, stem, inp, logits):
    sd = torch.load(pth)
    assert sd["bn1.num_batches_tracked"].dtype == torch.int64
    m = network(stem)
    m.load_state_dict(sd, strict=True)
    x = torch.from_numpy(np.fromfile(inp, dtype="<f4").reshape(-1, 3, 32, 32))
    want = torch.from_numpy(np.fromfile(logits, dtype="<f4").reshape(x.shape[0], -1))
    with torch.no_grad():
        print(float((m(x) - want).abs().max()))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        check(*sys.argv[2:6])
