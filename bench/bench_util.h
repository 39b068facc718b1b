/* Timing helpers of the benchmarks: monotonic clock and medians.
 * BENCH_CLOCK=cpu times by the process's CPU time instead: on a host
 * shared with other jobs it leaves out the time the process waited for a
 * core, which makes one-thread comparisons meaningful under load; with
 * more threads it also counts threads that spin while waiting, so those
 * rows then give work per CPU-second, not speed. */
#ifndef NDX_BENCH_UTIL_H
#define NDX_BENCH_UTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("BENCH_CLOCK") && !strcmp(getenv("BENCH_CLOCK"), "cpu");
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n timings (sorts them). */
static inline double bench_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

#endif
