#!/usr/bin/python3
"""The speed model of docs/arm.md, from netdx's own numbers.

  tools/arm_model.py loops BUILD_AARCH64     inner loops of the NEON kernels
      (aarch64-linux-gnu-objdump -d of BUILD_AARCH64/kernels/neon/*.o):
      per innermost loop, its instructions by kind
  tools/arm_model.py nets LIBNETDX_SO        per zoo network, counted by
      netdx itself (its graph through the public API of the host's
      libnetdx.so): GEMM flops, im2col and packing elements, elementwise
      bytes and fully connected weights (streamed from DRAM at batch 1), and the images/s the model predicts on a Raspberry Pi 5

Prints markdown tables.  The machine constants below are the model's
inputs; docs/arm.md gives their sources.
"""
import ctypes
import re
import subprocess
import sys
from pathlib import Path

# Raspberry Pi 5: 4 x Cortex-A76 at 2.4 GHz.  Per core and cycle: two
# 128-bit FMLA (4 lanes, 2 flops each) -> 16 flops.
CORES, GHZ, FLOPS_PER_CYCLE = 4, 2.4, 16
GEMM_SHARE = 0.45        # share of the FMA peak the 8x12 kernel holds today: GCC 12
                         # stores its 24 accumulators every step of k (docs/arm.md)
GEMM_SHARE_FIXED = 0.85  # the same loop without the stores: FMLA-bound
PARALLEL = 0.90          # OpenMP efficiency over the GEMM's outer loops, 4 threads
REF_MOVE_CYCLES = 2.0    # cycles per element of the scalar ref im2col / packing
                         # (NEON versions and the vectorized Winograd transforms: / 4)
DRAM_GBS = 8.5           # sustained copy bandwidth assumed for LPDDR4X-4267 x32
NETS = ["alexnet", "vgg16", "resnet152", "inception_v3"]


def loops(build):
    """Innermost loops (a backward branch with no other one inside)."""
    print("| object | function | loop bytes | instructions | fmla | loads | stores | other |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for obj in sorted(Path(build, "kernels", "neon").glob("*.o")):
        out = subprocess.run(["aarch64-linux-gnu-objdump", "-d", "--no-show-raw-insn", str(obj)],
                             check=True, capture_output=True, text=True).stdout
        func, insns = None, []
        for line in out.splitlines() + ["<end>:"]:
            m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
            if m or line == "<end>:":
                if func: report(obj.name, func, insns)
                func, insns = (m.group(1) if m else None), []
                continue
            m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
            if m: insns.append((int(m.group(1), 16), m.group(2), m.group(3)))


def report(obj, func, insns):
    back = []
    for i, (addr, op, args) in enumerate(insns):
        if re.match(r"^(b\.|cbn?z|tbn?z|b$)", op):
            t = re.search(r"\b([0-9a-f]+) <", args)
            if t and int(t.group(1), 16) <= addr:
                back.append((int(t.group(1), 16), addr))
    inner = [(s, e) for s, e in back
             if not any((s2, e2) != (s, e) and s <= s2 and e2 <= e for s2, e2 in back)]
    for s, e in inner:
        body = [(op, args) for a, op, args in insns if s <= a <= e]
        fmla = sum(op.startswith(("fmla", "fmls")) for op, _ in body)
        ld = sum(op.startswith(("ld", "ldr", "ldp", "ldur")) for op, _ in body)
        st = sum(op.startswith(("st", "str", "stp", "stur")) for op, _ in body)
        print(f"| {obj} | {func} | {e - s + 4} | {len(body)} | {fmla} | {ld} | {st} | "
              f"{len(body) - fmla - ld - st} |")


class ParamInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * 4), ("numel", ctypes.c_size_t),
                ("data", ctypes.c_void_p), ("grad", ctypes.c_void_p),
                ("momentum", ctypes.c_void_p), ("is_buffer", ctypes.c_int)]


OP_CONV, OP_BN, OP_RELU, OP_MAXPOOL, OP_AVGPOOL, OP_AAP, OP_LINEAR = 1, 2, 3, 4, 5, 6, 7
OP_CONCAT, OP_ADD = 9, 10


def tile_use(m, n, mr=8, nr=12):
    """Share of the 8x12 tiles' lanes doing useful work, best orientation."""
    use = lambda r, c: (r / (-(-r // mr) * mr)) * (c / (-(-c // nr) * nr))
    return max(use(m, n), use(n, m))


def count(lib, arch):
    net = ctypes.c_void_p()
    st = lib.ndx_zoo_build(arch.encode(), 2, 0, ctypes.c_uint64(1), ctypes.byref(net))
    if st: sys.exit(f"arm_model: ndx_zoo_build({arch}): {lib.ndx_last_error().decode()}")
    weights = {}
    info = ParamInfo()
    for i in range(lib.ndx_net_num_tensors(net)):
        lib.ndx_net_tensor(net, i, ctypes.byref(info))
        if info.name.endswith(b".weight"):
            weights[info.name[:-7]] = [info.shape[d] for d in range(info.ndim)]
    r = dict(flops=0.0, gemm_w=0.0, fc_s=0.0, moved=0.0, vmoved=0.0, bytes=0.0, wino=0, size=lib.ndx_net_input_size(net))
    peak = GHZ * 1e9 * FLOPS_PER_CYCLE * CORES
    for i in range(1, lib.ndx_net_num_nodes(net)):
        op = lib.ndx_net_node_op(net, i)
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib.ndx_net_node_shape(net, i, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w))
        out = c.value * h.value * w.value
        name = lib.ndx_net_node_name(net, i)
        if op in (OP_CONV, OP_LINEAR):
            wsh = weights[name]
            k = 1
            for d in wsh[1:]: k *= d
            m, n = wsh[0], h.value * w.value
            f = 2.0 * m * n * k
            r["flops"] += f
            if op == OP_LINEAR:   # batch 1: dot_rows streams the weights from DRAM
                r["fc_s"] += max(f / peak, 4.0 * m * k / (DRAM_GBS * 1e9))
                continue
            src = lib.ndx_net_node_input(net, i, 0)
            ci, hi, wi = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            lib.ndx_net_node_shape(net, src, ctypes.byref(ci), ctypes.byref(hi), ctypes.byref(wi))
            tiles = ((h.value + 1) // 2) * ((w.value + 1) // 2)
            if (wsh[2] == wsh[3] == 3 and h.value >= hi.value - 2 and ci.value >= 32 and m >= 32
                    and tiles >= 40):   # ndx__winograd_wins: F(2x2, 3x3), 16 GEMMs
                r["wino"] += 1
                r["gemm_w"] += f / 2.25 / (peak * PARALLEL * tile_use(m, tiles))
                r["moved"] += 16 * tiles * ci.value            # B packing (ref)
                r["vmoved"] += 16 * tiles * (ci.value + m)     # transforms (vectorized C)
                continue
            r["gemm_w"] += f / (peak * PARALLEL * tile_use(m, n))
            one = wsh[2] == wsh[3] == 1
            r["moved"] += (1 if one else 2) * k * n   # im2col (not 1x1) + B packing
        elif op in (OP_BN, OP_RELU, OP_MAXPOOL, OP_AVGPOOL, OP_AAP, OP_ADD, OP_CONCAT):
            src = lib.ndx_net_node_input(net, i, 0)
            ci, hi, wi = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            lib.ndx_net_node_shape(net, src, ctypes.byref(ci), ctypes.byref(hi), ctypes.byref(wi))
            reads = ci.value * hi.value * wi.value * (2 if op == OP_ADD else 1)
            r["bytes"] += 4.0 * (reads + out)
    lib.ndx_net_free(net)
    r["move_s"] = (r["moved"] + r["vmoved"] / 4) * REF_MOVE_CYCLES / (GHZ * 1e9 * CORES * PARALLEL)
    r["vmove_s"] = r["vmoved"] / 4 * REF_MOVE_CYCLES / (GHZ * 1e9 * CORES * PARALLEL)
    r["mem_s"] = r["bytes"] / (DRAM_GBS * 1e9)
    return r


def nets(so):
    lib = ctypes.CDLL(so)
    lib.ndx_last_error.restype = ctypes.c_char_p
    lib.ndx_net_node_name.restype = ctypes.c_char_p
    lib.ndx_net_node_name.argtypes = [ctypes.c_void_p, ctypes.c_int]
    for f in ("ndx_net_num_tensors", "ndx_net_num_nodes", "ndx_net_input_size", "ndx_net_free"):
        getattr(lib, f).argtypes = [ctypes.c_void_p]
    for f in ("ndx_net_node_op", "ndx_net_tensor", "ndx_net_node_shape", "ndx_net_node_input"):
        getattr(lib, f).argtypes = None
    if lib.ndx_init(): sys.exit(f"arm_model: ndx_init: {lib.ndx_last_error().decode()}")
    print("| network | input | GFLOP (conv + linear) | Winograd layers | GEMM ms (today / fixed) | "
          "FC weights ms | im2col + packing ms (ref / NEON) | elementwise ms | images/s today | "
          "with NEON packing | and the kernel fixed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for arch in NETS:
        r = count(lib, arch)
        g0, g1 = r["gemm_w"] / GEMM_SHARE, r["gemm_w"] / GEMM_SHARE_FIXED
        m0 = r["move_s"]
        m1 = (r["move_s"] - r["vmove_s"]) / 4 + r["vmove_s"]   # NEON moves: 4 lanes
        rest = r["fc_s"] + r["mem_s"]
        t = [g0 + m0 + rest, g0 + m1 + rest, g1 + m1 + rest]
        print(f"| {arch} | {r['size']} | {r['flops'] / 1e9:.2f} | {r['wino']} | "
              f"{g0 * 1e3:.0f} / {g1 * 1e3:.0f} | {r['fc_s'] * 1e3:.0f} | "
              f"{m0 * 1e3:.0f} / {m1 * 1e3:.0f} | {r['mem_s'] * 1e3:.0f} | "
              + " | ".join(f"{1 / x:.1f}" for x in t) + " |")

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("loops", "nets"):
        sys.exit(__doc__)
    (loops if sys.argv[1] == "loops" else nets)(sys.argv[2])
