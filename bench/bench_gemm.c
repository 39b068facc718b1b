/* sgemm benchmark: the machine's FMA peak and memory bandwidth measured
 * here, then netdx's ndx_sgemm beside OpenBLAS's cblas_sgemm on the same
 * matrices in the same run, 1 and 2 threads, medians of several runs.
 *   bench_gemm LABEL     (LABEL names the OpenBLAS kernel, e.g. "Haswell")
 *   bench_gemm LABEL --shape M N K [ROUNDS [THREADS]]   one shape, 1 and 2
 *                        threads (or THREADS), ROUNDS (default 5) interleaved
 *                        rounds, the same rows
 * netdx runs the kernel set NETDX_KERNELS names (default: the best here);
 * each row gives its share of that set's FMA peak, measured before the
 * shapes (AVX2 FMAs for avx2, 16-wide FMAs for avx512).
 * Prints markdown rows. */
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "bench_util.h"
#include "netdx.h"

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

/* 12 independent chains of 8-wide FMAs per thread (more than latency x
 * ports), in registers. */
__attribute__((target("avx2,fma"))) static double fma_peak(int threads)
{
    const long iters = 50000000;
    double t[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
            __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
                   a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
                   a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
                   a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
            for (long it = 0; it < iters; it++) {
                a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c);
                a2 = _mm256_fmadd_ps(a2, m, c); a3 = _mm256_fmadd_ps(a3, m, c);
                a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
                a6 = _mm256_fmadd_ps(a6, m, c); a7 = _mm256_fmadd_ps(a7, m, c);
                a8 = _mm256_fmadd_ps(a8, m, c); a9 = _mm256_fmadd_ps(a9, m, c);
                a10 = _mm256_fmadd_ps(a10, m, c); a11 = _mm256_fmadd_ps(a11, m, c);
            }
            __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                     _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
            s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
            sink += _mm256_cvtss_f32(s);
        }
        t[rep] = bench_now() - t0;
        if (sink == 12345.0f) printf("#");
    }
    return 2.0 * 8 * 12 * iters * threads / bench_median(t, 5) / 1e9;
}

/* The same with 16-wide FMAs (24 chains): the AVX-512 peak.  Called only
 * when the CPU runs the avx512 set. */
__attribute__((target("avx512f"))) static double fma_peak512(int threads)
{
    const long iters = 25000000;
    double t[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
            __m512 a[24];
            for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps((float)i);
            for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
                for (int i = 0; i < 24; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
            }
            __m512 s = a[0];
            for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, a[i]);
            sink += _mm512_reduce_add_ps(s);
        }
        t[rep] = bench_now() - t0;
        if (sink == 12345.0f) printf("#");
    }
    return 2.0 * 16 * 24 * iters * threads / bench_median(t, 5) / 1e9;
}

/* Read and write bandwidth over 1 GiB, touched before timing; AVX loads and
 * stores so that the loops are memory-bound. */
__attribute__((target("avx2,fma"))) static void bandwidth(int threads, double *read_gbs,
                                                         double *write_gbs)
{
    const size_t n = (size_t)1 << 28;   /* floats: 1 GiB */
    float *buf = ndx_alloc(n * sizeof(float));
    memset(buf, 1, n * sizeof(float));
    double tr[5], tw[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        float sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        {
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i += 32) {
                s0 = _mm256_add_ps(s0, _mm256_load_ps(buf + i));
                s1 = _mm256_add_ps(s1, _mm256_load_ps(buf + i + 8));
                s2 = _mm256_add_ps(s2, _mm256_load_ps(buf + i + 16));
                s3 = _mm256_add_ps(s3, _mm256_load_ps(buf + i + 24));
            }
            sum += _mm256_cvtss_f32(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        }
        tr[rep] = bench_now() - t0;
        if (sum == 1) printf("#");
        t0 = bench_now();
        const __m256 v = _mm256_set1_ps((float)rep);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i += 8) _mm256_store_ps(buf + i, v);
        tw[rep] = bench_now() - t0;
    }
    *read_gbs = n * 4.0 / bench_median(tr, 5) / 1e9;
    *write_gbs = n * 4.0 / bench_median(tw, 5) / 1e9;
    ndx_free(buf);
}

typedef struct { const char *name; int m, n, k; } shape;

/* Median time of reps calls.  Starts with a pause, so that the other
 * library's worker threads, which spin for a while after their last job,
 * are asleep and do not steal a core from this one's threads. */
static double time_gemm(int which, const shape *s, const float *a, const float *b,
                        float *c, int reps)
{
    double t[15];
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        if (which == 0)
            ndx_sgemm(0, 0, s->m, s->n, s->k, 1.0f, a, s->k, b, s->n, 0.0f, c, s->n);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->m, s->n, s->k,
                        1.0f, a, s->k, b, s->n, 0.0f, c, s->n);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    return bench_median(t, reps);
}

/* The two libraries take turns, ROUNDS times: this VM's host takes cores
 * away for seconds at a time, and a slow spell then falls on both rather
 * than on one.  Times are medians over the rounds, the ratio the median of
 * the rounds' ratios. */
#define ROUNDS 5
#define ROUNDS_MAX 51
static int rounds = ROUNDS;
static void compare(const shape *s, const float *a, const float *b, float *c, int reps,
                    double *tn, double *to, double *ratio)
{
    double n[ROUNDS_MAX], o[ROUNDS_MAX], q[ROUNDS_MAX];
    for (int r = 0; r < rounds; r++) {
        n[r] = time_gemm(0, s, a, b, c, reps);
        o[r] = time_gemm(1, s, a, b, c, reps);
        q[r] = o[r] / n[r];
    }
    *tn = bench_median(n, rounds);
    *to = bench_median(o, rounds);
    *ratio = bench_median(q, rounds);
}

/* The CPU runs netdx's avx512 set (its CPUID and XCR0 test). */
static int has_avx512(void)
{
    const char *name;
    char why[256];
    for (int i = 0, r; (r = ndx_kernel_set_at(i, &name, why, sizeof why)) >= 0; i++)
        if (!strcmp(name, "avx512")) return r;
    return 0;
}

int main(int argc, char **argv)
{
    const char *label = argc > 1 ? argv[1] : "default";
    if (ndx_init() != NDX_OK) {
        fprintf(stderr, "bench_gemm: %s\n", ndx_last_error());
        return 1;
    }
    if (argc > 2 && !strcmp(argv[2], "--peak512")) {   /* the probe alone */
        printf("%.1f %.1f\n", fma_peak512(1), fma_peak512(2));
        return 0;
    }
    if (argc > 2 && !strcmp(argv[2], "--corename")) {
        printf("%s\n", openblas_get_corename());
        return 0;
    }
    if (argc > 2 && !strcmp(argv[2], "--machine")) {
        double p1 = fma_peak(1), p2 = fma_peak(2), r1, w1, r2, w2;
        bandwidth(1, &r1, &w1);
        bandwidth(2, &r2, &w2);
        printf("| AVX2 FMA peak | %.1f GFLOP/s | %.1f GFLOP/s |\n", p1, p2);
        if (has_avx512())
            printf("| AVX-512 FMA peak | %.1f GFLOP/s | %.1f GFLOP/s |\n", fma_peak512(1),
                   fma_peak512(2));
        printf("| memory read | %.1f GB/s | %.1f GB/s |\n", r1, r2);
        printf("| memory write | %.1f GB/s | %.1f GB/s |\n", w1, w2);
        return 0;
    }
    shape shapes[] = {
        {"256³", 256, 256, 256}, {"512³", 512, 512, 512}, {"1024³", 1024, 1024, 1024},
        {"2048³", 2048, 2048, 2048},
        {"VGG-16 conv5_3 14×14", 512, 196, 4608}, {"AlexNet conv5", 256, 169, 2304},
        {"ResNet layer4 3×3 7×7", 512, 49, 4608}, {"3×3 64ch 56×56", 64, 3136, 576}};
    size_t nshapes = sizeof shapes / sizeof *shapes;
    int th0 = 1, th1 = 2;
    if (argc > 5 && !strcmp(argv[2], "--shape")) {   /* one shape, more rounds */
        shapes[0] = (shape){"shape", atoi(argv[3]), atoi(argv[4]), atoi(argv[5])};
        nshapes = 1;
        rounds = argc > 6 ? atoi(argv[6]) : ROUNDS;
        if (argc > 7) th0 = th1 = atoi(argv[7]);
        if (rounds < 1 || rounds > ROUNDS_MAX || shapes[0].m < 1 || shapes[0].n < 1 ||
            shapes[0].k < 1 || th0 < 1 || th0 > 2 || (size_t)shapes[0].m * shapes[0].k > (size_t)2048 * 4608 ||
            (size_t)shapes[0].k * shapes[0].n > (size_t)2048 * 4608 ||
            (size_t)shapes[0].m * shapes[0].n > (size_t)2048 * 4608) {
            fprintf(stderr, "bench_gemm: --shape M N K [ROUNDS]: sizes out of range\n");
            return 2;
        }
    }
    const size_t maxsz = (size_t)2048 * 4608;
    float *a = ndx_alloc(maxsz * 4), *b = ndx_alloc(maxsz * 4), *c = ndx_alloc(maxsz * 4);
    for (size_t i = 0; i < maxsz; i++) {
        a[i] = (float)((i * 7) % 13) / 13 - 0.5f;
        b[i] = (float)((i * 5) % 11) / 11 - 0.5f;
        c[i] = 0;
    }
    /* the share of the FMA peak of netdx's set, measured here (AVX2 FMAs
     * for avx2, 16-wide for avx512) */
    const int wide = !strcmp(ndx_kernel_set(), "avx512");
    const double peak[2] = {wide ? fma_peak512(1) : fma_peak(1), wide ? fma_peak512(2) : fma_peak(2)};
    for (size_t si = 0; si < nshapes; si++) {
        const shape *s = &shapes[si];
        double flop = 2.0 * s->m * s->n * s->k;
        int reps = flop > 4e9 ? 3 : flop > 2e8 ? 5 : 9;
        for (int th = th0; th <= th1; th++) {
            ndx_set_threads(th);
            openblas_set_num_threads(th);
            double tn, to, ratio;
            compare(s, a, b, c, reps, &tn, &to, &ratio);
            printf("| %s | %d×%d×%d | %d | %.1f | %.0f%% | %.1f | %.2f |\n", s->name, s->m,
                   s->n, s->k, th, flop / tn / 1e9, 100 * flop / tn / 1e9 / peak[th - 1],
                   flop / to / 1e9, ratio);
        }
    }
    fprintf(stderr, "bench_gemm: OpenBLAS core %s (%s), netdx kernels %s\n",
            openblas_get_corename(), label, ndx_kernel_set());
    ndx_free(a); ndx_free(b); ndx_free(c);
    return 0;
}
