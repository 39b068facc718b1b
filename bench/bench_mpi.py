#!/usr/bin/python3
"""netdx under mpirun: dissection and training throughput at -np 1 and -np 2
beside the plain one-process run, one thread per rank (OMP_NUM_THREADS=1,
--threads 1), the bytes each step moves, and the loopback bandwidth of a
small MPI ping-pong.  Prints Markdown (bench/run.sh puts it in
bench/RESULTS.md; docs/mpi.md builds its scaling model on it).

usage: bench/bench_mpi.py BUILD_DIR [ROUNDS]

Data: 6 phantom patients (netdx synth, seed 1) and their patches; the
`tiny` CNN at 64 px trained 1 epoch, batch 32 (-np 2: 16 per rank); its
features.17 dissected over the training split (top-32, no images).  The
configurations take turns, ROUNDS times (default 3); figures are medians.
Wall time is what the bars are about; CPU time (user + system of every
process) is printed beside it because the machine may be shared: a run
whose CPU time is well under ranks x wall time was kept waiting."""
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


def main():
    work = tempfile.mkdtemp(prefix="netdx-bench-mpi.")
    data = os.path.join(work, "data")
    subprocess.run([NETDX, "synth", "--out", data, "--patients", "6", "--seed", "1"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([NETDX, "patches", "--data", data], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(data, "patches.csv")) as f:
        head = f.readline().rstrip("\n").split(",")
        col = head.index("split")
        ntrain = sum(1 for line in f if line.rstrip("\n").split(",")[col] == "train")
    names = {0: "plain", 1: "mpirun -np 1", 2: "mpirun -np 2"}
    train = {k: [] for k in names}
    dissect = {k: [] for k in names}
    model = None
    for r in range(ROUNDS):
        for np_ in names:
            out = os.path.join(work, "t%d_%d" % (np_, r), "m.safetensors")
            os.makedirs(os.path.dirname(out))
            w, c = timed(launcher(np_) + [NETDX, "train", "--arch", "tiny", "--data", data,
                                          "--input-size", "64", "--epochs", "1", "--batch", "32",
                                          "--threads", "1", "--keep", "last", "--out", out])
            with open(os.path.join(os.path.dirname(out), "metrics.json")) as f:
                ips = json.load(f)["epochs"][0]["images_per_s"]
            train[np_].append((w, c, ips))
            model = model or out
        for np_ in names:
            d = os.path.join(work, "d%d_%d" % (np_, r))
            w, c = timed(launcher(np_) + [NETDX, "dissect", "--model", model, "--data", data,
                                          "--split", "train", "--layer", "features.17",
                                          "--topk", "32", "--images", "0", "--threads", "1",
                                          "--out", d])
            dissect[np_].append((w, c, ntrain / w))
            state = os.path.join(d, "features.17.dstate")
            dstate = os.path.getsize(state) if os.path.exists(state) else 0
    pp = pingpong(work)
    grad = tensor_bytes(model)

    def med(rows, i):
        return statistics.median(row[i] for row in rows)

    print("Rounds: %d, medians; one thread per process; %d training patches.  Wall time"
          % (ROUNDS, ntrain))
    print("decides the bars; CPU time (user + system, all processes) shows how much the")
    print("runs were kept waiting on this shared machine.")
    print()
    print("| stage | run | wall s | CPU s | images/s | vs -np 1 | vs plain |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for stage, rows, what in (("train, 1 epoch", train, "training images/s (metrics.json)"),
                              ("dissect features.17", dissect, "patches/s (wall)")):
        for np_ in names:
            ips = med(rows[np_], 2)
            print("| %s | %s | %.2f | %.2f | %.1f | %s | %.2fx |" % (
                stage, names[np_], med(rows[np_], 0), med(rows[np_], 1), ips,
                "%.2fx" % (ips / med(rows[1], 2)) if np_ else "-", ips / med(rows[0], 2)))
    print()
    print("Bars: -np 2 >= 1.8x -np 1 (dissection), >= 1.6x (training); -np 1 >= 0.97x plain.")
    print("Training images/s count the steps alone (metrics.json); dissection patches/s")
    print("the whole command (start, model, pass, merge, outputs).")
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
