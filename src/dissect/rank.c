/* Unit ranking (netdx rank): DeepMiner's count of how often each unit is
 * among an image's top contributors to a class, and the gradient x
 * activation alternative for networks without a pooled classifier.
 *
 *   DeepMiner  the classifier applied as a 1x1 convolution over a whole
 *              mammogram (shorter side scale x the network input,
 *              antialiased resize): per image, unit u contributes
 *              max_xy A_u(x, y) x W[c][u] to class c; the `top` units of
 *              highest contribution are counted; units ranked by count.
 *              Needs A_u -> global pool -> linear (resnet*, inception_v3,
 *              tiny); AlexNet and VGG feed the flattened map to hidden
 *              layers, so a unit has no single weight into a class.
 *   gradxact   per positive patch of the split, sum_xy dz_c/dA_u x A_u of
 *              the class logit z_c (the first-order share of z_c carried by
 *              unit u), averaged over the patches; any network and layer.
 * For two classes a third row, "decision", uses w1 - w0 (z1 - z0): what
 * moves the decision.  For three (no cancer, benign, malignant) it uses
 * w2 - (w0 + w1) / 2: the gradient of the log-odds of malignant vs the rest,
 * log p2 - log(p0 + p1), is e2 - (p0 e0 + p1 e1) / (p0 + p1), which is that
 * row when the two other classes are equally likely (the one linear choice
 * that does not depend on the image).  Equal values are broken by the
 * smaller channel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "netdx_nn.h"
#include "../../kernels/kernels.h"
#include "rank_int.h"

void ndx_rank_defaults(ndx_rank_opts *o)
{
    memset(o, 0, sizeof *o);
    o->split = NDX_SPLIT_VAL;
    o->method = NDX_RANK_DEEPMINER;
    o->top = 8;
    o->show = 20;
    o->scale = 4;
    o->batch = 16;
}

void ndx_rank_free(ndx_rank_result *r)
{
    if (!r) return;
    free(r->ranking);
    r->ranking = NULL;
}

/* a before b: larger value, then smaller channel */
static int before(const float *c, int a, int b) { return c[a] > c[b] || (c[a] == c[b] && a < b); }

void ndx_rank_select(int units, const float *c, int top, int *idx)
{
    int n = 0;
    for (int u = 0; u < units; u++) {
        if (n == top && !before(c, u, idx[n - 1])) continue;
        int k = n < top ? n++ : n - 1;
        for (; k > 0 && before(c, u, idx[k - 1]); k--) idx[k] = idx[k - 1];
        idx[k] = u;
    }
}

ndx_status ndx__rank_acc_init(ndx__rank_acc *a, int units, int nrows, int top)
{
    memset(a, 0, sizeof *a);
    if (units < 1 || nrows < 1 || nrows > NDX_RANK_MAX_ROWS || top < 1 || top > units)
        return ndx__fail(NDX_ERR_INVALID, "rank: %d units, %d rows, top %d (1..units)", units,
                         nrows, top);
    a->units = units, a->nrows = nrows, a->top = top;
    a->count = calloc((size_t)units * nrows, sizeof *a->count);
    a->sum = calloc((size_t)units * nrows, sizeof *a->sum);
    a->idx = malloc((size_t)top * sizeof *a->idx);
    if (!a->count || !a->sum || !a->idx) {
        ndx__rank_acc_free(a);
        return ndx__fail(NDX_ERR_NOMEM, "rank: out of memory for %d units", units);
    }
    return NDX_OK;
}

void ndx__rank_acc_free(ndx__rank_acc *a)
{
    free(a->count);
    free(a->sum);
    free(a->idx);
    a->count = NULL, a->sum = NULL, a->idx = NULL;
}

void ndx__rank_acc_add(ndx__rank_acc *a, int row, const float *contrib)
{
    ndx_rank_select(a->units, contrib, a->top, a->idx);
    int *cnt = a->count + (size_t)row * a->units;
    double *sum = a->sum + (size_t)row * a->units;
    for (int k = 0; k < a->top; k++) cnt[a->idx[k]]++;
    for (int u = 0; u < a->units; u++) sum[u] += contrib[u];
    if (row == 0) a->items++;
}

static int by_count(const void *pa, const void *pb)
{
    const ndx_rank_unit *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return (a->unit > b->unit) - (a->unit < b->unit);
}

static int by_mean(const void *pa, const void *pb)
{
    const ndx_rank_unit *a = pa, *b = pb;
    if (a->mean != b->mean) return a->mean > b->mean ? -1 : 1;
    return (a->unit > b->unit) - (a->unit < b->unit);
}

void ndx__rank_acc_finish(const ndx__rank_acc *a, int order_by_mean, ndx_rank_unit *out)
{
    const double n = a->items ? (double)a->items : 1.0;
    for (int r = 0; r < a->nrows; r++) {
        ndx_rank_unit *o = out + (size_t)r * a->units;
        for (int u = 0; u < a->units; u++) {
            const size_t i = (size_t)r * a->units + u;
            o[u] = (ndx_rank_unit){u, a->count[i], a->sum[i] / n};
        }
        qsort(o, (size_t)a->units, sizeof *o, order_by_mean ? by_mean : by_count);
    }
}

ndx_status ndx_rank_units(int nimages, int units, int nrows, const float *maxact,
                          const float *weights, int top, ndx_rank_unit *out)
{
    if (nimages < 1 || !maxact || !weights || !out)
        return ndx__fail(NDX_ERR_INVALID, "rank: %d images, or NULL arrays", nimages);
    for (size_t i = 0; i < (size_t)nimages * units; i++)
        if (!isfinite(maxact[i]))
            return ndx__fail(NDX_ERR_INVALID, "rank: activation %zu (image %zu, unit %zu) is "
                             "not finite", i, i / (size_t)units, i % (size_t)units);
    for (size_t i = 0; i < (size_t)nrows * units; i++)
        if (!isfinite(weights[i]))
            return ndx__fail(NDX_ERR_INVALID, "rank: weight %zu is not finite", i);
    ndx__rank_acc a;
    ndx_status st = ndx__rank_acc_init(&a, units, nrows, top);
    if (st) return st;
    float *c = malloc((size_t)units * sizeof *c);
    if (!c) {
        ndx__rank_acc_free(&a);
        return ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
    }
    for (int i = 0; i < nimages; i++)
        for (int r = 0; r < nrows; r++) {
            for (int u = 0; u < units; u++)
                c[u] = maxact[(size_t)i * units + u] * weights[(size_t)r * units + u];
            ndx__rank_acc_add(&a, r, c);
        }
    ndx__rank_acc_finish(&a, 0, out);
    free(c);
    ndx__rank_acc_free(&a);
    return NDX_OK;
}

int ndx_rank_pooled_layer(const ndx_net *net)
{
    const int last = ndx_net_num_nodes(net) - 1;
    const char *arch = ndx_net_arch(net);
    if (ndx_net_node_op(net, last) != NDX_OP_LINEAR) {
        ndx__fail(NDX_ERR_INVALID, "%s: the last node %s is not a linear classifier", arch,
                  ndx_net_node_name(net, last));
        return -1;
    }
    int x = ndx_net_node_input(net, last, 0);
    while (x > 0 && (ndx_net_node_op(net, x) == NDX_OP_FLATTEN ||
                     ndx_net_node_op(net, x) == NDX_OP_DROPOUT))
        x = ndx_net_node_input(net, x, 0);
    int c = 0, h = 0, w = 0, ic = -1, ih, iw;
    const int src = x > 0 && ndx_net_node_op(net, x) == NDX_OP_ADAPTIVE_AVGPOOL
                        ? ndx_net_node_input(net, x, 0) : -1;
    if (src > 0) {
        ndx_net_node_shape(net, x, &c, &h, &w);
        ndx_net_node_shape(net, src, &ic, &ih, &iw);
    }
    if (src <= 0 || h != 1 || w != 1 || ic != c) {
        ndx__fail(NDX_ERR_INVALID,
                  "%s: DeepMiner's ranking does not apply: its classifier %s sees the "
                  "flattened feature map through fully connected layers, not each unit "
                  "through a global pool, so a unit has no single weight into a class "
                  "(only resnet*, inception_v3 and tiny have one); use --method gradxact "
                  "(gradient x activation at the layer, averaged over the positive patches), "
                  "which works for every network", arch, ndx_net_node_name(net, last));
        return -1;
    }
    return src;
}

int ndx__rank_has_decision(int classes) { return classes == 2 || classes == 3; }

void ndx__rank_decision(const float *v, int classes, int units, float *out)
{
    for (int u = 0; u < units; u++)
        out[u] = classes == 2 ? v[units + u] - v[u]
                              : v[2 * units + u] - 0.5f * (v[u] + v[units + u]);
}

/* The head's weights (classes, units) into rows: each class, then for two
 * classes the decision row w1 - w0, for three w2 - (w0 + w1) / 2.  Returns
 * the row count, 0 on error. */
int ndx__rank_rows(const ndx_net *net, int units, float *rows, char names[][16])
{
    const int nt = ndx_net_num_tensors(net);
    for (int i = nt - 1; i >= 0; i--) {
        ndx_param_info p;
        if (ndx_net_tensor(net, i, &p) || p.is_buffer || p.ndim != 2) continue;
        const int classes = (int)p.shape[0];
        const int dec = ndx__rank_has_decision(classes);
        if (p.shape[1] != units || classes < 1 || classes + dec > NDX_RANK_MAX_ROWS) {
            ndx__fail(NDX_ERR_INVALID, "rank: head %s is %lldx%lld, want classes (1..%d) x %d "
                      "units", p.name, (long long)p.shape[0], (long long)p.shape[1],
                      NDX_RANK_MAX_ROWS - 1, units);
            return 0;
        }
        memcpy(rows, p.data, (size_t)classes * units * sizeof *rows);
        for (int c = 0; c < classes; c++) snprintf(names[c], 16, "%d", c);
        if (!dec) return classes;
        ndx__rank_decision(p.data, classes, units, rows + (size_t)classes * units);
        snprintf(names[classes], 16, "decision");
        return classes + 1;
    }
    ndx__fail(NDX_ERR_INVALID, "rank: the net has no linear head");
    return 0;
}

/* The net at h x w with the weights of `from` (same tensors at any size). */
static ndx_status net_at(const ndx_net *from, int h, int w, ndx_net **out)
{
    ndx_net *net;
    ndx_status st = ndx_zoo_build_hw(ndx_net_arch(from), ndx_net_num_classes(from), h, w, 0,
                                     &net);
    if (st) return st;
    for (int i = 0; i < ndx_net_num_tensors(net); i++) {
        ndx_param_info a, b;
        ndx_net_tensor(from, i, &a);
        ndx_net_tensor(net, i, &b);
        memcpy(b.data, a.data, a.numel * sizeof *a.data);
    }
    ndx_net_touch(net);
    *out = net;
    return NDX_OK;
}

/* One whole image (gray in [0, 1], ih x iw) resized to oh x ow
 * (antialiased, as F.interpolate(antialias=True)), through the net up to
 * node; act: a view of that node's output (1, units, h, w).  *cache holds
 * the net planned at the last size (freed and rebuilt when it changes). */
ndx_status ndx__rank_image_forward(const ndx_net *base, ndx_net **cache, int node,
                                   const float *gray, int ih, int iw, int oh, int ow,
                                   ndx_tensor *act)
{
    if (oh < 1 || ow < 1 || oh > 8192 || ow > 8192)
        return ndx__fail(NDX_ERR_INVALID, "rank: image %dx%d resized to %dx%d (1..8192)", iw, ih,
                         ow, oh);
    ndx_status st = NDX_OK;
    if (*cache && ndx_net_input_size(*cache) != oh) ndx_net_free(*cache), *cache = NULL;
    if (*cache) {
        int c, h, w;
        ndx_net_node_shape(*cache, 0, &c, &h, &w);
        if (w != ow) ndx_net_free(*cache), *cache = NULL;
    }
    if (!*cache) {
        st = net_at(base, oh, ow, cache);
        if (!st) st = ndx_net_plan(*cache, 1, NDX_PLAN_INFER);
        if (st) {
            ndx_net_free(*cache), *cache = NULL;
            return st;
        }
    }
    const size_t plan_b = ndx_resize_aa_plan_size(ih, iw, oh, ow);
    void *pbuf = malloc(plan_b ? plan_b : 1);
    float *small = malloc((size_t)oh * ow * sizeof *small);
    float *x = malloc((size_t)3 * oh * ow * sizeof *x);
    float *work = malloc((size_t)iw * sizeof *work);
    if (!plan_b || !pbuf || !small || !x || !work) {
        st = ndx__fail(NDX_ERR_NOMEM, "rank: out of memory resizing %dx%d to %dx%d", iw, ih, ow, oh);
    } else {
        ndx_resize_aa_plan plan;
        ndx_resize_aa_plan_init(&plan, ih, iw, oh, ow, pbuf);
        ndx_kernels()->resize_aa.fn(&plan, 1, gray, small, work);
        ndx_gray_to_input(1, (size_t)oh * ow, small, x);
        st = ndx_net_forward(*cache, x, NDX_EVAL, node);
        if (!st) st = ndx_net_output(*cache, node, act);
    }
    free(pbuf), free(small), free(x), free(work);
    return st;
}

/* The same with the shorter side resized to short_side; maxact (units) the
 * per-channel maximum. */
ndx_status ndx__rank_image_max(const ndx_net *base, ndx_net **cache, int node, const float *gray,
                               int ih, int iw, int short_side, float *maxact)
{
    const int s = ih < iw ? ih : iw;
    const int oh = ih == s ? short_side : (int)lround((double)ih * short_side / s);
    const int ow = iw == s ? short_side : (int)lround((double)iw * short_side / s);
    ndx_tensor t;
    ndx_status st = ndx__rank_image_forward(base, cache, node, gray, ih, iw, oh, ow, &t);
    if (st) return st;
    const int units = (int)t.shape[1];
    const size_t hw = (size_t)t.shape[2] * t.shape[3];
    for (int u = 0; u < units; u++) {
        const float *m = t.data + (size_t)u * hw;
        float best = m[0];
        for (size_t i = 1; i < hw; i++) best = m[i] > best ? m[i] : best;
        maxact[u] = best;
    }
    return NDX_OK;
}
