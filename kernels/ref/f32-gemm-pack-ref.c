/* GEMM panel packing, the reference.
 *
 *   dst[p*w + i] = X(i, p)   for i < rows, p < kc;   0 for rows <= i < w
 *   X(i, p) = kmajor ? src[p*ld + i] : src[i*ld + p]
 *
 * One routine packs both operands: a panel of op(A) has X(i, p) = op(A)[i][p]
 * (kmajor when A is transposed), a panel of op(B) has X(j, p) = op(B)[p][j]
 * (kmajor when B is not transposed).  rows <= w.
 */
#include "../kernels.h"

void ndx_f32_gemm_pack__ref(int kmajor, int rows, int kc, const float *restrict src,
                            int ld, int w, float *restrict dst)
{
    for (int p = 0; p < kc; p++) {
        float *d = dst + (size_t)p * w;
        for (int i = 0; i < rows; i++)
            d[i] = kmajor ? src[(size_t)p * ld + i] : src[(size_t)i * ld + p];
        for (int i = rows; i < w; i++) d[i] = 0.0f;
    }
}
