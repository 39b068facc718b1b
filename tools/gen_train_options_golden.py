#!/usr/bin/python3
"""Golden files for the training options of issue 19, from PyTorch.

Usage: /usr/bin/python3 tools/gen_train_options_golden.py [outdir]   (default tests/data)

Same record format as tools/gen_golden.py ("NDXGOLD1" records of int32
params and float32 tensors).  tests/check_train_options.c reads:

  train3_tiny.gold    seed batch size classes
                      | x, labels, logits (training mode), loss (1),
                        fc.weight grad, fc.bias grad, features.0.weight grad
                      One training step of the tiny net with a 3-class head
                      (no cancer / benign / malignant), the weights from
                      export_torchvision.hash_init(seed).
  inception_ti.gold   seed batch size classes
                      | x, logits (eval), Conv2d_1a_3x3 (eval, its first 8
                        channels)
                      torchvision's Inception-v3 with transform_input=True
                      (what its ImageNet weights use), hash_init(seed).
"""
import os
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision as ex  # noqa: E402
from gen_golden import record  # noqa: E402


def rnd(*shape):
    return torch.rand(*shape, dtype=torch.float32) * 2 - 1


def tiny3(outdir, seed=7, batch=3, size=32, classes=3):
    m = ex.build("tiny", classes)
    ex.hash_init(m, seed)
    x = rnd(batch, 3, size, size)
    labels = torch.tensor([2, 0, 1])
    m.train()
    logits = m(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    with open(os.path.join(outdir, "train3_tiny.gold"), "wb") as f:
        record(f, [seed, batch, size, classes],
               [x, labels.float(), logits.detach(), loss.detach().reshape(1),
                m.fc.weight.grad, m.fc.bias.grad, m.features[0].weight.grad])


def inception_ti(outdir, seed=7, batch=1, size=75, classes=2):
    m = torchvision.models.inception_v3(weights=None, aux_logits=False, transform_input=True,
                                        init_weights=True, num_classes=classes)
    ex.hash_init(m, seed)
    x = rnd(batch, 3, size, size)
    acts = {}
    m.Conv2d_1a_3x3.register_forward_hook(
        lambda mod, i, o: acts.__setitem__("tap", o.detach().clone()))
    m.eval()
    with torch.no_grad():
        logits = m(x)
    with open(os.path.join(outdir, "inception_ti.gold"), "wb") as f:
        record(f, [seed, batch, size, classes], [x, logits, acts["tap"][:, :8]])


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    torch.set_num_threads(1)
    torch.manual_seed(19)
    tiny3(outdir)
    torch.manual_seed(20)
    inception_ti(outdir)


if __name__ == "__main__":
    main()
