/* Reference sgemm and the reference GEMM microkernel: the oracle.
 *
 * ndx_f32_gemm__ref: C = alpha * op(A) op(B) + beta * C, row-major, each
 * dot product accumulated in double in k order, then rounded once.
 * beta == 0 never reads C.
 *
 * ndx_f32_gemm_ukernel_4x8__ref: the same contract as every SIMD GEMM
 * microkernel (see kernels.h): packed panels a (k x 4) and b (k x 8),
 * writes the m x n corner (m <= 4, n <= 8) of C.  Accumulates in float, in
 * k order, without contraction (this file is built with -ffp-contract=off).
 */
#include "../kernels.h"

void ndx_f32_gemm__ref(int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const float *restrict a, int lda,
                       const float *restrict b, int ldb, float beta,
                       float *restrict c, int ldc)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                acc += (double)av * (double)bv;
            }
            float *cij = &c[(size_t)i * ldc + j];
            double r = (double)alpha * acc;
            if (beta != 0.0f) r += (double)beta * (double)*cij;
            *cij = (float)r;
        }
    }
}

#define MR 4
#define NR 8

void ndx_f32_gemm_ukernel_4x8__ref(int m, int n, int k, float alpha,
                                   const float *restrict a,
                                   const float *restrict b, float beta,
                                   float *restrict c, int ldc)
{
    float acc[MR][NR] = {{0}};
    for (int p = 0; p < k; p++)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += a[p * MR + i] * b[p * NR + j];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = &c[(size_t)i * ldc + j];
            *cij = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;
        }
}
