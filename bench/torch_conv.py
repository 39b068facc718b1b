#!/usr/bin/python3
"""PyTorch CPU conv2d forward on the layers of bench/bench_conv.c.

Prints markdown rows | layer | batch | threads | ms | — medians of several
runs under torch.no_grad().  Run it with
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
(so PyTorch is not measured on page faults) and, for the AVX2-capped figures,
ONEDNN_MAX_CPU_ISA=AVX2.
"""
import statistics
import time

import torch
import torch.nn.functional as F

LAYERS = [("VGG-16 conv5_3 (512, 14×14)", 512, 14, 512),
          ("AlexNet conv5 (256, 13×13)", 256, 13, 256),
          ("ResNet layer4 3×3 (512, 7×7)", 512, 7, 512),
          ("3×3 64ch 56×56", 64, 56, 64)]

torch.manual_seed(0)
with torch.no_grad():
    for name, c, h, k in LAYERS:
        for batch in (1, 8):
            x = torch.randn(batch, c, h, h)
            w = torch.randn(k, c, 3, 3) * 0.05
            b = torch.randn(k)
            for threads in (1, 2):
                torch.set_num_threads(threads)
                times = []
                for r in range(17):
                    t0 = time.perf_counter()
                    F.relu(F.conv2d(x, w, b, padding=1), inplace=True)
                    if r >= 2:
                        times.append(time.perf_counter() - t0)
                print("| %s | %d | %d | %.3f |" % (name, batch, threads,
                                                   statistics.median(times) * 1e3))
