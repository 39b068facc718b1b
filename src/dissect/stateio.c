/* The dissection state file.
 *
 * Little-endian, in this order:
 *   "NDXDISS\0", u32 version (3), u32 0x01020304 (byte-order check)
 *   char layer[64], char mask_names[8][32]
 *   i32 units, h, w, topk, nmasks, align_corners, mode, thresholds_set
 *   f64 quantile, relative;  u64 n_stats, n_iou, n_pos
 *   i32 hist_mode, mask_h, mask_w, warmup;  u64 area[8]
 *   i32 src_set, split, nshards, 0;  u64 model, data  (the provenance:
 *   ndx_dissect_set_source; all 0 when src_set is 0)
 *   f32 thr[U], f32 maxs[U], f64 sums[U], u64 sketch[U][2561],
 *   u64 inter[U][nmasks], u64 uni[U][nmasks], i32 hsize[U],
 *   i32 heap[U][k], f32 score[U][k], i64 id[U][k], i32 argmax[U][k],
 *   u8 label[U][k], f32 map[U][k][h][w]
 *   with hist_mode (one-pass windows, open):
 *   i32 window[U][3] (base, lo, top), u64 hist[U][1 + nmasks][256]
 *   with src_set: u8 shards[(nshards + 7) / 8] (bit s: shard s is held)
 *   u64 XXH3-64 (seed 0) of every byte before it.
 * Written through ndx__out (src/io/file.c: temporary file, fsync, rename),
 * sealed with the checksum checkpoints end with too; read whole, checked
 * (magic, version, size, checksum, then the heaps' and sketches'
 * consistency, then every value: finite scores in range, patch ids in
 * 0..2^53 and once per unit): a checksum proves the bytes, not the values. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "../io/io.h"

#define MAGIC "NDXDISS"
#define VERSION 3u
#define HEADER_BYTES \
    (8 + 4 + 4 + 64 + NDX_DISSECT_MAX_MASKS * 32 + 8 * 4 + 2 * 8 + 3 * 8 + 4 * 4 + \
     NDX_DISSECT_MAX_MASKS * 8 + 4 * 4 + 2 * 8)

static int little_endian(void)
{
    const uint32_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

/* The arrays after the header, in file order. */
typedef struct span {
    void *p;
    size_t n;
} span;

static int spans(const ndx_dissect *d, span *s)
{
    const size_t U = (size_t)d->units, K = (size_t)d->topk, M = (size_t)d->nmasks;
    const size_t hw = (size_t)d->h * d->w;
    int i = 0;
    s[i++] = (span){d->thr, U * sizeof(float)};
    s[i++] = (span){d->maxs, U * sizeof(float)};
    s[i++] = (span){d->sums, U * sizeof(double)};
    s[i++] = (span){d->sketch, U * SK_BINS * sizeof(uint64_t)};
    s[i++] = (span){d->inter, U * M * sizeof(uint64_t)};
    s[i++] = (span){d->uni, U * M * sizeof(uint64_t)};
    s[i++] = (span){d->hsize, U * sizeof(int32_t)};
    s[i++] = (span){d->heap, U * K * sizeof(int32_t)};
    s[i++] = (span){d->hscore, U * K * sizeof(float)};
    s[i++] = (span){d->hid, U * K * sizeof(int64_t)};
    s[i++] = (span){d->harg, U * K * sizeof(int32_t)};
    s[i++] = (span){d->hlabel, U * K};
    s[i++] = (span){d->hmap, U * K * hw * sizeof(float)};
    if (d->hist_mode) {
        s[i++] = (span){d->win, U * sizeof *d->win};
        s[i++] = (span){d->hist, U * (1 + M) * HIST_BINS * sizeof(uint64_t)};
    }
    if (d->src_set) s[i++] = (span){d->shards, ((size_t)d->nshards + 7) / 8};
    return i;
}

/* What save and save_mem refuse: a big-endian host, an open one-pass state. */
static ndx_status check_save(const ndx_dissect *d, const char *path)
{
    if (!little_endian())
        return ndx__fail(NDX_ERR_UNSUPPORTED, "%s: state files are little-endian only", path);
    if (d->hist_mode && !d->window_open)
        return ndx__fail(NDX_ERR_INVALID, "%s: one-pass state of %s: call ndx_dissect_finish "
                         "before saving", path, d->layer);
    return NDX_OK;
}

/* Every byte of the file but the checksum, through w (sealed: it adds that). */
static void put_state(ndx__out *w, const ndx_dissect *d)
{
    const char magic[8] = MAGIC;
    const uint32_t ver = VERSION, bom = 0x01020304u;
    ndx__out_put(w, magic, 8);
    ndx__out_put(w, &ver, 4);
    ndx__out_put(w, &bom, 4);
    ndx__out_put(w, d->layer, sizeof d->layer);
    ndx__out_put(w, d->mask_names, sizeof d->mask_names);
    const int32_t ints[8] = {d->units, d->h, d->w, d->topk, d->nmasks, d->align_corners,
                             (int32_t)d->mode, d->thresholds_set};
    ndx__out_put(w, ints, sizeof ints);
    ndx__out_put(w, &d->quantile, 8);
    ndx__out_put(w, &d->relative, 8);
    const uint64_t counts[3] = {d->n_stats, d->n_iou, d->n_pos};
    ndx__out_put(w, counts, sizeof counts);
    const int32_t hints[4] = {d->hist_mode, d->mask_h, d->mask_w, d->warmup};
    ndx__out_put(w, hints, sizeof hints);
    ndx__out_put(w, d->area, sizeof d->area);
    const int32_t src[4] = {d->src_set, d->src_split, d->nshards, 0};
    const uint64_t digests[2] = {d->src_model, d->src_data};
    ndx__out_put(w, src, sizeof src);
    ndx__out_put(w, digests, sizeof digests);
    span s[16];
    const int ns = spans(d, s);
    for (int i = 0; i < ns; i++) ndx__out_put(w, s[i].p, s[i].n);
}

ndx_status ndx_dissect_save(const ndx_dissect *d, const char *path)
{
    if (!d || !path || !path[0]) return ndx__fail(NDX_ERR_INVALID, "dissect_save: NULL state or path");
    ndx__out w;
    ndx_status st = check_save(d, path);
    if (st || (st = ndx__out_open(&w, path, 1))) return st;
    put_state(&w, d);
    return ndx__out_commit(&w);
}

/* The file's bytes into memory (open_memstream), sealed the same way. */
ndx_status ndx_dissect_save_mem(const ndx_dissect *d, void **buf, size_t *n)
{
    if (!d || !buf || !n) return ndx__fail(NDX_ERR_INVALID, "dissect_save_mem: NULL argument");
    *buf = NULL, *n = 0;
    ndx_status st = check_save(d, "state in memory");
    if (st) return st;
    char *p = NULL;
    size_t len = 0;
    ndx__out w = {.f = open_memstream(&p, &len), .h = ndx_hasher_new(0)};
    int bad = !w.f || !w.h;
    if (!bad) {
        put_state(&w, d);
        const uint64_t sum = ndx_hasher_digest(w.h);
        unsigned char b[8];
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)(sum >> (8 * i));
        ndx_hasher_free(w.h);
        w.h = NULL;
        ndx__out_put(&w, b, 8);
    }
    if (w.f && fclose(w.f)) bad = 1;
    ndx_hasher_free(w.h);
    if (bad || w.failed || !p) {
        free(p);
        return ndx__fail(NDX_ERR_NOMEM, "dissect_save_mem: out of memory for the state of %s",
                         d->layer);
    }
    *buf = p, *n = len;
    return NDX_OK;
}

/* Largest patch id: ids go to units.json as JSON numbers (exact to 2^53). */
#define MAX_ID (1LL << 53)

static int cmp_id(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Unit u's statistics and top-k ids: finite numbers in range, each patch
 * once (ids: scratch room for topk of them). */
static ndx_status check_unit_values(const ndx_dissect *d, const char *path, size_t u,
                                    int64_t *ids)
{
    const size_t K = (size_t)d->topk;
    ndx_status st;
    if (d->n_stats == 0) {
        if (d->maxs[u] != -INFINITY || d->sums[u] != 0)
            return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: max score %g and sum %g without "
                             "patches", path, u, d->maxs[u], d->sums[u]);
    } else if ((st = ndx__field_real(path, d->maxs[u], -FLT_MAX, FLT_MAX, "unit %zu's max score",
                                     u)) ||
               (st = ndx__field_real(path, d->sums[u], -DBL_MAX, DBL_MAX, "unit %zu's score sum",
                                     u))) {
        return st;
    }
    const int n = d->hsize[u] >= 0 && (size_t)d->hsize[u] <= K ? d->hsize[u] : 0;
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) pos += d->hlabel[u * K + (size_t)i] != 0;
    if (pos > d->n_pos)
        return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: %llu positive patches in its top-k, %llu "
                         "in the whole state", path, u, (unsigned long long)pos,
                         (unsigned long long)d->n_pos);
    for (int i = 0; i < n; i++) {
        const size_t o = u * K + (size_t)i;
        if ((st = ndx__field_int(path, d->hid[o], 0, MAX_ID, "unit %zu's top-k patch id", u)) ||
            (st = ndx__field_real(path, d->hscore[o], -FLT_MAX, d->maxs[u],
                                  "unit %zu's top-k score (at most its max score)", u)))
            return st;
        ids[i] = d->hid[o];
    }
    qsort(ids, (size_t)n, sizeof *ids, cmp_id);
    for (int i = 1; i < n; i++)
        if (ids[i] == ids[i - 1])
            return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: patch id %lld is in its top-k twice",
                             path, u, (long long)ids[i]);
    return NDX_OK;
}

/* Every unit's values (check_unit_values). */
static ndx_status check_values(const ndx_dissect *d, const char *path)
{
    int64_t *ids = malloc((size_t)d->topk * sizeof *ids);
    if (!ids) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    ndx_status st = NDX_OK;
    for (size_t u = 0; u < (size_t)d->units && !st; u++) st = check_unit_values(d, path, u, ids);
    free(ids);
    return st;
}

/* Checks the heaps and counters of a loaded state. */
static ndx_status check_loaded(const ndx_dissect *d, const char *path)
{
    const size_t U = (size_t)d->units, K = (size_t)d->topk, hw = (size_t)d->h * d->w;
    const uint64_t per_unit = d->n_stats * hw;
    if (d->n_pos > d->n_stats)
        return ndx__fail(NDX_ERR_FORMAT, "%s: %llu positives among %llu patches", path,
                         (unsigned long long)d->n_pos, (unsigned long long)d->n_stats);
    if (!d->thresholds_set && d->n_iou && !d->hist_mode)
        return ndx__fail(NDX_ERR_FORMAT, "%s: IoU counts without thresholds", path);
    int held = 0;
    for (int k = 0; d->src_set && k < ((d->nshards + 7) / 8) * 8; k++)
        if (d->shards[k / 8] >> (k % 8) & 1) {
            if (k >= d->nshards)
                return ndx__fail(NDX_ERR_FORMAT, "%s: shard %d of %d", path, k, d->nshards);
            held++;
        }
    if (d->src_set && !held) return ndx__fail(NDX_ERR_FORMAT, "%s: no shard held", path);
    for (size_t u = 0; u < U; u++) {
        uint64_t c = 0;
        for (size_t b = 0; b < SK_BINS; b++) c += d->sketch[u * SK_BINS + b];
        if (c != per_unit)
            return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: sketch holds %llu values, expected %llu",
                             path, u, (unsigned long long)c, (unsigned long long)per_unit);
        if (d->thresholds_set && !isfinite(d->thr[u]))
            return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: threshold is not finite", path, u);
        for (int m = 0; m < d->nmasks; m++)
            if (d->inter[u * d->nmasks + m] > d->uni[u * d->nmasks + m])
                return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: intersection exceeds union", path, u);
        const ndx_window *w = d->hist_mode ? &d->win[u] : NULL;
        if (w && (w->base < 0 || w->lo < w->base || w->lo >= SK_BINS + HIST_BINS ||
                  w->top < w->lo - 1 || w->top > w->lo + HIST_BINS - 2))
            return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: window %d, %d..%d", path, u, w->base,
                             w->lo, w->top);
        const int n = d->hsize[u];
        const uint64_t want = d->n_stats < K ? d->n_stats : K;
        if (n < 0 || (uint64_t)n != want)
            return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: top-k holds %d entries, expected %llu",
                             path, u, n, (unsigned long long)want);
        unsigned char seen[4096] = {0};
        for (int i = 0; i < n; i++) {
            const int32_t s = d->heap[u * K + i];
            if (s < 0 || s >= n || seen[s])
                return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: bad heap slot %d", path, u, s);
            seen[s] = 1;
            const size_t o = u * K + (size_t)s;
            if (!isfinite(d->hscore[o]) || d->harg[o] < 0 ||
                (size_t)d->harg[o] >= hw || d->hlabel[o] > 1)
                return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: bad top-k entry %d", path, u, i);
            const float *map = d->hmap + o * hw;
            for (size_t j = 0; j < hw; j++)
                if (!isfinite(map[j]))
                    return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: map of entry %d is not finite",
                                     path, u, i);
            if (map[d->harg[o]] != d->hscore[o])
                return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: score of entry %d is not its map's",
                                 path, u, i);
            if (i > 0) {
                const size_t p = u * K + (size_t)d->heap[u * K + (i - 1) / 2];
                if (ndx__better(d->hscore[p], d->hid[p], d->hscore[o], d->hid[o]))
                    return ndx__fail(NDX_ERR_FORMAT, "%s: unit %zu: top-k is not a heap", path, u);
            }
        }
    }
    return NDX_OK;
}

/* The fixed header of a state file, as read. */
typedef struct state_header {
    char layer[64], names[NDX_DISSECT_MAX_MASKS][32];
    const char *np[NDX_DISSECT_MAX_MASKS];
    int32_t ints[8];             /* units h w topk nmasks align mode thresholds_set */
    double qr[2];                /* quantile, relative */
    uint64_t counts[3];          /* n_stats, n_iou, n_pos */
    int32_t hints[4];            /* hist_mode, mask_h, mask_w, warmup */
    uint64_t area[NDX_DISSECT_MAX_MASKS];
    int32_t src[4];              /* src_set, split, nshards, 0 */
    uint64_t digests[2];         /* model, data */
    int nm;
} state_header;

/* Reads and checks the header of f: magic, version, the fields that do not
 * go through ndx__dissect_alloc's checks. */
static ndx_status read_header(FILE *f, const char *path, state_header *h)
{
    unsigned char hdr[HEADER_BYTES];
    const size_t got = fread(hdr, 1, sizeof hdr, f);
    if (got < 8 || memcmp(hdr, MAGIC, 8))
        return ndx__fail(NDX_ERR_FORMAT, "%s: not a netdx dissection state file (bad magic)", path);
    if (got < sizeof hdr)
        return ndx__fail(NDX_ERR_FORMAT, "%s: truncated header (%zu of %d bytes)", path, got,
                         HEADER_BYTES);
    uint32_t ver, bom;
    memcpy(&ver, hdr + 8, 4);
    memcpy(&bom, hdr + 12, 4);
    if (bom != 0x01020304u || ver != VERSION)
        return ndx__fail(NDX_ERR_FORMAT, "%s: version %u (byte-order mark %08x); this netdx reads "
                         "version %u", path, ver, bom, VERSION);
    const unsigned char *p = hdr + 16;
    memcpy(h->layer, p, 64);
    p += 64;
    memcpy(h->names, p, sizeof h->names);
    p += sizeof h->names;
    memcpy(h->ints, p, sizeof h->ints);
    p += sizeof h->ints;
    memcpy(h->qr, p, sizeof h->qr);
    p += sizeof h->qr;
    memcpy(h->counts, p, sizeof h->counts);
    p += sizeof h->counts;
    memcpy(h->hints, p, sizeof h->hints);
    p += sizeof h->hints;
    memcpy(h->area, p, sizeof h->area);
    p += sizeof h->area;
    memcpy(h->src, p, sizeof h->src);
    p += sizeof h->src;
    memcpy(h->digests, p, sizeof h->digests);
    if (h->src[0] != 0 && h->src[0] != 1)
        return ndx__fail(NDX_ERR_FORMAT, "%s: src_set is %d", path, h->src[0]);
    if (h->src[0] ? h->src[1] < 0 || h->src[1] > 2 || h->src[2] < 1 || h->src[2] > 100000
                  : h->src[1] || h->src[2] || h->digests[0] || h->digests[1])
        return ndx__fail(NDX_ERR_FORMAT, "%s: provenance: split %d, %d shards", path, h->src[1],
                         h->src[2]);
    if (h->src[3]) return ndx__fail(NDX_ERR_FORMAT, "%s: provenance padding is %d", path, h->src[3]);
    if (h->hints[0] != 0 && h->hints[0] != 1)
        return ndx__fail(NDX_ERR_FORMAT, "%s: hist_mode is %d", path, h->hints[0]);
    if (h->hints[0] && (h->hints[1] < 1 || h->hints[1] > 16384 || h->hints[2] < 1 ||
                        h->hints[2] > 16384))
        return ndx__fail(NDX_ERR_FORMAT, "%s: mask size %dx%d", path, h->hints[1], h->hints[2]);
    if (!memchr(h->layer, 0, 64))
        return ndx__fail(NDX_ERR_FORMAT, "%s: layer name is not terminated", path);
    h->nm = h->ints[4] >= 1 && h->ints[4] <= NDX_DISSECT_MAX_MASKS ? h->ints[4] : 0;
    for (int m = 0; m < h->nm; m++) {
        if (!memchr(h->names[m], 0, 32))
            return ndx__fail(NDX_ERR_FORMAT, "%s: mask name %d is not terminated", path, m);
        h->np[m] = h->names[m];
    }
    if (h->ints[7] != 0 && h->ints[7] != 1)
        return ndx__fail(NDX_ERR_FORMAT, "%s: thresholds_set is %d", path, h->ints[7]);
    return NDX_OK;
}

/* The size the header promises, checked against the file's before anything
 * that large is allocated (only for a configuration alloc will accept). */
static ndx_status check_size(FILE *f, const char *path, const ndx_dissect_config *c,
                             const state_header *h)
{
    if (!(c->units >= 1 && c->units <= 65536 && c->h >= 1 && c->h <= 1024 && c->w >= 1 &&
          c->w <= 1024 && c->topk >= 1 && c->topk <= 4096 && h->nm))
        return NDX_OK;
    const uint64_t U = (uint64_t)c->units, K = (uint64_t)c->topk, hw = (uint64_t)c->h * c->w;
    const uint64_t nm = (uint64_t)h->nm;
    const uint64_t expect = HEADER_BYTES + 8 + U * (4 + 4 + 8 + SK_BINS * 8 + 2 * nm * 8 + 4) +
                            U * K * (4 + 4 + 8 + 4 + 1 + hw * 4) +
                            (h->hints[0] ? U * (12 + (1 + nm) * HIST_BINS * 8) : 0) +
                            (h->src[0] ? ((uint64_t)h->src[2] + 7) / 8 : 0);
    if (fseek(f, 0, SEEK_END) != 0)
        return ndx__fail(NDX_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    const long size = ftell(f);
    if (size < 0 || (uint64_t)size != expect || fseek(f, HEADER_BYTES, SEEK_SET) != 0)
        return ndx__fail(NDX_ERR_FORMAT, "%s: %s: %ld bytes, the header promises %llu", path,
                         size >= 0 && (uint64_t)size < expect ? "truncated" : "wrong size", size,
                         (unsigned long long)expect);
    return NDX_OK;
}

/* Reads the body of f (checksum checked first) into d's arrays. */
static ndx_status read_body(FILE *f, const char *path, ndx_dissect *d)
{
    const off_t fsize = fseeko(f, 0, SEEK_END) == 0 ? ftello(f) : -1;
    ndx_status st = fsize < 0 ? ndx__fail(NDX_ERR_IO, "%s: cannot seek: %s", path, strerror(errno))
                              : ndx__sealed_check(f, (uint64_t)fsize, path);
    if (st) return st;
    if (fseeko(f, HEADER_BYTES, SEEK_SET) != 0)
        return ndx__fail(NDX_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    span s[16];
    const int ns = spans(d, s);
    size_t body = 0, have = 0;
    for (int i = 0; i < ns; i++) body += s[i].n;
    for (int i = 0; i < ns; i++) {
        const size_t r = fread(s[i].p, 1, s[i].n, f);
        have += r;
        if (r != s[i].n) break;
    }
    uint64_t sum = 0, extra;
    const size_t rs = have == body ? fread(&sum, 1, 8, f) : 0;
    if (have != body || rs != 8)
        return ndx__fail(NDX_ERR_FORMAT, "%s: truncated: %zu bytes, expected %zu", path,
                         (size_t)HEADER_BYTES + have + rs, (size_t)HEADER_BYTES + body + 8);
    if (fread(&extra, 1, 1, f))
        return ndx__fail(NDX_ERR_FORMAT, "%s: trailing bytes after %zu", path,
                         (size_t)HEADER_BYTES + body + 8);
    return NDX_OK;
}

/* A state from its header: the configuration goes through the same checks
 * as a new state; FIXED mode's thresholds come from the file, so it is
 * created as RELATIVE and its mode set after. */
static ndx_status state_from_header(const char *path, const state_header *h,
                                    const ndx_dissect_config *c, ndx_dissect **out)
{
    ndx_dissect *d;
    if (ndx__dissect_alloc(&d, c))
        return ndx__fail(NDX_ERR_FORMAT, "%s: bad header: %s", path, ndx_last_error());
    d->mode = (ndx_dissect_mode)h->ints[6];
    d->thresholds_set = h->ints[7];
    d->n_stats = h->counts[0];
    d->n_iou = h->counts[1];
    d->n_pos = h->counts[2];
    memcpy(d->area, h->area, sizeof h->area);
    ndx_status st = h->hints[0] ? ndx__dissect_windows(d, h->hints[1], h->hints[2]) : NDX_OK;
    if (!st && h->src[0] && !(st = ndx__dissect_shards(d, h->src[2]))) {
        d->src_set = 1;
        d->src_split = h->src[1];
        d->src_model = h->digests[0];
        d->src_data = h->digests[1];
    }
    if (st) {
        ndx_dissect_free(d);
        return st;
    }
    *out = d;
    return NDX_OK;
}

/* The state in f (named path in messages), checked whole; f closed. */
static ndx_status load_stream(FILE *f, const char *path, ndx_dissect **out)
{
    ndx_status st;
    state_header h;
    memset(&h, 0, sizeof h);
    ndx_dissect *d = NULL;
    st = read_header(f, path, &h);
    const ndx_dissect_config c = {
        .layer = h.layer, .units = h.ints[0], .h = h.ints[1], .w = h.ints[2],
        .topk = h.ints[3], .nmasks = h.nm ? h.nm : -1, .mask_names = h.np,
        .align_corners = h.ints[5], .quantile = h.qr[0], .relative = h.qr[1],
        .warmup = h.hints[3],
        .mode = h.ints[6] == NDX_THRESHOLD_FIXED ? NDX_THRESHOLD_RELATIVE
                                                 : (ndx_dissect_mode)h.ints[6]};
    if (!st && (c.topk == 0 || c.quantile == 0 || c.relative == 0))
        st = ndx__fail(NDX_ERR_FORMAT, "%s: zero topk, quantile or relative", path);
    if (!st) st = check_size(f, path, &c, &h);
    if (!st) st = state_from_header(path, &h, &c, &d);
    if (!st) st = read_body(f, path, d);
    fclose(f);
    if (!st) st = check_loaded(d, path);
    if (!st) st = check_values(d, path);
    if (st) {
        ndx_dissect_free(d);
        return st;
    }
    ndx__dissect_window_values(d);
    *out = d;
    return NDX_OK;
}

ndx_status ndx_dissect_load(const char *path, ndx_dissect **out)
{
    if (!out || !path) return ndx__fail(NDX_ERR_INVALID, "dissect_load: NULL argument");
    *out = NULL;
    if (!little_endian())
        return ndx__fail(NDX_ERR_UNSUPPORTED, "%s: state files are little-endian only", path);
    FILE *f;
    ndx_status st = ndx__open_read(path, &f, NULL);
    return st ? st : load_stream(f, path, out);
}

ndx_status ndx_dissect_load_mem(const void *buf, size_t n, ndx_dissect **out)
{
    if (!out || !buf) return ndx__fail(NDX_ERR_INVALID, "dissect_load_mem: NULL argument");
    *out = NULL;
    if (!little_endian())
        return ndx__fail(NDX_ERR_UNSUPPORTED, "state files are little-endian only");
    FILE *f = n ? fmemopen((void *)buf, n, "rb") : NULL;
    if (!f)
        return ndx__fail(NDX_ERR_FORMAT, "state in memory: %zu bytes, not a state (%s)", n,
                         n ? strerror(errno) : "empty");
    return load_stream(f, "state in memory", out);
}
