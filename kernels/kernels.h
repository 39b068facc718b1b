/* netdx kernels: the contract, written once per operation.
 *
 * Every kernel is a pure function on raw pointers and sizes: sizes are in
 * elements, strides are explicit, pointers are restrict, it runs on one
 * thread, allocates nothing and never writes outside its outputs.  Partial
 * tiles are the kernel's business.  Names: ndx_f32_<op>[_ukernel_<tile>]__<isa>.
 *
 * kernels/ref/ holds the scalar oracle of every operation (built with
 * -ffp-contract=off); kernels/avx2/ and kernels/neon/ hold SIMD twins.
 * kernels/dispatch.c picks one set at start-up (see ndx_kernels()).
 */
#ifndef NDX_KERNELS_H
#define NDX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ---- GEMM ------------------------------------------------------------
 * Full sgemm, row-major (cblas_sgemm with CblasRowMajor):
 *   C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C
 * op(A) = A (m x k, row stride lda) or A^T (A is k x m) when trans_a.
 * beta == 0: C is not read (NaN in C does not propagate). */
void ndx_f32_gemm__ref(int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const float *restrict a, int lda,
                       const float *restrict b, int ldb, float beta,
                       float *restrict c, int ldc);

/* GEMM microkernel (BLIS style), tile MR x NR:
 *   C[i][j] = alpha * sum_p a[p*MR + i] * b[p*NR + j] + beta * C[i][j]
 * for i < m <= MR, j < n <= NR; c has row stride ldc.  a is an MR-wide
 * packed panel of A (k steps, zero-padded past m), b an NR-wide packed
 * panel of B (zero-padded past n).
 * beta == 0: C is not read.  Only the m x n corner of C is written. */
typedef void (*ndx_gemm_ukernel_fn)(int m, int n, int k, float alpha,
                                    const float *restrict a,
                                    const float *restrict b, float beta,
                                    float *restrict c, int ldc);
void ndx_f32_gemm_ukernel_4x8__ref(int m, int n, int k, float alpha,
                                   const float *restrict a,
                                   const float *restrict b, float beta,
                                   float *restrict c, int ldc);

#if defined(__x86_64__)
void ndx_f32_gemm_ukernel_6x16__avx2(int m, int n, int k, float alpha,
                                     const float *restrict a,
                                     const float *restrict b, float beta,
                                     float *restrict c, int ldc);
void ndx_f32_gemm_ukernel_12x32__avx512(int m, int n, int k, float alpha,
                                        const float *restrict a,
                                        const float *restrict b, float beta,
                                        float *restrict c, int ldc);
#endif
#if defined(__aarch64__)
void ndx_f32_gemm_ukernel_8x12__neon(int m, int n, int k, float alpha,
                                     const float *restrict a,
                                     const float *restrict b, float beta,
                                     float *restrict c, int ldc);
#endif

/* GEMM panel packing (see kernels/ref/f32-gemm-pack-ref.c):
 *   dst[p*w + i] = kmajor ? src[p*ld + i] : src[i*ld + p]  (i < rows, p < kc),
 *   zero for rows <= i < w.  Packs A panels (w = MR) and B panels (w = NR). */
typedef void (*ndx_gemm_pack_fn)(int kmajor, int rows, int kc,
                                 const float *restrict src, int ld, int w,
                                 float *restrict dst);
void ndx_f32_gemm_pack__ref(int kmajor, int rows, int kc, const float *restrict src,
                            int ld, int w, float *restrict dst);
#if defined(__x86_64__)
void ndx_f32_gemm_pack__avx2(int kmajor, int rows, int kc, const float *restrict src,
                             int ld, int w, float *restrict dst);
void ndx_f32_gemm_pack__avx512(int kmajor, int rows, int kc, const float *restrict src,
                               int ld, int w, float *restrict dst);
#endif

/* ---- im2col / col2im ---------------------------------------------------
 * One image, C x H x W, kernel KH x KW, stride, padding (zero), dilation.
 * OH = (H + 2*PH - DH*(KH-1) - 1) / SH + 1, likewise OW.
 * col is (C*KH*KW) x (OH*OW), row index (c*KH + i)*KW + j: exactly
 * torch.nn.functional.unfold.  col2im is fold: im is overwritten with the
 * sum of every column entry that maps onto each pixel.  The output sizes are
 * 0 when the (dilated) kernel does not fit the padded input. */
typedef struct ndx_conv2d_shape {
    int c, h, w;          /* input channels and size */
    int kh, kw;           /* kernel */
    int sh, sw;           /* stride */
    int ph, pw;           /* zero padding */
    int dh, dw;           /* dilation */
} ndx_conv2d_shape;

int ndx_conv2d_shape_out_h(const ndx_conv2d_shape *s);
int ndx_conv2d_shape_out_w(const ndx_conv2d_shape *s);
void ndx_f32_im2col__ref(const ndx_conv2d_shape *s, const float *restrict im,
                         float *restrict col);
void ndx_f32_col2im__ref(const ndx_conv2d_shape *s, const float *restrict col,
                         float *restrict im);
#if defined(__x86_64__)
void ndx_f32_im2col__avx2(const ndx_conv2d_shape *s, const float *restrict im,
                          float *restrict col);
void ndx_f32_col2im__avx2(const ndx_conv2d_shape *s, const float *restrict col,
                          float *restrict im);
void ndx_f32_im2col__avx512(const ndx_conv2d_shape *s, const float *restrict im,
                            float *restrict col);
#endif

/* ---- bilinear resize ---------------------------------------------------
 * channels planes of IH x IW -> OH x OW, the semantics of PyTorch's
 * F.interpolate(mode="bilinear", align_corners=ac) given output sizes:
 *   ac=1: src = dst * (in-1)/(out-1)    (0 when out == 1)
 *   ac=0: src = max(0, (dst + 0.5) * in/out - 0.5)
 *   i0 = floor(src), i1 = min(i0+1, in-1), l = src - i0, weights 1-l, l. */
/* One output index's taps along an axis of in -> out samples (the rounding
 * described in kernels/ref/f32-bilinear-ref.c); plans are tables of these. */
typedef struct ndx_bilinear_tap {
    int i0, i1;
    float l0, l1;
} ndx_bilinear_tap;
ndx_bilinear_tap ndx__bilinear_tap(int dst, int in, int out, int align_corners);
void ndx_f32_bilinear__ref(int channels, int ih, int iw, int oh, int ow,
                           int align_corners, const float *restrict in,
                           float *restrict out);

/* ---- pooling ------------------------------------------------------------
 * channels planes of H x W, window KH x KW, stride, padding.  Padding is
 * implicit -inf for max pooling; for average pooling padded cells count in
 * the divisor or not (count_include_pad), as in PyTorch.
 * Output size: ndx_pool2d_out_size() (PyTorch's rule, including ceil_mode:
 * a last window that starts in the right padding is dropped). */
typedef struct ndx_pool2d_shape {
    int h, w, kh, kw, sh, sw, ph, pw;
    int ceil_mode;
    int count_include_pad;  /* average pooling only */
} ndx_pool2d_shape;

int ndx_pool2d_out_size(int in, int k, int s, int p, int ceil_mode);
/* argmax (may be NULL): flat index y*W + x of the max within the plane.
 * As PyTorch: a NaN wins (the last one in the window), ties go to the first
 * maximum, a window of only -inf reports its first in-image cell.
 * ndx_pool2d_out_size() is 0 when the window does not fit. */
void ndx_f32_maxpool2d__ref(int channels, const ndx_pool2d_shape *s,
                            const float *restrict in, float *restrict out,
                            int32_t *restrict argmax);
void ndx_f32_avgpool2d__ref(int channels, const ndx_pool2d_shape *s,
                            const float *restrict in, float *restrict out);

/* ---- elementwise ------------------------------------------------------- */
/* y[i] = max(x[i], 0); y may equal x. NaN stays NaN (as torch.relu). */
void ndx_f32_relu__ref(size_t n, const float *x, float *y);
/* x[c*hw + i] += bias[c] for c < channels, i < hw, in place. */
void ndx_f32_bias_add__ref(int channels, size_t hw, const float *restrict bias,
                           float *restrict x);

/* ---- planned bilinear, fused dissection IoU and select, antialiased resize
 * (contracts in kernels/ref/f32-bilinear-plan-ref.c and f32-resize-aa-ref.c;
 * the plans are built by kernels/bilinear-plan.c and resize-aa-plan.c for
 * every set)
 * Plans hold per-axis tap tables computed once per size pair into a
 * caller-provided buffer; kernels only blend. */
typedef struct ndx_bilinear_plan {
    int ih, iw, oh, ow, align_corners;
    const int32_t *y0, *y1, *x0, *x1;     /* source rows / columns */
    const float *ly0, *ly1, *lx0, *lx1;   /* their weights */
} ndx_bilinear_plan;
/* Bytes of the plan's buffer for an output of oh x ow (0 if invalid). */
size_t ndx_bilinear_plan_size(int oh, int ow);
void ndx_bilinear_plan_init(ndx_bilinear_plan *p, int ih, int iw, int oh,
                            int ow, int align_corners, void *buf);
/* For the select kernels, which skip what cannot reach lo.  A value blended
 * from source values with weights >= 0 in two passes exceeds their largest,
 * hi, by less than 2^-19 of their largest magnitude, ab (each pass rounds by
 * at most 2^-23 of it): surely below lo when this holds.  NaN values never
 * win hi; infinities make the margin infinite (never surely below). */
static inline int ndx__surely_below(float hi, float ab, float lo)
{
    return hi + 2.0f * ab * 0x1p-19f + 0x1p-126f < lo;
}
/* Every value of the map (n floats), upsampled too, is surely below lo. */
int ndx__select_map_below(const float *map, size_t n, float lo);
/* The output columns [xa, xb] (empty when xb < xa) of output row oy that
 * may reach lo: those with a tap among the source columns not surely below
 * lo in either of the row's two source rows r0, r1.  Found once per pair
 * (consecutive output rows share it); returns 1 when the pair changed since
 * the previous call.  Start from {-1, -1, 0, -1}. */
typedef struct ndx_select_row {
    int r0, r1, xa, xb;
} ndx_select_row;
void ndx__select_pair(const ndx_bilinear_plan *p, const float *map, float lo, int oy,
                      ndx_select_row *s);
static inline int ndx__select_row(const ndx_bilinear_plan *p, const float *map, float lo,
                                  int oy, ndx_select_row *s)
{
    if (p->y0[oy] == s->r0 && p->y1[oy] == s->r1) return 0;
    ndx__select_pair(p, map, lo, oy, s);   /* a new pair: its columns */
    return 1;
}

typedef struct ndx_resize_aa_plan {
    int ih, iw, oh, ow;
    int ky, kx;                           /* most taps per output row / column */
    const int32_t *y0, *ny, *x0, *nx;     /* first tap and tap count */
    const float *wy, *wx;                 /* weights, oh x ky and ow x kx */
} ndx_resize_aa_plan;
size_t ndx_resize_aa_plan_size(int ih, int iw, int oh, int ow);
void ndx_resize_aa_plan_init(ndx_resize_aa_plan *p, int ih, int iw, int oh,
                             int ow, void *buf);

typedef void (*ndx_bilinear_blend_fn)(const ndx_bilinear_plan *p, int channels,
                                      const float *restrict in, float *restrict out);
typedef void (*ndx_bilinear_iou_fn)(const ndx_bilinear_plan *p,
                                    const float *restrict map, float threshold,
                                    int nmasks, const uint8_t *restrict masks,
                                    size_t mask_stride, uint64_t *restrict inter,
                                    uint64_t *restrict uni);
typedef size_t (*ndx_bilinear_select_fn)(const ndx_bilinear_plan *p,
                                         const float *restrict map, float lo,
                                         int32_t *restrict idx, float *restrict val);
typedef void (*ndx_resize_aa_fn)(const ndx_resize_aa_plan *p, int channels,
                                 const float *restrict in, float *restrict out,
                                 float *restrict work);
typedef void (*ndx_add_fn)(size_t n, const float *a, const float *b, float *y);
typedef void (*ndx_global_avgpool_fn)(int channels, size_t hw,
                                      const float *restrict in, float *restrict out);
typedef void (*ndx_channel_max_fn)(int channels, size_t hw, const float *restrict in,
                                   float *restrict out, int32_t *restrict argmax);
/* y[i*ldy + r] = sum over p < k of x[i*k + p] * w[r*k + p], for i < n and
 * r < rows: a few input rows against many weight rows, both contiguous
 * along k (a linear layer at a small batch, weights read once, unpacked). */
typedef void (*ndx_dot_rows_fn)(int n, int rows, int k, const float *restrict x,
                                const float *restrict w, float *restrict y, int ldy);

#define NDX_DECLARE_SIMD_SET(isa)                                                   \
    void ndx_f32_bilinear_blend__##isa(const ndx_bilinear_plan *p, int channels,    \
                                       const float *restrict in, float *restrict out); \
    void ndx_f32_bilinear_iou__##isa(const ndx_bilinear_plan *p,                    \
                                     const float *restrict map, float threshold,    \
                                     int nmasks, const uint8_t *restrict masks,     \
                                     size_t mask_stride, uint64_t *restrict inter,  \
                                     uint64_t *restrict uni);                       \
    size_t ndx_f32_bilinear_select__##isa(const ndx_bilinear_plan *p,               \
                                          const float *restrict map, float lo,      \
                                          int32_t *restrict idx, float *restrict val); \
    void ndx_f32_resize_aa__##isa(const ndx_resize_aa_plan *p, int channels,        \
                                  const float *restrict in, float *restrict out,    \
                                  float *restrict work);                            \
    void ndx_f32_add__##isa(size_t n, const float *a, const float *b, float *y);    \
    void ndx_f32_global_avgpool__##isa(int channels, size_t hw,                     \
                                       const float *restrict in, float *restrict out); \
    void ndx_f32_channel_max__##isa(int channels, size_t hw, const float *restrict in, \
                                    float *restrict out, int32_t *restrict argmax); \
    void ndx_f32_dot_rows__##isa(int n, int rows, int k, const float *restrict x,  \
                                 const float *restrict w, float *restrict y, int ldy); \
    void ndx_f32_relu__##isa(size_t n, const float *x, float *y);                  \
    void ndx_f32_bias_add__##isa(int channels, size_t hw, const float *restrict bias, \
                                 float *restrict x);
NDX_DECLARE_SIMD_SET(ref)
#if defined(__x86_64__)
NDX_DECLARE_SIMD_SET(avx2)
void ndx_f32_maxpool2d__avx2(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out,
                             int32_t *restrict argmax);
void ndx_f32_avgpool2d__avx2(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out);
/* the avx512 set's own kernels of these operations (the rest are avx2's) */
void ndx_f32_add__avx512(size_t n, const float *a, const float *b, float *y);
void ndx_f32_global_avgpool__avx512(int channels, size_t hw, const float *restrict in,
                                    float *restrict out);
void ndx_f32_relu__avx512(size_t n, const float *x, float *y);
void ndx_f32_bias_add__avx512(int channels, size_t hw, const float *restrict bias,
                              float *restrict x);
void ndx_f32_channel_max__avx512(int channels, size_t hw, const float *restrict in,
                                 float *restrict out, int32_t *restrict argmax);
void ndx_f32_dot_rows__avx512(int n, int rows, int k, const float *restrict x,
                              const float *restrict w, float *restrict y, int ldy);
void ndx_f32_bilinear_blend__avx512(const ndx_bilinear_plan *p, int channels,
                                    const float *restrict in, float *restrict out);
void ndx_f32_maxpool2d__avx512(int channels, const ndx_pool2d_shape *s,
                               const float *restrict in, float *restrict out,
                               int32_t *restrict argmax);
void ndx_f32_avgpool2d__avx512(int channels, const ndx_pool2d_shape *s,
                               const float *restrict in, float *restrict out);
#endif
#if defined(__aarch64__)
NDX_DECLARE_SIMD_SET(neon)
void ndx_f32_gemm_pack__neon(int kmajor, int rows, int kc, const float *restrict src,
                             int ld, int w, float *restrict dst);
void ndx_f32_im2col__neon(const ndx_conv2d_shape *s, const float *restrict im,
                          float *restrict col);
void ndx_f32_col2im__neon(const ndx_conv2d_shape *s, const float *restrict col,
                          float *restrict im);
void ndx_f32_maxpool2d__neon(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out,
                             int32_t *restrict argmax);
void ndx_f32_avgpool2d__neon(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out);
#endif
#undef NDX_DECLARE_SIMD_SET

/* ---- FMA peak probe (contract in kernels/ref/f32-fma-probe-ref.c) -------
 * acc[j] = fma(acc[j], m, c), iters times, for j < MR*NR (the line's tile:
 * MR chains of NR lanes): 2*MR*NR*iters FLOP at the set's FMA peak. */
typedef void (*ndx_fma_probe_fn)(long iters, float m, float c, float *restrict acc);
void ndx_f32_fma_probe__ref(long iters, float m, float c, float *restrict acc);
#if defined(__x86_64__)
void ndx_f32_fma_probe__avx2(long iters, float m, float c, float *restrict acc);
void ndx_f32_fma_probe__avx512(long iters, float m, float c, float *restrict acc);
#endif
#if defined(__aarch64__)
void ndx_f32_fma_probe__neon(long iters, float m, float c, float *restrict acc);
#endif

/* ---- the dispatch table ------------------------------------------------
 * One set per ISA, built from kernels.inc: every operation has a function and
 * its tile (mr x nr; 0 where the operation has none).  Operations a set does
 * not provide come from ref.  Drivers read tiles and cache blocks from here
 * and never hard-code them. */
typedef void (*ndx_im2col_fn)(const ndx_conv2d_shape *, const float *restrict,
                              float *restrict);
typedef void (*ndx_bilinear_fn)(int, int, int, int, int, int,
                                const float *restrict, float *restrict);
typedef void (*ndx_maxpool_fn)(int, const ndx_pool2d_shape *,
                               const float *restrict, float *restrict,
                               int32_t *restrict);
typedef void (*ndx_avgpool_fn)(int, const ndx_pool2d_shape *,
                               const float *restrict, float *restrict);
typedef void (*ndx_relu_fn)(size_t, const float *, float *);
typedef void (*ndx_bias_add_fn)(int, size_t, const float *restrict,
                                float *restrict);

#define NDX_KERNEL_SLOT(type, op) struct { type fn; const char *name; int mr, nr; } op
typedef struct ndx_kernel_table {
    const char *isa;                       /* "ref", "avx2", "avx512", "neon" */
    NDX_KERNEL_SLOT(ndx_gemm_ukernel_fn, gemm_ukernel);
    NDX_KERNEL_SLOT(ndx_gemm_pack_fn, gemm_pack);
    NDX_KERNEL_SLOT(ndx_im2col_fn, im2col);
    NDX_KERNEL_SLOT(ndx_im2col_fn, col2im);
    NDX_KERNEL_SLOT(ndx_bilinear_fn, bilinear);
    NDX_KERNEL_SLOT(ndx_maxpool_fn, maxpool2d);
    NDX_KERNEL_SLOT(ndx_avgpool_fn, avgpool2d);
    NDX_KERNEL_SLOT(ndx_relu_fn, relu);
    NDX_KERNEL_SLOT(ndx_bias_add_fn, bias_add);
    NDX_KERNEL_SLOT(ndx_bilinear_blend_fn, bilinear_blend);
    NDX_KERNEL_SLOT(ndx_bilinear_iou_fn, bilinear_iou);
    NDX_KERNEL_SLOT(ndx_bilinear_select_fn, bilinear_select);
    NDX_KERNEL_SLOT(ndx_resize_aa_fn, resize_aa);
    NDX_KERNEL_SLOT(ndx_add_fn, add);
    NDX_KERNEL_SLOT(ndx_global_avgpool_fn, global_avgpool);
    NDX_KERNEL_SLOT(ndx_channel_max_fn, channel_max);
    NDX_KERNEL_SLOT(ndx_dot_rows_fn, dot_rows);
    NDX_KERNEL_SLOT(ndx_fma_probe_fn, fma_probe);
    int gemm_mc, gemm_kc, gemm_nc;         /* cache blocking of the GEMM driver */
    int gemm_half_edge;                    /* an edge tile of <= NR/2 columns costs ~half */
    int gemm_row_step;                     /* an edge tile of r rows costs r rounded up to
                                              this (0: a full tile) */
} ndx_kernel_table;
#undef NDX_KERNEL_SLOT

/* The set chosen at start-up (ndx_init() or the first call that needs it). */
const ndx_kernel_table *ndx_kernels(void);
/* The set of the given ISA name, or NULL when this build or CPU lacks it. */
const ndx_kernel_table *ndx_kernels_for(const char *isa);
/* Name of the best set this CPU runs ("avx512", "avx2", "neon" or "ref"). */
const char *ndx_kernels_best(void);
/* Why the named set runs here or not (CPUID / XCR0 bits seen), into buf. */
const char *ndx_kernels_why(const char *isa, char *buf, size_t n);
/* The i-th set this build knows, NULL past the last. */
const char *ndx_kernels_name_at(int i);
/* The slots the named set takes from its parent set (NDX_INHERIT in
 * kernels.inc) where the parent has a kernel of its own, space-separated
 * into buf ("" when none); returns the parent's name, or NULL when it has
 * none (ref) or is unknown. */
const char *ndx_kernels_inherited(const char *isa, char *buf, size_t n);
/* Makes the named set current; -1 when unknown or not runnable here. */
int ndx_kernels_select(const char *isa);
/* One line naming the CPU features dispatch looked at: the public
 * ndx_cpu_features() of include/netdx.h, defined in dispatch.c, hence
 * exported (NDX_API, as netdx.h defines it; kernels include no header of
 * the layers above them). */
#ifndef NDX_API
#define NDX_API __attribute__((visibility("default")))
#endif
NDX_API void ndx_cpu_features(char *buf, size_t n);

#endif
