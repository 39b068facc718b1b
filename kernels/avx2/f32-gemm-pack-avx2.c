/* GEMM panel packing with AVX2 (contract: ndx_f32_gemm_pack__ref).
 *
 *   dst[p*w + i] = X(i, p),  X(i, p) = kmajor ? src[p*ld + i] : src[i*ld + p]
 *
 * kmajor: each step p copies a row of up to w floats (8 at a time, masked
 * for the tail).  Row-major along k (a non-transposed A, a transposed B):
 * blocks of 8 rows x 8 steps are loaded, transposed in registers and stored
 * as 8 steps of up to 8 rows (masked to the rows present); rows past `rows`
 * read as zero, so no load touches memory outside the source.  Steps past
 * the last multiple of 8 go element by element.
 */
#include <immintrin.h>

#include "../kernels.h"

static __m256i lane_mask(int n)   /* first n of 8 lanes */
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

static void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

void ndx_f32_gemm_pack__avx2(int kmajor, int rows, int kc, const float *restrict src,
                             int ld, int w, float *restrict dst)
{
    if (kmajor) {
        if (w == 16 && rows == 16) {      /* the common full NR panel */
            for (int p = 0; p < kc; p++) {
                const float *s = src + (size_t)p * ld;
                float *d = dst + (size_t)p * 16;
                const __m256 v0 = _mm256_loadu_ps(s), v1 = _mm256_loadu_ps(s + 8);
                _mm256_storeu_ps(d, v0);
                _mm256_storeu_ps(d + 8, v1);
            }
            return;
        }
        if (w == 6 && rows == 6) {   /* a full A panel from a transposed A */
            /* 8 floats in and out per step but the last: the 2 extra
             * floats read lie before the next step's row (ld >= 6), the 2
             * extra written are the next step's, written after */
            const __m256i six = lane_mask(6);
            int p = 0;
            for (; p + 1 < kc; p++) {
                __builtin_prefetch(dst + (size_t)p * 6 + 128, 1, 3);
                _mm256_storeu_ps(dst + (size_t)p * 6, _mm256_loadu_ps(src + (size_t)p * ld));
            }
            if (kc > 0)
                _mm256_maskstore_ps(dst + (size_t)p * 6, six,
                                    _mm256_maskload_ps(src + (size_t)p * ld, six));
            return;
        }
        for (int p = 0; p < kc; p++) {
            const float *s = src + (size_t)p * ld;
            float *d = dst + (size_t)p * w;
            for (int i = 0; i < w; i += 8) {
                const int left = rows - i > 8 ? 8 : rows - i > 0 ? rows - i : 0;
                const int width = w - i < 8 ? w - i : 8;
                const __m256 v = left == 8 ? _mm256_loadu_ps(s + i)
                                           : _mm256_maskload_ps(s + i, lane_mask(left));
                if (width == 8)
                    _mm256_storeu_ps(d + i, v);
                else
                    _mm256_maskstore_ps(d + i, lane_mask(width), v);
            }
        }
        return;
    }
    if (w == 6 && rows == 6) {   /* a full panel of A for the 6 x 16 microkernel */
        int p = 0;
        for (; p + 8 <= kc; p += 8) {
            const float *s = src + p;
            const __m256 z = _mm256_setzero_ps();
            const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ld);
            const __m256 r2 = _mm256_loadu_ps(s + 2 * (size_t)ld);
            const __m256 r3 = _mm256_loadu_ps(s + 3 * (size_t)ld);
            const __m256 r4 = _mm256_loadu_ps(s + 4 * (size_t)ld);
            const __m256 r5 = _mm256_loadu_ps(s + 5 * (size_t)ld);
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
            const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
            const __m256 u4 = _mm256_shuffle_ps(t4, z, 0x44), u5 = _mm256_shuffle_ps(t4, z, 0xee);
            const __m256 u6 = _mm256_shuffle_ps(t5, z, 0x44), u7 = _mm256_shuffle_ps(t5, z, 0xee);
            /* step q's 6 floats at d + 6q: each 8-wide store spills 2
             * floats into the next step's place, which the next store (or
             * the k tail) overwrites; only the panel's last store is
             * masked.  The destination lines are claimed ahead (a store
             * miss each 64 bytes otherwise halves the speed). */
            float *d = dst + (size_t)p * 6;
            __builtin_prefetch(d + 384, 1, 3);
            __builtin_prefetch(d + 400, 1, 3);
            __builtin_prefetch(d + 416, 1, 3);
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + 6, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 12, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + 18, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 24, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + 30, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 36, _mm256_permute2f128_ps(u2, u6, 0x31));
            const __m256 last = _mm256_permute2f128_ps(u3, u7, 0x31);
            if (p + 8 < kc)
                _mm256_storeu_ps(d + 42, last);
            else
                _mm256_maskstore_ps(d + 42, lane_mask(6), last);
        }
        for (; p < kc; p++)
            for (int i = 0; i < 6; i++) dst[(size_t)p * 6 + i] = src[(size_t)i * ld + p];
        return;
    }
    for (int i0 = 0; i0 < w; i0 += 8) {
        const int nrow = rows - i0 > 8 ? 8 : rows - i0 > 0 ? rows - i0 : 0;
        const int width = w - i0 < 8 ? w - i0 : 8;
        const __m256i store_mask = lane_mask(width);
        int p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                if (i < nrow) {
                    const float *row = src + (size_t)(i0 + i) * ld + p;
                    /* many short row streams: help the prefetcher along */
                    _mm_prefetch((const char *)(row + 64), _MM_HINT_T0);
                    r[i] = _mm256_loadu_ps(row);
                } else {
                    r[i] = _mm256_setzero_ps();
                }
            }
            transpose8(r);
            for (int q = 0; q < 8; q++)
                _mm256_maskstore_ps(dst + (size_t)(p + q) * w + i0, store_mask, r[q]);
        }
        for (; p < kc; p++) {
            float *d = dst + (size_t)p * w + i0;
            for (int i = 0; i < width; i++)
                d[i] = i < nrow ? src[(size_t)(i0 + i) * ld + p] : 0.0f;
        }
    }
}
