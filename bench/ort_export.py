#!/usr/bin/python3
"""Exports the four benchmark networks from torchvision to ONNX for
bench/ort_infer.js (ONNX Runtime beside netdx and PyTorch in `make bench`).

Usage: /usr/bin/python3 bench/ort_export.py DIR [arch...]

alexnet, vgg16, resnet152 (224x224) and inception_v3 (299x299, no aux head),
built exactly as bench/torch_infer.py builds them (random init, seed 1,
eval()), written to DIR/<arch>.onnx with a dynamic batch axis (input "x",
output "y"), opset 13.  A file already there is kept: DIR is a cache outside
the repository.  Each file is written under a temporary name in DIR and
renamed into place, so an interrupted export leaves no half file.
"""
import os
import sys
import tempfile

MODELS = [("alexnet", 224), ("vgg16", 224), ("resnet152", 224), ("inception_v3", 299)]


def build(arch):
    import torch
    import torchvision
    torch.manual_seed(1)
    if arch == "inception_v3":
        m = torchvision.models.inception_v3(weights=None, aux_logits=False,
                                            transform_input=False, init_weights=False)
    else:
        m = getattr(torchvision.models, arch)(weights=None)
    return m.eval()


def export(arch, size, path):
    import torch
    m = build(arch)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % arch, suffix=".onnx",
                               dir=os.path.dirname(path))
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(m, torch.zeros(1, 3, size, size), tmp, input_names=["x"],
                              output_names=["y"], opset_version=13,
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: ort_export.py DIR [arch...]")
    out, only = sys.argv[1], set(sys.argv[2:])
    unknown = only - {a for a, _ in MODELS}
    if unknown:
        sys.exit("ort_export.py: unknown architecture(s): %s" % ", ".join(sorted(unknown)))
    os.makedirs(out, exist_ok=True)
    for arch, size in MODELS:
        path = os.path.join(out, arch + ".onnx")
        if (only and arch not in only) or os.path.exists(path):
            continue
        print("ort_export.py: %s -> %s" % (arch, path), file=sys.stderr)
        export(arch, size, path)


if __name__ == "__main__":
    main()
