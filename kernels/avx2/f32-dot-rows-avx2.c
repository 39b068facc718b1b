/* Dot products of a few input rows with many weight rows, AVX2+FMA
 * (contract: kernels/ref/f32-dot-rows-ref.c).
 *
 * Memory-bound: each weight row is read from memory once.  Four weight rows
 * at a time, each against every input row (the four rows, k floats each,
 * stay in L2 for the input rows after the first); two accumulators per
 * weight row (8 independent FMA chains), the k tail through a masked load.
 * The weight rows are prefetched 1 KiB ahead (four streams at once). */
#include <immintrin.h>

#include "../kernels.h"

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void ndx_f32_dot_rows__avx2(int n, int rows, int k, const float *restrict x,
                            const float *restrict w, float *restrict y, int ldy)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(k % 8), idx);
    const int k8 = k / 8 * 8;
    for (int r = 0; r < rows; r += 4) {
        const int nr = rows - r < 4 ? rows - r : 4;
        /* a short group repeats its last row: computed, not stored */
        const float *w0 = w + (size_t)r * k, *w1 = w + (size_t)(r + (nr > 1 ? 1 : 0)) * k,
                    *w2 = w + (size_t)(r + (nr > 2 ? 2 : nr - 1)) * k,
                    *w3 = w + (size_t)(r + nr - 1) * k;
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * k;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int p = 0;
            for (; p + 16 <= k8; p += 16) {
                if (i == 0) {
                    _mm_prefetch((const char *)(w0 + p + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w1 + p + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w2 + p + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w3 + p + 256), _MM_HINT_T0);
                }
                const __m256 x0 = _mm256_loadu_ps(xi + p), x1 = _mm256_loadu_ps(xi + p + 8);
                a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w0 + p), a0);
                a1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w1 + p), a1);
                a2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w2 + p), a2);
                a3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w3 + p), a3);
                b0 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w0 + p + 8), b0);
                b1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w1 + p + 8), b1);
                b2 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w2 + p + 8), b2);
                b3 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w3 + p + 8), b3);
            }
            for (; p < k8; p += 8) {
                const __m256 x0 = _mm256_loadu_ps(xi + p);
                a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w0 + p), a0);
                a1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w1 + p), a1);
                a2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w2 + p), a2);
                a3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w3 + p), a3);
            }
            if (k8 < k) {
                const __m256 x0 = _mm256_maskload_ps(xi + k8, tail);
                b0 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(w0 + k8, tail), b0);
                b1 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(w1 + k8, tail), b1);
                b2 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(w2 + k8, tail), b2);
                b3 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(w3 + k8, tail), b3);
            }
            const float s[4] = {hsum(_mm256_add_ps(a0, b0)), hsum(_mm256_add_ps(a1, b1)),
                                hsum(_mm256_add_ps(a2, b2)), hsum(_mm256_add_ps(a3, b3))};
            for (int j = 0; j < nr; j++) y[(size_t)i * ldy + r + j] = s[j];
        }
    }
}
