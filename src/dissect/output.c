/* Dissection outputs: units.csv, units.json (with rankings), index.html and
 * the unit image strips, for one or more layers' states.
 *
 * Per unit: layer, unit, max and mean score, threshold, IoU per mask kind,
 * best kind (highest IoU), fraction of top-k patches that are positive,
 * top-k ids with scores.  How much a unit moves the network's decision is
 * not a dissection number: `netdx rank` (rank.c, rank_run.c) computes
 * DeepMiner's ranking, or gradient x activation where that does not apply.
 * Strips: the top strip_count patches in score order, S x S each, 2 px
 * apart; outside the unit's mask (its map bilinearly upsampled to S x S,
 * > threshold; the relative threshold when none is set) the pixels are
 * dimmed x0.2; the mask's outline (in-mask pixels with a 4-neighbour
 * outside) is drawn in yellow.  Context images (context.c): the top
 * patch's whole image with its box.  With unit_pages (and a locator) the
 * strips give way to tiles.c: per unit a page of tiles drawn from the
 * source images; index.html is html.c's.  Every file is written through ndx__out
 * (src/io/file.c): a temporary name, fsync, rename. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "../io/io.h"
#include "../../kernels/kernels.h"

#define GAP 2

typedef ndx__dissect_row row;

ndx_status ndx__dissect_open(ndx__out *o, const char *dir, const char *name)
{
    char path[4200];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) return ndx__fail(NDX_ERR_INVALID, "%s: path too long", dir);
    return ndx__out_open(o, path, 0);
}

void ndx__safe_name(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        const char c = s[i];
        dst[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '.' || c == '-' || c == '_'
                     ? c
                     : '_';
    }
    dst[i] = 0;
}

void ndx__html_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Stable merge sort of idx by v descending (NaN last); ties keep idx order. */
static int before(double a, double b) { return !isnan(a) && (isnan(b) || a > b); }
static void sort_desc(int *idx, int *tmp, int n, const double *v)
{
    if (n < 2) return;
    const int h = n / 2;
    sort_desc(idx, tmp, h, v);
    sort_desc(idx + h, tmp, n - h, v);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = before(v[idx[j]], v[idx[i]]) ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

/* ---- images ------------------------------------------------------------- */
typedef struct strip_ws {
    float *px, *up;
    uint8_t *mask, *rgb;
    void *plan;
    ndx_dissect_top *top;
    ndx__page_ws page;
    ndx__tile_cache *cache;
} strip_ws;

static ndx_status draw_strip(const ndx_dissect *d, int u, const ndx_dissect_unit *info,
                             const ndx_dissect_output *opt, int count, strip_ws *ws,
                             const char *path)
{
    const int S = opt->patch_size, W = count * S + (count - 1) * GAP;
    int n;
    ndx_status st = ndx_dissect_unit_top(d, u, ws->top, &n);
    if (st) return st;
    ndx_bilinear_plan plan;
    ndx_bilinear_plan_init(&plan, d->h, d->w, S, S, d->align_corners, ws->plan);
    const float t = isnan(info->threshold) ? (float)(d->relative * info->max_score) : info->threshold;
    memset(ws->rgb, 0, (size_t)W * S * 3);
    for (int j = 0; j < count && j < n; j++) {
        if (opt->load(opt->load_ctx, ws->top[j].id, ws->px, S) != 0)
            return ndx__fail(NDX_ERR_IO, "dissect %s unit %d: the patch loader failed for patch %lld",
                             d->layer, u, (long long)ws->top[j].id);
        ndx_kernels()->bilinear_blend.fn(&plan, 1, ws->top[j].map, ws->up);
        for (size_t k = 0; k < (size_t)S * S; k++) ws->mask[k] = ws->up[k] > t;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                const size_t k = (size_t)y * S + x;
                float g = ws->px[k];
                g = g > 0 ? (g < 1 ? g : 1) : 0;   /* NaN -> 0 */
                uint8_t *o = ws->rgb + ((size_t)y * W + (size_t)j * (S + GAP) + x) * 3;
                const int in = ws->mask[k];
                const int edge = in && ((x > 0 && !ws->mask[k - 1]) || (x + 1 < S && !ws->mask[k + 1]) ||
                                        (y > 0 && !ws->mask[k - S]) || (y + 1 < S && !ws->mask[k + S]));
                if (edge) {
                    o[0] = 255;
                    o[1] = 220;
                    o[2] = 0;
                } else {
                    const uint8_t v = (uint8_t)lrintf((in ? g : 0.2f * g) * 255.0f);
                    o[0] = o[1] = o[2] = v;
                }
            }
    }
    return ndx_png_write8(path, ws->rgb, W, S, 3);
}

/* ---- JSON --------------------------------------------------------------- */
static cJSON *ranking(const row *rows, const ndx_dissect *const *layers, const int *idx, int n,
                      const double *v)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n && a; i++) {
        const row *r = &rows[idx[i]];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "layer", ndx_dissect_layer(layers[r->layer]));
        cJSON_AddNumberToObject(o, "unit", r->unit);
        cJSON_AddNumberToObject(o, "value", v[idx[i]]);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static ndx_status write_json(const char *dir, const ndx_dissect *const *layers, int nlayers,
                             const ndx_dissect_output *opt, const row *rows, int nrows, int *idx,
                             int *tmp, double *v)
{
    const ndx_dissect *d0 = layers[0];
    cJSON *root = cJSON_CreateObject();
    if (!root) return ndx__fail(NDX_ERR_NOMEM, "units.json: out of memory");
    if (opt->network) cJSON_AddStringToObject(root, "network", opt->network);
    if (opt->model) cJSON_AddStringToObject(root, "model", opt->model);
    if (opt->split) cJSON_AddStringToObject(root, "split", opt->split);
    if (opt->unit_pages) {
        static const char *const shown[] = {"image", "lesion", "none"};
        cJSON_AddStringToObject(root, "distinct", shown[opt->distinct == NDX_DISTINCT_LESION ? 1
                                                        : opt->distinct == NDX_DISTINCT_NONE ? 2 : 0]);
        cJSON_AddStringToObject(root, "draw_threshold",
                                opt->draw_threshold == NDX_DRAW_QUANTILE ? "quantile" : "relative");
    }
    static const char *const modes[] = {"quantile", "relative", "fixed"};
    cJSON_AddStringToObject(root, "threshold", modes[d0->mode]);
    cJSON_AddNumberToObject(root, "quantile", d0->quantile);
    cJSON_AddNumberToObject(root, "relative", d0->relative);
    cJSON_AddNumberToObject(root, "patches", (double)d0->n_stats);
    cJSON_AddNumberToObject(root, "positives", (double)d0->n_pos);
    cJSON_AddNumberToObject(root, "iou_patches", (double)d0->n_iou);
    cJSON *kinds = cJSON_AddArrayToObject(root, "mask_kinds");
    for (int m = 0; m < d0->nmasks; m++) cJSON_AddItemToArray(kinds, cJSON_CreateString(d0->mask_names[m]));
    cJSON *units = cJSON_AddArrayToObject(root, "units");
    ndx_dissect_top *top = NULL;
    int maxk = 0;
    for (int l = 0; l < nlayers; l++) maxk = layers[l]->topk > maxk ? layers[l]->topk : maxk;
    top = malloc((size_t)maxk * sizeof *top);
    if (!top) {
        cJSON_Delete(root);
        return ndx__fail(NDX_ERR_NOMEM, "units.json: out of memory");
    }
    for (int i = 0; i < nrows && units; i++) {
        const row *r = &rows[i];
        const ndx_dissect *d = layers[r->layer];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddItemToArray(units, o);
        cJSON_AddStringToObject(o, "layer", d->layer);
        cJSON_AddNumberToObject(o, "unit", r->unit);
        cJSON_AddNumberToObject(o, "max_score", r->info.max_score);
        cJSON_AddNumberToObject(o, "mean_score", r->info.mean_score);
        cJSON_AddNumberToObject(o, "threshold", r->info.threshold);
        cJSON *iou = cJSON_AddObjectToObject(o, "iou");
        for (int m = 0; m < d->nmasks; m++)
            cJSON_AddNumberToObject(iou, d->mask_names[m], d->n_iou ? r->info.iou[m] : NAN);
        if (r->info.best_mask >= 0)
            cJSON_AddStringToObject(o, "best_lesion", d->mask_names[r->info.best_mask]);
        else
            cJSON_AddNullToObject(o, "best_lesion");
        cJSON_AddNumberToObject(o, "positive_fraction", r->info.positive_fraction);
        if (r->image[0]) cJSON_AddStringToObject(o, "image", r->image);
        if (r->context[0]) cJSON_AddStringToObject(o, "context", r->context);
        if (r->nshown >= 0) {
            char page[200], lname[64];
            ndx__safe_name(lname, sizeof lname, d->layer);
            snprintf(page, sizeof page, "units/%s_%04d.html", lname, r->unit);
            cJSON_AddStringToObject(o, "page", page);
        }
        cJSON *ta = cJSON_AddArrayToObject(o, "top");
        int n = 0;
        ndx_dissect_unit_top(d, r->unit, top, &n);
        for (int j = 0; j < n && ta; j++) {
            cJSON *e = cJSON_CreateObject();
            if (!e) break;
            cJSON_AddNumberToObject(e, "id", (double)top[j].id);
            cJSON_AddNumberToObject(e, "score", top[j].score);
            cJSON_AddNumberToObject(e, "label", top[j].label);
            cJSON_AddItemToArray(ta, e);
        }
    }
    free(top);

    cJSON *rk = cJSON_AddObjectToObject(root, "rankings");
    for (int i = 0; i < nrows; i++) idx[i] = i, v[i] = rows[i].info.positive_fraction;
    sort_desc(idx, tmp, nrows, v);
    cJSON_AddItemToObject(rk, "positive_fraction", ranking(rows, layers, idx, nrows, v));
    cJSON *ri = cJSON_AddObjectToObject(rk, "iou");
    for (int m = 0; m < d0->nmasks; m++) {
        for (int i = 0; i < nrows; i++) idx[i] = i, v[i] = rows[i].info.iou[m];
        sort_desc(idx, tmp, nrows, v);
        cJSON_AddItemToObject(ri, d0->mask_names[m], ranking(rows, layers, idx, nrows, v));
    }

    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return ndx__fail(NDX_ERR_NOMEM, "units.json: out of memory");
    ndx__out o;
    ndx_status st = ndx__dissect_open(&o, dir, "units.json");
    if (!st) {
        fputs(text, o.f);
        fputc('\n', o.f);
        st = ndx__out_commit(&o);
    }
    cJSON_free(text);
    return st;
}

/* ---- CSV and HTML ------------------------------------------------------- */
/* A number field; empty for NaN (no value: no IoU pass yet). */
static void csv_num(FILE *f, double x)
{
    if (isnan(x)) fputc(',', f);
    else fprintf(f, ",%.9g", x);
}

static ndx_status write_csv(const char *dir, const ndx_dissect *const *layers, const row *rows,
                            int nrows)
{
    const ndx_dissect *d0 = layers[0];
    ndx__out o;
    ndx_status st = ndx__dissect_open(&o, dir, "units.csv");
    if (st) return st;
    FILE *f = o.f;
    fputs("layer,unit,max_score,mean_score,threshold", f);
    for (int m = 0; m < d0->nmasks; m++) {
        char h[sizeof d0->mask_names[m] + 8];
        snprintf(h, sizeof h, "iou_%s", d0->mask_names[m]);
        fputc(',', f);
        ndx__csv_put(f, h);
    }
    fputs(",best_lesion,best_iou,positive_fraction,topk\n", f);
    ndx_dissect_top *top = NULL;
    for (int i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        const ndx_dissect *d = layers[r->layer];
        if (!top || (i > 0 && layers[rows[i - 1].layer]->topk < d->topk)) {
            free(top);
            top = malloc((size_t)d->topk * sizeof *top);
            if (!top) {
                ndx__out_abort(&o);
                return ndx__fail(NDX_ERR_NOMEM, "units.csv: out of memory");
            }
        }
        ndx__csv_put(f, d->layer);
        fprintf(f, ",%d", r->unit);
        csv_num(f, r->info.max_score);
        csv_num(f, r->info.mean_score);
        csv_num(f, r->info.threshold);
        for (int m = 0; m < d->nmasks; m++) csv_num(f, d->n_iou ? r->info.iou[m] : NAN);
        const int b = r->info.best_mask;
        fputc(',', f);
        ndx__csv_put(f, b >= 0 ? d->mask_names[b] : "");
        csv_num(f, b >= 0 ? r->info.iou[b] : NAN);
        csv_num(f, r->info.positive_fraction);
        fputc(',', f);
        int n = 0;
        ndx_dissect_unit_top(d, r->unit, top, &n);
        for (int j = 0; j < n; j++)
            fprintf(f, "%s%lld:%.9g", j ? ";" : "", (long long)top[j].id, top[j].score);
        fputc('\n', f);
    }
    free(top);
    return ndx__out_commit(&o);
}

/* ---- all of it ---------------------------------------------------------- */
/* The layers agree in mask kinds and threshold mode; the options are in
 * range.  *nrows: the units of all layers. */
static ndx_status check_write(const ndx_dissect *const *layers, int nlayers,
                              const ndx_dissect_output *opt, int *nrows)
{
    *nrows = 0;
    for (int l = 0; l < nlayers; l++) {
        const ndx_dissect *d = layers[l];
        if (!d) return ndx__fail(NDX_ERR_INVALID, "dissect_write: layer %d is NULL", l);
        if (d->nmasks != layers[0]->nmasks || d->mode != layers[0]->mode)
            return ndx__fail(NDX_ERR_INVALID, "dissect_write: layers %s and %s differ in mask "
                             "kinds or threshold mode", layers[0]->layer, d->layer);
        for (int m = 0; m < d->nmasks; m++)
            if (strcmp(d->mask_names[m], layers[0]->mask_names[m]))
                return ndx__fail(NDX_ERR_INVALID, "dissect_write: layers %s and %s differ in mask kinds",
                                 layers[0]->layer, d->layer);
        *nrows += d->units;
    }
    if (opt->load && (opt->patch_size < 8 || opt->patch_size > 1024))
        return ndx__fail(NDX_ERR_INVALID, "dissect_write: patch size %d out of range 8..1024",
                         opt->patch_size);
    if ((unsigned)opt->distinct > NDX_DISTINCT_NONE || (unsigned)opt->draw_threshold > NDX_DRAW_QUANTILE)
        return ndx__fail(NDX_ERR_INVALID, "dissect_write: distinct %d or draw threshold %d out of range",
                         (int)opt->distinct, (int)opt->draw_threshold);
    if (opt->strip_count < 0 || opt->strip_count > 4096)
        return ndx__fail(NDX_ERR_INVALID, "dissect_write: strip count %d out of range 0..4096",
                         opt->strip_count);
    if (opt->context_height < 0 || opt->context_height > 65536)
        return ndx__fail(NDX_ERR_INVALID, "dissect_write: context height %d out of range 0..65536",
                         opt->context_height);
    return NDX_OK;
}

/* The strips' buffers (with a loader) and the top-k list (with a loader or
 * a locator), for the largest top-k; dir/units created for the images. */
static ndx_status image_ws(const char *dir, const ndx_dissect *const *layers, int nlayers,
                           const ndx_dissect_output *opt, strip_ws *ws)
{
    if (!opt->load && !opt->locate) return NDX_OK;
    int maxk = 0;
    for (int l = 0; l < nlayers; l++) maxk = layers[l]->topk > maxk ? layers[l]->topk : maxk;
    ws->top = malloc((size_t)maxk * sizeof *ws->top);
    if (!ws->top) return ndx__fail(NDX_ERR_NOMEM, "dissect_write: out of memory for unit images");
    if (opt->unit_pages && opt->locate) {
        ws->page.top = ws->top;
        ws->page.paths = malloc((size_t)maxk * sizeof *ws->page.paths);
        ws->page.boxes = malloc((size_t)maxk * sizeof *ws->page.boxes);
        ws->page.pick = malloc((size_t)maxk * sizeof *ws->page.pick);
        if (!ws->page.paths || !ws->page.boxes || !ws->page.pick)
            return ndx__fail(NDX_ERR_NOMEM, "dissect_write: out of memory for unit pages");
        ndx_status st = ndx__tile_cache_new(&ws->cache);
        if (st) return st;
    }
    if (opt->load) {
        const size_t S = (size_t)opt->patch_size, cnt = opt->strip_count ? (size_t)opt->strip_count : 8;
        ws->px = malloc(S * S * sizeof(float));
        ws->up = malloc(S * S * sizeof(float));
        ws->mask = malloc(S * S);
        ws->rgb = malloc((cnt * (S + GAP)) * S * 3);
        ws->plan = malloc(ndx_bilinear_plan_size((int)S, (int)S));
        if (!ws->px || !ws->up || !ws->mask || !ws->rgb || !ws->plan)
            return ndx__fail(NDX_ERR_NOMEM, "dissect_write: out of memory for unit images");
    }
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/units", dir);
    return ndx__mkdirs(sub);
}

/* Row r (layer l's unit u): statistics, and with a loader
 * the unit's strip, with a locator its context image. */
static ndx_status unit_row(const char *dir, const ndx_dissect *d, int l, int u, const char *lname,
                           const ndx_dissect_output *opt, strip_ws *ws, row *r)
{
    r->layer = l;
    r->unit = u;
    ndx_dissect_unit_info(d, u, &r->info);
    r->nshown = -1;
    if (opt->unit_pages && opt->locate) {
        ndx_status st = ndx__dissect_unit_page(dir, d, u, lname, &r->info, opt, ws->cache, &ws->page,
                                               &r->nshown);
        if (!st && r->nshown > 0)
            snprintf(r->context, sizeof r->context, "units/ctx_%lld.png",
                     (long long)ws->top[ws->page.pick[0]].id);
        if (st || !opt->load) return st;
    }
    int cnt = opt->strip_count ? opt->strip_count : (d->topk < 8 ? d->topk : 8);
    if (cnt > r->info.ntop) cnt = r->info.ntop;
    ndx_status st;
    if (opt->load && cnt > 0) {
        snprintf(r->image, sizeof r->image, "units/%s_%04d.png", lname, u);
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, r->image);
        if ((st = draw_strip(d, u, &r->info, opt, cnt, ws, path))) return st;
    }
    if (!opt->locate || r->info.ntop < 1 || r->nshown >= 0) return NDX_OK;
    int n = 0, box[4];
    char image[4200], path[4400];
    if ((st = ndx_dissect_unit_top(d, u, ws->top, &n))) return st;
    if (opt->locate(opt->locate_ctx, ws->top[0].id, image, sizeof image, box) != 0)
        return ndx__fail(NDX_ERR_IO, "dissect %s unit %d: the patch locator failed for patch %lld",
                         d->layer, u, (long long)ws->top[0].id);
    snprintf(r->context, sizeof r->context, "units/%s_%04d_context.png", lname, u);
    snprintf(path, sizeof path, "%s/%s", dir, r->context);
    return ndx__dissect_context(image, box, opt->context_height ? opt->context_height : 400, path);
}

ndx_status ndx_dissect_write(const char *dir, const ndx_dissect *const *layers, int nlayers,
                             const ndx_dissect_output *opt)
{
    if (!dir || !dir[0] || !layers || nlayers < 1)
        return ndx__fail(NDX_ERR_INVALID, "dissect_write: no directory or no layers");
    const ndx_dissect_output none = {0};
    if (!opt) opt = &none;
    int nrows;
    ndx_status st = check_write(layers, nlayers, opt, &nrows);
    if (!st) st = ndx__mkdirs(dir);
    if (st) return st;
    row *rows = calloc((size_t)nrows, sizeof *rows);
    int *idx = malloc((size_t)nrows * 2 * sizeof *idx);
    double *v = malloc((size_t)nrows * sizeof *v);
    strip_ws ws = {0};
    if (!rows || !idx || !v) {
        st = ndx__fail(NDX_ERR_NOMEM, "dissect_write: out of memory for %d units", nrows);
        goto done;
    }
    if ((st = image_ws(dir, layers, nlayers, opt, &ws))) goto done;
    for (int l = 0, k = 0; l < nlayers; l++) {
        char lname[64];
        ndx__safe_name(lname, sizeof lname, layers[l]->layer);
        for (int u = 0; u < layers[l]->units; u++, k++)
            if ((st = unit_row(dir, layers[l], l, u, lname, opt, &ws, &rows[k]))) goto done;
    }
    if ((st = write_csv(dir, layers, rows, nrows))) goto done;
    if ((st = write_json(dir, layers, nlayers, opt, rows, nrows, idx, idx + nrows, v))) goto done;
    st = ndx__dissect_index(dir, layers, nlayers, opt, rows, nrows);
done:
    free(rows), free(idx), free(v);
    free(ws.px), free(ws.up), free(ws.mask), free(ws.rgb), free(ws.plan), free(ws.top);
    free(ws.page.paths), free(ws.page.boxes), free(ws.page.pick);
    ndx__tile_cache_free(ws.cache);
    return st;
}
