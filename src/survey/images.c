/* The survey's images, made by `netdx survey init` and kept in the store as
 * PNG blobs (encoded in memory with stb_image_write):
 *   mammogram  each source image once, area-downscaled to at most 800 rows,
 *              8-bit gray, windowed;
 *   tile       each patch cut from its source image, S x S with S its box
 *              side clamped to 192..320 px (area filter), 8-bit gray,
 *              windowed like its mammogram;
 *   outline    the patch's true lesion outline (all lesion kinds), RGBA,
 *              2 px, transparent elsewhere; none when the patch has no lesion;
 *   highlight  per unit and patch: the unit's map bilinearly upsampled to
 *              S x S (the dissection's kernel and align_corners), divided by
 *              the unit's top-1 score; gray+alpha, black at alpha 0.8 where
 *              that is < 0.2 (the study's x0.2 dimming), transparent elsewhere.
 * Window: the 0.5th and 99.5th percentiles of the breast's pixels (those
 * above 2% of full scale) of the source image. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop
/* stb declares every writer static; only the PNG one is used */
#pragma GCC diagnostic ignored "-Wunused-function"

#include "survey.h"
#include "../core/core.h"
#include "../data/data.h"
#include "../../kernels/kernels.h"

#define TILE_MIN 192
#define TILE_MAX 320
#define MAMMO_MAX_H 800

typedef struct mammo {
    int64_t id;            /* 0 until made */
    float lo, hi;          /* window, fractions of full scale */
    double sx, sy;         /* source pixel -> mammogram PNG pixel */
} mammo;

struct ndx__survey_imgs {
    ndx__survey_db *db;
    const ndx_patch_index *ix;
    ndx_patch_cache *cache;
    mammo *mammos;         /* per source image */
    int64_t *tiles, *outlines;   /* per patch: image ids, 0 = not made, -1 = no outline */
    float *px, *up, *masks;
    uint8_t *buf;
    void *plan;
    long images;
    int64_t bytes;
};

/* ---- PNG in memory -------------------------------------------------------------- */
typedef struct membuf {
    unsigned char *p;
    size_t n, cap;
    int failed;
} membuf;

static void mem_sink(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    if (m->failed || size <= 0) return;
    if (m->n + (size_t)size > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 65536;
        while (cap < m->n + (size_t)size) cap *= 2;
        unsigned char *p = realloc(m->p, cap);
        if (!p) {
            m->failed = 1;
            return;
        }
        m->p = p, m->cap = cap;
    }
    memcpy(m->p + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

/* Encodes and stores one image; *id gets its id. */
static ndx_status store_png(ndx__survey_imgs *im, const char *kind, const uint8_t *px, int w, int h, int comp,
                            int64_t *id)
{
    membuf m = {0};
    const int ok = stbi_write_png_to_func(mem_sink, &m, w, h, comp, px, w * comp);
    ndx_status s;
    if (!ok || m.failed) s = ndx__fail(NDX_ERR_NOMEM, "survey: encoding a %dx%d %s PNG failed", w, h, kind);
    else s = ndx__survey_image_add(im->db, kind, m.p, m.n, w, h, id);
    if (!s) im->images++, im->bytes += (int64_t)m.n;
    free(m.p);
    return s;
}

/* ---- set-up ------------------------------------------------------------------------ */
ndx_status ndx__survey_imgs_new(ndx__survey_imgs **out, ndx__survey_db *db, const ndx_patch_index *ix)
{
    *out = NULL;
    ndx__survey_imgs *im = calloc(1, sizeof *im);
    const size_t S2 = (size_t)TILE_MAX * TILE_MAX;
    if (im) {
        im->db = db, im->ix = ix;
        im->cache = ndx_patch_cache_new((size_t)256 << 20);
        im->mammos = calloc(ix->nimages ? ix->nimages : 1, sizeof *im->mammos);
        im->tiles = calloc(ix->n ? ix->n : 1, sizeof *im->tiles);
        im->outlines = calloc(ix->n ? ix->n : 1, sizeof *im->outlines);
        im->px = malloc(S2 * sizeof *im->px);
        im->up = malloc(S2 * sizeof *im->up);
        im->masks = malloc(S2 * 2 * NDX_LESION_KINDS * sizeof *im->masks);
        im->buf = malloc(S2 * 4);
        im->plan = malloc(ndx_bilinear_plan_size(TILE_MAX, TILE_MAX));
    }
    if (!im || !im->cache || !im->mammos || !im->tiles || !im->outlines || !im->px || !im->up || !im->masks ||
        !im->buf || !im->plan) {
        ndx__survey_imgs_free(im);
        return ndx__fail(NDX_ERR_NOMEM, "survey: out of memory for the image workspace");
    }
    *out = im;
    return NDX_OK;
}

void ndx__survey_imgs_free(ndx__survey_imgs *im)
{
    if (!im) return;
    if (im->cache) ndx_patch_cache_free(im->cache);
    free(im->mammos), free(im->tiles), free(im->outlines);
    free(im->px), free(im->up), free(im->masks), free(im->buf), free(im->plan);
    free(im);
}

void ndx__survey_imgs_stats(const ndx__survey_imgs *im, long *images, int64_t *bytes)
{
    *images = im->images, *bytes = im->bytes;
}

/* ---- mammograms -------------------------------------------------------------------- */
/* The 0.5th and 99.5th percentile of the pixels above 2% of full scale. */
static void breast_window(const ndx_image *img, float *lo, float *hi)
{
    const int bins = 4096;
    uint64_t hist[4096] = {0}, n = 0;
    const int floor_v = img->maxval / 50;
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        const int v = img->px[i];
        if (v <= floor_v) continue;
        hist[(int64_t)v * (bins - 1) / img->maxval]++;
        n++;
    }
    *lo = 0, *hi = 1;
    if (n < 100) return;
    uint64_t acc = 0;
    const uint64_t a = n / 200, b = n - n / 200;
    int ilo = -1, ihi = bins - 1;
    for (int k = 0; k < bins; k++) {
        acc += hist[k];
        if (ilo < 0 && acc > a) ilo = k;
        if (acc >= b) {
            ihi = k;
            break;
        }
    }
    *lo = (float)ilo / (bins - 1);
    *hi = (float)(ihi + 1) / (bins - 1);
    if (*hi - *lo < 0.01f) *lo = 0, *hi = 1;
}

static uint8_t windowed(float v, float lo, float hi)
{
    float g = (v - lo) / (hi - lo);
    g = g > 0 ? (g < 1 ? g : 1) : 0;   /* NaN -> 0 */
    return (uint8_t)lrintf(g * 255.0f);
}

static ndx_status make_mammo(ndx__survey_imgs *im, int k)
{
    mammo *m = &im->mammos[k];
    char path[1100];
    if (!ndx__join(path, sizeof path, im->ix->dir, im->ix->images[k].path))
        return ndx__fail(NDX_ERR_INVALID, "%s: path too long", im->ix->images[k].path);
    ndx_image img = {0};
    ndx_status s = ndx_png_read(path, 0, &img, NULL, 0);
    if (s) return s;
    breast_window(&img, &m->lo, &m->hi);
    const double f = img.h > MAMMO_MAX_H ? (double)MAMMO_MAX_H / img.h : 1.0;
    int oh = (int)lround(img.h * f), ow = (int)lround(img.w * f);
    oh = oh < 1 ? 1 : oh;
    ow = ow < 1 ? 1 : ow;
    float *g = malloc((size_t)oh * ow * sizeof *g);
    uint8_t *px = malloc((size_t)oh * ow);
    if (!g || !px) {
        free(g), free(px), ndx_image_free(&img);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    ndx_resize_area_u16(img.px, img.w, 0, 0, img.w, img.h, img.maxval, oh, ow, g);
    for (size_t i = 0; i < (size_t)oh * ow; i++) px[i] = windowed(g[i], m->lo, m->hi);
    m->sx = (double)ow / img.w, m->sy = (double)oh / img.h;
    ndx_image_free(&img);
    free(g);
    s = store_png(im, "mammogram", px, ow, oh, 1, &m->id);
    free(px);
    return s;
}

/* ---- tiles and outlines ------------------------------------------------------------- */
static int tile_size(const ndx_patch *p)
{
    const int side = p->w > p->h ? p->w : p->h;
    return side < TILE_MIN ? TILE_MIN : side > TILE_MAX ? TILE_MAX : side;
}

static ndx_status make_outline(ndx__survey_imgs *im, size_t i, int S)
{
    ndx_status s = ndx_patch_masks(im->cache, im->ix, i, S, S, im->masks);
    if (s) return s;
    const size_t plane = (size_t)S * S;
    uint8_t *in = im->buf + plane * 4 - plane;   /* the last quarter of buf */
    size_t count = 0;
    for (size_t q = 0; q < plane; q++) {
        float v = 0;
        for (int k = 0; k < NDX_LESION_KINDS; k++) v = fmaxf(v, im->masks[plane * (2 * k + 1) + q]);
        in[q] = v >= 0.5f;
        count += in[q];
    }
    if (!count) {
        im->outlines[i] = -1;
        return NDX_OK;
    }
    uint8_t *rgba = im->buf;   /* overwrites `in` (its last quarter), no longer read */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            /* edge: an in-mask pixel with an outside pixel within 1 (8-neighbourhood) */
            const size_t q = (size_t)y * S + x;
            int edge = 0;
            for (int dy = -1; dy <= 1 && in[q] && !edge; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const int yy = y + dy, xx = x + dx;
                    if (yy < 0 || xx < 0 || yy >= S || xx >= S || !in[(size_t)yy * S + xx]) edge = 1;
                }
            im->up[q] = (float)edge;
        }
    for (size_t q = 0; q < plane; q++) {
        uint8_t *o = rgba + 4 * q;
        const int e = im->up[q] > 0;
        o[0] = e ? 64 : 0, o[1] = e ? 255 : 0, o[2] = e ? 64 : 0, o[3] = e ? 255 : 0;
    }
    return store_png(im, "outline", rgba, S, S, 4, &im->outlines[i]);
}

ndx_status ndx__survey_imgs_patch(ndx__survey_imgs *im, int64_t id, ndx__survey_patch *p, int *size)
{
    const ndx_patch_index *ix = im->ix;
    if (id < 0 || (size_t)id >= ix->n)
        return ndx__fail(NDX_ERR_FORMAT, "%s/patches.csv: the dissection names patch %lld, the index has %zu",
                         ix->dir, (long long)id, ix->n);
    const ndx_patch *pp = &ix->patches[id];
    const int S = tile_size(pp);
    mammo *m = &im->mammos[pp->image];
    ndx_status s;
    if (!m->id && (s = make_mammo(im, pp->image))) return s;
    if (!im->tiles[id]) {
        if ((s = ndx_patch_load(im->cache, ix, (size_t)id, S, im->px))) return s;
        for (size_t q = 0; q < (size_t)S * S; q++) im->buf[q] = windowed(im->px[q], m->lo, m->hi);
        if ((s = store_png(im, "tile", im->buf, S, S, 1, &im->tiles[id]))) return s;
        if ((s = make_outline(im, (size_t)id, S))) return s;
    }
    p->patch_id = id;
    p->box[0] = pp->x, p->box[1] = pp->y, p->box[2] = pp->w, p->box[3] = pp->h;
    p->tile = im->tiles[id];
    p->outline = im->outlines[id] > 0 ? im->outlines[id] : 0;
    p->mammogram = m->id;
    p->mbox[0] = (int)floor(pp->x * m->sx), p->mbox[1] = (int)floor(pp->y * m->sy);
    p->mbox[2] = (int)ceil((pp->x + pp->w) * m->sx) - p->mbox[0];
    p->mbox[3] = (int)ceil((pp->y + pp->h) * m->sy) - p->mbox[1];
    snprintf(p->source, sizeof p->source, "%s", ix->images[pp->image].path);
    *size = S;
    return NDX_OK;
}

ndx_status ndx__survey_imgs_highlight(ndx__survey_imgs *im, const float *map, int h, int w, int align_corners,
                                      float top1, int S, int64_t *id)
{
    if (S < 1 || S > TILE_MAX || h < 1 || w < 1)
        return ndx__fail(NDX_ERR_INVALID, "survey: highlight of a %dx%d map at %d px", h, w, S);
    ndx_bilinear_plan plan;
    ndx_bilinear_plan_init(&plan, h, w, S, S, align_corners, im->plan);
    ndx_kernels()->bilinear_blend.fn(&plan, 1, map, im->up);
    const float norm = top1 > 0 && isfinite(top1) ? 1.0f / top1 : 0.0f;
    for (size_t q = 0; q < (size_t)S * S; q++) {
        const int dim = !(im->up[q] * norm >= 0.2f);
        im->buf[2 * q] = 0;
        im->buf[2 * q + 1] = dim ? 204 : 0;
    }
    return store_png(im, "highlight", im->buf, S, S, 2, id);
}
