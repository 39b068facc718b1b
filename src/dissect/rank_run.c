/* ndx_rank_run: the unit ranking over a data folder's split (DeepMiner over
 * whole images, or gradient x activation over positive patches), and its
 * outputs rank.csv / rank.json (ndx_rank_write). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dissect.h"
#include "netdx_nn.h"
#include "rank_int.h"
#include "../data/data.h"
#include "../io/io.h"

static const char *method_name(ndx_rank_method m)
{
    return m == NDX_RANK_GRADXACT ? "gradxact" : "deepminer";
}

static ndx_status check_opts(const ndx_rank_opts *o)
{
    if (!o || !o->model || !o->data)
        return ndx__fail(NDX_ERR_INVALID, "rank: no model or data folder given");
    if (o->split < NDX_SPLIT_TRAIN || o->split > NDX_SPLIT_TEST)
        return ndx__fail(NDX_ERR_INVALID, "rank: split %d", o->split);
    if (o->method != NDX_RANK_DEEPMINER && o->method != NDX_RANK_GRADXACT)
        return ndx__fail(NDX_ERR_INVALID, "rank: method %d", (int)o->method);
    if (o->top < 1 || o->show < 1)
        return ndx__fail(NDX_ERR_INVALID, "rank: top %d, show %d (>= 1)", o->top, o->show);
    if (o->scale < 1 || o->scale > 32)
        return ndx__fail(NDX_ERR_INVALID, "rank: scale %d (1..32)", o->scale);
    if (o->batch < 1 || o->batch > 256)
        return ndx__fail(NDX_ERR_INVALID, "rank: batch %d (1..256)", o->batch);
    return NDX_OK;
}

/* The node to rank: DeepMiner's is the one feeding the global pool (a
 * --layer must name it); gradxact takes --layer, else that node, else the
 * last convolution.  -1 on error. */
static int pick_layer(const ndx_net *net, const ndx_rank_opts *o)
{
    int want = -1;
    if (o->layer && (want = ndx_net_find(net, o->layer)) < 1) {
        ndx__fail(NDX_ERR_INVALID, "rank: %s has no layer '%s' (netdx info --model %s lists "
                  "them)", ndx_net_arch(net), o->layer, o->model);
        return -1;
    }
    if (o->method == NDX_RANK_GRADXACT) {
        if (want > 0) return want;
        int n = ndx_rank_pooled_layer(net);
        for (int i = ndx_net_num_nodes(net) - 1; n < 0 && i > 0; i--)
            if (ndx_net_node_op(net, i) == NDX_OP_CONV) n = i;
        return n;
    }
    const int pooled = ndx_rank_pooled_layer(net);
    if (pooled < 0 || want < 0 || want == pooled) return pooled;
    ndx__fail(NDX_ERR_INVALID, "rank: DeepMiner ranks the layer that feeds the global pool "
              "(%s), not %s; use --method gradxact for another layer",
              ndx_net_node_name(net, pooled), o->layer);
    return -1;
}

typedef struct run {
    const ndx_rank_opts *o;
    ndx_net *net;
    int node, units, nrows;
    float *weights;                       /* nrows x units */
    ndx_patch_index ix;
    ndx__rank_acc acc;
} run;

/* Every image of the split (one with a patch in it): whole, through the
 * net, each unit's max x its weight per row. */
static ndx_status deepminer(run *r)
{
    const ndx_rank_opts *o = r->o;
    unsigned char *in = calloc(r->ix.nimages ? r->ix.nimages : 1, 1);
    if (!in) return ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < r->ix.n; i++)
        if (r->ix.patches[i].split == o->split) in[r->ix.patches[i].image] = 1;
    for (size_t i = 0; i < r->ix.nimages; i++) total += in[i];
    ndx_status st = NDX_OK;
    if (!total)
        st = ndx__fail(NDX_ERR_INVALID, "rank: %s/patches.csv has no %s images; rank another "
                       "split (--split) or add patients", o->data, ndx_split_name(o->split));
    float *maxact = malloc((size_t)r->units * sizeof *maxact);
    float *c = malloc((size_t)r->units * sizeof *c);
    if (!st && (!maxact || !c)) st = ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
    ndx_net *cache = NULL;
    const int short_side = o->scale * ndx_net_input_size(r->net);
    for (size_t i = 0; !st && i < r->ix.nimages; i++) {
        if (!in[i]) continue;
        char *path = ndx__join(r->ix.dir, r->ix.images[i].path);
        if (!path) {
            st = NDX_ERR_NOMEM;
            break;
        }
        ndx_image img;
        if ((st = ndx_image_read(path, 0, &img, NULL))) {
            free(path);
            break;
        }
        const size_t npx = (size_t)img.w * img.h;
        float *gray = malloc(npx * sizeof *gray);
        if (!gray) st = ndx__fail(NDX_ERR_NOMEM, "rank: out of memory for %s", path);
        for (size_t p = 0; gray && p < npx; p++) gray[p] = (float)img.px[p] / (float)img.maxval;
        if (!st) st = ndx__rank_image_max(r->net, &cache, r->node, gray, img.h, img.w,
                                          short_side, maxact);
        free(gray);
        ndx_image_free(&img);
        if (st) {
            st = ndx__fail(st, "rank: %s: %s", path, ndx_last_error());
            free(path);
            break;
        }
        for (int u = 0; u < r->units && !st; u++)
            if (!isfinite(maxact[u]))
                st = ndx__fail(NDX_ERR_INVALID, "rank: %s: unit %d of %s is not finite (%g)",
                               path, u, ndx_net_node_name(r->net, r->node), maxact[u]);
        free(path);
        for (int row = 0; !st && row < r->nrows; row++) {
            for (int u = 0; u < r->units; u++)
                c[u] = maxact[u] * r->weights[(size_t)row * r->units + u];
            ndx__rank_acc_add(&r->acc, row, c);
        }
        if (o->progress) o->progress(o->progress_ctx, ++done, total);
    }
    ndx_net_free(cache);
    free(in), free(maxact), free(c);
    return st;
}

/* sum_xy grad x act per (patch, unit) for the planned batch, into s. */
static ndx_status batch_gradxact(run *r, int classes, const float *x, float *s)
{
    const int B = ndx_net_batch(r->net);
    ndx_status st = ndx_net_forward(r->net, x, NDX_EVAL, -1);
    ndx_tensor act, grad;
    if (!st) st = ndx_net_output(r->net, r->node, &act);
    float *dl = calloc((size_t)B * classes, sizeof *dl);
    if (!dl) return ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
    const size_t hw = st ? 0 : (size_t)act.shape[2] * act.shape[3];
    for (int c = 0; !st && c < classes; c++) {
        for (int b = 0; b < B; b++)
            for (int k = 0; k < classes; k++) dl[(size_t)b * classes + k] = k == c;
        ndx_net_zero_grads(r->net);
        st = ndx_net_backward(r->net, dl);
        if (!st) st = ndx_net_grad_output(r->net, r->node, &grad);
        for (int b = 0; !st && b < B; b++)
            for (int u = 0; u < r->units; u++) {
                const size_t off = ((size_t)b * r->units + u) * hw;
                double sum = 0;
                for (size_t i = 0; i < hw; i++) sum += (double)grad.data[off + i] * act.data[off + i];
                s[((size_t)b * r->nrows + c) * r->units + u] = (float)sum;
            }
    }
    if (!st && r->nrows > classes)   /* the decision: z1 - z0, or z2 - (z0 + z1) / 2 */
        for (int b = 0; b < B; b++) {
            float *p = s + (size_t)b * r->nrows * r->units;
            ndx__rank_decision(p, classes, r->units, p + (size_t)classes * r->units);
        }
    free(dl);
    return st;
}

/* The split's positive patches at the network's input, in batches. */
static ndx_status gradxact(run *r)
{
    const ndx_rank_opts *o = r->o;
    const int S = ndx_net_input_size(r->net), B = o->batch;
    const int classes = ndx_net_num_classes(r->net);
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < r->ix.n; i++)
        total += r->ix.patches[i].split == o->split && r->ix.patches[i].label;
    if (!total)
        return ndx__fail(NDX_ERR_INVALID, "rank: %s/patches.csv has no positive %s patches; "
                         "rank another split (--split) or add patients", o->data,
                         ndx_split_name(o->split));
    ndx_status st = ndx_net_keep_outputs(r->net, &r->node, 1);   /* its gradient too */
    if (!st) st = ndx_net_plan(r->net, B, NDX_PLAN_TRAIN);
    if (st) return st;
    ndx_patch_cache *cache = ndx_patch_cache_new((size_t)256 << 20);
    float *gray = calloc((size_t)B * S * S, sizeof *gray);
    float *x = malloc((size_t)B * 3 * S * S * sizeof *x);
    float *s = malloc((size_t)B * r->nrows * r->units * sizeof *s);
    if (!cache || !gray || !x || !s) st = ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
    size_t next = 0;
    while (!st && done < total) {
        int n = 0;
        for (; next < r->ix.n && n < B; next++) {
            const ndx_patch *p = &r->ix.patches[next];
            if (p->split != o->split || !p->label) continue;
            if ((st = ndx_patch_load(cache, &r->ix, next, S, gray + (size_t)n * S * S))) break;
            n++;
        }
        if (st) break;
        memset(gray + (size_t)n * S * S, 0, (size_t)(B - n) * S * S * sizeof *gray);
        ndx_gray_to_input(B, (size_t)S * S, gray, x);
        if ((st = batch_gradxact(r, classes, x, s))) break;
        for (size_t i = 0; i < (size_t)n * r->nrows * r->units; i++)
            if (!isfinite(s[i])) {
                st = ndx__fail(NDX_ERR_INVALID, "rank: gradient x activation of %s is not "
                               "finite (unit %zu)", ndx_net_node_name(r->net, r->node),
                               i % (size_t)r->units);
                break;
            }
        if (st) break;
        for (int b = 0; b < n; b++)
            for (int row = 0; row < r->nrows; row++)
                ndx__rank_acc_add(&r->acc, row, s + ((size_t)b * r->nrows + row) * r->units);
        done += (uint64_t)n;
        if (o->progress) o->progress(o->progress_ctx, done, total);
    }
    ndx_patch_cache_free(cache);
    free(gray), free(x), free(s);
    return st;
}

static ndx_status setup(run *r, ndx_rank_result *res)
{
    const ndx_rank_opts *o = r->o;
    ndx_status st = ndx_net_load(o->model, &r->net);
    if (st) return st;
    if ((r->node = pick_layer(r->net, o)) < 0) return NDX_ERR_INVALID;
    int h, w;
    ndx_net_node_shape(r->net, r->node, &r->units, &h, &w);
    if (o->top > r->units)
        return ndx__fail(NDX_ERR_INVALID, "rank: --top %d is more than the %d units of %s",
                         o->top, r->units, ndx_net_node_name(r->net, r->node));
    r->weights = malloc((size_t)NDX_RANK_MAX_ROWS * r->units * sizeof *r->weights);
    if (!r->weights) return ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
    if (o->method == NDX_RANK_DEEPMINER) {
        if (!(r->nrows = ndx__rank_rows(r->net, r->units, r->weights, res->row_name)))
            return NDX_ERR_INVALID;
    } else {
        const int classes = ndx_net_num_classes(r->net);
        const int dec = ndx__rank_has_decision(classes);
        if (classes + dec > NDX_RANK_MAX_ROWS)
            return ndx__fail(NDX_ERR_INVALID, "rank: %d classes (at most %d)", classes,
                             NDX_RANK_MAX_ROWS - 1);
        for (int c = 0; c < classes; c++) snprintf(res->row_name[c], 16, "%d", c);
        if (dec) snprintf(res->row_name[classes], 16, "decision");
        r->nrows = classes + dec;
    }
    if ((st = ndx__rank_acc_init(&r->acc, r->units, r->nrows, o->top))) return st;
    return ndx_patches_read(o->data, &r->ix);
}

/* Before the ranking pass: the model, the data and --out's rank.csv and
 * rank.json (the folder made when missing) checked and locked. */
static ndx_status plan_rank(const ndx_rank_opts *o, const ndx_patch_index *ix, ndx_ioplan **p)
{
    ndx_status st = ndx_ioplan_new("rank", p);
    if (!st) st = ndx_ioplan_input(*p, "--model", o->model, NULL);
    if (!st) st = ndx_ioplan_patches(*p, ix);
    static const char *const names[] = {"rank.csv", "rank.json"};
    for (int i = 0; i < 2 && !st && o->out; i++) {
        const size_t n = strlen(o->out) + 16;
        char *path = malloc(n);
        if (!path) return ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
        snprintf(path, n, "%s/%s", o->out, names[i]);
        st = ndx_ioplan_output(*p, names[i], path, NDX_OUT_MKDIRS);
        free(path);
    }
    return st ? st : ndx_ioplan_begin(*p);
}

ndx_status ndx_rank_run(const ndx_rank_opts *o, ndx_rank_result *res)
{
    if (!res) return ndx__fail(NDX_ERR_INVALID, "rank: no result");
    memset(res, 0, sizeof *res);
    ndx_status st = check_opts(o);
    if (st) return st;
    run r = {.o = o};
    ndx_ioplan *plan = NULL;
    st = setup(&r, res);
    if (!st) st = plan_rank(o, &r.ix, &plan);
    if (!st) st = o->method == NDX_RANK_DEEPMINER ? deepminer(&r) : gradxact(&r);
    if (!st) {
        res->units = r.units, res->nrows = r.nrows, res->items = r.acc.items;
        snprintf(res->network, sizeof res->network, "%s", ndx_net_arch(r.net));
        snprintf(res->layer, sizeof res->layer, "%s", o->layer ? o->layer
                 : ndx_net_node_name(r.net, r.node));
        res->ranking = malloc((size_t)r.nrows * r.units * sizeof *res->ranking);
        if (!res->ranking) st = ndx__fail(NDX_ERR_NOMEM, "rank: out of memory");
        else ndx__rank_acc_finish(&r.acc, o->method == NDX_RANK_GRADXACT, res->ranking);
    }
    if (!st && o->out) st = ndx_rank_write(o->out, res, o->show, o->method, o->top);
    if (st) ndx_rank_free(res);
    ndx__rank_acc_free(&r.acc);
    free(r.weights);
    if (r.ix.manifest.rows || r.ix.images) ndx_patches_free(&r.ix);
    ndx_net_free(r.net);
    ndx_ioplan_free(plan);
    return st;
}

/* rank.csv: one line per (row, shown unit). */
typedef struct csv_ctx { const ndx_rank_result *r; int show; const char *method; } csv_ctx;

static ndx_status fill_csv(FILE *f, void *ctx)
{
    const csv_ctx *c = ctx;
    const ndx_rank_result *r = c->r;
    fprintf(f, "network,layer,method,class,rank,unit,unit_name,count,mean_contribution\n");
    for (int row = 0; row < r->nrows; row++)
        for (int k = 0; k < c->show && k < r->units; k++) {
            const ndx_rank_unit *u = &r->ranking[(size_t)row * r->units + k];
            const char *fields[4] = {r->network, r->layer, c->method, r->row_name[row]};
            for (int i = 0; i < 4; i++) {
                ndx__csv_put(f, fields[i]);
                fputc(',', f);
            }
            fprintf(f, "%d,%d,unit_%04d,%d,%.9g\n", k + 1, u->unit, u->unit + 1, u->count,
                    u->mean);
        }
    return NDX_OK;
}

static cJSON *json_of(const ndx_rank_result *r, int show, const char *method, int top)
{
    cJSON *root = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    if (!root || !rows) {
        cJSON_Delete(root), cJSON_Delete(rows);
        return NULL;
    }
    cJSON_AddItemToObject(root, "rankings", rows);
    int ok = cJSON_AddStringToObject(root, "network", r->network) &&
             cJSON_AddStringToObject(root, "layer", r->layer) &&
             cJSON_AddStringToObject(root, "method", method) &&
             cJSON_AddNumberToObject(root, "top", top) &&
             cJSON_AddNumberToObject(root, "units", r->units) &&
             cJSON_AddNumberToObject(root, "items", (double)r->items);
    for (int row = 0; ok && row < r->nrows; row++) {
        cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
        ok = o && list && cJSON_AddItemToArray(rows, o) && cJSON_AddItemToObject(o, "units", list);
        if (!ok) {
            cJSON_Delete(o), cJSON_Delete(list);
            break;
        }
        ok = cJSON_AddStringToObject(o, "class", r->row_name[row]) != NULL;
        for (int k = 0; ok && k < show && k < r->units; k++) {
            const ndx_rank_unit *u = &r->ranking[(size_t)row * r->units + k];
            char name[24];
            snprintf(name, sizeof name, "unit_%04d", u->unit + 1);
            cJSON *e = cJSON_CreateObject();
            ok = e && cJSON_AddItemToArray(list, e) && cJSON_AddNumberToObject(e, "rank", k + 1) &&
                 cJSON_AddNumberToObject(e, "unit", u->unit) &&
                 cJSON_AddStringToObject(e, "unit_name", name) &&
                 cJSON_AddNumberToObject(e, "count", u->count) &&
                 ndx__json_num(e, "mean_contribution", u->mean);
        }
    }
    if (!ok) cJSON_Delete(root);
    return ok ? root : NULL;
}

ndx_status ndx_rank_write(const char *dir, const ndx_rank_result *r, int show,
                          ndx_rank_method method, int top)
{
    if (!dir || !r || !r->ranking || show < 1)
        return ndx__fail(NDX_ERR_INVALID, "rank_write: no folder, no ranking or show %d", show);
    ndx_status st = ndx__mkdirs(dir);
    if (st) return st;
    char path[4096];
    const char *m = method_name(method);
    snprintf(path, sizeof path, "%s/rank.csv", dir);
    csv_ctx c = {r, show, m};
    if ((st = ndx__write_file(path, fill_csv, &c))) return st;
    cJSON *root = json_of(r, show, m, top);
    if (!root) return ndx__fail(NDX_ERR_NOMEM, "rank_write: out of memory");
    snprintf(path, sizeof path, "%s/rank.json", dir);
    st = ndx__json_write(path, root);
    cJSON_Delete(root);
    return st;
}
