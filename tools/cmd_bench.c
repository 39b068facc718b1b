/* netdx bench: a quick, self-contained benchmark of this machine for the
 * kernel set in use (NETDX_KERNELS), no Python or peers needed.  For every
 * thread count 1, 2, 4, ... threads: the set's FMA peak (ndx_fma_peak), sgemm of
 * three shapes, one convolution layer and one network forward at batch 1;
 * each a median of timed runs after a warm-up.  Prints a markdown table
 * (or, with --json, one JSON object) on stdout, a progress line on stderr. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_nn.h"

typedef struct bench_row {
    const char *kind;          /* "peak", "sgemm", "conv", "net" */
    char shape[80];
    int threads;
    double ms, gflops, share;  /* gflops, share < 0: not applicable */
    double images;             /* images/s ("net" rows), else < 0 */
} bench_row;

/* One timed step: returns 0 or an ndx_status. */
typedef int (*bench_step)(void *ctx);

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ms of runs after one warm-up: at least 3 runs, more until they
 * add up to budget seconds, at most 31. */
static int time_step(bench_step f, void *ctx, double budget, double *ms)
{
    double t[31], sum = 0;
    int n = 0, st = f(ctx);
    while (!st && n < 31 && (n < 3 || sum < budget)) {
        const double t0 = wall();
        st = f(ctx);
        t[n] = wall() - t0;
        sum += t[n++];
    }
    if (st) return st;
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *ms = 1e3 * (n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]));
    return 0;
}

typedef struct gemm_job {
    int m, n, k, trans_b;
    float *a, *b, *c;
} gemm_job;

static int gemm_step(void *ctx)
{
    gemm_job *g = ctx;
    ndx_sgemm(0, g->trans_b, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b,
              g->trans_b ? g->k : g->n, 0.0f, g->c, g->n);
    return 0;
}

typedef struct conv_job {
    ndx_conv2d_desc d;
    float *x, *w, *bias, *y, *ws;
} conv_job;

static int conv_step(void *ctx)
{
    conv_job *c = ctx;
    return ndx_conv2d_forward(&c->d, c->x, c->w, c->bias, c->y, c->ws);
}

typedef struct net_job {
    ndx_net *net;
    float *x;
} net_job;

static int net_step(void *ctx)
{
    net_job *j = ctx;
    return ndx_net_forward(j->net, j->x, NDX_EVAL, -1);
}

/* n floats of seeded standard normals (NULL after a failed allocation). */
static float *normals(size_t n, uint64_t seed)
{
    float *p = ndx_alloc(n * sizeof *p);
    if (!p) return NULL;
    ndx_rng r;
    ndx_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = (float)ndx_rng_normal(&r);
    return p;
}

typedef struct bench_plan {
    int quick, threads;
    double budget;
    const char *arch;
    bench_row rows[80];   /* 6 per thread count, at most 12 counts */
    int nrows;
    cli_progress progress;
} bench_plan;

static bench_row *add_row(bench_plan *p, const char *kind, int threads)
{
    bench_row *r = &p->rows[p->nrows++];
    *r = (bench_row){kind, "", threads, 0, -1, -1, -1};
    cli_progress_update(&p->progress, p->nrows, kind);
    return r;
}

/* The sgemm rows of one thread count: a square, a convolution's GEMM
 * (ResNet's first 3x3 stage as im2col makes it) and a linear layer at batch
 * 8 (weights transposed, as stored). */
static int bench_gemm(bench_plan *p, int th, double peak)
{
    const int q = p->quick;
    const gemm_job shapes[3] = {{q ? 256 : 512, q ? 256 : 512, q ? 256 : 512, 0, 0, 0, 0},
                                {64, q ? 784 : 3136, 576, 0, 0, 0, 0},
                                {8, q ? 1024 : 4096, q ? 1024 : 4096, 1, 0, 0, 0}};
    for (int s = 0; s < 3; s++) {
        gemm_job g = shapes[s];
        g.a = normals((size_t)g.m * g.k, 1);
        g.b = normals((size_t)g.k * g.n, 2);
        g.c = ndx_alloc((size_t)g.m * g.n * sizeof *g.c);
        double ms = 0;
        const int st = g.a && g.b && g.c ? time_step(gemm_step, &g, p->budget, &ms) : NDX_ERR_NOMEM;
        ndx_free(g.a), ndx_free(g.b), ndx_free(g.c);
        if (st) return st;
        bench_row *r = add_row(p, "sgemm", th);
        snprintf(r->shape, sizeof r->shape, "%dx%dx%d%s", g.m, g.n, g.k,
                 g.trans_b ? " (B transposed)" : "");
        r->ms = ms;
        r->gflops = 2.0 * g.m * g.n * g.k / (ms * 1e-3) / 1e9;
        r->share = r->gflops / peak;
    }
    return 0;
}

/* ResNet's first 3x3 stage: 64 -> 64 channels, 56x56 (28x28 quick),
 * bias + ReLU; GFLOP/s as a direct convolution's FLOP (Winograd does fewer). */
static int bench_conv(bench_plan *p, int th, double peak)
{
    const int s = p->quick ? 28 : 56;
    conv_job c = {{1, 64, s, s, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, 0, 0, 0, 0, 0};
    const size_t wsn = ndx_conv2d_workspace(&c.d);
    c.x = normals((size_t)64 * s * s, 3);
    c.w = normals((size_t)64 * 64 * 9, 4);
    c.bias = normals(64, 5);
    c.y = ndx_alloc((size_t)64 * s * s * sizeof *c.y);
    c.ws = wsn ? ndx_alloc(wsn * sizeof *c.ws) : NULL;
    double ms = 0;
    const int st = c.x && c.w && c.bias && c.y && (c.ws || !wsn)
                       ? time_step(conv_step, &c, p->budget, &ms) : NDX_ERR_NOMEM;
    ndx_free(c.x), ndx_free(c.w), ndx_free(c.bias), ndx_free(c.y), ndx_free(c.ws);
    if (st) return st;
    bench_row *r = add_row(p, "conv", th);
    snprintf(r->shape, sizeof r->shape, "3x3 64->64 %dx%d, bias+ReLU (%s)", s, s,
             ndx_conv2d_algo(&c.d));
    r->ms = ms;
    r->gflops = 2.0 * 64 * 64 * 9 * s * s / (ms * 1e-3) / 1e9;
    r->share = r->gflops / peak;
    return 0;
}

static int bench_net(bench_plan *p, int th, ndx_net *net)
{
    const int size = ndx_net_input_size(net);
    net_job j = {net, normals((size_t)3 * size * size, 6)};
    double ms = 0;
    const int st = j.x ? time_step(net_step, &j, p->budget, &ms) : NDX_ERR_NOMEM;
    ndx_free(j.x);
    if (st) return st;
    bench_row *r = add_row(p, "net", th);
    snprintf(r->shape, sizeof r->shape, "%s 3x%dx%d, batch 1", p->arch, size, size);
    r->ms = ms;
    r->images = 1e3 / ms;
    return 0;
}

/* The thread counts benchmarked: 1, 2, 4, ... and the largest, max. */
static int next_threads(int th, int max)
{
    return th < max && 2 * th > max ? max : 2 * th;
}

/* Every row, thread count by thread count; threads restored after. */
static int run_all(bench_plan *p)
{
    ndx_net *net = NULL;
    int st = ndx_zoo_build(p->arch, 2, 0, 1, &net);
    if (!st) st = ndx_net_plan(net, 1, NDX_PLAN_INFER_FOLDED);
    int counts = 1;
    for (int th = 1; th < p->threads; th = next_threads(th, p->threads)) counts++;
    cli_progress_start(&p->progress, "bench", "rows", (long)counts * 6);
    for (int th = 1; th <= p->threads && !st; th = next_threads(th, p->threads)) {
        double peak = 0;
        if ((st = ndx_fma_peak(th, p->quick ? 0.05 : 0.25, &peak))) break;
        bench_row *r = add_row(p, "peak", th);
        snprintf(r->shape, sizeof r->shape, "%s FMA chains in registers", ndx_kernel_set());
        r->gflops = peak, r->share = 1.0;
        if ((st = ndx_set_threads(th)) || (st = bench_gemm(p, th, peak)) ||
            (st = bench_conv(p, th, peak)) || (st = bench_net(p, th, net)))
            break;
    }
    cli_progress_end(&p->progress);
    ndx_net_free(net);
    ndx_set_threads(p->threads);
    return st;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss / 1024.0;
}

static void print_table(const bench_plan *p)
{
    char cpu[256];
    ndx_cpu_features(cpu, sizeof cpu);
    printf("netdx %s, kernels %s, threads 1..%d%s; cpu: %s\n\n", ndx_version(),
           ndx_kernel_set(), p->threads, p->quick ? ", quick" : "", cpu);
    printf("| benchmark | shape | threads | ms | GFLOP/s | share of FMA peak | images/s |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < p->nrows; i++) {
        const bench_row *r = &p->rows[i];
        char ms[32] = "-", gf[32] = "-", sh[32] = "-", im[32] = "-";
        if (strcmp(r->kind, "peak")) snprintf(ms, sizeof ms, "%.3f", r->ms);
        if (r->gflops >= 0) snprintf(gf, sizeof gf, "%.4g", r->gflops);
        if (r->share >= 0) snprintf(sh, sizeof sh, "%.0f%%", 100 * r->share);
        if (r->images >= 0) snprintf(im, sizeof im, "%.2f", r->images);
        printf("| %s | %s | %d | %s | %s | %s | %s |\n", r->kind, r->shape, r->threads, ms, gf,
               sh, im);
    }
    printf("\npeak RSS: %.0f MiB\n", peak_rss_mib());
}

static void add_num(cJSON *o, const char *key, double v, int present)
{
    cJSON_AddItemToObject(o, key, present ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

static int print_json(const bench_plan *p)
{
    char cpu[256];
    ndx_cpu_features(cpu, sizeof cpu);
    cJSON *o = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "netdx", ndx_version());
    cJSON_AddStringToObject(o, "kernels", ndx_kernel_set());
    cJSON_AddStringToObject(o, "cpu", cpu);
    cJSON_AddNumberToObject(o, "threads", p->threads);
    cJSON_AddBoolToObject(o, "quick", p->quick);
    cJSON_AddStringToObject(o, "net", p->arch);
    for (int i = 0; i < p->nrows; i++) {
        const bench_row *r = &p->rows[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "kind", r->kind);
        cJSON_AddStringToObject(j, "shape", r->shape);
        cJSON_AddNumberToObject(j, "threads", r->threads);
        add_num(j, "ms", r->ms, strcmp(r->kind, "peak") != 0);
        add_num(j, "gflops", r->gflops, r->gflops >= 0);
        add_num(j, "share_of_peak", r->share, r->share >= 0);
        add_num(j, "images_per_s", r->images, r->images >= 0);
        cJSON_AddItemToArray(rows, j);
    }
    cJSON_AddItemToObject(o, "rows", rows);
    cJSON_AddNumberToObject(o, "peak_rss_mib", peak_rss_mib());
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return EXIT_FAILED;
    printf("%s\n", s);
    cJSON_free(s);
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quick", no_argument, 0, 'q'},
                                         {"threads", required_argument, 0, 't'},
                                         {"net", required_argument, 0, 'n'},
                                         {0, 0, 0, 0}};
    static bench_plan p;
    p = (bench_plan){.threads = ndx_get_threads(), .arch = "alexnet"};
    int json = 0, c;
    long th;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'q') p.quick = 1;
        else if (c == 'n') p.arch = optarg;
        else if (c == 't') {
            if (cli_int("bench", "threads", optarg, 1, 1024, &th)) return EXIT_USAGE;
            p.threads = (int)th;
        } else if (c == 'h') {
            printf("usage: netdx bench [--quick] [--json] [--threads N] [--net ARCH]\n"
                   "Benchmarks this machine with the kernel set in use (NETDX_KERNELS=\n"
                   "ref|avx2|avx512|neon picks another), for 1, 2, 4, ... and N threads\n"
                   "(default: the threads netdx uses, NETDX_THREADS): the set's FMA peak,\n"
                   "sgemm of three shapes, one 3x3 convolution layer (GFLOP/s and share\n"
                   "of that peak) and a forward pass of the zoo network ARCH (default\n"
                   "alexnet) at batch 1 (images/s).  Each figure is the median of timed\n"
                   "runs after a warm-up.  Peak RSS at the end.\n"
                   "--quick: smaller shapes and shorter runs.  --json: one JSON object.\n");
            return EXIT_OK;
        } else {
            return EXIT_USAGE;
        }
    }
    if (cli_no_args("bench", argc, argv, optind)) return EXIT_USAGE;
    p.budget = p.quick ? 0.1 : 0.5;
    if (run_all(&p)) return cli_fail("bench");
    if (json) return print_json(&p);
    print_table(&p);
    return EXIT_OK;
}
