/* Merging two shards' states of one layer: counts, sketches, heaps and
 * (one pass) the IoU windows, as one run over both would hold them; and
 * the states' provenance (model, data, split, shards) that a merge checks
 * first, so that one shard merged twice, or shards of different runs, are
 * refused rather than counted. */
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

ndx_status ndx__dissect_shards(ndx_dissect *d, int nshards)
{
    if (nshards < 1 || nshards > 100000)
        return ndx__fail(NDX_ERR_INVALID, "dissect %s: %d shards (1..100000)", d->layer, nshards);
    uint8_t *b = calloc(((size_t)nshards + 7) / 8, 1);
    if (!b) return ndx__fail(NDX_ERR_NOMEM, "dissect %s: out of memory", d->layer);
    free(d->shards);
    d->shards = b;
    d->nshards = nshards;
    return NDX_OK;
}

ndx_status ndx_dissect_set_source(ndx_dissect *d, const ndx_dissect_source *s)
{
    if (!d || !s) return ndx__fail(NDX_ERR_INVALID, "dissect_set_source: NULL argument");
    if (s->split < NDX_SPLIT_TRAIN || s->split > NDX_SPLIT_TEST || s->shard < 0 ||
        s->shard >= s->nshards)
        return ndx__fail(NDX_ERR_INVALID, "dissect_set_source %s: split %d, shard %d of %d",
                         d->layer, s->split, s->shard, s->nshards);
    ndx_status st = ndx__dissect_shards(d, s->nshards);
    if (st) return st;
    d->shards[s->shard / 8] |= (uint8_t)(1u << (s->shard % 8));
    d->src_set = 1;
    d->src_split = s->split;
    d->src_model = s->model;
    d->src_data = s->data;
    return NDX_OK;
}

int ndx_dissect_get_source(const ndx_dissect *d, ndx_dissect_source *s, int *covered)
{
    if (!d || !d->src_set) return 0;
    int n = 0, first = -1;
    for (int k = 0; k < d->nshards; k++)
        if (d->shards[k / 8] >> (k % 8) & 1) n++, first = first < 0 ? k : first;
    if (s) *s = (ndx_dissect_source){d->src_model, d->src_data, d->src_split, first, d->nshards};
    if (covered) *covered = n;
    return 1;
}

ndx_status ndx__dissect_same_source(const ndx_dissect *a, const ndx_dissect *b, const char *what)
{
    if (a->src_set != b->src_set)
        return ndx__fail(NDX_ERR_INVALID, "%s %s: one state records the model, data and shard it "
                         "was made from, the other does not (made by the streaming API alone or "
                         "an older netdx): dissect both again", what, a->layer);
    if (!a->src_set) return NDX_OK;
    if (a->src_model != b->src_model)
        return ndx__fail(NDX_ERR_INVALID, "%s %s: the states were made by different models "
                         "(XXH3 %016llx vs %016llx): dissect every shard with the same model",
                         what, a->layer, (unsigned long long)a->src_model,
                         (unsigned long long)b->src_model);
    if (a->src_data != b->src_data)
        return ndx__fail(NDX_ERR_INVALID, "%s %s: the states were made over different patches.csv "
                         "(XXH3 %016llx vs %016llx): dissect every shard over the same data",
                         what, a->layer, (unsigned long long)a->src_data,
                         (unsigned long long)b->src_data);
    if (a->src_split != b->src_split)
        return ndx__fail(NDX_ERR_INVALID, "%s %s: the states are of the %s and the %s split", what,
                         a->layer, ndx_split_name(a->src_split), ndx_split_name(b->src_split));
    return NDX_OK;
}

/* The shards of dst and src: of one count, none in both. */
static ndx_status check_shards(const ndx_dissect *dst, const ndx_dissect *src)
{
    if (!dst->src_set) return NDX_OK;
    if (dst->nshards != src->nshards)
        return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: shards of %d vs shards of %d: merge "
                         "the shards of one --shard I/N split", dst->layer, dst->nshards,
                         src->nshards);
    for (int k = 0; k < dst->nshards; k++)
        if (dst->shards[k / 8] & src->shards[k / 8] & (1u << (k % 8)))
            return ndx__fail(NDX_ERR_INVALID, "dissect_merge %s: both states hold shard %d of %d: "
                             "its patches would count twice (merge each shard once)", dst->layer,
                             k, dst->nshards);
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
    ndx_status sst = ndx__dissect_same_source(dst, src, "dissect_merge");
    if (sst || (sst = check_shards(dst, src))) return sst;
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
    for (int k = 0; dst->src_set && k < (dst->nshards + 7) / 8; k++) dst->shards[k] |= src->shards[k];
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

