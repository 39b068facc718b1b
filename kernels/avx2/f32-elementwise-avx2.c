/* Elementwise kernels and per-channel reductions, AVX2.
 * Semantics: kernels/ref/f32-elementwise-ref.c (relu, bias_add: bit for
 * bit, the same single addition) and
 * kernels/ref/f32-reduce-ref.c (add, global_avgpool, channel_max).
 *
 * relu: vmaxps(0, x) with the operands in that order: maxps returns its
 *   second operand when either is NaN or both are zero, so NaN and -0 pass
 *   through unchanged, bit for bit as torch.relu and the ref.
 * add: bit for bit.
 * global_avgpool: 8 lane sums (then reduced), so the rounding differs from
 *   the ref's sequential sum (~1e-7 relative to sum |x|).
 * channel_max: each lane keeps its own running max and index with the ref's
 *   rule (v > max or v NaN), over indices = lane mod 8; lanes are then
 *   merged (a NaN lane with the largest index if any, else the largest value
 *   with the smallest index) and the tail continues in scalar, which gives
 *   the ref's answer exactly.
 * 8 floats per step, scalar tails, no alignment assumptions. */
#include <immintrin.h>
#include <math.h>

#include "../kernels.h"

void ndx_f32_bias_add__avx2(int channels, size_t hw, const float *restrict bias,
                            float *restrict x)
{
    for (int c = 0; c < channels; c++) {
        const __m256 b = _mm256_set1_ps(bias[c]);
        float *p = x + (size_t)c * hw;
        size_t i = 0;
        for (; i + 8 <= hw; i += 8)
            _mm256_storeu_ps(p + i, _mm256_add_ps(_mm256_loadu_ps(p + i), b));
        for (; i < hw; i++) p[i] += bias[c];
    }
}

void ndx_f32_relu__avx2(size_t n, const float *x, float *y)
{
    const __m256 z = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_max_ps(z, _mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void ndx_f32_add__avx2(size_t n, const float *a, const float *b, float *y)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i),
                                              _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

void ndx_f32_global_avgpool__avx2(int channels, size_t hw, const float *restrict in,
                                  float *restrict out)
{
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= hw; i += 16) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
        }
        s0 = _mm256_add_ps(s0, s1);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
        float s = _mm_cvtss_f32(h);
        for (; i < hw; i++) s += x[i];
        out[c] = s / (float)hw;
    }
}

void ndx_f32_channel_max__avx2(int channels, size_t hw, const float *restrict in,
                               float *restrict out, int32_t *restrict argmax)
{
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        float bm = -INFINITY;
        size_t best = 0, i = 0;
        if (hw >= 8 && hw <= INT32_MAX) {
            __m256 m = _mm256_set1_ps(-INFINITY);
            __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), cur = idx;
            const __m256i step = _mm256_set1_epi32(8);
            for (; i + 8 <= hw; i += 8) {
                const __m256 v = _mm256_loadu_ps(x + i);
                const __m256 win = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ),
                                                _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                m = _mm256_blendv_ps(m, v, win);
                idx = _mm256_blendv_epi8(idx, cur, _mm256_castps_si256(win));
                cur = _mm256_add_epi32(cur, step);
            }
            float lm[8];
            int32_t li[8];
            _mm256_storeu_ps(lm, m);
            _mm256_storeu_si256((__m256i *)li, idx);
            int nan_lane = -1;
            for (int l = 0; l < 8; l++)
                if (isnan(lm[l]) && (nan_lane < 0 || li[l] > li[nan_lane])) nan_lane = l;
            int b = nan_lane;
            if (b < 0) {
                b = 0;
                for (int l = 1; l < 8; l++)
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
