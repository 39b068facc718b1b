/* FMA peak probe, AVX2+FMA (contract: kernels/ref/f32-fma-probe-ref.c).
 *
 * 12 chains of 8 lanes (tile 12x8): 12 ymm accumulators, more than the FMA
 * latency (4-5 cycles) times the ports (2), so the loop runs at one FMA per
 * port per cycle; m and c live in two more registers. */
#include <immintrin.h>

#include "../kernels.h"

void ndx_f32_fma_probe__avx2(long iters, float m, float c, float *restrict acc)
{
    const __m256 vm = _mm256_set1_ps(m), vc = _mm256_set1_ps(c);
    __m256 a[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm256_loadu_ps(acc + 8 * i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], vm, vc);
    }
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) _mm256_storeu_ps(acc + 8 * i, a[i]);
}
