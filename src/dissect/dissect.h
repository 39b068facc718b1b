/* Private to src/dissect: the per-layer state and the sketch's bins. */
#ifndef NDX_DISSECT_H
#define NDX_DISSECT_H

#include <stdio.h>
#include <string.h>

#include "../core/core.h"
#include "../io/io.h"
#include "netdx_dissect.h"
#include "../../kernels/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Sketch bins: 1280 magnitude bins per sign (2^-20 .. 2^20, 32 per octave:
 * the float's exponent and its top 5 mantissa bits), one zero bin between. */
#define SK_PER_SIGN 1280
#define SK_ZERO SK_PER_SIGN
#define SK_BINS (2 * SK_PER_SIGN + 1)
#define SK_LO_BITS 0x35800000u   /* 2^-20 */
#define SK_HI_BITS 0x49800000u   /* 2^20 */
#define SK_SHIFT 18              /* 23 mantissa bits - 5 kept */

typedef struct ndx_window {
    int32_t base, lo, top;
} ndx_window;

struct ndx_dissect {
    char layer[64];
    char mask_names[NDX_DISSECT_MAX_MASKS][32];
    int units, h, w, topk, nmasks, align_corners;
    ndx_dissect_mode mode;
    double quantile, relative;
    int thresholds_set;
    uint64_t n_stats, n_iou, n_pos;

    /* one block, carved: per unit (U) and per unit and slot (U x k) */
    void *block;
    size_t block_bytes;
    float *thr;          /* U */
    float *maxs;         /* U, -inf before any patch */
    double *sums;        /* U, sum of scores */
    uint64_t *sketch;    /* U x SK_BINS */
    uint64_t *inter;     /* U x nmasks */
    uint64_t *uni;       /* U x nmasks */
    int32_t *hsize;      /* U */
    int32_t *heap;       /* U x k slot numbers, a min-heap (worst at 0) */
    float *hscore;       /* U x k slots */
    int64_t *hid;
    int32_t *harg;
    uint8_t *hlabel;
    float *hmap;         /* U x k x h x w */

    /* workspace of the IoU pass, grown when a batch needs more */
    void *ws;
    size_t ws_bytes;

    /* One-pass IoU (hist mode, thresholds not yet known): per unit a window
     * of sketch bins: hist[u][r][0] counts upsampled pixels in bins base ..
     * lo - 1 (a lump; empty when base = lo), hist[u][r][j] those in bin
     * lo + j - 1 for j = 1 .. HIST_BINS - 1 (the last also those above); row
     * r = 0 all pixels, r = 1 + m those inside mask m; area[m] sums mask m's
     * pixels.  Counts of bins >= b are exact for b = base and lo <= b <= top
     * (top = lo + HIST_BINS - 2, or lower after merges).  The windows open
     * after `warmup` patches, whose maps and masks wait in the buffer. */
    int hist_mode, window_open, warmup, mask_h, mask_w;
    ndx_window *win;     /* U */
    float *lo_value;     /* U: the smallest value of bin base (selection) */
    uint64_t *hist;      /* U x (1 + nmasks) x HIST_BINS */
    uint64_t area[NDX_DISSECT_MAX_MASKS];
    float *wmaps;        /* warmup x U x h x w */
    uint8_t *wmasks;     /* warmup x nmasks x mask_h x mask_w */
    uint8_t *wpresent;   /* warmup x nmasks */
    int wn;              /* patches in the buffer */

    /* What the state was made from (ndx_dissect_set_source), recorded in
     * its file and checked by merge: src_set 0 = nothing recorded (a state
     * of the streaming API alone); the XXH3-64 of the model file and of
     * patches.csv, the split, and the shards covered: bit s of shards[]
     * for shard s of nshards (one bit after a single run, several after
     * merges). */
    int src_set, src_split, nshards;
    uint64_t src_model, src_data;
    uint8_t *shards;     /* (nshards + 7) / 8 bytes */
};

/* The default mask kinds, one table: a patch's mask of a kind holds the
 * pixels where the lesions it takes (of kind `lesion`, or of any kind when
 * -1; malignant ones only, or all) cover at least half of the pixel. */
typedef struct ndx__mask_kind {
    const char *name;
    int lesion;          /* NDX_LESION_*, -1: any kind */
    int malignant_only;
} ndx__mask_kind;
#define NDX__MASK_KINDS 6
extern const ndx__mask_kind ndx__mask_kinds[NDX__MASK_KINDS];

#define HIST_BINS 256     /* 8 octaves */
#define HIST_WARMUP 64    /* default warm-up patches (fewer for large layers) */

/* Bin of a finite float. */
static inline int ndx__sketch_bin(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    const uint32_t mag = b & 0x7fffffffu;
    if (mag < SK_LO_BITS) return SK_ZERO;
    const int m = mag >= SK_HI_BITS ? SK_PER_SIGN - 1 : (int)((mag - SK_LO_BITS) >> SK_SHIFT);
    return (b >> 31) ? SK_PER_SIGN - 1 - m : SK_PER_SIGN + 1 + m;
}
/* ---- sketch.c: sketch and heap ------------------------------------------ */
/* The threshold of a bin: the largest float below the bin's smallest value,
 * so that v > threshold exactly when bin(v) >= bin. */
float ndx__sketch_threshold(int bin);
/* The bin of the r-th largest value (1-based) of a sketch. */
int ndx__sketch_rank(const uint64_t *sk, uint64_t r);
/* r of the top-q threshold among count values: max(1, ceil(q count)). */
uint64_t ndx__quantile_rank(double q, uint64_t count);
/* Adds n values to a sketch. */
void ndx__sketch_add(uint64_t *sk, const float *v, size_t n);
/* The sketch bin of unit u's top-q activation; the zero bin becomes the
 * first positive one. */
int ndx__quantile_bin(const ndx_dissect *d, int u, double q);
/* The bin of unit u's threshold: top q (QUANTILE) or relative x its best
 * score (RELATIVE). */
int ndx__threshold_bin(const ndx_dissect *d, int u, double q);
/* Offers one entry to unit u's heap. */
void ndx__heap_offer(ndx_dissect *d, int u, float score, int64_t id, int32_t arg,
                     uint8_t label, const float *map);
/* Heap order: 1 when (sa, ia) ranks before (sb, ib). */
static inline int ndx__better(float sa, int64_t ia, float sb, int64_t ib)
{
    return sa > sb || (sa == sb && ia < ib);
}

/* ---- state.c ------------------------------------------------------------ */
/* Workspace of the IoU: the bilinear plan (map -> mask size), an empty mask
 * (for patches without masks: the kernel then counts |A|), the masks' areas
 * (N x nmasks) and per thread the select kernel's output (mask_h x mask_w
 * indices and values).  Grown when a batch needs more. */
typedef struct ndx__iou_ws {
    ndx_bilinear_plan plan;
    uint8_t *zero;
    uint64_t *area;
    int32_t *sidx;
    float *sval;
    int32_t *sslot;
} ndx__iou_ws;
/* The IoU workspace for n patches with masks of mh x mw (grown as needed). */
ndx_status ndx__dissect_ws(ndx_dissect *d, int n, int mh, int mw, ndx__iou_ws *ws);
/* Allocates the state for a checked configuration (used by load too). */
ndx_status ndx__dissect_alloc(ndx_dissect **out, const ndx_dissect_config *cfg);
/* Threads of the parallel loops, and the calling thread's number. */
static inline int ndx__dissect_threads(void)
{
#ifdef _OPENMP
    return ndx_get_threads();
#else
    return 1;
#endif
}
static inline int ndx__thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* ---- merge.c: provenance ------------------------------------------------ */
/* a and b were made from the same model, data and split (either without a
 * record: only when both are); what names the operation in messages. */
ndx_status ndx__dissect_same_source(const ndx_dissect *a, const ndx_dissect *b, const char *what);
/* Allocates d's shard bitmap for nshards (1..100000), cleared. */
ndx_status ndx__dissect_shards(ndx_dissect *d, int nshards);

/* ---- windows.c: one-pass IoU windows ------------------------------------- */
/* The warm-up size: HIST_WARMUP patches, fewer for large layers. */
int ndx__warmup_size(const ndx_dissect *d);
/* Enters hist mode for masks of mh x mw: windows and warm-up buffer. */
ndx_status ndx__start_hist(ndx_dissect *d, int mh, int mw);
/* Leaves hist mode (the windows go); empties the warm-up buffer. */
void ndx__free_windows(ndx_dissect *d);
void ndx__free_buffer(ndx_dissect *d);
/* Loading a one-pass state: its windows (open, no buffer), for masks of
 * mh x mw; after lo[] is read, the window values from it. */
ndx_status ndx__dissect_windows(ndx_dissect *d, int mh, int mw);
void ndx__dissect_window_values(ndx_dissect *d);
/* The first half of ndx_dissect_finish: the windows opened if the warm-up
 * has not filled (the buffered patches counted), no thresholds taken, so a
 * threshold outside a shard's own window does not close it: the shards'
 * states still merge (ndx_dissect_run under opts.reduce). */
ndx_status ndx__dissect_open_windows(ndx_dissect *d);
/* Unit u's histograms from n patches' maps (tid: the thread's buffers). */
void ndx__hist_unit(ndx_dissect *d, int u, const float *maps, int n,
                    const uint8_t *const *masks, const ndx__iou_ws *ws, int tid);
/* A batch's one-pass IoU before the windows open (the warm-up). */
ndx_status ndx__windows_warmup(ndx_dissect *d, const ndx_dissect_batch *b, ndx__iou_ws *ws,
                               int par);

/* ---- context.c ---------------------------------------------------------- */
/* Writes path: image's PNG downscaled to at most max_h rows, RGB, with box
 * (x, y, w, h) drawn in red. */
ndx_status ndx__dissect_context(const char *image, const int box[4], int max_h, const char *path);
/* The image area-downscaled to at most max_h rows (never up) and windowed
 * (lo..hi of full scale): *gray (free it), *ow x *oh. */
ndx_status ndx__context_small(const ndx_image *img, int max_h, float lo, float hi, uint8_t **gray,
                              int *ow, int *oh);
/* Writes path: gray as RGB with box (in img's pixels) in red, thick px. */
ndx_status ndx__context_box(const uint8_t *gray, int ow, int oh, const ndx_image *img, const char *image,
                            const int box[4], int thick, const char *path);

/* ---- output.c: files and HTML shared with tiles.c ----------------------- */
/* dir/name through io's safe write (ndx__out): commit with ndx__out_commit. */
ndx_status ndx__dissect_open(ndx__out *o, const char *dir, const char *name);
/* s with < > & " escaped. */
void ndx__html_put(FILE *f, const char *s);
/* The pages' style sheet. */
extern const char ndx__dissect_css[];
/* "quantile", "relative" or "fixed". */
const char *ndx__dissect_mode_name(ndx_dissect_mode m);
/* One <td> per mask kind: the IoU, "n/a" for a kind absent from the split
 * (opt->kind_patches), empty without IoU. */
void ndx__dissect_iou_cells(FILE *f, const ndx_dissect *d, const ndx_dissect_unit *info,
                            const ndx_dissect_output *opt);

/* One row of the tables: layer l's unit. */
typedef struct ndx__dissect_row {
    int layer, unit;
    ndx_dissect_unit info;
    char image[200];          /* relative path, "" without images */
    char context[200];        /* relative path, "" without a context image */
    int nshown;               /* unit page: tiles shown, -1 without a page */
} ndx__dissect_row;

/* ---- html.c: index.html ----------------------------------------------------- */
ndx_status ndx__dissect_index(const char *dir, const ndx_dissect *const *layers, int nlayers,
                              const ndx_dissect_output *opt, const ndx__dissect_row *rows,
                              int nrows);
/* Layer names as file names: [A-Za-z0-9._-], others as '_'. */
void ndx__safe_name(char *dst, size_t n, const char *s);

/* The kind of highest IoU among those present (opt->kind_patches), -1 when
 * every IoU is 0 or none was computed. */
int ndx__dissect_best(const ndx_dissect *d, const ndx_dissect_unit *info, const ndx_dissect_output *opt);

/* ---- tiles.c: unit pages -------------------------------------------------- */
typedef struct ndx__tile_cache ndx__tile_cache;
ndx_status ndx__tile_cache_new(ndx__tile_cache **out);
void ndx__tile_cache_free(ndx__tile_cache *c);
/* Room for a top-k of k entries: entries, their images and boxes, picks. */
typedef struct ndx__page_ws {
    ndx_dissect_top *top;
    char (*paths)[4200];
    int (*boxes)[4];
    int *pick;
} ndx__page_ws;
/* The entries of top[0..n) a page shows (opt->distinct), in order, into
 * pick; paths and boxes from opt->locate.  Their count, -1 when the locator
 * fails. */
int ndx__dissect_shown(const ndx_dissect_output *opt, const ndx_dissect_top *top, int n,
                       char (*paths)[4200], int (*boxes)[4], int *pick);
/* Unit u's tiles units/<lname>_<u>_<i>.png, contexts and page
 * units/<lname>_<u>.html; *nshown: the tiles. */
ndx_status ndx__dissect_unit_page(const char *dir, const ndx_dissect *d, int u, const char *lname,
                                  const ndx_dissect_unit *info, const ndx_dissect_output *opt,
                                  ndx__tile_cache *c, ndx__page_ws *ws, int *nshown);

#endif
