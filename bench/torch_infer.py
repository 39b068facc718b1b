#!/usr/bin/python3
"""PyTorch eager inference beside bench/bench_infer.c: prints a markdown table.

Usage: GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
       /usr/bin/python3 bench/torch_infer.py [runs] [arch... | train]

alexnet, vgg16, resnet152 at 224x224 and inception_v3 at 299x299 (no aux
head), batch 1 and 8, torch.set_num_threads 1 and 2, eval() + no_grad, one
warm-up run, median of runs (default 5).  Each model runs in its own process
twice: capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell) and
uncapped; peak RSS is that process's ru_maxrss.  Then (with no arch named,
or with `train`)
one SGD step (momentum 0.9, weight decay 1e-4) of alexnet, 2 classes, batch 8,
224x224: median ms.
"""
import os
import resource
import statistics
import subprocess
import sys
import time

MODELS = [("alexnet", 224), ("vgg16", 224), ("resnet152", 224), ("inception_v3", 299)]
TUNE = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"


def child(arch, size, runs):
    import torch
    import torchvision
    torch.manual_seed(1)
    if arch == "inception_v3":
        m = torchvision.models.inception_v3(weights=None, aux_logits=False,
                                            transform_input=False, init_weights=False)
    else:
        m = getattr(torchvision.models, arch)(weights=None)
    m.eval()
    x8 = torch.randn(8, 3, size, size)
    with torch.no_grad():
        for b in (1, 8):
            x = x8[:b].contiguous()
            for th in (1, 2):
                torch.set_num_threads(th)
                t = []
                for k in range(runs + 1):
                    t0 = time.perf_counter()
                    m(x)
                    if k:
                        t.append(time.perf_counter() - t0)
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print("%s %d %d %d %.2f %.0f" % (arch, size, b, th, b / statistics.median(t), rss))
                sys.stdout.flush()


def child_train(runs):
    import torch
    import torch.nn.functional as F
    import torchvision
    torch.manual_seed(1)
    m = torchvision.models.alexnet(weights=None, num_classes=2).train()
    opt = torch.optim.SGD(m.parameters(), lr=1e-4, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(8, 3, 224, 224)
    y = torch.arange(8) % 2
    for th in (1, 2):
        torch.set_num_threads(th)
        t = []
        for k in range(runs + 1):
            t0 = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
            if k:
                t.append(time.perf_counter() - t0)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("%d %.1f %.0f" % (th, statistics.median(t) * 1e3, rss))
        sys.stdout.flush()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child-train":
        child_train(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    only = set(sys.argv[2:])
    print("PyTorch %s, torchvision eager eval() + no_grad." % __import__("torch").__version__)
    print()
    print("| model | input | batch | threads | PyTorch AVX2 images/s | peak RSS MiB "
          "| PyTorch uncapped images/s | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for arch, size in MODELS:
        if only and arch not in only:
            continue
        rows = []
        for capped in (True, False):
            env = dict(os.environ, GLIBC_TUNABLES=TUNE)
            if capped:
                env.update(ONEDNN_MAX_CPU_ISA="AVX2", OPENBLAS_CORETYPE="Haswell")
            else:
                env.pop("ONEDNN_MAX_CPU_ISA", None)
                env.pop("OPENBLAS_CORETYPE", None)
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", arch,
                                  str(size), str(runs)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            rows.append([line.split() for line in out.splitlines()])
        for a, b in zip(rows[0], rows[1]):
            print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (a[0], a[1], a[2], a[3], a[4],
                                                               a[5], b[4], b[5]))
        sys.stdout.flush()
    if only and "train" not in only:
        return
    print()
    print("| step | input | batch | threads | PyTorch AVX2 ms | peak RSS MiB "
          "| PyTorch uncapped ms | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for capped in (True, False):
        env = dict(os.environ, GLIBC_TUNABLES=TUNE)
        if capped:
            env.update(ONEDNN_MAX_CPU_ISA="AVX2", OPENBLAS_CORETYPE="Haswell")
        else:
            env.pop("ONEDNN_MAX_CPU_ISA", None)
            env.pop("OPENBLAS_CORETYPE", None)
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-train",
                              str(runs)], env=env, check=True, capture_output=True,
                             text=True).stdout
        rows.append([line.split() for line in out.splitlines()])
    for a, b in zip(rows[0], rows[1]):
        print("| alexnet train step | 224 | 8 | %s | %s | %s | %s | %s |" % (a[0], a[1], a[2],
                                                                           b[1], b[2]))


if __name__ == "__main__":
    main()
