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

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dissect.h"
#include "../../kernels/kernels.h"

static void free_windows(ndx_dissect *d);
static void free_buffer(ndx_dissect *d);
static int warmup_size(const ndx_dissect *d);

static const char *const default_masks[] = {"mass", "calcification", "vessel",
                                            "distortion", "malignant", "all"};

/* ---- sketch ------------------------------------------------------------- */
static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

float ndx__sketch_threshold(int bin)
{
    if (bin == SK_ZERO) return -from_bits(SK_LO_BITS);   /* v > -2^-20 */
    if (bin > SK_ZERO)
        return nextafterf(from_bits(SK_LO_BITS + ((uint32_t)(bin - SK_ZERO - 1) << SK_SHIFT)),
                          -INFINITY);
    if (bin == 0) return -INFINITY;                      /* the lowest bin holds all below */
    const int m = SK_PER_SIGN - 1 - bin;                 /* magnitudes below lo_{m+1} */
    return -from_bits(SK_LO_BITS + ((uint32_t)(m + 1) << SK_SHIFT));
}

uint64_t ndx__quantile_rank(double q, uint64_t count)
{
    double r = ceil(q * (double)count);
    if (r < 1.0) r = 1.0;
    if (r > (double)count) r = (double)count;
    return (uint64_t)r;
}

int ndx__sketch_rank(const uint64_t *sk, uint64_t r)
{
    uint64_t acc = 0;
    for (int b = SK_BINS - 1; b >= 0; b--) {
        acc += sk[b];
        if (acc >= r) return b;
    }
    return 0;
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
    if (c->warmup < 0 || c->warmup > 65536)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: warmup %d out of range 0..65536", c->layer,
                         c->warmup);
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
    d->warmup = c.warmup ? c.warmup : warmup_size(d);
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
    free_windows(d);
    free_buffer(d);
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

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Workspace of the IoU: the bilinear plan (map -> mask size), an empty mask
 * (for patches without masks: the kernel then counts |A|), the masks' areas
 * (N x nmasks) and per thread the select kernel's output (mask_h x mask_w
 * indices and values).  Grown when a batch needs more. */
typedef struct iou_ws {
    ndx_bilinear_plan plan;
    uint8_t *zero;
    uint64_t *area;
    int32_t *sidx;
    float *sval;
    int32_t *sslot;
} iou_ws;

static ndx_status get_ws(ndx_dissect *d, int n, int mh, int mw, iou_ws *ws)
{
    const size_t mhw = (size_t)mh * mw, nt = (size_t)nthreads();
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

/* Adds n values to a sketch: ndx__sketch_bin in integer arithmetic without
 * branches (equal for every bit pattern), 64 values at a time in a SIMD
 * loop, then the counts. */
static void sketch_add(uint64_t *sk, const float *v, size_t n)
{
    int32_t bin[64];
    for (size_t j0 = 0; j0 < n; j0 += 64) {
        const int len = n - j0 < 64 ? (int)(n - j0) : 64;
        const int32_t *bits = (const int32_t *)(const void *)(v + j0);
#pragma omp simd
        for (int j = 0; j < len; j++) {
            const int32_t b = bits[j];
            const int32_t s = b >> 31;   /* arithmetic: -1 when negative */
            int32_t m = ((b & 0x7fffffff) - (int32_t)SK_LO_BITS) >> SK_SHIFT;
            m = m > SK_PER_SIGN - 1 ? SK_PER_SIGN - 1 : m;
            /* m < 0 (below 2^-20 in magnitude): the zero bin */
            bin[j] = SK_ZERO + ((((m + 1) ^ s) - s) & ~(m >> 31));
        }
        for (int j = 0; j < len; j++) sk[bin[j]]++;
    }
}

/* An upper bound of every bilinearly upsampled value of a map with this max
 * (the blend's three roundings can exceed the max by a few ulp). */
static float upsampled_bound(float max) { return max + fabsf(max) * 0x1p-20f; }

/* IoU at known thresholds: per (patch, unit) the fused kernel once per
 * present mask (nmasks = 1, the caller's mask in place), or once with the
 * empty mask when the patch has none; |A| = union + intersection - |M| of
 * the first call counts toward the absent masks' unions.  Maps that cannot
 * exceed T have an empty A and skip the kernel. */
static void iou_exact(ndx_dissect *d, const ndx_dissect_batch *b, const iou_ws *ws, int par)
{
    const int U = d->units, N = b->n, M = d->nmasks;
    const size_t hw = (size_t)d->h * d->w, mhw = (size_t)b->mask_h * b->mask_w;
    const ndx_bilinear_iou_fn fused = ndx_kernels()->bilinear_iou.fn;
    const ndx_channel_max_fn cmax = ndx_kernels()->channel_max.fn;
#pragma omp parallel for schedule(dynamic, 2) num_threads(nthreads()) if (par)
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

/* The window slots of n selected values (all >= the smallest value of bin
 * w.base): 0 for bins below w.lo (the lump), bin - w.lo + 1 above, the last
 * slot for all beyond.  Windows above zero (every value positive and >=
 * 2^-20) take the slot straight from the bit pattern, a loop the compiler
 * vectorizes; bins past the sketch's top land in higher slots than the
 * sketch's top bin would, which keeps every count of "bin >= b" exact. */
static void window_slots(ndx_window w, const float *val, size_t n, int32_t *slot)
{
    if (w.base > SK_ZERO) {
        uint32_t lo_bits = SK_LO_BITS + ((uint32_t)(w.lo - SK_ZERO - 1) << SK_SHIFT);
        for (size_t j = 0; j < n; j++) {
            int32_t b;
            memcpy(&b, &val[j], sizeof b);
            int32_t k = ((b - (int32_t)lo_bits) >> SK_SHIFT) + 1;   /* arithmetic shift */
            k = k < 0 ? 0 : k;
            slot[j] = k > HIST_BINS - 1 ? HIST_BINS - 1 : k;
        }
        return;
    }
    for (size_t j = 0; j < n; j++) {
        const int k = ndx__sketch_bin(val[j]) - w.lo + 1;
        slot[j] = k < 0 ? 0 : k > HIST_BINS - 1 ? HIST_BINS - 1 : k;
    }
}

/* One-pass IoU of unit u: n patches' maps (n x U x h x w) into its window's
 * histograms: the select kernel lists the upsampled pixels >= lo_value (the
 * smallest value of bin base), each counted in its window slot, and in mask
 * m's row when inside.  tid: the calling thread's select buffers. */
static void hist_unit(ndx_dissect *d, int u, const float *maps, int n,
                      const uint8_t *const *masks, const iou_ws *ws, int tid)
{
    const int U = d->units, M = d->nmasks;
    const size_t hw = (size_t)d->h * d->w, mhw = (size_t)d->mask_h * d->mask_w;
    const ndx_bilinear_select_fn select = ndx_kernels()->bilinear_select.fn;
    int32_t *idx = ws->sidx + (size_t)tid * mhw;
    float *val = ws->sval + (size_t)tid * mhw;
    int32_t *slot = ws->sslot + (size_t)tid * mhw;
    uint64_t *h = d->hist + (size_t)u * (1 + M) * HIST_BINS;
    const float lov = d->lo_value[u];
    for (int i = 0; i < n; i++) {
        /* the kernel skips what cannot reach lov */
        const float *map = maps + ((size_t)i * U + u) * hw;
        const size_t ns = select(&ws->plan, map, lov, idx, val);
        window_slots(d->win[u], val, ns, slot);
        for (size_t j = 0; j < ns; j++) h[slot[j]]++;
        for (int m = 0; masks && m < M; m++) {
            const uint8_t *mk = masks[(size_t)i * M + (size_t)m];
            uint64_t *hm = h + (size_t)(1 + m) * HIST_BINS;
            /* a branch, not an add of 0 or 1: pixels outside the mask
             * (most, in runs) then leave the counters alone, which are
             * otherwise bumped back to back and wait on their own stores */
            if (mk)
                for (size_t j = 0; j < ns; j++)
                    if (mk[idx[j]]) hm[slot[j]]++;
        }
    }
}

/* hist_unit for every unit (the caller adds n to n_iou). */
static void hist_feed(ndx_dissect *d, const float *maps, int n, const uint8_t *const *masks,
                      const iou_ws *ws, int par)
{
#pragma omp parallel for schedule(dynamic, 2) num_threads(nthreads()) if (par)
    for (int u = 0; u < d->units; u++) hist_unit(d, u, maps, n, masks, ws, thread_id());
    d->n_iou += (uint64_t)n;
}

/* The warm-up size: HIST_WARMUP patches, fewer when their maps would pass
 * 16 MiB, at least 8. */
static int warmup_size(const ndx_dissect *d)
{
    const size_t per = (size_t)d->units * d->h * d->w * sizeof(float);
    size_t w = ((size_t)16 << 20) / per;
    if (w > HIST_WARMUP) w = HIST_WARMUP;
    return w < 8 ? 8 : (int)w;
}

static void free_buffer(ndx_dissect *d)
{
    ndx_free(d->wmaps), free(d->wmasks), free(d->wpresent);
    d->wmaps = NULL, d->wmasks = NULL, d->wpresent = NULL;
    d->wn = 0;
}

/* Leaves hist mode: the windows go. */
static void free_windows(ndx_dissect *d)
{
    free(d->win), free(d->lo_value), free(d->hist);
    d->win = NULL, d->lo_value = NULL, d->hist = NULL;
    d->hist_mode = d->window_open = 0;
}

/* Enters hist mode for masks of mh x mw: windows and warm-up buffer (pages
 * of the buffer are touched only as patches arrive). */
static ndx_status start_hist(ndx_dissect *d, int mh, int mw)
{
    const size_t U = (size_t)d->units, M = (size_t)d->nmasks, W = (size_t)d->warmup;
    const size_t hw = (size_t)d->h * d->w, mhw = (size_t)mh * mw;
    d->win = malloc(U * sizeof *d->win);
    d->lo_value = malloc(U * sizeof *d->lo_value);
    d->hist = calloc(U * (1 + M) * HIST_BINS, sizeof *d->hist);
    d->wmaps = ndx_alloc(W * U * hw * sizeof(float));
    d->wmasks = malloc(W * M * mhw);
    d->wpresent = calloc(W * M, 1);
    if (!d->win || !d->lo_value || !d->hist || !d->wmaps || !d->wmasks || !d->wpresent) {
        free_windows(d);
        free_buffer(d);
        return ndx__fail(NDX_ERR_NOMEM, "dissect %s: cannot allocate the one-pass IoU windows "
                         "(%zu units x %d bins) and warm-up buffer (%zu patches)", d->layer,
                         U, HIST_BINS, W);
    }
    d->hist_mode = 1;
    d->mask_h = mh;
    d->mask_w = mw;
    return NDX_OK;
}

ndx_status ndx__dissect_windows(ndx_dissect *d, int mh, int mw)
{
    ndx_status st = start_hist(d, mh, mw);
    if (st) return st;
    free_buffer(d);
    d->window_open = 1;
    return NDX_OK;
}

void ndx__dissect_window_values(ndx_dissect *d)
{
    for (int u = 0; d->hist_mode && u < d->units; u++)
        d->lo_value[u] = nextafterf(ndx__sketch_threshold(d->win[u].base), INFINITY);
}

/* The sketch bin of unit u's top-q activation; the zero bin becomes the
 * first positive one (T just below 2^-20: zero activations stay inactive, as
 * with T = 0 in Network Dissection). */
static int quantile_bin(const ndx_dissect *d, int u, double q)
{
    const uint64_t count = d->n_stats * (uint64_t)d->h * (uint64_t)d->w;
    const int b = ndx__sketch_rank(d->sketch + (size_t)u * SK_BINS, ndx__quantile_rank(q, count));
    return b == SK_ZERO ? SK_ZERO + 1 : b;
}

/* The bin of unit u's threshold: at top fraction q (QUANTILE) or of relative
 * x its best score (RELATIVE); the zero bin as above. */
static int threshold_bin(const ndx_dissect *d, int u, double q)
{
    if (d->mode != NDX_THRESHOLD_RELATIVE) return quantile_bin(d, u, q);
    const int b = ndx__sketch_bin((float)(d->relative * d->maxs[u]));
    return b == SK_ZERO ? SK_ZERO + 1 : b;
}

/* Opens the windows from the warm-up statistics and empties the buffer into
 * them.  A window's base is the bin of the threshold the warm-up gives at 3x
 * the quantile (for RELATIVE, relative x the best score so far: a lower bound
 * of the final one); its bins start there too, or higher so that they reach
 * an octave above the best score so far (units sparse in the warm-up, whose
 * estimate is "above zero", keep base there with a lump below lo).  The
 * factor trades cost (pixels selected) against the chance that a final T
 * lies below base (a second pass): 3x gave no miss on the demo, 2x four. */
static ndx_status open_windows(ndx_dissect *d, iou_ws *ws)
{
    double q = 3 * d->quantile;
    if (q > 1) q = 1;
    for (int u = 0; u < d->units; u++) {
        const int base = threshold_bin(d, u, q);
        const int need = ndx__sketch_bin(d->maxs[u]) + 32 - (HIST_BINS - 2);
        const int lo = need > base ? need : base;
        d->win[u] = (ndx_window){base, lo, lo + HIST_BINS - 2};
    }
    ndx__dissect_window_values(d);
    d->window_open = 1;
    const size_t M = (size_t)d->nmasks, mhw = (size_t)d->mask_h * d->mask_w;
    const uint8_t **ptr = calloc((size_t)(d->wn ? d->wn : 1) * M, sizeof *ptr);
    if (!ptr) return ndx__fail(NDX_ERR_NOMEM, "dissect %s: out of memory", d->layer);
    for (size_t j = 0; j < (size_t)d->wn * M; j++)
        ptr[j] = d->wpresent[j] ? d->wmasks + j * mhw : NULL;
    hist_feed(d, d->wmaps, d->wn, ptr, ws, 1);
    free(ptr);
    free_buffer(d);
    return NDX_OK;
}

/* Copies patches [first, last) of a batch into the warm-up buffer. */
static void buffer_add(ndx_dissect *d, const ndx_dissect_batch *b, int first, int last)
{
    const size_t U = (size_t)d->units, M = (size_t)d->nmasks, hw = (size_t)d->h * d->w;
    const size_t mhw = (size_t)d->mask_h * d->mask_w;
    for (int i = first; i < last; i++, d->wn++) {
        memcpy(d->wmaps + (size_t)d->wn * U * hw, b->maps + (size_t)i * U * hw, U * hw * sizeof(float));
        for (size_t m = 0; m < M; m++) {
            const uint8_t *mk = b->masks ? b->masks[(size_t)i * M + m] : NULL;
            d->wpresent[(size_t)d->wn * M + m] = mk != NULL;
            if (mk) memcpy(d->wmasks + ((size_t)d->wn * M + m) * mhw, mk, mhw);
        }
    }
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

    const int U = d->units, N = b->n, M = d->nmasks;
    const size_t hw = (size_t)d->h * d->w, total = (size_t)N * U * hw;
    int bad = 0;
    /* threads only where there is enough work to pay for waking them */
    const int par = total >= ((size_t)1 << 16);
#pragma omp parallel for schedule(static) reduction(| : bad) num_threads(nthreads()) if (par)
    for (int i = 0; i < N; i++) {
        /* inf or NaN: all exponent bits set (a SIMD loop) */
        const uint32_t *bits = (const uint32_t *)(const void *)(b->maps + (size_t)i * U * hw);
        uint32_t all = 0;
#pragma omp simd reduction(| : all)
        for (size_t j = 0; j < (size_t)U * hw; j++)
            all |= (uint32_t)((bits[j] & 0x7f800000u) == 0x7f800000u);
        bad |= (int)all;
    }
    if (bad) {
        for (size_t j = 0; j < total; j++)
            if (!isfinite(b->maps[j]))
                return ndx__fail(NDX_ERR_INVALID, "dissect %s: map of patch %zu (id %lld), unit %zu "
                                 "holds %g at %zu", d->layer, j / (U * hw),
                                 (long long)b->ids[j / (U * hw)], j / hw % U, b->maps[j], j % hw);
    }
    iou_ws ws;
    if (iou) {
        ndx_status st = get_ws(d, N, b->mask_h, b->mask_w, &ws);
        if (!st && hist && !d->hist_mode) st = start_hist(d, b->mask_h, b->mask_w);
        if (st) return st;
    }

    const int nt = nthreads();
    const ndx_channel_max_fn cmax = ndx_kernels()->channel_max.fn;
    const size_t mhw = iou ? (size_t)b->mask_h * b->mask_w : 0;
    const int par_iou = (size_t)U * N * mhw >= ((size_t)1 << 16);
    if (iou) {   /* the masks' areas (a SIMD count, patches in parallel) */
        const int par_area = (size_t)N * M * mhw >= ((size_t)1 << 16);
#pragma omp parallel for schedule(static) num_threads(nt) if (par_area)
        for (int i = 0; i < N; i++)
            for (int m = 0; m < M; m++) {
                const uint8_t *mk = b->masks ? b->masks[(size_t)i * M + m] : NULL;
                uint64_t c = 0;
                if (mk) {
#pragma omp simd reduction(+ : c)
                    for (size_t j = 0; j < mhw; j++) c += mk[j] != 0;
                }
                ws.area[(size_t)i * M + m] = c;
            }
        for (int i = 0; hist && i < N; i++)
            for (int m = 0; m < M; m++) d->area[m] += ws.area[(size_t)i * M + m];
    }
    /* with the windows open, a unit's histograms follow its statistics in
     * the same parallel loop (its maps still in cache) */
    const int fused = stats && hist && d->window_open;
    if (stats) {
#pragma omp parallel for schedule(dynamic, 2) num_threads(nt) if (par || (fused && par_iou))
        for (int u = 0; u < U; u++) {
            uint64_t *sk = d->sketch + (size_t)u * SK_BINS;
            double sum = d->sums[u];
            float top = d->maxs[u];
            for (int i = 0; i < N; i++) {
                const float *map = b->maps + ((size_t)i * U + u) * hw;
                int32_t arg;
                float best;
                cmax(1, hw, map, &best, &arg);
                sketch_add(sk, map, hw);
                sum += best;
                if (best > top) top = best;
                ndx__heap_offer(d, u, best, b->ids[i], arg, b->labels && b->labels[i] ? 1 : 0, map);
            }
            d->sums[u] = sum;   /* written once per batch: no false sharing */
            d->maxs[u] = top;
            if (fused) hist_unit(d, u, b->maps, N, b->masks, &ws, thread_id());
        }
        d->n_stats += (uint64_t)N;
        for (int i = 0; i < N; i++) d->n_pos += b->labels && b->labels[i] ? 1 : 0;
    }
    if (iou) {
        if (!hist) {
            iou_exact(d, b, &ws, par_iou);
            d->n_iou += (uint64_t)N;
        } else if (fused) {
            d->n_iou += (uint64_t)N;
        } else {
            const int take = N < d->warmup - d->wn ? N : d->warmup - d->wn;
            buffer_add(d, b, 0, take);
            if (d->wn == d->warmup) {
                ndx_status st = open_windows(d, &ws);
                if (st) return st;
                if (take < N) {
                    const uint8_t *const *mk = b->masks ? b->masks + (size_t)take * M : NULL;
                    hist_feed(d, b->maps + (size_t)take * U * hw, N - take, mk, &ws, par_iou);
                }
            }
        }
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
    for (int u = 0; u < d->units; u++) d->thr[u] = ndx__sketch_threshold(threshold_bin(d, u, d->quantile));
    d->thresholds_set = 1;
    return NDX_OK;
}

ndx_status ndx_dissect_finish(ndx_dissect *d, int *missed)
{
    if (!d || !missed) return ndx__fail(NDX_ERR_INVALID, "dissect_finish: NULL argument");
    *missed = 0;
    if (!d->hist_mode) return NDX_OK;
    if (!d->window_open) {
        iou_ws ws;
        ndx_status st = get_ws(d, 1, d->mask_h, d->mask_w, &ws);
        if (!st) st = open_windows(d, &ws);
        if (st) return st;
    }
    const size_t M = (size_t)d->nmasks;
    int miss = 0;
    for (int u = 0; u < d->units; u++) {
        const int bt = threshold_bin(d, u, d->quantile);
        const ndx_window w = d->win[u];
        const int k = bt == w.base ? 0 : bt - w.lo + 1;
        d->thr[u] = ndx__sketch_threshold(bt);
        uint64_t *in = d->inter + (size_t)u * M, *un = d->uni + (size_t)u * M;
        if (bt != w.base && (bt < w.lo || bt > w.top)) {
            miss++;
            continue;
        }
        const uint64_t *h = d->hist + (size_t)u * (1 + M) * HIST_BINS;
        uint64_t a = 0;
        for (int j = k; j < HIST_BINS; j++) a += h[j];
        for (size_t m = 0; m < M; m++) {
            uint64_t c = 0;
            for (int j = k; j < HIST_BINS; j++) c += h[(1 + m) * HIST_BINS + (size_t)j];
            in[m] = c;
            un[m] = a + d->area[m] - c;
        }
    }
    d->thresholds_set = 1;
    if (miss) {
        /* the caller runs an IoU pass with these thresholds */
        memset(d->inter, 0, (size_t)d->units * M * sizeof *d->inter);
        memset(d->uni, 0, (size_t)d->units * M * sizeof *d->uni);
        free_windows(d);
        d->n_iou = 0;
        memset(d->area, 0, sizeof d->area);
    }
    *missed = miss;
    return NDX_OK;
}

/* ---- merging ------------------------------------------------------------ */
/* Adds a window's row (window w) into out's slots for window m: bins below
 * m.base drop, bins m.base .. m.lo - 1 join the lump, bins above m.top join
 * m.top's slot (counts of bins >= b stay exact for b = m.base and m.lo <= b
 * <= m.top).  A lump merges only into a window of the same base. */
static void rebin(const uint64_t *old, ndx_window w, uint64_t *out, ndx_window m)
{
    if (w.base == m.base) out[0] += old[0];
    for (int k = 1; k < HIST_BINS; k++) {
        const int bin = w.lo + k - 1;
        if (bin < m.base || !old[k]) continue;
        out[bin < m.lo ? 0 : (bin < m.top ? bin : m.top) - m.lo + 1] += old[k];
    }
}

/* The one-pass windows of src into dst's: both windows open (or dst empty),
 * the same mask size; per unit the common range max(lo)..min(top). */
static ndx_status merge_windows(ndx_dissect *dst, const ndx_dissect *src)
{
    if ((dst->hist_mode && !dst->window_open) || (src->hist_mode && !src->window_open))
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: call ndx_dissect_finish on both "
                         "states first", dst->layer);
    const int fresh = !dst->hist_mode && !dst->n_stats && !dst->n_iou && !dst->thresholds_set;
    if (!src->hist_mode || (!dst->hist_mode && !fresh))
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: one state has one-pass IoU windows, "
                         "the other IoU at given thresholds", dst->layer);
    if (fresh) {
        ndx_status st = ndx__dissect_windows(dst, src->mask_h, src->mask_w);
        if (st) return st;
        memcpy(dst->win, src->win, (size_t)dst->units * sizeof *dst->win);
    }
    if (dst->mask_h != src->mask_h || dst->mask_w != src->mask_w)
        return ndx__fail(NDX_ERR_SHAPE, "dissect_merge %s: masks %dx%d vs %dx%d", dst->layer,
                         dst->mask_h, dst->mask_w, src->mask_h, src->mask_w);
    const size_t rows = 1 + (size_t)dst->nmasks;
    for (int u = 0; u < dst->units; u++) {
        const ndx_window a = dst->win[u], b = src->win[u];
        ndx_window m = {0, a.lo > b.lo ? a.lo : b.lo, a.top < b.top ? a.top : b.top};
        m.base = a.base == b.base ? a.base : m.lo;
        if (m.top < m.lo - 1) m.top = m.lo - 1;   /* empty: every T >= lo misses */
        uint64_t *hd = dst->hist + (size_t)u * rows * HIST_BINS;
        const uint64_t *hs = src->hist + (size_t)u * rows * HIST_BINS;
        for (size_t r = 0; r < rows; r++) {
            uint64_t tmp[HIST_BINS] = {0};
            rebin(hd + r * HIST_BINS, a, tmp, m);
            rebin(hs + r * HIST_BINS, b, tmp, m);
            memcpy(hd + r * HIST_BINS, tmp, sizeof tmp);
        }
        dst->win[u] = m;
    }
    ndx__dissect_window_values(dst);
    for (int m = 0; m < dst->nmasks; m++) dst->area[m] += src->area[m];
    return NDX_OK;
}

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
    const int hist = dst->hist_mode || src->hist_mode;
    if (!hist && (dst->thresholds_set != src->thresholds_set ||
                  (dst->thresholds_set &&
                   memcmp(dst->thr, src->thr, (size_t)dst->units * sizeof *dst->thr))))
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: the shards' thresholds differ (set "
                         "the same thresholds on every shard before the IoU pass)", dst->layer);
    if (hist) {
        ndx_status st = merge_windows(dst, src);
        if (st) return st;
    }

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
    if (hist) {   /* IoU and thresholds come from the merged windows: finish again */
        memset(dst->inter, 0, U * (size_t)dst->nmasks * sizeof *dst->inter);
        memset(dst->uni, 0, U * (size_t)dst->nmasks * sizeof *dst->uni);
        dst->thresholds_set = 0;
        for (size_t u = 0; u < U; u++) dst->thr[u] = NAN;
    }
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
    o->quantile_threshold = d->n_stats ? ndx__sketch_threshold(quantile_bin(d, u, d->quantile)) : NAN;
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
