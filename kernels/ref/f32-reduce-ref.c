/* Elementwise add and per-channel reductions, scalar reference.
 *
 * add:            y[i] = a[i] + b[i], i < n; y may equal a or b.
 * global_avgpool: out[c] = (sum over i < hw of in[c*hw + i], in float, in
 *                 order) / hw.  hw > 0.  (adaptive_avg_pool2d to 1x1.)
 * channel_max:    out[c] = max of the plane c*hw .. c*hw + hw-1 and argmax[c]
 *                 its index i in the plane (the dissection score), with
 *                 maxpool's rules: v wins when v > max or v is NaN (so the
 *                 last NaN wins and ties keep the first maximum); the scan
 *                 starts at -inf with index 0.  argmax may be NULL.  hw > 0.
 * Contiguous planes, no alignment assumptions. */
#include "../kernels.h"

#include <math.h>

void ndx_f32_add__ref(size_t n, const float *a, const float *b, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void ndx_f32_global_avgpool__ref(int channels, size_t hw, const float *restrict in,
                                 float *restrict out)
{
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        float s = 0.0f;
        for (size_t i = 0; i < hw; i++) s += x[i];
        out[c] = s / (float)hw;
    }
}

void ndx_f32_channel_max__ref(int channels, size_t hw, const float *restrict in,
                              float *restrict out, int32_t *restrict argmax)
{
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        float m = -INFINITY;
        size_t best = 0;
        for (size_t i = 0; i < hw; i++) {
            if (x[i] > m || isnan(x[i])) {
                m = x[i];
                best = i;
            }
        }
        out[c] = m;
        if (argmax) argmax[c] = (int32_t)best;
    }
}
