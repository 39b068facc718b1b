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

#include "survey.h"
#include "../core/core.h"
#include "../data/data.h"
#include "../render/tile.h"

#define TILE_MAX NDX__TILE_MAX
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

typedef ndx__png_mem png_out;

static ndx_status encode(const char *kind, const uint8_t *px, int w, int h, int comp, png_out *o)
{
    ndx_status s = ndx__png_encode(kind, px, w, h, comp, o);
    return s ? ndx__fail(s, "survey: %s", ndx_last_error()) : NDX_OK;
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
static int tile_size(const ndx_patch *p) { return ndx__tile_size(p->w, p->h); }

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
 * pixel in their 8-neighbourhood (ndx__tile_outline). */
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
    uint8_t *rgba = calloc(plane, 5), *edge = rgba + 4 * plane;
    if (!rgba) return ndx__fail(NDX_ERR_NOMEM, "survey: out of memory for an outline");
    ndx__tile_outline(in, S, edge);
    for (size_t q = 0; q < plane; q++)
        if (edge[q]) rgba[4 * q] = 64, rgba[4 * q + 1] = 255, rgba[4 * q + 2] = 64, rgba[4 * q + 3] = 255;
    s = encode("outline", rgba, S, S, 4, o);
    free(rgba);
    return s;
}

/* The mammogram (when needed) and the pending tiles and outlines of one
 * source image, encoded; runs in any thread (no store calls). */
static ndx_status run_job(ndx__survey_imgs *im, job *j)
{
    char *path = ndx__join(im->ix->dir, im->ix->images[j->image].path);
    if (!path) return NDX_ERR_NOMEM;
    ndx_image img = {0};
    ndx_status s = ndx_image_read(path, 0, &img, NULL);
    if (s) {
        free(path);
        return s;
    }
    float lo, hi;
    ndx__tile_window(&img, &lo, &hi);
    const double f = img.h > MAMMO_MAX_H ? (double)MAMMO_MAX_H / img.h : 1.0;
    const int oh = img.h * f < 1 ? 1 : (int)lround(img.h * f), ow = img.w * f < 1 ? 1 : (int)lround(img.w * f);
    const size_t big = (size_t)oh * ow > (size_t)TILE_MAX * TILE_MAX ? (size_t)oh * ow : (size_t)TILE_MAX * TILE_MAX;
    float *g = malloc(big * sizeof *g), *masks = malloc((size_t)TILE_MAX * TILE_MAX * 2 * NDX_LESION_KINDS * sizeof *masks);
    uint8_t *px = malloc(big);
    if (!g || !masks || !px) s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    j->sx = (double)ow / img.w, j->sy = (double)oh / img.h;
    if (!s && j->need_mammo) {
        ndx_resize_area_u16(img.px, img.w, 0, 0, img.w, img.h, img.maxval, oh, ow, g);
        for (size_t i = 0; i < (size_t)oh * ow; i++) px[i] = ndx__tile_windowed(g[i], lo, hi);
        s = encode("mammogram", px, ow, oh, 1, &j->mammo);
    }
    for (int k = 0; k < j->n && !s; k++) {
        const ndx_patch *p = &im->ix->patches[j->ids[k]];
        const int S = tile_size(p);
        const int box[4] = {p->x, p->y, p->w, p->h};
        if ((s = ndx__tile_cut(&img, path, box, S, lo, hi, g, px))) break;
        if (!(s = encode("tile", px, S, S, 1, &j->tiles[k])))
            s = outline(im, (size_t)j->ids[k], S, masks, px, &j->outlines[k]);
    }
    free(g), free(masks), free(px), free(path);
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
    float *up = malloc((size_t)S * S * sizeof *up);
    uint8_t *ga = malloc((size_t)S * S * 2), *in = malloc((size_t)S * S);
    ndx_status s = NDX_OK;
    const float norm = top1 > 0 && isfinite(top1) ? 1.0f / top1 : 0.0f;
    if (!up || !ga || !in) {
        s = ndx__fail(NDX_ERR_NOMEM, "survey: out of memory for a highlight");
    } else if (!(s = ndx__tile_region(map, h, w, align_corners, norm, 0.2f, S, up, in))) {
        for (size_t q = 0; q < (size_t)S * S; q++) ga[2 * q] = 0, ga[2 * q + 1] = in[q] ? 0 : 204;
        s = encode("highlight", ga, S, S, 2, o);
    }
    free(up), free(ga), free(in);
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
