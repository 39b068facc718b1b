#!/usr/bin/python3
"""Draws docs/phantom_views.png and docs/phantom_patches.png from a phantom.

usage: tools/phantom_figures.py DATA PATIENT OUTDIR
  DATA     a folder from `netdx synth` after `netdx patches`
  PATIENT  the patient whose four views are shown, e.g. P_00001
Views: RIGHT CC, RIGHT MLO, LEFT CC, LEFT MLO downscaled 7x (box filter),
no mask drawn: the picture is what a reader sees.
Patches: 5 rows (mass, calcification, vessel, distortion, no lesion) of 5
patches, one per image, with the most of that kind (the last row: spread
over the lesion-free patches all in the breast), resized to 64 px. Needs numpy and PIL
(Debian python3-numpy, python3-pil)."""
import csv
import sys

import numpy as np
from PIL import Image


def load(path):
    return np.asarray(Image.open(path), dtype=np.float64) / 65535.0


def to8(a):
    return Image.fromarray(np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8))


def views(data, patient, out):
    tiles = []
    for side in ("RIGHT", "LEFT"):
        for view in ("CC", "MLO"):
            a = load(f"{data}/images/{patient}_{side}_{view}.png")
            h, w = a.shape[0] // 7 * 7, a.shape[1] // 7 * 7
            tiles.append(a[:h, :w].reshape(h // 7, 7, w // 7, 7).mean(axis=(1, 3)))
    to8(np.concatenate(tiles, axis=1)).save(out)


def patches(data, out):
    kinds = ["mass", "calcification", "vessel", "distortion"]
    rows = list(csv.DictReader(open(f"{data}/patches.csv")))
    grid = []
    for k in kinds + [None]:
        if k:
            cover = lambda r: max(float(r[f"{k}_benign"]), float(r[f"{k}_malignant"]))
            pick = sorted((r for r in rows if cover(r) > 0.01), key=lambda r: -cover(r))
        else:
            pick = [r for r in rows if float(r["tissue"]) >= 0.99 and
                    all(float(r[f"{q}_{m}"]) == 0 for q in kinds for m in ("benign", "malignant"))]
            pick = pick[::max(1, len(pick) // 40)]
        shown, seen = [], set()
        for r in pick:
            if r["image_path"] in seen:
                continue
            seen.add(r["image_path"])
            a = load(f"{data}/{r['image_path']}")
            x, y, s = int(r["x"]), int(r["y"]), int(r["w"])
            crop = to8(a[y:y + s, x:x + s]).resize((64, 64), Image.BILINEAR)
            shown.append(np.asarray(crop))
            if len(shown) == 5:
                break
        shown += [np.zeros((64, 64), np.uint8)] * (5 - len(shown))   # too few: black
        grid.append(np.concatenate(shown, axis=1))
    Image.fromarray(np.concatenate(grid, axis=0)).save(out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    views(sys.argv[1], sys.argv[2], f"{sys.argv[3]}/phantom_views.png")
    patches(sys.argv[1], f"{sys.argv[3]}/phantom_patches.png")
