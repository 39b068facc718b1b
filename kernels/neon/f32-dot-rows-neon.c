/* Dot products of a few input rows with many weight rows, aarch64 NEON
 * (contract: kernels/ref/f32-dot-rows-ref.c).
 *
 * Four weight rows at a time, each against every input row; two 4-lane
 * accumulators per weight row (8 FMA chains), the k tail in scalar code. */
#include <arm_neon.h>

#include "../kernels.h"

void ndx_f32_dot_rows__neon(int n, int rows, int k, const float *restrict x,
                            const float *restrict w, float *restrict y, int ldy)
{
    const int k8 = k / 8 * 8;
    for (int r = 0; r < rows; r += 4) {
        const int nr = rows - r < 4 ? rows - r : 4;
        const float *wr[4];
        for (int j = 0; j < 4; j++) wr[j] = w + (size_t)(r + (j < nr ? j : nr - 1)) * k;
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * k;
            float32x4_t a[4], b[4];
            for (int j = 0; j < 4; j++) a[j] = b[j] = vdupq_n_f32(0.0f);
            for (int p = 0; p < k8; p += 8) {
                const float32x4_t x0 = vld1q_f32(xi + p), x1 = vld1q_f32(xi + p + 4);
                for (int j = 0; j < 4; j++) {
                    a[j] = vfmaq_f32(a[j], x0, vld1q_f32(wr[j] + p));
                    b[j] = vfmaq_f32(b[j], x1, vld1q_f32(wr[j] + p + 4));
                }
            }
            for (int j = 0; j < nr; j++) {
                float s = vaddvq_f32(vaddq_f32(a[j], b[j]));
                for (int p = k8; p < k; p++) s += xi[p] * wr[j][p];
                y[(size_t)i * ldy + r + j] = s;
            }
        }
    }
}
