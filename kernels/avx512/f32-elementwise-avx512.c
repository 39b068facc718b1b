/* Elementwise kernels and per-channel reductions, AVX-512.
 * Semantics: kernels/ref/f32-elementwise-ref.c (relu, bias_add: bit for
 * bit, the same single addition) and kernels/ref/f32-reduce-ref.c (add,
 * global_avgpool, channel_max).
 *
 * relu: vmaxps(0, x) with the operands in that order, as in the AVX2 set:
 *   NaN and -0 pass through unchanged, bit for bit as torch.relu.
 * add, bias_add: bit for bit.
 * global_avgpool: 32 lane sums (then reduced), so the rounding differs from
 *   the ref's sequential sum (~1e-7 relative to sum |x|).
 * 16 floats per step; tails through masked loads and stores (no scalar
 * loop, nothing outside the arrays touched), no alignment assumptions. */
#include <immintrin.h>
#include <math.h>

#include "../kernels.h"

static inline __mmask16 lanes(size_t n)   /* the first n (<= 16) of 16 lanes */
{
    return (__mmask16)((1u << n) - 1);
}

void ndx_f32_bias_add__avx512(int channels, size_t hw, const float *restrict bias,
                              float *restrict x)
{
    const __mmask16 t = lanes(hw % 16);
    for (int c = 0; c < channels; c++) {
        const __m512 b = _mm512_set1_ps(bias[c]);
        float *p = x + (size_t)c * hw;
        size_t i = 0;
        for (; i + 16 <= hw; i += 16)
            _mm512_storeu_ps(p + i, _mm512_add_ps(_mm512_loadu_ps(p + i), b));
        if (t) _mm512_mask_storeu_ps(p + i, t, _mm512_add_ps(_mm512_maskz_loadu_ps(t, p + i), b));
    }
}

void ndx_f32_relu__avx512(size_t n, const float *x, float *y)
{
    const __m512 z = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_max_ps(z, _mm512_loadu_ps(x + i)));
    const __mmask16 t = lanes(n - i);
    if (t) _mm512_mask_storeu_ps(y + i, t, _mm512_max_ps(z, _mm512_maskz_loadu_ps(t, x + i)));
}

void ndx_f32_add__avx512(size_t n, const float *a, const float *b, float *y)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    const __mmask16 t = lanes(n - i);
    if (t)
        _mm512_mask_storeu_ps(y + i, t, _mm512_add_ps(_mm512_maskz_loadu_ps(t, a + i),
                                                      _mm512_maskz_loadu_ps(t, b + i)));
}

void ndx_f32_global_avgpool__avx512(int channels, size_t hw, const float *restrict in,
                                    float *restrict out)
{
    const __mmask16 t = lanes(hw % 16);
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 32 <= hw; i += 32) {
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
        }
        if (i + 16 <= hw) {
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
            i += 16;
        }
        if (t) s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(t, x + i));
        out[c] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)hw;
    }
}

/* channel_max: the AVX2 kernel's rule at 16 lanes (kernels/avx2/
 * f32-elementwise-avx2.c): each lane keeps its own running max and index
 * (v > max or v NaN), lanes are merged (a NaN lane with the largest index
 * if any, else the largest value with the smallest index) and the tail
 * continues in scalar: the ref's answer exactly. */
void ndx_f32_channel_max__avx512(int channels, size_t hw, const float *restrict in,
                                 float *restrict out, int32_t *restrict argmax)
{
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * hw;
        float bm = -INFINITY;
        size_t best = 0, i = 0;
        if (hw >= 16 && hw <= INT32_MAX) {
            __m512 m = _mm512_set1_ps(-INFINITY);
            __m512i cur = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            __m512i idx = cur;
            const __m512i step = _mm512_set1_epi32(16);
            for (; i + 16 <= hw; i += 16) {
                const __m512 v = _mm512_loadu_ps(x + i);
                const __mmask16 win = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) |
                                      _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                m = _mm512_mask_mov_ps(m, win, v);
                idx = _mm512_mask_mov_epi32(idx, win, cur);
                cur = _mm512_add_epi32(cur, step);
            }
            float lm[16];
            int32_t li[16];
            _mm512_storeu_ps(lm, m);
            _mm512_storeu_si512(li, idx);
            int b = -1;
            for (int l = 0; l < 16; l++)
                if (isnan(lm[l]) && (b < 0 || li[l] > li[b])) b = l;
            if (b < 0) {
                b = 0;
                for (int l = 1; l < 16; l++)
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
