/* 2-D max and average pooling, scalar reference (PyTorch CPU semantics).
 *
 * in: channels planes of H x W, out: channels planes of OH x OW, row-major
 * and contiguous; OH = ndx_pool2d_out_size(H, KH, SH, PH, ceil_mode), OW
 * likewise:
 *   OH = floor((H + 2*PH - KH + (ceil_mode ? SH-1 : 0)) / SH) + 1,
 *   and with ceil_mode, OH -= 1 when (OH-1)*SH >= H + PH (the last window
 *   would start in the right padding).  0 when the window does not fit.
 * Output (oy, ox) pools the window rows y0 = oy*SH - PH .. y0+KH-1, columns
 * likewise.
 * Max: padding is -inf, so the window is clipped to the image.  The first
 * strictly larger value wins, except that any NaN wins over everything and a
 * later NaN over an earlier one (PyTorch's `val > max || isnan(val)`).
 * argmax (optional) is y*W + x within the plane; it starts at the window's
 * first in-image cell, so an all -inf window reports that cell.
 * Average: the window is first clipped to the padded extent [-PH, H+PH),
 * giving pool_size; then to the image.  The sum of the image cells (in float,
 * row-major order) is divided by pool_size if count_include_pad, else by the
 * clipped cell count.  A window with no image cell gives 0 (PyTorch never
 * builds one when PH <= KH/2).
 * No alignment assumptions; every output element is written exactly once. */
#include "../kernels.h"

#include <math.h>

int ndx_pool2d_out_size(int in, int k, int s, int p, int ceil_mode)
{
    if (s <= 0) return 0;
    /* in 64 bits: no overflow for any int arguments */
    const long long num = (long long)in + 2LL * p - k + (ceil_mode ? s - 1LL : 0);
    if (num < 0) return 0;
    long long out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= (long long)in + p) out--;
    return out > 0x7fffffff ? 0 : (int)out;
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

void ndx_f32_maxpool2d__ref(int channels, const ndx_pool2d_shape *s,
                            const float *restrict in, float *restrict out,
                            int32_t *restrict argmax)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;

    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = imax(oy * s->sh - s->ph, 0);
            const int y1 = imin(oy * s->sh - s->ph + s->kh, s->h);
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = imax(ox * s->sw - s->pw, 0);
                const int x1 = imin(ox * s->sw - s->pw + s->kw, s->w);
                int best = y0 * s->w + x0;
                float m = -INFINITY;
                for (int y = y0; y < y1; y++) {
                    for (int xx = x0; xx < x1; xx++) {
                        const float v = x[(size_t)y * s->w + xx];
                        if (v > m || isnan(v)) {
                            m = v;
                            best = y * s->w + xx;
                        }
                    }
                }
                const size_t o = (size_t)c * oplane + (size_t)oy * ow + ox;
                out[o] = m;
                if (argmax) argmax[o] = best;
            }
        }
    }
}

void ndx_f32_avgpool2d__ref(int channels, const ndx_pool2d_shape *s,
                            const float *restrict in, float *restrict out)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;

    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        for (int oy = 0; oy < oh; oy++) {
            int y0 = oy * s->sh - s->ph;
            int y1 = imin(y0 + s->kh, s->h + s->ph);
            const int ph = y1 - y0;
            y0 = imax(y0, 0);
            y1 = imin(y1, s->h);
            for (int ox = 0; ox < ow; ox++) {
                int x0 = ox * s->sw - s->pw;
                int x1 = imin(x0 + s->kw, s->w + s->pw);
                const int pool_size = ph * (x1 - x0);
                x0 = imax(x0, 0);
                x1 = imin(x1, s->w);
                const size_t o = (size_t)c * oplane + (size_t)oy * ow + ox;
                if (y0 >= y1 || x0 >= x1) {
                    out[o] = 0.0f;
                    continue;
                }
                float sum = 0.0f;
                for (int y = y0; y < y1; y++)
                    for (int xx = x0; xx < x1; xx++)
                        sum += x[(size_t)y * s->w + xx];
                const int div = s->count_include_pad ? pool_size
                                                     : (y1 - y0) * (x1 - x0);
                out[o] = sum / (float)div;
            }
        }
    }
}
