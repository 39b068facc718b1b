"""The conv2d table of bench/RESULTS.md from several rounds of bench_conv and
bench/torch_conv.py (capped at AVX2 and uncapped), run in turn so that a slow
spell of a shared machine falls on every side alike.

    conv_table.py ROUNDS PREFIX

reads PREFIX.conv.R, PREFIX.tavx2.R and PREFIX.tfull.R for R = 1..ROUNDS
(markdown rows: bench_conv's | layer | batch | threads | ms | GFLOP/s | path
| im2col ms | Winograd ms | ratio | max err |, torch_conv.py's | layer |
batch | threads | ms |) and prints one row per layer, batch and threads:
times are medians over the rounds, speed-ups the medians of the rounds'
ratios.  A file whose rows do not line up with the first round's is an
error that names it.
"""
import statistics
import sys


def rows(path):
    with open(path) as f:
        out = []
        for n, line in enumerate(f, 1):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 4:
                sys.exit(f"conv_table.py: {path}:{n}: not a table row: {line.strip()!r}")
            out.append(cells)
        return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: conv_table.py ROUNDS PREFIX")
    rounds, prefix = int(sys.argv[1]), sys.argv[2]
    runs = [{s: rows(f"{prefix}.{s}.{r}") for s in ("conv", "tavx2", "tfull")}
            for r in range(1, rounds + 1)]
    keys = [c[:3] for c in runs[0]["conv"]]
    for r, run in enumerate(runs, 1):
        for side, table in run.items():
            if [c[:3] for c in table] != keys:
                sys.exit(f"conv_table.py: {prefix}.{side}.{r}: its rows are not "
                         f"the layers of {prefix}.conv.1")
    med = statistics.median
    for i, key in enumerate(keys):
        ours = [run["conv"][i] for run in runs]
        ms = [float(c[3]) for c in ours]
        mid = sorted(range(rounds), key=lambda r: ms[r])[rounds // 2]
        gflops = float(ours[mid][4]) * ms[mid] / med(ms)
        im2col = med(float(c[6]) for c in ours)
        wino = med(float(c[7]) for c in ours)
        wino_speedup = med(float(c[6]) / float(c[7]) for c in ours)
        avx2 = [float(run["tavx2"][i][3]) for run in runs]
        full = [float(run["tfull"][i][3]) for run in runs]
        print(f"| {' | '.join(key)} | {med(ms):.3f} | {gflops:.1f} | {ours[mid][5]} "
              f"| {im2col:.3f} | {wino:.3f} | {wino_speedup:.2f}× | {ours[0][9]} "
              f"| {med(avx2):.3f} | {med(a / m for a, m in zip(avx2, ms)):.2f}× "
              f"| {med(full):.3f} | {med(f / m for f, m in zip(full, ms)):.2f}× |")


main()
