/* One-pass IoU: while the thresholds are unknown, per unit a window of
 * HIST_BINS sketch bins holds histograms of the upsampled pixels and of
 * those inside each mask (see dissect.h); any threshold in the window then
 * gives exact counts.  The windows open after the warm-up patches, whose
 * maps and masks wait in a buffer; ndx_dissect_finish reads the counts at
 * the final thresholds and reports the units whose threshold fell outside. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "../../kernels/kernels.h"

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
void ndx__hist_unit(ndx_dissect *d, int u, const float *maps, int n,
                      const uint8_t *const *masks, const ndx__iou_ws *ws, int tid)
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
                      const ndx__iou_ws *ws, int par)
{
#pragma omp parallel for schedule(dynamic, 2) num_threads(ndx__dissect_threads()) if (par)
    for (int u = 0; u < d->units; u++) ndx__hist_unit(d, u, maps, n, masks, ws, ndx__thread_id());
    d->n_iou += (uint64_t)n;
}

/* The warm-up size: HIST_WARMUP patches, fewer when their maps would pass
 * 16 MiB, at least 8. */

int ndx__warmup_size(const ndx_dissect *d)
{
    const size_t per = (size_t)d->units * d->h * d->w * sizeof(float);
    size_t w = ((size_t)16 << 20) / per;
    if (w > HIST_WARMUP) w = HIST_WARMUP;
    return w < 8 ? 8 : (int)w;
}

void ndx__free_buffer(ndx_dissect *d)
{
    ndx_free(d->wmaps), free(d->wmasks), free(d->wpresent);
    d->wmaps = NULL, d->wmasks = NULL, d->wpresent = NULL;
    d->wn = 0;
}

/* Leaves hist mode: the windows go. */
void ndx__free_windows(ndx_dissect *d)
{
    free(d->win), free(d->lo_value), free(d->hist);
    d->win = NULL, d->lo_value = NULL, d->hist = NULL;
    d->hist_mode = d->window_open = 0;
}

/* Enters hist mode for masks of mh x mw: windows and warm-up buffer (pages
 * of the buffer are touched only as patches arrive). */
ndx_status ndx__start_hist(ndx_dissect *d, int mh, int mw)
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
        ndx__free_windows(d);
        ndx__free_buffer(d);
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
    ndx_status st = ndx__start_hist(d, mh, mw);
    if (st) return st;
    ndx__free_buffer(d);
    d->window_open = 1;
    return NDX_OK;
}

void ndx__dissect_window_values(ndx_dissect *d)
{
    for (int u = 0; d->hist_mode && u < d->units; u++)
        d->lo_value[u] = nextafterf(ndx__sketch_threshold(d->win[u].base), INFINITY);
}

/* Opens the windows from the warm-up statistics and empties the buffer into
 * them.  A window's base is the bin of the threshold the warm-up gives at 3x
 * the quantile (for RELATIVE, relative x the best score so far: a lower bound
 * of the final one); its bins start there too, or higher so that they reach
 * an octave above the best score so far (units sparse in the warm-up, whose
 * estimate is "above zero", keep base there with a lump below lo).  The
 * factor trades cost (pixels selected) against the chance that a final T
 * lies below base (a second pass): 3x gave no miss on the demo, 2x four. */
static ndx_status open_windows(ndx_dissect *d, ndx__iou_ws *ws)
{
    double q = 3 * d->quantile;
    if (q > 1) q = 1;
    for (int u = 0; u < d->units; u++) {
        const int base = ndx__threshold_bin(d, u, q);
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
    ndx__free_buffer(d);
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


ndx_status ndx__dissect_open_windows(ndx_dissect *d)
{
    if (!d->hist_mode || d->window_open) return NDX_OK;
    ndx__iou_ws ws;
    ndx_status st = ndx__dissect_ws(d, 1, d->mask_h, d->mask_w, &ws);
    return st ? st : open_windows(d, &ws);
}

ndx_status ndx_dissect_finish(ndx_dissect *d, int *missed)
{
    if (!d || !missed) return ndx__fail(NDX_ERR_INVALID, "dissect_finish: NULL argument");
    *missed = 0;
    if (!d->hist_mode) return NDX_OK;
    ndx_status st = ndx__dissect_open_windows(d);
    if (st) return st;
    const size_t M = (size_t)d->nmasks;
    int miss = 0;
    for (int u = 0; u < d->units; u++) {
        const int bt = ndx__threshold_bin(d, u, d->quantile);
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
        ndx__free_windows(d);
        d->n_iou = 0;
        memset(d->area, 0, sizeof d->area);
    }
    *missed = miss;
    return NDX_OK;
}


/* One-pass IoU of a batch before the windows open: into the warm-up buffer;
 * once it is full, the windows open and the rest of the batch goes in. */
ndx_status ndx__windows_warmup(ndx_dissect *d, const ndx_dissect_batch *b, ndx__iou_ws *ws,
                               int par)
{
    const int N = b->n, M = d->nmasks;
    const size_t hw = (size_t)d->h * d->w;
    const int take = N < d->warmup - d->wn ? N : d->warmup - d->wn;
    buffer_add(d, b, 0, take);
    if (d->wn < d->warmup) return NDX_OK;
    ndx_status st = open_windows(d, ws);
    if (st || take == N) return st;
    const uint8_t *const *mk = b->masks ? b->masks + (size_t)take * M : NULL;
    hist_feed(d, b->maps + (size_t)take * d->units * hw, N - take, mk, ws, par);
    return NDX_OK;
}
