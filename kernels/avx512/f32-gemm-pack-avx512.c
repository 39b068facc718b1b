/* GEMM panel packing with AVX-512 (contract: ndx_f32_gemm_pack__ref).
 *
 *   dst[p*w + i] = X(i, p),  X(i, p) = kmajor ? src[p*ld + i] : src[i*ld + p]
 *
 * kmajor (B not transposed: the 12x32 kernel's B panels): each step copies
 * a row of up to w floats 16 at a time, masked to the rows present and
 * zero past them, so no load touches memory outside the source.  The
 * row-major side (A panels) goes through the AVX2 kernel's 8x8 register
 * transposes (a CPU that runs this set runs AVX2).
 */
#include <immintrin.h>

#include "../kernels.h"

static inline __mmask16 lanes(int n)   /* the first n of 16 lanes */
{
    return n <= 0 ? 0 : n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
}

void ndx_f32_gemm_pack__avx512(int kmajor, int rows, int kc, const float *restrict src,
                               int ld, int w, float *restrict dst)
{
    if (!kmajor) {
        ndx_f32_gemm_pack__avx2(kmajor, rows, kc, src, ld, w, dst);
        return;
    }
    if (w == 32 && rows == 32) {   /* the common full panel */
        for (int p = 0; p < kc; p++) {
            const float *s = src + (size_t)p * ld;
            float *d = dst + (size_t)p * 32;
            const __m512 v0 = _mm512_loadu_ps(s), v1 = _mm512_loadu_ps(s + 16);
            _mm512_storeu_ps(d, v0);
            _mm512_storeu_ps(d + 16, v1);
        }
        return;
    }
    for (int p = 0; p < kc; p++) {
        const float *s = src + (size_t)p * ld;
        float *d = dst + (size_t)p * w;
        for (int i = 0; i < w; i += 16) {
            const __m512 v = _mm512_maskz_loadu_ps(lanes(rows - i), s + i);
            _mm512_mask_storeu_ps(d + i, lanes(w - i), v);
        }
    }
}
