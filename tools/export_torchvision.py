#!/usr/bin/python3
"""Write a torchvision model of the netdx zoo as a safetensors file.

Usage:
  /usr/bin/python3 tools/export_torchvision.py --arch ARCH -o OUT.safetensors
      [--num-classes N] [--input-size S] [--pretrained] [--init torch|hash]
      [--seed S]

ARCH: alexnet, vgg16, resnet18, resnet50, resnet152, inception_v3, tiny.
--pretrained loads torchvision's ImageNet weights (when this machine has
them cached or can download them); with --num-classes other than 1000 the
last layer is then replaced by a fresh one (PyTorch's default init, seeded):
the fine-tune set-up.  Without --pretrained the weights are random:
  --init torch  torchvision's own initialisation after torch.manual_seed(S)
  --init hash   a deterministic formula that netdx reproduces exactly
                (ndx_net_init_hash, src/nn/graph.c): value j of tensor NAME
                comes from splitmix64 output j+1 of the stream
                seed ^ fnv1a64(NAME), u = (z >> 40) / 2^23 - 1 in [-1, 1):
                conv/linear weight sqrt(6/fan_in) u, batch-norm weight
                1 + 0.2 u, running_var 1 + 0.5 u, everything else 0.1 u.
inception_v3 is built without the auxiliary head.  Its ImageNet weights
expect torchvision's transform_input (on by default for them): with
--pretrained the metadata says "transform_input": "1" and netdx applies
it (ndx_net_set_transform_input); random weights go without.  The
metadata holds arch, num_classes, input_size (and transform_input).
"""
import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torchvision

ARCHS = ["alexnet", "vgg16", "resnet18", "resnet50", "resnet152", "inception_v3", "tiny"]
DEFAULT_SIZE = {"inception_v3": 299, "tiny": 64}


class Tiny(nn.Module):
    """netdx's tiny CNN (src/nn/zoo.c): [conv, bn, relu, maxpool] x 3 with
    32, 64, 96 channels, [conv, bn, relu] x 2 with 128, global pool, fc."""

    def __init__(self, num_classes=2):
        super().__init__()
        layers, c = [], 3
        for i, k in enumerate([32, 64, 96, 128, 128]):
            layers += [nn.Conv2d(c, k, 3, padding=1, bias=False), nn.BatchNorm2d(k),
                       nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2, 2))
            c = k
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def build(arch, num_classes=1000, pretrained=False):
    tv = torchvision.models
    if arch == "tiny":
        return Tiny(num_classes)
    if arch == "inception_v3":
        if pretrained:
            m = tv.inception_v3(weights="IMAGENET1K_V1", aux_logits=True, transform_input=False)
        else:
            m = tv.inception_v3(weights=None, aux_logits=False, transform_input=False,
                                init_weights=True, num_classes=num_classes)
        m.AuxLogits = None
        m.aux_logits = False
    elif pretrained:
        m = getattr(tv, arch)(weights="IMAGENET1K_V1")
    else:
        m = getattr(tv, arch)(weights=None, num_classes=num_classes)
    return m


def head_name(arch):
    return "classifier.6" if arch in ("alexnet", "vgg16") else "fc"


def replace_head(model, arch, num_classes, seed):
    torch.manual_seed(seed)
    if arch in ("alexnet", "vgg16"):
        old = model.classifier[6]
        model.classifier[6] = nn.Linear(old.in_features, num_classes)
    else:
        model.fc = nn.Linear(model.fc.in_features, num_classes)


def fnv1a(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def hash_uniform(name, seed, n):
    st = np.uint64((seed ^ fnv1a(name)) & 0xFFFFFFFFFFFFFFFF)
    out = np.empty(n, dtype=np.float64)
    with np.errstate(over="ignore"):
        for a in range(0, n, 1 << 22):
            b = min(n, a + (1 << 22))
            z = st + np.arange(a + 1, b + 1, dtype=np.uint64) * np.uint64(0x9e3779b97f4a7c15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
            z ^= z >> np.uint64(31)
            out[a:b] = (z >> np.uint64(40)).astype(np.float64) / 8388608.0 - 1.0
    return out


def hash_init(model, seed):
    mods = dict(model.named_modules())
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            prefix, suffix = name.rsplit(".", 1)
            m = mods[prefix]
            u = hash_uniform(name, seed, t.numel())
            if isinstance(m, (nn.Conv2d, nn.Linear)) and suffix == "weight":
                v = np.sqrt(6.0 / t[0].numel()) * u
            elif isinstance(m, nn.BatchNorm2d) and suffix == "weight":
                v = 1.0 + 0.2 * u
            elif isinstance(m, nn.BatchNorm2d) and suffix == "running_var":
                v = 1.0 + 0.5 * u
            else:
                v = 0.1 * u
            t.copy_(torch.from_numpy(v.astype(np.float32)).reshape(t.shape))


def save_safetensors(model, path, arch, num_classes, input_size, transform_input=False):
    header, blobs, off = {}, [], 0
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            a = t.detach().cpu().numpy().astype("<i8")
            dtype = "I64"
        else:
            a = t.detach().cpu().float().contiguous().numpy().astype("<f4")
            dtype = "F32"
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"arch": arch, "num_classes": str(num_classes),
                              "input_size": str(input_size), "format": "pt"}
    if transform_input:
        header["__metadata__"]["transform_input"] = "1"
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", required=True, choices=ARCHS)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--num-classes", type=int, default=None)
    ap.add_argument("--input-size", type=int, default=None)
    ap.add_argument("--pretrained", action="store_true")
    ap.add_argument("--init", choices=["torch", "hash"], default="torch")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    nc = a.num_classes or (1000 if a.arch != "tiny" else 2)
    size = a.input_size or DEFAULT_SIZE.get(a.arch, 224)
    torch.manual_seed(a.seed)
    if a.pretrained:
        if a.arch == "tiny":
            sys.exit("export_torchvision: tiny has no pretrained weights")
        m = build(a.arch, 1000, True)
        if nc != 1000:
            replace_head(m, a.arch, nc, a.seed)
    else:
        m = build(a.arch, nc)
        if a.init == "hash":
            hash_init(m, a.seed)
    save_safetensors(m.eval(), a.out, a.arch, nc, size,
                     transform_input=a.pretrained and a.arch == "inception_v3")


if __name__ == "__main__":
    main()
