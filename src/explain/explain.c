/* ndx_explain: one mammogram through a trained net -- the patch
 * classifier's heat map, the 1x1-convolution map where the net pools
 * globally, the top units by contribution with their maps and places, and
 * the readers' labels of those units. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "explain_int.h"
#include "netdx_dissect.h"
#include "../dissect/rank_int.h"

void ndx_explain_defaults(ndx_explain_opts *o)
{
    memset(o, 0, sizeof *o);
    o->top = 8;
    o->window = 0.25, o->stride = 0.5, o->min_tissue = 0.5;
    o->batch = 8;
}

void ndx_explain_free(ndx_explain_result *r)
{
    if (!r) return;
    for (int i = 0; r->unit && i < r->nunits; i++) free(r->unit[i].map);
    free(r->unit), free(r->patch_prob), free(r->fcn_prob), free(r->display);
    memset(r, 0, sizeof *r);
}

static ndx_status check_opts(const ndx_explain_opts *o)
{
    if (!o || !o->model || !o->image)
        return ndx__fail(NDX_ERR_INVALID, "explain: no model or image given");
    if (o->top < 1 || o->top > 64)
        return ndx__fail(NDX_ERR_INVALID, "explain: top %d (1..64)", o->top);
    if (o->batch < 1 || o->batch > 256)
        return ndx__fail(NDX_ERR_INVALID, "explain: batch %d (1..256)", o->batch);
    if (!(o->window > 0 && o->window <= 1) || !(o->stride > 0 && o->stride <= 1) ||
        !(o->min_tissue >= 0 && o->min_tissue <= 1))
        return ndx__fail(NDX_ERR_INVALID, "explain: window (0,1], stride (0,1], min_tissue "
                         "[0,1] expected, got %g %g %g", o->window, o->stride, o->min_tissue);
    if (o->labels && o->report)
        return ndx__fail(NDX_ERR_INVALID, "explain: give the labels (answers.jsonl) or a "
                         "report folder, not both");
    if (o->patch_map != NDX_EXPLAIN_PATCH_EXACT && o->patch_map != NDX_EXPLAIN_PATCH_FCN)
        return ndx__fail(NDX_ERR_INVALID, "explain: patch map %d (exact %d or fcn %d)",
                         o->patch_map, NDX_EXPLAIN_PATCH_EXACT, NDX_EXPLAIN_PATCH_FCN);
    if (o->unit_maps != NDX_EXPLAIN_MAPS_WINDOWS && o->unit_maps != NDX_EXPLAIN_MAPS_WHOLE)
        return ndx__fail(NDX_ERR_INVALID, "explain: unit maps %d (windows %d or whole %d)",
                         o->unit_maps, NDX_EXPLAIN_MAPS_WINDOWS, NDX_EXPLAIN_MAPS_WHOLE);
    return NDX_OK;
}

/* The work of one explanation. */
typedef struct job {
    const ndx_explain_opts *o;
    ndx_explain_result *r;
    ndx_net *net;
    const ndx_image *img;
    int thr;                     /* breast threshold */
    int node, pooled, units;
    int whole;                   /* pooled: the units' maps from the whole-image pass */
    float *dw, db;               /* the head's decision row */
    float *act;                  /* units x ah x aw: the units' maps */
    int ah, aw;
    float *z;                    /* pooled: ah x aw, the 1x1-convolution logits */
    float cell_w, cell_h;        /* pixels per map cell */
    float *cnt, *best;           /* pooled, maps from the windows: windows per cell,
                                    and their distance from their edges */
    float *score;                /* units: the contribution (gradxact) */
    ndx__explain_win *win;
    int nwin;
} job;

/* Breast pixels (above thr) in the side x side box at (x, y). */
static long tissue(const ndx_image *im, int thr, int x, int y, int side)
{
    long in = 0;
    for (int yy = y; yy < y + side; yy++) {
        const uint16_t *row = im->px + (size_t)yy * im->w + x;
        for (int xx = 0; xx < side; xx++) in += row[xx] > thr;
    }
    return in;
}

/* The windows of netdx patches with at least min_tissue breast, counted
 * window by window (no image-sized scratch to allocate and touch). */
static ndx_status windows(job *j)
{
    const ndx_image *im = j->img;
    ndx_explain_result *r = j->r;
    ndx_status st = ndx_breast_threshold(im->px, (size_t)im->w * im->h, im->maxval, &j->thr);
    if (st) return st;
    int side = (int)lround(j->o->window * (im->w < im->h ? im->w : im->h));
    side = side < 1 ? 1 : side;
    int step = (int)lround(j->o->stride * side);
    step = step < 1 ? 1 : step;
    r->window = side, r->step = step;
    r->grid_w = (im->w - side) / step + 1, r->grid_h = (im->h - side) / step + 1;
    const int ng = r->grid_w * r->grid_h, thr = j->thr;
    r->patch_prob = malloc((size_t)ng * sizeof *r->patch_prob);
    j->win = malloc((size_t)ng * sizeof *j->win);
    long *in = malloc((size_t)ng * sizeof *in);
    if (!in || !r->patch_prob || !j->win) {
        free(in);
        return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for %dx%d windows", r->grid_w,
                         r->grid_h);
    }
    const int nt = ndx_get_threads();
    (void)nt;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic)
    for (int g = 0; g < ng; g++)
        in[g] = tissue(im, thr, g % r->grid_w * step, g / r->grid_w * step, side);
    for (int g = 0; g < ng; g++) {
        r->patch_prob[g] = NAN;
        if ((double)in[g] / ((double)side * side) >= j->o->min_tissue)
            j->win[j->nwin++] = ndx__explain_win_at(g % r->grid_w * step, g / r->grid_w * step,
                                                    side, im->w, im->h);
    }
    free(in);
    if (!j->nwin)
        return ndx__fail(NDX_ERR_INVALID, "explain: %s: no window of %d px has %g of breast "
                         "(threshold %d of %d): is it a mammogram?", j->o->image, side,
                         j->o->min_tissue, j->thr, im->maxval);
    return NDX_OK;
}

/* Each window's maps of the layer into the image-wide maps: where windows
 * overlap, the most central window's (pooled nets), the maximum (gradxact). */
static ndx_status paste(void *ctx, ndx_net *net, int first, int n)
{
    job *j = ctx;
    ndx_tensor t;
    ndx_status st = ndx_net_output(net, j->node, &t);
    if (st) return st;
    const int fh = (int)t.shape[2], fw = (int)t.shape[3];
    const size_t per = (size_t)j->units * fh * fw;
    for (int b = 0; b < n; b++)
        ndx__explain_stitch(t.data + b * per, j->units, fh, fw, j->win[first + b],
                            j->r->window, j->act, j->ah, j->aw, j->cnt, j->best);
    return NDX_OK;
}

/* pooled nets: the 1x1-convolution map from the units' maps (act, ah x aw,
 * cell_w x cell_h px a cell; cells no window covered have no value). */
static ndx_status fcn_map(job *j)
{
    ndx_explain_result *r = j->r;
    const size_t hw = (size_t)j->ah * j->aw;
    j->z = malloc(hw * sizeof *j->z);
    r->fcn_prob = malloc(hw * sizeof *r->fcn_prob);
    if (!j->z || !r->fcn_prob) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    r->fcn = 1, r->fcn_h = j->ah, r->fcn_w = j->aw;
    ndx__explain_cam(j->act, j->units, j->ah, j->aw, j->dw, j->db, j->z, r->fcn_prob);
    size_t best = hw;
    for (size_t p = 0; p < hw; p++) {
        if (j->cnt && !(j->cnt[p] > 0)) r->fcn_prob[p] = NAN;
        else if (best == hw || r->fcn_prob[p] > r->fcn_prob[best]) best = p;
    }
    r->fcn_peak_x = (int)((best % j->aw + 0.5) * j->cell_w);
    r->fcn_peak_y = (int)((best / j->aw + 0.5) * j->cell_h);
    return NDX_OK;
}

/* The window probabilities (nwin) into the grid; the most malignant
 * window's centre, and that window moved to win[0] (for gradxact). */
static void place(job *j, const float *prob)
{
    ndx_explain_result *r = j->r;
    int best = 0;
    for (int i = 0; i < j->nwin; i++) {
        const ndx__explain_win *w = &j->win[i];
        r->patch_prob[(w->y / r->step) * r->grid_w + w->x / r->step] = prob[i];
        if (prob[i] > prob[best]) best = i;
    }
    r->windows = j->nwin, r->max_prob = prob[best];
    r->heat_peak_x = j->win[best].x + r->window / 2;
    r->heat_peak_y = j->win[best].y + r->window / 2;
    j->win[0] = j->win[best];
}

/* The patch map: every window through the patch classifier, a batch at a
 * time (batches of equal size, so the last is not mostly padding), with the
 * net's weights folded for inference unless gradxact needs them as they are
 * later; or (pooled nets, NDX_EXPLAIN_PATCH_FCN) from the 1x1-convolution
 * logits. */
static ndx_status patch_pass(job *j)
{
    ndx_explain_result *r = j->r;
    float *prob = malloc((size_t)j->nwin * sizeof *prob);
    if (!prob) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    ndx_status st = NDX_OK;
    snprintf(r->patch_map, sizeof r->patch_map, "%s",
             j->o->patch_map == NDX_EXPLAIN_PATCH_FCN ? "fcn" : "exact");
    if (j->o->patch_map == NDX_EXPLAIN_PATCH_FCN) {
        ndx__explain_fcn_windows(j->z, j->ah, j->aw, j->img->w, j->img->h, j->win, j->nwin,
                                 r->window, prob);
        place(j, prob);
        free(prob);
        return NDX_OK;
    }
    if (!j->whole) {   /* the units' maps from the windows' own */
        int c, fh, fw;
        ndx_net_node_shape(j->net, j->node, &c, &fh, &fw);
        j->cell_w = (float)r->window / fw, j->cell_h = (float)r->window / fh;
        j->ah = (int)ceil((double)j->img->h * fh / r->window);
        j->aw = (int)ceil((double)j->img->w * fw / r->window);
        j->act = calloc((size_t)j->units * j->ah * j->aw, sizeof *j->act);
        if (j->pooled) j->cnt = calloc((size_t)j->ah * j->aw, sizeof *j->cnt);
        if (j->pooled) j->best = calloc((size_t)j->ah * j->aw, sizeof *j->best);
        if (!j->act || (j->pooled && (!j->cnt || !j->best)))
            st = ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for the maps");
        if (!st) st = ndx_net_keep_outputs(j->net, &j->node, 1);
    }
    const int nb = (j->nwin + j->o->batch - 1) / j->o->batch;
    if (!st) st = ndx_net_plan(j->net, (j->nwin + nb - 1) / nb,
                               j->pooled ? NDX_PLAN_INFER_FOLDED : NDX_PLAN_INFER);
    if (!st) st = ndx__explain_windows(j->net, j->img, j->win, j->nwin, r->window, prob,
                                       j->whole ? NULL : paste, j);
    if (!st) place(j, prob);
    free(prob);
    if (!st && j->cnt) {
        ndx__explain_stitch_mean(j->act, j->units, j->ah, j->aw, j->cnt, j->best);
        st = fcn_map(j);
    }
    return st;
}

/* The net at h x w with base's weights (and input transform). */
static ndx_status net_at(const ndx_net *base, int h, int w, ndx_net **out)
{
    ndx_net *net;
    ndx_status st = ndx_zoo_build_hw(ndx_net_arch(base), ndx_net_num_classes(base), h, w,
                                     NDX_SEED_NONE, &net);   /* every tensor copied next */
    if (st) return st;
    for (int i = 0; i < ndx_net_num_tensors(net); i++) {
        ndx_param_info a, b;
        ndx_net_tensor(base, i, &a);
        ndx_net_tensor(net, i, &b);
        memcpy(b.data, a.data, a.numel * sizeof *a.data);
    }
    ndx_net_touch(net);
    if (ndx_net_transform_input(base)) st = ndx_net_set_transform_input(net, 1);
    if (st) ndx_net_free(net), net = NULL;
    *out = net;
    return st;
}

/* pooled nets: the whole image resized so a window is the net's input, up
 * to the layer, through a copy of the net at that size (weights folded in
 * the copy; the net itself keeps them for the patch pass). */
static ndx_status fcn_pass(job *j)
{
    ndx_explain_result *r = j->r;
    const int S = ndx_net_input_size(j->net);
    const int oh = (int)lround((double)j->img->h * S / r->window);
    const int ow = (int)lround((double)j->img->w * S / r->window);
    if (oh < 1 || ow < 1 || oh > 8192 || ow > 8192)
        return ndx__fail(NDX_ERR_INVALID, "explain: %s resized to %dx%d for the fully "
                         "convolutional pass (1..8192): a smaller window?", j->o->image, ow, oh);
    const size_t npx = (size_t)j->img->w * j->img->h;
    float *gray = malloc(npx * sizeof *gray);
    ndx_net *big = NULL;
    ndx_status st = gray ? net_at(j->net, oh, ow, &big)
                         : ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for %s", j->o->image);
    if (!st) st = ndx_net_plan(big, 1, NDX_PLAN_INFER_FOLDED);
    for (size_t p = 0; !st && p < npx; p++)
        gray[p] = (float)j->img->px[p] / (float)j->img->maxval;
    ndx_tensor t;
    if (!st) st = ndx__rank_image_forward(j->net, &big, j->node, gray, j->img->h, j->img->w,
                                          oh, ow, &t);
    free(gray);
    if (!st) {
        j->ah = (int)t.shape[2], j->aw = (int)t.shape[3];
        j->cell_w = (float)j->img->w / j->aw, j->cell_h = (float)j->img->h / j->ah;
        const size_t n = (size_t)j->units * j->ah * j->aw;
        if (!(j->act = malloc(n * sizeof *j->act)))
            st = ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
        else memcpy(j->act, t.data, n * sizeof *j->act);
    }
    ndx_net_free(big);
    return st ? st : fcn_map(j);
}

/* gradxact: sum_xy d(z1 - z0)/dA x A per unit in the most malignant window. */
static ndx_status gradxact(job *j)
{
    ndx_status st = ndx_net_plan(j->net, 1, NDX_PLAN_TRAIN_ACT);   /* no parameter gradients */
    const int S = ndx_net_input_size(j->net);
    float *gray = malloc((size_t)S * S * sizeof *gray);
    float *x = malloc((size_t)3 * S * S * sizeof *x);
    if (!st && (!gray || !x)) st = ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    if (!st) {
        ndx_resize_area_u16(j->img->px, j->img->w, j->win[0].x, j->win[0].y, j->r->window,
                            j->r->window, j->img->maxval, S, S, gray);
        ndx_gray_to_input(1, (size_t)S * S, gray, x);
        st = ndx_net_forward(j->net, x, NDX_EVAL, -1);
    }
    const float dl[2] = {-1, 1};
    ndx_tensor a, g;
    if (!st) ndx_net_zero_grads(j->net), st = ndx_net_backward(j->net, dl);
    if (!st) st = ndx_net_output(j->net, j->node, &a);
    if (!st) st = ndx_net_grad_output(j->net, j->node, &g);
    for (int u = 0; !st && u < j->units; u++) {
        const size_t hw = (size_t)a.shape[2] * a.shape[3];
        double s = 0;
        for (size_t i = 0; i < hw; i++) s += (double)g.data[u * hw + i] * a.data[u * hw + i];
        j->score[u] = (float)s;
    }
    free(gray), free(x);
    return st;
}

static int by_contribution(const void *a, const void *b)
{
    const ndx_explain_unit *x = a, *y = b;
    if (x->contribution != y->contribution) return x->contribution < y->contribution ? 1 : -1;
    return x->unit - y->unit;
}

/* Every unit's numbers, sorted; the top ones kept with their maps. */
static ndx_status top_units(job *j)
{
    ndx_explain_result *r = j->r;
    const size_t hw = (size_t)j->ah * j->aw;
    ndx_explain_unit *all = calloc((size_t)j->units, sizeof *all);
    if (!all) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    double sum = j->db;
    for (int u = 0; u < j->units; u++) {
        const float *m = j->act + u * hw;
        size_t best = hw, cells = 0;   /* over the cells a window covered */
        double mean = 0;
        for (size_t p = 0; p < hw; p++) {
            if (j->cnt && !(j->cnt[p] > 0)) continue;
            if (best == hw || m[p] > m[best]) best = p;
            mean += m[p], cells++;
        }
        mean /= (double)cells;
        ndx_explain_unit *e = &all[u];
        e->unit = u, e->max_act = m[best];
        e->weight = j->pooled ? j->dw[u] : NAN;
        e->contribution = j->pooled ? m[best] * j->dw[u] : j->score[u];
        e->mean_contribution = j->pooled ? (float)(mean * j->dw[u]) : NAN;
        if (j->pooled) sum += (double)e->mean_contribution;
        e->peak_x = (int)((best % j->aw + 0.5) * r->map_box[2] / j->aw);
        e->peak_y = (int)((best / j->aw + 0.5) * r->map_box[3] / j->ah);
        if (!isfinite(e->contribution)) {
            free(all);
            return ndx__fail(NDX_ERR_INVALID, "explain: the contribution of unit %d of %s is "
                             "not finite", u, r->layer);
        }
    }
    r->decision = j->pooled ? (float)sum : NAN;
    qsort(all, (size_t)j->units, sizeof *all, by_contribution);
    r->nunits = j->o->top < j->units ? j->o->top : j->units;
    r->unit = all;
    for (int i = 0; i < r->nunits; i++) {
        ndx_explain_unit *e = &r->unit[i];
        e->map_h = j->ah, e->map_w = j->aw;
        if (!(e->map = malloc(hw * sizeof *e->map)))
            return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
        memcpy(e->map, j->act + (size_t)e->unit * hw, hw * sizeof *e->map);
        ndx__explain_region(r, j->img, j->thr, e->peak_x, e->peak_y, e->region,
                            sizeof e->region);
    }
    return NDX_OK;
}

/* The layer: --layer, else the pooled one, else the last convolution. */
static ndx_status pick_layer(job *j)
{
    const ndx_explain_opts *o = j->o;
    ndx_net *net = j->net;
    j->pooled = ndx_rank_pooled_layer(net);
    if (o->layer) {
        j->node = ndx_net_find(net, o->layer);
        if (j->node < 1)
            return ndx__fail(NDX_ERR_INVALID, "explain: %s has no layer '%s' (netdx info "
                             "--model %s lists them)", ndx_net_arch(net), o->layer, o->model);
        if (j->node != j->pooled) j->pooled = -1;
    } else {
        j->node = j->pooled;
        for (int i = ndx_net_num_nodes(net) - 1; j->node < 0 && i > 0; i--)
            if (ndx_net_node_op(net, i) == NDX_OP_CONV) j->node = i;
    }
    j->pooled = j->pooled > 0;
    int h, w;
    ndx_net_node_shape(net, j->node, &j->units, &h, &w);
    if (h < 1 || w < 1 || (h == 1 && w == 1 && ndx_net_node_op(net, j->node) != NDX_OP_CONV))
        return ndx__fail(NDX_ERR_INVALID, "explain: layer %s is not a convolutional map",
                         ndx_net_node_name(net, j->node));
    snprintf(j->r->layer, sizeof j->r->layer, "%s", o->layer ? o->layer
             : ndx_net_node_name(net, j->node));
    snprintf(j->r->method, sizeof j->r->method, "%s", j->pooled ? "deepminer" : "gradxact");
    j->r->units = j->units;
    if (o->patch_map == NDX_EXPLAIN_PATCH_FCN && !j->pooled)
        return ndx__fail(NDX_ERR_INVALID, "explain: the patch map from the 1x1 convolution "
                         "(--patch-map fcn) needs the layer feeding a global pool and one "
                         "linear layer (resnet*, inception_v3, tiny); %s layer %s is not: use "
                         "--patch-map exact", ndx_net_arch(net), j->r->layer);
    if (o->unit_maps == NDX_EXPLAIN_MAPS_WHOLE && !j->pooled)
        return ndx__fail(NDX_ERR_INVALID, "explain: the units' maps from the whole image "
                         "(--unit-maps whole) need the layer feeding a global pool and one "
                         "linear layer (resnet*, inception_v3, tiny); %s layer %s is not",
                         ndx_net_arch(net), j->r->layer);
    j->whole = j->pooled && (o->unit_maps == NDX_EXPLAIN_MAPS_WHOLE ||
                             o->patch_map == NDX_EXPLAIN_PATCH_FCN);
    snprintf(j->r->unit_maps, sizeof j->r->unit_maps, "%s", j->whole ? "whole" : "windows");
    j->dw = malloc((size_t)j->units * sizeof *j->dw);
    j->score = malloc((size_t)j->units * sizeof *j->score);
    if (!j->dw || !j->score) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    if (j->pooled) return ndx__explain_head(net, j->units, j->dw, &j->db);
    return NDX_OK;
}

/* The phases' clock: wall and process CPU seconds. */
typedef struct stamp {
    double wall, cpu;
} stamp;

static stamp now(void)
{
    struct timespec ts;
    struct rusage ru;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    getrusage(RUSAGE_SELF, &ru);
    return (stamp){(double)ts.tv_sec + ts.tv_nsec * 1e-9,
                   (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
                   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6};
}

/* The time since *t into phase k of r; *t restarted. */
static void lap(ndx_explain_result *r, int k, stamp *t)
{
    const stamp n = now();
    r->seconds[k] += n.wall - t->wall, r->cpu_seconds[k] += n.cpu - t->cpu;
    *t = n;
}

const char *ndx_explain_phase(int k, const ndx_explain_result *r)
{
    static const char *const names[NDX_EXPLAIN_PHASES] = {"image", "model", "patch classifier",
                                                          "1x1 conv", "units"};
    if (k == 3 && r && !strcmp(r->method, "gradxact")) return "gradxact";
    return k >= 0 && k < NDX_EXPLAIN_PHASES ? names[k] : "";
}

/* Everything after reading the image and the model; t: the phases' clock. */
static ndx_status run(const ndx_explain_opts *o, ndx_net *net, const ndx_image *img,
                      ndx_explain_result *r, stamp *t)
{
    job j = {.o = o, .r = r, .net = net, .img = img};
    ndx_status st = NDX_OK;
    if (ndx_net_num_classes(net) != 2)
        st = ndx__fail(NDX_ERR_INVALID, "explain: %s has %d classes; explain needs two "
                       "(0 other, 1 malignant)", o->model, ndx_net_num_classes(net));
    snprintf(r->network, sizeof r->network, "%s", ndx_net_arch(net));
    r->width = img->w, r->height = img->h;
    if (!st) st = ndx__explain_orientation(o, r);
    if (!st) st = pick_layer(&j);
    if (!st) st = windows(&j);
    if (!st) st = ndx__explain_display(img, r);
    lap(r, 0, t);
    if (!st && j.whole) st = fcn_pass(&j);   /* first: the patch pass folds the weights */
    lap(r, 3, t);
    if (!st) st = patch_pass(&j);
    lap(r, 2, t);
    if (!st) {
        r->bias = j.pooled ? j.db : NAN;
        r->map_box[2] = j.whole ? (float)img->w : j.aw * j.cell_w;
        r->map_box[3] = j.whole ? (float)img->h : j.ah * j.cell_h;
    }
    if (!st && !j.pooled) st = gradxact(&j);
    lap(r, 3, t);
    if (!st) st = top_units(&j);
    if (!st && o->dissection) ndx__explain_strips(r, o->dissection);
    if (!st && (o->labels || o->report)) st = ndx__explain_labels(o, r);
    if (!st) ndx__explain_summary(r);
    lap(r, 4, t);
    free(j.dw), free(j.score), free(j.act), free(j.z), free(j.win), free(j.cnt), free(j.best);
    return st;
}

ndx_status ndx__explain_net(const ndx_explain_opts *o, ndx_net *net, const ndx_image *img,
                            ndx_explain_result *r)
{
    if (!r) return ndx__fail(NDX_ERR_INVALID, "explain: no result");
    memset(r, 0, sizeof *r);
    ndx_status st = check_opts(o);
    stamp t = now();
    if (!st) st = run(o, net, img, r, &t);
    if (st) ndx_explain_free(r);
    return st;
}

ndx_status ndx_explain(const ndx_explain_opts *o, ndx_explain_result *r)
{
    if (!r) return ndx__fail(NDX_ERR_INVALID, "explain: no result");
    memset(r, 0, sizeof *r);
    ndx_status st = check_opts(o);
    if (st) return st;
    ndx_image img = {0};
    ndx_net *net = NULL;
    stamp t = now();
    st = ndx_image_read(o->image, 0, &img, NULL);
    lap(r, 0, &t);
    if (!st) st = ndx_net_load(o->model, &net);
    lap(r, 1, &t);
    if (!st) st = run(o, net, &img, r, &t);
    if (st) ndx_explain_free(r);
    ndx_net_free(net);
    if (img.px) ndx_image_free(&img);
    return st;
}
