#!/usr/bin/python3
"""netdx under mpirun: dissection and training throughput at -np 1 and -np 2
beside the plain one-process run, one thread per rank (OMP_NUM_THREADS=1,
--threads 1), the three bars of issue 21 computed, the bytes each step
moves, and the loopback bandwidth of a small MPI ping-pong.  Prints
Markdown (bench/run.sh puts it in bench/RESULTS.md; docs/mpi.md builds its
scaling model on it).

usage: bench/bench_mpi.py BUILD_DIR [ROUNDS]

Two workloads, each measured whole (the command's wall time, start-up,
preload, validation, merge and outputs included: what a user waits for):
  small  6 phantom patients (netdx synth, seed 1), 798 training patches:
         `tiny` at 64 px trained 1 epoch, batch 32 (-np 2: 16 per rank);
         its features.17 dissected over the training split (top-32, no
         images).  A few seconds per run: the fixed cost of a process
         (MPI_Init, loading the model) weighs on it.
  large  24 patients (seed 2), about 3,800 training patches, the same
         settings (1 epoch) and dissection: a job long enough that the
         fixed cost is what it is on a real one, a small share.
And that fixed cost alone: `netdx info` (which starts MPI under mpirun)
plain, under `mpirun -np 1` as installed, and under `mpirun -np 1` with
one node's transports only (--mca pml ob1 --mca btl self,vader --mca osc
^ucx: Debian's Open MPI otherwise probes UCX, libfabric and openib at
MPI_Init).  The workloads run with mpirun as installed.
The configurations take turns, ROUNDS times (default 3); figures are
medians.  CPU time (user + system of every process, mpirun's included) is
printed beside the wall time, and the load average before and after, because
the machine may be shared: a run whose CPU time is well under ranks x wall
time was kept waiting, and then its wall-time ratios say little."""
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
NETDX = os.path.abspath(os.path.join(BUILD, "netdx"))
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")

PINGPONG = r"""
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    int r;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    char *buf = calloc(1, 1 << 26);
    for (int n = 8; n <= 1 << 26; n *= 8) {
        const int reps = n < (1 << 20) ? 200 : 10;
        double best = 1e30;
        for (int k = 0; k < 3; k++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int i = 0; i < reps; i++) {
                if (r == 0) {
                    MPI_Send(buf, n, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                    MPI_Recv(buf, n, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    MPI_Recv(buf, n, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(buf, n, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
                }
            }
            double t = (MPI_Wtime() - t0) / reps / 2;
            if (t < best) best = t;
        }
        if (r == 0) printf("%d %.9f\n", n, best);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
"""


def timed(cmd):
    """Runs cmd; (wall s, CPU s of it and its children's children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("bench_mpi: %s failed:\n%s" % (" ".join(cmd), p.stdout))
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def launcher(np_):
    return [] if np_ == 0 else ["mpirun", "-np", str(np_), "--oversubscribe", "--bind-to", "none"]


def tensor_bytes(path):
    """Bytes of the tensors of a safetensors file (its header excluded)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    return sum(v["data_offsets"][1] - v["data_offsets"][0]
               for k, v in hdr.items() if k != "__metadata__")


def pingpong(work):
    src = os.path.join(work, "pingpong.c")
    exe = os.path.join(work, "pingpong")
    with open(src, "w") as f:
        f.write(PINGPONG)
    subprocess.run(["mpicc", "-O2", src, "-o", exe], check=True)
    out = subprocess.run(["mpirun", "-np", "2", "--oversubscribe"] + [exe], env=ENV, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return [(int(a), float(b)) for a, b in (line.split() for line in out.split("\n") if line)]


NAMES = {0: "plain", 1: "mpirun -np 1", 2: "mpirun -np 2"}


def make_data(work, name, patients, seed):
    """Phantom data and patches; (folder, training patches)."""
    data = os.path.join(work, name)
    subprocess.run([NETDX, "synth", "--out", data, "--patients", str(patients), "--seed",
                    str(seed)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([NETDX, "patches", "--data", data], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with open(os.path.join(data, "patches.csv")) as f:
        col = f.readline().rstrip("\n").split(",").index("split")
        ntrain = sum(1 for line in f if line.rstrip("\n").split(",")[col] == "train")
    return data, ntrain


def run_round(work, tag, data, ntrain, epochs, r, rows, model):
    """One round of the six runs of a workload into rows; the model trained."""
    for np_ in NAMES:
        out = os.path.join(work, "%s-t%d_%d" % (tag, np_, r), "m.safetensors")
        os.makedirs(os.path.dirname(out))
        w, c = timed(launcher(np_) + [NETDX, "train", "--arch", "tiny", "--data", data,
                                      "--input-size", "64", "--epochs", str(epochs), "--batch",
                                      "32", "--threads", "1", "--keep", "last", "--out", out])
        with open(os.path.join(os.path.dirname(out), "metrics.json")) as f:
            steps = sum(e["seconds"] for e in json.load(f)["epochs"])
        done = (ntrain // 32) * 32 * epochs
        rows["train"][np_].append((w, c, done / w, done / steps))
        model = model or out
    for np_ in NAMES:
        d = os.path.join(work, "%s-d%d_%d" % (tag, np_, r))
        w, c = timed(launcher(np_) + [NETDX, "dissect", "--model", model, "--data", data,
                                      "--split", "train", "--layer", "features.17", "--topk",
                                      "32", "--images", "0", "--threads", "1", "--out", d])
        rows["dissect"][np_].append((w, c, ntrain / w, ntrain / w))
    return model


def startup(reps=5):
    """Wall s of `netdx info` plain, under mpirun, under mpirun with one node's
    transports, and of mpirun -np 1 /bin/true; reps each, taking turns."""
    shm = ["--mca", "pml", "ob1", "--mca", "btl", "self,vader", "--mca", "osc", "^ucx"]
    cmds = ([NETDX, "info"], launcher(1) + [NETDX, "info"],
            launcher(1) + shm + [NETDX, "info"], launcher(1) + ["/bin/true"])
    out = [[] for _ in cmds]
    for _ in range(reps):
        for i, c in enumerate(cmds):
            out[i].append(timed(c)[0])
    return out


def med(rows, i):
    return statistics.median(row[i] for row in rows)


def table(title, rows, epochs):
    """The workload's table and its bars; returns the three bar ratios."""
    print("| stage | run | wall s | CPU s | images/s (wall) | vs -np 1 | vs plain |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ratio = {}
    for stage, what in (("train", "train, %d epoch%s" % (epochs, "s" if epochs > 1 else "")),
                        ("dissect", "dissect features.17")):
        R = rows[stage]
        for np_ in NAMES:
            ips = med(R[np_], 2)
            print("| %s: %s | %s | %.2f | %.2f | %.1f | %s | %.2fx |" % (
                title, what, NAMES[np_], med(R[np_], 0), med(R[np_], 1), ips,
                "%.2fx" % (ips / med(R[1], 2)) if np_ else "-", ips / med(R[0], 2)))
        ratio[stage] = (med(R[2], 2) / med(R[1], 2), med(R[1], 2) / med(R[0], 2))
    steps = {np_: med(rows["train"][np_], 3) for np_ in NAMES}
    print()
    print("Training steps alone (metrics.json seconds, no start-up, preload or validation):"
          " %.1f / %.1f / %.1f images/s (plain / -np 1 / -np 2): -np 2 %.2fx -np 1." % (
              steps[0], steps[1], steps[2], steps[2] / steps[1]))
    print()
    bars = (("dissection -np 2 vs -np 1", ratio["dissect"][0], 1.8),
            ("training -np 2 vs -np 1", ratio["train"][0], 1.6),
            ("dissection -np 1 vs plain", ratio["dissect"][1], 0.97),
            ("training -np 1 vs plain", ratio["train"][1], 0.97))
    print("| bar (%s, whole command, wall) | measured | bar | met |" % title)
    print("| --- | --- | --- | --- |")
    for name, got, bar in bars:
        print("| %s | %.2fx | >= %.2fx | %s |" % (name, got, bar, "yes" if got >= bar else "NO"))
    print()


def main():
    work = tempfile.mkdtemp(prefix="netdx-bench-mpi.")
    loads = [os.getloadavg()[0]]
    small, nsmall = make_data(work, "small", 6, 1)
    large, nlarge = make_data(work, "large", 24, 2)
    work_rows = {}
    for tag in ("small", "large"):
        work_rows[tag] = {"train": {k: [] for k in NAMES}, "dissect": {k: [] for k in NAMES}}
    models = {"small": None, "large": None}
    for r in range(ROUNDS):
        for tag, data, ntrain, epochs in (("small", small, nsmall, 1), ("large", large, nlarge, 1)):
            loads.append(os.getloadavg()[0])
            models[tag] = run_round(work, tag, data, ntrain, epochs, r, work_rows[tag],
                                    models[tag])
    loads.append(os.getloadavg()[0])
    state = os.path.join(work, "small-d0_0", "features.17.dstate")
    dstate = os.path.getsize(state) if os.path.exists(state) else 0
    pp = pingpong(work)
    grad = tensor_bytes(models["small"])

    print("Rounds: %d, medians; one thread per process (OMP_NUM_THREADS=1 --threads 1);"
          % ROUNDS)
    print("%d (small) and %d (large) training patches.  1-minute load average seen"
          % (nsmall, nlarge))
    print("before each workload: %s (%d cores)." % (
        ", ".join("%.1f" % x for x in loads), os.cpu_count()))
    print("Wall time decides the bars; CPU time (user + system, all processes, mpirun's")
    print("included) shows how much the runs were kept waiting on a shared machine.")
    print()
    table("small", work_rows["small"], 1)
    table("large", work_rows["large"], 1)
    start = startup()
    print("Fixed cost of a process (`netdx info`, wall s, median of %d): plain %.2f; "
          "mpirun -np 1 %.2f; mpirun -np 1, one node's transports %.2f; mpirun -np 1 "
          "/bin/true %.2f." % (len(start[0]), *[statistics.median(x) for x in start]))
    print()
    print("Communication: gradients + batch-norm statistics %d bytes per step (the"
          % grad)
    print("model's tensors); a merged dissection state (features.17, top-32) %d bytes." % dstate)
    print()
    print("Loopback ping-pong (mpirun -np 2, one way):")
    print()
    print("| bytes | microseconds | MB/s |")
    print("| --- | --- | --- |")
    for n, t in pp:
        print("| %d | %.2f | %.0f |" % (n, t * 1e6, n / t / 1e6))
    subprocess.run(["rm", "-rf", work])


main()
