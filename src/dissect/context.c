/* Context image of a unit: the whole image holding its top patch, area-
 * downscaled (never upscaled) to at most max_h rows, 8-bit RGB, with the
 * patch's box drawn in red, 2 px wide, inside the box's scaled bounds. */
#include <math.h>
#include <stdlib.h>

#include "dissect.h"
#include "../io/io.h"

ndx_status ndx__dissect_context(const char *image, const int box[4], int max_h, const char *path)
{
    ndx_image img = {0};
    ndx_status st = ndx_png_read(image, 0, &img, NULL, 0);
    if (st) return st;
    const int x0 = box[0], y0 = box[1], bw = box[2], bh = box[3];
    if (bw < 1 || bh < 1 || x0 < 0 || y0 < 0 || x0 > img.w - bw || y0 > img.h - bh) {
        st = ndx__fail(NDX_ERR_INVALID, "%s: box (%d, %d, %d, %d) outside the %dx%d image", image,
                       x0, y0, bw, bh, img.w, img.h);
        ndx_image_free(&img);
        return st;
    }
    const int iw = img.w, ih = img.h;
    const double s = img.h > max_h ? (double)max_h / img.h : 1.0;
    int oh = (int)lround(img.h * s), ow = (int)lround(img.w * s);
    oh = oh < 1 ? 1 : oh > img.h ? img.h : oh;
    ow = ow < 1 ? 1 : ow > img.w ? img.w : ow;
    const size_t n = (size_t)oh * ow;
    float *g = malloc(n * sizeof *g);
    uint8_t *rgb = malloc(n * 3);
    if (!g || !rgb) {
        free(g), free(rgb), ndx_image_free(&img);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for a %dx%d context image", path, ow, oh);
    }
    ndx_resize_area_u16(img.px, img.w, 0, 0, img.w, img.h, img.maxval, oh, ow, g);
    ndx_image_free(&img);
    for (size_t i = 0; i < n; i++) {
        float v = g[i];
        v = v > 0 ? (v < 1 ? v : 1) : 0;   /* NaN -> 0 */
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)lrintf(v * 255.0f);
    }
    /* the box in output pixels: every output pixel it overlaps */
    const double sx = (double)ow / iw, sy = (double)oh / ih;
    int bx0 = (int)floor(x0 * sx), by0 = (int)floor(y0 * sy);
    int bx1 = (int)ceil((x0 + bw) * sx) - 1, by1 = (int)ceil((y0 + bh) * sy) - 1;
    bx1 = bx1 < bx0 ? bx0 : bx1 >= ow ? ow - 1 : bx1;
    by1 = by1 < by0 ? by0 : by1 >= oh ? oh - 1 : by1;
    for (int y = by0; y <= by1; y++)
        for (int x = bx0; x <= bx1; x++) {
            if (x > bx0 + 1 && x < bx1 - 1 && y > by0 + 1 && y < by1 - 1) continue;
            uint8_t *o = rgb + ((size_t)y * ow + x) * 3;
            o[0] = 255;
            o[1] = 0;
            o[2] = 0;
        }
    free(g);
    st = ndx_png_write8(path, rgb, ow, oh, 3);
    free(rgb);
    return st;
}
