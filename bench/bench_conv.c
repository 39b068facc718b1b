/* conv2d forward benchmark: the four layers of the issue, batch 1 and 8,
 * 1 and 2 threads, median of several runs; prints markdown rows
 *   | layer | batch | threads | ms | GFLOP/s | path | im2col ms | winograd ms |
 *   | winograd / im2col speed-up | max err |
 * where ms is the default (auto) choice, path the algorithm it takes, and
 * the im2col and Winograd times force each path (the three interleaved).
 * max err: max |y_winograd - y_im2col| / (sum |w| |x| + |bias|) over the
 * outputs, before ReLU's clipping matters (both with ReLU).  GFLOP/s counts
 * the direct convolution's 2*K*C*9 flops per output.  Workspace and outputs
 * are allocated once (the larger of both paths' needs) and touched before
 * timing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench_util.h"
#include "netdx.h"
#include "../src/core/core.h"

typedef struct { const char *name; int c, h, k; } layer;

/* Median times of the auto choice, im2col and Winograd into t[3], the
 * three interleaved run by run so that a shared machine's noise hits them
 * alike. */
static void time_conv(const ndx_conv2d_desc *d, const float *x, const float *w,
                      const float *b, float *y, float *ws, int reps, double t[3])
{
    const ndx__conv_algo algo[3] = {NDX__CONV_AUTO, NDX__CONV_IM2COL, NDX__CONV_WINOGRAD};
    double s[3][21];
    for (int r = -2; r < reps; r++)
        for (int a = 0; a < 3; a++) {
            ndx__conv_set_algo(algo[a]);
            double t0 = bench_now();
            ndx_conv2d_forward(d, x, w, b, y, ws);
            if (r >= 0) s[a][r] = bench_now() - t0;
        }
    ndx__conv_set_algo(NDX__CONV_AUTO);
    for (int a = 0; a < 3; a++) t[a] = bench_median(s[a], reps);
}

int main(void)
{
    if (ndx_init() != NDX_OK) {
        fprintf(stderr, "bench_conv: %s\n", ndx_last_error());
        return 1;
    }
    const layer layers[] = {{"VGG-16 conv5_3 (512, 14×14)", 512, 14, 512},
                            {"AlexNet conv5 (256, 13×13)", 256, 13, 256},
                            {"ResNet layer4 3×3 (512, 7×7)", 512, 7, 512},
                            {"3×3 64ch 56×56", 64, 56, 64}};
    for (size_t li = 0; li < sizeof layers / sizeof *layers; li++) {
        const layer *L = &layers[li];
        for (int batch = 1; batch <= 8; batch += 7) {
            ndx_conv2d_desc d = {batch, L->c, L->h, L->h, L->k, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
            size_t nx = (size_t)batch * L->c * L->h * L->h, nw = (size_t)L->k * L->c * 9;
            size_t ny = (size_t)batch * L->k * L->h * L->h;
            ndx__conv_set_algo(NDX__CONV_WINOGRAD);
            size_t nws = ndx_conv2d_workspace(&d);
            ndx__conv_set_algo(NDX__CONV_IM2COL);
            if (ndx_conv2d_workspace(&d) > nws) nws = ndx_conv2d_workspace(&d);
            ndx__conv_set_algo(NDX__CONV_AUTO);
            const char *path = ndx_conv2d_algo(&d);
            float *x = ndx_alloc(nx * 4), *w = ndx_alloc(nw * 4), *b = ndx_alloc(L->k * 4);
            float *y = ndx_alloc(ny * 4), *y2 = ndx_alloc(ny * 4), *ws = ndx_alloc(nws * 4);
            float *ax = ndx_alloc(nx * 4), *aw = ndx_alloc(nw * 4), *mag = ndx_alloc(ny * 4);
            if (!x || !w || !b || !y || !y2 || !ws || !ax || !aw || !mag) {
                fprintf(stderr, "bench_conv: out of memory\n");
                return 1;
            }
            for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 17) / 17 - 0.5f;
            for (size_t i = 0; i < nw; i++) w[i] = (float)(i % 13) / 130 - 0.05f;
            for (int i = 0; i < L->k; i++) b[i] = 0.01f * i;
            memset(y, 0, ny * 4);
            memset(ws, 0, nws * 4);
            /* error of Winograd against im2col, relative to sum |w||x| + |b| */
            for (size_t i = 0; i < nx; i++) ax[i] = fabsf(x[i]);
            for (size_t i = 0; i < nw; i++) aw[i] = fabsf(w[i]);
            ndx__conv_set_algo(NDX__CONV_IM2COL);
            ndx_conv2d_forward(&d, ax, aw, b, mag, ws);
            ndx_conv2d_forward(&d, x, w, b, y, ws);
            ndx__conv_set_algo(NDX__CONV_WINOGRAD);
            ndx_conv2d_forward(&d, x, w, b, y2, ws);
            double err = 0;
            for (size_t i = 0; i < ny; i++) {
                double e = fabs((double)y2[i] - y[i]) / mag[i];
                if (e > err) err = e;
            }
            double flop = 2.0 * ny * L->c * 9;
            for (int th = 1; th <= 2; th++) {
                ndx_set_threads(th);
                const int reps = flop > 2e9 ? 9 : 21;
                double t[3];
                time_conv(&d, x, w, b, y, ws, reps, t);
                const double t_auto = t[0], t_im = t[1], t_wi = t[2];
                printf("| %s | %d | %d | %.3f | %.1f | %s | %.3f | %.3f | %.2f× | %.1e |\n",
                       L->name, batch, th, t_auto * 1e3, flop / t_auto / 1e9, path,
                       t_im * 1e3, t_wi * 1e3, t_im / t_wi, err);
                fflush(stdout);
            }
            ndx_free(x); ndx_free(w); ndx_free(b); ndx_free(y); ndx_free(y2); ndx_free(ws);
            ndx_free(ax); ndx_free(aw); ndx_free(mag);
        }
    }
    return 0;
}
