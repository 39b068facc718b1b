/* netdx dissect: streaming Network Dissection of one or more layers over a
 * split's patches (src/dissect), then units.csv, units.json, index.html,
 * unit strips and one state file per layer (DIR/<layer>.dstate).
 *
 * One pass: every patch through the net up to each layer, feeding the top-k
 * heaps, quantile sketches and score statistics and, since T is not known
 * until the end, the one-pass IoU windows (see ndx_dissect_finish); a spread
 * sample of the split (the states' warm-up) goes first.  T per unit is then
 * the sketch's (--threshold quantile) or 0.2 x the best score (relative).  A
 * unit whose T falls outside its window costs a second pass for IoU.  With
 * --thresholds-from DIR the thresholds are known first: one pass, exact.
 * Shards: dissect each with --shard I/N, then --merge A B; or --stats-only
 * per shard, --merge, and each shard again with --thresholds-from. */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_nn.h"

#define CMD "dissect"
#define MAX_LAYERS 8
#define NKINDS 6   /* mass, calcification, vessel, distortion, malignant, all */

typedef struct loader_ctx {
    ndx_patch_cache *cache;
    const ndx_patch_index *ix;
} loader_ctx;

static int load_patch(void *ctx, int64_t id, float *px, int size)
{
    loader_ctx *l = ctx;
    if (id < 0 || (size_t)id >= l->ix->n) return -1;
    return ndx_patch_load(l->cache, l->ix, (size_t)id, size, px) != NDX_OK;
}

static int locate_patch(void *ctx, int64_t id, char *path, size_t n, int box[4])
{
    loader_ctx *l = ctx;
    if (id < 0 || (size_t)id >= l->ix->n) return -1;
    const ndx_patch *p = &l->ix->patches[id];
    const char *rel = l->ix->images[p->image].path;
    const int k = rel[0] == '/' ? snprintf(path, n, "%s", rel) : snprintf(path, n, "%s/%s", l->ix->dir, rel);
    box[0] = p->x, box[1] = p->y, box[2] = p->w, box[3] = p->h;
    return k > 0 && (size_t)k < n ? 0 : -1;
}

static void state_path(char *buf, size_t n, const char *dir, const char *layer)
{
    int k = snprintf(buf, n, "%s/", dir);
    for (const char *s = layer; *s && (size_t)k + 1 < n; s++, k++)
        buf[k] = (*s == '/' || *s == ' ') ? '_' : *s;
    buf[k] = 0;
    if ((size_t)k + 8 < n) strcat(buf, ".dstate");
}

/* The head's weights into class 1 (cancer) for each unit, when the layer's
 * units feed the last linear layer one to one (global pooling nets). */
static int class_weights(const ndx_net *net, int units, float *w)
{
    const int nt = ndx_net_num_tensors(net);
    for (int i = nt - 1; i >= 0; i--) {
        ndx_param_info p;
        if (ndx_net_tensor(net, i, &p) || p.is_buffer || p.ndim != 2) continue;
        if (p.shape[0] < 2 || p.shape[1] != units) return 0;
        for (int u = 0; u < units; u++) w[u] = p.data[(size_t)units + u];
        return 1;
    }
    return 0;
}

static int usage(void)
{
    printf("usage: netdx dissect --model M.safetensors --data DIR --layer NAME [--layer NAME ...]\n"
           "                     [--split val] [--topk 64] [--threshold quantile|relative]\n"
           "                     [--quantile 0.005] [--batch 16] [--mask-size S] [--images 8]\n"
           "                     [--shard I/N] [--stats-only] [--thresholds-from DIR]\n"
           "                     [--threads T] --out DIR\n"
           "       netdx dissect --merge A B [--model M] [--data DIR] [--images 8] --out C\n"
           "Dissects the units of each layer over the split's patches in one streaming\n"
           "pass (a second only for units whose threshold falls outside the one-pass IoU\n"
           "window); memory does not grow with the number of patches.  Writes\n"
           "DIR/units.csv, units.json, index.html,\n"
           "units/<layer>_<unit>.png strips, units/<layer>_<unit>_context.png (the top\n"
           "patch's whole image, at most 400 px tall, its box in red) and\n"
           "DIR/<layer>.dstate (the state).\n"
           "  --layer NAME          a node of the model (netdx info --model M lists them)\n"
           "  --split S             train, val or test (default val)\n"
           "  --topk K              patches kept per unit, 1..4096 (default 64)\n"
           "  --threshold T         quantile (top --quantile of all activations, default)\n"
           "                        or relative (0.2 x the unit's best score); both\n"
           "                        rounded down to the sketch's bin edge (< 1/32 lower)\n"
           "  --quantile Q          0 < Q < 1 (default 0.005)\n"
           "  --batch N             patches per forward, 1..1024 (default 16)\n"
           "  --mask-size S         IoU resolution, 8..1024 (default: the model's input)\n"
           "  --images N            patches per unit strip, 0..64 (0: no strips and no\n"
           "                        context images; default 8)\n"
           "  --shard I/N           only the split's patches number I mod N (0 <= I < N)\n"
           "  --stats-only          statistics only, no IoU (shards to merge before IoU)\n"
           "  --thresholds-from D   the thresholds of D's states (merged shards): exact\n"
           "  --merge A B           merge two dissections' states (e.g. two --shard runs)\n"
           "                        into --out: as one run over both (--model: for the\n"
           "                        class influence; --data: for the unit images)\n"
           "NETDX_THREADS=N or --threads N.\n");
    return EXIT_OK;
}

typedef struct opts {
    const char *model, *data, *out, *thr_from, *merge[2];
    const char *layers[MAX_LAYERS];
    int nlayers, split, topk, batch, mask_size, images, stats_only, shard, nshards;
    ndx_dissect_mode mode;
    double quantile;
} opts;

static int write_all(const opts *o, ndx_dissect **st, int nl, const float *const *cw,
                     loader_ctx *lc, int size)
{
    ndx_dissect_output out = {.class_weights = cw, .load = o->images && lc ? load_patch : NULL,
                              .load_ctx = lc, .patch_size = size, .strip_count = o->images,
                              .locate = o->images && lc ? locate_patch : NULL, .locate_ctx = lc};
    if (ndx_dissect_write(o->out, (const ndx_dissect *const *)st, nl, &out)) return cli_fail(CMD);
    for (int l = 0; l < nl; l++) {
        char p[1200];
        state_path(p, sizeof p, o->out, ndx_dissect_layer(st[l]));
        if (ndx_dissect_save(st[l], p)) return cli_fail(CMD);
    }
    return EXIT_OK;
}

static void print_best(ndx_dissect *const *st, int nl)
{
    for (int l = 0; l < nl; l++) {
        int units, nm;
        ndx_dissect_dims(st[l], &units, NULL, NULL, NULL, &nm);
        if (!ndx_dissect_patches(st[l], 1)) continue;
        for (int m = 0; m < nm; m++) {
            int best = -1;
            double iou = -1;
            for (int u = 0; u < units; u++) {
                ndx_dissect_unit info;
                ndx_dissect_unit_info(st[l], u, &info);
                if (info.iou[m] > iou) iou = info.iou[m], best = u;
            }
            printf("%s: best %-14s unit %4d  IoU %.4f\n", ndx_dissect_layer(st[l]),
                   ndx_dissect_mask_name(st[l], m), best, iou);
        }
    }
}

static int run_merge(const opts *o)
{
    DIR *dir = opendir(o->merge[0]);
    if (!dir) {
        fprintf(stderr, "netdx dissect: cannot open %s\n", o->merge[0]);
        return EXIT_FAILED;
    }
    ndx_dissect *st[MAX_LAYERS] = {0};
    int nl = 0, rc = EXIT_OK;
    struct dirent *e;
    while ((e = readdir(dir)) && rc == EXIT_OK) {
        const size_t n = strlen(e->d_name);
        if (n < 8 || strcmp(e->d_name + n - 7, ".dstate")) continue;
        if (nl == MAX_LAYERS) {
            fprintf(stderr, "netdx dissect: more than %d states in %s\n", MAX_LAYERS, o->merge[0]);
            rc = EXIT_FAILED;
            break;
        }
        char pa[1200], pb[1200];
        snprintf(pa, sizeof pa, "%s/%s", o->merge[0], e->d_name);
        snprintf(pb, sizeof pb, "%s/%s", o->merge[1], e->d_name);
        ndx_dissect *b = NULL;
        int missed = 0;
        if (ndx_dissect_load(pa, &st[nl]) || ndx_dissect_load(pb, &b) ||
            ndx_dissect_merge(st[nl], b) || ndx_dissect_finish(st[nl], &missed))
            rc = cli_fail(CMD);
        else if (missed) {
            fprintf(stderr, "netdx dissect: %s: the merged threshold of %d units falls outside the "
                    "shards' IoU windows; dissect the shards with --stats-only, --merge those, and "
                    "dissect each shard again with --thresholds-from the merged directory\n",
                    e->d_name, missed);
            rc = EXIT_FAILED;
        }
        ndx_dissect_free(b);
        nl++;
    }
    closedir(dir);
    if (rc == EXIT_OK && nl == 0) {
        fprintf(stderr, "netdx dissect: no .dstate files in %s\n", o->merge[0]);
        rc = EXIT_FAILED;
    }
    ndx_patch_index ix;
    loader_ctx lc = {0};
    int have_ix = 0;
    if (rc == EXIT_OK && o->data && o->images) {
        if (ndx_patches_read(o->data, &ix)) rc = cli_fail(CMD);
        else have_ix = 1, lc.ix = &ix, lc.cache = ndx_patch_cache_new((size_t)256 << 20);
    }
    /* with --model: the class weights for the influence, as the run had */
    float *cw[MAX_LAYERS] = {0};
    ndx_net *net = NULL;
    if (rc == EXIT_OK && o->model) {
        if (ndx_net_load(o->model, &net)) rc = cli_fail(CMD);
        for (int l = 0; l < nl && rc == EXIT_OK; l++) {
            int units;
            ndx_dissect_dims(st[l], &units, NULL, NULL, NULL, NULL);
            if (!(cw[l] = malloc((size_t)units * sizeof(float)))) rc = EXIT_FAILED;
            else if (!class_weights(net, units, cw[l])) free(cw[l]), cw[l] = NULL;
        }
    }
    if (rc == EXIT_OK) {
        int size = o->mask_size ? o->mask_size : net ? ndx_net_input_size(net) : 128;
        rc = write_all(o, st, nl, (const float *const *)cw, have_ix ? &lc : NULL, size);
    }
    for (int l = 0; l < nl; l++) free(cw[l]);
    ndx_net_free(net);
    if (rc == EXIT_OK) {
        print_best(st, nl);
        printf("index: %s/index.html\n", o->out);
    }
    for (int l = 0; l < nl; l++) ndx_dissect_free(st[l]);
    if (have_ix) ndx_patch_cache_free(lc.cache), ndx_patches_free(&ix);
    return rc;
}

/* One pass over the split's patches: what[l] = NDX_DISSECT_STATS and/or
 * _IOU for layer l, 0 to skip it. */
static int run_pass(const opts *o, ndx_net *net, const int *nodes, ndx_dissect **st, int nl,
                    const ndx_patch_index *ix, ndx_patch_cache *cache, const size_t *sel,
                    size_t nsel, const int *what, float *gray, float *x, float *fmask, uint8_t *mask,
                    const uint8_t **mptr, int64_t *ids, uint8_t *labels, cli_progress *pg)
{
    const int S = ndx_net_input_size(net), B = o->batch, M = o->mask_size;
    const size_t ss = (size_t)S * S, mm = (size_t)M * M;
    int need_masks = 0, stats = 0;
    for (int l = 0; l < nl; l++)
        need_masks |= (what[l] & NDX_DISSECT_IOU) != 0, stats |= (what[l] & NDX_DISSECT_STATS) != 0;
    for (size_t i = 0; i < nsel; i += (size_t)B) {
        const int n = nsel - i < (size_t)B ? (int)(nsel - i) : B;
        memset(gray, 0, (size_t)B * ss * sizeof *gray);
        for (int j = 0; j < n; j++) {
            const size_t p = sel[i + (size_t)j];
            if (ndx_patch_load(cache, ix, p, S, gray + (size_t)j * ss)) return cli_fail(CMD);
            ids[j] = (int64_t)p;
            labels[j] = (uint8_t)(ix->patches[p].label != 0);
            if (!need_masks) continue;
            /* [kind][0 malignant, 1 all][M][M] fractions -> 6 binary masks */
            if (ndx_patch_masks(cache, ix, p, M, M, fmask)) return cli_fail(CMD);
            uint8_t *mk = mask + (size_t)j * NKINDS * mm;
            memset(mk, 0, NKINDS * mm);
            int any[NKINDS] = {0};
            for (int k = 0; k < NDX_LESION_KINDS; k++)
                for (size_t q = 0; q < mm; q++) {
                    const int mal = fmask[((size_t)k * 2 + 0) * mm + q] >= 0.5f;
                    const int all = fmask[((size_t)k * 2 + 1) * mm + q] >= 0.5f;
                    if (all) mk[(size_t)k * mm + q] = 1, any[k] = 1;
                    if (mal) mk[4 * mm + q] = 1, any[4] = 1;
                    if (all) mk[5 * mm + q] = 1, any[5] = 1;
                }
            for (int k = 0; k < NKINDS; k++)
                mptr[(size_t)j * NKINDS + k] = any[k] ? mk + (size_t)k * mm : NULL;
        }
        ndx_gray_to_input(B, ss, gray, x);
        for (int l = 0; l < nl; l++) {
            if (!what[l]) continue;
            ndx_tensor t;
            if (ndx_net_forward(net, x, NDX_EVAL, nodes[l]) || ndx_net_output(net, nodes[l], &t))
                return cli_fail(CMD);
            ndx_dissect_batch b = {n, t.data, ids, labels, M, M, mptr};
            if (ndx_dissect_add(st[l], &b, what[l])) return cli_fail(CMD);
        }
        cli_progress_update(pg, (long)(i + (size_t)n),
                            !stats ? "IoU" : need_masks ? "stats+IoU" : "stats");
    }
    return EXIT_OK;
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

/* --thresholds-from: each layer's thresholds from DIR's state (set there,
 * or computed from its statistics). */
static int thresholds_from(const opts *o, ndx_dissect **st, int nl)
{
    for (int l = 0; l < nl; l++) {
        char p[1200];
        ndx_dissect *from = NULL;
        int units, fu;
        state_path(p, sizeof p, o->thr_from, o->layers[l]);
        ndx_dissect_dims(st[l], &units, NULL, NULL, NULL, NULL);
        if (ndx_dissect_load(p, &from)) return cli_fail(CMD);
        ndx_dissect_dims(from, &fu, NULL, NULL, NULL, NULL);
        ndx_dissect_unit info;
        ndx_dissect_unit_info(from, 0, &info);
        if (isnan(info.threshold) && ndx_dissect_set_thresholds(from, NULL)) {
            ndx_dissect_free(from);
            return cli_fail(CMD);
        }
        float *t = fu == units ? malloc((size_t)units * sizeof *t) : NULL;
        for (int u = 0; t && u < units; u++) {
            ndx_dissect_unit_info(from, u, &info);
            t[u] = info.threshold;
        }
        ndx_dissect_free(from);
        if (!t) {
            fprintf(stderr, "netdx dissect: %s does not fit layer %s (%d units, not %d)\n", p,
                    o->layers[l], fu, units);
            return EXIT_FAILED;
        }
        const int bad = ndx_dissect_set_thresholds(st[l], t) != NDX_OK;
        free(t);
        if (bad) return cli_fail(CMD);
    }
    return EXIT_OK;
}

static int run(const opts *o)
{
    ndx_net *net = NULL;
    ndx_patch_index ix;
    int have_ix = 0, rc = EXIT_FAILED, nl = o->nlayers;
    ndx_dissect *st[MAX_LAYERS] = {0};
    float *cw[MAX_LAYERS] = {0};
    int nodes[MAX_LAYERS];
    float *gray = NULL, *x = NULL, *fmask = NULL;
    uint8_t *mask = NULL, *labels = NULL;
    const uint8_t **mptr = NULL;
    int64_t *ids = NULL;
    size_t *sel = NULL, nsel = 0;
    loader_ctx lc = {0};
    opts oo = *o;

    if (ndx_net_load(o->model, &net)) goto fail;
    if (ndx_patches_read(o->data, &ix)) goto fail;
    have_ix = 1;
    const int S = ndx_net_input_size(net);
    if (!oo.mask_size) oo.mask_size = S;
    sel = malloc((ix.n ? ix.n : 1) * sizeof *sel);
    if (!sel) goto oom;
    size_t seen = 0;
    for (size_t i = 0; i < ix.n; i++)
        if (ix.patches[i].split == o->split && seen++ % (size_t)o->nshards == (size_t)o->shard)
            sel[nsel++] = i;
    int warm = 0;
    for (int l = 0; l < nl; l++) {
        if ((nodes[l] = ndx_net_find(net, o->layers[l])) < 1) {
            fprintf(stderr, "netdx dissect: %s has no node '%s' (see netdx info --model)\n",
                    ndx_net_arch(net), o->layers[l]);
            rc = EXIT_USAGE;
            goto done;
        }
        int c, h, w;
        ndx_net_node_shape(net, nodes[l], &c, &h, &w);
        ndx_dissect_config cfg = {.layer = o->layers[l], .units = c, .h = h, .w = w,
                                  .topk = o->topk, .mode = o->mode, .quantile = o->quantile};
        if (ndx_dissect_new(&cfg, &st[l])) goto fail;
        if (ndx_dissect_warmup(st[l]) > warm) warm = ndx_dissect_warmup(st[l]);
        cw[l] = malloc((size_t)c * sizeof(float));
        if (!cw[l]) goto oom;
        if (!class_weights(net, c, cw[l])) free(cw[l]), cw[l] = NULL;
    }
    if (!nsel) {
        fprintf(stderr, "netdx dissect: %s has no %s patches\n", o->data, ndx_split_name(o->split));
        goto done;
    }
    if (ndx_net_plan(net, o->batch, NDX_PLAN_INFER)) goto fail;
    const size_t B = (size_t)o->batch, mm = (size_t)oo.mask_size * oo.mask_size;
    gray = malloc(B * S * S * sizeof *gray);
    x = malloc(B * 3 * S * S * sizeof *x);
    fmask = malloc((size_t)NDX_LESION_KINDS * 2 * mm * sizeof *fmask);
    mask = malloc(B * NKINDS * mm);
    mptr = calloc(B * NKINDS, sizeof *mptr);
    ids = malloc(B * sizeof *ids);
    labels = malloc(B);
    lc.cache = ndx_patch_cache_new((size_t)256 << 20);
    lc.ix = &ix;
    if (!gray || !x || !fmask || !mask || !mptr || !ids || !labels || !lc.cache) goto oom;

    spread_first(sel, nsel, (size_t)warm);
    int what[MAX_LAYERS] = {0};
    for (int l = 0; l < nl; l++) what[l] = NDX_DISSECT_STATS | (o->stats_only ? 0 : NDX_DISSECT_IOU);
    if (o->thr_from && !o->stats_only && (rc = thresholds_from(o, st, nl)) != EXIT_OK) goto done;
    cli_progress pg;
    cli_progress_start(&pg, CMD, "patch", (long)nsel);
    rc = run_pass(&oo, net, nodes, st, nl, &ix, lc.cache, sel, nsel, what, gray, x, fmask, mask,
                  mptr, ids, labels, &pg);
    cli_progress_end(&pg);
    int second = 0;
    for (int l = 0; l < nl && rc == EXIT_OK; l++) {
        int missed;
        if (ndx_dissect_finish(st[l], &missed)) rc = cli_fail(CMD);
        what[l] = missed ? NDX_DISSECT_IOU : 0;
        if (missed)
            fprintf(stderr, "netdx dissect: %s: the threshold of %d units fell outside their "
                    "one-pass IoU windows: a second pass for IoU\n", o->layers[l], missed);
        second |= missed != 0;
    }
    if (rc == EXIT_OK && second) {
        cli_progress_start(&pg, CMD, "patch", (long)nsel);
        rc = run_pass(&oo, net, nodes, st, nl, &ix, lc.cache, sel, nsel, what, gray, x, fmask,
                      mask, mptr, ids, labels, &pg);
        cli_progress_end(&pg);
    }
    if (rc == EXIT_OK) rc = write_all(&oo, st, nl, (const float *const *)cw, &lc, S);
    if (rc == EXIT_OK) {
        printf("patches: %zu (%s)\n", nsel, ndx_split_name(o->split));
        print_best(st, nl);
        printf("index: %s/index.html\n", o->out);
    }
    goto done;
oom:
    fprintf(stderr, "netdx dissect: out of memory\n");
    rc = EXIT_FAILED;
    goto done;
fail:
    rc = cli_fail(CMD);
done:
    for (int l = 0; l < nl; l++) ndx_dissect_free(st[l]), free(cw[l]);
    free(gray), free(x), free(fmask), free(mask), free(mptr), free(ids), free(labels), free(sel);
    if (lc.cache) ndx_patch_cache_free(lc.cache);
    if (have_ix) ndx_patches_free(&ix);
    ndx_net_free(net);
    return rc;
}

int cmd_dissect(int argc, char **argv)
{
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},   {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 's'},   {"layer", required_argument, 0, 'l'},
        {"topk", required_argument, 0, 'k'},    {"threshold", required_argument, 0, 't'},
        {"quantile", required_argument, 0, 'q'}, {"threads", required_argument, 0, 'j'},
        {"batch", required_argument, 0, 'b'},   {"mask-size", required_argument, 0, 'M'},
        {"images", required_argument, 0, 'i'},  {"stats-only", no_argument, 0, 'S'},
        {"thresholds-from", required_argument, 0, 'T'}, {"merge", required_argument, 0, 'g'},
        {"shard", required_argument, 0, 'P'},
        {"out", required_argument, 0, 'o'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    opts o = {.split = NDX_SPLIT_VAL, .topk = 64, .batch = 16, .images = 8, .nshards = 1,
              .mode = NDX_THRESHOLD_QUANTILE, .quantile = 0.005};
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'd': o.data = optarg; break;
        case 'o': o.out = optarg; break;
        case 'T': o.thr_from = optarg; break;
        case 'S': o.stats_only = 1; break;
        case 's':
            if (!strcmp(optarg, "train")) o.split = NDX_SPLIT_TRAIN;
            else if (!strcmp(optarg, "val")) o.split = NDX_SPLIT_VAL;
            else if (!strcmp(optarg, "test")) o.split = NDX_SPLIT_TEST;
            else {
                fprintf(stderr, "netdx dissect: --split: '%s' is not train, val or test\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'l':
            if (o.nlayers == MAX_LAYERS) {
                fprintf(stderr, "netdx dissect: at most %d --layer\n", MAX_LAYERS);
                return EXIT_USAGE;
            }
            o.layers[o.nlayers++] = optarg;
            break;
        case 'k':
            if (cli_int(CMD, "topk", optarg, 1, 4096, &v)) return EXIT_USAGE;
            o.topk = (int)v;
            break;
        case 't':
            if (!strcmp(optarg, "quantile")) o.mode = NDX_THRESHOLD_QUANTILE;
            else if (!strcmp(optarg, "relative")) o.mode = NDX_THRESHOLD_RELATIVE;
            else {
                fprintf(stderr, "netdx dissect: --threshold: '%s' is not quantile or relative\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'q':
            if (cli_double(CMD, "quantile", optarg, 1e-9, 0.999999, &o.quantile)) return EXIT_USAGE;
            break;
        case 'j':
            if (cli_int(CMD, "threads", optarg, 1, 1024, &v)) return EXIT_USAGE;
            ndx_set_threads((int)v);
            break;
        case 'b':
            if (cli_int(CMD, "batch", optarg, 1, 1024, &v)) return EXIT_USAGE;
            o.batch = (int)v;
            break;
        case 'M':
            if (cli_int(CMD, "mask-size", optarg, 8, 1024, &v)) return EXIT_USAGE;
            o.mask_size = (int)v;
            break;
        case 'i':
            if (cli_int(CMD, "images", optarg, 0, 64, &v)) return EXIT_USAGE;
            o.images = (int)v;
            break;
        case 'g':
            if (optind >= argc || argv[optind][0] == '-') {
                fprintf(stderr, "netdx dissect: --merge needs two directories\n");
                return EXIT_USAGE;
            }
            o.merge[0] = optarg;
            o.merge[1] = argv[optind++];
            break;
        case 'P': {
            int a, b, k = 0;
            if (sscanf(optarg, "%d/%d%n", &a, &b, &k) != 2 || optarg[k] || b < 1 || b > 100000 ||
                a < 0 || a >= b) {
                fprintf(stderr, "netdx dissect: --shard: '%s' is not I/N with 0 <= I < N\n", optarg);
                return EXIT_USAGE;
            }
            o.shard = a;
            o.nshards = b;
            break;
        }
        case 'h': return usage();
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args(CMD, argc, argv, optind)) return EXIT_USAGE;
    if (!o.out) {
        fprintf(stderr, "netdx dissect: --out DIR is required\n");
        return EXIT_USAGE;
    }
    if (o.merge[0]) return run_merge(&o);
    if (!o.model || !o.data || !o.nlayers) {
        fprintf(stderr, "netdx dissect: --model, --data and --layer are required\n");
        return EXIT_USAGE;
    }
    if (ndx_init()) return cli_fail(CMD);
    return run(&o);
}
