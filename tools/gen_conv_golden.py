#!/usr/bin/python3
"""Golden file of conv2d forward and backward, from PyTorch.

Usage: /usr/bin/python3 tools/gen_conv_golden.py [outdir]   (default tests/data)

Writes conv2d.gold in the record format of tools/gen_golden.py:
  params  n c h w k kh kw sh sw ph pw dh dw groups has_bias relu
  tensors x (n,c,h,w), w (k,c/groups,kh,kw), bias (k), y (n,k,oh,ow),
          dy (n,k,oh,ow), dx (n,c,h,w), dw (k,c/groups,kh,kw), dbias (k)
y = conv2d(x, w, bias) (then relu when relu = 1); dx, dw, dbias are the
gradients of sum(y_lin * dy) where y_lin is the convolution before relu.
"""
import os
import sys

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import record  # noqa: E402

CASES = [
    # n c  h  w  k kh kw sh sw ph pw dh dw g bias relu
    (1, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0),
    (2, 4, 8, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),
    (1, 5, 10, 10, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0),     # pointwise
    (2, 4, 9, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 0, 0),       # dilation, groups
    (1, 3, 7, 12, 5, 1, 7, 1, 1, 0, 3, 1, 1, 1, 1, 0),      # Inception 1x7
    (1, 3, 12, 7, 5, 7, 1, 1, 1, 3, 0, 1, 1, 1, 1, 0),      # 7x1
    (1, 4, 6, 6, 4, 1, 3, 1, 1, 0, 1, 1, 1, 1, 1, 1),       # 1x3
    (1, 4, 6, 6, 4, 3, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1),       # 3x1
    (1, 3, 23, 23, 8, 11, 11, 4, 4, 2, 2, 1, 1, 1, 1, 1),   # AlexNet conv1 style
    (1, 6, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 1, 0),       # depthwise
    (3, 2, 4, 5, 3, 2, 2, 2, 1, 0, 1, 1, 1, 1, 1, 0),       # even kernel, mixed stride
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    torch.manual_seed(0)
    torch.set_num_threads(1)
    with open(os.path.join(out, "conv2d.gold"), "wb") as f:
        for (n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, hb, relu) in CASES:
            x = torch.randn(n, c, h, w, requires_grad=True)
            wt = torch.randn(k, c // g, kh, kw, requires_grad=True)
            b = torch.randn(k, requires_grad=True)
            y = F.conv2d(x, wt, b if hb else None, (sh, sw), (ph, pw), (dh, dw), g)
            dy = torch.randn_like(y)
            (y * dy).sum().backward()
            yo = torch.relu(y) if relu else y
            db = b.grad if hb else torch.zeros(k)
            record(f, [n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, hb, relu],
                   [x.detach(), wt.detach(), b.detach(), yo.detach(), dy,
                    x.grad, wt.grad, db])


if __name__ == "__main__":
    main()
