/* ndx_explain: one mammogram through a trained net -- the patch
 * classifier's heat map, the 1x1-convolution map where the net pools
 * globally, the top units by contribution with their maps and places, and
 * the readers' labels of those units. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain_int.h"
#include "netdx_dissect.h"
#include "../dissect/rank_int.h"

void ndx_explain_defaults(ndx_explain_opts *o)
{
    memset(o, 0, sizeof *o);
    o->top = 8;
    o->window = 0.25, o->stride = 0.5, o->min_tissue = 0.5;
    o->batch = 16;
}

void ndx_explain_free(ndx_explain_result *r)
{
    if (!r) return;
    for (int i = 0; r->unit && i < r->nunits; i++) free(r->unit[i].map);
    free(r->unit), free(r->patch_prob), free(r->fcn_prob);
    memset(r, 0, sizeof *r);
}

static int ends_with(const char *s, const char *tail)
{
    const size_t n = strlen(s), t = strlen(tail);
    if (n < t) return 0;
    for (size_t i = 0; i < t; i++)
        if ((s[n - t + i] | 0x20) != tail[i]) return 0;
    return 1;
}

static ndx_status check_opts(const ndx_explain_opts *o)
{
    if (!o || !o->model || !o->image)
        return ndx__fail(NDX_ERR_INVALID, "explain: no model or image given");
    if (ends_with(o->image, ".dcm") || ends_with(o->image, ".dicom"))
        return ndx__fail(NDX_ERR_UNSUPPORTED, "explain: %s: DICOM reading is not built yet; "
                         "convert the image to a 16-bit PNG first", o->image);
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
    return NDX_OK;
}

/* The work of one explanation. */
typedef struct job {
    const ndx_explain_opts *o;
    ndx_explain_result *r;
    ndx_net *net;
    ndx_image img;
    int thr;                     /* breast threshold */
    int node, pooled, units;
    float *dw, db;               /* the head's decision row */
    float *act;                  /* units x ah x aw: the units' maps */
    int ah, aw;
    float cell_w, cell_h;        /* gradxact: pixels per map cell */
    float *score;                /* units: the contribution (gradxact) */
    ndx__explain_win *win;
    int nwin;
} job;

/* The windows of netdx patches with at least min_tissue breast. */
static ndx_status windows(job *j)
{
    const ndx_image *im = &j->img;
    ndx_explain_result *r = j->r;
    ndx_status st = ndx_breast_threshold(im->px, (size_t)im->w * im->h, im->maxval, &j->thr);
    if (st) return st;
    int side = (int)lround(j->o->window * (im->w < im->h ? im->w : im->h));
    side = side < 1 ? 1 : side;
    int step = (int)lround(j->o->stride * side);
    step = step < 1 ? 1 : step;
    r->window = side, r->step = step;
    r->grid_w = (im->w - side) / step + 1, r->grid_h = (im->h - side) / step + 1;
    const size_t W = (size_t)im->w + 1;
    uint32_t *sum = calloc(W * (im->h + 1), sizeof *sum);   /* breast pixels, integral */
    r->patch_prob = malloc((size_t)r->grid_w * r->grid_h * sizeof *r->patch_prob);
    j->win = malloc((size_t)r->grid_w * r->grid_h * sizeof *j->win);
    if (!sum || !r->patch_prob || !j->win) {
        free(sum);
        return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for %dx%d windows", r->grid_w,
                         r->grid_h);
    }
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            sum[(y + 1) * W + x + 1] = sum[y * W + x + 1] + sum[(y + 1) * W + x] - sum[y * W + x] +
                                       (im->px[(size_t)y * im->w + x] > j->thr);
    for (int gy = 0; gy < r->grid_h; gy++)
        for (int gx = 0; gx < r->grid_w; gx++) {
            const int x = gx * step, y = gy * step;
            const double in = (double)sum[(y + side) * W + x + side] - sum[y * W + x + side] -
                              sum[(y + side) * W + x] + sum[y * W + x];
            r->patch_prob[gy * r->grid_w + gx] = NAN;
            if (in / ((double)side * side) >= j->o->min_tissue)
                j->win[j->nwin++] = (ndx__explain_win){x, y};
        }
    free(sum);
    if (!j->nwin)
        return ndx__fail(NDX_ERR_INVALID, "explain: %s: no window of %d px has %g of breast "
                         "(threshold %d of %d): is it a mammogram?", j->o->image, side,
                         j->o->min_tissue, j->thr, im->maxval);
    return NDX_OK;
}

/* gradxact nets: each window's map of the layer into the image-wide map
 * (maximum where windows overlap). */
static ndx_status paste(void *ctx, ndx_net *net, int first, int n)
{
    job *j = ctx;
    ndx_tensor t;
    ndx_status st = ndx_net_output(net, j->node, &t);
    if (st) return st;
    const int fh = (int)t.shape[2], fw = (int)t.shape[3], side = j->r->window;
    for (int b = 0; b < n; b++) {
        const ndx__explain_win *w = &j->win[first + b];
        const int oy = (int)lround((double)w->y * fh / side);
        const int ox = (int)lround((double)w->x * fw / side);
        for (int u = 0; u < j->units; u++) {
            const float *m = t.data + ((size_t)b * j->units + u) * fh * fw;
            float *dst = j->act + (size_t)u * j->ah * j->aw;
            for (int y = 0; y < fh && oy + y < j->ah; y++)
                for (int x = 0; x < fw && ox + x < j->aw; x++) {
                    float *d = dst + (size_t)(oy + y) * j->aw + ox + x;
                    *d = fmaxf(*d, m[y * fw + x]);
                }
        }
    }
    return NDX_OK;
}

static ndx_status patch_pass(job *j)
{
    ndx_explain_result *r = j->r;
    float *prob = malloc((size_t)j->nwin * sizeof *prob);
    if (!prob) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    ndx_status st = NDX_OK;
    if (!j->pooled) {
        int c, fh, fw;
        ndx_net_node_shape(j->net, j->node, &c, &fh, &fw);
        j->cell_w = (float)r->window / fw, j->cell_h = (float)r->window / fh;
        j->ah = (int)ceil((double)j->img.h * fh / r->window);
        j->aw = (int)ceil((double)j->img.w * fw / r->window);
        j->act = calloc((size_t)j->units * j->ah * j->aw, sizeof *j->act);
        if (!j->act) st = ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for the maps");
        if (!st) st = ndx_net_keep_outputs(j->net, &j->node, 1);
    }
    if (!st) st = ndx_net_plan(j->net, j->o->batch < j->nwin ? j->o->batch : j->nwin,
                               NDX_PLAN_INFER);
    if (!st) st = ndx__explain_windows(j->net, &j->img, j->win, j->nwin, r->window, prob,
                                       j->pooled ? NULL : paste, j);
    int best = 0;
    for (int i = 0; !st && i < j->nwin; i++) {
        const ndx__explain_win *w = &j->win[i];
        r->patch_prob[(w->y / r->step) * r->grid_w + w->x / r->step] = prob[i];
        if (prob[i] > prob[best]) best = i;
    }
    if (!st) {
        r->windows = j->nwin, r->max_prob = prob[best];
        r->heat_peak_x = j->win[best].x + r->window / 2;
        r->heat_peak_y = j->win[best].y + r->window / 2;
        j->win[0] = j->win[best];   /* the most malignant window, for gradxact */
    }
    free(prob);
    return st;
}

/* pooled nets: the whole image resized so a window is the net's input. */
static ndx_status fcn_pass(job *j)
{
    ndx_explain_result *r = j->r;
    const int S = ndx_net_input_size(j->net);
    const int oh = (int)lround((double)j->img.h * S / r->window);
    const int ow = (int)lround((double)j->img.w * S / r->window);
    const size_t npx = (size_t)j->img.w * j->img.h;
    float *gray = malloc(npx * sizeof *gray);
    if (!gray) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory for %s", j->o->image);
    for (size_t p = 0; p < npx; p++) gray[p] = (float)j->img.px[p] / (float)j->img.maxval;
    ndx_net *cache = NULL;
    ndx_tensor t;
    ndx_status st = ndx__rank_image_forward(j->net, &cache, j->node, gray, j->img.h, j->img.w,
                                            oh, ow, &t);
    free(gray);
    if (!st) {
        j->ah = (int)t.shape[2], j->aw = (int)t.shape[3];
        const size_t hw = (size_t)j->ah * j->aw;
        j->act = malloc((size_t)j->units * hw * sizeof *j->act);
        r->fcn_prob = malloc(hw * sizeof *r->fcn_prob);
        if (!j->act || !r->fcn_prob) st = ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
        else memcpy(j->act, t.data, (size_t)j->units * hw * sizeof *j->act);
    }
    ndx_net_free(cache);
    if (st) return st;
    r->fcn = 1, r->fcn_h = j->ah, r->fcn_w = j->aw;
    ndx__explain_cam(j->act, j->units, j->ah, j->aw, j->dw, j->db, NULL, r->fcn_prob);
    size_t best = 0;
    for (size_t p = 1; p < (size_t)j->ah * j->aw; p++)
        if (r->fcn_prob[p] > r->fcn_prob[best]) best = p;
    r->fcn_peak_x = (int)((best % j->aw + 0.5) * j->img.w / j->aw);
    r->fcn_peak_y = (int)((best / j->aw + 0.5) * j->img.h / j->ah);
    return NDX_OK;
}

/* gradxact: sum_xy d(z1 - z0)/dA x A per unit in the most malignant window. */
static ndx_status gradxact(job *j)
{
    ndx_status st = ndx_net_plan(j->net, 1, NDX_PLAN_TRAIN);
    const int S = ndx_net_input_size(j->net);
    float *gray = malloc((size_t)S * S * sizeof *gray);
    float *x = malloc((size_t)3 * S * S * sizeof *x);
    if (!st && (!gray || !x)) st = ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    if (!st) {
        ndx_resize_area_u16(j->img.px, j->img.w, j->win[0].x, j->win[0].y, j->r->window,
                            j->r->window, j->img.maxval, S, S, gray);
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
        size_t best = 0;
        double mean = 0;
        for (size_t p = 0; p < hw; p++) {
            if (m[p] > m[best]) best = p;
            mean += m[p];
        }
        mean /= (double)hw;
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
        ndx__explain_region(r, &j->img, j->thr, e->peak_x, e->peak_y, e->region,
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
    j->dw = malloc((size_t)j->units * sizeof *j->dw);
    j->score = malloc((size_t)j->units * sizeof *j->score);
    if (!j->dw || !j->score) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    if (j->pooled) return ndx__explain_head(net, j->units, j->dw, &j->db);
    return NDX_OK;
}

static ndx_status load(job *j)
{
    ndx_status st = ndx_image_read(j->o->image, 0, &j->img, NULL);
    if (!st) st = ndx_net_load(j->o->model, &j->net);
    if (st) return st;
    ndx_explain_result *r = j->r;
    if (ndx_net_num_classes(j->net) != 2)
        return ndx__fail(NDX_ERR_INVALID, "explain: %s has %d classes; explain needs two "
                         "(0 other, 1 malignant)", j->o->model, ndx_net_num_classes(j->net));
    snprintf(r->network, sizeof r->network, "%s", ndx_net_arch(j->net));
    r->width = j->img.w, r->height = j->img.h;
    return ndx__explain_orientation(j->o, r);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

ndx_status ndx_explain(const ndx_explain_opts *o, ndx_explain_result *r)
{
    if (!r) return ndx__fail(NDX_ERR_INVALID, "explain: no result");
    memset(r, 0, sizeof *r);
    ndx_status st = check_opts(o);
    if (st) return st;
    job j = {.o = o, .r = r};
    double t = now(), t1;
    st = load(&j);
    if (!st) st = pick_layer(&j);
    if (!st) st = windows(&j);
    r->seconds[0] = (t1 = now()) - t, t = t1;
    if (!st) st = patch_pass(&j);
    r->seconds[1] = (t1 = now()) - t, t = t1;
    if (!st && j.pooled) st = fcn_pass(&j);
    if (!st) {
        r->bias = j.pooled ? j.db : NAN;
        r->map_box[2] = j.pooled ? (float)j.img.w : j.aw * j.cell_w;
        r->map_box[3] = j.pooled ? (float)j.img.h : j.ah * j.cell_h;
    }
    if (!st && !j.pooled) st = gradxact(&j);
    r->seconds[2] = (t1 = now()) - t, t = t1;
    if (!st) st = top_units(&j);
    if (!st && o->dissection) ndx__explain_strips(r, o->dissection);
    if (!st && (o->labels || o->report)) st = ndx__explain_labels(o, r);
    if (!st) ndx__explain_summary(r);
    r->seconds[3] = now() - t;
    if (st) ndx_explain_free(r);
    free(j.dw), free(j.score), free(j.act), free(j.win);
    ndx_net_free(j.net);
    if (j.img.px) ndx_image_free(&j.img);
    return st;
}
