/* NEON GEMM microkernel (aarch64), tile 8 x 12.
 *
 *   C[i][j] = alpha * sum_p a[p*8 + i] * b[p*12 + j] + beta * C[i][j]
 *
 * a: packed 8-row panel of A (k x 8), zero-padded past m; b: packed
 * 12-column panel of B (k x 12), zero-padded past n.  24 q-register
 * accumulators (8 rows x 3 vectors of 4); per step of k two loads of A and
 * three of B, each A lane used with vfmaq_laneq_f32.  A full tile is stored
 * straight into C; a partial tile goes through a stack buffer so nothing
 * outside the m x n corner is touched.  beta == 0 never reads C.
 * Scalar twin: ndx_f32_gemm_ukernel_4x8__ref.
 *
 * Why 8 x 12 (the tile of BLIS's armv8a sgemm kernel): of the 32 q
 * registers, 24 hold the accumulators (8 x 12 / 4), 2 the A column and 3
 * the B row of one k step: 29, the largest tile with mr a multiple of 4
 * (a whole A vector per vfmaq_laneq_f32) that fits with its operands.  Per
 * k step: 5 q loads for 24 FMLA, 0.21 loads per FMA (8 x 8: 0.25; 4 x 16:
 * 0.31).  Cortex-A76 / Neoverse N1 issue 2 FMLA (latency 4) and 2 loads
 * per cycle: a k step is 12 FMLA cycles against 2.5 load cycles, and each
 * accumulator is rewritten every 24 FMLA (12 cycles), far more than the
 * 4 x 2 = 8 in flight that hide the latency.
 * Cortex-A72: 1 Q-form FMLA per cycle, latency 7 (3 with accumulator
 * forwarding): 24 cycles per step, again latency-free.  In-order
 * Cortex-A53/A55: latency is hidden the same way (24 independent chains);
 * what costs there is that a 128-bit load does not dual-issue with FMLA
 * (about 2 cycles each, 5 per 24 FMLA): docs/arm-kernels.md gives the
 * numbers and the schedule that would recover them.
 */
#include <arm_neon.h>

#include "../kernels.h"

/* ci[0..11] = alpha * (x0, x1, x2) (+ beta * ci when beta != 0). */
static inline void store_row(float *ci, float32x4_t x0, float32x4_t x1, float32x4_t x2,
                             float alpha, float beta)
{
    float32x4_t r0 = vmulq_n_f32(x0, alpha), r1 = vmulq_n_f32(x1, alpha);
    float32x4_t r2 = vmulq_n_f32(x2, alpha);
    if (beta != 0.0f) {
        r0 = vfmaq_n_f32(r0, vld1q_f32(ci), beta);
        r1 = vfmaq_n_f32(r1, vld1q_f32(ci + 4), beta);
        r2 = vfmaq_n_f32(r2, vld1q_f32(ci + 8), beta);
    }
    vst1q_f32(ci, r0);
    vst1q_f32(ci + 4, r1);
    vst1q_f32(ci + 8, r2);
}

void ndx_f32_gemm_ukernel_8x12__neon(int m, int n, int k, float alpha,
                                     const float *restrict a,
                                     const float *restrict b, float beta,
                                     float *restrict c, int ldc)
{
    /* 24 named accumulators: with an array acc[8][3] GCC 12 kept the
     * array in memory and stored all 24 registers back on every step of
     * k (12 STP Q per 24 FMLA) */
#define NDX_ZERO3(i) float32x4_t c##i##0 = vdupq_n_f32(0.0f), c##i##1 = c##i##0, c##i##2 = c##i##0;
    NDX_ZERO3(0) NDX_ZERO3(1) NDX_ZERO3(2) NDX_ZERO3(3)
    NDX_ZERO3(4) NDX_ZERO3(5) NDX_ZERO3(6) NDX_ZERO3(7)
#undef NDX_ZERO3

    for (int p = 0; p < k; p++) {
        const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4),
                          b2 = vld1q_f32(b + 8);
#define NDX_ROW(i, av, lane)                          \
        c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane); \
        c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane); \
        c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane);
        NDX_ROW(0, a0, 0) NDX_ROW(1, a0, 1) NDX_ROW(2, a0, 2) NDX_ROW(3, a0, 3)
        NDX_ROW(4, a1, 0) NDX_ROW(5, a1, 1) NDX_ROW(6, a1, 2) NDX_ROW(7, a1, 3)
#undef NDX_ROW
        a += 8;
        b += 12;
    }
    if (m == 8 && n == 12) {   /* a full tile, straight from the registers */
#define NDX_STORE(i) store_row(c + (size_t)(i) * ldc, c##i##0, c##i##1, c##i##2, alpha, beta);
        NDX_STORE(0) NDX_STORE(1) NDX_STORE(2) NDX_STORE(3)
        NDX_STORE(4) NDX_STORE(5) NDX_STORE(6) NDX_STORE(7)
#undef NDX_STORE
        return;
    }
    const float32x4_t acc[8][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22},
                                   {c30, c31, c32}, {c40, c41, c42}, {c50, c51, c52},
                                   {c60, c61, c62}, {c70, c71, c72}};
    float tile[8][12];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 3; j++) vst1q_f32(tile[i] + 4 * j, vmulq_n_f32(acc[i][j], alpha));
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++) ci[j] = tile[i][j];
        else
            for (int j = 0; j < n; j++) ci[j] = tile[i][j] + beta * ci[j];
    }
}
