/* Dot products of a few input rows with many weight rows, scalar reference.
 *
 *   y[i*ldy + r] = sum over p < k of x[i*k + p] * w[r*k + p]   (i < n, r < rows)
 *
 * Float sums in 8 interleaved partial sums (lane j takes p = j mod 8),
 * added pairwise, then the tail in order.  The SIMD twins split the sum
 * differently and agree to rounding (~k * 1e-7 relative to sum |x||w|).
 * k = 0 gives 0. */
#include "../kernels.h"

void ndx_f32_dot_rows__ref(int n, int rows, int k, const float *restrict x,
                           const float *restrict w, float *restrict y, int ldy)
{
    for (int r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * k;
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * k;
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int p = 0;
            for (; p + 8 <= k; p += 8)
                for (int j = 0; j < 8; j++) acc[j] += xi[p + j] * wr[p + j];
            float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                      ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for (; p < k; p++) s += xi[p] * wr[p];
            y[(size_t)i * ldy + r] = s;
        }
    }
}
