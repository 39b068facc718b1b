/* Streaming dissection of one layer: the per-unit state, feeding, the
 * thresholds and queries (the sketch and heap: sketch.c; one-pass IoU
 * windows: windows.c; merging shards: merge.c).
 *
 * Per unit u of U (maps h x w), in one block sized at creation:
 *   heap   top-k (score, argmax, patch id, label, h x w map), a min-heap of
 *          slot numbers with the worst entry at the root; order: higher
 *          score first, equal scores by smaller id (ndx__better);
 *   sketch SK_BINS counters of all spatial activations (see dissect.h);
 *   max, sum of the scores; thresholds; IoU counters (U x nmasks).
 * Feeding is OpenMP over units: each thread owns whole units and sees the
 * batch's patches in order, so results do not depend on the thread count.
 * The IoU pass runs the kernel table's fused upsample-threshold-IoU kernel
 * (bilinear_iou) per (patch, unit), skipping maps whose max is <= T. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "../../kernels/kernels.h"

/* ---- creation ----------------------------------------------------------- */
static ndx_status check_config(const ndx_dissect_config *c, ndx_dissect_config *out,
                               const char **names)
{
    if (!c) return ndx__fail(NDX_ERR_INVALID, "dissect: config is NULL");
    *out = *c;
    if (!c->layer || !c->layer[0] || strlen(c->layer) > 63)
        return ndx__fail(NDX_ERR_INVALID, "dissect: layer name must have 1..63 characters");
    if (c->units < 1 || c->units > 65536)
        return ndx__fail(NDX_ERR_SHAPE, "dissect %s: units %d out of range 1..65536", c->layer, c->units);
    if (c->h < 1 || c->h > 1024 || c->w < 1 || c->w > 1024)
        return ndx__fail(NDX_ERR_SHAPE, "dissect %s: map size %dx%d out of range 1..1024",
                         c->layer, c->h, c->w);
    if (out->topk == 0) out->topk = 64;
    if (out->topk < 1 || out->topk > 4096)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: topk %d out of range 1..4096", c->layer, c->topk);
    if (out->quantile == 0) out->quantile = 0.005;
    if (!(out->quantile > 0 && out->quantile < 1))
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: quantile %g not in (0, 1)", c->layer, c->quantile);
    if (out->relative == 0) out->relative = 0.2;
    if (!(out->relative > 0 && out->relative <= 1))
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: relative %g not in (0, 1]", c->layer, c->relative);
    if (c->mode != NDX_THRESHOLD_QUANTILE && c->mode != NDX_THRESHOLD_RELATIVE &&
        c->mode != NDX_THRESHOLD_FIXED)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: unknown threshold mode %d", c->layer, (int)c->mode);
    if (c->mode == NDX_THRESHOLD_FIXED) {
        if (!c->fixed)
            return ndx__fail(NDX_ERR_INVALID, "dissect %s: fixed mode needs thresholds", c->layer);
        for (int u = 0; u < c->units; u++)
            if (!isfinite(c->fixed[u]))
                return ndx__fail(NDX_ERR_INVALID, "dissect %s: fixed threshold of unit %d is not finite",
                                 c->layer, u);
    }
    if (c->warmup < 0 || c->warmup > 65536)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: warmup %d out of range 0..65536", c->layer,
                         c->warmup);
    if (c->align_corners != 0 && c->align_corners != 1)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: align_corners must be 0 or 1", c->layer);
    if (c->nmasks == 0) {
        if (c->mask_names)
            return ndx__fail(NDX_ERR_INVALID, "dissect %s: mask names given with nmasks 0", c->layer);
        out->nmasks = NDX__MASK_KINDS;
        for (int m = 0; m < NDX__MASK_KINDS; m++) names[m] = ndx__mask_kinds[m].name;
    } else {
        if (c->nmasks < 1 || c->nmasks > NDX_DISSECT_MAX_MASKS)
            return ndx__fail(NDX_ERR_INVALID, "dissect %s: nmasks %d out of range 1..%d", c->layer,
                             c->nmasks, NDX_DISSECT_MAX_MASKS);
        for (int m = 0; m < c->nmasks; m++) {
            names[m] = c->mask_names                ? c->mask_names[m]
                       : m < NDX__MASK_KINDS ? ndx__mask_kinds[m].name
                                             : NULL;
            if (!names[m] || !names[m][0] || strlen(names[m]) > 31)
                return ndx__fail(NDX_ERR_INVALID, "dissect %s: mask name %d must have 1..31 characters",
                                 c->layer, m);
        }
    }
    return NDX_OK;
}

static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

ndx_status ndx__dissect_alloc(ndx_dissect **out, const ndx_dissect_config *cfg)
{
    *out = NULL;
    ndx_dissect_config c = {0};
    const char *names[NDX_DISSECT_MAX_MASKS];
    ndx_status st = check_config(cfg, &c, names);
    if (st) return st;
    ndx_dissect *d = calloc(1, sizeof *d);
    if (!d) return ndx__fail(NDX_ERR_NOMEM, "dissect: out of memory");
    snprintf(d->layer, sizeof d->layer, "%s", c.layer);
    for (int m = 0; m < c.nmasks; m++)
        snprintf(d->mask_names[m], sizeof d->mask_names[m], "%s", names[m]);
    d->units = c.units;
    d->h = c.h;
    d->w = c.w;
    d->topk = c.topk;
    d->nmasks = c.nmasks;
    d->align_corners = c.align_corners;
    d->mode = c.mode;
    d->quantile = c.quantile;
    d->relative = c.relative;

    const size_t U = (size_t)c.units, K = (size_t)c.topk, hw = (size_t)c.h * c.w;
    const size_t M = (size_t)c.nmasks;
    const size_t sizes[] = {
        U * sizeof(float), U * sizeof(float), U * sizeof(double),
        U * SK_BINS * sizeof(uint64_t), U * M * sizeof(uint64_t), U * M * sizeof(uint64_t),
        U * sizeof(int32_t), U * K * sizeof(int32_t), U * K * sizeof(float),
        U * K * sizeof(int64_t), U * K * sizeof(int32_t), U * K, U * K * hw * sizeof(float)};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) total += round64(sizes[i]);
    d->block = ndx_alloc(total);
    if (!d->block) {
        free(d);
        return ndx__fail(NDX_ERR_NOMEM, "dissect %s: cannot allocate %zu bytes of state "
                         "(%zu units x top-%zu x %dx%d maps)", c.layer, total, U, K, c.h, c.w);
    }
    memset(d->block, 0, total);
    d->block_bytes = total;
    unsigned char *p = d->block;
    void **dst[] = {(void **)&d->thr, (void **)&d->maxs, (void **)&d->sums, (void **)&d->sketch,
                    (void **)&d->inter, (void **)&d->uni, (void **)&d->hsize, (void **)&d->heap,
                    (void **)&d->hscore, (void **)&d->hid, (void **)&d->harg,
                    (void **)&d->hlabel, (void **)&d->hmap};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *dst[i] = p;
        p += round64(sizes[i]);
    }
    for (size_t u = 0; u < U; u++) {
        d->maxs[u] = -INFINITY;
        d->thr[u] = NAN;
    }
    d->warmup = c.warmup ? c.warmup : ndx__warmup_size(d);
    if (c.mode == NDX_THRESHOLD_FIXED) {
        memcpy(d->thr, c.fixed, U * sizeof(float));
        d->thresholds_set = 1;
    }
    *out = d;
    return NDX_OK;
}

ndx_status ndx_dissect_new(const ndx_dissect_config *cfg, ndx_dissect **out)
{
    if (!out) return ndx__fail(NDX_ERR_INVALID, "dissect: out is NULL");
    return ndx__dissect_alloc(out, cfg);
}

void ndx_dissect_free(ndx_dissect *d)
{
    if (!d) return;
    ndx_free(d->block);
    ndx_free(d->ws);
    ndx__free_windows(d);
    ndx__free_buffer(d);
    free(d->shards);
    free(d);
}


ndx_status ndx__dissect_ws(ndx_dissect *d, int n, int mh, int mw, ndx__iou_ws *ws)
{
    const size_t mhw = (size_t)mh * mw, nt = (size_t)ndx__dissect_threads();
    const size_t plan = round64(ndx_bilinear_plan_size(mh, mw)), zero = round64(mhw);
    const size_t area = round64((size_t)n * d->nmasks * sizeof(uint64_t));
    const size_t sel = round64(nt * mhw * sizeof(int32_t));
    const size_t need = plan + zero + area + 3 * sel;
    if (need > d->ws_bytes) {
        void *p = ndx_alloc(need);
        if (!p)
            return ndx__fail(NDX_ERR_NOMEM, "dissect %s: cannot allocate %zu bytes of IoU workspace",
                             d->layer, need);
        ndx_free(d->ws);
        d->ws = p;
        d->ws_bytes = need;
    }
    uint8_t *p = d->ws;
    ndx_bilinear_plan_init(&ws->plan, d->h, d->w, mh, mw, d->align_corners, p);
    ws->zero = p + plan;
    memset(ws->zero, 0, mhw);
    ws->area = (uint64_t *)(p + plan + zero);
    ws->sidx = (int32_t *)(p + plan + zero + area);
    ws->sval = (float *)(p + plan + zero + area + sel);
    ws->sslot = (int32_t *)(p + plan + zero + area + 2 * sel);
    return NDX_OK;
}

/* An upper bound of every bilinearly upsampled value of a map with this max
 * (the blend's three roundings can exceed the max by a few ulp). */
static float upsampled_bound(float max) { return max + fabsf(max) * 0x1p-20f; }

/* IoU at known thresholds: per (patch, unit) the fused kernel once per
 * present mask (nmasks = 1, the caller's mask in place), or once with the
 * empty mask when the patch has none; |A| = union + intersection - |M| of
 * the first call counts toward the absent masks' unions.  Maps that cannot
 * exceed T have an empty A and skip the kernel. */
static void iou_exact(ndx_dissect *d, const ndx_dissect_batch *b, const ndx__iou_ws *ws, int par)
{
    const int U = d->units, N = b->n, M = d->nmasks;
    const size_t hw = (size_t)d->h * d->w, mhw = (size_t)b->mask_h * b->mask_w;
    const ndx_bilinear_iou_fn fused = ndx_kernels()->bilinear_iou.fn;
    const ndx_channel_max_fn cmax = ndx_kernels()->channel_max.fn;
#pragma omp parallel for schedule(dynamic, 2) num_threads(ndx__dissect_threads()) if (par)
    for (int u = 0; u < U; u++) {
        uint64_t *in = d->inter + (size_t)u * M, *un = d->uni + (size_t)u * M;
        const float t = d->thr[u];
        for (int i = 0; i < N; i++) {
            const float *map = b->maps + ((size_t)i * U + u) * hw;
            const uint8_t *const *mk = b->masks ? b->masks + (size_t)i * M : NULL;
            const uint64_t *area = ws->area + (size_t)i * M;
            float best;
            cmax(1, hw, map, &best, NULL);
            if (!(upsampled_bound(best) > t)) {
                for (int m = 0; m < M; m++) un[m] += area[m];
                continue;
            }
            int64_t active = -1;
            for (int m = 0; m < M; m++) {
                if (!mk || !mk[m]) continue;
                uint64_t ti = 0, tu = 0;
                fused(&ws->plan, map, t, 1, mk[m], mhw, &ti, &tu);
                in[m] += ti;
                un[m] += tu;
                if (active < 0) active = (int64_t)(tu + ti - area[m]);
            }
            if (active < 0) {
                uint64_t ti = 0, tu = 0;
                fused(&ws->plan, map, t, 1, ws->zero, mhw, &ti, &tu);
                active = (int64_t)tu;
            }
            for (int m = 0; m < M; m++)
                if (!mk || !mk[m]) un[m] += (uint64_t)active;
        }
    }
}

/* The batch fits the state and `what` fits its pass; b->n >= 0. */
static ndx_status check_batch(const ndx_dissect *d, const ndx_dissect_batch *b, int what)
{
    if (what < 1 || what > (NDX_DISSECT_STATS | NDX_DISSECT_IOU))
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: `what` %d is not STATS and/or IOU", d->layer, what);
    if (b->n < 0) return ndx__fail(NDX_ERR_SHAPE, "dissect %s: batch of %d patches", d->layer, b->n);
    if (b->n == 0) return NDX_OK;
    if (!b->maps || !b->ids)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: batch maps or ids are NULL", d->layer);
    const int iou = (what & NDX_DISSECT_IOU) != 0, stats = (what & NDX_DISSECT_STATS) != 0;
    const int hist = iou && !d->thresholds_set;
    if (iou && !d->thresholds_set && !stats)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: IoU needs the thresholds: run the statistics "
                         "pass and ndx_dissect_set_thresholds first, or give STATS | IOU for one "
                         "pass", d->layer);
    if (iou && (b->mask_h < 1 || b->mask_h > 16384 || b->mask_w < 1 || b->mask_w > 16384))
        return ndx__fail(NDX_ERR_SHAPE, "dissect %s: mask size %dx%d out of range 1..16384",
                         d->layer, b->mask_h, b->mask_w);
    if (hist && d->hist_mode && (b->mask_h != d->mask_h || b->mask_w != d->mask_w))
        return ndx__fail(NDX_ERR_SHAPE, "dissect %s: mask size %dx%d, earlier batches %dx%d",
                         d->layer, b->mask_h, b->mask_w, d->mask_h, d->mask_w);
    if (stats && !iou && d->hist_mode)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: one-pass IoU must see every patch: give "
                         "STATS | IOU, not STATS alone", d->layer);
    if (hist && !d->hist_mode && d->n_stats)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: one-pass IoU must see every patch: %llu "
                         "patches were added with STATS alone", d->layer,
                         (unsigned long long)d->n_stats);
    return NDX_OK;
}

/* Every value of the batch's maps (N x U x h x w) is finite; else the first
 * that is not, named. */
static ndx_status check_finite(const ndx_dissect *d, const ndx_dissect_batch *b, int par)
{
    const int U = d->units, N = b->n;
    const size_t hw = (size_t)d->h * d->w, total = (size_t)N * U * hw;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) num_threads(ndx__dissect_threads()) if (par)
    for (int i = 0; i < N; i++) {
        /* inf or NaN: all exponent bits set (a SIMD loop) */
        const uint32_t *bits = (const uint32_t *)(const void *)(b->maps + (size_t)i * U * hw);
        uint32_t all = 0;
#pragma omp simd reduction(| : all)
        for (size_t j = 0; j < (size_t)U * hw; j++)
            all |= (uint32_t)((bits[j] & 0x7f800000u) == 0x7f800000u);
        bad |= (int)all;
    }
    for (size_t j = 0; bad && j < total; j++)
        if (!isfinite(b->maps[j]))
            return ndx__fail(NDX_ERR_INVALID, "dissect %s: map of patch %zu (id %lld), unit %zu "
                             "holds %g at %zu", d->layer, j / (U * hw),
                             (long long)b->ids[j / (U * hw)], j / hw % U, b->maps[j], j % hw);
    return NDX_OK;
}

/* The masks' areas (N x nmasks, a SIMD count, patches in parallel) into
 * ws->area, and with one-pass IoU (hist) into the state's totals. */
static void mask_areas(ndx_dissect *d, const ndx_dissect_batch *b, const ndx__iou_ws *ws, int hist)
{
    const int N = b->n, M = d->nmasks;
    const size_t mhw = (size_t)b->mask_h * b->mask_w;
    const int par_area = (size_t)N * M * mhw >= ((size_t)1 << 16);
#pragma omp parallel for schedule(static) num_threads(ndx__dissect_threads()) if (par_area)
    for (int i = 0; i < N; i++)
        for (int m = 0; m < M; m++) {
            const uint8_t *mk = b->masks ? b->masks[(size_t)i * M + m] : NULL;
            uint64_t c = 0;
            if (mk) {
#pragma omp simd reduction(+ : c)
                for (size_t j = 0; j < mhw; j++) c += mk[j] != 0;
            }
            ws->area[(size_t)i * M + m] = c;
        }
    for (int i = 0; hist && i < N; i++)
        for (int m = 0; m < M; m++) d->area[m] += ws->area[(size_t)i * M + m];
}

/* Statistics of the batch per unit (OpenMP over units): sketch, score sum
 * and max, the heap; with the windows open (fused), the unit's histograms
 * follow in the same loop, its maps still in cache. */
static void feed_stats(ndx_dissect *d, const ndx_dissect_batch *b, const ndx__iou_ws *ws,
                       int fused, int par)
{
    const int U = d->units, N = b->n;
    const size_t hw = (size_t)d->h * d->w;
    const ndx_channel_max_fn cmax = ndx_kernels()->channel_max.fn;
#pragma omp parallel for schedule(dynamic, 2) num_threads(ndx__dissect_threads()) if (par)
    for (int u = 0; u < U; u++) {
        uint64_t *sk = d->sketch + (size_t)u * SK_BINS;
        double sum = d->sums[u];
        float top = d->maxs[u];
        for (int i = 0; i < N; i++) {
            const float *map = b->maps + ((size_t)i * U + u) * hw;
            int32_t arg;
            float best;
            cmax(1, hw, map, &best, &arg);
            ndx__sketch_add(sk, map, hw);
            sum += best;
            if (best > top) top = best;
            ndx__heap_offer(d, u, best, b->ids[i], arg, b->labels && b->labels[i] ? 1 : 0, map);
        }
        d->sums[u] = sum;   /* written once per batch: no false sharing */
        d->maxs[u] = top;
        if (fused) ndx__hist_unit(d, u, b->maps, N, b->masks, ws, ndx__thread_id());
    }
    d->n_stats += (uint64_t)N;
    for (int i = 0; i < N; i++) d->n_pos += b->labels && b->labels[i] ? 1 : 0;
}

ndx_status ndx_dissect_add(ndx_dissect *d, const ndx_dissect_batch *b, int what)
{
    if (!d || !b) return ndx__fail(NDX_ERR_INVALID, "dissect_add: NULL state or batch");
    ndx_status st = check_batch(d, b, what);
    if (st || b->n == 0) return st;
    const int iou = (what & NDX_DISSECT_IOU) != 0, stats = (what & NDX_DISSECT_STATS) != 0;
    const int hist = iou && !d->thresholds_set, N = b->n;
    /* threads only where there is enough work to pay for waking them */
    const int par = (size_t)N * d->units * d->h * d->w >= ((size_t)1 << 16);
    if ((st = check_finite(d, b, par))) return st;
    ndx__iou_ws ws;
    if (iou) {
        st = ndx__dissect_ws(d, N, b->mask_h, b->mask_w, &ws);
        if (!st && hist && !d->hist_mode) st = ndx__start_hist(d, b->mask_h, b->mask_w);
        if (st) return st;
        mask_areas(d, b, &ws, hist);
    }
    const size_t mhw = iou ? (size_t)b->mask_h * b->mask_w : 0;
    const int par_iou = (size_t)d->units * N * mhw >= ((size_t)1 << 16);
    const int fused = stats && hist && d->window_open;
    if (stats) feed_stats(d, b, &ws, fused, par || (fused && par_iou));
    if (!iou) return NDX_OK;
    if (!hist) {
        iou_exact(d, b, &ws, par_iou);
        d->n_iou += (uint64_t)N;
    } else if (fused) {
        d->n_iou += (uint64_t)N;
    } else {
        return ndx__windows_warmup(d, b, &ws, par_iou);
    }
    return NDX_OK;
}

/* ---- thresholds --------------------------------------------------------- */
ndx_status ndx_dissect_set_thresholds(ndx_dissect *d, const float *t)
{
    if (!d) return ndx__fail(NDX_ERR_INVALID, "dissect: state is NULL");
    if (d->n_iou > 0)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: IoU of %llu patches already accumulated "
                         "with the old thresholds", d->layer, (unsigned long long)d->n_iou);
    if (d->hist_mode)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: one-pass IoU under way: call "
                         "ndx_dissect_finish", d->layer);
    if (t) {
        for (int u = 0; u < d->units; u++)
            if (!isfinite(t[u]))
                return ndx__fail(NDX_ERR_INVALID, "dissect %s: threshold of unit %d is not finite",
                                 d->layer, u);
        memcpy(d->thr, t, (size_t)d->units * sizeof *t);
        d->thresholds_set = 1;
        return NDX_OK;
    }
    if (d->mode == NDX_THRESHOLD_FIXED)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: fixed mode: give the thresholds", d->layer);
    if (d->n_stats == 0)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: no statistics yet to set thresholds from",
                         d->layer);
    for (int u = 0; u < d->units; u++) d->thr[u] = ndx__sketch_threshold(ndx__threshold_bin(d, u, d->quantile));
    d->thresholds_set = 1;
    return NDX_OK;
}

/* ---- queries ------------------------------------------------------------ */
const char *ndx_dissect_layer(const ndx_dissect *d) { return d->layer; }

void ndx_dissect_dims(const ndx_dissect *d, int *units, int *h, int *w, int *topk, int *nmasks)
{
    if (units) *units = d->units;
    if (h) *h = d->h;
    if (w) *w = d->w;
    if (topk) *topk = d->topk;
    if (nmasks) *nmasks = d->nmasks;
}

const char *ndx_dissect_mask_name(const ndx_dissect *d, int m)
{
    return m >= 0 && m < d->nmasks ? d->mask_names[m] : NULL;
}

uint64_t ndx_dissect_patches(const ndx_dissect *d, int iou) { return iou ? d->n_iou : d->n_stats; }

size_t ndx_dissect_bytes(const ndx_dissect *d)
{
    size_t n = sizeof *d + d->block_bytes + d->ws_bytes;
    if (d->hist_mode)
        n += (size_t)d->units * (3 * sizeof(int32_t) + (1 + (size_t)d->nmasks) * HIST_BINS * sizeof(uint64_t));
    if (d->wmaps)
        n += (size_t)d->warmup * ((size_t)d->units * d->h * d->w * sizeof(float) +
                                  (size_t)d->nmasks * (1 + (size_t)d->mask_h * d->mask_w));
    return n;
}

int ndx_dissect_warmup(const ndx_dissect *d) { return d->warmup; }

ndx_status ndx_dissect_unit_info(const ndx_dissect *d, int u, ndx_dissect_unit *o)
{
    if (!d || !o) return ndx__fail(NDX_ERR_INVALID, "dissect_unit_info: NULL argument");
    if (u < 0 || u >= d->units)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: unit %d out of range 0..%d", d->layer, u,
                         d->units - 1);
    memset(o, 0, sizeof *o);
    o->max_score = d->n_stats ? d->maxs[u] : NAN;
    o->mean_score = d->n_stats ? (float)(d->sums[u] / (double)d->n_stats) : NAN;
    o->threshold = d->thresholds_set ? d->thr[u] : NAN;
    o->quantile_threshold = d->n_stats ? ndx__sketch_threshold(ndx__quantile_bin(d, u, d->quantile)) : NAN;
    o->best_mask = -1;
    double best = -1;
    for (int m = 0; m < d->nmasks; m++) {
        o->inter[m] = d->inter[(size_t)u * d->nmasks + m];
        o->uni[m] = d->uni[(size_t)u * d->nmasks + m];
        o->iou[m] = o->uni[m] ? (double)o->inter[m] / (double)o->uni[m] : 0.0;
        if (d->n_iou && o->iou[m] > best) {
            best = o->iou[m];
            o->best_mask = m;
        }
    }
    o->ntop = d->hsize[u];
    int pos = 0;
    for (int i = 0; i < d->hsize[u]; i++) pos += d->hlabel[(size_t)u * d->topk + i] != 0;
    o->positive_fraction = d->hsize[u] ? (double)pos / d->hsize[u] : 0.0;
    return NDX_OK;
}

ndx_status ndx_dissect_unit_top(const ndx_dissect *d, int u, ndx_dissect_top *out, int *n)
{
    if (!d || !out || !n) return ndx__fail(NDX_ERR_INVALID, "dissect_unit_top: NULL argument");
    if (u < 0 || u >= d->units)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: unit %d out of range 0..%d", d->layer, u,
                         d->units - 1);
    const size_t o = (size_t)u * d->topk, hw = (size_t)d->h * d->w;
    const int cnt = d->hsize[u];
    for (int i = 0; i < cnt; i++) {
        const size_t s = o + (size_t)i;
        ndx_dissect_top e = {d->hid[s], d->hscore[s], d->harg[s], d->hlabel[s], d->hmap + s * hw};
        int j = i;
        while (j > 0 && ndx__better(e.score, e.id, out[j - 1].score, out[j - 1].id)) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = e;
    }
    *n = cnt;
    return NDX_OK;
}

