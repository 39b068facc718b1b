/* Where the forward pass spends its time: per-layer timing of one network.
 *
 *   bench_layers ARCH [batch] [runs] [--rows]   (batch default 1, runs >= 3, default 7)
 *
 * Builds ARCH from the zoo (random weights, seed 1, 224x224, inception_v3
 * 299x299 as bench_infer), plans NDX_PLAN_INFER_FOLDED at the batch (conv+BN+ReLU fused as
 * bench_infer runs it), runs one warm-up and `runs` timed forwards with the
 * step profiler of src/nn/run.c (ndx__net_profile) and prints, as markdown:
 * the FMA peak of the kernel set at the thread count in use, then per class
 * of layer (convolutions by kernel, stride and output size; the stem, the
 * first convolution, apart; other ops by name) the layers, GFLOP (counted
 * as a direct convolution's, 2*K*C/g*KH*KW*OH*OW per image), median ms per
 * forward summed over the class, share of the forward, GFLOP/s, share of
 * the FMA peak and the algorithm(s) taken.  --rows adds one row per step.
 * Threads: ndx's default (OMP_NUM_THREADS).  BENCH_CLOCK=cpu times by CPU
 * time (one thread under load). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "netdx.h"
#include "netdx_nn.h"
#include "../src/nn/nn_internal.h"

#define MAXCLASS 64

typedef struct {
    char name[48], algos[48];
    int layers;
    double gflop, ms;
} klass;

static const char *op_name(ndx_op op)
{
    switch (op) {
    case NDX_OP_CONV: return "conv";
    case NDX_OP_BN: return "batch norm";
    case NDX_OP_RELU: return "relu";
    case NDX_OP_MAXPOOL: return "max pool";
    case NDX_OP_AVGPOOL: return "avg pool";
    case NDX_OP_ADAPTIVE_AVGPOOL: return "adaptive avg pool";
    case NDX_OP_LINEAR: return "linear";
    case NDX_OP_DROPOUT: return "dropout";
    case NDX_OP_CONCAT: return "concat";
    case NDX_OP_ADD: return "add";
    case NDX_OP_FLATTEN: return "flatten";
    case NDX_OP_INPUT: return "input";
    }
    return "?";
}

/* The class of step i and, for a convolution, its GFLOP and algorithm. */
static void classify(const ndx_net *net, int i, int first_conv, char *name, size_t n,
                     double *gflop, const char **algo)
{
    const ndx__node *nd = &net->nodes[i];
    *gflop = 0;
    *algo = "";
    if (nd->op != NDX_OP_CONV) {
        snprintf(name, n, "%s", op_name(nd->op));
        if (nd->op == NDX_OP_LINEAR) {
            const ndx__node *a = &net->nodes[nd->in[0]];
            *gflop = 2.0 * net->batch * nd->k * a->c * a->h * a->w * 1e-9;
        }
        return;
    }
    ndx_conv2d_desc d = ndx__conv_desc(net, nd, 0);
    const int oh = ndx_conv2d_out_h(&d), ow = ndx_conv2d_out_w(&d);
    *gflop = 2.0 * d.n * d.k * (d.c / d.groups) * d.kh * d.kw * oh * ow * 1e-9;
    *algo = ndx_conv2d_algo(&d);
    if (i == first_conv)
        snprintf(name, n, "stem %dx%d s%d -> %d", d.kh, d.kw, d.sh, oh);
    else if (d.sh > 1 || d.sw > 1)
        snprintf(name, n, "%dx%d s%d -> %d", d.kh, d.kw, d.sh, oh);
    else
        snprintf(name, n, "%dx%d -> %d", d.kh, d.kw, oh);
}

static int add_class(klass *k, int *nk, const char *name, double gflop, double ms,
                     const char *algo)
{
    int j = 0;
    while (j < *nk && strcmp(k[j].name, name)) j++;
    if (j == *nk) {
        if (*nk == MAXCLASS) return -1;
        memset(&k[j], 0, sizeof k[j]);
        snprintf(k[j].name, sizeof k[j].name, "%s", name);
        (*nk)++;
    }
    k[j].layers++;
    k[j].gflop += gflop;
    k[j].ms += ms;
    if (*algo && !strstr(k[j].algos, algo)) {
        const size_t l = strlen(k[j].algos);
        snprintf(k[j].algos + l, sizeof k[j].algos - l, "%s%s", l ? ", " : "", algo);
    }
    return 0;
}

static int cmp_ms(const void *a, const void *b)
{
    const double x = ((const klass *)a)->ms, y = ((const klass *)b)->ms;
    return (x < y) - (x > y);
}

int main(int argc, char **argv)
{
    int rows = 0, pos = 0, batch = 1, runs = 7;
    const char *arch = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows")) rows = 1;
        else if (pos == 0) arch = argv[i], pos++;
        else if (pos == 1) batch = atoi(argv[i]), pos++;
        else runs = atoi(argv[i]);
    }
    if (!arch || batch < 1 || batch > 64 || runs < 3 || runs > 63) {
        fprintf(stderr, "usage: bench_layers ARCH [batch 1-64] [runs 3-63] [--rows]\n");
        return 2;
    }
    ndx_net *net;
    const int size = !strcmp(arch, "inception_v3") ? 299 : 224;   /* as bench_infer */
    if (ndx_zoo_build(arch, 1000, size, 1, &net) ||
        ndx_net_plan(net, batch, NDX_PLAN_INFER_FOLDED)) {
        fprintf(stderr, "bench_layers: %s\n", ndx_last_error());
        return 1;
    }
    const size_t per = (size_t)3 * size * size;
    float *x = ndx_alloc((size_t)batch * per * sizeof *x);
    double *secs = calloc((size_t)net->nnodes * (runs + 1), sizeof *secs);
    if (!x || !secs) return 1;
    ndx_rng r;
    ndx_rng_seed(&r, 2);
    for (size_t i = 0; i < (size_t)batch * per; i++) x[i] = (float)ndx_rng_normal(&r);
    double total[64];
    for (int k = 0; k <= runs; k++) {   /* run 0 warms up */
        ndx__net_profile(net, secs + (size_t)k * net->nnodes, bench_now);
        const double t0 = bench_now();
        if (ndx_net_forward(net, x, NDX_EVAL, -1)) {
            fprintf(stderr, "bench_layers: %s\n", ndx_last_error());
            return 1;
        }
        if (k) total[k - 1] = bench_now() - t0;
    }
    ndx__net_profile(net, NULL, NULL);
    double peak = 0;
    if (ndx_fma_peak(ndx_get_threads(), 0.3, &peak)) peak = 0;
    const double fwd = bench_median(total, runs) * 1e3;
    int first_conv = -1;
    for (int i = 1; i < net->nnodes && first_conv < 0; i++)
        if (net->nodes[i].op == NDX_OP_CONV) first_conv = i;
    printf("%s, batch %d, %d thread(s), kernels %s: forward %.1f ms (median of %d), "
           "FMA peak %.1f GFLOP/s\n\n", arch, batch, ndx_get_threads(), ndx_kernel_set(), fwd,
           runs, peak);
    if (rows) {
        printf("| step | class | algo | GFLOP | ms | GFLOP/s | of peak |\n"
               "| --- | --- | --- | --- | --- | --- | --- |\n");
    }
    klass k[MAXCLASS];
    int nk = 0;
    double gsum = 0;
    for (int i = 1; i < net->nnodes; i++) {
        double t[64];
        for (int j = 0; j < runs; j++) t[j] = secs[(size_t)(j + 1) * net->nnodes + i];
        const double ms = bench_median(t, runs) * 1e3;
        if (ms == 0) continue;
        char name[48];
        double gf;
        const char *algo;
        classify(net, i, first_conv, name, sizeof name, &gf, &algo);
        gsum += gf;
        if (add_class(k, &nk, name, gf, ms, algo)) return 1;
        if (rows)
            printf("| %s | %s | %s | %.3f | %.2f | %.1f | %.0f%% |\n", net->nodes[i].name, name,
                   algo, gf, ms, gf / ms * 1e3, peak > 0 ? 100 * gf / ms * 1e3 / peak : 0);
    }
    if (rows) printf("\n");
    qsort(k, (size_t)nk, sizeof *k, cmp_ms);
    printf("| layer class | layers | GFLOP | ms | share of forward | GFLOP/s | of FMA peak | algo |\n"
           "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int j = 0; j < nk; j++) {
        const double gs = k[j].gflop / k[j].ms * 1e3;
        if (k[j].gflop > 0)
            printf("| %s | %d | %.2f | %.1f | %.1f%% | %.1f | %.0f%% | %s |\n", k[j].name,
                   k[j].layers, k[j].gflop, k[j].ms, 100 * k[j].ms / fwd, gs,
                   peak > 0 ? 100 * gs / peak : 0, k[j].algos);
        else
            printf("| %s | %d | | %.1f | %.1f%% | | | |\n", k[j].name, k[j].layers, k[j].ms,
                   100 * k[j].ms / fwd);
    }
    printf("| total | | %.2f | %.1f | | %.1f | %.0f%% | |\n", gsum, fwd, gsum / fwd * 1e3,
           peak > 0 ? 100 * gsum / fwd * 1e3 / peak : 0);
    free(secs);
    ndx_free(x);
    ndx_net_free(net);
    return 0;
}
