/* Context image of a unit: the whole image holding its top patch, area-
 * downscaled (never upscaled) to at most max_h rows, 8-bit RGB, with the
 * patch's box drawn in red, 2 px wide, inside the box's scaled bounds. */
#include <math.h>
#include <stdlib.h>

#include "dissect.h"
#include "../io/io.h"
#include "../render/tile.h"

ndx_status ndx__dissect_context(const char *image, const int box[4], int max_h, const char *path)
{
    ndx_image img = {0};
    ndx_status st = ndx_image_read(image, 0, &img, NULL);
    if (st) return st;
    uint8_t *gray = NULL;
    int ow, oh;
    if (!(st = ndx__context_small(&img, max_h, 0, 1, &gray, &ow, &oh)))
        st = ndx__context_box(gray, ow, oh, &img, image, box, 2, path);
    free(gray);
    ndx_image_free(&img);
    return st;
}

ndx_status ndx__context_small(const ndx_image *img, int max_h, float lo, float hi, uint8_t **gray,
                              int *ow_out, int *oh_out)
{
    const double s = img->h > max_h ? (double)max_h / img->h : 1.0;
    int oh = (int)lround(img->h * s), ow = (int)lround(img->w * s);
    oh = oh < 1 ? 1 : oh > img->h ? img->h : oh;
    ow = ow < 1 ? 1 : ow > img->w ? img->w : ow;
    const size_t n = (size_t)oh * ow;
    float *g = malloc(n * sizeof *g);
    *gray = malloc(n);
    if (!g || !*gray) {
        free(g), free(*gray), *gray = NULL;
        return ndx__fail(NDX_ERR_NOMEM, "out of memory for a %dx%d context image", ow, oh);
    }
    ndx_resize_area_u16(img->px, img->w, 0, 0, img->w, img->h, img->maxval, oh, ow, g);
    for (size_t i = 0; i < n; i++) (*gray)[i] = ndx__tile_windowed(g[i], lo, hi);
    free(g);
    *ow_out = ow, *oh_out = oh;
    return NDX_OK;
}

ndx_status ndx__context_box(const uint8_t *gray, int ow, int oh, const ndx_image *img, const char *image,
                            const int box[4], int thick, const char *path)
{
    const int x0 = box[0], y0 = box[1], bw = box[2], bh = box[3];
    if (bw < 1 || bh < 1 || x0 < 0 || y0 < 0 || x0 > img->w - bw || y0 > img->h - bh)
        return ndx__fail(NDX_ERR_INVALID, "%s: box (%d, %d, %d, %d) outside the %dx%d image", image,
                         x0, y0, bw, bh, img->w, img->h);
    const size_t n = (size_t)oh * ow;
    uint8_t *rgb = malloc(n * 3);
    if (!rgb) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for a %dx%d context image", path, ow, oh);
    for (size_t i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
    /* the box in output pixels: every output pixel it overlaps */
    const double sx = (double)ow / img->w, sy = (double)oh / img->h;
    int bx0 = (int)floor(x0 * sx), by0 = (int)floor(y0 * sy);
    int bx1 = (int)ceil((x0 + bw) * sx) - 1, by1 = (int)ceil((y0 + bh) * sy) - 1;
    bx1 = bx1 < bx0 ? bx0 : bx1 >= ow ? ow - 1 : bx1;
    by1 = by1 < by0 ? by0 : by1 >= oh ? oh - 1 : by1;
    for (int y = by0; y <= by1; y++)
        for (int x = bx0; x <= bx1; x++) {
            if (x >= bx0 + thick && x <= bx1 - thick && y >= by0 + thick && y <= by1 - thick) continue;
            uint8_t *o = rgb + ((size_t)y * ow + x) * 3;
            o[0] = 255;
            o[1] = 0;
            o[2] = 0;
        }
    ndx_status st = ndx_png_write8(path, rgb, ow, oh, 3);
    free(rgb);
    return st;
}
