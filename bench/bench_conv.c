/* conv2d forward benchmark: the four layers of the issue, batch 1 and 8,
 * 1 and 2 threads, median of several runs; prints markdown rows
 *   | layer | batch | threads | ms | GFLOP/s |
 * (workspace and outputs allocated once and touched before timing). */
#include <stdio.h>
#include <string.h>

#include "bench_util.h"
#include "netdx.h"

typedef struct { const char *name; int c, h, k; } layer;

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
            size_t ny = (size_t)batch * L->k * L->h * L->h, nws = ndx_conv2d_workspace(&d);
            float *x = ndx_alloc(nx * 4), *w = ndx_alloc(nw * 4), *b = ndx_alloc(L->k * 4);
            float *y = ndx_alloc(ny * 4), *ws = ndx_alloc(nws * 4);
            for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 17) / 17 - 0.5f;
            for (size_t i = 0; i < nw; i++) w[i] = (float)(i % 13) / 130 - 0.05f;
            for (int i = 0; i < L->k; i++) b[i] = 0.01f * i;
            memset(y, 0, ny * 4);
            memset(ws, 0, nws * 4);
            double flop = 2.0 * ny * L->c * 9;
            for (int th = 1; th <= 2; th++) {
                ndx_set_threads(th);
                double t[15];
                int reps = flop * 1 > 2e9 ? 7 : 15;
                for (int r = -2; r < reps; r++) {
                    double t0 = bench_now();
                    ndx_conv2d_forward(&d, x, w, b, y, ws);
                    if (r >= 0) t[r] = bench_now() - t0;
                }
                double med = bench_median(t, reps);
                printf("| %s | %d | %d | %.3f | %.1f |\n", L->name, batch, th, med * 1e3,
                       flop / med / 1e9);
            }
            ndx_free(x); ndx_free(w); ndx_free(b); ndx_free(y); ndx_free(ws);
        }
    }
    return 0;
}
