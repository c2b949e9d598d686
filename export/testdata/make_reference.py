"""Build PyTorch reference outputs for the ONNX exporter's parity tests.

Usage: /usr/bin/python3 make_reference.py OUTDIR [VARIANT ...]

For each ResNet-18 variant (torchvision resnet18 with the stem and head
mocokit knows) this builds a model with random weights and random, non-trivial
batch-norm running statistics, puts it in eval mode, runs an input batch
through it and writes, under OUTDIR:

  <variant>.params.bin  the state_dict tensors except num_batches_tracked, as
                        little-endian float32, concatenated in state_dict order
                        (which is models.Config.Params() order)
  <variant>.input.bin   the input batch [N, 3, S, S], float32
  <variant>.output.bin  PyTorch's output [N, D], float32
  manifest.json         per variant: stem, head, widths, input size, batch,
                        the parameter names and shapes, the output shape

The input is real CIFAR-10 test images (normalised with mean and std 0.5,
resized bilinearly for S > 32) when the JPEG copy is found, else seeded
random images; manifest.json says which.
"""
import functools
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (stem, head, num_classes, embed_dim, hidden_dim, input size, batch)
VARIANTS = {
    "imagenet-classifier": ("imagenet", "classifier", 10, 0, 0, 32, 4),
    "cifar-classifier": ("cifar", "classifier", 10, 0, 0, 32, 4),
    "imagenet-moco": ("imagenet", "moco", 0, 128, 0, 32, 4),
    "cifar-moco-mlp": ("cifar", "moco-mlp", 0, 128, 512, 32, 4),
    "imagenet-features": ("imagenet", "features", 0, 0, 0, 32, 4),
    "imagenet-moco-224": ("imagenet", "moco", 0, 128, 0, 224, 2),
}


def build(stem, head, num_classes, embed_dim, hidden_dim):
    model = torchvision.models.resnet18()
    if stem == "cifar":
        model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = torch.nn.Identity()
    if head == "classifier":
        model.fc = torch.nn.Linear(512, num_classes)
    elif head == "moco":
        model.fc = torch.nn.Linear(512, embed_dim)
    elif head == "moco-mlp":
        model.fc = torch.nn.Sequential(torch.nn.Linear(512, hidden_dim),
                                       torch.nn.ReLU(),
                                       torch.nn.Linear(hidden_dim, embed_dim))
    elif head == "features":
        model.fc = torch.nn.Identity()
    else:
        raise ValueError(head)
    return model


def randomise_batch_norm(model, x):
    """Give every batch norm random affine parameters and running statistics.

    Statistics drawn from nothing would blow activations up over 20 layers,
    so they start from the statistics of a calibration batch (one
    training-mode pass with a cumulative average) and are then perturbed: the test still fails
    if an exporter ignores or swaps any of the four tensors.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        model(x)
        for bn in bns:
            std = bn.running_var.sqrt()
            bn.running_mean.add_(0.2 * std * torch.randn_like(std))
            bn.running_var.mul_(torch.empty_like(std).uniform_(0.6, 1.6))
            bn.momentum = 0.1
    model.eval()


@functools.lru_cache(maxsize=None)
def cifar_images():
    """Return 4 test images per class, class by class, and their names."""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
    try:
        import cifar_jpeg
        images, _, names = cifar_jpeg.load("test", limit_per_class=4)
    except (ImportError, OSError) as e:
        print("make_reference: no CIFAR-10 images (%s), using random ones" % e,
              file=sys.stderr)
        return None, []
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return (x - 0.5) / 0.5, names


def make_input(size, batch, gen):
    """Return the test batch, a larger batch to calibrate batch norm on, and
    where the images come from."""
    calib_n = 40 if size <= 64 else 16  # bounds the CPU time at 224x224
    x, names = cifar_images()
    if x is None:
        # A fixed seed keeps the fallback input the same from run to run.
        calib = torch.randn(calib_n, 3, size, size, generator=gen)
        return calib[:batch].contiguous(), calib, "random"
    if size != 32:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    # One image from each of the first classes, so the outputs differ.
    pick = [4 * i for i in range(batch)]
    return (x[pick].contiguous(), x[:calib_n],
            "cifar10-test " + ",".join(names[i] for i in pick))


def write_f32(path, tensors):
    with open(path, "wb") as f:
        for t in tensors:
            f.write(t.detach().cpu().numpy().astype("<f4").tobytes())


def make(outdir, name, spec, seed):
    stem, head, classes, embed, hidden, size, batch = spec
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build(stem, head, classes, embed, hidden)
    x, calib, source = make_input(size, batch, gen)
    randomise_batch_norm(model, calib)
    with torch.no_grad():
        y = model(x)
    params = [(k, v) for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")]
    write_f32(os.path.join(outdir, name + ".params.bin"), [v for _, v in params])
    write_f32(os.path.join(outdir, name + ".input.bin"), [x])
    write_f32(os.path.join(outdir, name + ".output.bin"), [y])
    return {
        "name": name, "stem": stem, "head": head, "num_classes": classes,
        "embed_dim": embed, "hidden_dim": hidden, "input_size": size,
        "batch": batch, "input_source": source,
        "params": [[k, list(v.shape)] for k, v in params],
        "output_shape": list(y.shape),
        "output_abs_max": float(y.abs().max()),
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    names = sys.argv[2:] or list(VARIANTS)
    torch.set_num_threads(1)
    manifest = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                "variants": []}
    for i, name in enumerate(names):
        if name not in VARIANTS:
            sys.exit("make_reference: unknown variant %r (known: %s)"
                     % (name, ", ".join(VARIANTS)))
        manifest["variants"].append(make(outdir, name, VARIANTS[name], seed=i + 1))
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
