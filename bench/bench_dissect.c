/* Streaming dissection benchmark: prints markdown tables on stdout.
 *
 *   bench_dissect [runs] [N]     (runs >= 3, default 5; N patches, default 256)
 *
 * A random-init `tiny` (2 classes, 64 px input, seed 1) and synthetic data:
 * a pool of 64 random 64x64 gray patches and of random lesion masks (64x64,
 * six kinds, each a random rectangle or absent), used cyclically with unique
 * patch ids; batch 16 (netdx dissect's default), top-k 64, quantile 0.005.
 *
 * (a) Throughput, 1 and 2 threads, medians of `runs`: the plain forward pass
 *     up to features.17 (ndx_net_forward(.., node)) over N patches, against
 *     dissection as netdx dissect runs it: one pass (forward + statistics:
 *     heaps, sketches + the one-pass IoU windows with the masks), then
 *     ndx_dissect_finish (and the second IoU pass if a unit's threshold
 *     missed its window: counted, and reported); beside it the exact two-pass
 *     order (statistics pass, thresholds, IoU pass: every patch through the
 *     network twice, ideal 0.5x).  Gray -> input conversion is in all.
 * (b) Peak RSS (VmHWM of /proc/self/status) of child processes that dissect
 *     N and 10N patches (one pass), beside the state's own bytes and the
 *     bytes a store-everything approach would hold (patches x units x h x w
 *     x 4).  The children are forked before the parent allocates anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "netdx.h"
#include "netdx_nn.h"

enum { S = 64, B = 16, POOL = 64, M = 64, NK = 6, TOPK = 64 };
#define LAYER "features.17"

typedef struct bench {
    ndx_net *net;
    int node, units, h, w;
    float *gray, *x;                 /* POOL patches; one batch's input */
    uint8_t *masks;                  /* POOL x NK x M x M */
    const uint8_t **mptr;            /* POOL x NK, NULL where absent */
    uint8_t labels[POOL];
    int64_t ids[B];
} bench;

static int fail(void)
{
    fprintf(stderr, "bench_dissect: %s\n", ndx_last_error());
    return 1;
}

static int setup(bench *b)
{
    memset(b, 0, sizeof *b);
    if (ndx_zoo_build("tiny", 2, S, 1, &b->net) || ndx_net_plan(b->net, B, NDX_PLAN_INFER))
        return fail();
    if ((b->node = ndx_net_find(b->net, LAYER)) < 1) {
        fprintf(stderr, "bench_dissect: tiny has no node %s\n", LAYER);
        return 1;
    }
    ndx_net_node_shape(b->net, b->node, &b->units, &b->h, &b->w);
    b->gray = malloc(sizeof(float) * POOL * S * S);
    b->x = malloc(sizeof(float) * B * 3 * S * S);
    b->masks = calloc((size_t)POOL * NK, M * M);
    b->mptr = calloc((size_t)POOL * NK, sizeof *b->mptr);
    if (!b->gray || !b->x || !b->masks || !b->mptr) {
        fprintf(stderr, "bench_dissect: out of memory\n");
        return 1;
    }
    ndx_rng r;
    ndx_rng_seed(&r, 7);
    for (size_t i = 0; i < (size_t)POOL * S * S; i++) b->gray[i] = (float)ndx_rng_uniform(&r);
    for (int i = 0; i < POOL; i++) {
        b->labels[i] = ndx_rng_uniform(&r) < 0.3;
        for (int k = 0; k < NK; k++) {
            if (ndx_rng_uniform(&r) < 0.5) continue;
            uint8_t *mk = b->masks + ((size_t)i * NK + k) * M * M;
            const int y0 = (int)(ndx_rng_uniform(&r) * (M - 1)), x0 = (int)(ndx_rng_uniform(&r) * (M - 1));
            const int y1 = y0 + 1 + (int)(ndx_rng_uniform(&r) * (M - 1 - y0));
            const int x1 = x0 + 1 + (int)(ndx_rng_uniform(&r) * (M - 1 - x0));
            for (int y = y0; y < y1; y++) memset(mk + (size_t)y * M + x0, 1, (size_t)(x1 - x0));
            b->mptr[i * NK + k] = mk;
        }
    }
    return 0;
}

static void teardown(bench *b)
{
    ndx_net_free(b->net);
    free(b->gray), free(b->x), free(b->masks), free(b->mptr);
}

/* One batch's input: patches first.. of the pool, cyclically. */
static const float *batch_input(bench *b, long first)
{
    const int p = (int)(first % POOL);   /* POOL is a multiple of B */
    ndx_gray_to_input(B, (size_t)S * S, b->gray + (size_t)p * S * S, b->x);
    return b->x;
}

/* what: -1 plain forward, else NDX_DISSECT_STATS / _IOU into d. */
static int pass(bench *b, ndx_dissect *d, long n, int what)
{
    for (long i = 0; i < n; i += B) {
        const int nb = n - i < B ? (int)(n - i) : B;
        if (ndx_net_forward(b->net, batch_input(b, i), NDX_EVAL, b->node)) return fail();
        if (what < 0) continue;
        ndx_tensor t;
        if (ndx_net_output(b->net, b->node, &t)) return fail();
        const int p = (int)(i % POOL);
        for (int j = 0; j < nb; j++) b->ids[j] = i + j;
        ndx_dissect_batch db = {nb, t.data, b->ids, b->labels + p, M, M, b->mptr + (size_t)p * NK};
        if (ndx_dissect_add(d, &db, what)) return fail();
    }
    return 0;
}

static ndx_dissect *new_state(const bench *b)
{
    ndx_dissect *d = NULL;
    ndx_dissect_config cfg = {.layer = LAYER, .units = b->units, .h = b->h, .w = b->w,
                              .topk = TOPK, .mode = NDX_THRESHOLD_QUANTILE, .quantile = 0.005};
    if (ndx_dissect_new(&cfg, &d)) fail();
    return d;
}

/* One pass and finish (a second IoU pass for missed units); *missed. */
static int dissect(bench *b, ndx_dissect *d, long n, int *missed)
{
    if (pass(b, d, n, NDX_DISSECT_STATS | NDX_DISSECT_IOU)) return 1;
    if (ndx_dissect_finish(d, missed)) return fail();
    return *missed ? pass(b, d, n, NDX_DISSECT_IOU) : 0;
}

/* The exact two-pass order. */
static int dissect2(bench *b, ndx_dissect *d, long n)
{
    if (pass(b, d, n, NDX_DISSECT_STATS)) return 1;
    if (ndx_dissect_set_thresholds(d, NULL)) return fail();
    return pass(b, d, n, NDX_DISSECT_IOU);
}

static long vm_hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = atol(line + 6);
    if (f) fclose(f);
    return kib;
}

/* Child: dissect n patches (1 thread), print "kib state_bytes units h w". */
static int memory_child(long n, int fd)
{
    bench b;
    if (setup(&b)) return 1;
    ndx_set_threads(1);
    ndx_dissect *d = new_state(&b);
    int missed;
    if (!d || dissect(&b, d, n, &missed)) return 1;
    char msg[200];
    const int k = snprintf(msg, sizeof msg, "%ld %zu %d %d %d\n", vm_hwm_kib(), ndx_dissect_bytes(d),
                           b.units, b.h, b.w);
    ndx_dissect_free(d);
    teardown(&b);
    return write(fd, msg, (size_t)k) == k ? 0 : 1;
}

static int measure_memory(long n, long *kib, size_t *state, int *units, int *h, int *w)
{
    int fds[2];
    if (pipe(fds)) return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(memory_child(n, fds[1]));
    }
    close(fds[1]);
    char msg[200] = {0};
    ssize_t got = pid < 0 ? -1 : read(fds[0], msg, sizeof msg - 1);
    close(fds[0]);
    int ws = 0;
    if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) || got <= 0)
        return 1;
    return sscanf(msg, "%ld %zu %d %d %d", kib, state, units, h, w) != 5;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 3 || runs > 64) runs = 5;
    long n = argc > 2 ? atol(argv[2]) : 256;
    if (n < B || n > 1000000) n = 256;
    if (ndx_init() != NDX_OK) return fail();
    printf("netdx %s, kernels %s; `tiny` (random init, 64 px input) up to %s, batch %d,\n"
           "top-k %d, quantile 0.005, %d random 64x64 patches and masks used cyclically.\n\n",
           ndx_version(), ndx_kernel_set(), LAYER, B, TOPK, POOL);

    /* (b) first: children forked from a parent that holds nothing yet */
    long kib[2];
    size_t state[2];
    int units = 0, h = 0, w = 0;
    const long ns[2] = {n, 10 * n};
    for (int i = 0; i < 2; i++)
        if (measure_memory(ns[i], &kib[i], &state[i], &units, &h, &w)) {
            fprintf(stderr, "bench_dissect: memory child for %ld patches failed\n", ns[i]);
            return 1;
        }

    /* (a) */
    bench b;
    if (setup(&b)) return 1;
    printf("| threads | forward to %s, patches/s | dissection (one pass), patches/s | "
           "dissection / forward | units missed | two passes, patches/s | two passes / forward |\n",
           LAYER);
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (int th = 1; th <= 2; th++) {
        ndx_set_threads(th);
        double tf[64], t1[64], t2[64];
        int missed = 0;
        for (int k = 0; k <= runs; k++) {   /* run 0 warms up */
            ndx_dissect *d = new_state(&b), *d2 = new_state(&b);
            if (!d || !d2) return 1;
            double t0 = bench_now();
            if (pass(&b, NULL, n, -1)) return 1;
            const double f = bench_now() - t0;
            t0 = bench_now();
            if (dissect(&b, d, n, &missed)) return 1;
            const double a = bench_now() - t0;
            t0 = bench_now();
            if (dissect2(&b, d2, n)) return 1;
            const double c = bench_now() - t0;
            ndx_dissect_free(d);
            ndx_dissect_free(d2);
            if (k) tf[k - 1] = f, t1[k - 1] = a, t2[k - 1] = c;
        }
        const double mf = bench_median(tf, runs), m1 = bench_median(t1, runs);
        const double m2 = bench_median(t2, runs);
        printf("| %d | %.0f | %.0f | %.2f | %d | %.0f | %.2f |\n", th, n / mf, n / m1, mf / m1,
               missed, n / m2, mf / m2);
        fflush(stdout);
    }
    teardown(&b);

    printf("\n| patches | peak RSS MiB (VmHWM) | dissection state MiB | store-everything MiB "
           "(patches x %d units x %dx%d x 4 B) |\n", units, h, w);
    printf("| --- | --- | --- | --- |\n");
    for (int i = 0; i < 2; i++)
        printf("| %ld | %.1f | %.2f | %.1f |\n", ns[i], kib[i] / 1024.0, state[i] / 1048576.0,
               (double)ns[i] * units * h * w * 4 / 1048576.0);
    printf("\nPeak RSS at %ldx / 1x the patches: %.3f.\n", ns[1] / ns[0], (double)kib[1] / kib[0]);
    return 0;
}
