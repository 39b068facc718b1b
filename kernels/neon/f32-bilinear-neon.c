/* Planned bilinear blend and the fused dissection kernel, aarch64 NEON.
 *
 * Math and layouts: kernels/ref/f32-bilinear-plan-ref.c; the plan:
 * kernels/bilinear-plan.c; the structure is that of
 * kernels/avx2/f32-bilinear-avx2.c.  The reference's operations in
 * its order (vmulq, vmulq, vaddq; no FMA), so results equal the ref bit for
 * bit.  Columns in chunks of CHUNK; the horizontal pass of a source row
 * (scalar: NEON has no gather) is cached for two rows per chunk; each output
 * row is 2 loads, 2 mul, 1 add, 1 store per 4.
 * iou: a byte row (0xff where value > T) on the stack, then per mask 16
 * pixels per step: in = act & (m != 0), neither = ~act & (m == 0), byte
 * counters (at most CHUNK/16 = 64 per row) summed with vaddlvq_u8 per row.
 * As in the AVX2 kernel, 32-column blocks whose values are surely below
 * (above) T, judged from the cached rows' block bounds, skip the blend, and
 * a row with no candidate only counts the masks (the union).
 * select: as in the AVX2 kernel, a whole map surely below lo returns at
 * once and each output row works only on its columns that can reach lo
 * (ndx__select_map_below, ndx__select_row); that range is passed
 * horizontally (kept while its pair of source rows lasts), blended 8 columns
 * at a time, compared (>= lo), skipped when no lane is set, else the set
 * lanes taken from an 8-bit mask with ctz.  Row-major order.
 * No alignment assumptions. */
#include <arm_neon.h>
#include <math.h>

#include "../kernels.h"

#define CHUNK 1024

typedef struct row_cache {
    int tag[2];
    float buf[2][CHUNK];
} row_cache;

static inline float blend1(float a, float b, float l0, float l1)
{
    const float pa = a * l0;
    const float pb = b * l1;
    return pa + pb;
}

/* t0*w0 + t1*w1 for 4 columns of two cached rows. */
static inline float32x4_t blend4(const float *t0, const float *t1, float32x4_t w0,
                                 float32x4_t w1)
{
    return vaddq_f32(vmulq_f32(vld1q_f32(t0), w0), vmulq_f32(vld1q_f32(t1), w1));
}

static const float *cached_row(row_cache *rc, const ndx_bilinear_plan *p,
                               const float *x, int r, int keep, int xs, int n)
{
    if (rc->tag[0] == r) return rc->buf[0];
    if (rc->tag[1] == r) return rc->buf[1];
    const int s = rc->tag[0] == keep ? 1 : 0;
    const float *row = x + (size_t)r * p->iw;
    float *t = rc->buf[s];
    for (int j = 0; j < n; j++)
        t[j] = blend1(row[p->x0[xs + j]], row[p->x1[xs + j]], p->lx0[xs + j],
                      p->lx1[xs + j]);
    rc->tag[s] = r;
    return t;
}

void ndx_f32_bilinear_blend__neon(const ndx_bilinear_plan *p, int channels,
                                  const float *restrict in, float *restrict out)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    row_cache rc;
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int xs = 0; xs < p->ow; xs += CHUNK) {
            const int n = p->ow - xs < CHUNK ? p->ow - xs : CHUNK;
            rc.tag[0] = rc.tag[1] = -1;
            for (int oy = 0; oy < p->oh; oy++) {
                const int r0 = p->y0[oy], r1 = p->y1[oy];
                const float *t0 = cached_row(&rc, p, x, r0, r1, xs, n);
                const float *t1 = cached_row(&rc, p, x, r1, r0, xs, n);
                const float l0 = p->ly0[oy], l1 = p->ly1[oy];
                const float32x4_t w0 = vdupq_n_f32(l0), w1 = vdupq_n_f32(l1);
                float *o = y + (size_t)oy * p->ow + xs;
                int j = 0;
                for (; j + 4 <= n; j += 4)
                    vst1q_f32(o + j, blend4(t0 + j, t1 + j, w0, w1));
                for (; j < n; j++)
                    o[j] = blend1(t0[j], t1[j], l0, l1);
            }
        }
    }
}

/* Two cached horizontal passes with, per 32-column block, the min, max and
 * max |t| (NaN when the block holds a NaN), as in the AVX2 kernel. */
#define NBLK (CHUNK / 32)
typedef struct iou_cache {
    row_cache rc;
    float bmin[2][NBLK], bmax[2][NBLK], babs[2][NBLK];
} iou_cache;

static const float *iou_row(iou_cache *ic, int *slot, const ndx_bilinear_plan *p,
                            const float *x, int r, int keep, int xs, int n)
{
    for (int s = 0; s < 2; s++)
        if (ic->rc.tag[s] == r) {
            *slot = s;
            return ic->rc.buf[s];
        }
    const float *t = cached_row(&ic->rc, p, x, r, keep, xs, n);
    const int s = t == ic->rc.buf[0] ? 0 : 1;
    *slot = s;
    for (int b = 0; b * 32 < n; b++) {
        const int j0 = 32 * b, j1 = j0 + 32 < n ? j0 + 32 : n;
        float lo = INFINITY, hi = -INFINITY;
        int any_nan = 0;
        for (int j = j0; j < j1; j++) {
            if (t[j] < lo) lo = t[j];
            if (t[j] > hi) hi = t[j];
            any_nan |= t[j] != t[j];
        }
        ic->bmin[s][b] = lo;
        ic->bmax[s][b] = hi;
        ic->babs[s][b] = any_nan ? NAN : -lo > hi ? -lo : hi;
    }
    return t;
}

/* Block b of the output row blended from slots s0, s1 with weights l0, l1:
 * 1 when every value is surely < thr, 2 when surely > thr, else 0 (see
 * block_status() in the AVX2 kernel). */
static inline int block_state(const iou_cache *ic, int s0, int s1, int b, float l0,
                              float l1, float thr)
{
    const float hi = ic->bmax[s0][b] * l0 + ic->bmax[s1][b] * l1;
    const float lo = ic->bmin[s0][b] * l0 + ic->bmin[s1][b] * l1;
    const float eps = (ic->babs[s0][b] + ic->babs[s1][b]) * 0x1p-19f + 0x1p-126f;
    return hi + eps < thr ? 1 : lo - eps > thr ? 2 : 0;
}

void ndx_f32_bilinear_iou__neon(const ndx_bilinear_plan *p,
                                const float *restrict map, float threshold,
                                int nmasks, const uint8_t *restrict masks,
                                size_t mask_stride, uint64_t *restrict inter,
                                uint64_t *restrict uni)
{
    iou_cache ic;
    uint8_t act[CHUNK];
    const float32x4_t thr = vdupq_n_f32(threshold);
    for (int xs = 0; xs < p->ow; xs += CHUNK) {
        const int n = p->ow - xs < CHUNK ? p->ow - xs : CHUNK;
        const int nblk = (n + 31) / 32;
        ic.rc.tag[0] = ic.rc.tag[1] = -1;
        for (int oy = 0; oy < p->oh; oy++) {
            const int r0 = p->y0[oy], r1 = p->y1[oy];
            int s0, s1;
            const float *t0 = iou_row(&ic, &s0, p, map, r0, r1, xs, n);
            const float *t1 = iou_row(&ic, &s1, p, map, r1, r0, xs, n);
            const float l0 = p->ly0[oy], l1 = p->ly1[oy];
            const float32x4_t w0 = vdupq_n_f32(l0), w1 = vdupq_n_f32(l1);
            const size_t row_off = (size_t)oy * p->ow + xs;
            int nnone = 0;
            uint8_t status[NBLK];   /* 0 compute, 1 none active, 2 all active */
            for (int b = 0; b < nblk; b++) {
                status[b] = (uint8_t)block_state(&ic, s0, s1, b, l0, l1, threshold);
                nnone += status[b] == 1;
            }
            if (nnone == nblk) {   /* nothing active: union = mask count */
                for (int k = 0; k < nmasks; k++) {
                    const uint8_t *m = masks + (size_t)k * mask_stride + row_off;
                    uint8x16_t cz = vdupq_n_u8(0);
                    int i = 0;
                    for (; i + 16 <= n; i += 16)
                        cz = vsubq_u8(cz, vceqq_u8(vld1q_u8(m + i), vdupq_n_u8(0)));
                    uint64_t zeros = vaddlvq_u8(cz);
                    for (; i < n; i++) zeros += (uint64_t)(m[i] == 0);
                    uni[k] += (uint64_t)n - zeros;
                }
                continue;
            }
            for (int b = 0; b < nblk; b++) {
                const int j0 = 32 * b, j1 = j0 + 32 < n ? j0 + 32 : n;
                if (status[b]) {
                    for (int j = j0; j < j1; j++) act[j] = status[b] == 2 ? 0xff : 0;
                    continue;
                }
                int j = j0;
                for (; j + 16 <= j1; j += 16) {
                    uint16x4_t h[4];
                    for (int q = 0; q < 4; q++)
                        h[q] = vmovn_u32(vcgtq_f32(blend4(t0 + j + 4 * q, t1 + j + 4 * q,
                                                          w0, w1), thr));
                    const uint8x8_t lo8 = vmovn_u16(vcombine_u16(h[0], h[1]));
                    const uint8x8_t hi8 = vmovn_u16(vcombine_u16(h[2], h[3]));
                    vst1q_u8(act + j, vcombine_u8(lo8, hi8));
                }
                for (; j < j1; j++)
                    act[j] = blend1(t0[j], t1[j], l0, l1) > threshold ? 0xff : 0;
            }

            for (int k = 0; k < nmasks; k++) {
                const uint8_t *m = masks + (size_t)k * mask_stride + row_off;
                uint8x16_t ci = vdupq_n_u8(0), cn = vdupq_n_u8(0);
                int i = 0;
                for (; i + 16 <= n; i += 16) {
                    const uint8x16_t a = vld1q_u8(act + i);
                    const uint8x16_t e = vceqq_u8(vld1q_u8(m + i), vdupq_n_u8(0));
                    ci = vsubq_u8(ci, vbicq_u8(a, e));
                    cn = vsubq_u8(cn, vbicq_u8(e, a));
                }
                uint64_t in_n = vaddlvq_u8(ci), neither = vaddlvq_u8(cn);
                for (; i < n; i++) {
                    const int a = act[i] != 0, bm = m[i] != 0;
                    in_n += (uint64_t)(a & bm);
                    neither += (uint64_t)!(a | bm);
                }
                inter[k] += in_n;
                uni[k] += (uint64_t)n - neither;
            }
        }
    }
}

size_t ndx_f32_bilinear_select__neon(const ndx_bilinear_plan *p,
                                     const float *restrict map, float lo,
                                     int32_t *restrict idx, float *restrict val)
{
    float t0[CHUNK], t1[CHUNK];
    const float32x4_t lov = vdupq_n_f32(lo);
    const uint32_t bits[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    const uint32x4_t bit_lo = vld1q_u32(bits), bit_hi = vld1q_u32(bits + 4);
    size_t cnt = 0;
    if (ndx__select_map_below(map, (size_t)p->ih * p->iw, lo)) return 0;
    ndx_select_row sr = {-1, -1, 0, -1};
    int cached = 0;   /* the horizontal passes of the current pair in t0, t1 */
    for (int oy = 0; oy < p->oh; oy++) {
        if (ndx__select_row(p, map, lo, oy, &sr)) cached = 0;
        const int xa = sr.xa, xb = sr.xb;
        if (xb < xa) continue;
        const float *m0 = map + (size_t)sr.r0 * p->iw, *m1 = map + (size_t)sr.r1 * p->iw;
        const float l0 = p->ly0[oy], l1 = p->ly1[oy];
        const float32x4_t w0 = vdupq_n_f32(l0), w1 = vdupq_n_f32(l1);
        for (int xs = xa; xs <= xb; xs += CHUNK) {
            const int n = xb + 1 - xs < CHUNK ? xb + 1 - xs : CHUNK;
            /* the horizontal passes are kept while the pair lasts, when the
             * range fits one chunk */
            if (!cached || n < xb + 1 - xa) {
                for (int j = 0; j < n; j++) {
                    const int x0 = p->x0[xs + j], x1 = p->x1[xs + j];
                    const float a0 = p->lx0[xs + j], a1 = p->lx1[xs + j];
                    t0[j] = blend1(m0[x0], m0[x1], a0, a1);
                    t1[j] = blend1(m1[x0], m1[x1], a0, a1);
                }
                cached = n == xb + 1 - xa;
            }
            const int32_t base = oy * p->ow + xs;
            int j = 0;
            for (; j + 8 <= n; j += 8) {
                const float32x4_t va = blend4(t0 + j, t1 + j, w0, w1);
                const float32x4_t vb = blend4(t0 + j + 4, t1 + j + 4, w0, w1);
                const uint32x4_t ga = vcgeq_f32(va, lov), gb = vcgeq_f32(vb, lov);
                if (!vmaxvq_u32(vorrq_u32(ga, gb))) continue;
                unsigned m = vaddvq_u32(vandq_u32(ga, bit_lo)) |
                             vaddvq_u32(vandq_u32(gb, bit_hi));
                float tmp[8];
                vst1q_f32(tmp, va);
                vst1q_f32(tmp + 4, vb);
                do {
                    const int l = __builtin_ctz(m);
                    idx[cnt] = base + j + l;
                    val[cnt++] = tmp[l];
                    m &= m - 1;
                } while (m);
            }
            for (; j < n; j++) {
                const float v = blend1(t0[j], t1[j], l0, l1);
                if (v >= lo) {
                    idx[cnt] = base + j;
                    val[cnt++] = v;
                }
            }
        }
    }
    return cnt;
}
