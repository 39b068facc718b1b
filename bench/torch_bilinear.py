#!/usr/bin/python3
"""PyTorch's bilinear upsampling time for the shapes of bench_bilinear.c.

Usage (Debian's python3-torch; no page-fault noise from glibc's allocator):
  GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \\
      /usr/bin/python3 bench/torch_bilinear.py [runs]

Prints a markdown table: F.interpolate(mode="bilinear", align_corners=False)
of 1x512x7x7 and 1x512x14x14 to 224x224, float32, with torch.set_num_threads
1 and 2; median of runs (default 9, at least 7) after two warm-up calls.
F.interpolate has no out= argument, so each call allocates its 103 MB output;
the tunables keep glibc from returning that memory to the kernel between
calls, so PyTorch is not timed on page faults.
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    if runs < 7:
        sys.exit("torch_bilinear.py: runs must be >= 7")
    torch.manual_seed(0)
    print("### PyTorch %s bilinear upsampling (median of %d runs)\n" % (torch.__version__, runs))
    print("| shape | threads | time (ms) | GB/s written |")
    print("| --- | ---: | ---: | ---: |")
    for ih in (7, 14):
        x = torch.randn(1, 512, ih, ih)
        nbytes = 512 * 224 * 224 * 4
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for _ in range(2):
                F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
                times.append(time.perf_counter() - t0)
            t = statistics.median(times)
            print("| 1x512x%dx%d -> 224x224 | %d | %.2f | %.2f |"
                  % (ih, ih, threads, t * 1e3, nbytes / t / 1e9))


if __name__ == "__main__":
    main()
