/* Elementwise kernels and per-channel reductions, aarch64 NEON.
 * Semantics: kernels/ref/f32-elementwise-ref.c (relu, bias_add: bit for
 * bit) and
 * kernels/ref/f32-reduce-ref.c (add, global_avgpool, channel_max).
 *
 * relu: a select, (x < 0) ? 0 : x, not vmaxq (FMAX turns -0 into +0), so
 *   NaN and -0 pass through bit for bit.
 * add: bit for bit.  global_avgpool: 4 lane sums, then reduced (rounding
 *   differs from the ref's sequential sum, ~1e-7 relative to sum |x|).
 * channel_max: per-lane running max and index with the ref's rule, merged as
 *   in kernels/avx2/f32-elementwise-avx2.c; exact.
 * 4 floats per step, scalar tails, no alignment assumptions. */
#include <arm_neon.h>
#include <math.h>

#include "../kernels.h"

void ndx_f32_bias_add__neon(int channels, size_t hw, const float *restrict bias,
                            float *restrict x)
{
    for (int c = 0; c < channels; c++) {
        const float32x4_t b = vdupq_n_f32(bias[c]);
        float *p = x + (size_t)c * hw;
        size_t i = 0;
        for (; i + 4 <= hw; i += 4) vst1q_f32(p + i, vaddq_f32(vld1q_f32(p + i), b));
        for (; i < hw; i++) p[i] += bias[c];
    }
}

void ndx_f32_relu__neon(size_t n, const float *x, float *y)
{
    const float32x4_t z = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        vst1q_f32(y + i, vbslq_f32(vcltq_f32(v, z), z, v));
    }
    for (; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void ndx_f32_add__neon(size_t n, const float *a, const float *b, float *y)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

void ndx_f32_global_avgpool__neon(int channels, size_t hw, const float *restrict in,
                                  float *restrict out)
{
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
        size_t i = 0;
        for (; i + 8 <= hw; i += 8) {
            s0 = vaddq_f32(s0, vld1q_f32(x + i));
            s1 = vaddq_f32(s1, vld1q_f32(x + i + 4));
        }
        float s = vaddvq_f32(vaddq_f32(s0, s1));
        for (; i < hw; i++) s += x[i];
        out[c] = s / (float)hw;
    }
}

void ndx_f32_channel_max__neon(int channels, size_t hw, const float *restrict in,
                               float *restrict out, int32_t *restrict argmax)
{
    static const int32_t lanes[4] = {0, 1, 2, 3};
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        float bm = -INFINITY;
        size_t best = 0, i = 0;
        if (hw >= 4 && hw <= INT32_MAX) {
            float32x4_t m = vdupq_n_f32(-INFINITY);
            int32x4_t idx = vld1q_s32(lanes), cur = idx;
            const int32x4_t step = vdupq_n_s32(4);
            for (; i + 4 <= hw; i += 4) {
                const float32x4_t v = vld1q_f32(x + i);
                /* v > m, or v unordered with itself (NaN) */
                const uint32x4_t win = vorrq_u32(vcgtq_f32(v, m),
                                                 vmvnq_u32(vceqq_f32(v, v)));
                m = vbslq_f32(win, v, m);
                idx = vbslq_s32(win, cur, idx);
                cur = vaddq_s32(cur, step);
            }
            float lm[4];
            int32_t li[4];
            vst1q_f32(lm, m);
            vst1q_s32(li, idx);
            int b = -1;
            for (int l = 0; l < 4; l++)
                if (isnan(lm[l]) && (b < 0 || li[l] > li[b])) b = l;
            if (b < 0) {
                b = 0;
                for (int l = 1; l < 4; l++)
                    if (lm[l] > lm[b] || (lm[l] == lm[b] && li[l] < li[b])) b = l;
            }
            bm = lm[b];
            best = (size_t)li[b];
        }
        for (; i < hw; i++) {
            if (x[i] > bm || isnan(x[i])) {
                bm = x[i];
                best = i;
            }
        }
        out[c] = bm;
        if (argmax) argmax[c] = (int32_t)best;
    }
}
