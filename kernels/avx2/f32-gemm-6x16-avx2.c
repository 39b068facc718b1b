/* AVX2+FMA GEMM microkernel, tile 6 x 16.
 *
 *   C[i][j] = alpha * sum_p a[p*6 + i] * b[p*16 + j] + beta * C[i][j]
 *
 * a: packed 6-row panel of A (k x 6), zero-padded past m; b: packed
 * 16-column panel of B (k x 16), zero-padded past n.  Twelve ymm
 * accumulators (6 rows x 2 vectors), two B loads and six broadcasts of A
 * per step of k.
 * An edge tile of at most 8 columns takes a half-width loop (half the
 * FMAs), one of a single column a loop over A as a flat array; one of at
 * most 4 rows (and more than 8 columns) a four-row loop: two thirds of the
 * FMAs, each row's sums in the same order as in the full tile (64 output
 * channels are 10 x 6 + 4 rows: 64x3136x576 +1.3% at one thread).
 * A full tile is stored straight into C (unaligned); a partial tile goes
 * through a stack buffer so that nothing outside the m x n corner is read
 * or written.  beta == 0 never reads C.
 * Scalar twin: ndx_f32_gemm_ukernel_4x8__ref.
 */
#include <immintrin.h>

#include "../kernels.h"

/* Stores the m x n corner of tile (row stride 16): C = tile + beta * C. */
static void store_partial(int m, int n, const float (*tile)[16], float beta,
                          float *restrict c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++) ci[j] = tile[i][j];
        else
            for (int j = 0; j < n; j++) ci[j] = tile[i][j] + beta * ci[j];
    }
}

/* An edge tile of one column: the panel of A read as a flat array, 24
 * floats (4 steps of k) in three vectors, against the column's 4 B values
 * spread to match (b[p] six times, then b[p+1]...); flat position f belongs
 * to row f % 6, so each row's sum is gathered from the three accumulators
 * at the end.  Three FMAs per 4 steps, where the half tile spends 24: the
 * tile costs ~0.3 of a full one instead of ~0.6 (ResNet's 7x7 layers have
 * 49 = 3 x 16 + 1 columns at batch 1). */
static void column_tile(int m, int k, float alpha, const float *restrict a,
                        const float *restrict b, float beta, float *restrict c, int ldc)
{
    const __m256i s0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 1, 1);
    const __m256i s1 = _mm256_setr_epi32(1, 1, 1, 1, 2, 2, 2, 2);
    const __m256i s2 = _mm256_setr_epi32(2, 2, 3, 3, 3, 3, 3, 3);
    __m256 x0 = _mm256_setzero_ps(), x1 = x0, x2 = x0;
    int p = 0;
    for (; p + 4 <= k; p += 4) {
        const __m256 bv =
            _mm256_castps128_ps256(_mm_setr_ps(b[0], b[16], b[32], b[48]));
        x0 = _mm256_fmadd_ps(_mm256_loadu_ps(a), _mm256_permutevar8x32_ps(bv, s0), x0);
        x1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 8), _mm256_permutevar8x32_ps(bv, s1), x1);
        x2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 16), _mm256_permutevar8x32_ps(bv, s2), x2);
        a += 24;
        b += 64;
    }
    float flat[24], sum[6] = {0};
    _mm256_storeu_ps(flat, x0);
    _mm256_storeu_ps(flat + 8, x1);
    _mm256_storeu_ps(flat + 16, x2);
    for (int f = 0; f < 24; f++) sum[f % 6] += flat[f];
    for (; p < k; p++, a += 6, b += 16)   /* the k tail */
        for (int i = 0; i < 6; i++) sum[i] += a[i] * b[0];
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        *ci = beta == 0.0f ? alpha * sum[i] : alpha * sum[i] + beta * *ci;
    }
}

void ndx_f32_gemm_ukernel_6x16__avx2(int m, int n, int k, float alpha,
                                     const float *restrict a,
                                     const float *restrict b, float beta,
                                     float *restrict c, int ldc)
{
    if (n == 1) {
        column_tile(m, k, alpha, a, b, beta, c, ldc);
        return;
    }
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

    /* The k loop, four steps per pass and then the tail one at a time, is
     * written in assembly:
     * with 15 of the 16 ymm registers live, GCC's allocation of the same
     * loop in intrinsics adds register moves and reaches ~87% of the FMA
     * peak instead of ~95%.  Operands: c.. the accumulators, b0 b1 the B
     * row, av the broadcast A element.  B is read at fixed offsets and
     * left to the hardware prefetcher (a prefetch costs ~2% there).
     * An edge tile of at most 8 columns (the half tile) needs only the
     * first vector of each B row: b0 holds an even step's, b1 the next odd
     * step's, and the two steps go to separate accumulators (ci0 and ci1,
     * added at the end), so that twelve FMA chains hide the FMA latency
     * as in the full tile. */
#define NDX_FMA2(r, off)                                                      \
    "vbroadcastss " #off "(%[a]), %[av]\n\t"                                  \
    "vfmadd231ps %[b0], %[av], %[c" #r "0]\n\t"                               \
    "vfmadd231ps %[b1], %[av], %[c" #r "1]\n\t"
#define NDX_STEP(brow, aoff)                                                  \
    "vmovups " brow ", %[b0]\n\t"                                             \
    "vmovups 32+" brow ", %[b1]\n\t"                                          \
    NDX_FMA2(0, aoff + 0) NDX_FMA2(1, aoff + 4) NDX_FMA2(2, aoff + 8)         \
    NDX_FMA2(3, aoff + 12) NDX_FMA2(4, aoff + 16) NDX_FMA2(5, aoff + 20)
#define NDX_STEP4(brow, aoff)                                                 \
    "vmovups " brow ", %[b0]\n\t"                                             \
    "vmovups 32+" brow ", %[b1]\n\t"                                          \
    NDX_FMA2(0, aoff + 0) NDX_FMA2(1, aoff + 4) NDX_FMA2(2, aoff + 8)         \
    NDX_FMA2(3, aoff + 12)
#define NDX_FMA1(r, half, off)                                                \
    "vbroadcastss " #off "(%[a]), %[av]\n\t"                                  \
    "vfmadd231ps %[b" #half "], %[av], %[c" #r #half "]\n\t"
#define NDX_HALF(half, aoff)                                                  \
    NDX_FMA1(0, half, aoff + 0) NDX_FMA1(1, half, aoff + 4)                   \
    NDX_FMA1(2, half, aoff + 8) NDX_FMA1(3, half, aoff + 12)                  \
    NDX_FMA1(4, half, aoff + 16) NDX_FMA1(5, half, aoff + 20)
#define NDX_STEP2(brow0, brow1, aoff)                                         \
    "vmovups " brow0 ", %[b0]\n\t"                                            \
    "vmovups " brow1 ", %[b1]\n\t"                                            \
    NDX_HALF(0, aoff) NDX_HALF(1, aoff + 24)
#define NDX_ASM(body)                                                         \
    do {                                                                      \
        __m256 b0, b1, av;                                                    \
        __asm__(body                                                          \
                : [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10),          \
                  [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21),          \
                  [c30] "+x"(c30), [c31] "+x"(c31), [c40] "+x"(c40),          \
                  [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51),          \
                  [b0] "=&x"(b0), [b1] "=&x"(b1), [av] "=&x"(av)              \
                : [a] "r"(a), [b] "r"(b)                                      \
                : "memory");                                                  \
    } while (0)
    const int half = n <= 8, four = !half && m <= 4;
    int p = 0;
    for (; p + 4 <= k; p += 4) {
        if (half)
            NDX_ASM("prefetcht0 384(%[a])\n\t"
                    NDX_STEP2("0(%[b])", "64(%[b])", 0) NDX_STEP2("128(%[b])", "192(%[b])", 48));
        else if (four)
            NDX_ASM("prefetcht0 384(%[a])\n\t"
                    NDX_STEP4("0(%[b])", 0) NDX_STEP4("64(%[b])", 24)
                    NDX_STEP4("128(%[b])", 48) NDX_STEP4("192(%[b])", 72));
        else
            NDX_ASM("prefetcht0 384(%[a])\n\t"
                    NDX_STEP("0(%[b])", 0) NDX_STEP("64(%[b])", 24)
                    NDX_STEP("128(%[b])", 48) NDX_STEP("192(%[b])", 72));
        a += 24;
        b += 64;
    }
    for (; p < k; p++) {   /* the k tail, a step at a time */
        if (half)
            NDX_ASM("vmovups 0(%[b]), %[b0]\n\t" NDX_HALF(0, 0));
        else if (four)
            NDX_ASM(NDX_STEP4("0(%[b])", 0));
        else
            NDX_ASM(NDX_STEP("0(%[b])", 0));
        a += 6;
        b += 16;
    }
#undef NDX_ASM
#undef NDX_STEP2
#undef NDX_HALF
#undef NDX_STEP4
#undef NDX_FMA1
#undef NDX_STEP
#undef NDX_FMA2

    if (half) {   /* the odd steps' sums join the even steps' */
        c00 = _mm256_add_ps(c00, c01), c10 = _mm256_add_ps(c10, c11);
        c20 = _mm256_add_ps(c20, c21), c30 = _mm256_add_ps(c30, c31);
        c40 = _mm256_add_ps(c40, c41), c50 = _mm256_add_ps(c50, c51);
    }
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
    store_partial(m, n, (const float (*)[16])tile, beta, c, ldc);
}
