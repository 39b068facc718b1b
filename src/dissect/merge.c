/* Merging two shards' states of one layer: counts, sketches, heaps and
 * (one pass) the IoU windows, as one run over both would hold them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"

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

