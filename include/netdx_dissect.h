/* netdx dissection: streaming per-unit statistics of a layer, and the
 * dissection pass that feeds them (netdx dissect).
 *
 * USAGE
 *
 *     #include <netdx_dissect.h>
 *
 *     ndx_dissect_run_opts o;
 *     ndx_dissect_run_defaults(&o);        // val split, top-64, quantile 0.005
 *     o.model = "model.safetensors";
 *     o.data = "data";
 *     o.layers[o.nlayers++] = "features.17";
 *     o.out = "dissection";
 *     ndx_dissect_run_result r;
 *     if (ndx_dissect_run(&o, &r) != NDX_OK)
 *         fprintf(stderr, "%s\n", ndx_last_error());
 *
 * docs/dissection.md explains the statistics, the outputs and the shards.
 */
#ifndef NETDX_DISSECT_H
#define NETDX_DISSECT_H

#include "netdx.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)   /* exported: see netdx.h */
#endif

/* ---- dissection: streaming per-unit statistics of one layer ------------- */
/* One ndx_dissect holds, for each of the U units of a layer with maps h x w:
 * a top-k heap of (score = max of the map, argmax, patch id, label, the map),
 * a quantile sketch of all its spatial activations, max/mean score, and IoU
 * accumulators (sum of intersections, sum of unions) per mask kind.  Memory is
 * O(U x k x h x w) plus U sketches of NDX_DISSECT_SKETCH_BINS counters,
 * whatever the number of patches.  Top-k order: higher score first, equal
 * scores by smaller patch id, so results do not depend on batch order.
 *
 * Sketch: a fixed log-linear histogram of float bit patterns (exact, mergeable
 * counts): 32 bins per octave for 2^-20 <= |v| < 2^20, one bin for |v| <
 * 2^-20.  Thresholds fall on bin edges: T is the largest float below the
 * smallest value of a bin, so v > T exactly when v lies in that bin or above.
 * QUANTILE: the bin of the r-th largest activation, r = max(1, ceil(q x
 * count)), so T < T_exact and T_exact - T < |T_exact| / 32 (for |T_exact| >=
 * 2^-20).  RELATIVE: the bin of relative x best score.  A threshold in the
 * zero bin (|T_exact| < 2^-20: fewer than q of the activations are positive)
 * becomes the largest float below 2^-20: zero activations stay inactive.
 *
 * Passes.  One pass (QUANTILE, RELATIVE): ndx_dissect_add(.., NDX_DISSECT_STATS
 * | NDX_DISSECT_IOU) for every patch, then ndx_dissect_finish.  T is unknown
 * until the end, so per unit the IoU accumulates as histograms over a window
 * of 256 sketch bins (8 octaves) of the upsampled pixels and of those inside
 * each mask; any T in the window then gives the exact counts.  The window
 * opens after the first `warmup` patches (kept in a buffer of fixed size
 * until then: feed a spread sample first), at the threshold that sample
 * gives at 3x the quantile.  When a final T falls outside its window,
 * ndx_dissect_finish reports the units missed and leaves
 * the thresholds set: a second pass ndx_dissect_add(.., NDX_DISSECT_IOU) over
 * the same patches then gives the IoU.  Two passes (the API allows it too):
 * NDX_DISSECT_STATS, ndx_dissect_set_thresholds(d, NULL), NDX_DISSECT_IOU.
 * FIXED (thresholds given) takes one pass with STATS | IOU, exact counts. */
#define NDX_DISSECT_MAX_MASKS 8
#define NDX_DISSECT_SKETCH_BINS 2561
#define NDX_DISSECT_STATS 1
#define NDX_DISSECT_IOU 2
typedef struct ndx_dissect ndx_dissect;

typedef enum ndx_dissect_mode {
    NDX_THRESHOLD_QUANTILE = 0,  /* top `quantile` of all activations */
    NDX_THRESHOLD_RELATIVE = 1,  /* `relative` x the unit's best score */
    NDX_THRESHOLD_FIXED = 2      /* `fixed`: one per unit, given */
} ndx_dissect_mode;

typedef struct ndx_dissect_config {
    const char *layer;           /* 1..63 characters */
    int units, h, w;             /* the layer's maps */
    int topk;                    /* 1..4096; 0 = 64 */
    ndx_dissect_mode mode;
    double quantile;             /* (0, 1); 0 = 0.005 */
    double relative;             /* (0, 1]; 0 = 0.2 */
    const float *fixed;          /* FIXED: `units` finite thresholds */
    int nmasks;                  /* 1..8; 0 = the 6 default kinds: mass,
                                    calcification, vessel, distortion,
                                    malignant, all */
    const char *const *mask_names; /* nmasks names (1..31 chars), or NULL */
    int align_corners;           /* bilinear upsampling, as F.interpolate */
    int warmup;                  /* one pass: patches before the windows open,
                                    0..65536; 0 = 64, fewer when their maps
                                    pass 16 MiB, at least 8 */
} ndx_dissect_config;

/* One batch of N patches.  masks: N x nmasks pointers (patch-major), each a
 * mask_h x mask_w uint8 mask (nonzero = inside) or NULL when the patch has
 * none of that kind; masks itself may be NULL (no masks at all).  The map of
 * each unit is bilinearly upsampled to mask_h x mask_w, thresholded (> T) and
 * compared with each mask: intersection and union counts accumulate. */
typedef struct ndx_dissect_batch {
    int n;
    const float *maps;           /* (N, U, h, w), finite */
    const int64_t *ids;          /* N patch ids */
    const uint8_t *labels;       /* N: nonzero = positive; NULL = all negative */
    int mask_h, mask_w;          /* needed with NDX_DISSECT_IOU */
    const uint8_t *const *masks;
} ndx_dissect_batch;

ndx_status ndx_dissect_new(const ndx_dissect_config *cfg, ndx_dissect **out);
void ndx_dissect_free(ndx_dissect *d);
/* what: NDX_DISSECT_STATS and/or NDX_DISSECT_IOU (IOU alone needs thresholds;
 * STATS | IOU without them is the one pass).  OpenMP over units.  A bad batch
 * (NaN, shape) leaves the state unchanged. */
ndx_status ndx_dissect_add(ndx_dissect *d, const ndx_dissect_batch *b, int what);
/* Ends a one pass: sets T per unit and the IoU counts from the windows;
 * *missed = units whose T fell outside their window (their IoU, and every
 * unit's, then needs the second pass).  Callable again after a merge; a no-op
 * (*missed = 0) without one-pass IoU. */
ndx_status ndx_dissect_finish(ndx_dissect *d, int *missed);
/* The config's warmup (its default resolved). */
int ndx_dissect_warmup(const ndx_dissect *d);
/* Fixes T per unit: t (U values) or, when NULL, from the sketch (QUANTILE) or
 * relative x best score (RELATIVE).  Refused once IoU has been accumulated. */
ndx_status ndx_dissect_set_thresholds(ndx_dissect *d, const float *t);
/* dst += src: same configuration and thresholds (if set); disjoint patches.
 * One-pass states (finished) merge their windows; ndx_dissect_finish then
 * gives the thresholds and IoU of both shards as one run would. */
ndx_status ndx_dissect_merge(ndx_dissect *dst, const ndx_dissect *src);
/* What a state was made from: the XXH3-64 of the model file and of
 * patches.csv (ndx_hash_file), the split, and shard of nshards (one
 * unsharded run: 0 of 1).  Saved with the state; ndx_dissect_merge refuses
 * states of different models, data, splits or shard counts, a shard held
 * by both (its patches would count twice), and a state with a record
 * merged with one without.  ndx_dissect_run sets it; a state of the
 * streaming API alone has none and merges unchecked. */
typedef struct ndx_dissect_source {
    uint64_t model, data;
    int split;                   /* NDX_SPLIT_* */
    int shard, nshards;          /* 0 <= shard < nshards <= 100000 */
} ndx_dissect_source;
ndx_status ndx_dissect_set_source(ndx_dissect *d, const ndx_dissect_source *s);
/* 0 when d records none; else 1, *s filled, shard = the lowest shard held,
 * *covered (may be NULL) = how many of the nshards it holds. */
int ndx_dissect_get_source(const ndx_dissect *d, ndx_dissect_source *s, int *covered);
/* The state file: little-endian, XXH3-64 checksum, written to a temporary
 * file and renamed.  Load refuses bad magic, versions, sizes and checksums. */
ndx_status ndx_dissect_save(const ndx_dissect *d, const char *path);
ndx_status ndx_dissect_load(const char *path, ndx_dissect **out);
/* The same bytes in memory (to send a state between processes): save_mem
 * sets *buf (free() it) and *n; load_mem checks them as load checks a file. */
ndx_status ndx_dissect_save_mem(const ndx_dissect *d, void **buf, size_t *n);
ndx_status ndx_dissect_load_mem(const void *buf, size_t n, ndx_dissect **out);

typedef struct ndx_dissect_unit {
    float max_score, mean_score;
    float threshold;             /* NaN until thresholds are set */
    float quantile_threshold;    /* the sketch's estimate (any mode) */
    double iou[NDX_DISSECT_MAX_MASKS];
    uint64_t inter[NDX_DISSECT_MAX_MASKS], uni[NDX_DISSECT_MAX_MASKS];
    int best_mask;               /* highest IoU, -1 when no IoU yet */
    int ntop;                    /* entries in the top-k, <= k */
    double positive_fraction;    /* of the top-k entries */
} ndx_dissect_unit;
typedef struct ndx_dissect_top {
    int64_t id;
    float score;
    int argmax;                  /* y * w + x of the score */
    int label;
    const float *map;            /* h x w, owned by the state */
} ndx_dissect_top;

const char *ndx_dissect_layer(const ndx_dissect *d);
/* units, h, w, topk, nmasks (any may be NULL) */
void ndx_dissect_dims(const ndx_dissect *d, int *units, int *h, int *w,
                      int *topk, int *nmasks);
const char *ndx_dissect_mask_name(const ndx_dissect *d, int m);
/* Patches seen by the statistics and by the IoU pass. */
uint64_t ndx_dissect_patches(const ndx_dissect *d, int iou);
/* Bytes the state holds: fixed at creation, plus an IoU workspace that
 * depends on the mask size and the largest batch, never on the patch count. */
size_t ndx_dissect_bytes(const ndx_dissect *d);
ndx_status ndx_dissect_unit_info(const ndx_dissect *d, int unit,
                                 ndx_dissect_unit *out);
/* A unit's top-k entries in score order: out has room for topk, *n = ntop. */
ndx_status ndx_dissect_unit_top(const ndx_dissect *d, int unit,
                                ndx_dissect_top *out, int *n);

/* Grayscale pixels (size x size floats in [0, 1]) of a patch; 0 = ok. */
typedef int (*ndx_patch_loader)(void *ctx, int64_t id, float *pixels, int size);
/* The whole image (a PNG path, n bytes) holding a patch and the patch's box
 * in it (x, y, w, h pixels); 0 = ok. */
typedef int (*ndx_patch_locator)(void *ctx, int64_t id, char *path, size_t n,
                                 int box[4]);
/* The union of a patch's lesion masks (every kind) at size x size, nonzero
 * inside; 0 = ok. */
typedef int (*ndx_patch_lesions)(void *ctx, int64_t id, uint8_t *mask, int size);
/* Which of a unit's top patches its pages SHOW (the statistics keep all). */
typedef enum ndx_dissect_distinct {
    NDX_DISTINCT_IMAGE = 0,      /* at most one per source image (default) */
    NDX_DISTINCT_LESION = 1,     /* none whose box overlaps a shown one's box
                                    in the same image (one view per lesion) */
    NDX_DISTINCT_NONE = 2        /* every top patch */
} ndx_dissect_distinct;
/* The highlight drawn on the tiles: the unit's map above relative x its
 * top-1 score (the study's drawing, default) or above its threshold T. */
typedef enum ndx_draw_threshold {
    NDX_DRAW_RELATIVE = 0,
    NDX_DRAW_QUANTILE = 1
} ndx_draw_threshold;
typedef struct ndx_dissect_output {
    ndx_patch_loader load;       /* NULL: no unit images */
    void *load_ctx;
    int patch_size;              /* S of the loader, 8..1024 */
    int strip_count;             /* patches per strip; 0 = min(k, 8) */
    ndx_patch_locator locate;    /* NULL: no context images */
    void *locate_ctx;
    int context_height;          /* context images at most this tall, 0 = 400 */
    const char *network;         /* units.json "network": the model's
                                    architecture, or NULL (no field) */
    const char *model;           /* units.json "model": its path, or NULL */
    /* unit pages (with locate): per shown patch a tile cut from its source
     * image at its own resolution (192..320 px), windowed, dimmed x0.2
     * outside the unit's highlight, the lesion outline in green, its label
     * marked +/-, and its context image; units/<layer>_<unit>.html lists
     * them; the loader's strips are then not drawn. */
    int unit_pages;
    ndx_patch_lesions lesions;   /* NULL: no lesion outlines */
    void *lesions_ctx;
    ndx_dissect_distinct distinct;
    ndx_draw_threshold draw_threshold;
    const char *split;           /* the header's split name, or NULL */
    const uint64_t *kind_patches; /* per mask kind the patches holding it
                                    (0: absent, IoU shown n/a), or NULL */
} ndx_dissect_output;
/* Writes dir/units.csv, dir/units.json (with rankings and, when given, the
 * network, model and split), dir/index.html (header, glossary, per-layer
 * summary, the units; docs/dissection.md) and, with unit_pages and a
 * locator, dir/units/<layer>_<unit>.html, its tiles <layer>_<unit>_<i>.png
 * and contexts ctx_<patch>.png; otherwise,
 * with a loader, dir/units/<layer>_<unit>.png strips; with a locator,
 * dir/units/<layer>_<unit>_context.png: the top patch's whole image, area-
 * downscaled to at most context_height rows, 8-bit RGB, the patch's box drawn
 * in red (255, 0, 0), 2 px wide inside the box; creates dir. */
ndx_status ndx_dissect_write(const char *dir, const ndx_dissect *const *layers,
                             int nlayers, const ndx_dissect_output *opt);

/* ---- the dissection pass (netdx dissect) --------------------------------- */
/* Dissects one or more layers of a model over a split's patches, as `netdx
 * dissect` does (docs/dissection.md has an example).  One streaming pass:
 * every batch through the net once, up to the deepest layer (the plan keeps
 * each layer's output), feeding each layer's state; a spread sample first
 * (the states' warm-up), the rest in patches.csv order.  Masks per patch:
 * mass, calcification, vessel, distortion (lesions of that kind), malignant
 * (of any kind), all; a pixel is inside where they cover >= half of it at
 * mask_size x mask_size.  Units whose T falls outside their one-pass window
 * cost a second pass for IoU (r->layer[l].missed).  thresholds_from: T from
 * that folder's states (merged shards), one exact pass.  Shards: the split's
 * patches number shard mod nshards; dissect each, then `merge`; or
 * stats_only per shard, merge, each shard again with thresholds_from.
 * Outputs (ndx_dissect_write) in out, with out/<layer>.dstate per layer
 * ('/' and ' ' in the name as '_'). */
#define NDX_DISSECT_MAX_LAYERS 8
typedef struct ndx_dissect_run_opts {
    const char *model;           /* safetensors, architecture in its metadata
                                    (merge: optional, gives units.json its
                                    network and model, and the mask size) */
    const char *data;            /* folder of patches.csv (merge: optional,
                                    gives the unit images) */
    int split;                   /* NDX_SPLIT_* */
    const char *layers[NDX_DISSECT_MAX_LAYERS];   /* node names or aliases */
    int nlayers;                 /* 1..NDX_DISSECT_MAX_LAYERS, distinct */
    int topk;                    /* patches kept per unit, 1..4096 */
    ndx_dissect_mode mode;       /* QUANTILE or RELATIVE */
    double quantile;             /* (0, 1) */
    int batch;                   /* patches per forward, 1..1024 */
    int mask_size;               /* IoU masks, 8..1024; 0: the model's input */
    int images;                  /* patches per unit strip, 0..64; 0: no strips
                                    and no context images */
    int shard, nshards;          /* 0 <= shard < nshards <= 100000 */
    int stats_only;              /* statistics only, no IoU (shards to merge) */
    const char *thresholds_from; /* folder of states to take T from, or NULL */
    const char *merge[2];        /* two folders of states: merged as one run
                                    over both (no pass) into out */
    const char *out;             /* output folder; NULL: nothing written */
    int keep_states;             /* 1: r->state[] handed to the caller */
    ndx_dissect_distinct distinct;       /* patches shown per unit page */
    ndx_draw_threshold draw_threshold;   /* the highlight drawn on tiles */
    /* after every batch: patches done in this pass and its total; a second
     * pass (IoU) starts again from 0.  NULL: none. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Scale-out (netdx's MPI side, tools/mpi.c): after a pass over this
     * process's shard, reduce merges every process's states of the pass
     * into the root's (ndx_dissect_merge; the root alone finishes) and sets
     * *root on the one process that holds the result and writes the
     * outputs; bcast copies n bytes from the root to every process.  A
     * threshold outside the merged IoU windows makes every process dissect
     * its shard again at the root's thresholds (as --stats-only then
     * --thresholds-from would).  Both return an ndx_status (NDX_OK = 0).
     * NULL: one process. */
    int (*reduce)(void *ctx, ndx_dissect **st, int nl, int *root);
    int (*bcast)(void *ctx, void *buf, size_t n);
    void *reduce_ctx;
} ndx_dissect_run_opts;
/* val split, top-64, QUANTILE 0.005, batch 16, 8 images, one shard. */
void ndx_dissect_run_defaults(ndx_dissect_run_opts *o);
typedef struct ndx_dissect_run_layer {
    char name[64];
    int units;
    int missed;                  /* units whose IoU took the second pass */
    /* per mask kind the unit of highest IoU (the first of equals) and its
     * IoU; -1 and NaN without IoU (stats_only) */
    int best_unit[NDX_DISSECT_MAX_MASKS];
    double best_iou[NDX_DISSECT_MAX_MASKS];
} ndx_dissect_run_layer;
typedef struct ndx_dissect_run_result {
    uint64_t patches;            /* of the split and shard (merge: of both) */
    int passes;                  /* over the patches: 1 or 2 (merge: 0) */
    int root;                    /* 1: this process wrote the outputs (always,
                                    but under opts.reduce where only the root
                                    does); the fields below are the root's */
    char network[32];            /* the model's architecture, "" without one */
    int nlayers, nmasks;
    char mask_names[NDX_DISSECT_MAX_MASKS][32];
    ndx_dissect_run_layer layer[NDX_DISSECT_MAX_LAYERS];
    ndx_dissect *state[NDX_DISSECT_MAX_LAYERS];   /* keep_states: the caller
                                    frees each (ndx_dissect_free); else NULL */
} ndx_dissect_run_result;
/* A bad option, a missing model, data folder or layer, or a split without
 * patches is an error naming it, found before the pass starts. */
ndx_status ndx_dissect_run(const ndx_dissect_run_opts *o, ndx_dissect_run_result *r);

/* ---- unit ranking (netdx rank; docs/ranking.md) --------------------------- */
typedef struct ndx_net ndx_net;   /* netdx_nn.h */
/* DeepMiner's ranking.  maxact (nimages, units): each unit's maximum
 * activation over one whole image; weights (nrows, units): one row per
 * ranking (a class's weights into its logit, or the decision row w1 - w0;
 * for three classes w2 - (w0 + w1) / 2).
 * Per image and row, contribution = maxact x weight (float); the `top` units
 * of highest contribution are kept (equal contributions: smaller channel
 * first).  out (nrows x units) gets per row every unit, ranked by how many
 * images kept it (more first; equal counts: smaller channel first), with the
 * mean contribution over all images.  Units are channel indices (0-based). */
typedef struct ndx_rank_unit {
    int unit;                    /* channel index */
    int count;                   /* images (DeepMiner) or patches (gradxact)
                                    that kept the unit in their top list */
    double mean;                 /* mean contribution (or grad x act) */
} ndx_rank_unit;
ndx_status ndx_rank_units(int nimages, int units, int nrows, const float *maxact,
                          const float *weights, int top, ndx_rank_unit *out);
/* The top `top` units of one contribution vector (descending; equal values:
 * smaller channel first) into idx. */
void ndx_rank_select(int units, const float *contrib, int top, int *idx);
/* The node that feeds `net`'s classifier through global pooling (the layer
 * DeepMiner ranks), or -1 with an error saying why there is none (AlexNet,
 * VGG: the classifier sees the flattened map). */
int ndx_rank_pooled_layer(const ndx_net *net);

typedef enum ndx_rank_method {
    NDX_RANK_DEEPMINER = 0,      /* whole images, max x weight, top counts */
    NDX_RANK_GRADXACT = 1        /* sum over the map of gradient x activation
                                    of the class logit, mean over the split's
                                    positive patches; any network and layer */
} ndx_rank_method;
#define NDX_RANK_MAX_ROWS 17
typedef struct ndx_rank_opts {
    const char *model;           /* safetensors with arch metadata */
    const char *data;            /* folder of patches.csv */
    int split;                   /* NDX_SPLIT_*; images (patches) of it */
    const char *layer;           /* NULL: DeepMiner: the pooled layer;
                                    gradxact: that, else the last conv */
    ndx_rank_method method;
    int top;                     /* units kept per image (patch), 1..units */
    int show;                    /* units written per row, >= 1 */
    int scale;                   /* DeepMiner: shorter side = scale x input */
    int batch;                   /* gradxact: patches per pass, 1..256 */
    const char *out;             /* rank.csv, rank.json in it; NULL: none */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} ndx_rank_opts;
/* val split, DeepMiner, top 8, show 20, scale 4, batch 16. */
void ndx_rank_defaults(ndx_rank_opts *o);
typedef struct ndx_rank_result {
    char network[32], layer[64];
    int units, nrows;            /* rows: classes, then "decision" for 2 or 3 */
    char row_name[NDX_RANK_MAX_ROWS][16];   /* "0", "1", ..., "decision" */
    uint64_t items;              /* images (DeepMiner) or positive patches */
    ndx_rank_unit *ranking;      /* nrows x units, owned: ndx_rank_free */
} ndx_rank_result;
/* Runs the ranking; a network without a pooled classifier and DeepMiner
 * is NDX_ERR_INVALID saying why and offering gradxact. */
ndx_status ndx_rank_run(const ndx_rank_opts *o, ndx_rank_result *r);
void ndx_rank_free(ndx_rank_result *r);
/* Writes dir/rank.csv and dir/rank.json: the first `show` units of each
 * row, named as the study did (unit_0001 = channel 0). */
ndx_status ndx_rank_write(const char *dir, const ndx_rank_result *r, int show,
                          ndx_rank_method method, int top);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
