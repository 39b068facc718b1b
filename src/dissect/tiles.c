/* Unit pages: the patches a unit shows (--distinct), each drawn from its
 * source image at its own resolution with the shared tile code
 * (src/render/tile.h), its context image, and units/<layer>_<unit>.html.
 *
 * A tile: the patch's box area-resampled to S x S (its side clamped to
 * 192..320 px), windowed (0.5th..99.5th percentile of the breast), dimmed
 * x0.2 outside the unit's highlight (relative: map >= relative x the unit's
 * top-1 score, bilinearly upsampled; quantile: map > T), the lesion outline
 * in green, and a corner mark: white + on red (positive patch) or white -
 * on blue (negative).  Contexts: units/ctx_<patch>.png, once per patch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "../io/io.h"
#include "../render/tile.h"

#define CACHE_BYTES ((size_t)512 << 20)
#define CACHE_SLOTS 32
#define MARK 24

typedef struct slot {
    char path[4200];
    ndx_image img;
    float lo, hi;
    unsigned long used;
    uint8_t *small;          /* the context: downscaled, windowed; NULL until needed */
    int sw, sh;
} slot;

struct ndx__tile_cache {
    slot s[CACHE_SLOTS];
    unsigned long clock;
    int64_t *ctx;            /* patch ids whose context is written */
    size_t nctx, capctx;
};

ndx_status ndx__tile_cache_new(ndx__tile_cache **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? NDX_OK : ndx__fail(NDX_ERR_NOMEM, "dissect_write: out of memory for the image cache");
}

void ndx__tile_cache_free(ndx__tile_cache *c)
{
    if (!c) return;
    for (int i = 0; i < CACHE_SLOTS; i++) ndx_image_free(&c->s[i].img), free(c->s[i].small);
    free(c->ctx);
    free(c);
}

/* The decoded source image at path and its window (least recently used
 * images dropped past CACHE_BYTES). */
static ndx_status cached(ndx__tile_cache *c, const char *path, slot **out)
{
    size_t bytes = 0;
    int lru = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &c->s[i];
        if (s->img.px && !strcmp(s->path, path)) {
            s->used = ++c->clock;
            *out = s;
            return NDX_OK;
        }
        bytes += (size_t)s->img.w * s->img.h * 2;
        if (!s->img.px || (c->s[lru].img.px && s->used < c->s[lru].used)) lru = i;
    }
    for (int i = 0; i < CACHE_SLOTS && bytes > CACHE_BYTES; i++)
        if (c->s[i].img.px) {
            bytes -= (size_t)c->s[i].img.w * c->s[i].img.h * 2;
            ndx_image_free(&c->s[i].img);
            free(c->s[i].small), c->s[i].small = NULL;
        }
    slot *s = &c->s[lru];
    ndx_image_free(&s->img);
    free(s->small), s->small = NULL;
    ndx_status st = ndx_image_read(path, 0, &s->img, NULL);
    if (st) return st;
    snprintf(s->path, sizeof s->path, "%s", path);
    ndx__tile_window(&s->img, &s->lo, &s->hi);
    s->used = ++c->clock;
    *out = s;
    return NDX_OK;
}

static int overlaps(const int a[4], const int b[4])
{
    return a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
}

int ndx__dissect_shown(const ndx_dissect_output *opt, const ndx_dissect_top *top, int n,
                       char (*paths)[4200], int (*boxes)[4], int *pick)
{
    int m = 0;
    for (int j = 0; j < n; j++) {
        if (opt->locate(opt->locate_ctx, top[j].id, paths[j], sizeof paths[j], boxes[j]) != 0)
            return -1;
        int dup = 0;
        for (int i = 0; i < m && !dup && opt->distinct != NDX_DISTINCT_NONE; i++)
            dup = !strcmp(paths[pick[i]], paths[j]) &&
                  (opt->distinct == NDX_DISTINCT_IMAGE || overlaps(boxes[pick[i]], boxes[j]));
        if (!dup) pick[m++] = j;
    }
    return m;
}

/* The +/- mark in the tile's top-left corner. */
static void mark(uint8_t *rgb, int S, int positive)
{
    for (int y = 0; y < MARK && y < S; y++)
        for (int x = 0; x < MARK && x < S; x++) {
            uint8_t *o = rgb + ((size_t)y * S + x) * 3;
            const int bar = (y >= MARK / 2 - 2 && y < MARK / 2 + 2 && x >= 5 && x < MARK - 5) ||
                            (positive && x >= MARK / 2 - 2 && x < MARK / 2 + 2 && y >= 5 && y < MARK - 5);
            if (bar) o[0] = o[1] = o[2] = 255;
            else o[0] = positive ? 200 : 30, o[1] = 30, o[2] = positive ? 30 : 200;
        }
}

/* The RGB tile of top entry t of unit u: see the head of this file. */
static ndx_status draw_tile(const ndx_dissect *d, const ndx_dissect_unit *info,
                            const ndx_dissect_output *opt, const ndx_dissect_top *t, slot *src,
                            const int box[4], const char *path)
{
    const int S = ndx__tile_size(box[2], box[3]);
    const size_t P = (size_t)S * S;
    float *work = malloc(P * sizeof *work);
    uint8_t *gray = malloc(P), *in = malloc(P), *les = calloc(P, 1), *edge = malloc(P), *rgb = malloc(P * 3);
    ndx_status st = NDX_OK;
    if (!work || !gray || !in || !les || !edge || !rgb)
        st = ndx__fail(NDX_ERR_NOMEM, "dissect_write: out of memory for a %d px tile", S);
    float scale = 1.0f, cut;
    if (opt->draw_threshold == NDX_DRAW_QUANTILE && !isnan(info->threshold)) {
        cut = nextafterf(info->threshold, INFINITY);
    } else {
        scale = info->max_score > 0 && isfinite(info->max_score) ? 1.0f / info->max_score : 0.0f;
        cut = (float)d->relative;
    }
    if (!st) st = ndx__tile_cut(&src->img, src->path, box, S, src->lo, src->hi, work, gray);
    if (!st) st = ndx__tile_region(t->map, d->h, d->w, d->align_corners, scale, cut, S, work, in);
    if (!st && opt->lesions && opt->lesions(opt->lesions_ctx, t->id, les, S) != 0)
        st = ndx__fail(NDX_ERR_IO, "dissect %s: the lesion masks of patch %lld failed", d->layer,
                       (long long)t->id);
    if (!st) {
        ndx__tile_outline(les, S, edge);
        for (size_t q = 0; q < P; q++) {
            uint8_t *o = rgb + 3 * q;
            if (edge[q]) {
                o[0] = 64, o[1] = 255, o[2] = 64;
            } else {
                o[0] = o[1] = o[2] = in[q] ? gray[q] : (uint8_t)lrintf(0.2f * gray[q]);
            }
        }
        mark(rgb, S, t->label != 0);
        st = ndx_png_write8(path, rgb, S, S, 3);
    }
    free(work), free(gray), free(in), free(les), free(edge), free(rgb);
    return st;
}

/* units/ctx_<id>.png, once per patch and run. */
static ndx_status context(const char *dir, ndx__tile_cache *c, int64_t id, slot *src,
                          const int box[4], int height)
{
    for (size_t i = 0; i < c->nctx; i++)
        if (c->ctx[i] == id) return NDX_OK;
    if (c->nctx == c->capctx) {
        size_t cap = c->capctx ? 2 * c->capctx : 256;
        int64_t *p = realloc(c->ctx, cap * sizeof *p);
        if (!p) return ndx__fail(NDX_ERR_NOMEM, "dissect_write: out of memory");
        c->ctx = p, c->capctx = cap;
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/units/ctx_%lld.png", dir, (long long)id);
    ndx_status st = src->small ? NDX_OK
                               : ndx__context_small(&src->img, height, src->lo, src->hi, &src->small,
                                                    &src->sw, &src->sh);
    if (!st) st = ndx__context_box(src->small, src->sw, src->sh, &src->img, src->path, box, 3, path);
    if (!st) c->ctx[c->nctx++] = id;
    return st;
}

/* The unit page's head: its numbers and the rules they use. */
static void page_head(FILE *f, const ndx_dissect *d, int u, const ndx_dissect_unit *info,
                      const ndx_dissect_output *opt, int shown)
{
    fputs("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>", f);
    ndx__html_put(f, d->layer);
    fprintf(f, " unit %d</title>\n<style>%s</style></head><body>\n<p><a href=\"../index.html\">"
            "&larr; all units</a></p>\n<h1>Layer <code>", u, ndx__dissect_css);
    ndx__html_put(f, d->layer);
    fprintf(f, "</code>, unit %d</h1>\n<table class=stats><tr><th>max</th><th>mean</th>"
            "<th>threshold T</th>", u);
    for (int m = 0; m < d->nmasks; m++) {
        fputs("<th>IoU ", f);
        ndx__html_put(f, d->mask_names[m]);
        fputs("</th>", f);
    }
    fputs("<th>best</th><th>positive fraction</th></tr>\n<tr>", f);
    fprintf(f, "<td>%.4g</td><td>%.4g</td><td>%.4g</td>", info->max_score, info->mean_score,
            info->threshold);
    ndx__dissect_iou_cells(f, d, info, opt);
    const int b = ndx__dissect_best(d, info, opt);
    fputs("<td>", f);
    if (b >= 0) ndx__html_put(f, d->mask_names[b]);
    fprintf(f, "</td><td>%.3f</td></tr></table>\n", info->positive_fraction);
    const int rel = opt->draw_threshold != NDX_DRAW_QUANTILE || isnan(info->threshold);
    fprintf(f, "<p>IoU uses the %s threshold T = %.4g. The pictures are drawn with the %s rule: "
            "pixels where the unit's map ", ndx__dissect_mode_name(d->mode), info->threshold,
            rel ? "relative" : "quantile");
    if (rel)
        fprintf(f, "is at least %.2g &times; its best score (%.4g), i.e. &ge; %.4g, stay bright",
                d->relative, info->max_score, d->relative * info->max_score);
    else
        fprintf(f, "is above T = %.4g stay bright", info->threshold);
    fprintf(f, "; the rest is dimmed to 20%%. Green: the true lesion outline. Corner mark: "
            "<b class=pos>+</b> the patch holds a malignant lesion, <b class=neg>&minus;</b> "
            "it does not. Red box in the mammogram: where the patch lies. Shown: %d of the "
            "unit's %d top patches (%s); the numbers use all of them. Click a picture to "
            "enlarge it.</p>\n<div class=cards>\n", shown, info->ntop,
            opt->distinct == NDX_DISTINCT_NONE     ? "every one"
            : opt->distinct == NDX_DISTINCT_LESION ? "one view per lesion: overlapping boxes skipped"
                                                   : "at most one per mammogram");
}

ndx_status ndx__dissect_unit_page(const char *dir, const ndx_dissect *d, int u, const char *lname,
                                  const ndx_dissect_unit *info, const ndx_dissect_output *opt,
                                  ndx__tile_cache *c, ndx__page_ws *ws, int *nshown)
{
    int n = 0;
    *nshown = 0;
    ndx_status st = ndx_dissect_unit_top(d, u, ws->top, &n);
    if (st) return st;
    const int m = ndx__dissect_shown(opt, ws->top, n, ws->paths, ws->boxes, ws->pick);
    if (m < 0)
        return ndx__fail(NDX_ERR_IO, "dissect %s unit %d: the patch locator failed", d->layer, u);
    const int height = opt->context_height ? opt->context_height : 400;
    char name[300], path[4400];
    for (int i = 0; i < m && !st; i++) {
        const int j = ws->pick[i];
        slot *src;
        snprintf(path, sizeof path, "%s/units/%s_%04d_%02d.png", dir, lname, u, i);
        if (!(st = cached(c, ws->paths[j], &src)))
            st = draw_tile(d, info, opt, &ws->top[j], src, ws->boxes[j], path);
        if (!st) st = context(dir, c, ws->top[j].id, src, ws->boxes[j], height);
    }
    if (st) return st;
    ndx__out o;
    snprintf(name, sizeof name, "units/%s_%04d.html", lname, u);
    if ((st = ndx__dissect_open(&o, dir, name))) return st;
    FILE *f = o.f;
    page_head(f, d, u, info, opt, m);
    for (int i = 0; i < m; i++) {
        const ndx_dissect_top *t = &ws->top[ws->pick[i]];
        fprintf(f, "<figure><a href=\"%s_%04d_%02d.png\"><img class=\"tile full\" src=\"%s_%04d_%02d.png\" "
                "alt=\"patch %lld\"></a><a href=\"ctx_%lld.png\"><img class=ctx src=\"ctx_%lld.png\" "
                "alt=\"mammogram of patch %lld\"></a>\n<figcaption>rank %d, score %.4g, %s, patch %lld"
                "<br><small>", lname, u, i, lname, u, i, (long long)t->id, (long long)t->id,
                (long long)t->id, (long long)t->id, ws->pick[i] + 1, t->score,
                t->label ? "<b class=pos>+ malignant</b>" : "<b class=neg>&minus; no malignancy</b>",
                (long long)t->id);
        const char *base = strrchr(ws->paths[ws->pick[i]], '/');
        ndx__html_put(f, base ? base + 1 : ws->paths[ws->pick[i]]);
        fprintf(f, " (%d, %d, %d&times;%d)</small></figcaption></figure>\n", ws->boxes[ws->pick[i]][0],
                ws->boxes[ws->pick[i]][1], ws->boxes[ws->pick[i]][2], ws->boxes[ws->pick[i]][3]);
    }
    fputs("</div>\n</body></html>\n", f);
    *nshown = m;
    return ndx__out_commit(&o);
}
