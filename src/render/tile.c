/* The display tiles of a patch (tile.h): window, cut, highlight region,
 * outline. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tile.h"
#include "../core/core.h"
#include "../../kernels/kernels.h"

void ndx__tile_window(const ndx_image *img, float *lo, float *hi)
{
    enum { BINS = 4096 };
    uint64_t *hist = calloc(BINS, sizeof *hist), n = 0;
    *lo = 0, *hi = 1;
    if (!hist) return;
    const int floor_v = img->maxval / 50;
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        const int v = img->px[i];
        if (v <= floor_v) continue;
        hist[(int64_t)v * (BINS - 1) / img->maxval]++;
        n++;
    }
    uint64_t acc = 0;
    const uint64_t a = n / 200, b = n - n / 200;
    int ilo = -1, ihi = BINS - 1;
    for (int k = 0; n >= 100 && k < BINS; k++) {
        acc += hist[k];
        if (ilo < 0 && acc > a) ilo = k;
        if (acc >= b) {
            ihi = k;
            break;
        }
    }
    free(hist);
    if (n < 100) return;
    *lo = (float)ilo / (BINS - 1);
    *hi = (float)(ihi + 1) / (BINS - 1);
    if (*hi - *lo < 0.01f) *lo = 0, *hi = 1;
}

uint8_t ndx__tile_windowed(float v, float lo, float hi)
{
    float g = (v - lo) / (hi - lo);
    g = g > 0 ? (g < 1 ? g : 1) : 0;   /* NaN -> 0 */
    return (uint8_t)lrintf(g * 255.0f);
}

int ndx__tile_size(int w, int h)
{
    const int side = w > h ? w : h;
    return side < NDX__TILE_MIN ? NDX__TILE_MIN : side > NDX__TILE_MAX ? NDX__TILE_MAX : side;
}

ndx_status ndx__tile_cut(const ndx_image *img, const char *name, const int box[4], int S,
                         float lo, float hi, float *work, uint8_t *px)
{
    const int x = box[0], y = box[1], w = box[2], h = box[3];
    if (x < 0 || y < 0 || w < 1 || h < 1 || x > img->w - w || y > img->h - h)
        return ndx__fail(NDX_ERR_FORMAT, "%s: the box (%d, %d, %d, %d) lies outside the %dx%d image",
                         name, x, y, w, h, img->w, img->h);
    ndx_resize_area_u16(img->px, img->w, x, y, w, h, img->maxval, S, S, work);
    for (size_t q = 0; q < (size_t)S * S; q++) px[q] = ndx__tile_windowed(work[q], lo, hi);
    return NDX_OK;
}

ndx_status ndx__tile_region(const float *map, int h, int w, int align_corners, float scale,
                            float cut, int S, float *up, uint8_t *in)
{
    void *plan_buf = malloc(ndx_bilinear_plan_size(S, S));
    if (!plan_buf) return ndx__fail(NDX_ERR_NOMEM, "out of memory for a %d px highlight", S);
    ndx_bilinear_plan plan;
    ndx_bilinear_plan_init(&plan, h, w, S, S, align_corners, plan_buf);
    ndx_kernels()->bilinear_blend.fn(&plan, 1, map, up);
    for (size_t q = 0; q < (size_t)S * S; q++) in[q] = up[q] * scale >= cut;
    free(plan_buf);
    return NDX_OK;
}

void ndx__tile_outline(const uint8_t *in, int S, uint8_t *edge)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            const size_t q = (size_t)y * S + x;
            int e = 0;
            for (int dy = -1; dy <= 1 && in[q] && !e; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const int yy = y + dy, xx = x + dx;
                    if (yy < 0 || xx < 0 || yy >= S || xx >= S || !in[(size_t)yy * S + xx]) e = 1;
                }
            edge[q] = (uint8_t)e;
        }
}
