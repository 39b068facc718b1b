/* The bilinear plan, shared by every kernel set: the per-axis taps of
 * kernels/ref/f32-bilinear-ref.c (ndx__bilinear_tap, PyTorch 1.13's
 * F.interpolate(mode="bilinear") rounding) computed once per (IH, IW, OH, OW,
 * align_corners) into a caller-provided buffer of ndx_bilinear_plan_size()
 * bytes (4-byte aligned):
 *   y0[OH] y1[OH] (int32)  ly0[OH] ly1[OH] (float)
 *   x0[OW] x1[OW] (int32)  lx0[OW] lx1[OW] (float)
 * and the select kernels' skipping rule (ndx__select_pair: the output
 * columns of a row that may reach a threshold).  The kernels that blend
 * with a plan are kernels/ref/f32-bilinear-plan-ref.c and its SIMD twins.
 * Built with -ffp-contract=off, as the oracle. */
#include <math.h>

#include "kernels.h"

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
