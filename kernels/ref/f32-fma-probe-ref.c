/* FMA peak probe, scalar reference: the contract of every set's probe.
 *
 *   acc[j] = fma(acc[j], m, c), rounded once, iters times over, for each
 *   j < MR*NR: MR independent chains of NR lanes (the tile of the set's
 *   kernels.inc line), 2*MR*NR*iters FLOP.
 *
 * The SIMD probes keep every chain in a register for the whole run (no
 * load or store inside the loop) and use enough chains to cover the FMA
 * latency times the FMA ports, so their time is the set's FMA peak; netdx
 * bench (ndx_fma_peak) divides their FLOP by it.  This one calls fmaf
 * (one rounding, as the SIMD FMAs: every set's result is bit-identical);
 * it measures the scalar path only.  iters >= 0; acc is MR*NR floats. */
#include <math.h>

#include "../kernels.h"

void ndx_f32_fma_probe__ref(long iters, float m, float c, float *restrict acc)
{
    float a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (long it = 0; it < iters; it++) {
        a0 = fmaf(a0, m, c);
        a1 = fmaf(a1, m, c);
        a2 = fmaf(a2, m, c);
        a3 = fmaf(a3, m, c);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}
