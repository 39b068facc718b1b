/* Dot products of a few input rows with many weight rows, AVX-512
 * (contract: kernels/ref/f32-dot-rows-ref.c).
 *
 * The AVX2 kernel's scheme at twice the width: memory-bound, each weight
 * row read from memory once; four weight rows at a time, each against
 * every input row (the four rows stay in L2 for the input rows after the
 * first); two accumulators per weight row (8 independent FMA chains); the
 * k tail through a masked load; the weight rows prefetched 1 KiB ahead. */
#include <immintrin.h>

#include "../kernels.h"

void ndx_f32_dot_rows__avx512(int n, int rows, int k, const float *restrict x,
                              const float *restrict w, float *restrict y, int ldy)
{
    const __mmask16 tail = (__mmask16)((1u << (k % 16)) - 1);
    const int k16 = k / 16 * 16;
    for (int r = 0; r < rows; r += 4) {
        const int nr = rows - r < 4 ? rows - r : 4;
        /* a short group repeats its last row: computed, not stored */
        const float *w0 = w + (size_t)r * k, *w1 = w + (size_t)(r + (nr > 1 ? 1 : 0)) * k,
                    *w2 = w + (size_t)(r + (nr > 2 ? 2 : nr - 1)) * k,
                    *w3 = w + (size_t)(r + nr - 1) * k;
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * k;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int p = 0;
            for (; p + 32 <= k16; p += 32) {
                if (i == 0) {
                    _mm_prefetch((const char *)(w0 + p + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w1 + p + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w2 + p + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w3 + p + 256), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w0 + p + 272), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w1 + p + 272), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w2 + p + 272), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w3 + p + 272), _MM_HINT_T0);
                }
                const __m512 x0 = _mm512_loadu_ps(xi + p), x1 = _mm512_loadu_ps(xi + p + 16);
                a0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w0 + p), a0);
                a1 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w1 + p), a1);
                a2 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w2 + p), a2);
                a3 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w3 + p), a3);
                b0 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w0 + p + 16), b0);
                b1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w1 + p + 16), b1);
                b2 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w2 + p + 16), b2);
                b3 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w3 + p + 16), b3);
            }
            for (; p < k16; p += 16) {
                const __m512 x0 = _mm512_loadu_ps(xi + p);
                a0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w0 + p), a0);
                a1 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w1 + p), a1);
                a2 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w2 + p), a2);
                a3 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w3 + p), a3);
            }
            if (tail) {
                const __m512 x0 = _mm512_maskz_loadu_ps(tail, xi + k16);
                b0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(tail, w0 + k16), b0);
                b1 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(tail, w1 + k16), b1);
                b2 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(tail, w2 + k16), b2);
                b3 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(tail, w3 + k16), b3);
            }
            const float s[4] = {_mm512_reduce_add_ps(_mm512_add_ps(a0, b0)),
                                _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)),
                                _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)),
                                _mm512_reduce_add_ps(_mm512_add_ps(a3, b3))};
            for (int j = 0; j < nr; j++) y[(size_t)i * ldy + r + j] = s[j];
        }
    }
}
