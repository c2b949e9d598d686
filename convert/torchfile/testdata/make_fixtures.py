"""Write torch.save fixtures for package torchfile's tests.

usage: /usr/bin/python3 make_fixtures.py OUT_DIR            small fixtures
       /usr/bin/python3 make_fixtures.py --resnet OUT_DIR   whole resnet18

Each case is saved in both formats of torch 1.13: the zip archive
(<case>.pt) and the legacy format (<case>_legacy.pt). expected.json lists,
for every tensor, the path to it in the saved object (dict keys, list
indices, or "@state_dict" then a name for whole models), its dtype, shape
and values in row-major order, plus a few non-tensor values.
For --resnet, resnet18.json lists the state_dict names and shapes and
resnet18.bin holds all its values as little-endian float32.
"""
import json
import os
import sys

import torch
import torch.nn as nn


def tensors_case():
    g = torch.Generator().manual_seed(1)
    base = torch.randn(4, 6, generator=g)
    return {
        "f32": torch.randn(2, 3, generator=g),
        "f64": torch.randn(3, generator=g, dtype=torch.float64),
        "f16": torch.tensor([0.5, -2.0, 65504.0, 6e-8, 1e-5, 0.0], dtype=torch.float16),
        "bf16": torch.tensor([1.5, -3.25, 1e30], dtype=torch.bfloat16),
        "i64": torch.tensor([[1, -2], [1 << 40, -(1 << 40)]], dtype=torch.int64),
        "i32": torch.tensor([7, -8, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
        # Views keep their storage, offset and strides in the file.
        "base": base,
        "transposed": base.t(),
        "slice": base[1:, ::2],
        "nested": [base[2], (torch.arange(5), {"deep": base[:, 1]})],
    }


def tiny_model():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.Flatten(), nn.Linear(4 * 2 * 2, 3, bias=False))
    m(torch.randn(2, 3, 4, 4))  # moves BN running stats off their defaults
    return m


def checkpoint_case():
    m = tiny_model()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(2):
        opt.zero_grad()
        m(torch.randn(2, 3, 4, 4)).sum().backward()
        opt.step()
    sd = {"module." + k: v for k, v in m.state_dict().items()}
    return {"epoch": 3, "arch": "resnet18", "state_dict": sd,
            "best_acc1": torch.tensor(12.5), "optimizer": opt.state_dict()}


def flatten(obj, path, out):
    """Collect (path, tensor) for every tensor reachable in obj."""
    if isinstance(obj, torch.Tensor):
        out.append((path, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, path + [k], out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, path + [i], out)
    elif isinstance(obj, nn.Module):
        for k, v in obj.state_dict().items():
            out.append((path + ["@state_dict", k], v))


def describe(t):
    dtype = str(t.dtype).replace("torch.", "")
    vals = t.detach().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16, torch.float64):
        vals = vals.float()
    if t.dtype == torch.bool:
        vals = vals.long()
    return {"dtype": dtype, "shape": list(t.shape), "values": vals.tolist()}


def save_both(obj, out_dir, name, **kw):
    torch.save(obj, os.path.join(out_dir, name + ".pt"), **kw)
    torch.save(obj, os.path.join(out_dir, name + "_legacy.pt"),
               _use_new_zipfile_serialization=False)


def small(out_dir):
    cases = {"tensors": tensors_case(), "state_dict": tiny_model().state_dict(),
             "checkpoint": checkpoint_case(), "whole_model": tiny_model()}
    expected = {}
    for name, obj in cases.items():
        save_both(obj, out_dir, name)
        found = []
        flatten(obj, [], found)
        expected[name] = [dict(path=p, **describe(t)) for p, t in found]
    # Same tensors at pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE).
    torch.save(cases["tensors"], os.path.join(out_dir, "tensors_p4.pt"), pickle_protocol=4)
    expected["tensors_p4"] = expected["tensors"]
    ck = cases["checkpoint"]
    expected["scalars"] = {
        "epoch": ck["epoch"], "arch": ck["arch"],
        "lr": ck["optimizer"]["param_groups"][0]["lr"],
        "momentum": ck["optimizer"]["param_groups"][0]["momentum"],
        "params": ck["optimizer"]["param_groups"][0]["params"],
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=None, separators=(",", ":"))


def resnet(out_dir):
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10)
    m.train()
    m(torch.randn(2, 3, 32, 32))  # non-default BN statistics
    m.eval()
    save_both(m, out_dir, "resnet18")
    sd = m.state_dict()
    meta = [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype)} for k, v in sd.items()]
    with open(os.path.join(out_dir, "resnet18.json"), "w") as f:
        json.dump(meta, f)
    with open(os.path.join(out_dir, "resnet18.bin"), "wb") as f:
        for v in sd.values():
            f.write(v.detach().float().contiguous().numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--resnet":
        resnet(sys.argv[2])
    elif len(sys.argv) == 2:
        small(sys.argv[1])
    else:
        sys.exit(__doc__)
