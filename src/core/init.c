/* Start-up: the kernel set (NETDX_KERNELS), the thread count
 * (NETDX_THREADS, else OpenMP's default), the largest image decoded
 * (NETDX_MAX_PIXELS) and the forward convolution algorithm (NETDX_CONV):
 * the one place the environment is read. */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core.h"
#include "../../kernels/kernels.h"

static atomic_int threads;   /* 0: not set yet */
static atomic_int kernels_forced;   /* 1: NETDX_KERNELS chose the set */
static atomic_int conv_algo; /* ndx__conv_algo, NDX__CONV_AUTO at first */
static _Atomic int64_t max_pixels = NDX_PNG_MAX_PIXELS;

ndx_status ndx_set_threads(int n)
{
    if (n < 1 || n > 1024)
        return ndx__fail(NDX_ERR_INVALID, "threads: %d is out of range 1..1024", n);
    atomic_store(&threads, n);
    return NDX_OK;
}

int ndx_get_threads(void)
{
    int n = atomic_load(&threads);
    if (n) return n;
#ifdef _OPENMP
    n = omp_get_max_threads();
#else
    n = 1;
#endif
    return n < 1 ? 1 : n > 1024 ? 1024 : n;
}

/* Applies the environment; on error the earlier choice stays. */
static ndx_status apply_env(void)
{
    const char *k = getenv("NETDX_KERNELS");
    if (k && *k) {
        if (strcmp(k, "ref") && strcmp(k, "avx2") && strcmp(k, "avx512") && strcmp(k, "neon"))
            return ndx__fail(NDX_ERR_INVALID,
                             "NETDX_KERNELS=%s: expected ref, avx2, avx512 or neon", k);
        if (ndx_kernels_select(k)) {
            char why[256];
            return ndx__fail(NDX_ERR_UNSUPPORTED,
                             "NETDX_KERNELS=%s: this CPU or build lacks that kernel set: %s "
                             "(best here: %s)", k, ndx_kernels_why(k, why, sizeof why),
                             ndx_kernels_best());
        }
        atomic_store(&kernels_forced, 1);
    } else {
        ndx_kernels_select(ndx_kernels_best());
        atomic_store(&kernels_forced, 0);
    }
    const char *t = getenv("NETDX_THREADS");
    if (t && *t) {
        char *end;
        errno = 0;
        long n = strtol(t, &end, 10);
        if (errno || *end || end == t || n < 1 || n > 1024)
            return ndx__fail(NDX_ERR_INVALID, "NETDX_THREADS=%s: expected an integer 1..1024", t);
        ndx_set_threads((int)n);
    }
    const char *m = getenv("NETDX_MAX_PIXELS");
    if (m && *m) {
        char *end;
        errno = 0;
        long long n = strtoll(m, &end, 10);
        if (errno || *end || end == m || n < 1 || n > (1LL << 40))
            return ndx__fail(NDX_ERR_INVALID, "NETDX_MAX_PIXELS=%s: expected an integer "
                             "1..%lld (pixels per decoded image)", m, 1LL << 40);
        atomic_store(&max_pixels, (int64_t)n);
    } else {
        atomic_store(&max_pixels, NDX_PNG_MAX_PIXELS);
    }
    const char *c = getenv("NETDX_CONV");
    if (c && *c) {
        if (!strcmp(c, "auto")) atomic_store(&conv_algo, NDX__CONV_AUTO);
        else if (!strcmp(c, "im2col")) atomic_store(&conv_algo, NDX__CONV_IM2COL);
        else if (!strcmp(c, "winograd")) atomic_store(&conv_algo, NDX__CONV_WINOGRAD);
        else return ndx__fail(NDX_ERR_INVALID, "NETDX_CONV=%s: expected auto, im2col or winograd", c);
    }
    return NDX_OK;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void lazy_init(void) { (void)apply_env(); }
void ndx__ensure_init(void) { pthread_once(&once, lazy_init); }

void ndx__conv_set_algo(ndx__conv_algo a) { atomic_store(&conv_algo, (int)a); }

ndx__conv_algo ndx__conv_get_algo(void)
{
    ndx__ensure_init();
    return (ndx__conv_algo)atomic_load(&conv_algo);
}

int64_t ndx__max_pixels(void)
{
    ndx__ensure_init();
    return atomic_load(&max_pixels);
}

ndx_status ndx_init(void)
{
    ndx__ensure_init();
    return apply_env();
}

const char *ndx_version(void) { return NDX_VERSION; }

const char *ndx_kernel_set(void)
{
    ndx__ensure_init();
    return ndx_kernels()->isa;
}

void ndx_kernel_set_why(char *buf, size_t n)
{
    ndx__ensure_init();
    const char *isa = ndx_kernels()->isa;
    char cpu[256], from[512];
    ndx_kernels_why(isa, cpu, sizeof cpu);
    const char *parent = ndx_kernels_inherited(isa, from, sizeof from);
    if (atomic_load(&kernels_forced))
        snprintf(buf, n, "forced by NETDX_KERNELS=%s (best here: %s); %s", isa,
                 ndx_kernels_best(), cpu);
    else if (strcmp(isa, ndx_kernels_best()))
        snprintf(buf, n, "selected by the program (best here: %s); %s", ndx_kernels_best(), cpu);
    else
        snprintf(buf, n, "the best set this CPU runs: %s", cpu);
    if (parent && strcmp(parent, "ref") && *from) {
        size_t used = strlen(buf);
        if (used < n) snprintf(buf + used, n - used, "; from %s: %s", parent, from);
    }
}

int ndx_kernel_set_at(int i, const char **name, char *why, size_t n)
{
    const char *isa = ndx_kernels_name_at(i);
    if (!isa) return -1;
    if (name) *name = isa;
    ndx_kernels_why(isa, why, n);
    return ndx_kernels_for(isa) != NULL;
}
