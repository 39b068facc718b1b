/* Antialiased resize (triangle filter), scalar reference: the semantics of
 * PyTorch's F.interpolate(mode="bilinear", antialias=True,
 * align_corners=False), the filter PIL uses, for downscaling an image patch
 * to the network input (e.g. 400x400 -> 227x227) without aliasing.
 *
 * Plan, per axis (in -> out), computed once into a caller buffer of
 * ndx_resize_aa_plan_size() bytes (4-byte aligned), in float as PyTorch:
 *   scale = (float)in / (float)out
 *   support = scale >= 1 ? scale : 1,  inv = scale >= 1 ? 1/scale : 1
 *   center = scale * (i + 0.5)
 *   first = max((int)(center - support + 0.5), 0)
 *   n = min((int)(center + support + 0.5), in) - first
 *   w[j] = tri((first + j - center + 0.5) * inv), tri(x) = max(0, 1 - |x|),
 *   normalised by their sum (when nonzero); weights past n are 0.
 * Taps per output: at most k (ky, kx in the plan), found when sizing.
 *
 * Kernel: channels planes of IH x IW -> OH x OW, contiguous.  Vertical pass
 * first (PyTorch does the horizontal one first: results differ by float
 * rounding, ~1e-7 relative), into work (IW floats, caller-provided):
 *   row[x] = in[first_y][x]*wy[0] + in[first_y+1][x]*wy[1] + ...  (in order)
 * then out[ox] = row[first_x]*wx[0] + row[first_x+1]*wx[1] + ...  (in order),
 * each sum starting from its first product, over the n taps only.
 * Built with -ffp-contract=off; no alignment assumptions. */
#include "../kernels.h"

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

void ndx_f32_resize_aa__ref(const ndx_resize_aa_plan *p, int channels,
                            const float *restrict in, float *restrict out,
                            float *restrict work)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int oy = 0; oy < p->oh; oy++) {
            const float *wy = p->wy + (size_t)oy * p->ky;
            const float *r = x + (size_t)p->y0[oy] * p->iw;
            for (int ix = 0; ix < p->iw; ix++) work[ix] = r[ix] * wy[0];
            for (int j = 1; j < p->ny[oy]; j++) {
                r += p->iw;
                for (int ix = 0; ix < p->iw; ix++) work[ix] += r[ix] * wy[j];
            }
            for (int ox = 0; ox < p->ow; ox++) {
                const float *wx = p->wx + (size_t)ox * p->kx;
                const float *s = work + p->x0[ox];
                float acc = s[0] * wx[0];
                for (int j = 1; j < p->nx[ox]; j++) acc += s[j] * wx[j];
                y[(size_t)oy * p->ow + ox] = acc;
            }
        }
    }
}
