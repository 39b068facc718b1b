/* FMA peak probe, NEON (contract: kernels/ref/f32-fma-probe-ref.c).
 *
 * 24 chains of 4 lanes (tile 24x4): 24 q-register accumulators plus m and
 * c in 26 of the 32, more chains than the FMLA latency (4-7 cycles on
 * Cortex-A53..A76 and Neoverse) times the ports (1-4), so the loop runs at
 * the ports' rate.  vfmaq_f32(c, a, m) = c + a*m, rounded once. */
#include <arm_neon.h>

#include "../kernels.h"

void ndx_f32_fma_probe__neon(long iters, float m, float c, float *restrict acc)
{
    const float32x4_t vm = vdupq_n_f32(m), vc = vdupq_n_f32(c);
    float32x4_t a[24];
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) a[i] = vld1q_f32(acc + 4 * i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) a[i] = vfmaq_f32(vc, a[i], vm);
    }
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) vst1q_f32(acc + 4 * i, a[i]);
}
