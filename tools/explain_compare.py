#!/usr/bin/python3
"""How far netdx explain's default unit maps (stitched from the patch
classifier's windows) are from DeepMiner's whole-image pass, on a trained
model: the figures of docs/explain.md.

    tools/explain_compare.py NETDX MODEL DATA [N] [WORK]

runs `netdx explain --unit-maps windows` and `--unit-maps whole` on the
first N (default 12) test-split mammograms of DATA/patches.csv, into WORK
(default a temporary folder), and prints per image and overall: whether
the top unit is the same, how many of the top 8 units are shared, the
correlation of the two 1x1-convolution probability maps over the cells
both have (the whole image's map taken at the nearest cell), and the
distance between their peaks."""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def grid(j):
    rows = j["fully_convolutional"]["probability"]
    return np.array([[np.nan if v is None else v for v in r] for r in rows], float)


def compare(a, b):
    ua = [u["unit"] for u in a["units"]]
    ub = [u["unit"] for u in b["units"]]
    pa, pb = grid(a), grid(b)
    ys = ((np.arange(pa.shape[0]) + 0.5) / pa.shape[0] * pb.shape[0]).astype(int)
    xs = ((np.arange(pa.shape[1]) + 0.5) / pa.shape[1] * pb.shape[1]).astype(int)
    pb = pb[np.ix_(ys.clip(0, pb.shape[0] - 1), xs.clip(0, pb.shape[1] - 1))]
    both = ~np.isnan(pa) & ~np.isnan(pb)
    r = float(np.corrcoef(pa[both], pb[both])[0, 1])
    ka, kb = a["fully_convolutional"]["peak"], b["fully_convolutional"]["peak"]
    d = float(np.hypot(ka["x"] - kb["x"], ka["y"] - kb["y"]))
    return ua[0], ub[0], len(set(ua) & set(ub)), r, d / a["windows"]["side"]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    netdx, model, data = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 12
    work = sys.argv[5] if len(sys.argv) > 5 else tempfile.mkdtemp(prefix="explain-compare-")
    images = []
    with open(os.path.join(data, "patches.csv"), newline="") as f:
        for row in csv.DictReader(f):
            if row["split"] == "test" and row["image_path"] not in images:
                images.append(row["image_path"])
    rows = []
    for path in images[:n]:
        name = os.path.splitext(os.path.basename(path))[0]
        out = {}
        for maps in ("windows", "whole"):
            d = os.path.join(work, name + "." + maps)
            subprocess.run([netdx, "explain", "--model", model, "--image",
                            os.path.join(data, path), "--top", "8", "--unit-maps", maps,
                            "--out", d], check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(d, "explain.json")) as f:
                out[maps] = json.load(f)
        rows.append(compare(out["windows"], out["whole"]))
        print("%-24s top unit %3d / %3d  shared %d of 8  r %.2f  peaks %.2f windows apart"
              % ((name,) + rows[-1]))
    if not rows:
        sys.exit("no test-split mammogram in %s/patches.csv" % data)
    top = sum(r[0] == r[1] for r in rows)
    shared = [r[2] for r in rows]
    corr = [r[3] for r in rows]
    near = sum(r[4] <= 0.2 for r in rows)
    print("%d images: same top unit in %d; top 8 shared median %g (%d-%d); correlation "
          "median %.2f (%.2f-%.2f); peaks within a fifth of a window in %d"
          % (len(rows), top, np.median(shared), min(shared), max(shared), np.median(corr),
             min(corr), max(corr), near))


if __name__ == "__main__":
    main()
