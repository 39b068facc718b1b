/* Streaming dissection of one layer: the per-unit state, feeding, the
 * thresholds, merging and queries.
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

static const char *const default_masks[] = {"mass", "calcification", "vessel",
                                            "distortion", "malignant", "all"};

/* ---- sketch ------------------------------------------------------------- */
float ndx__sketch_value(int bin)
{
    if (bin == SK_ZERO) return 0.0f;
    const int m = bin > SK_ZERO ? bin - SK_ZERO - 1 : SK_PER_SIGN - 1 - bin;
    uint32_t lo_bits = SK_LO_BITS + ((uint32_t)m << SK_SHIFT);
    uint32_t hi_bits = lo_bits + (1u << SK_SHIFT);
    float lo, hi;
    memcpy(&lo, &lo_bits, sizeof lo);
    memcpy(&hi, &hi_bits, sizeof hi);
    const float mid = (float)(0.5 * ((double)lo + (double)hi));
    return bin > SK_ZERO ? mid : -mid;
}

uint64_t ndx__quantile_rank(double q, uint64_t count)
{
    double r = ceil(q * (double)count);
    if (r < 1.0) r = 1.0;
    if (r > (double)count) r = (double)count;
    return (uint64_t)r;
}

float ndx__sketch_rank(const uint64_t *sk, uint64_t r)
{
    uint64_t acc = 0;
    for (int b = SK_BINS - 1; b >= 0; b--) {
        acc += sk[b];
        if (acc >= r) return ndx__sketch_value(b);
    }
    return NAN;
}

/* ---- heap --------------------------------------------------------------- */
static int worse_slot(const ndx_dissect *d, int u, int32_t a, int32_t b)
{
    const size_t o = (size_t)u * d->topk;
    return ndx__better(d->hscore[o + b], d->hid[o + b], d->hscore[o + a], d->hid[o + a]);
}

static void sift_down(ndx_dissect *d, int u, int i)
{
    int32_t *h = d->heap + (size_t)u * d->topk;
    const int n = d->hsize[u];
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse_slot(d, u, h[l], h[m])) m = l;
        if (r < n && worse_slot(d, u, h[r], h[m])) m = r;
        if (m == i) return;
        int32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(ndx_dissect *d, int u, int i)
{
    int32_t *h = d->heap + (size_t)u * d->topk;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!worse_slot(d, u, h[i], h[p])) return;
        int32_t t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

void ndx__heap_offer(ndx_dissect *d, int u, float score, int64_t id, int32_t arg,
                     uint8_t label, const float *map)
{
    const size_t o = (size_t)u * d->topk, hw = (size_t)d->h * d->w;
    int32_t *h = d->heap + o;
    int32_t slot;
    const int grow = d->hsize[u] < d->topk;
    if (grow) {
        slot = d->hsize[u];
        h[d->hsize[u]++] = slot;
    } else {
        slot = h[0];
        if (!ndx__better(score, id, d->hscore[o + slot], d->hid[o + slot])) return;
    }
    d->hscore[o + slot] = score;
    d->hid[o + slot] = id;
    d->harg[o + slot] = arg;
    d->hlabel[o + slot] = label;
    memcpy(d->hmap + (o + slot) * hw, map, hw * sizeof *map);
    if (grow)
        sift_up(d, u, d->hsize[u] - 1);
    else
        sift_down(d, u, 0);
}

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
    if (c->align_corners != 0 && c->align_corners != 1)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: align_corners must be 0 or 1", c->layer);
    if (c->nmasks == 0) {
        if (c->mask_names)
            return ndx__fail(NDX_ERR_INVALID, "dissect %s: mask names given with nmasks 0", c->layer);
        out->nmasks = 6;
        for (int m = 0; m < 6; m++) names[m] = default_masks[m];
    } else {
        if (c->nmasks < 1 || c->nmasks > NDX_DISSECT_MAX_MASKS)
            return ndx__fail(NDX_ERR_INVALID, "dissect %s: nmasks %d out of range 1..%d", c->layer,
                             c->nmasks, NDX_DISSECT_MAX_MASKS);
        for (int m = 0; m < c->nmasks; m++) {
            names[m] = c->mask_names ? c->mask_names[m] : (m < 6 ? default_masks[m] : NULL);
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
    if (c.mode == NDX_THRESHOLD_FIXED) {
        memcpy(d->thr, c.fixed, U * sizeof(float));
        d->thresholds_set = 1;
    }
    *out = d;
    return NDX_OK;
}

ndx_status ndx_dissect_new(ndx_dissect **out, const ndx_dissect_config *cfg)
{
    if (!out) return ndx__fail(NDX_ERR_INVALID, "dissect: out is NULL");
    return ndx__dissect_alloc(out, cfg);
}

void ndx_dissect_free(ndx_dissect *d)
{
    if (!d) return;
    ndx_free(d->block);
    ndx_free(d->ws);
    free(d);
}

/* ---- feeding ------------------------------------------------------------ */
static int nthreads(void)
{
#ifdef _OPENMP
    return ndx_get_threads();
#else
    return 1;
#endif
}

/* Workspace of the IoU pass: the bilinear plan (map -> mask size), an
 * empty mask (for patches without masks: the kernel then counts |A|) and the
 * masks' areas (N x nmasks).  Grown when a batch needs more. */
typedef struct iou_ws {
    ndx_bilinear_plan plan;
    uint8_t *zero;
    uint64_t *area;
} iou_ws;

static ndx_status get_ws(ndx_dissect *d, const ndx_dissect_batch *b, iou_ws *ws)
{
    const size_t plan = round64(ndx_bilinear_plan_size(b->mask_h, b->mask_w));
    const size_t zero = round64((size_t)b->mask_h * b->mask_w);
    const size_t need = plan + zero + (size_t)b->n * d->nmasks * sizeof(uint64_t);
    if (need > d->ws_bytes) {
        void *p = ndx_alloc(need);
        if (!p)
            return ndx__fail(NDX_ERR_NOMEM, "dissect %s: cannot allocate %zu bytes of IoU workspace",
                             d->layer, need);
        ndx_free(d->ws);
        d->ws = p;
        d->ws_bytes = need;
    }
    ndx_bilinear_plan_init(&ws->plan, d->h, d->w, b->mask_h, b->mask_w, d->align_corners, d->ws);
    ws->zero = (uint8_t *)d->ws + plan;
    memset(ws->zero, 0, zero);
    ws->area = (uint64_t *)((uint8_t *)d->ws + plan + zero);
    return NDX_OK;
}

/* The score (max) of a map and where it is, the first maximum in row-major order. */
static float map_max(const float *map, size_t hw, int *arg)
{
    float best = map[0];
    int a = 0;
    for (size_t j = 1; j < hw; j++)
        if (map[j] > best) {
            best = map[j];
            a = (int)j;
        }
    *arg = a;
    return best;
}

ndx_status ndx_dissect_add(ndx_dissect *d, const ndx_dissect_batch *b, int what)
{
    if (!d || !b) return ndx__fail(NDX_ERR_INVALID, "dissect_add: NULL state or batch");
    if (what < 1 || what > (NDX_DISSECT_STATS | NDX_DISSECT_IOU))
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: `what` %d is not STATS and/or IOU", d->layer, what);
    if (b->n < 0) return ndx__fail(NDX_ERR_SHAPE, "dissect %s: batch of %d patches", d->layer, b->n);
    if (b->n == 0) return NDX_OK;
    if (!b->maps || !b->ids)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: batch maps or ids are NULL", d->layer);
    const int iou = (what & NDX_DISSECT_IOU) != 0, stats = (what & NDX_DISSECT_STATS) != 0;
    if (iou && !d->thresholds_set)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: IoU needs the thresholds: run the statistics "
                         "pass and ndx_dissect_set_thresholds first", d->layer);
    if (iou && (b->mask_h < 1 || b->mask_h > 16384 || b->mask_w < 1 || b->mask_w > 16384))
        return ndx__fail(NDX_ERR_SHAPE, "dissect %s: mask size %dx%d out of range 1..16384",
                         d->layer, b->mask_h, b->mask_w);

    const int U = d->units, N = b->n, M = d->nmasks;
    const size_t hw = (size_t)d->h * d->w, total = (size_t)N * U * hw;
    int bad = 0;
    /* threads only where there is enough work to pay for waking them */
    const int par = total >= ((size_t)1 << 16);
#pragma omp parallel for schedule(static) reduction(| : bad) num_threads(nthreads()) if (par)
    for (int i = 0; i < N; i++)
        for (size_t j = (size_t)i * U * hw; j < (size_t)(i + 1) * U * hw; j++)
            bad |= !isfinite(b->maps[j]);
    if (bad) {
        for (size_t j = 0; j < total; j++)
            if (!isfinite(b->maps[j]))
                return ndx__fail(NDX_ERR_INVALID, "dissect %s: map of patch %zu (id %lld), unit %zu "
                                 "holds %g at %zu", d->layer, j / (U * hw),
                                 (long long)b->ids[j / (U * hw)], j / hw % U, b->maps[j], j % hw);
    }

    const int nt = nthreads();
    if (stats) {
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt) if (par)
        for (int u = 0; u < U; u++) {
            uint64_t *sk = d->sketch + (size_t)u * SK_BINS;
            double sum = d->sums[u];
            float top = d->maxs[u];
            for (int i = 0; i < N; i++) {
                const float *map = b->maps + ((size_t)i * U + u) * hw;
                int arg;
                const float best = map_max(map, hw, &arg);
                for (size_t j = 0; j < hw; j++) sk[ndx__sketch_bin(map[j])]++;
                sum += best;
                if (best > top) top = best;
                ndx__heap_offer(d, u, best, b->ids[i], arg, b->labels && b->labels[i] ? 1 : 0, map);
            }
            d->sums[u] = sum;   /* written once per batch: no false sharing */
            d->maxs[u] = top;
        }
    }
    if (iou) {
        iou_ws ws;
        ndx_status st = get_ws(d, b, &ws);
        if (st) return st;
        const size_t mhw = (size_t)b->mask_h * b->mask_w;
        for (int i = 0; i < N; i++)
            for (int m = 0; m < M; m++) {
                const uint8_t *mk = b->masks ? b->masks[(size_t)i * M + m] : NULL;
                uint64_t c = 0;
                if (mk)
                    for (size_t j = 0; j < mhw; j++) c += mk[j] != 0;
                ws.area[(size_t)i * M + m] = c;
            }
        const ndx_bilinear_iou_fn fused = ndx_kernels()->bilinear_iou.fn;
        const int par_iou = (size_t)U * N * mhw >= ((size_t)1 << 16);
        /* Per (patch, unit): the kernel once per present mask (nmasks = 1, the
         * caller's mask in place), or once with the empty mask when the patch
         * has none; |A| = union + intersection - |M| of the first call counts
         * toward the absent masks' unions.  Maps whose max is <= T have an
         * empty A and skip the kernel. */
#pragma omp parallel for schedule(dynamic, 2) num_threads(nt) if (par_iou)
        for (int u = 0; u < U; u++) {
            uint64_t *in = d->inter + (size_t)u * M, *un = d->uni + (size_t)u * M;
            const float t = d->thr[u];
            for (int i = 0; i < N; i++) {
                const float *map = b->maps + ((size_t)i * U + u) * hw;
                const uint8_t *const *mk = b->masks ? b->masks + (size_t)i * M : NULL;
                const uint64_t *area = ws.area + (size_t)i * M;
                int arg;
                if (!(map_max(map, hw, &arg) > t)) {
                    for (int m = 0; m < M; m++) un[m] += area[m];
                    continue;
                }
                int64_t active = -1;
                for (int m = 0; m < M; m++) {
                    if (!mk || !mk[m]) continue;
                    uint64_t ti = 0, tu = 0;
                    fused(&ws.plan, map, t, 1, mk[m], mhw, &ti, &tu);
                    in[m] += ti;
                    un[m] += tu;
                    if (active < 0) active = (int64_t)(tu + ti - area[m]);
                }
                if (active < 0) {
                    uint64_t ti = 0, tu = 0;
                    fused(&ws.plan, map, t, 1, ws.zero, mhw, &ti, &tu);
                    active = (int64_t)tu;
                }
                for (int m = 0; m < M; m++)
                    if (!mk || !mk[m]) un[m] += (uint64_t)active;
            }
        }
    }
    if (stats) {
        d->n_stats += (uint64_t)N;
        for (int i = 0; i < N; i++) d->n_pos += b->labels && b->labels[i] ? 1 : 0;
    }
    if (iou) d->n_iou += (uint64_t)N;
    return NDX_OK;
}

/* ---- thresholds --------------------------------------------------------- */
ndx_status ndx_dissect_set_thresholds(ndx_dissect *d, const float *t)
{
    if (!d) return ndx__fail(NDX_ERR_INVALID, "dissect: state is NULL");
    if (d->n_iou > 0)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: IoU of %llu patches already accumulated "
                         "with the old thresholds", d->layer, (unsigned long long)d->n_iou);
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
    const uint64_t count = d->n_stats * (uint64_t)d->h * (uint64_t)d->w;
    const uint64_t r = ndx__quantile_rank(d->quantile, count);
    for (int u = 0; u < d->units; u++)
        d->thr[u] = d->mode == NDX_THRESHOLD_QUANTILE
                        ? ndx__sketch_rank(d->sketch + (size_t)u * SK_BINS, r)
                        : (float)(d->relative * d->maxs[u]);
    d->thresholds_set = 1;
    return NDX_OK;
}

/* ---- merging ------------------------------------------------------------ */
ndx_status ndx_dissect_merge(ndx_dissect *dst, const ndx_dissect *src)
{
    if (!dst || !src || dst == src)
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge: NULL or identical states");
    if (strcmp(dst->layer, src->layer) || dst->units != src->units || dst->h != src->h ||
        dst->w != src->w || dst->topk != src->topk)
        return ndx__fail(NDX_ERR_SHAPE, "dissect_merge: layer %s (%d units, %dx%d, top-%d) vs "
                         "%s (%d units, %dx%d, top-%d)", dst->layer, dst->units, dst->h, dst->w,
                         dst->topk, src->layer, src->units, src->h, src->w, src->topk);
    if (dst->mode != src->mode || dst->quantile != src->quantile ||
        dst->relative != src->relative || dst->align_corners != src->align_corners)
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: threshold settings differ", dst->layer);
    if (dst->nmasks != src->nmasks)
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: %d vs %d mask kinds", dst->layer,
                         dst->nmasks, src->nmasks);
    for (int m = 0; m < dst->nmasks; m++)
        if (strcmp(dst->mask_names[m], src->mask_names[m]))
            return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: mask kind %d is %s vs %s",
                             dst->layer, m, dst->mask_names[m], src->mask_names[m]);
    if (dst->thresholds_set != src->thresholds_set ||
        (dst->thresholds_set &&
         memcmp(dst->thr, src->thr, (size_t)dst->units * sizeof *dst->thr)))
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: the shards' thresholds differ (set "
                         "the same thresholds on every shard before the IoU pass)", dst->layer);

    const size_t U = (size_t)dst->units, K = (size_t)dst->topk, hw = (size_t)dst->h * dst->w;
    for (size_t u = 0; u < U; u++) {
        if (src->maxs[u] > dst->maxs[u]) dst->maxs[u] = src->maxs[u];
        dst->sums[u] += src->sums[u];
        for (size_t j = 0; j < SK_BINS; j++) dst->sketch[u * SK_BINS + j] += src->sketch[u * SK_BINS + j];
        for (int m = 0; m < dst->nmasks; m++) {
            dst->inter[u * dst->nmasks + m] += src->inter[u * src->nmasks + m];
            dst->uni[u * dst->nmasks + m] += src->uni[u * src->nmasks + m];
        }
        for (int i = 0; i < src->hsize[u]; i++) {
            const size_t s = u * K + (size_t)src->heap[u * K + i];
            ndx__heap_offer(dst, (int)u, src->hscore[s], src->hid[s], src->harg[s],
                            src->hlabel[s], src->hmap + s * hw);
        }
    }
    dst->n_stats += src->n_stats;
    dst->n_iou += src->n_iou;
    dst->n_pos += src->n_pos;
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

size_t ndx_dissect_bytes(const ndx_dissect *d) { return sizeof *d + d->block_bytes + d->ws_bytes; }

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
    o->quantile_threshold =
        d->n_stats ? ndx__sketch_rank(d->sketch + (size_t)u * SK_BINS,
                                      ndx__quantile_rank(d->quantile, d->n_stats * (uint64_t)d->h * d->w))
                   : NAN;
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
