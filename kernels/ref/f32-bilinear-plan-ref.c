/* Planned bilinear resize and the fused dissection kernel, scalar reference.
 *
 * Plan: the per-axis taps of kernels/ref/f32-bilinear-ref.c (PyTorch 1.13's
 * F.interpolate(mode="bilinear") rounding, see that file's header) computed
 * once per (IH, IW, OH, OW, align_corners) into a caller-provided buffer of
 * ndx_bilinear_plan_size() bytes (4-byte aligned):
 *   y0[OH] y1[OH] (int32)  ly0[OH] ly1[OH] (float)
 *   x0[OW] x1[OW] (int32)  lx0[OW] lx1[OW] (float)
 *
 * blend: channels planes of IH x IW -> OH x OW, contiguous, with exactly the
 * reference's operations and order (W first, then H):
 *   t0 = r0[x0]*lx0 + r0[x1]*lx1,  t1 = r1[x0]*lx0 + r1[x1]*lx1,
 *   out = t0*ly0 + t1*ly1           (r0 = row y0, r1 = row y1)
 * so it equals ndx_f32_bilinear__ref bit for bit (built -ffp-contract=off).
 *
 * iou: one map of IH x IW, upsampled as blend does (never stored), each
 * value v compared with the threshold (active when v > T; NaN is inactive)
 * and counted against nmasks uint8 masks of OH x OW (row-major, mask k at
 * masks + k*mask_stride, in-mask when nonzero):
 *   inter[k] += #(active and in mask k),  uni[k] += #(active or in mask k).
 *
 * select: one map of IH x IW, upsampled as blend does (never stored); every
 * value v >= lo (NaN never selected) is written in row-major order,
 *   idx[n] = oy*OW + ox,  val[n] = v,  n = 0, 1, ...
 * and n is returned.  idx and val have room for OH*OW entries; only
 * idx[0 .. n) and val[0 .. n) are written.
 * No alignment assumptions. */
#include <math.h>

#include "../kernels.h"

size_t ndx_bilinear_plan_size(int oh, int ow)
{
    if (oh <= 0 || ow <= 0) return 0;
    return ((size_t)oh + (size_t)ow) * 4 * sizeof(float);
}

/* One axis: in -> out, the reference's taps. */
static void axis_taps(int in, int out, int align_corners, int32_t *i0,
                      int32_t *i1, float *l0, float *l1)
{
    for (int dst = 0; dst < out; dst++) {
        const ndx_bilinear_tap t = ndx__bilinear_tap(dst, in, out, align_corners);
        i0[dst] = t.i0;
        i1[dst] = t.i1;
        l0[dst] = t.l0;
        l1[dst] = t.l1;
    }
}

void ndx_bilinear_plan_init(ndx_bilinear_plan *p, int ih, int iw, int oh,
                            int ow, int align_corners, void *buf)
{
    int32_t *ib = buf;
    p->ih = ih;
    p->iw = iw;
    p->oh = oh;
    p->ow = ow;
    p->align_corners = align_corners;
    int32_t *y0 = ib, *y1 = ib + oh;
    float *ly0 = (float *)(ib + 2 * (size_t)oh), *ly1 = ly0 + oh;
    int32_t *x0 = ib + 4 * (size_t)oh, *x1 = x0 + ow;
    float *lx0 = (float *)(x1 + ow), *lx1 = lx0 + ow;
    axis_taps(ih, oh, align_corners, y0, y1, ly0, ly1);
    axis_taps(iw, ow, align_corners, x0, x1, lx0, lx1);
    p->y0 = y0;
    p->y1 = y1;
    p->ly0 = ly0;
    p->ly1 = ly1;
    p->x0 = x0;
    p->x1 = x1;
    p->lx0 = lx0;
    p->lx1 = lx1;
}

int ndx__select_map_below(const float *map, size_t n, float lo)
{
    float hi = -INFINITY, a = 0.0f;
    for (size_t i = 0; i < n; i++) {
        hi = map[i] > hi ? map[i] : hi;
        a = fabsf(map[i]) > a ? fabsf(map[i]) : a;
    }
    return ndx__surely_below(hi, a, lo);
}

/* First output column whose right tap is >= c / last whose left tap is
 * <= c (the taps are nondecreasing along the row). */
static int first_right_tap(const ndx_bilinear_plan *p, int c)
{
    int lo = 0, hi = p->ow;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (p->x1[mid] >= c) hi = mid; else lo = mid + 1;
    }
    return lo;
}
static int last_left_tap(const ndx_bilinear_plan *p, int c)
{
    int lo = 0, hi = p->ow;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (p->x0[mid] <= c) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
}

void ndx__select_pair(const ndx_bilinear_plan *p, const float *map, float lo, int oy,
                      ndx_select_row *s)
{
    const int r0 = p->y0[oy], r1 = p->y1[oy];
    const float *m0 = map + (size_t)r0 * p->iw, *m1 = map + (size_t)r1 * p->iw;
    int cf = -1, cl = -1;
    for (int c = 0; c < p->iw; c++) {   /* no branches on the data: ~40% faster */
        const float a = m0[c], b = m1[c], fa = fabsf(a), fb = fabsf(b);
        const float hi = b > a ? b : a, ab = fb > fa ? fb : fa;   /* NaN in m0: kept */
        const int keep = !ndx__surely_below(hi, ab, lo);
        cl = keep ? c : cl;
        cf = keep && cf < 0 ? c : cf;
    }
    *s = (ndx_select_row){r0, r1, cf < 0 ? 0 : first_right_tap(p, cf),
                          cf < 0 ? -1 : last_left_tap(p, cl)};
}

static float blend_at(const ndx_bilinear_plan *p, const float *x, int oy, int ox)
{
    const float *r0 = x + (size_t)p->y0[oy] * p->iw;
    const float *r1 = x + (size_t)p->y1[oy] * p->iw;
    const int a = p->x0[ox], b = p->x1[ox];
    const float t0 = r0[a] * p->lx0[ox] + r0[b] * p->lx1[ox];
    const float t1 = r1[a] * p->lx0[ox] + r1[b] * p->lx1[ox];
    return t0 * p->ly0[oy] + t1 * p->ly1[oy];
}

void ndx_f32_bilinear_blend__ref(const ndx_bilinear_plan *p, int channels,
                                 const float *restrict in, float *restrict out)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++)
                y[(size_t)oy * p->ow + ox] = blend_at(p, x, oy, ox);
    }
}

void ndx_f32_bilinear_iou__ref(const ndx_bilinear_plan *p,
                               const float *restrict map, float threshold,
                               int nmasks, const uint8_t *restrict masks,
                               size_t mask_stride, uint64_t *restrict inter,
                               uint64_t *restrict uni)
{
    for (int k = 0; k < nmasks; k++) {
        const uint8_t *m = masks + (size_t)k * mask_stride;
        uint64_t i_n = 0, u_n = 0;
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++) {
                const int act = blend_at(p, map, oy, ox) > threshold;
                const int in = m[(size_t)oy * p->ow + ox] != 0;
                i_n += (uint64_t)(act & in);
                u_n += (uint64_t)(act | in);
            }
        inter[k] += i_n;
        uni[k] += u_n;
    }
}

size_t ndx_f32_bilinear_select__ref(const ndx_bilinear_plan *p,
                                    const float *restrict map, float lo,
                                    int32_t *restrict idx, float *restrict val)
{
    size_t n = 0;
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
            const float v = blend_at(p, map, oy, ox);
            if (v >= lo) {
                idx[n] = oy * p->ow + ox;
                val[n] = v;
                n++;
            }
        }
    return n;
}
