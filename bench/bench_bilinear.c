/* Bilinear upsampling benchmark: prints markdown tables on stdout.
 *
 *   bench_bilinear [runs]          (runs >= 7, default 9; medians of runs)
 *
 * Build (static library, internal kernel header):
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Ikernels \
 *      bench/bench_bilinear.c build/libnetdx.a -fopenmp -lxxhash -lm
 *
 * 1. Bilinear 1x512x7x7 -> 224x224 and 1x512x14x14 -> 224x224, align_corners
 *    False, one thread, for every kernel set this CPU runs: the unplanned
 *    oracle ndx_f32_bilinear__ref and the planned blend of each set; then
 *    the default set on 2 threads (channels split) beside a 2-thread limit.
 *    GB/s counts the bytes written (512*224*224*4).  The write-bandwidth limit is
 *    measured here: a store loop over a buffer of the same size (allocated
 *    once, touched before timing), with plain and with non-temporal stores
 *    (256-bit, and 512-bit where the avx512 set runs); the fastest is the
 *    limit, and "x limit" is time / limit time.
 * 2. The antialiased downscale of a 3x400x400 patch to 227 and 128.
 * 3. The fused dissection kernel (upsample a unit's map to 224x224, compare
 *    with T, count intersection and union against 1 or 3 masks) against
 *    upsample-then-compare (the same set's blend of one unit into a buffer,
 *    then a compare-and-count loop in plain C, and with AVX2), over the 512
 *    units of the layer, for the best SIMD set; dense maps with T in the
 *    middle of their values (the worst case) and sparse (ReLU) maps with T
 *    at their 99.5th percentile (Network Dissection's threshold).
 * 4. Select (the upsampled pixels >= lo of each sparse map, lo at the 97th
 *    percentile) against the same set's blend into a buffer and a C filter.
 * Every output buffer is allocated once and touched before timing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "kernels.h"
#include "netdx.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#define CH 512
#define OH 224
#define OW 224

/* ---- the write-bandwidth limit -------------------------------------------- */
#if defined(__x86_64__)
__attribute__((target("avx2"))) static void store_plain(float *p, size_t n)
{
    const __m256 v = _mm256_set1_ps(1.0f);
    for (size_t i = 0; i + 32 <= n; i += 32) {
        _mm256_store_ps(p + i, v);
        _mm256_store_ps(p + i + 8, v);
        _mm256_store_ps(p + i + 16, v);
        _mm256_store_ps(p + i + 24, v);
    }
}
__attribute__((target("avx2"))) static void store_stream(float *p, size_t n)
{
    const __m256 v = _mm256_set1_ps(1.0f);
    for (size_t i = 0; i + 32 <= n; i += 32) {
        _mm256_stream_ps(p + i, v);
        _mm256_stream_ps(p + i + 8, v);
        _mm256_stream_ps(p + i + 16, v);
        _mm256_stream_ps(p + i + 24, v);
    }
    _mm_sfence();
}
/* The same with 512-bit non-temporal stores: the avx512 set's limit. */
__attribute__((target("avx512f"))) static void store_stream512(float *p, size_t n)
{
    const __m512 v = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i + 64 <= n; i += 64) {
        _mm512_stream_ps(p + i, v);
        _mm512_stream_ps(p + i + 16, v);
        _mm512_stream_ps(p + i + 32, v);
        _mm512_stream_ps(p + i + 48, v);
    }
    _mm_sfence();
}
#endif
static void store_c(float *p, size_t n)   /* no AVX2: plain C stores */
{
    for (size_t i = 0; i < n; i++) p[i] = 1.0f;
}

typedef void (*store_fn)(float *, size_t);

/* ---- upsample-then-compare -------------------------------------------------- */
static void compare_count(const float *up, size_t n, float thr, int nmasks,
                          const uint8_t *masks, size_t stride, uint64_t *inter,
                          uint64_t *uni)
{
    for (int k = 0; k < nmasks; k++) {
        const uint8_t *m = masks + (size_t)k * stride;
        uint64_t a = 0, b = 0;
        for (size_t i = 0; i < n; i++) {
            const int act = up[i] > thr, in = m[i] != 0;
            a += (uint64_t)(act & in);
            b += (uint64_t)(act | in);
        }
        inter[k] += a;
        uni[k] += b;
    }
}

/* The upsampled pixels >= lo, as bilinear_select writes them. */
static size_t select_filter(const float *up, size_t n, float lo, int32_t *idx, float *val)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (up[i] >= lo) {
            idx[k] = (int32_t)i;
            val[k++] = up[i];
        }
    return k;
}

#if defined(__x86_64__)
/* The same with AVX2: 32 pixels per step, bit masks and popcount. */
__attribute__((target("avx2,popcnt"), noipa)) static void
compare_count_avx2(const float *up, size_t n, float thr, int nmasks,
                   const uint8_t *masks, size_t stride, uint64_t *inter,
                   uint64_t *uni)
{
    const __m256 t = _mm256_set1_ps(thr);
    const __m256i zero = _mm256_setzero_si256();
    for (int k = 0; k < nmasks; k++) {
        const uint8_t *m = masks + (size_t)k * stride;
        uint64_t a = 0, b = 0;
        size_t i = 0;
        for (; i + 32 <= n; i += 32) {
            uint32_t act = 0;
            for (int q = 0; q < 4; q++)
                act |= (uint32_t)_mm256_movemask_ps(
                           _mm256_cmp_ps(_mm256_loadu_ps(up + i + 8 * q), t, _CMP_GT_OQ))
                       << (8 * q);
            const uint32_t in = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
                _mm256_loadu_si256((const __m256i *)(m + i)), zero));
            a += (uint64_t)__builtin_popcount(act & in);
            b += (uint64_t)__builtin_popcount(act | in);
        }
        for (; i < n; i++) {
            const int act = up[i] > thr, in = m[i] != 0;
            a += (uint64_t)(act & in);
            b += (uint64_t)(act | in);
        }
        inter[k] += a;
        uni[k] += b;
    }
}
#endif

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static uint64_t seed = 0x1234567ull;
static float uniform(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((seed >> 40) * (1.0 / 8388608.0) - 1.0);
}

/* What every phase shares: the buffers (each allocated once and touched
 * before timing), the two plans, the store loops and the thresholds. */
static const char *const isas[] = {"ref", "avx2", "avx512", "neon"};
enum { NISA = 4, NK = 5 };   /* NK: the oracle, then the planned blend of each set */
static const int sizes[2] = {7, 14};
typedef struct bench {
    int runs;
    float *out, *in, *sparse, *up;
    uint8_t *masks;
    _Alignas(16) unsigned char planbuf[2][(OH + OW) * 16];
    ndx_bilinear_plan plan[2];
    double tplan[2];
    store_fn plain, stream, stream512;   /* stream512: NULL without avx512 */
    float t_sparse[2], t_select[2];   /* sparse maps' T and select's lo */
} bench;

static int oom(void)
{
    fprintf(stderr, "bench_bilinear: out of memory\n");
    return 1;
}

/* Buffers, random maps, three masks of a filled disc each, the plans. */
static int setup(bench *b)
{
    const size_t on = (size_t)CH * OH * OW;
    b->out = ndx_alloc(on * sizeof *b->out);
    b->in = ndx_alloc((size_t)CH * 14 * 14 * sizeof *b->in);
    b->sparse = ndx_alloc((size_t)CH * 14 * 14 * sizeof *b->sparse);
    b->masks = ndx_alloc((size_t)3 * OH * OW);
    b->up = ndx_alloc((size_t)OH * OW * sizeof *b->up);
    if (!b->out || !b->in || !b->sparse || !b->masks || !b->up) return oom();
    memset(b->out, 0, on * sizeof *b->out);
    memset(b->up, 0, (size_t)OH * OW * sizeof *b->up);
    for (size_t i = 0; i < (size_t)CH * 14 * 14; i++) b->in[i] = uniform();
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                const int cx = 60 + 50 * k, cy = 80 + 30 * k, r = 25 + 10 * k;
                b->masks[(size_t)k * OH * OW + (size_t)y * OW + x] =
                    (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
            }
    for (int si = 0; si < 2; si++) {
        const double tp0 = bench_now();
        ndx_bilinear_plan_init(&b->plan[si], sizes[si], sizes[si], OH, OW, 0, b->planbuf[si]);
        b->tplan[si] = bench_now() - tp0;
    }
    b->plain = store_c, b->stream = NULL, b->stream512 = NULL;
#if defined(__x86_64__)
    if (ndx_kernels_for("avx2")) {
        b->plain = store_plain;
        b->stream = store_stream;
    }
    if (ndx_kernels_for("avx512")) b->stream512 = store_stream512;
#endif
    return 0;
}

/* 1. One thread: the store loops and every kernel, round by round, so that
 * drift of the machine's load hits all of them alike. */
static void upsample_one_thread(bench *b)
{
    const ndx_kernel_table *sets[NK] = {NULL};
    for (int k = 0; k < NISA; k++) sets[k + 1] = ndx_kernels_for(isas[k]);
    const size_t on = (size_t)CH * OH * OW;
    const int runs = b->runs;
    static double tp[64], ts[64], t5[64], tk[2][NK][64];
    for (int r = -1; r < runs; r++) {   /* round -1 warms up */
        double t0 = bench_now();
        b->plain(b->out, on);
        double t1 = bench_now();
        if (b->stream) b->stream(b->out, on);
        double t2 = bench_now();
        if (b->stream512) b->stream512(b->out, on);
        if (r >= 0) {
            tp[r] = t1 - t0;
            ts[r] = t2 - t1;
            t5[r] = bench_now() - t2;
        }
        for (int si = 0; si < 2; si++)
            for (int k = 0; k < NK; k++) {
                if (k > 0 && !sets[k]) continue;
                t0 = bench_now();
                if (k == 0)
                    ndx_f32_bilinear__ref(CH, sizes[si], sizes[si], OH, OW, 0, b->in, b->out);
                else
                    sets[k]->bilinear_blend.fn(&b->plan[si], CH, b->in, b->out);
                if (r >= 0) tk[si][k][r] = bench_now() - t0;
            }
    }
    const double t_plain = bench_median(tp, runs);
    const double t_stream = b->stream ? bench_median(ts, runs) : 0.0;
    const double t_s512 = b->stream512 ? bench_median(t5, runs) : 0.0;
    double t_limit = t_stream > 0.0 && t_stream < t_plain ? t_stream : t_plain;
    if (t_s512 > 0.0 && t_s512 < t_limit) t_limit = t_s512;
    const double bytes = (double)on * sizeof(float);
    printf("Write bandwidth over %.1f MB: plain stores %.2f ms (%.1f GB/s)", bytes / 1e6,
           t_plain * 1e3, bytes / t_plain / 1e9);
    if (t_stream > 0.0)
        printf(", non-temporal stores %.2f ms (%.1f GB/s)", t_stream * 1e3,
               bytes / t_stream / 1e9);
    if (t_s512 > 0.0)
        printf(", 512-bit non-temporal stores %.2f ms (%.1f GB/s)", t_s512 * 1e3,
               bytes / t_s512 / 1e9);
    printf("; limit = %.2f ms\n\n", t_limit * 1e3);

    printf("| shape | kernel | time (ms) | GB/s written | x write limit |\n");
    printf("| --- | --- | ---: | ---: | ---: |\n");
    for (int si = 0; si < 2; si++) {
        char shape[64];
        snprintf(shape, sizeof shape, "1x%dx%dx%d -> %dx%d", CH, sizes[si], sizes[si], OH, OW);
        for (int k = 0; k < NK; k++) {
            if (k > 0 && !sets[k]) continue;
            const double m = bench_median(tk[si][k], runs);
            printf("| %s | %s | %.2f | %.2f | %.2f |\n", shape,
                   k ? sets[k]->bilinear_blend.name : "ndx_f32_bilinear__ref (unplanned)",
                   m * 1e3, bytes / m / 1e9, m / t_limit);
        }
        printf("| %s | ndx_bilinear_plan_init (once per size pair) | %.4f | | |\n", shape,
               b->tplan[si] * 1e3);
    }
}

/* 1b. Two threads: each writes half the channels (threads live around the
 * kernel, never inside it); the limit with each thread storing half. */
static void upsample_two_threads(bench *b)
{
#ifdef _OPENMP
    const ndx_kernel_table *kt = ndx_kernels();
    store_fn f = b->stream ? b->stream : b->plain;
    if (b->stream512 && !strcmp(kt->isa, "avx512")) f = b->stream512;
    static double t2s[64], t2k[2][64];
    const size_t on = (size_t)CH * OH * OW, half = on / 2;
    const double bytes = (double)on * sizeof(float);
    for (int r = -1; r < b->runs; r++) {
        double t0 = bench_now();
#pragma omp parallel num_threads(2)
        f(b->out + (size_t)omp_get_thread_num() * half, half);
        if (r >= 0) t2s[r] = bench_now() - t0;
        for (int si = 0; si < 2; si++) {
            const size_t ip = (size_t)sizes[si] * sizes[si];
            t0 = bench_now();
#pragma omp parallel num_threads(2)
            {
                const int c0 = omp_get_thread_num() * (CH / 2);
                kt->bilinear_blend.fn(&b->plan[si], CH / 2, b->in + (size_t)c0 * ip,
                                      b->out + (size_t)c0 * OH * OW);
            }
            if (r >= 0) t2k[si][r] = bench_now() - t0;
        }
    }
    const double l2 = bench_median(t2s, b->runs);
    printf("\nTwo threads (channels split in halves; limit: each thread storing half, "
           "%.2f ms, %.1f GB/s):\n\n", l2 * 1e3, bytes / l2 / 1e9);
    printf("| shape | kernel | time (ms) | GB/s written | x write limit (2 threads) |\n");
    printf("| --- | --- | ---: | ---: | ---: |\n");
    for (int si = 0; si < 2; si++) {
        const double m = bench_median(t2k[si], b->runs);
        printf("| 1x%dx%dx%d -> %dx%d | %s, 2 threads | %.2f | %.2f | %.2f |\n", CH,
               sizes[si], sizes[si], OH, OW, kt->bilinear_blend.name, m * 1e3,
               bytes / m / 1e9, m / l2);
    }
#else
    (void)b;
#endif
}

/* 2. The antialiased downscale of a 3-channel 400x400 patch to the inputs. */
static int downscale(bench *b)
{
    const int osz[2] = {227, 128};
    static double t[64];
    float *patch = ndx_alloc((size_t)3 * 400 * 400 * sizeof *patch);
    float *work = ndx_alloc(400 * sizeof *work);
    if (!patch || !work) return oom();
    for (size_t i = 0; i < (size_t)3 * 400 * 400; i++) patch[i] = uniform();
    printf("\n### Antialiased downscale (triangle filter), 3x400x400, one thread\n\n");
    printf("| to | kernel | time (ms) |\n| --- | --- | ---: |\n");
    for (int oi = 0; oi < 2; oi++) {
        const size_t bytes_plan = ndx_resize_aa_plan_size(400, 400, osz[oi], osz[oi]);
        void *pb = malloc(bytes_plan);
        if (!pb) return oom();
        ndx_resize_aa_plan rp;
        ndx_resize_aa_plan_init(&rp, 400, 400, osz[oi], osz[oi], pb);
        for (int k = 0; k < NISA; k++) {
            const ndx_kernel_table *kt = ndx_kernels_for(isas[k]);
            if (!kt) continue;
            for (int r = -1; r < b->runs; r++) {
                const double t0 = bench_now();
                kt->resize_aa.fn(&rp, 3, patch, b->out, work);
                if (r >= 0) t[r] = bench_now() - t0;
            }
            printf("| %dx%d | %s | %.3f |\n", osz[oi], osz[oi], kt->resize_aa.name,
                   bench_median(t, b->runs) * 1e3);
        }
        free(pb);
    }
    ndx_free(patch);
    ndx_free(work);
    return 0;
}

/* Sparse maps, as after ReLU; per map size T at the top 0.5% of the
 * upsampled values (Network Dissection's threshold) and select's lo at the
 * 97th percentile, from a sample. */
static void sparse_thresholds(bench *b)
{
    enum { SAMPLE = 4096 };
    static float sample[SAMPLE];
    for (size_t i = 0; i < (size_t)CH * 14 * 14; i++)
        b->sparse[i] = b->in[i] > 0.0f ? b->in[i] : 0.0f;
    for (int si = 0; si < 2; si++) {
        const int ih = sizes[si];
        size_t ns = 0;
        for (int c = 0; c < CH && ns < SAMPLE; c++) {
            ndx_f32_bilinear_blend__ref(&b->plan[si], 1, b->sparse + (size_t)c * ih * ih, b->up);
            for (int i = 0; i < 8 && ns < SAMPLE; i++)
                sample[ns++] = b->up[((size_t)c * 7919 + (size_t)i * 6271) % ((size_t)OH * OW)];
        }
        qsort(sample, ns, sizeof *sample, cmp_float);
        b->t_sparse[si] = sample[(size_t)(0.995 * (double)(ns - 1))];
        b->t_select[si] = sample[(size_t)(0.97 * (double)(ns - 1))];
    }
}

/* One row of table 3: kernel set kt, maps (dense or sparse) of size si, nm
 * masks; the fused kernel, then blend + C compare, then blend + AVX2
 * compare (v = 0, 1, 2), whose counts must agree.  Nonzero on a mismatch. */
static int fused_row(bench *b, const ndx_kernel_table *kt, int sc, int si, int nm, int have_avx2)
{
    const int ih = sizes[si], runs = b->runs;
    const ndx_bilinear_plan p = b->plan[si];
    const float thr = sc ? b->t_sparse[si] : 0.3f;
    const size_t n = (size_t)OH * OW;
    uint64_t cnt[3][2][3] = {{{0}}};   /* fused, C, AVX2 x inter, union */
    double tt[3][64];
    for (int r = 0; r <= runs; r++)   /* run 0 warms up */
        for (int v = 0; v < 3; v++) {
            if (v == 2 && !have_avx2) continue;
            const double t0 = bench_now();
            for (int c = 0; c < CH; c++) {
                const float *map = (sc ? b->sparse : b->in) + (size_t)c * ih * ih;
                if (v == 0) {
                    kt->bilinear_iou.fn(&p, map, thr, nm, b->masks, n, cnt[0][0], cnt[0][1]);
                    continue;
                }
                kt->bilinear_blend.fn(&p, 1, map, b->up);
#if defined(__x86_64__)
                if (v == 2)
                    compare_count_avx2(b->up, n, thr, nm, b->masks, n, cnt[2][0], cnt[2][1]);
                else
#endif
                    compare_count(b->up, n, thr, nm, b->masks, n, cnt[1][0], cnt[1][1]);
            }
            if (r) tt[v][r - 1] = bench_now() - t0;
        }
    for (int v = 1; v < 3; v++)
        if ((v == 1 || have_avx2) && memcmp(cnt[0], cnt[v], sizeof cnt[0])) {
            fprintf(stderr, "bench_bilinear: %s fused counts differ from "
                    "upsample-then-compare\n", kt->isa);
            return 1;
        }
    const double mf = bench_median(tt[0], runs), mc = bench_median(tt[1], runs);
    printf("| %s | %dx%d | %d | %s | %.2f | %.2f | %.1fx |", sc ? "sparse" : "dense",
           ih, ih, nm, kt->isa, mf * 1e3, mc * 1e3, mc / mf);
    if (have_avx2) {
        const double ma = bench_median(tt[2], runs);
        printf(" %.2f | %.1fx |\n", ma * 1e3, ma / mf);
    } else {
        printf(" | |\n");
    }
    return 0;
}

/* 3. The fused dissection kernel against upsample-then-compare. */
static int fused(bench *b)
{
    printf("\n### Fused dissection kernel vs upsample-then-compare "
           "(%d units, %dx%d masks)\n\n", CH, OH, OW);
    printf("Upsample-then-compare: the same set's blend of one unit into a buffer, then a "
           "compare-and-count loop in plain C, or with AVX2 (bit masks, popcount). "
           "Dense: maps uniform in [-1, 1), T = 0.3 (half the pixels near T: the worst "
           "case). Sparse: the same maps after ReLU, T = the 99.5th percentile of the "
           "upsampled values (%.3f for 7x7, %.3f for 14x14), as Network Dissection "
           "thresholds.\n\n", b->t_sparse[0], b->t_sparse[1]);
    printf("| maps | map | masks | set | fused (ms) | upsample + C compare (ms) | speed-up "
           "| upsample + AVX2 compare (ms) | speed-up |\n");
    printf("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    int have_avx2 = 0;
#if defined(__x86_64__)
    have_avx2 = ndx_kernels_for("avx2") != NULL;
#endif
    for (int sc = 0; sc < 2; sc++)
        for (int si = 0; si < 2; si++)
            for (int nm = 1; nm <= 3; nm += 2)
                for (int k = 0; k < NISA; k++) {
                    const ndx_kernel_table *kt = ndx_kernels_for(isas[k]);
                    /* the ref set only where no SIMD set runs (it is slow) */
                    if (!kt || (k == 0 && strcmp(ndx_kernels_best(), "ref"))) continue;
                    if (fused_row(b, kt, sc, si, nm, have_avx2)) return 1;
                }
    return 0;
}

/* 4. Select against the same set's blend into a buffer and a C filter. */
static int select_vs_filter(bench *b)
{
    int32_t *idx = ndx_alloc((size_t)OH * OW * sizeof *idx);
    float *val = b->out;   /* OH*OW floats of the output buffer, touched above */
    if (!idx) return oom();
    memset(idx, 0, (size_t)OH * OW * sizeof *idx);
    printf("\n### Select vs upsample-then-filter (%d sparse units, %dx%d)\n\n", CH, OH, OW);
    printf("The ReLU maps above, lo = the 97th percentile of the upsampled values (%.3f for "
           "7x7, %.3f for 14x14). Upsample-then-filter: the same set's blend of one unit into "
           "a buffer, then a filter loop in plain C.\n\n", b->t_select[0], b->t_select[1]);
    printf("| map | set | select (ms) | upsample + C filter (ms) | speed-up |\n");
    printf("| --- | --- | ---: | ---: | ---: |\n");
    for (int si = 0; si < 2; si++)
        for (int k = 0; k < NISA; k++) {
            const ndx_kernel_table *kt = ndx_kernels_for(isas[k]);
            if (!kt || (k == 0 && strcmp(ndx_kernels_best(), "ref"))) continue;
            const int ih = sizes[si];
            const float lo = b->t_select[si];
            size_t cnt[2] = {0, 0};
            double tt[2][64];
            for (int r = 0; r <= b->runs; r++)   /* run 0 warms up */
                for (int v = 0; v < 2; v++) {
                    const double t0 = bench_now();
                    for (int c = 0; c < CH; c++) {
                        const float *map = b->sparse + (size_t)c * ih * ih;
                        if (v == 0) {
                            cnt[0] += kt->bilinear_select.fn(&b->plan[si], map, lo, idx, val);
                        } else {
                            kt->bilinear_blend.fn(&b->plan[si], 1, map, b->up);
                            cnt[1] += select_filter(b->up, (size_t)OH * OW, lo, idx, val);
                        }
                    }
                    if (r) tt[v][r - 1] = bench_now() - t0;
                }
            if (cnt[0] != cnt[1]) {
                fprintf(stderr, "bench_bilinear: %s select counts differ from "
                        "upsample-then-filter\n", kt->isa);
                ndx_free(idx);
                return 1;
            }
            const double ms = bench_median(tt[0], b->runs), mb = bench_median(tt[1], b->runs);
            printf("| %dx%d | %s | %.2f | %.2f | %.1fx |\n", ih, ih, kt->isa, ms * 1e3,
                   mb * 1e3, mb / ms);
        }
    ndx_free(idx);
    return 0;
}

int main(int argc, char **argv)
{
    static bench b = {.runs = 9};
    if (argc > 1) {
        char *end;
        long v = strtol(argv[1], &end, 10);
        if (*end || v < 7 || v > 64) {
            fprintf(stderr, "usage: bench_bilinear [runs, 7..64]\n");
            return 2;
        }
        b.runs = (int)v;
    }
    if (ndx_init() != NDX_OK) {
        fprintf(stderr, "bench_bilinear: %s\n", ndx_last_error());
        return 1;
    }
    int rc = setup(&b);
    if (!rc) {
        char cpu[256];
        ndx_cpu_features(cpu, sizeof cpu);
        printf("### Bilinear upsampling (one thread, median of %d runs)\n\n", b.runs);
        printf("CPU: %s; default kernel set: %s\n\n", cpu, ndx_kernel_set());
        upsample_one_thread(&b);
        upsample_two_threads(&b);
        rc = downscale(&b);
    }
    if (!rc) {
        sparse_thresholds(&b);
        rc = fused(&b);
    }
    if (!rc) rc = select_vs_filter(&b);
    ndx_free(b.out);
    ndx_free(b.in);
    ndx_free(b.sparse);
    ndx_free(b.masks);
    ndx_free(b.up);
    return rc;
}
