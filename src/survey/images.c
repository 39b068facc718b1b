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
#include <stdint.h>
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
    double sx, sy;         /* source pixel -> mammogram PNG pixel */
} mammo;

struct ndx__survey_imgs {
    ndx__survey_db *db;
    const ndx_patch_index *ix;
    ndx_patch_cache *cache;      /* lesion masks */
    mammo *mammos;               /* per source image */
    int64_t *tiles, *outlines;   /* per patch: image ids; 0 = not made, outline -1 = none */
    long images;
    int64_t bytes;
};

/* ---- PNG in memory -------------------------------------------------------------- */
typedef struct png_out {
    unsigned char *p;      /* NULL: no image */
    size_t n, cap;
    int w, h, failed;
} png_out;

static void mem_sink(void *ctx, void *data, int size)
{
    png_out *m = ctx;
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

static ndx_status encode(const char *kind, const uint8_t *px, int w, int h, int comp, png_out *o)
{
    *o = (png_out){.w = w, .h = h};
    const int ok = stbi_write_png_to_func(mem_sink, o, w, h, comp, px, w * comp);
    if (ok && !o->failed) return NDX_OK;
    free(o->p);
    o->p = NULL;
    return ndx__fail(NDX_ERR_NOMEM, "survey: encoding a %dx%d %s PNG failed", w, h, kind);
}

/* Stores an encoded image (and frees it); *id gets its id. */
static ndx_status store(ndx__survey_imgs *im, const char *kind, png_out *o, int64_t *id)
{
    ndx_status s = ndx__survey_image_add(im->db, kind, o->p, o->n, o->w, o->h, id);
    if (!s) im->images++, im->bytes += (int64_t)o->n;
    free(o->p);
    o->p = NULL;
    return s;
}

/* ---- set-up ------------------------------------------------------------------------ */
ndx_status ndx__survey_imgs_new(ndx__survey_imgs **out, ndx__survey_db *db, const ndx_patch_index *ix)
{
    *out = NULL;
    ndx__survey_imgs *im = calloc(1, sizeof *im);
    if (im) {
        im->db = db, im->ix = ix;
        im->cache = ndx_patch_cache_new((size_t)256 << 20);
        im->mammos = calloc(ix->nimages ? ix->nimages : 1, sizeof *im->mammos);
        im->tiles = calloc(ix->n ? ix->n : 1, sizeof *im->tiles);
        im->outlines = calloc(ix->n ? ix->n : 1, sizeof *im->outlines);
    }
    if (!im || !im->cache || !im->mammos || !im->tiles || !im->outlines) {
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
    free(im);
}

void ndx__survey_imgs_stats(const ndx__survey_imgs *im, long *images, int64_t *bytes)
{
    *images = im->images, *bytes = im->bytes;
}

/* ---- one source image's work ----------------------------------------------------------- */
/* The 0.5th and 99.5th percentile of the pixels above 2% of full scale. */
static void breast_window(const ndx_image *img, float *lo, float *hi)
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

static uint8_t windowed(float v, float lo, float hi)
{
    float g = (v - lo) / (hi - lo);
    g = g > 0 ? (g < 1 ? g : 1) : 0;   /* NaN -> 0 */
    return (uint8_t)lrintf(g * 255.0f);
}

static int tile_size(const ndx_patch *p)
{
    const int side = p->w > p->h ? p->w : p->h;
    return side < TILE_MIN ? TILE_MIN : side > TILE_MAX ? TILE_MAX : side;
}

/* One source image and its pending patches (ids[0..n)). */
typedef struct job {
    int image, need_mammo, n;
    const int64_t *ids;
    png_out mammo;
    double sx, sy;
    png_out *tiles, *outlines;   /* n each; an outline's p NULL: no lesion */
    ndx_status st;
    char msg[300];
} job;

/* The lesion outline of patch i at S x S: in-mask pixels with an outside
 * pixel in their 8-neighbourhood, 2 px on the mask's inner edge. */
static ndx_status outline(ndx__survey_imgs *im, size_t i, int S, float *masks, uint8_t *in, png_out *o)
{
    ndx_status s = ndx_patch_masks(im->cache, im->ix, i, S, S, masks);
    if (s) return s;
    const size_t plane = (size_t)S * S;
    size_t count = 0;
    for (size_t q = 0; q < plane; q++) {
        float v = 0;
        for (int k = 0; k < NDX_LESION_KINDS; k++) v = fmaxf(v, masks[plane * (2 * k + 1) + q]);
        in[q] = v >= 0.5f;
        count += in[q];
    }
    *o = (png_out){0};
    if (!count) return NDX_OK;
    uint8_t *rgba = calloc(plane, 4);
    if (!rgba) return ndx__fail(NDX_ERR_NOMEM, "survey: out of memory for an outline");
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            const size_t q = (size_t)y * S + x;
            int edge = 0;
            for (int dy = -1; dy <= 1 && in[q] && !edge; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const int yy = y + dy, xx = x + dx;
                    if (yy < 0 || xx < 0 || yy >= S || xx >= S || !in[(size_t)yy * S + xx]) edge = 1;
                }
            if (edge) rgba[4 * q] = 64, rgba[4 * q + 1] = 255, rgba[4 * q + 2] = 64, rgba[4 * q + 3] = 255;
        }
    s = encode("outline", rgba, S, S, 4, o);
    free(rgba);
    return s;
}

/* The mammogram (when needed) and the pending tiles and outlines of one
 * source image, encoded; runs in any thread (no store calls). */
static ndx_status run_job(ndx__survey_imgs *im, job *j)
{
    char path[1100];
    if (!ndx__join(path, sizeof path, im->ix->dir, im->ix->images[j->image].path))
        return ndx__fail(NDX_ERR_INVALID, "%s: path too long", im->ix->images[j->image].path);
    ndx_image img = {0};
    ndx_status s = ndx_png_read(path, 0, &img, NULL, 0);
    if (s) return s;
    float lo, hi;
    breast_window(&img, &lo, &hi);
    const double f = img.h > MAMMO_MAX_H ? (double)MAMMO_MAX_H / img.h : 1.0;
    const int oh = img.h * f < 1 ? 1 : (int)lround(img.h * f), ow = img.w * f < 1 ? 1 : (int)lround(img.w * f);
    const size_t big = (size_t)oh * ow > (size_t)TILE_MAX * TILE_MAX ? (size_t)oh * ow : (size_t)TILE_MAX * TILE_MAX;
    float *g = malloc(big * sizeof *g), *masks = malloc((size_t)TILE_MAX * TILE_MAX * 2 * NDX_LESION_KINDS * sizeof *masks);
    uint8_t *px = malloc(big);
    if (!g || !masks || !px) s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    j->sx = (double)ow / img.w, j->sy = (double)oh / img.h;
    if (!s && j->need_mammo) {
        ndx_resize_area_u16(img.px, img.w, 0, 0, img.w, img.h, img.maxval, oh, ow, g);
        for (size_t i = 0; i < (size_t)oh * ow; i++) px[i] = windowed(g[i], lo, hi);
        s = encode("mammogram", px, ow, oh, 1, &j->mammo);
    }
    for (int k = 0; k < j->n && !s; k++) {
        const ndx_patch *p = &im->ix->patches[j->ids[k]];
        const int S = tile_size(p);
        if (p->x < 0 || p->y < 0 || p->w < 1 || p->h < 1 || p->x > img.w - p->w || p->y > img.h - p->h) {
            s = ndx__fail(NDX_ERR_FORMAT, "%s: patch %lld's box (%d, %d, %d, %d) lies outside the %dx%d image",
                          path, (long long)j->ids[k], p->x, p->y, p->w, p->h, img.w, img.h);
            break;
        }
        ndx_resize_area_u16(img.px, img.w, p->x, p->y, p->w, p->h, img.maxval, S, S, g);
        for (size_t q = 0; q < (size_t)S * S; q++) px[q] = windowed(g[q], lo, hi);
        if (!(s = encode("tile", px, S, S, 1, &j->tiles[k])))
            s = outline(im, (size_t)j->ids[k], S, masks, px, &j->outlines[k]);
    }
    free(g), free(masks), free(px);
    ndx_image_free(&img);
    return s;
}

/* ---- the calls init makes ---------------------------------------------------------------- */
typedef struct pend {
    int image;
    int64_t id;
} pend;

static int by_image(const void *a, const void *b)
{
    const pend *x = a, *y = b;
    if (x->image != y->image) return x->image - y->image;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void free_job(job *j)
{
    free(j->mammo.p);
    for (int k = 0; j->tiles && k < j->n; k++) free(j->tiles[k].p), free(j->outlines[k].p);
    free(j->tiles), free(j->outlines);
}

/* Runs jobs[0..n) in parallel, then stores their images in order. */
static ndx_status run_chunk(ndx__survey_imgs *im, job *jobs, int n)
{
    const int nt = ndx_get_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1 && n > 1) schedule(dynamic)
    for (int c = 0; c < n; c++) {
        job *j = &jobs[c];
        j->tiles = calloc((size_t)j->n, sizeof *j->tiles);
        j->outlines = calloc((size_t)j->n, sizeof *j->outlines);
        j->st = j->tiles && j->outlines ? run_job(im, j) : ndx__fail(NDX_ERR_NOMEM, "survey: out of memory");
        if (j->st) snprintf(j->msg, sizeof j->msg, "%s", ndx_last_error());
    }
    ndx_status s = NDX_OK;
    for (int c = 0; c < n && !s; c++) {
        job *j = &jobs[c];
        if (j->st) {
            s = ndx__fail(j->st, "%s", j->msg);
            break;
        }
        mammo *m = &im->mammos[j->image];
        if (j->need_mammo) {
            if ((s = store(im, "mammogram", &j->mammo, &m->id))) break;
            m->sx = j->sx, m->sy = j->sy;
        }
        for (int k = 0; k < j->n && !s; k++) {
            if (!(s = store(im, "tile", &j->tiles[k], &im->tiles[j->ids[k]])))
                s = j->outlines[k].p ? store(im, "outline", &j->outlines[k], &im->outlines[j->ids[k]])
                                     : (im->outlines[j->ids[k]] = -1, NDX_OK);
        }
    }
    for (int c = 0; c < n; c++) free_job(&jobs[c]);
    return s;
}

ndx_status ndx__survey_imgs_prepare(ndx__survey_imgs *im, const int64_t *ids, int n)
{
    const ndx_patch_index *ix = im->ix;
    pend *pp = malloc((size_t)(n > 0 ? n : 1) * sizeof *pp);
    job *jobs = calloc((size_t)(n > 0 ? n : 1), sizeof *jobs);
    int64_t *sorted = malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted);
    if (!pp || !jobs || !sorted) {
        free(pp), free(jobs), free(sorted);
        return ndx__fail(NDX_ERR_NOMEM, "survey: out of memory");
    }
    ndx_status s = NDX_OK;
    int m = 0;
    for (int i = 0; i < n && !s; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= ix->n)
            s = ndx__fail(NDX_ERR_FORMAT, "%s/patches.csv: the dissection names patch %lld, the index has %zu",
                          ix->dir, (long long)ids[i], ix->n);
        else if (!im->tiles[ids[i]])
            pp[m++] = (pend){ix->patches[ids[i]].image, ids[i]};
    }
    qsort(pp, (size_t)m, sizeof *pp, by_image);
    int nj = 0, ns = 0;
    for (int i = 0; i < m && !s; i++) {
        if (i > 0 && pp[i].id == pp[i - 1].id) continue;
        if (!nj || jobs[nj - 1].image != pp[i].image) {
            jobs[nj] = (job){.image = pp[i].image, .need_mammo = !im->mammos[pp[i].image].id, .ids = sorted + ns};
            nj++;
        }
        sorted[ns++] = pp[i].id;
        jobs[nj - 1].n++;
    }
    const int chunk = 4 * ndx_get_threads();
    for (int c = 0; c < nj && !s; c += chunk) s = run_chunk(im, jobs + c, nj - c < chunk ? nj - c : chunk);
    free(pp), free(jobs), free(sorted);
    return s;
}

ndx_status ndx__survey_imgs_patch(ndx__survey_imgs *im, int64_t id, ndx__survey_patch *p, int *size)
{
    const ndx_patch_index *ix = im->ix;
    ndx_status s;
    if ((id < 0 || (size_t)id >= ix->n || !im->tiles[id]) && (s = ndx__survey_imgs_prepare(im, &id, 1))) return s;
    const ndx_patch *pp = &ix->patches[id];
    const mammo *m = &im->mammos[pp->image];
    p->patch_id = id;
    p->box[0] = pp->x, p->box[1] = pp->y, p->box[2] = pp->w, p->box[3] = pp->h;
    p->tile = im->tiles[id];
    p->outline = im->outlines[id] > 0 ? im->outlines[id] : 0;
    p->mammogram = m->id;
    p->mbox[0] = (int)floor(pp->x * m->sx), p->mbox[1] = (int)floor(pp->y * m->sy);
    p->mbox[2] = (int)ceil((pp->x + pp->w) * m->sx) - p->mbox[0];
    p->mbox[3] = (int)ceil((pp->y + pp->h) * m->sy) - p->mbox[1];
    snprintf(p->source, sizeof p->source, "%s", ix->images[pp->image].path);
    *size = tile_size(pp);
    return NDX_OK;
}

/* One highlight overlay, encoded (any thread). */
static ndx_status highlight(const float *map, int h, int w, int align_corners, float top1, int S, png_out *o)
{
    void *plan_buf = malloc(ndx_bilinear_plan_size(S, S));
    float *up = malloc((size_t)S * S * sizeof *up);
    uint8_t *ga = malloc((size_t)S * S * 2);
    ndx_status s = NDX_OK;
    if (!plan_buf || !up || !ga) {
        s = ndx__fail(NDX_ERR_NOMEM, "survey: out of memory for a highlight");
    } else {
        ndx_bilinear_plan plan;
        ndx_bilinear_plan_init(&plan, h, w, S, S, align_corners, plan_buf);
        ndx_kernels()->bilinear_blend.fn(&plan, 1, map, up);
        const float norm = top1 > 0 && isfinite(top1) ? 1.0f / top1 : 0.0f;
        for (size_t q = 0; q < (size_t)S * S; q++) {
            ga[2 * q] = 0;
            ga[2 * q + 1] = !(up[q] * norm >= 0.2f) ? 204 : 0;
        }
        s = encode("highlight", ga, S, S, 2, o);
    }
    free(plan_buf), free(up), free(ga);
    return s;
}

ndx_status ndx__survey_imgs_highlights(ndx__survey_imgs *im, int n, const float *const *maps, int h, int w,
                                       int align_corners, float top1, const int *sizes, int64_t *ids)
{
    for (int i = 0; i < n; i++)
        if (sizes[i] < 1 || sizes[i] > TILE_MAX || h < 1 || w < 1)
            return ndx__fail(NDX_ERR_INVALID, "survey: highlight of a %dx%d map at %d px", h, w, sizes[i]);
    png_out *outs = calloc((size_t)(n > 0 ? n : 1), sizeof *outs);
    ndx_status *st = calloc((size_t)(n > 0 ? n : 1), sizeof *st);
    char (*msg)[300] = calloc((size_t)(n > 0 ? n : 1), sizeof *msg);
    if (!outs || !st || !msg) {
        free(outs), free(st), free(msg);
        return ndx__fail(NDX_ERR_NOMEM, "survey: out of memory");
    }
    const int nt = ndx_get_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1 && n > 1) schedule(dynamic)
    for (int i = 0; i < n; i++) {
        st[i] = highlight(maps[i], h, w, align_corners, top1, sizes[i], &outs[i]);
        if (st[i]) snprintf(msg[i], sizeof msg[i], "%s", ndx_last_error());
    }
    ndx_status s = NDX_OK;
    for (int i = 0; i < n; i++) {
        if (!s && st[i]) s = ndx__fail(st[i], "%s", msg[i]);
        if (!s) s = store(im, "highlight", &outs[i], &ids[i]);
        free(outs[i].p);
    }
    free(outs), free(st), free(msg);
    return s;
}
