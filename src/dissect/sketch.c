/* The quantile sketch and the top-k heap of a unit.
 *
 * Sketch: SK_BINS counters per unit of all its spatial activations, bins
 * from the float's bit pattern (see dissect.h): exact, mergeable counts;
 * thresholds fall on bin edges.  Heap: per unit a min-heap of slot numbers
 * with the worst entry at the root; order: higher score first, equal scores
 * by smaller id (ndx__better). */
#include <math.h>
#include <string.h>

#include "dissect.h"

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

/* Adds n values to a sketch: ndx__sketch_bin in integer arithmetic without
 * branches (equal for every bit pattern), 64 values at a time in a SIMD
 * loop, then the counts. */
void ndx__sketch_add(uint64_t *sk, const float *v, size_t n)
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

/* The sketch bin of unit u's top-q activation; the zero bin becomes the
 * first positive one (T just below 2^-20: zero activations stay inactive, as
 * with T = 0 in Network Dissection). */
int ndx__quantile_bin(const ndx_dissect *d, int u, double q)
{
    const uint64_t count = d->n_stats * (uint64_t)d->h * (uint64_t)d->w;
    const int b = ndx__sketch_rank(d->sketch + (size_t)u * SK_BINS, ndx__quantile_rank(q, count));
    return b == SK_ZERO ? SK_ZERO + 1 : b;
}

/* The bin of unit u's threshold: at top fraction q (QUANTILE) or of relative
 * x its best score (RELATIVE); the zero bin as above. */
int ndx__threshold_bin(const ndx_dissect *d, int u, double q)
{
    if (d->mode != NDX_THRESHOLD_RELATIVE) return ndx__quantile_bin(d, u, q);
    const int b = ndx__sketch_bin((float)(d->relative * d->maxs[u]));
    return b == SK_ZERO ? SK_ZERO + 1 : b;
}

/* ---- heap ---------------------------------------------------------------- */
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

