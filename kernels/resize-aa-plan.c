/* The antialiased-resize plan, shared by every kernel set: per axis, the
 * first tap, the tap count and the normalised triangle weights of each
 * output, computed once per size pair (the rule is written in
 * kernels/ref/f32-resize-aa-ref.c, whose kernel and SIMD twins read the
 * plan).  Built with -ffp-contract=off, as the oracle. */
#include "kernels.h"

/* Taps of one axis; stores them when first != NULL.  Returns the most taps
 * of any output. */
static int axis_taps(int in, int out, int k, int32_t *first, int32_t *count,
                     float *w)
{
    const float scale = (float)in / (float)out;
    const float support = scale >= 1.0f ? scale : 1.0f;
    const float inv = scale >= 1.0f ? 1.0f / scale : 1.0f;
    int kmax = 0;
    for (int i = 0; i < out; i++) {
        const float center = scale * (float)(i + 0.5);
        int lo = (int)(center - support + 0.5f);
        if (lo < 0) lo = 0;
        int hi = (int)(center + support + 0.5f);
        if (hi > in) hi = in;
        const int n = hi - lo;
        if (n > kmax) kmax = n;
        if (!first) continue;
        float *wi = w + (size_t)i * k;
        float total = 0.0f;
        for (int j = 0; j < n; j++) {
            float x = ((float)(j + lo) - center + 0.5f) * inv;
            if (x < 0.0f) x = -x;
            wi[j] = x < 1.0f ? 1.0f - x : 0.0f;
            total += wi[j];
        }
        for (int j = 0; j < n; j++)
            if (total != 0.0f) wi[j] /= total;
        for (int j = n; j < k; j++) wi[j] = 0.0f;
        first[i] = lo;
        count[i] = n;
    }
    return kmax;
}

size_t ndx_resize_aa_plan_size(int ih, int iw, int oh, int ow)
{
    if (ih <= 0 || iw <= 0 || oh <= 0 || ow <= 0) return 0;
    const size_t ky = (size_t)axis_taps(ih, oh, 0, NULL, NULL, NULL);
    const size_t kx = (size_t)axis_taps(iw, ow, 0, NULL, NULL, NULL);
    return 4 * (2 * (size_t)oh + 2 * (size_t)ow + (size_t)oh * ky + (size_t)ow * kx);
}

void ndx_resize_aa_plan_init(ndx_resize_aa_plan *p, int ih, int iw, int oh,
                             int ow, void *buf)
{
    p->ih = ih;
    p->iw = iw;
    p->oh = oh;
    p->ow = ow;
    p->ky = axis_taps(ih, oh, 0, NULL, NULL, NULL);
    p->kx = axis_taps(iw, ow, 0, NULL, NULL, NULL);
    int32_t *ib = buf;
    int32_t *y0 = ib, *ny = ib + oh, *x0 = ib + 2 * (size_t)oh, *nx = x0 + ow;
    float *wy = (float *)(nx + ow), *wx = wy + (size_t)oh * p->ky;
    axis_taps(ih, oh, p->ky, y0, ny, wy);
    axis_taps(iw, ow, p->kx, x0, nx, wx);
    p->y0 = y0;
    p->ny = ny;
    p->x0 = x0;
    p->nx = nx;
    p->wy = wy;
    p->wx = wx;
}
