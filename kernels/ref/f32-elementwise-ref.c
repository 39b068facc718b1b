/* Elementwise kernels, scalar reference.
 *
 * relu:     y[i] = x[i] < 0 ? 0 : x[i] for i < n.  Bit-for-bit torch.relu on
 *           CPU: NaN passes through unchanged, -0 stays -0.  y may equal x
 *           (so no restrict).
 * bias_add: x[c*hw + i] += bias[c] for c < channels, i < hw; x is channels
 *           contiguous planes of hw floats, updated in place.
 * No alignment assumptions; any n / hw, including 0. */
#include "../kernels.h"

void ndx_f32_relu__ref(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void ndx_f32_bias_add__ref(int channels, size_t hw, const float *restrict bias,
                           float *restrict x)
{
    for (int c = 0; c < channels; c++) {
        const float b = bias[c];
        float *p = x + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++)
            p[i] += b;
    }
}
