#!/usr/bin/python3
"""`make check-torch`: every zoo network at full input size, live against
Debian's python3-torch / torchvision.

Usage: /usr/bin/python3 tools/check_torch.py NETDX [ARCH...]

For each architecture: random weights (torchvision's init, seeded) exported
with export_torchvision.py to a temporary directory, a random batch of 2 as
.npy; PyTorch's eval() logits and one tapped module's output (forward hook)
against `NETDX infer --model ... --input ... --out ...` and `--layer`.
Passes when max |netdx - torch| <= 1e-4 * max |torch| for both.  Prints one
markdown table row per architecture; exit status 1 if any fails.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision as ex  # noqa: E402

CASES = [  # arch, input size, tapped node (netdx name = torchvision module)
    ("alexnet", 224, "features.10"),
    ("vgg16", 224, "features.28"),
    ("resnet18", 224, "layer4"),
    ("resnet50", 224, "layer4.2.conv3"),
    ("resnet152", 224, "layer4"),
    ("inception_v3", 299, "Mixed_7c"),
]


def rel_err(got, want):
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-3))


def main():
    netdx = sys.argv[1]
    only = set(sys.argv[2:])
    failed = ran = 0
    print("| arch | input | logits rel. err | tap | tap rel. err | result |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as d:
        for arch, size, tap in CASES:
            if only and arch not in only:
                continue
            torch.manual_seed(0)
            m = ex.build(arch, 1000).eval()
            path = os.path.join(d, arch + ".safetensors")
            ex.save_safetensors(m, path, arch, 1000, size)
            x = torch.randn(2, 3, size, size)
            xin = os.path.join(d, "x.npy")
            np.save(xin, x.numpy().astype("<f4"))
            acts = {}
            dict(m.named_modules())[tap].register_forward_hook(
                lambda mod, i, o: acts.__setitem__("t", o.detach().clone().numpy()))
            with torch.no_grad():
                logits = m(x).numpy()
            outs = []
            for extra in ([], ["--layer", tap]):
                o = os.path.join(d, "y.npy")
                subprocess.run([netdx, "infer", "--model", path, "--input", xin, "--out", o]
                               + extra, check=True)
                outs.append(np.load(o))
                os.unlink(o)
            e1 = rel_err(outs[0], logits) if outs[0].shape == logits.shape else float("inf")
            e2 = rel_err(outs[1], acts["t"]) if outs[1].shape == acts["t"].shape else float("inf")
            ok = e1 <= 1e-4 and e2 <= 1e-4
            failed += not ok
            ran += 1
            print("| %s | %d | %.2e | %s | %.2e | %s |" % (arch, size, e1, tap, e2,
                                                          "ok" if ok else "FAILED"))
            sys.stdout.flush()
            os.unlink(path)
    print("check-torch: %d passed, %d failed" % (ran - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
