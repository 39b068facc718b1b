/* ndx_explain_write: the explanation's folder -- the mammogram and its
 * overlays as PNGs, the units' strips, explain.json and index.html
 * (page.c) -- built beside the output and renamed into place. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "explain_int.h"
#include "../io/io.h"
#include "../render/tile.h"
#include "../../kernels/kernels.h"

enum { DISPLAY_H = 1000 };

typedef struct fill_png {
    const ndx__png_mem *m;
} fill_png;

static ndx_status put_png(FILE *f, void *ctx)
{
    const ndx__png_mem *m = ((fill_png *)ctx)->m;
    return fwrite(m->p, 1, m->n, f) == m->n ? NDX_OK
           : ndx__fail(NDX_ERR_IO, "explain: cannot write a PNG");
}

static ndx_status write_png(const char *dir, const char *name, const uint8_t *px, int w, int h,
                            int comp)
{
    ndx__png_mem m = {0};
    ndx_status st = ndx__png_encode(name, px, w, h, comp, &m);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fill_png c = {&m};
    if (!st) st = ndx__write_file(path, put_png, &c);
    free(m.p);
    return st;
}

/* v in [0, 1] to a colour (dark red to yellow) and an alpha growing with
 * it (0 transparent), into px[4]. */
static void colour(float v, uint8_t *px, int max_alpha)
{
    if (!(v > 0)) {
        px[0] = px[1] = px[2] = px[3] = 0;
        return;
    }
    v = v < 1 ? v : 1;
    px[0] = (uint8_t)(128 + 127 * fminf(1, 2 * v));
    px[1] = (uint8_t)(255 * fmaxf(0, 2 * v - 1));
    px[2] = 0;
    px[3] = (uint8_t)(max_alpha * v);
}

/* The patch heat map: per pixel the mean probability of the classified
 * windows covering it, as an overlay of dw x dh. */
static ndx_status heat_png(const char *dir, const ndx_explain_result *r, int dw, int dh)
{
    uint8_t *px = malloc((size_t)dw * dh * 4);
    if (!px) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    for (int dy = 0; dy < dh; dy++) {
        const int y = (int)((dy + 0.5) * r->height / dh);
        for (int dx = 0; dx < dw; dx++) {
            const int x = (int)((dx + 0.5) * r->width / dw);
            double s = 0;
            int n = 0;
            for (int gy = 0; gy < r->grid_h && gy * r->step <= y; gy++) {
                if (y >= gy * r->step + r->window) continue;
                for (int gx = 0; gx < r->grid_w && gx * r->step <= x; gx++) {
                    const float p = r->patch_prob[gy * r->grid_w + gx];
                    if (x >= gx * r->step + r->window || isnan(p)) continue;
                    s += p, n++;
                }
            }
            colour(n ? (float)(s / n) : 0, px + ((size_t)dy * dw + dx) * 4, 170);
        }
    }
    ndx_status st = write_png(dir, "heat.png", px, dw, dh, 4);
    free(px);
    return st;
}

/* A map (mh x mw over r->map_box) upsampled (bilinear, align_corners
 * false) and drawn as an overlay of dw x dh, values / scale. */
static ndx_status map_png(const char *dir, const char *name, const ndx_explain_result *r,
                          const float *map, int mh, int mw, float scale, int dw, int dh)
{
    const int uw = (int)lround(r->map_box[2] * dw / r->width);
    const int uh = (int)lround(r->map_box[3] * dh / r->height);
    const size_t pb = ndx_bilinear_plan_size(uh, uw);
    void *buf = malloc(pb ? pb : 1);
    float *up = malloc((size_t)uw * uh * sizeof *up);
    uint8_t *px = calloc((size_t)dw * dh * 4, 1);
    ndx_status st = pb && buf && up && px ? NDX_OK
                    : ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for %s", name);
    if (!st) {
        ndx_bilinear_plan plan;
        ndx_bilinear_plan_init(&plan, mh, mw, uh, uw, 0, buf);
        ndx_kernels()->bilinear_blend.fn(&plan, 1, map, up);
        for (int y = 0; y < dh && y < uh; y++)
            for (int x = 0; x < dw && x < uw; x++)
                colour(scale > 0 ? up[(size_t)y * uw + x] / scale : 0,
                       px + ((size_t)y * dw + x) * 4, 190);
        st = write_png(dir, name, px, dw, dh, 4);
    }
    free(buf), free(up), free(px);
    return st;
}

ndx_status ndx__explain_display(const ndx_image *img, ndx_explain_result *r)
{
    const int dh = img->h < DISPLAY_H ? img->h : DISPLAY_H;
    int dw = (int)lround((double)img->w * dh / img->h);
    dw = dw > 0 ? dw : 1;
    float lo, hi;
    ndx__tile_window(img, &lo, &hi);
    free(r->display);
    r->display = malloc((size_t)dw * dh);
    float *g = malloc((size_t)dw * dh * sizeof *g);
    if (!r->display || !g) {
        free(g);
        return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for the display copy");
    }
    ndx_resize_area_u16(img->px, img->w, 0, 0, img->w, img->h, img->maxval, dh, dw, g);
    for (size_t i = 0; i < (size_t)dw * dh; i++) r->display[i] = ndx__tile_windowed(g[i], lo, hi);
    free(g);
    r->display_w = dw, r->display_h = dh;
    return NDX_OK;
}

/* Image k of the folder: 0 the mammogram, 1 the heat map, 2 the
 * 1x1-convolution map, 3 + i unit i's map and strip. */
static ndx_status image_k(const char *dir, const ndx_explain_result *r, int dw, int dh, int k)
{
    if (k == 0) return write_png(dir, "mammogram.png", r->display, dw, dh, 1);
    if (k == 1) return heat_png(dir, r, dw, dh);
    if (k == 2)
        return r->fcn ? map_png(dir, "fcn.png", r, r->fcn_prob, r->fcn_h, r->fcn_w, 1, dw, dh)
                      : NDX_OK;
    const ndx_explain_unit *e = &r->unit[k - 3];
    char name[64], dst[4400];
    snprintf(name, sizeof name, "unit_%04d.png", e->unit);
    ndx_status st = map_png(dir, name, r, e->map, e->map_h, e->map_w, e->max_act, dw, dh);
    snprintf(dst, sizeof dst, "%s/strip_%04d.png", dir, e->unit);
    if (!st && e->strip[0]) st = ndx__copy_file(e->strip, dst);
    return st;
}

/* Every image, shared among the threads (each encodes and writes its own
 * file); the first failure's message is passed on to the caller's thread. */
static ndx_status images(const char *dir, const ndx_explain_result *r, int dw, int dh)
{
    const int n = 3 + r->nunits, nt = ndx_get_threads();
    ndx_status st = NDX_OK;
    char msg[1024] = "";
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic)
    for (int k = 0; k < n; k++) {
        const ndx_status s = image_k(dir, r, dw, dh, k);
        if (s) {
#pragma omp critical
            if (!st) st = s, snprintf(msg, sizeof msg, "%s", ndx_last_error());
        }
    }
    return st ? ndx__fail(st, "%s", msg) : NDX_OK;
}

/* rows x cols floats as an array of arrays (null for NaN). */
static cJSON *grid(const float *v, int rows, int cols)
{
    cJSON *a = cJSON_CreateArray();
    for (int y = 0; a && y < rows; y++) {
        cJSON *row = cJSON_CreateArray();
        if (!row || !cJSON_AddItemToArray(a, row)) {
            cJSON_Delete(row), cJSON_Delete(a);
            return NULL;
        }
        for (int x = 0; x < cols; x++) {
            const float f = v[(size_t)y * cols + x];
            cJSON_AddItemToArray(row, isfinite(f) ? cJSON_CreateNumber(round(f * 1e4) / 1e4)
                                                  : cJSON_CreateNull());
        }
    }
    return a;
}

static cJSON *point(int x, int y)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "x", x);
    cJSON_AddNumberToObject(p, "y", y);
    return p;
}

static cJSON *label_json(const ndx_explain_label *l)
{
    cJSON *o = cJSON_CreateObject(), *d = cJSON_AddArrayToObject(o, "descriptors");
    cJSON_AddNumberToObject(o, "readers", l->readers);
    cJSON_AddNumberToObject(o, "recognizable", l->recognizable);
    cJSON_AddNumberToObject(o, "agreeing", l->agreeing);
    cJSON_AddStringToObject(o, "category", l->category);
    cJSON_AddStringToObject(o, "description", l->description);
    cJSON_AddStringToObject(o, "association", l->association);
    for (int t = 0; t < l->nterms; t++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "id", l->terms[t].id);
        cJSON_AddStringToObject(x, "name", l->terms[t].name);
        cJSON_AddStringToObject(x, "category", l->terms[t].category);
        cJSON_AddBoolToObject(x, "birads", l->terms[t].birads);
        cJSON_AddNumberToObject(x, "readers", l->terms[t].readers);
        cJSON_AddItemToArray(d, x);
    }
    return o;
}

static cJSON *units_json(const ndx_explain_result *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < r->nunits; i++) {
        const ndx_explain_unit *e = &r->unit[i];
        cJSON *u = cJSON_CreateObject();
        char name[64];
        cJSON_AddNumberToObject(u, "rank", i + 1);
        cJSON_AddNumberToObject(u, "unit", e->unit);
        snprintf(name, sizeof name, "unit_%04d", e->unit + 1);
        cJSON_AddStringToObject(u, "unit_name", name);
        ndx__json_num(u, "max_activation", e->max_act);
        ndx__json_num(u, "weight", e->weight);
        ndx__json_num(u, "contribution", e->contribution);
        ndx__json_num(u, "mean_contribution", e->mean_contribution);
        cJSON_AddItemToObject(u, "peak", point(e->peak_x, e->peak_y));
        cJSON_AddStringToObject(u, "region", e->region);
        snprintf(name, sizeof name, "unit_%04d.png", e->unit);
        cJSON_AddStringToObject(u, "map_png", name);
        cJSON_AddNumberToObject(u, "map_h", e->map_h);
        cJSON_AddNumberToObject(u, "map_w", e->map_w);
        snprintf(name, sizeof name, "strip_%04d.png", e->unit);
        if (e->strip[0]) cJSON_AddStringToObject(u, "strip_png", name);
        else cJSON_AddNullToObject(u, "strip_png");
        if (r->labelled) cJSON_AddItemToObject(u, "label", label_json(&e->label));
        else cJSON_AddNullToObject(u, "label");
        cJSON_AddItemToArray(a, u);
    }
    return a;
}

static cJSON *explain_json(const ndx_explain_opts *o, const ndx_explain_result *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "netdx-explain/1");
    cJSON_AddStringToObject(j, "netdx", ndx_version());
    cJSON_AddStringToObject(j, "notice", "research aid, not a diagnosis");
    cJSON_AddStringToObject(j, "model", o->model);
    cJSON_AddStringToObject(j, "image", o->image);
    cJSON_AddStringToObject(j, "network", r->network);
    cJSON_AddStringToObject(j, "layer", r->layer);
    cJSON_AddStringToObject(j, "method", r->method);
    cJSON *im = cJSON_AddObjectToObject(j, "mammogram");
    cJSON_AddNumberToObject(im, "width", r->width);
    cJSON_AddNumberToObject(im, "height", r->height);
    cJSON_AddStringToObject(im, "side", r->side);
    cJSON_AddStringToObject(im, "view", r->view);
    cJSON_AddStringToObject(im, "orientation_from", r->orient_source);
    cJSON *w = cJSON_AddObjectToObject(j, "windows");
    cJSON_AddNumberToObject(w, "side", r->window);
    cJSON_AddNumberToObject(w, "step", r->step);
    cJSON_AddNumberToObject(w, "across", r->grid_w);
    cJSON_AddNumberToObject(w, "down", r->grid_h);
    cJSON_AddNumberToObject(w, "classified", r->windows);
    cJSON_AddStringToObject(w, "map", r->patch_map);
    ndx__json_num(w, "max_probability", r->max_prob);
    cJSON_AddItemToObject(w, "peak", point(r->heat_peak_x, r->heat_peak_y));
    cJSON_AddItemToObject(w, "probability", grid(r->patch_prob, r->grid_h, r->grid_w));
    if (r->fcn) {
        cJSON *f = cJSON_AddObjectToObject(j, "fully_convolutional");
        cJSON_AddNumberToObject(f, "h", r->fcn_h);
        cJSON_AddNumberToObject(f, "w", r->fcn_w);
        cJSON_AddStringToObject(f, "from", r->unit_maps);
        cJSON_AddItemToObject(f, "peak", point(r->fcn_peak_x, r->fcn_peak_y));
        ndx__json_num(f, "decision_logit", r->decision);
        ndx__json_num(f, "bias", r->bias);
        cJSON_AddItemToObject(f, "probability", grid(r->fcn_prob, r->fcn_h, r->fcn_w));
    } else {
        cJSON_AddNullToObject(j, "fully_convolutional");
    }
    cJSON_AddStringToObject(j, "unit_maps", r->unit_maps);
    cJSON *box = cJSON_AddArrayToObject(j, "map_box");
    for (int i = 0; i < 4; i++) cJSON_AddItemToArray(box, cJSON_CreateNumber(r->map_box[i]));
    cJSON_AddNumberToObject(j, "layer_units", r->units);
    cJSON_AddItemToObject(j, "units", units_json(r));
    if (r->labelled) {
        cJSON *l = cJSON_AddObjectToObject(j, "labels");
        cJSON_AddStringToObject(l, "file", r->labels_path);
        cJSON_AddStringToObject(l, "xxh3", r->labels_hash);
        cJSON_AddNumberToObject(l, "readers", r->readers);
        cJSON_AddNumberToObject(l, "simulated", r->simulated);
    } else {
        cJSON_AddNullToObject(j, "labels");
    }
    cJSON_AddStringToObject(j, "dissection", r->dissection);
    cJSON_AddStringToObject(j, "summary", r->summary);
    return j;
}

ndx_status ndx_explain_write(const char *dir, const ndx_explain_opts *o,
                             const ndx_explain_result *r)
{
    if (!dir || !*dir || !o || !r || !r->patch_prob || !r->display || strlen(dir) > 4000)
        return ndx__fail(NDX_ERR_INVALID, "explain_write: no folder, options or result");
    static const char *const marks[] = {"explain.json", NULL};
    ndx__dir d = {0};
    char *parent = NULL, *base = NULL;
    ndx_status st = ndx__dir_replaceable(dir, "explain", marks);
    if (!st) st = ndx__split_path(dir, &parent, &base);
    if (!st) st = ndx__mkdirs(parent);
    free(parent), free(base);
    if (!st) st = ndx__dir_open(&d, dir);
    if (st) return st;
    const char *tmp = d.tmp;
    const int dw = r->display_w, dh = r->display_h;
    st = images(tmp, r, dw, dh);
    cJSON *j = st ? NULL : explain_json(o, r);
    char path[4400];
    snprintf(path, sizeof path, "%s/explain.json", tmp);
    if (!st) st = j ? ndx__json_write(path, j) : ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    cJSON_Delete(j);
    if (!st) st = ndx__explain_page(tmp, r, dw, dh);
    if (!st) st = ndx__dir_commit(&d);
    ndx__dir_abort(&d);
    return st;
}
