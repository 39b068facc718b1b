/* Channel-blocked direct convolution (NCHW16c) against netdx's im2col /
 * Winograd + GEMM, on layers of the paper networks, one thread, AVX-512:
 * the measurement issue 20 asks for before adopting that layout.
 *
 *   bench_nchwc [rounds]     (default 7; medians of interleaved rounds)
 *
 * Layout, as ONNX Runtime's NCHWc and oneDNN's nChw16c: x [C/16][H+2PH]
 * [W+2PW][16] (padded: a network-wide blocked layout would have each
 * producer write into its consumer's padded buffer), y [K/16][OH][OW][16],
 * w [K/32][C/16][KH][KW][16 ic][32 oc].  Kernel: a register tile of R <= 14
 * output pixels along a row x 32 output channels (28 zmm accumulators);
 * per input channel and tap two weight loads, R broadcasts, 2R FMAs; bias
 * and ReLU at the store.  No packing and no im2col: the blocked layout is
 * the packing.  The rows: netdx's default path with its weights as an
 * inference plan keeps them (Winograd with the transformed weights cached,
 * or im2col + GEMM with the weights prepacked), im2col forced (prepacked),
 * the direct kernel, and the
 * cost of converting the input NCHW -> NCHW16c (padded) and the output
 * back, which a network-wide layout pays only at its edges.  The direct
 * output is checked against netdx's (max |diff| / max |y|).  Needs an
 * AVX-512 CPU; prints markdown. */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "netdx.h"
#include "../src/core/core.h"

typedef struct { const char *name; int c, h, w, k, kh, kw, ph, pw; } layer;

typedef struct {
    int C, K, HP, WP, KH, KW, OH, OW;
} geom;

#define T512 __attribute__((target("avx512f")))

/* R output pixels (row oy, columns ox..ox+R-1) x 32 output channels (pair
 * ob2 of output blocks): the sum over all input blocks and taps. */
static inline __attribute__((always_inline)) T512 void
tile(int R, const geom *g, const float *restrict x, const float *restrict w,
     const float *restrict bias, float *restrict y, int ob2, int oy, int ox)
{
    __m512 acc[14][2];
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
        acc[r][0] = _mm512_loadu_ps(bias + ob2 * 32);
        acc[r][1] = _mm512_loadu_ps(bias + ob2 * 32 + 16);
    }
    const int CB = g->C / 16;
    const float *wb = w + (size_t)ob2 * CB * g->KH * g->KW * 512;
    for (int ib = 0; ib < CB; ib++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                const float *xp = x + (((size_t)ib * g->HP + oy + kh) * g->WP + ox + kw) * 16;
                for (int ic = 0; ic < 16; ic++, wb += 32) {
                    const __m512 w0 = _mm512_loadu_ps(wb), w1 = _mm512_loadu_ps(wb + 16);
#pragma GCC unroll 14
                    for (int r = 0; r < R; r++) {
                        const __m512 xv = _mm512_set1_ps(xp[r * 16 + ic]);
                        acc[r][0] = _mm512_fmadd_ps(xv, w0, acc[r][0]);
                        acc[r][1] = _mm512_fmadd_ps(xv, w1, acc[r][1]);
                    }
                }
            }
    const __m512 z = _mm512_setzero_ps();
    float *y0 = y + (((size_t)(2 * ob2) * g->OH + oy) * g->OW + ox) * 16;
    float *y1 = y0 + (size_t)g->OH * g->OW * 16;
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(y0 + r * 16, _mm512_max_ps(acc[r][0], z));
        _mm512_storeu_ps(y1 + r * 16, _mm512_max_ps(acc[r][1], z));
    }
}

#define TILE_CASE(R) \
    case R: tile(R, g, x, w, bias, y, ob2, oy, ox); break;

static T512 void direct(const geom *g, const float *x, const float *w, const float *bias,
                        float *y)
{
    const int tiles = (g->OW + 13) / 14, per = (g->OW + tiles - 1) / tiles;
    for (int ob2 = 0; ob2 < g->K / 32; ob2++)
        for (int oy = 0; oy < g->OH; oy++)
            for (int ox = 0; ox < g->OW; ox += per) {
                const int R = g->OW - ox < per ? g->OW - ox : per;
                switch (R) {
                TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5)
                TILE_CASE(6) TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10)
                TILE_CASE(11) TILE_CASE(12) TILE_CASE(13) TILE_CASE(14)
                }
            }
}

/* NCHW x (C, H, W) -> padded NCHW16c xb. */
static void to_blocked(const layer *l, const geom *g, const float *x, float *xb)
{
    memset(xb, 0, sizeof(float) * (size_t)g->C * g->HP * g->WP);
    for (int c = 0; c < l->c; c++)
        for (int i = 0; i < l->h; i++)
            for (int j = 0; j < l->w; j++)
                xb[(((size_t)(c / 16) * g->HP + i + l->ph) * g->WP + j + l->pw) * 16 + c % 16] =
                    x[((size_t)c * l->h + i) * l->w + j];
}

/* NCHW16c yb -> NCHW y (K, OH, OW). */
static void from_blocked(const geom *g, const float *yb, float *y)
{
    for (int k = 0; k < g->K; k++)
        for (int p = 0; p < g->OH * g->OW; p++)
            y[(size_t)k * g->OH * g->OW + p] = yb[((size_t)(k / 16) * g->OH * g->OW + p) * 16 + k % 16];
}

static void run(const layer *l, int rounds)
{
    const geom g = {l->c, l->k, l->h + 2 * l->ph, l->w + 2 * l->pw, l->kh, l->kw,
                    l->h + 2 * l->ph - l->kh + 1, l->w + 2 * l->pw - l->kw + 1};
    ndx_conv2d_desc d = {1, l->c, l->h, l->w, l->k, l->kh, l->kw, 1, 1, l->ph, l->pw, 1, 1, 1, 1};
    const size_t xn = (size_t)l->c * l->h * l->w, wn = (size_t)l->k * l->c * l->kh * l->kw;
    const size_t yn = (size_t)l->k * g.OH * g.OW, xbn = (size_t)g.C * g.HP * g.WP;
    size_t wsn = ndx_conv2d_workspace(&d);
    ndx__conv_set_algo(NDX__CONV_IM2COL);
    if (ndx_conv2d_workspace(&d) > wsn) wsn = ndx_conv2d_workspace(&d);
    ndx__conv_set_algo(NDX__CONV_AUTO);
    float *x = ndx_alloc(xn * 4), *w = ndx_alloc(wn * 4), *b = ndx_alloc((size_t)l->k * 4);
    float *y = ndx_alloc(yn * 4), *yd = ndx_alloc(yn * 4), *ws = ndx_alloc((wsn + 1) * 4);
    float *xb = ndx_alloc(xbn * 4), *wb = ndx_alloc(wn * 4), *yb = ndx_alloc(yn * 4);
    ndx_rng r;
    ndx_rng_seed(&r, 3);
    for (size_t i = 0; i < xn; i++) x[i] = (float)ndx_rng_normal(&r);
    for (size_t i = 0; i < wn; i++) w[i] = (float)ndx_rng_normal(&r) * 0.05f;
    for (int i = 0; i < l->k; i++) b[i] = (float)ndx_rng_normal(&r) * 0.1f;
    /* w (K, C, KH, KW) -> [K/32][C/16][KH][KW][16 ic][32 oc] */
    for (int k = 0; k < l->k; k++)
        for (int c = 0; c < l->c; c++)
            for (int i = 0; i < l->kh; i++)
                for (int j = 0; j < l->kw; j++)
                    wb[((((size_t)(k / 32) * (l->c / 16) + c / 16) * l->kh + i) * l->kw + j) * 512 +
                       (c % 16) * 32 + k % 32] = w[(((size_t)k * l->c + c) * l->kh + i) * l->kw + j];
    d.relu = 1;
    /* netdx's weights as an inference plan keeps them: transformed for
     * Winograd (ws holds U and a scratch), packed for the GEMM */
    const int wino = ndx__conv_uses_winograd(&d);
    float *u = wino ? ndx_alloc((16 * (size_t)l->k * l->c + 1) * 4) : NULL;
    float *wp = ndx_alloc(wn * 4);
    if (wino) ndx__winograd_weights(&d, w, u, ws);
    ndx__sgemm_prepack(l->k, (int)(wn / (size_t)l->k), w, wp);
    double t[5][32];
    for (int rd = -1; rd < rounds; rd++) {
        double t0 = bench_now();
        if (wino) ndx__conv2d_forward_u(&d, x, w, 0, u, b, y, ws);
        else ndx__conv2d_forward_u(&d, x, wp, 1, NULL, b, y, ws);
        double t1 = bench_now();
        ndx__conv_set_algo(NDX__CONV_IM2COL);
        ndx__conv2d_forward_u(&d, x, wp, 1, NULL, b, y, ws);
        ndx__conv_set_algo(NDX__CONV_AUTO);
        double t2 = bench_now();
        to_blocked(l, &g, x, xb);
        double t3 = bench_now();
        direct(&g, xb, wb, b, yb);
        double t4 = bench_now();
        from_blocked(&g, yb, yd);
        double t5 = bench_now();
        if (rd < 0) continue;
        t[0][rd] = t1 - t0, t[1][rd] = t2 - t1, t[2][rd] = t4 - t3;
        t[3][rd] = t3 - t2, t[4][rd] = t5 - t4;
    }
    double err = 0, mag = 0;
    for (size_t i = 0; i < yn; i++) {
        err = fmax(err, fabs(yd[i] - y[i]));
        mag = fmax(mag, fabs(y[i]));
    }
    double ms[5];
    for (int i = 0; i < 5; i++) ms[i] = bench_median(t[i], rounds) * 1e3;
    const double gf = 2.0 * l->k * l->c * l->kh * l->kw * g.OH * g.OW * 1e-9;
    printf("| %s | %.3f (%s) | %.1f | %.3f | %.1f | %.3f | %.1f | %.2f× | %.2f× | %.3f + %.3f | %.1e |\n",
           l->name, ms[0], ndx_conv2d_algo(&d), gf / ms[0] * 1e3, ms[1], gf / ms[1] * 1e3, ms[2],
           gf / ms[2] * 1e3, ms[0] / ms[2], ms[1] / ms[2], ms[3], ms[4], err / (mag > 0 ? mag : 1));
    ndx_free(x); ndx_free(w); ndx_free(b); ndx_free(y); ndx_free(yd); ndx_free(ws);
    ndx_free(xb); ndx_free(wb); ndx_free(yb); ndx_free(u); ndx_free(wp);
}

int main(int argc, char **argv)
{
    const int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 3 || rounds > 31) {
        fprintf(stderr, "usage: bench_nchwc [rounds 3-31]\n");
        return 2;
    }
    if (ndx_init() || !__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "bench_nchwc: needs netdx and an AVX-512 CPU\n");
        return 1;
    }
    ndx_set_threads(1);
    static const layer layers[] = {
        {"resnet152 1x1 1024->256, 14x14", 1024, 14, 14, 256, 1, 1, 0, 0},
        {"resnet152 1x1 256->1024, 14x14", 256, 14, 14, 1024, 1, 1, 0, 0},
        {"resnet152 3x3 256->256, 14x14", 256, 14, 14, 256, 3, 3, 1, 1},
        {"inception 1x7 192->192, 17x17", 192, 17, 17, 192, 1, 7, 0, 3},
        {"resnet152 1x1 2048->512, 7x7", 2048, 7, 7, 512, 1, 1, 0, 0},
        {"resnet152 1x1 64->256, 56x56", 64, 56, 56, 256, 1, 1, 0, 0},
    };
    printf("netdx %s, kernels %s, one thread, batch 1, medians of %d interleaved rounds%s.\n\n",
           ndx_version(), ndx_kernel_set(), rounds,
           getenv("BENCH_CLOCK") ? " (CPU time)" : "");
    printf("| layer | netdx default ms (path) | GFLOP/s | netdx im2col ms | GFLOP/s | "
           "NCHW16c direct ms | GFLOP/s | default / direct | im2col / direct | "
           "to / from NCHW16c ms | max err |\n"
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
        run(&layers[i], rounds);
        fflush(stdout);
    }
    return 0;
}
