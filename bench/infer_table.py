#!/usr/bin/python3
"""The networks table of bench/RESULTS.md: netdx beside PyTorch and ONNX
Runtime, from the outputs of bench_infer, bench/torch_infer.py and
bench/ort_infer.js (markdown rows; several runs of each may be appended to
one file, e.g. one per network, taken in turn).

    infer_table.py NETDX_FILE TORCH_FILE ORT_FILE

Rows are matched on (model, input, batch, threads).  "faster peer" is the
faster of PyTorch at its default ISA (uncapped: oneDNN with AVX-512 where
the CPU has it) and ONNX Runtime; a peer without a row for a network shows
"-" and the ratio is then against the other.  An ORT_FILE that is missing
or empty (ONNX Runtime not installed) leaves its columns empty, saying so.
Then the training-step rows of netdx and PyTorch, unchanged.
"""
import os
import sys


def parse(path):
    """(text lines, {key: cells} of network rows, [train rows as lines])."""
    text, nets, train = [], {}, []
    if not os.path.exists(path):
        return text, nets, train
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.startswith("|"):
                if line.strip() and line not in text:
                    text.append(line)
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 6 or not cells[1].isdigit():
                continue   # a header or separator row
            if cells[0].endswith("train step"):
                train.append(line)
                continue
            key = tuple(cells[:4])
            if key in nets:
                sys.exit(f"infer_table.py: {path}:{n}: a second row for {' '.join(key)}")
            try:
                [float(c) for c in cells[4:]]
            except ValueError:
                sys.exit(f"infer_table.py: {path}:{n}: not a number in {line!r}")
            nets[key] = cells
    return text, nets, train


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: infer_table.py NETDX_FILE TORCH_FILE ORT_FILE")
    ours, torch, ort = (parse(p) for p in sys.argv[1:])
    if not ours[1]:
        sys.exit(f"infer_table.py: {sys.argv[1]}: no network rows")
    for side in (ours, torch, ort):
        for line in side[0]:
            print(line)
    if not ort[1]:
        print("ONNX Runtime: no rows (not installed or failed: see the log above).")
    print()
    print("| model | input | batch | threads | netdx images/s | PyTorch images/s "
          "| ORT images/s | netdx / faster peer | netdx peak RSS MiB | PyTorch peak RSS MiB "
          "| ORT peak RSS MiB | netdx planned MiB | PyTorch AVX2 images/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, c in ours[1].items():
        t, o = torch[1].get(key), ort[1].get(key)
        peers = [float(t[6])] if t else []
        peers += [float(o[4])] if o else []
        ratio = "%.2f×" % (float(c[4]) / max(peers)) if peers else "-"
        print(f"| {' | '.join(key)} | {c[4]} | {t[6] if t else '-'} | {o[4] if o else '-'} "
              f"| {ratio} | {c[5]} | {t[7] if t else '-'} | {o[5] if o else '-'} | {c[6]} "
              f"| {t[4] if t else '-'} |")
    for side, what in ((ours, "netdx ms"), (torch, "PyTorch AVX2 ms | peak RSS MiB "
                                                   "| PyTorch uncapped ms")):
        if side[2]:
            print()
            print(f"| step | input | batch | threads | {what} | peak RSS MiB |")
            print("| --- " * (6 + what.count("|")) + "|")
            for line in side[2]:
                print(line)


main()
