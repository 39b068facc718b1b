#!/usr/bin/python3
"""Golden file of DeepMiner's unit ranking (netdx rank), from PyTorch.

Usage: /usr/bin/python3 tools/gen_rank_golden.py [outdir]   (default tests/data)

Writes rank_resnet18.gold (record format of tools/gen_golden.py), read by
tests/check_rank.c:

  header   seed classes input_size scale top nimages units | (none)
  image i  ih iw oh ow | gray (ih, iw) in [0, 1] (k/255), maxact (units):
           each layer4 unit's maximum over the whole resized image,
           top (rows, top): the units kept per row (class 0, class 1,
           decision w1 - w0), best first
  ranking  rows units | unit (rows, units), count (rows, units),
           mean contribution (rows, units)

The net is torchvision's resnet18 with 2 classes and the deterministic
weights of export_torchvision.hash_init(seed) (the C test rebuilds them
with ndx_net_init_hash).  Each "mammogram" (a smooth random image) is
resized with F.interpolate(bilinear, antialias=True) so that its shorter
side is scale x input_size, normalised as ImageNet, run to layer4.
Contribution = maxact x weight in float32; equal contributions and equal
counts are broken by the smaller channel.  The seed is chosen so that in
every image and row the 8th and 9th contributions differ by more than
1e-3 of the largest: float rounding between PyTorch and netdx then cannot
change which units are kept, and the C test compares the kept units, the
counts and the order exactly.
"""
import math
import os
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision as ex  # noqa: E402
from gen_golden import record  # noqa: E402

INPUT, SCALE, TOP, CLASSES = 12, 4, 8, 2
SIZES = [(56, 80), (70, 52), (60, 60)]
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def mammogram(rng, h, w):
    """Smooth blobs plus noise, quantised to k/255."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w))
    for _ in range(6):
        cy, cx, r, a = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(5, 30), rng.uniform(.2, 1)
        img += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    img += 0.1 * rng.standard_normal((h, w))
    img = np.clip(img / max(img.max(), 1e-6), 0, 1)
    return (np.round(img * 255) / 255).astype(np.float32)


def resized_shape(h, w):
    s = SCALE * INPUT
    if h <= w:
        return s, (s if h == w else int(math.floor(w * s / h + 0.5)))   # C's lround
    return int(math.floor(h * s / w + 0.5)), s


def layer4_max(m, gray, oh, ow):
    x = torch.from_numpy(gray)[None, None]
    x = F.interpolate(x, size=(oh, ow), mode="bilinear", antialias=True, align_corners=False)
    x = (x.expand(1, 3, oh, ow) - MEAN) / STD
    with torch.no_grad():
        y = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        y = m.layer4(m.layer3(m.layer2(m.layer1(y))))
    return y[0].amax(dim=(1, 2)).numpy().astype(np.float32)


def order(values):
    """Indices by value descending, then index ascending."""
    idx = np.arange(len(values))
    return np.lexsort((idx, -values.astype(np.float64)))


def attempt(seed):
    m = ex.build("resnet18", CLASSES)
    ex.hash_init(m, seed)
    m.eval()
    w = m.fc.weight.detach().numpy().astype(np.float32)
    rows = np.stack([w[0], w[1], (w[1] - w[0]).astype(np.float32)])
    rng = np.random.default_rng(seed)
    images, margin = [], np.inf
    count = np.zeros(rows.shape, dtype=np.int64)
    total = np.zeros(rows.shape, dtype=np.float64)
    for h, wd in SIZES:
        gray = mammogram(rng, h, wd)
        oh, ow = resized_shape(h, wd)
        mx = layer4_max(m, gray, oh, ow)
        tops = []
        for r in range(rows.shape[0]):
            c = (mx * rows[r]).astype(np.float32)
            o = order(c)
            margin = min(margin, (c[o[TOP - 1]] - c[o[TOP]]) / max(np.abs(c).max(), 1e-30))
            tops.append(o[:TOP])
            count[r, o[:TOP]] += 1
            total[r] += c
        images.append((h, wd, oh, ow, gray, mx, np.array(tops)))
    return images, count, total / len(SIZES), margin


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    for seed in range(1, 200):
        images, count, mean, margin = attempt(seed)
        if margin > 1e-3:
            break
    else:
        sys.exit("no seed gives a margin > 1e-3")
    units = count.shape[1]
    path = os.path.join(out, "rank_resnet18.gold")
    with open(path, "wb") as f:
        record(f, [seed, CLASSES, INPUT, SCALE, TOP, len(images), units], [])
        for h, wd, oh, ow, gray, mx, tops in images:
            record(f, [h, wd, oh, ow], [gray, mx, tops.astype(np.float32)])
        ranked = np.stack([np.lexsort((np.arange(units), -count[r])) for r in range(3)])
        record(f, [3, units], [ranked.astype(np.float32),
                               np.take_along_axis(count, ranked, 1).astype(np.float32),
                               np.take_along_axis(mean, ranked, 1).astype(np.float32)])
    print("%s: seed %d, margin %.4f, top units of the decision row: %s"
          % (path, seed, margin, ranked[2, :8].tolist()))


if __name__ == "__main__":
    main()
