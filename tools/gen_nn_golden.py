#!/usr/bin/python3
"""Golden files of the netdx layers and zoo models, from PyTorch.

Usage: /usr/bin/python3 tools/gen_nn_golden.py [outdir [arch...]]   (default tests/data)

Same record format as tools/gen_golden.py ("NDXGOLD1" records of int32
params and float32 tensors).  tests/check_nn_layers.c and
check_nn_graph.c read, in this order:

  nn_conv.gold    n c h w k kh kw sh sw ph pw dh dw groups bias
                  | x, w, b (0 floats without bias), y, dy, dx, dw, db
  nn_linear.gold  n in out | x, w, b, y, dy, dx, dw, db
  nn_pool.gold    kind(0 max, 1 avg, 2 adaptive) n c h w kh kw sh sw ph pw ceil cip
                  (adaptive: kh kw are the output size) | x, y, dy, dx
  nn_bn.gold      train n c h w | x, gamma, beta, rm_in, rv_in, y, rm_out, rv_out
                  then the same params | x, gamma, beta, rm_in, rv_in, dy, dx,
                  dgamma_dbeta (2, c)
  nn_xent.gold    n classes weighted | logits, labels, weight (0 floats if
                  none), loss (1), dlogits
  nn_model_<arch>.gold
                  seed batch size classes name_hash | x, logits (eval),
                  tap (eval; the node named in check_nn_graph.c), labels, loss (1,
                  training mode, dropout off), grad fingerprints (P, 2)
                  The weights come from export_torchvision.hash_init(seed):
                  the C test rebuilds them with ndx_net_init_hash.  For each
                  parameter tensor p (state_dict order), ||g_p|| and
                  <g_p, u_p> with u_p = hash_uniform("grad:" + name, seed).
                  name_hash: fnv1a64 of the parameter names joined by ",",
                  low 31 bits.
"""
import os
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision as ex  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import record  # noqa: E402  (the record format is defined there)


def rnd(*shape):
    return torch.rand(*shape, dtype=torch.float32) * 2 - 1


def conv_cases(f):
    cases = [
        # n c h w k kh kw sh sw ph pw dh dw g bias
        (2, 3, 7, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        (1, 4, 9, 9, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 0),
        (2, 2, 8, 7, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1),      # pointwise
        (1, 3, 11, 10, 2, 5, 3, 2, 1, 2, 1, 2, 1, 1, 1),    # dilation
        (2, 4, 6, 9, 4, 1, 7, 1, 1, 0, 3, 1, 1, 4, 0),      # 1x7 depthwise
        (1, 3, 15, 15, 5, 11, 11, 4, 4, 2, 2, 1, 1, 1, 1),  # alexnet's first
    ]
    for (n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, bias) in cases:
        x = rnd(n, c, h, w).requires_grad_()
        wt = rnd(k, c // g, kh, kw).requires_grad_()
        b = rnd(k).requires_grad_() if bias else None
        y = F.conv2d(x, wt, b, (sh, sw), (ph, pw), (dh, dw), g)
        dy = rnd(*y.shape)
        y.backward(dy)
        record(f, [n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, bias],
               [x, wt, b if bias else torch.zeros(0), y, dy, x.grad, wt.grad,
                b.grad if bias else torch.zeros(0)])


def linear_cases(f):
    for (n, i, o) in [(1, 5, 3), (3, 17, 9), (4, 64, 2), (6, 33, 5)]:   # n > 4: sgemm
        x = rnd(n, i).requires_grad_()
        w = rnd(o, i).requires_grad_()
        b = rnd(o).requires_grad_()
        y = F.linear(x, w, b)
        dy = rnd(n, o)
        y.backward(dy)
        record(f, [n, i, o], [x, w, b, y, dy, x.grad, w.grad, b.grad])


def pool_cases(f):
    cases = [
        # kind n c h w kh kw sh sw ph pw ceil cip
        (0, 2, 3, 7, 7, 3, 3, 2, 2, 0, 0, 0, 0),
        (0, 1, 2, 8, 9, 3, 3, 2, 2, 1, 1, 0, 0),
        (0, 1, 2, 8, 8, 3, 3, 2, 2, 0, 0, 1, 0),     # ceil_mode
        (0, 2, 2, 7, 6, 2, 2, 2, 2, 0, 0, 1, 0),     # ceil_mode, odd
        (1, 2, 3, 7, 7, 3, 3, 1, 1, 1, 1, 0, 1),     # inception's avg pool
        (1, 1, 2, 8, 9, 3, 3, 2, 2, 1, 1, 0, 0),
        (1, 1, 2, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1),
        (2, 2, 3, 13, 13, 6, 6, 0, 0, 0, 0, 0, 0),   # adaptive 6x6
        (2, 1, 2, 5, 7, 3, 2, 0, 0, 0, 0, 0, 0),
        (2, 1, 2, 2, 2, 7, 7, 0, 0, 0, 0, 0, 0),     # upsampling
        (2, 2, 3, 5, 5, 1, 1, 0, 0, 0, 0, 0, 0),     # global
    ]
    for (kind, n, c, h, w, kh, kw, sh, sw, ph, pw, ceil, cip) in cases:
        x = rnd(n, c, h, w).requires_grad_()
        if kind == 0:
            y = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=bool(ceil))
        elif kind == 1:
            y = F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=bool(ceil),
                             count_include_pad=bool(cip))
        else:
            y = F.adaptive_avg_pool2d(x, (kh, kw))
        dy = rnd(*y.shape)
        y.backward(dy)
        record(f, [kind, n, c, h, w, kh, kw, sh, sw, ph, pw, ceil, cip], [x, y, dy, x.grad])


def bn_cases(f):
    for (train, n, c, h, w) in [(1, 2, 3, 4, 5), (1, 4, 2, 1, 1), (0, 2, 3, 3, 3), (1, 1, 4, 2, 3)]:
        x = (rnd(n, c, h, w) * 2 + 0.5).requires_grad_()
        bn = nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
        with torch.no_grad():
            bn.weight.copy_(rnd(c) + 1.5)
            bn.bias.copy_(rnd(c))
            bn.running_mean.copy_(rnd(c) * 0.3)
            bn.running_var.copy_(rnd(c) * 0.5 + 1.0)
        rm_in, rv_in = bn.running_mean.clone(), bn.running_var.clone()
        bn.train(bool(train))
        y = bn(x)
        record(f, [train, n, c, h, w], [x, bn.weight, bn.bias, rm_in, rv_in, y,
                                        bn.running_mean, bn.running_var])
        dy = rnd(*y.shape)
        y.backward(dy)
        record(f, [train, n, c, h, w], [x, bn.weight, bn.bias, rm_in, rv_in, dy, x.grad,
                                        torch.stack([bn.weight.grad, bn.bias.grad])])


def xent_cases(f):
    for (n, k, weighted) in [(4, 2, 0), (5, 3, 1), (3, 10, 0), (6, 2, 1)]:
        z = (rnd(n, k) * 4).requires_grad_()
        y = torch.randint(0, k, (n,))
        wt = torch.rand(k) + 0.2 if weighted else None
        loss = F.cross_entropy(z, y, weight=wt)
        loss.backward()
        record(f, [n, k, weighted], [z, y.float(), wt if weighted else torch.zeros(0),
                                     loss.reshape(1), z.grad])


# arch: (batch, size, classes, tap) -- tap names must match tests/check_nn_graph.c
MODELS = {
    "tiny": (2, 64, 2, "features.8"),
    "resnet18": (2, 64, 2, "layer3.1.bn2"),
    "alexnet": (2, 63, 2, "features.10"),
    "inception_v3": (2, 75, 2, "Mixed_6b"),
}


def name_hash(names):
    return ex.fnv1a(",".join(names)) & 0x7FFFFFFF


def model_case(outdir, arch, seed=7):
    batch, size, classes, tap = MODELS[arch]
    m = ex.build(arch, classes)
    ex.hash_init(m, seed)
    x = rnd(batch, 3, size, size)
    acts = {}
    mods = dict(m.named_modules())
    mods[tap].register_forward_hook(lambda mod, i, o: acts.__setitem__("tap", o.detach().clone()))
    m.eval()
    with torch.no_grad():
        logits = m(x)
    tapped = acts["tap"]
    labels = torch.arange(batch) % classes
    m.train()
    for mod in m.modules():
        if isinstance(mod, nn.Dropout):
            mod.p = 0.0
    loss = F.cross_entropy(m(x), labels)
    loss.backward()
    names, fp = [], []
    for name, p in m.named_parameters():
        names.append(name)
        g = p.grad.double().flatten().numpy()
        u = ex.hash_uniform("grad:" + name, seed, g.size)
        fp.append([np.linalg.norm(g), float(np.dot(g, u))])
    with open(os.path.join(outdir, "nn_model_%s.gold" % arch), "wb") as f:
        record(f, [seed, batch, size, classes, name_hash(names)],
               [x, logits, tapped, labels.float(), loss.detach().reshape(1),
                torch.tensor(fp, dtype=torch.float64)])


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for name, fn in [("conv", conv_cases), ("linear", linear_cases), ("pool", pool_cases),
                     ("bn", bn_cases), ("xent", xent_cases)]:
        with open(os.path.join(outdir, "nn_%s.gold" % name), "wb") as f:
            fn(f)
    for arch in (sys.argv[2:] or MODELS):
        torch.manual_seed(1)
        model_case(outdir, arch)


if __name__ == "__main__":
    main()
