/* The dissection pass (ndx_dissect_run): a model over a split's patches,
 * one or more layers at once, then the outputs.
 *
 *   open      the model, patches.csv, the split's patches of this shard, a
 *             state per layer;
 *   plan      one inference plan keeping every layer's output
 *             (ndx_net_keep_outputs), so one forward per batch serves all;
 *   order     a spread sample first (the states' warm-up), then the rest in
 *             patches.csv order (the images' patches stay together);
 *   pass      per batch: pixels and lesion masks (one per mask kind, from
 *             the table below), the forward, each layer's state fed;
 *   finish    thresholds and one-pass IoU; a second pass (IoU alone) for
 *             the layers with units outside their windows;
 *   write     units.csv, units.json, index.html, unit images, states.
 * Merge (opts.merge): two folders' states merged as one run over both, then
 * the same outputs. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "../data/data.h"
#include "netdx_nn.h"
#include "../io/io.h"

const ndx__mask_kind ndx__mask_kinds[NDX__MASK_KINDS] = {
    {"mass", NDX_LESION_MASS, 0},
    {"calcification", NDX_LESION_CALC, 0},
    {"vessel", NDX_LESION_VESSEL, 0},
    {"distortion", NDX_LESION_DISTORTION, 0},
    {"malignant", -1, 1},
    {"all", -1, 0},
};

typedef struct pass {
    const ndx_dissect_run_opts *o;
    ndx_net *net;
    ndx_patch_index ix;
    int have_ix;
    ndx_patch_cache *cache;
    int nl, S, M;                      /* layers, input size, mask size */
    int nodes[NDX_DISSECT_MAX_LAYERS];
    ndx_dissect *st[NDX_DISSECT_MAX_LAYERS];
    size_t *sel, nsel;
    /* per batch */
    float *gray, *x, *fmask;
    uint8_t *mask, *labels;
    const uint8_t **mptr;
    int64_t *ids;
    ndx_ioplan *plan;                  /* inputs and --out, checked and locked */
    ndx__dir out;                      /* --out, built under a temporary name */
    ndx_dissect_source src;            /* what this process's states are made from */
} pass;

void ndx_dissect_run_defaults(ndx_dissect_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->split = NDX_SPLIT_VAL;
    o->topk = 64;
    o->mode = NDX_THRESHOLD_QUANTILE;
    o->quantile = 0.005;
    o->batch = 16;
    o->images = 8;
    o->nshards = 1;
}

static ndx_status check_opts(const ndx_dissect_run_opts *o)
{
    if (!o) return ndx__fail(NDX_ERR_INVALID, "dissect_run: options are NULL");
    if (!o->merge[0] != !o->merge[1])
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: merge needs two folders");
    if (o->merge[0] && !o->out)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: merge needs an output folder");
    if (!o->merge[0] && (!o->model || !o->data))
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: a model and a data folder are needed");
    if (!o->merge[0] && (o->nlayers < 1 || o->nlayers > NDX_DISSECT_MAX_LAYERS))
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: %d layers (1..%d)", o->nlayers,
                         NDX_DISSECT_MAX_LAYERS);
    for (int l = 0; !o->merge[0] && l < o->nlayers; l++) {
        if (!o->layers[l]) return ndx__fail(NDX_ERR_INVALID, "dissect_run: layer %d is NULL", l);
        for (int k = 0; k < l; k++)
            if (!strcmp(o->layers[k], o->layers[l]))
                return ndx__fail(NDX_ERR_INVALID, "dissect_run: layer %s given twice", o->layers[l]);
    }
    if (o->split != NDX_SPLIT_TRAIN && o->split != NDX_SPLIT_VAL && o->split != NDX_SPLIT_TEST)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: split %d", o->split);
    if (o->batch < 1 || o->batch > 1024)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: batch %d out of range 1..1024", o->batch);
    if (o->mask_size && (o->mask_size < 8 || o->mask_size > 1024))
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: mask size %d out of range 8..1024",
                         o->mask_size);
    if ((unsigned)o->distinct > NDX_DISTINCT_NONE)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: distinct %d is not image, lesion or none",
                         (int)o->distinct);
    if ((unsigned)o->draw_threshold > NDX_DRAW_QUANTILE)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: draw threshold %d is not relative or "
                         "quantile", (int)o->draw_threshold);
    if (o->images < 0 || o->images > 64)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: images %d out of range 0..64", o->images);
    if (o->nshards < 1 || o->nshards > 100000 || o->shard < 0 || o->shard >= o->nshards)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: shard %d/%d is not I/N with 0 <= I < N "
                         "<= 100000", o->shard, o->nshards);
    if (!o->reduce != !o->bcast || (o->reduce && (o->merge[0] || o->stats_only)))
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: reduce needs bcast, and neither merge "
                         "nor stats_only");
    if (o->mode != NDX_THRESHOLD_QUANTILE && o->mode != NDX_THRESHOLD_RELATIVE)
        return ndx__fail(NDX_ERR_INVALID, "dissect_run: threshold mode %d is not quantile or "
                         "relative", (int)o->mode);
    return NDX_OK;
}

/* ---- files -------------------------------------------------------------- */
static int load_patch(void *ctx, int64_t id, float *px, int size)
{
    pass *p = ctx;
    if (id < 0 || (size_t)id >= p->ix.n) return -1;
    return ndx_patch_load(p->cache, &p->ix, (size_t)id, size, px) != NDX_OK;
}

static int locate_patch(void *ctx, int64_t id, char *path, size_t n, int box[4])
{
    pass *p = ctx;
    if (id < 0 || (size_t)id >= p->ix.n) return -1;
    const ndx_patch *q = &p->ix.patches[id];
    char *full = ndx__join(p->ix.dir, p->ix.images[q->image].path);
    const int k = full ? snprintf(path, n, "%s", full) : -1;
    free(full);
    box[0] = q->x, box[1] = q->y, box[2] = q->w, box[3] = q->h;
    return k > 0 && (size_t)k < n ? 0 : -1;
}

/* The union of the patch's lesion masks (every kind) at size x size. */
static int lesion_mask(void *ctx, int64_t id, uint8_t *mask, int size)
{
    pass *p = ctx;
    if (id < 0 || (size_t)id >= p->ix.n || size < 1) return -1;
    const size_t mm = (size_t)size * size;
    float *f = malloc(mm * 2 * NDX_LESION_KINDS * sizeof *f);
    if (!f || ndx_patch_masks(p->cache, &p->ix, (size_t)id, size, size, f) != NDX_OK) {
        free(f);
        return -1;
    }
    memset(mask, 0, mm);
    for (int k = 0; k < NDX_LESION_KINDS; k++)
        for (size_t q = 0; q < mm; q++)
            if (f[((size_t)k * 2 + 1) * mm + q] >= 0.5f) mask[q] = 1;
    free(f);
    return 0;
}

/* Per mask kind, the selected patches that hold a lesion of it (every
 * shard's under o->reduce: the root writes for all). */
static void kind_counts(const pass *p, uint64_t *n)
{
    memset(n, 0, NDX_DISSECT_MAX_MASKS * sizeof *n);
    const int all = p->o->reduce != NULL;
    for (size_t i = 0; i < (all ? p->ix.n : p->nsel); i++) {
        const ndx_patch *q = &p->ix.patches[all ? i : p->sel[i]];
        if (all && q->split != p->o->split) continue;
        for (int k = 0; k < NDX__MASK_KINDS; k++) {
            const ndx__mask_kind *kind = &ndx__mask_kinds[k];
            int any = 0;
            for (int les = 0; les < NDX_LESION_KINDS && !any; les++)
                if (kind->lesion < 0 || les == kind->lesion)
                    any = q->overlap[les][1] > 0 || (!kind->malignant_only && q->overlap[les][0] > 0);
            n[k] += (uint64_t)any;
        }
    }
}

/* dir/<layer>.dstate, '/' and ' ' in the name as '_' (allocated; NULL
 * when out of memory). */
static char *state_path(const char *dir, const char *layer)
{
    char *path = ndx__strf("%s/%s.dstate", dir, layer);
    for (char *s = path ? path + strlen(dir) + 1 : NULL; s && *s; s++)
        if (*s == '/' || *s == ' ') *s = '_';
    return path;
}

/* Before any work: the inputs (model, data, merged or threshold folders)
 * and --out checked and locked, then --out's temporary folder made (the
 * outputs go there; ndx_dissect_run renames it into place at the end). */
static ndx_status plan_pass(pass *p)
{
    const ndx_dissect_run_opts *o = p->o;
    ndx_status st = ndx_ioplan_new("dissect", &p->plan);
    if (!st) st = ndx_ioplan_input(p->plan, "--model", o->model, NULL);
    if (!st) st = ndx_ioplan_input(p->plan, "--thresholds-from", o->thresholds_from, NULL);
    if (!st) st = ndx_ioplan_input(p->plan, "--merge", o->merge[0], NULL);
    if (!st) st = ndx_ioplan_input(p->plan, "--merge", o->merge[1], NULL);
    if (!st && p->have_ix) st = ndx_ioplan_patches(p->plan, &p->ix);
    /* under o->reduce only the root (shard 0) writes --out */
    const char *out = o->reduce && o->shard != 0 ? NULL : o->out;
    if (!st) st = ndx_ioplan_output(p->plan, "--out", out, NDX_OUT_DIR | NDX_OUT_MKDIRS);
    static const char *const marks[] = {"units.csv", "units.json", NULL};
    if (!st) st = ndx_ioplan_begin(p->plan);
    if (!st && out) st = ndx__dir_replaceable(out, "dissect", marks);
    if (!st && out) st = ndx__dir_open(&p->out, out);
    return st;
}

/* The outputs (when o->out is set) into the temporary folder: tables,
 * images and the states. */
static ndx_status write_all(pass *p, int patch_size)
{
    const ndx_dissect_run_opts *o = p->o;
    if (!o->out) return NDX_OK;
    const int images = o->images && p->have_ix;
    uint64_t kinds[NDX_DISSECT_MAX_MASKS];
    kind_counts(p, kinds);
    ndx_dissect_output out = {.load = images ? load_patch : NULL, .load_ctx = p,
                              .patch_size = patch_size, .strip_count = o->images,
                              .locate = images ? locate_patch : NULL, .locate_ctx = p,
                              .network = p->net ? ndx_net_arch(p->net) : NULL,
                              .model = p->net ? o->model : NULL,
                              .unit_pages = images, .lesions = images ? lesion_mask : NULL,
                              .lesions_ctx = p, .distinct = o->distinct,
                              .draw_threshold = o->draw_threshold,
                              .split = o->merge[0] ? NULL : ndx_split_name(o->split),
                              .kind_patches = p->nsel ? kinds : NULL};
    const char *dir = p->out.tmp;
    ndx_status st = ndx_dissect_write(dir, (const ndx_dissect *const *)p->st, p->nl, &out);
    for (int l = 0; l < p->nl && !st; l++) {
        char *path = state_path(dir, ndx_dissect_layer(p->st[l]));
        st = path ? ndx_dissect_save(p->st[l], path) : NDX_ERR_NOMEM;
        free(path);
    }
    return st;
}

/* ---- opening ------------------------------------------------------------ */
/* The split's patches of this shard, in patches.csv order: patch j of n
 * in the split goes to shard j mod N (--shard), or under o->reduce to the
 * shard whose block [n s / N, n (s+1) / N) holds it, so that each process
 * decodes about 1/N of the mammograms (an image's patches are together). */
static ndx_status select_patches(pass *p)
{
    const ndx_dissect_run_opts *o = p->o;
    p->sel = malloc((p->ix.n ? p->ix.n : 1) * sizeof *p->sel);
    if (!p->sel) return ndx__fail(NDX_ERR_NOMEM, "dissect_run: out of memory");
    size_t n = 0, seen = 0;
    const size_t N = (size_t)o->nshards, s = (size_t)o->shard;
    for (size_t i = 0; i < p->ix.n; i++) n += p->ix.patches[i].split == o->split;
    for (size_t i = 0; i < p->ix.n; i++) {
        if (p->ix.patches[i].split != o->split) continue;
        const size_t j = seen++;
        if (o->reduce ? j >= n * s / N && j < n * (s + 1) / N : j % N == s) p->sel[p->nsel++] = i;
    }
    if (!p->nsel)
        return ndx__fail(NDX_ERR_INVALID, "%s has no %s patches%s: choose another split "
                         "(--split train|val|test) or rebuild the patches with more patients "
                         "(netdx patches --data %s; the counts per split are printed there)",
                         o->data, ndx_split_name(o->split), o->nshards > 1 ? " in this shard" : "",
                         o->data);
    return NDX_OK;
}

/* The model, the patches and a state per layer; *warm: the largest warm-up. */
static ndx_status open_pass(pass *p, int *warm)
{
    const ndx_dissect_run_opts *o = p->o;
    ndx_status st = ndx_patches_read(o->data, &p->ix);
    if (st) return st;
    p->have_ix = 1;
    if ((st = plan_pass(p)) || (st = ndx_net_load(o->model, &p->net))) return st;
    p->nl = o->nlayers;
    p->S = ndx_net_input_size(p->net);
    p->M = o->mask_size ? o->mask_size : p->S;
    *warm = 0;
    ndx_dissect_source src = {0, p->ix.digest, o->split, o->shard, o->nshards};
    if ((st = ndx_hash_file(o->model, 0, &src.model))) return st;
    p->src = src;
    for (int l = 0; l < p->nl; l++) {
        if ((p->nodes[l] = ndx_net_find(p->net, o->layers[l])) < 1)
            return ndx__fail(NDX_ERR_INVALID, "%s: %s has no node '%s' (see netdx info --model)",
                             o->model, ndx_net_arch(p->net), o->layers[l]);
        int c, h, w;
        ndx_net_node_shape(p->net, p->nodes[l], &c, &h, &w);
        ndx_dissect_config cfg = {.layer = o->layers[l], .units = c, .h = h, .w = w,
                                  .topk = o->topk, .mode = o->mode, .quantile = o->quantile};
        if ((st = ndx_dissect_new(&cfg, &p->st[l])) ||
            (st = ndx_dissect_set_source(p->st[l], &src)))
            return st;
        if (ndx_dissect_warmup(p->st[l]) > *warm) *warm = ndx_dissect_warmup(p->st[l]);
    }
    if ((st = select_patches(p))) return st;
    if ((st = ndx_net_keep_outputs(p->net, p->nodes, p->nl)) ||
        (st = ndx_net_plan(p->net, o->batch, NDX_PLAN_INFER)))
        return st;
    const size_t B = (size_t)o->batch, ss = (size_t)p->S * p->S, mm = (size_t)p->M * p->M;
    p->gray = malloc(B * ss * sizeof *p->gray);
    p->x = malloc(B * 3 * ss * sizeof *p->x);
    p->fmask = malloc((size_t)NDX_LESION_KINDS * 2 * mm * sizeof *p->fmask);
    p->mask = malloc(B * NDX__MASK_KINDS * mm);
    p->mptr = calloc(B * NDX__MASK_KINDS, sizeof *p->mptr);
    p->ids = malloc(B * sizeof *p->ids);
    p->labels = malloc(B);
    p->cache = ndx_patch_cache_new((size_t)256 << 20);
    if (!p->gray || !p->x || !p->fmask || !p->mask || !p->mptr || !p->ids || !p->labels ||
        !p->cache)
        return ndx__fail(NDX_ERR_NOMEM, "dissect_run: out of memory for batches of %d", o->batch);
    return NDX_OK;
}

/* Moves an evenly spaced sample of n of the patches to the front (the
 * states' warm-up); the rest keep their order (images stay together). */
static void spread_first(size_t *sel, size_t nsel, size_t n)
{
    if (n >= nsel || n == 0) return;
    size_t *tmp = malloc(nsel * sizeof *tmp);
    if (!tmp) return;   /* any order gives the same result: only the cost differs */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) tmp[k++] = sel[i * nsel / n];   /* increasing in i */
    for (size_t j = 0, i = 0; j < nsel; j++)
        if (i < n && j == i * nsel / n) i++;   /* sampled above */
        else tmp[k++] = sel[j];
    memcpy(sel, tmp, nsel * sizeof *sel);
    free(tmp);
}

/* thresholds_from: each layer's thresholds from that folder's state (set
 * there, or computed from its statistics). */
static ndx_status thresholds_from(pass *p)
{
    for (int l = 0; l < p->nl; l++) {
        char *path = state_path(p->o->thresholds_from, p->o->layers[l]);
        ndx_dissect *from = NULL;
        int units, fu;
        ndx_status st = path ? ndx_dissect_load(path, &from) : NDX_ERR_NOMEM;
        if (!st && (st = ndx__dissect_same_source(p->st[l], from, "--thresholds-from")))
            ndx_dissect_free(from);
        if (st) {
            free(path);
            return st;
        }
        ndx_dissect_dims(p->st[l], &units, NULL, NULL, NULL, NULL);
        ndx_dissect_dims(from, &fu, NULL, NULL, NULL, NULL);
        ndx_dissect_unit info;
        ndx_dissect_unit_info(from, 0, &info);
        if (isnan(info.threshold) && (st = ndx_dissect_set_thresholds(from, NULL))) {
            ndx_dissect_free(from);
            free(path);
            return st;
        }
        float *t = fu == units ? malloc((size_t)units * sizeof *t) : NULL;
        for (int u = 0; t && u < units; u++) {
            ndx_dissect_unit_info(from, u, &info);
            t[u] = info.threshold;
        }
        ndx_dissect_free(from);
        if (!t)
            st = fu == units ? ndx__fail(NDX_ERR_NOMEM, "dissect_run: out of memory")
                             : ndx__fail(NDX_ERR_SHAPE, "%s does not fit layer %s (%d units, "
                                         "not %d)", path, p->o->layers[l], fu, units);
        free(path);
        if (st) return st;
        st = ndx_dissect_set_thresholds(p->st[l], t);
        free(t);
        if (st) return st;
    }
    return NDX_OK;
}

/* ---- the pass ----------------------------------------------------------- */
/* Patch p's masks, one per kind (ndx__mask_kinds), into mk (kinds x M x M);
 * ptr[k] = the kind's mask, or NULL when the patch has none of it. */
static ndx_status patch_masks(pass *p, size_t patch, uint8_t *mk, const uint8_t **ptr)
{
    const size_t mm = (size_t)p->M * p->M;
    ndx_status st = ndx_patch_masks(p->cache, &p->ix, patch, p->M, p->M, p->fmask);
    if (st) return st;
    for (int k = 0; k < NDX__MASK_KINDS; k++) {
        const ndx__mask_kind *kind = &ndx__mask_kinds[k];
        uint8_t *m = mk + (size_t)k * mm;
        int any = 0;
        memset(m, 0, mm);
        for (int les = 0; les < NDX_LESION_KINDS; les++) {
            if (kind->lesion >= 0 && les != kind->lesion) continue;
            /* [lesion][0 malignant, 1 all][M][M] fractions */
            const float *f = p->fmask + ((size_t)les * 2 + (kind->malignant_only ? 0 : 1)) * mm;
            for (size_t q = 0; q < mm; q++)
                if (f[q] >= 0.5f) m[q] = 1, any = 1;
        }
        ptr[k] = any ? m : NULL;
    }
    return NDX_OK;
}

/* Patches sel[i .. i + n): pixels as the net's input, ids, labels, masks. */
static ndx_status load_batch(pass *p, size_t i, int n, int masks)
{
    const size_t ss = (size_t)p->S * p->S, mm = (size_t)p->M * p->M;
    memset(p->gray, 0, (size_t)p->o->batch * ss * sizeof *p->gray);
    for (int j = 0; j < n; j++) {
        const size_t q = p->sel[i + (size_t)j];
        ndx_status st = ndx_patch_load(p->cache, &p->ix, q, p->S, p->gray + (size_t)j * ss);
        if (st) return st;
        p->ids[j] = (int64_t)q;
        p->labels[j] = (uint8_t)(p->ix.patches[q].label != 0);
        if (masks &&
            (st = patch_masks(p, q, p->mask + (size_t)j * NDX__MASK_KINDS * mm,
                              p->mptr + (size_t)j * NDX__MASK_KINDS)))
            return st;
    }
    ndx_gray_to_input(p->o->batch, ss, p->gray, p->x);
    return NDX_OK;
}

/* One pass over the selected patches: what[l] = NDX_DISSECT_STATS and/or
 * _IOU for layer l, 0 to skip it; one forward per batch up to the deepest
 * layer fed. */
static ndx_status run_pass(pass *p, const int *what)
{
    const int B = p->o->batch;
    int masks = 0, until = 0;
    for (int l = 0; l < p->nl; l++)
        if (what[l]) {
            masks |= (what[l] & NDX_DISSECT_IOU) != 0;
            if (p->nodes[l] > until) until = p->nodes[l];
        }
    for (size_t i = 0; i < p->nsel; i += (size_t)B) {
        const int n = p->nsel - i < (size_t)B ? (int)(p->nsel - i) : B;
        ndx_status st = load_batch(p, i, n, masks);
        if (!st) st = ndx_net_forward(p->net, p->x, NDX_EVAL, until);
        for (int l = 0; l < p->nl && !st; l++) {
            ndx_tensor t;
            if (!what[l] || (st = ndx_net_output(p->net, p->nodes[l], &t))) continue;
            ndx_dissect_batch b = {n, t.data, p->ids, p->labels, p->M, p->M, p->mptr};
            st = ndx_dissect_add(p->st[l], &b, what[l]);
        }
        if (st) return st;
        if (p->o->progress) p->o->progress(p->o->progress_ctx, i + (size_t)n, p->nsel);
    }
    return NDX_OK;
}

/* ---- results ------------------------------------------------------------ */
/* Per layer and mask kind the unit of highest IoU (as ndx_dissect_unit_info
 * gives it; the first of equals). */
static void fill_result(ndx_dissect *const *st, int nl, ndx_dissect_run_result *r)
{
    r->nlayers = nl;
    for (int l = 0; l < nl; l++) {
        ndx_dissect_run_layer *L = &r->layer[l];
        int units, nm;
        ndx_dissect_dims(st[l], &units, NULL, NULL, NULL, &nm);
        snprintf(L->name, sizeof L->name, "%s", ndx_dissect_layer(st[l]));
        L->units = units;
        r->nmasks = nm;
        for (int m = 0; m < nm; m++) {
            snprintf(r->mask_names[m], sizeof r->mask_names[m], "%s",
                     ndx_dissect_mask_name(st[l], m));
            L->best_unit[m] = -1;
            L->best_iou[m] = NAN;
            if (!ndx_dissect_patches(st[l], 1)) continue;
            double iou = -1;
            for (int u = 0; u < units; u++) {
                ndx_dissect_unit info;
                ndx_dissect_unit_info(st[l], u, &info);
                if (info.iou[m] > iou) iou = info.iou[m], L->best_unit[m] = u;
            }
            L->best_iou[m] = iou;
        }
    }
}

static void close_pass(pass *p, ndx_dissect_run_result *r)
{
    for (int l = 0; l < NDX_DISSECT_MAX_LAYERS; l++) {
        if (r && p->o->keep_states) r->state[l] = p->st[l];
        else ndx_dissect_free(p->st[l]);
    }
    free(p->gray), free(p->x), free(p->fmask), free(p->mask), free(p->mptr), free(p->ids);
    free(p->labels), free(p->sel);
    if (p->cache) ndx_patch_cache_free(p->cache);
    if (p->have_ix) ndx_patches_free(&p->ix);
    ndx_net_free(p->net);
    ndx__dir_abort(&p->out);   /* a failed run: its temporary folder removed */
    ndx_ioplan_free(p->plan);
}

/* Finishes the one pass; a second pass over the layers with units outside
 * their IoU windows. */
static ndx_status finish(pass *p, int *what, ndx_dissect_run_result *r)
{
    int second = 0;
    for (int l = 0; l < p->nl; l++) {
        int missed;
        ndx_status st = ndx_dissect_finish(p->st[l], &missed);
        if (st) return st;
        what[l] = missed ? NDX_DISSECT_IOU : 0;
        r->layer[l].missed = missed;
        second |= missed != 0;
    }
    r->passes = 1 + second;
    return second ? run_pass(p, what) : NDX_OK;
}

/* Under o->reduce: every process's states of one pass (windows open, not
 * finished: finishing a shard's state alone would close the windows its
 * own thresholds miss, and the merge needs them) merged into the root's,
 * finished there; *again (on every process) when a threshold falls
 * outside the merged IoU windows. */
static ndx_status reduce_pass(pass *p, int *root, int *again, ndx_dissect_run_result *r)
{
    const ndx_dissect_run_opts *o = p->o;
    int missed = 0, any = 0;
    ndx_status st = NDX_OK;
    for (int l = 0; l < p->nl && !st; l++) st = ndx__dissect_open_windows(p->st[l]);
    if (st) return st;   /* before any collective: the caller aborts the job (the others wait in it) */
    st = (ndx_status)o->reduce(o->reduce_ctx, p->st, p->nl, root);
    for (int l = 0; l < p->nl && !st && *root; l++) {
        st = ndx_dissect_finish(p->st[l], &missed);
        r->layer[l].missed = missed;
        any |= missed != 0;
    }
    int32_t flag = st ? -1 : any;   /* a failed root stops every process */
    if (o->bcast(o->reduce_ctx, &flag, sizeof flag) || st) return st ? st : ndx__fail(NDX_ERR_IO,
        "dissect_run: the broadcast failed");
    if (flag < 0) return ndx__fail(NDX_ERR_IO, "dissect_run: the root process failed");
    *again = flag;
    return NDX_OK;
}

/* Under o->reduce, after a pass whose merged thresholds fell outside the
 * windows: fresh states at the root's thresholds, a second full pass (exact
 * IoU at those thresholds), merged again. */
static ndx_status again_pass(pass *p, int *what, int *root, ndx_dissect_run_result *r)
{
    ndx_status st = NDX_OK;
    for (int l = 0; l < p->nl && !st; l++) {
        int units;
        ndx_dissect_dims(p->st[l], &units, NULL, NULL, NULL, NULL);
        float *t = malloc((size_t)units * sizeof *t);
        if (!t) return ndx__fail(NDX_ERR_NOMEM, "dissect_run: out of memory");
        for (int u = 0; u < units && *root; u++) {
            ndx_dissect_unit info;
            ndx_dissect_unit_info(p->st[l], u, &info);
            t[u] = info.threshold;
        }
        st = (ndx_status)p->o->bcast(p->o->reduce_ctx, t, (size_t)units * sizeof *t);
        ndx_dissect *fresh = NULL;
        ndx_dissect_config cfg = {.layer = p->o->layers[l], .units = units, .topk = p->o->topk,
                                  .mode = p->o->mode, .quantile = p->o->quantile};
        ndx_dissect_dims(p->st[l], NULL, &cfg.h, &cfg.w, NULL, NULL);
        if (!st) st = ndx_dissect_new(&cfg, &fresh);
        if (!st) st = ndx_dissect_set_source(fresh, &p->src);
        if (!st) st = ndx_dissect_set_thresholds(fresh, t);
        free(t);
        ndx_dissect_free(p->st[l]);
        p->st[l] = fresh;
        what[l] = NDX_DISSECT_STATS | NDX_DISSECT_IOU;
    }
    int again = 0;
    if (!st) st = run_pass(p, what);
    if (!st) st = reduce_pass(p, root, &again, r);
    r->passes = 2;
    return st;
}

/* One pass, the states merged on the root (o->reduce), a second pass when
 * needed; only the root writes. */
static ndx_status reduced_run(pass *p, int *what, ndx_dissect_run_result *r)
{
    int root = 0, again = 0;
    int missed[NDX_DISSECT_MAX_LAYERS];
    ndx_status st = run_pass(p, what);
    if (!st) st = reduce_pass(p, &root, &again, r);
    for (int l = 0; l < p->nl; l++) missed[l] = r->layer[l].missed;
    if (!st && again) st = again_pass(p, what, &root, r);
    for (int l = 0; l < p->nl; l++) r->layer[l].missed = missed[l];
    if (!st && root) {
        r->patches = ndx_dissect_patches(p->st[0], 0);
        if (!(st = write_all(p, p->S)) && p->o->out) st = ndx__dir_commit(&p->out);
        if (!st) fill_result(p->st, p->nl, r);
    }
    r->root = root;
    return st;
}

static ndx_status merge_run(const ndx_dissect_run_opts *o, ndx_dissect_run_result *r);

ndx_status ndx_dissect_run(const ndx_dissect_run_opts *o, ndx_dissect_run_result *r)
{
    if (!r) return ndx__fail(NDX_ERR_INVALID, "dissect_run: result is NULL");
    memset(r, 0, sizeof *r);
    ndx_status st = check_opts(o);
    if (st) return st;
    r->root = 1;
    if (o->merge[0]) return merge_run(o, r);
    pass p = {.o = o};
    int warm, what[NDX_DISSECT_MAX_LAYERS] = {0};
    if ((st = open_pass(&p, &warm))) goto done;
    spread_first(p.sel, p.nsel, (size_t)warm);
    for (int l = 0; l < p.nl; l++) what[l] = NDX_DISSECT_STATS | (o->stats_only ? 0 : NDX_DISSECT_IOU);
    if (o->thresholds_from && !o->stats_only && (st = thresholds_from(&p))) goto done;
    r->patches = p.nsel;
    snprintf(r->network, sizeof r->network, "%s", ndx_net_arch(p.net));
    if (o->reduce) {
        st = reduced_run(&p, what, r);
        goto done;
    }
    if ((st = run_pass(&p, what)) || (st = finish(&p, what, r))) goto done;
    if ((st = write_all(&p, p.S))) goto done;
    if (o->out && (st = ndx__dir_commit(&p.out))) goto done;
    fill_result(p.st, p.nl, r);
done:
    close_pass(&p, st ? NULL : r);
    return st;
}

/* ---- merging two runs' states ------------------------------------------- */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The .dstate names in dir, sorted; *n of them (at most the room). */
static ndx_status state_names(const char *dir, char names[][256], int *n)
{
    DIR *d = opendir(dir);
    if (!d) return ndx__fail(NDX_ERR_IO, "%s: cannot open the folder", dir);
    struct dirent *e;
    *n = 0;
    while ((e = readdir(d))) {
        const size_t k = strlen(e->d_name);
        if (k < 8 || k >= 256 || strcmp(e->d_name + k - 7, ".dstate")) continue;
        if (*n == NDX_DISSECT_MAX_LAYERS) {
            closedir(d);
            return ndx__fail(NDX_ERR_INVALID, "%s: more than %d .dstate files", dir,
                             NDX_DISSECT_MAX_LAYERS);
        }
        memcpy(names[(*n)++], e->d_name, k + 1);
    }
    closedir(d);
    if (!*n) return ndx__fail(NDX_ERR_INVALID, "no .dstate files in %s", dir);
    const char *ptr[NDX_DISSECT_MAX_LAYERS];
    char sorted[NDX_DISSECT_MAX_LAYERS][256];
    for (int i = 0; i < *n; i++) ptr[i] = names[i];
    qsort(ptr, (size_t)*n, sizeof *ptr, cmp_name);
    for (int i = 0; i < *n; i++) memcpy(sorted[i], ptr[i], strlen(ptr[i]) + 1);
    memcpy(names, sorted, sizeof(sorted[0]) * (size_t)*n);
    return NDX_OK;
}

/* Merges the states of merge[0] and merge[1] layer by layer (the same
 * files in both) into p->st. */
static ndx_status merge_states(pass *p)
{
    const ndx_dissect_run_opts *o = p->o;
    char names[NDX_DISSECT_MAX_LAYERS][256];
    int n = 0;
    ndx_status st = state_names(o->merge[0], names, &n);
    for (int l = 0; l < n && !st; l++) {
        char *pa = ndx__join(o->merge[0], names[l]), *pb = ndx__join(o->merge[1], names[l]);
        ndx_dissect *b = NULL;
        int missed = 0;
        p->nl = l + 1;
        if (!pa || !pb) st = NDX_ERR_NOMEM;
        else if (!(st = ndx_dissect_load(pa, &p->st[l])) && !(st = ndx_dissect_load(pb, &b)) &&
            !(st = ndx_dissect_merge(p->st[l], b)) && !(st = ndx_dissect_finish(p->st[l], &missed)) &&
            missed)
            st = ndx__fail(NDX_ERR_INVALID, "%s: the merged threshold of %d units falls outside "
                           "the shards' IoU windows; dissect the shards with statistics only, "
                           "merge those, and dissect each shard again with the merged "
                           "thresholds (--stats-only, --thresholds-from)", names[l], missed);
        ndx_dissect_free(b);
        free(pa), free(pb);
    }
    return st;
}

/* Every top-k patch id of the merged states names a patch of the index
 * (ids from the files, checked before they index it). */
static ndx_status check_ids(const pass *p)
{
    for (int l = 0; l < p->nl; l++) {
        const ndx_dissect *d = p->st[l];
        for (size_t i = 0; i < (size_t)d->units * d->topk; i++)
            if (i % d->topk < (size_t)d->hsize[i / d->topk] &&
                (d->hid[i] < 0 || (uint64_t)d->hid[i] >= p->ix.n))
                return ndx__fail(NDX_ERR_FORMAT, "the states of layer %s in %s and %s: unit %zu "
                                 "has patch id %lld in its top-k, but %s/patches.csv has %zu "
                                 "patches", d->layer, p->o->merge[0], p->o->merge[1],
                                 i / d->topk, (long long)d->hid[i], p->o->data, p->ix.n);
    }
    return NDX_OK;
}

/* The --model or --data given to a merge (digest now) against what the
 * merged states were made from (was; 0 when they record nothing). */
static ndx_status given_is_source(const char *opt, const char *path, uint64_t was, uint64_t now)
{
    if (!was || was == now) return NDX_OK;
    return ndx__fail(NDX_ERR_INVALID, "--%s %s (XXH3 %016llx) is not the %s the states were made "
                     "from (XXH3 %016llx): give that one, or leave --%s out", opt, path,
                     (unsigned long long)now, opt[0] == 'm' ? "model" : "patches.csv",
                     (unsigned long long)was, opt);
}

static ndx_status merge_run(const ndx_dissect_run_opts *o, ndx_dissect_run_result *r)
{
    pass p = {.o = o};
    ndx_status st = NDX_OK;
    if (o->data && o->images) {
        if (!(st = ndx_patches_read(o->data, &p.ix))) {
            p.have_ix = 1;
            p.cache = ndx_patch_cache_new((size_t)256 << 20);
            if (!p.cache) st = ndx__fail(NDX_ERR_NOMEM, "dissect_run: out of memory");
        }
    }
    if (!st) st = plan_pass(&p);
    if (!st) st = merge_states(&p);
    ndx_dissect_source src = {0};
    const int has_src = !st && ndx_dissect_get_source(p.st[0], &src, NULL);
    uint64_t now;
    if (has_src && o->model && !(st = ndx_hash_file(o->model, 0, &now)))
        st = given_is_source("model", o->model, src.model, now);
    if (!st && has_src && p.have_ix) st = given_is_source("data", o->data, src.data, p.ix.digest);
    if (!st && p.have_ix) st = check_ids(&p);
    if (!st && o->model && !(st = ndx_net_load(o->model, &p.net)))
        snprintf(r->network, sizeof r->network, "%s", ndx_net_arch(p.net));
    if (!st) st = write_all(&p, o->mask_size ? o->mask_size : p.net ? ndx_net_input_size(p.net) : 128);
    if (!st) st = ndx__dir_commit(&p.out);
    if (!st) {
        r->patches = ndx_dissect_patches(p.st[0], 0);
        fill_result(p.st, p.nl, r);
    }
    close_pass(&p, st ? NULL : r);
    return st;
}
