/* FMA peak probe, AVX-512F (contract: kernels/ref/f32-fma-probe-ref.c).
 *
 * 24 chains of 16 lanes (tile 24x16): 24 zmm accumulators plus m and c in
 * 26 of the 32 registers, more chains than the FMA latency (4 cycles)
 * times the 512-bit ports (1 or 2, by CPU), so the loop runs at the
 * ports' rate. */
#include <immintrin.h>

#include "../kernels.h"

void ndx_f32_fma_probe__avx512(long iters, float m, float c, float *restrict acc)
{
    const __m512 vm = _mm512_set1_ps(m), vc = _mm512_set1_ps(c);
    __m512 a[24];
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) a[i] = _mm512_loadu_ps(acc + 16 * i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) a[i] = _mm512_fmadd_ps(a[i], vm, vc);
    }
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) _mm512_storeu_ps(acc + 16 * i, a[i]);
}
