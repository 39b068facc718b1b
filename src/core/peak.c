/* The FMA peak of the kernel set in use, measured: each thread runs the
 * set's fma_probe kernel (kernels.inc: independent FMA chains held in
 * registers, tile = chains x lanes) for a calibrated number of steps.
 * 2 * chains * lanes * steps * threads FLOP over the wall time of the
 * slowest thread, best of five tries, is what the set's FMAs deliver on
 * this machine: the yardstick netdx bench divides its kernels' GFLOP/s by. */
#include <limits.h>
#include <time.h>

#include "core.h"
#include "../../kernels/kernels.h"

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One try: every thread runs iters steps on its own accumulators. */
static double run(ndx_fma_probe_fn fn, int nt, long iters, float (*acc)[512])
{
    const double t0 = wall();
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static, 1)
    for (int i = 0; i < nt; i++) fn(iters, 0.999999f, 1e-7f, acc[i]);
    return wall() - t0;
}

ndx_status ndx_fma_peak(int threads, double seconds, double *gflops)
{
    if (!gflops) return ndx__fail(NDX_ERR_INVALID, "fma peak: gflops is NULL");
    *gflops = 0;
    if (threads < 1 || threads > 1024)
        return ndx__fail(NDX_ERR_INVALID, "fma peak: threads %d is out of range 1..1024",
                         threads);
    if (!(seconds >= 0.001 && seconds <= 60))
        return ndx__fail(NDX_ERR_INVALID, "fma peak: seconds %g is out of range 0.001..60",
                         seconds);
    ndx__ensure_init();
    const ndx_kernel_table *k = ndx_kernels();
    const int lanes = k->fma_probe.mr * k->fma_probe.nr;
    if (!k->fma_probe.fn || lanes < 1 || lanes > 512)
        return ndx__fail(NDX_ERR_UNSUPPORTED, "fma peak: the %s set's probe has a tile of "
                         "%d x %d (1..512 floats)", k->isa, k->fma_probe.mr, k->fma_probe.nr);
    float (*acc)[512] = ndx_alloc((size_t)threads * sizeof *acc);
    if (!acc) return NDX_ERR_NOMEM;
    for (int i = 0; i < threads; i++)
        for (int j = 0; j < 512; j++) acc[i][j] = (float)j;
    long iters = 256;
    double t = run(k->fma_probe.fn, threads, iters, acc);
    while (t < seconds && iters < LONG_MAX / 64) {   /* calibrate: one try lasts `seconds` */
        const double want = t > 0 ? (double)iters * seconds * 1.2 / t : (double)iters * 64;
        iters = want > (double)iters * 64 ? iters * 64 : (long)want + 1;
        t = run(k->fma_probe.fn, threads, iters, acc);
    }
    for (int i = 0; i < 4; i++) {   /* the best of five: load only ever slows a try */
        const double u = run(k->fma_probe.fn, threads, iters, acc);
        if (u < t) t = u;
    }
    ndx_free(acc);
    *gflops = 2.0 * lanes * (double)iters * threads / t / 1e9;
    return NDX_OK;
}
