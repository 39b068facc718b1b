/* AVX-512 GEMM microkernel, tile 12 x 32.
 *
 *   C[i][j] = alpha * sum_p a[p*12 + i] * b[p*32 + j] + beta * C[i][j]
 *
 * a: packed 12-row panel of A (k x 12), zero-padded past m; b: packed
 * 32-column panel of B (k x 32), zero-padded past n.  24 zmm accumulators
 * (12 rows x 2 vectors), two B loads and twelve broadcasts of A per step
 * of k: 24 FMAs per 14 loads, 27 of the 32 zmm registers live.
 * Edge tiles: one of at most 16 columns runs only the first vector of each
 * B row (half the FMAs); one of at most 8 (or 4) rows runs 8 (or 4) rows.
 * Every row's sum is formed in the same order whatever the tile's shape,
 * so an edge tile's values equal a full tile's bit for bit.  The m x n
 * corner of C is read (beta != 0 only) and written with masked loads and
 * stores, nothing outside it.
 * Scalar twin: ndx_f32_gemm_ukernel_4x8__ref.
 */
#include <immintrin.h>

#include "../kernels.h"

#define MR 12
#define NR 32
#define PF 16   /* B prefetch distance, steps of k */

/* One step of k for R rows and V vectors of 16 columns. */
static inline __attribute__((always_inline)) void
step(int R, int V, const float *restrict a, const float *restrict b, __m512 acc[MR][2])
{
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = V == 2 ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 12
    for (int i = 0; i < R; i++) {
        const __m512 av = _mm512_set1_ps(a[i]);
        acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
        if (V == 2) acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
}

/* The k loop for R rows and V vectors: R and V are constants at every call
 * (always inlined), so acc stays in registers.  The C tile, needed at the
 * end, is fetched one row per step during the first m steps: fetched all
 * at once before the loop, its 24 lines (rows ldc apart, often in as many
 * pages) stalled the kernel (13% of its time at 2048^3, against OpenBLAS
 * SkylakeX 0.90x -> 0.95x at 2048^3 and 1.02x at 1024^3; fetching the
 * next tile's rows spread over the loop did no better).  The B panel is
 * prefetched PF steps ahead: the driver streams B panels from L2 past an
 * A panel held in L1 (2048^3: 0.966x the time at 8 steps, 0.986x that at
 * 16; 4 steps no gain; 512x196x4608 and 512x49x4608 unchanged). */
static inline __attribute__((always_inline)) void
loop(int R, int V, int m, int k, const float *restrict a, const float *restrict b,
     const float *c, int ldc, __m512 acc[MR][2])
{
#pragma GCC unroll 12
    for (int i = 0; i < R; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    int p = 0;
    for (; p < k && p < m; p++, a += MR, b += NR) {
        _mm_prefetch((const char *)(c + (size_t)p * ldc), _MM_HINT_T0);
        if (V == 2) _mm_prefetch((const char *)(c + (size_t)p * ldc + 31), _MM_HINT_T0);
        step(R, V, a, b, acc);
    }
#pragma GCC unroll 4
    for (; p < k; p++, a += MR, b += NR) {
        _mm_prefetch((const char *)(b + PF * NR), _MM_HINT_T0);
        if (V == 2) _mm_prefetch((const char *)(b + PF * NR + 16), _MM_HINT_T0);
        step(R, V, a, b, acc);
    }
}

static inline __mmask16 first(int n) /* the first n of 16 lanes, n may be <= 0 or > 16 */
{
    return n <= 0 ? 0 : n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
}

/* The whole tile for R rows and V vectors: the k loop, then alpha, beta
 * and the masked stores of the m x n corner, every row index a constant
 * (unrolled), so that the accumulators never leave the registers: with the
 * rows stored in a loop over m, GCC kept acc on the stack, zeroed,
 * reloaded and spilled it around each loop (~150 of a tile's ~3100
 * cycles). */
static inline __attribute__((always_inline)) void
tile(int R, int V, int m, int n, int k, float alpha, const float *restrict a,
     const float *restrict b, float beta, float *restrict c, int ldc)
{
    __m512 acc[MR][2];
    loop(R, V, m, k, a, b, c, ldc, acc);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __mmask16 k0 = first(n), k1 = first(n - 16);
#pragma GCC unroll 12
    for (int i = 0; i < R; i++) {
        if (i >= m) break;
        float *ci = c + (size_t)i * ldc;
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]);
        if (beta != 0.0f) r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k0, ci), r0);
        _mm512_mask_storeu_ps(ci, k0, r0);
        if (V == 2) {
            __m512 r1 = _mm512_mul_ps(va, acc[i][1]);
            if (beta != 0.0f)
                r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k1, ci + 16), r1);
            _mm512_mask_storeu_ps(ci + 16, k1, r1);
        }
    }
}

void ndx_f32_gemm_ukernel_12x32__avx512(int m, int n, int k, float alpha,
                                        const float *restrict a,
                                        const float *restrict b, float beta,
                                        float *restrict c, int ldc)
{
    const int V = n > 16 ? 2 : 1;
    if (m > 8) {
        if (V == 2) tile(12, 2, m, n, k, alpha, a, b, beta, c, ldc);
        else tile(12, 1, m, n, k, alpha, a, b, beta, c, ldc);
    } else if (m > 4) {
        if (V == 2) tile(8, 2, m, n, k, alpha, a, b, beta, c, ldc);
        else tile(8, 1, m, n, k, alpha, a, b, beta, c, ldc);
    } else {
        if (V == 2) tile(4, 2, m, n, k, alpha, a, b, beta, c, ldc);
        else tile(4, 1, m, n, k, alpha, a, b, beta, c, ldc);
    }
}
