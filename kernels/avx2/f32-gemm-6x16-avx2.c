/* AVX2+FMA GEMM microkernel, tile 6 x 16.
 *
 *   C[i][j] = alpha * sum_p a[p*6 + i] * b[p*16 + j] + beta * C[i][j]
 *
 * a: packed 6-row panel of A (k x 6), zero-padded past m; b: 16 columns of
 * B with row stride ldb (16 for a packed panel, zero-padded past n, or rows
 * of an unpacked B when all 16 columns exist).  Twelve ymm accumulators (6 rows x 2 vectors), two B loads and six
 * broadcasts of A per step of k.  A full tile is stored straight into C
 * (unaligned); a partial tile goes through a stack buffer so that nothing
 * outside the m x n corner is read or written.  beta == 0 never reads C.
 * Scalar twin: ndx_f32_gemm_ukernel_4x8__ref.
 */
#include <immintrin.h>

#include "../kernels.h"

void ndx_f32_gemm_ukernel_6x16__avx2(int m, int n, int k, float alpha,
                                     const float *restrict a,
                                     const float *restrict b, int ldb, float beta,
                                     float *restrict c, int ldc)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

    /* the C tile is needed at the end: start fetching it now */
    for (int i = 0; i < m; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 15), _MM_HINT_T0);
    }

#define NDX_STEP(o)                                                           \
    do {                                                                      \
        const __m256 b0 = _mm256_loadu_ps(b + (size_t)ldb * (o));             \
        const __m256 b1 = _mm256_loadu_ps(b + (size_t)ldb * (o) + 8);         \
        __m256 av;                                                            \
        av = _mm256_broadcast_ss(a + 6 * (o) + 0);                            \
        c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01); \
        av = _mm256_broadcast_ss(a + 6 * (o) + 1);                            \
        c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11); \
        av = _mm256_broadcast_ss(a + 6 * (o) + 2);                            \
        c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21); \
        av = _mm256_broadcast_ss(a + 6 * (o) + 3);                            \
        c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31); \
        av = _mm256_broadcast_ss(a + 6 * (o) + 4);                            \
        c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41); \
        av = _mm256_broadcast_ss(a + 6 * (o) + 5);                            \
        c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51); \
    } while (0)

    int p = 0;
    for (; p + 4 <= k; p += 4) {
        _mm_prefetch((const char *)(a + 6 * 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + (size_t)ldb * 8), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + (size_t)ldb * 9), _MM_HINT_T0);
        NDX_STEP(0);
        NDX_STEP(1);
        NDX_STEP(2);
        NDX_STEP(3);
        a += 24;
        b += (size_t)ldb * 4;
    }
    for (; p < k; p++) {
        NDX_STEP(0);
        a += 6;
        b += ldb;
    }
#undef NDX_STEP

    __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                        {c30, c31}, {c40, c41}, {c50, c51}};
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    if (m == 6 && n == 16) {
        for (int i = 0; i < 6; i++) {
            float *ci = c + (size_t)i * ldc;
            __m256 r0 = _mm256_mul_ps(va, acc[i][0]);
            __m256 r1 = _mm256_mul_ps(va, acc[i][1]);
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
            }
            _mm256_storeu_ps(ci, r0);
            _mm256_storeu_ps(ci + 8, r1);
        }
        return;
    }
    float tile[6][16];
    for (int i = 0; i < 6; i++) {
        _mm256_storeu_ps(tile[i], _mm256_mul_ps(va, acc[i][0]));
        _mm256_storeu_ps(tile[i] + 8, _mm256_mul_ps(va, acc[i][1]));
    }
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++) ci[j] = tile[i][j];
        else
            for (int j = 0; j < n; j++) ci[j] = tile[i][j] + beta * ci[j];
    }
}
