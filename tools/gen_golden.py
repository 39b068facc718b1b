#!/usr/bin/python3
"""Generate the golden files of the reference kernels from PyTorch.

Usage: /usr/bin/python3 tools/gen_golden.py [outdir]   (default tests/data)

Deterministic: one torch.manual_seed(0) at the start, cases in a fixed order,
one thread, and ATEN_CPU_CAPABILITY=default so that PyTorch runs its plain
(non-AVX, uncontracted) CPU kernels whatever the machine: a rerun with the
same PyTorch writes identical bytes (sgemm goes through the system BLAS and
may differ in the last bits between machines).  Written with Debian's
python3-torch 1.13; kernels/ref/f32-bilinear-ref.c notes where later PyTorch
releases round bilinear differently.  Bilinear records with one channel or
a 1x1 input go through PyTorch's channels-last kernel (such a tensor is
contiguous in both formats), which sums the four taps in another order:
those differ from the reference kernel by an ulp or so.

File format (all little-endian), one file per operation, <op>.gold: a
sequence of records until EOF, each

    char    magic[8] = "NDXGOLD1"
    int32   nparams
    int32   params[nparams]
    int32   ntensors
    ntensors times:
        int32   ndim
        int32   dims[ndim]
        float32 data[prod(dims)]          (row-major)

Params and tensors per file (tests/check_golden.c reads them in this order):
  im2col.gold    c h w kh kw sh sw ph pw dh dw | im (c,h,w), col (c*kh*kw, oh*ow)
  col2im.gold    c h w kh kw sh sw ph pw dh dw | col (c*kh*kw, oh*ow), im (c,h,w)
  bilinear.gold  c ih iw oh ow align_corners   | in (c,ih,iw), out (c,oh,ow)
  maxpool.gold   c h w kh kw sh sw ph pw ceil  | in (c,h,w), out (c,oh,ow),
                                                 argmax (c,oh,ow) as float
  avgpool.gold   c h w kh kw sh sw ph pw ceil count_include_pad
                                               | in (c,h,w), out (c,oh,ow)
  relu.gold      n                             | x (n), y (n)
  bias_add.gold  c hw                          | bias (c), x (c,hw), y (c,hw)
  global_avgpool.gold  c hw                   | in (c,hw), out (c)
  channel_max.gold     c hw                   | in (c,hw), max (c), argmax (c) as float
  resize_aa.gold c ih iw oh ow                 | in (c,ih,iw), out (c,oh,ow)
                 (bilinear, antialias=True, align_corners=False)
                 (these three are read by tests/check_simd.c)
  sgemm.gold     trans_a trans_b m n k lda ldb ldc
                 | alpha (1), beta (1), a (rows,lda), b (rows,ldb),
                   c_in (m,ldc), c_out (m,ldc)
                 a has rows k if trans_a else m; only its first (m if trans_a
                 else k) columns are used, likewise b; columns of c past n
                 must come out unchanged.  beta == 0 cases fill c_in with NaN.
"""
import os
import struct
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "default"   # before torch is imported

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MAGIC = b"NDXGOLD1"


def record(f, params, tensors):
    f.write(MAGIC)
    f.write(struct.pack("<i", len(params)))
    f.write(struct.pack("<%di" % len(params), *[int(p) for p in params]))
    f.write(struct.pack("<i", len(tensors)))
    for t in tensors:
        t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
        f.write(struct.pack("<i", t.dim()))
        f.write(struct.pack("<%di" % t.dim(), *t.shape))
        f.write(t.numpy().astype("<f4").tobytes())


CONV_SHAPES = [
    # c  h   w  kh kw sh sw ph pw dh dw
    (1, 5, 5, 3, 3, 1, 1, 0, 0, 1, 1),
    (3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1),      # stride 2, padding
    (2, 9, 8, 3, 3, 1, 1, 2, 2, 2, 2),      # dilation 2
    (2, 6, 10, 1, 7, 1, 1, 0, 3, 1, 1),     # 1x7, pad (0,3)
    (2, 10, 6, 7, 1, 1, 1, 3, 0, 1, 1),     # 7x1, pad (3,0)
    (3, 5, 7, 1, 3, 1, 1, 0, 1, 1, 1),      # 1x3, pad (0,1)
    (3, 7, 5, 3, 1, 1, 1, 1, 0, 1, 1),      # 3x1, pad (1,0)
    (1, 11, 13, 5, 3, 3, 2, 2, 1, 1, 2),    # odd everything
    (2, 12, 9, 3, 2, 2, 1, 1, 0, 2, 3),     # dilation with stride
    (4, 13, 13, 3, 3, 2, 2, 0, 0, 1, 1),
    (2, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1),
    (3, 15, 15, 11, 11, 4, 4, 2, 2, 1, 1),  # AlexNet conv1, small
    (2, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1),      # 1x1
    (1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),
    (2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1),      # kernel as large as the input
]


def conv_kwargs(s):
    _, _, _, kh, kw, sh, sw, ph, pw, dh, dw = s
    return dict(kernel_size=(kh, kw), dilation=(dh, dw), padding=(ph, pw),
                stride=(sh, sw))


def gen_im2col(f):
    for s in CONV_SHAPES:
        c, h, w = s[:3]
        x = torch.randn(1, c, h, w)
        col = F.unfold(x, **conv_kwargs(s))
        record(f, s, [x[0], col[0]])


def gen_col2im(f):
    for s in CONV_SHAPES:
        c, h, w = s[:3]
        nrows = F.unfold(torch.zeros(1, c, h, w), **conv_kwargs(s)).shape[1:]
        col = torch.randn(1, *nrows)
        im = F.fold(col, output_size=(h, w), **conv_kwargs(s))
        record(f, s, [col[0], im[0]])


BILINEAR_SHAPES = [
    # c ih iw oh ow
    (2, 7, 7, 37, 41),    # up, odd factors
    (3, 5, 3, 16, 16),    # up, different factors per axis
    (2, 20, 17, 6, 9),    # down
    (2, 6, 5, 1, 1),      # 1x1 output
    (2, 1, 1, 4, 5),      # one input pixel
    (1, 1, 1, 1, 1),
    (2, 8, 8, 8, 8),      # identity
    (3, 4, 9, 4, 3),      # same height, narrower
    (1, 1, 6, 3, 6),      # one input row
    (2, 9, 1, 4, 7),      # one input column
    (2, 6, 6, 12, 12),    # exactly 2x up
    (2, 12, 12, 6, 6),    # exactly 2x down
    (3, 13, 11, 29, 5),   # up one axis, down the other
    (1, 3, 2, 2, 1),
]


def gen_bilinear(f):
    for ac in (0, 1):
        for c, ih, iw, oh, ow in BILINEAR_SHAPES:
            x = torch.randn(1, c, ih, iw)
            y = F.interpolate(x, size=(oh, ow), mode="bilinear",
                              align_corners=bool(ac))
            record(f, (c, ih, iw, oh, ow, ac), [x[0], y[0]])


POOL_SHAPES = [
    # c  h   w  kh kw sh sw ph pw
    (2, 13, 13, 3, 3, 2, 2, 0, 0),   # AlexNet 3x3 s2 on 13x13
    (2, 6, 6, 3, 3, 2, 2, 1, 1),     # ceil adds a window starting in the image
    (2, 7, 7, 2, 2, 2, 2, 0, 0),     # ceil adds a partial window
    (2, 5, 5, 2, 2, 2, 2, 1, 1),     # ceil's extra window starts in padding: dropped
    (1, 2, 2, 2, 2, 3, 3, 1, 1),     # dropped, single output
    (2, 6, 6, 3, 3, 2, 2, 0, 0),     # ceil window past the padded extent
    (3, 8, 11, 3, 2, 1, 2, 1, 1),    # asymmetric kernel and stride
    (2, 9, 10, 4, 3, 3, 2, 2, 1),
    (2, 4, 4, 1, 1, 1, 1, 0, 0),
    (1, 5, 5, 5, 5, 1, 1, 2, 2),     # large padding (k/2)
    (2, 7, 5, 3, 3, 3, 3, 1, 1),
]


def pool_kwargs(s, ceil):
    _, _, _, kh, kw, sh, sw, ph, pw = s
    return dict(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw),
                ceil_mode=bool(ceil))


def check_drop(s):
    """Asserts the two shapes meant to exercise the ceil_mode drop do."""
    _, h, _, kh, _, sh, _, ph, _ = s
    plain = (h + 2 * ph - kh + sh - 1) // sh + 1
    out = F.max_pool2d(torch.zeros(1, 1, h, h), kh, sh, ph, ceil_mode=True)
    return out.shape[-1] == plain - 1


def maxpool_record(f, s, ceil, x):
    y, idx = F.max_pool2d(x, return_indices=True, **pool_kwargs(s, ceil))
    record(f, tuple(s) + (ceil,), [x[0], y[0], idx[0].to(torch.float32)])


def gen_maxpool(f):
    assert check_drop(POOL_SHAPES[3]) and check_drop(POOL_SHAPES[4])
    for ceil in (0, 1):
        for s in POOL_SHAPES:
            c, h, w = s[:3]
            maxpool_record(f, s, ceil, torch.randn(1, c, h, w))
    # ties: values in {-1, 0, 1}, the first maximum in scan order wins
    s = (2, 7, 7, 3, 3, 2, 2, 1, 1)
    maxpool_record(f, s, 1, torch.randint(-1, 2, (1, 2, 7, 7)).float())
    # NaN wins (the last one in the window), -inf cells
    s = (2, 6, 6, 3, 3, 1, 1, 1, 1)
    x = torch.randn(1, 2, 6, 6)
    x[0, 0, 1, 1] = float("nan")
    x[0, 0, 1, 3] = float("nan")
    x[0, 1, 4, 4] = float("-inf")
    x[0, 1, 0, :] = float("-inf")
    x[0, 1, 1, :] = float("-inf")
    maxpool_record(f, s, 0, x)


def gen_avgpool(f):
    for cip in (0, 1):
        for ceil in (0, 1):
            for s in POOL_SHAPES:
                c, h, w = s[:3]
                x = torch.randn(1, c, h, w)
                y = F.avg_pool2d(x, count_include_pad=bool(cip),
                                 **pool_kwargs(s, ceil))
                record(f, tuple(s) + (ceil, cip), [x[0], y[0]])


def gen_relu(f):
    special = torch.tensor([-0.0, 0.0, float("nan"), float("inf"),
                            float("-inf"), 1e-40, -1e-40, -1.0, 1.0,
                            -3.5, 2.25, float("-nan"), 3e38, -3e38,
                            1.17549435e-38, -1.17549435e-38, 0.5])
    for x in (torch.tensor([-2.0]), torch.tensor([0.75]), special,
              torch.randn(1000)):
        record(f, (x.numel(),), [x, torch.relu(x)])


def gen_bias_add(f):
    for c, hw in ((1, 1), (3, 49), (16, 1), (5, 13), (1, 7)):
        b = torch.randn(c)
        x = torch.randn(c, hw)
        record(f, (c, hw), [b, x, x + b[:, None]])


GEMM_SIZES = [(1, 1, 1), (7, 13, 5), (33, 17, 65), (4, 8, 16), (5, 1, 9),
              (1, 6, 3), (2, 3, 1)]
GEMM_SCALARS = [(1.0, 0.0), (1.5, -0.5), (-0.75, 2.0), (1.0, 1.0),
                (0.0, 1.0), (2.0, 0.0), (0.5, 0.25)]


def gen_sgemm(f):
    case = 0
    for m, n, k in GEMM_SIZES:
        for ta in (0, 1):
            for tb in (0, 1):
                alpha, beta = GEMM_SCALARS[case % len(GEMM_SCALARS)]
                pad = case % 3            # 0..2 extra columns of stride
                case += 1
                arows, acols = (k, m) if ta else (m, k)
                brows, bcols = (n, k) if tb else (k, n)
                lda, ldb, ldc = acols + pad, bcols + (pad + 1) % 3, n + pad
                a = torch.randn(arows, lda)
                b = torch.randn(brows, ldb)
                c = torch.randn(m, ldc)
                if beta == 0.0:
                    c[:, :n] = float("nan")
                opa = a[:, :acols].t() if ta else a[:, :acols]
                opb = b[:, :bcols].t() if tb else b[:, :bcols]
                out = c.clone()
                out[:, :n] = torch.addmm(c[:, :n], opa, opb, beta=beta,
                                         alpha=alpha)
                record(f, (ta, tb, m, n, k, lda, ldb, ldc),
                       [torch.tensor([alpha]), torch.tensor([beta]),
                        a, b, c, out])


def gen_global_avgpool(f):
    for c, h, w in ((1, 1, 1), (3, 7, 7), (5, 13, 13), (2, 14, 14), (4, 1, 9),
                    (2, 31, 17)):
        x = torch.randn(1, c, h, w)
        y = F.adaptive_avg_pool2d(x, 1)
        record(f, (c, h * w), [x[0].reshape(c, h * w), y[0].reshape(c)])


def gen_channel_max(f):
    for c, hw in ((1, 1), (3, 49), (5, 169), (2, 196), (4, 9), (2, 527)):
        x = torch.randn(c, hw)
        y, idx = torch.max(x, dim=1)
        record(f, (c, hw), [x, y, idx.to(torch.float32)])


RESIZE_AA_SHAPES = [
    # c ih iw oh ow
    (1, 40, 40, 13, 13),
    (2, 37, 50, 11, 23),   # odd factors, different per axis
    (1, 20, 20, 30, 9),    # up one axis, down the other
    (1, 90, 90, 27, 27),   # 400 -> 120-like factor 3.33
    (2, 16, 12, 5, 4),
    (1, 7, 9, 7, 3),       # same height
    (1, 5, 5, 1, 1),
    (1, 1, 8, 1, 3),
]


def gen_resize_aa(f):
    for c, ih, iw, oh, ow in RESIZE_AA_SHAPES:
        x = torch.randn(1, c, ih, iw)
        y = F.interpolate(x, size=(oh, ow), mode="bilinear", antialias=True,
                          align_corners=False)
        record(f, (c, ih, iw, oh, ow), [x[0], y[0]])


GENERATORS = [
    ("im2col", gen_im2col), ("col2im", gen_col2im),
    ("bilinear", gen_bilinear), ("maxpool", gen_maxpool),
    ("avgpool", gen_avgpool), ("relu", gen_relu),
    ("bias_add", gen_bias_add), ("sgemm", gen_sgemm),
    ("global_avgpool", gen_global_avgpool), ("channel_max", gen_channel_max),
    ("resize_aa", gen_resize_aa),
]


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "data")
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    total = 0
    for name, gen in GENERATORS:
        path = os.path.join(outdir, name + ".gold")
        with open(path, "wb") as f:
            gen(f)
        size = os.path.getsize(path)
        total += size
        print("%-24s %8d bytes" % (path, size))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
