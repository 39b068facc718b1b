/* netdx — explain one mammogram: the network's malignancy heat map, the
 * units behind its decision and what expert readers called them
 * (netdx explain; docs/explain.md).
 *
 * USAGE
 *
 *     ndx_explain_opts o;
 *     ndx_explain_defaults(&o);            // windows as netdx patches cuts them
 *     o.model = "model.safetensors";
 *     o.image = "P_00042_LEFT_CC.png";
 *     o.labels = "answers.jsonl", o.dissection = "dissection";   // optional
 *     ndx_explain_result r;
 *     if (ndx_explain(&o, &r) != NDX_OK) fail(ndx_last_error());
 *     printf("%s\n", r.summary);            // research aid, not a diagnosis
 *     ndx_explain_write("explain", &o, &r); // index.html, explain.json, PNGs
 *     ndx_explain_free(&r);
 *
 * The heat map is the patch classifier slid over the breast with the
 * windows and stride of training (netdx patches: a side of `window` x the
 * image's shorter side, a step of `stride` x the side, windows with less
 * than `min_tissue` breast skipped).  For networks whose last
 * convolutional layer feeds a global pool and one linear layer (resnet*,
 * inception_v3, tiny) the classifier applied as a 1x1 convolution to that
 * layer's maps gives a finer map, and each unit u contributes max_xy A_u x
 * (w_cancer[u] - w_other[u]) to the decision.  The maps are by default the
 * windows' own, from the patch classifier's passes, each cell from the
 * window it is most central in, none on the classified area's outline
 * where only a window's padded border saw the cell (unit_maps =
 * NDX_EXPLAIN_MAPS_WINDOWS); NDX_EXPLAIN_MAPS_WHOLE
 * runs the whole image, resized so that a window is the network's input,
 * fully convolutionally (DeepMiner's way) in one more pass.  AlexNet and
 * VGG have no such weight: their units are ranked by gradient x activation
 * of the decision (z_cancer - z_other) at the layer, in the window the
 * patch classifier found most malignant (docs/explain.md).
 *
 * The heat map is by default the patch classifier's own output on every
 * window (NDX_EXPLAIN_PATCH_EXACT).  For pooled nets patch_map =
 * NDX_EXPLAIN_PATCH_FCN derives it from the fully convolutional pass
 * instead: a window's logit is the mean of the 1x1-convolution logits over
 * the cells it covers -- exact for a net without padding on windows aligned
 * with its grid, approximate with padding -- and the patch pass is skipped.
 */
#ifndef NETDX_EXPLAIN_H
#define NETDX_EXPLAIN_H

#include "netdx.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)   /* exported: see netdx.h */
#endif

enum { NDX_EXPLAIN_PHASES = 5 };

typedef struct ndx_explain_opts {
    const char *model;           /* model.safetensors (two classes: 1 = malignant) */
    const char *image;           /* the mammogram: PNG, 8 or 16 bit (DICOM: not built) */
    const char *labels;          /* answers.jsonl (netdx survey export) or NULL */
    const char *report;          /* a report folder (its provenance.json names the
                                    answers and dissections) or NULL */
    const char *dissection;      /* the dissection folder (top patches; needed with
                                    labels unless the report names it) or NULL */
    const char *layer;           /* NULL: the layer feeding the global pool, else the
                                    last convolution */
    const char *side;            /* "L", "R" or NULL: from the file name if it says */
    const char *view;            /* "CC", "MLO" or NULL: likewise */
    int top;                     /* units listed, 1..64; 8 */
    double window, stride, min_tissue;   /* as netdx patches: 0.25, 0.5, 0.5 */
    int batch;                   /* windows per forward pass, 1..256; 8 */
    int patch_map;               /* NDX_EXPLAIN_PATCH_EXACT (default) or, pooled nets
                                    only, NDX_EXPLAIN_PATCH_FCN (see above) */
    int unit_maps;               /* pooled nets: NDX_EXPLAIN_MAPS_WINDOWS (default:
                                    the units' maps and the 1x1 convolution from the
                                    windows' own maps) or NDX_EXPLAIN_MAPS_WHOLE (a
                                    pass over the whole image; always with the fcn
                                    patch map) */
} ndx_explain_opts;
enum { NDX_EXPLAIN_PATCH_EXACT = 0, NDX_EXPLAIN_PATCH_FCN = 1 };
enum { NDX_EXPLAIN_MAPS_WINDOWS = 0, NDX_EXPLAIN_MAPS_WHOLE = 1 };
void ndx_explain_defaults(ndx_explain_opts *o);

/* One BI-RADS (or project) descriptor the readers used for a unit. */
typedef struct ndx_explain_term {
    char id[64], name[96], category[96];
    int birads;                  /* 1: a BI-RADS term */
    int readers;                 /* readers who used it */
} ndx_explain_term;

#define NDX_EXPLAIN_MAX_TERMS 8
typedef struct ndx_explain_label {
    int readers;                 /* readers who answered the unit (0: not surveyed) */
    int recognizable;            /* of them, Q1 "yes" */
    int agreeing;                /* readers sharing the most common primary category */
    char category[96];           /* that category's name, "" when none */
    char description[160];       /* the readers' most common text, "" when none */
    char association[16];        /* majority Q2 ("malignant", ...), "" when none */
    int nterms;
    ndx_explain_term terms[NDX_EXPLAIN_MAX_TERMS];   /* most readers first */
} ndx_explain_label;

typedef struct ndx_explain_unit {
    int unit;                    /* channel index (unit_0001 = channel 0) */
    float max_act;               /* its largest activation over the image */
    float weight;                /* w_cancer - w_other (NaN for gradxact) */
    float contribution;          /* max_act x weight, or gradient x activation */
    float mean_contribution;     /* mean activation x weight (pooled nets: these
                                    sum with the bias to the decision logit) */
    int peak_x, peak_y;          /* the map's maximum, mammogram pixels */
    char region[160];            /* where that is, as far as the image tells */
    int map_h, map_w;            /* its map over the mammogram (see map_box) */
    float *map;                  /* map_h x map_w, owned */
    char strip[600];             /* the dissection's strip of its top patches, or "" */
    ndx_explain_label label;
} ndx_explain_unit;

typedef struct ndx_explain_result {
    char network[32], layer[64];
    char method[16];             /* "deepminer" or "gradxact" */
    int width, height;           /* the mammogram */
    char side[8], view[8];       /* "L"/"R", "CC"/"MLO" or "" */
    char orient_source[24];      /* "options", "file name" or "" */
    int window, step;            /* the patch windows, pixels */
    int grid_w, grid_h;          /* windows across and down */
    float *patch_prob;           /* grid_h x grid_w: P(malignant), NaN skipped */
    char patch_map[8];           /* how: "exact" (the patch classifier on every
                                    window) or "fcn" (from the 1x1-convolution map) */
    int windows;                 /* windows classified (enough breast) */
    float max_prob;              /* the largest window probability */
    int heat_peak_x, heat_peak_y;   /* the centre of that window */
    int fcn;                     /* 1: the 1x1-convolution map below exists */
    int fcn_h, fcn_w;            /* its size (the layer over the resized image, or
                                    the windows' cells over the image) */
    float *fcn_prob;             /* fcn_h x fcn_w: P(malignant) per position, NaN
                                    where no classified window covers it */
    char unit_maps[8];           /* the units' maps (and fcn_prob) from "whole" the
                                    whole-image pass or "windows" the windows' maps */
    int fcn_peak_x, fcn_peak_y;  /* its maximum, mammogram pixels */
    float map_box[4];            /* x0, y0, x1, y1: the mammogram's area the maps
                                    (fcn_prob, units' maps) span (pixels) */
    float decision;              /* z_cancer - z_other of the global pool (fcn) */
    float bias;                  /* b_cancer - b_other */
    int units;                   /* units of the layer */
    int nunits;
    ndx_explain_unit *unit;      /* the top units, by contribution */
    int labelled;                /* labels were given */
    char labels_path[600], labels_hash[17];
    int readers, simulated;      /* readers in the labels, simulated ones */
    char dissection[600];        /* the dissection folder used, or "" */
    char summary[2048];          /* plain language; marked as not a diagnosis */
    int display_w, display_h;    /* the mammogram at display size (height <= 1000) */
    uint8_t *display;            /* display_h x display_w, windowed as the survey's
                                    tiles (what ndx_explain_write draws on), owned */
    double seconds[NDX_EXPLAIN_PHASES];       /* wall time of each phase (below) */
    double cpu_seconds[NDX_EXPLAIN_PHASES];   /* CPU time of the process (every
                                    thread, getrusage) in each phase */
} ndx_explain_result;
/* The phases timed: "image" (decoding the PNG, the breast threshold, the
 * windows, the display copy), "model" (loading it), "patch classifier",
 * "1x1 conv" (the fully convolutional pass) or "gradxact", "units" (ranking,
 * maps, labels, summary).  ndx_explain_phase(k, r) names phase k of r. */
const char *ndx_explain_phase(int k, const ndx_explain_result *r);

/* Explains o->image: every field of r (r is the caller's; free it with
 * ndx_explain_free, also after a failure).  Bad input is NDX_ERR_INVALID or
 * NDX_ERR_FORMAT naming the file, field or option at fault. */
ndx_status ndx_explain(const ndx_explain_opts *o, ndx_explain_result *r);
void ndx_explain_free(ndx_explain_result *r);
/* Writes dir/index.html (offline), dir/explain.json, the mammogram (r's
 * display copy: the image is not read again) and its overlays as PNGs and
 * the units' strips, built in a temporary folder beside dir and renamed
 * into place; an existing dir is replaced only when it is
 * an earlier explanation (holds explain.json) or empty. */
ndx_status ndx_explain_write(const char *dir, const ndx_explain_opts *o,
                             const ndx_explain_result *r);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
