#!/usr/bin/python3
"""Includes follow the layer table of docs/layers.md.

    tests/check_layers.py [--table docs/layers.md] [--allow tests/layers-allow.txt]

Every `#include "..."` of a .c or .h file under kernels/, src/, include/ and
tools/ is resolved as the compiler does (the including file's folder, then
include/) and the rank of the included file must not exceed the includer's.
tools/ may include only include/ and tools/ itself.  Lines of the allow
file ("FILE INCLUDED", e.g. "src/io/npy.c include/netdx_nn.h") are breaks
known and being fixed; one that no longer occurs is reported.
"""
import argparse
import glob
import os
import re
import sys

ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([^`]+)`\s*\|")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_table(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ROW.match(line)
            if m:
                rows.append((m.group(2), int(m.group(1))))
    if not rows:
        sys.exit(f"check_layers: no layer table in {path}")
    return rows


def rank_of(path, rows):
    """Rank of the longest table entry that is path or a folder above it."""
    best = None
    for entry, rank in rows:
        if path == entry or (entry.endswith("/") and path.startswith(entry)):
            if best is None or len(entry) > len(best[0]):
                best = (entry, rank)
    return best


def resolve(includer, name):
    for base in (os.path.dirname(includer), "include"):
        p = os.path.normpath(os.path.join(base, name))
        if os.path.exists(p):
            return p
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default="docs/layers.md")
    ap.add_argument("--allow", default="tests/layers-allow.txt")
    a = ap.parse_args()
    rows = read_table(a.table)
    allow = set()
    if os.path.exists(a.allow):
        with open(a.allow, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].split()
                if len(line) == 2:
                    allow.add(tuple(line))
    files = []
    for top in ("kernels", "src", "include", "tools"):
        files += glob.glob(f"{top}/**/*.[ch]", recursive=True)
        files += glob.glob(f"{top}/**/*.inc", recursive=True)
    faults = checked = 0
    used = set()
    for path in sorted(set(files)):
        mine = rank_of(path, rows)
        if mine is None:
            print(f"check_layers: {path}: in no layer of {a.table}")
            faults += 1
            continue
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                checked += 1
                target = resolve(path, m.group(1))
                if target is None:
                    print(f"check_layers: {path}:{lineno}: \"{m.group(1)}\" is no file here")
                    faults += 1
                    continue
                theirs = rank_of(target, rows)
                bad = theirs is None or theirs[1] > mine[1]
                if path.startswith("tools/"):
                    bad = not (target.startswith("include/") or target.startswith("tools/"))
                if not bad:
                    continue
                if (path, target) in allow:
                    used.add((path, target))
                    continue
                where = f"{theirs[0]} (rank {theirs[1]})" if theirs else "no layer"
                print(f"check_layers: {path}:{lineno}: includes {target}, of {where}, "
                      f"from {mine[0]} (rank {mine[1]})")
                faults += 1
    for path, target in sorted(allow - used):
        print(f"check_layers: {a.allow}: {path} no longer includes {target}: remove the line")
    print(f"check_layers: {checked} includes of {len(files)} files, {len(used)} allowed "
          f"breaks, {faults} faults")
    print(f"layers: {0 if faults else 1} passed, {1 if faults else 0} failed")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
