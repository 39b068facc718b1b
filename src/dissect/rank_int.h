/* Private pieces of the unit ranking, shared by rank.c (the ranking and
 * DeepMiner's image pass) and rank_run.c (the run, gradxact, the outputs). */
#ifndef NDX_RANK_INT_H
#define NDX_RANK_INT_H

#include "netdx_dissect.h"
#include "netdx_nn.h"

/* Counts and sums per (row, unit) over items (images or patches). */
typedef struct ndx__rank_acc {
    int units, nrows, top;
    int *count;              /* nrows x units: items whose top list held it */
    double *sum;             /* nrows x units: sum of the contributions */
    int *idx;                /* top: scratch for the selection */
    uint64_t items;          /* items added (counted on row 0) */
} ndx__rank_acc;
ndx_status ndx__rank_acc_init(ndx__rank_acc *a, int units, int nrows, int top);
void ndx__rank_acc_free(ndx__rank_acc *a);
/* One item's contributions (units) to row. */
void ndx__rank_acc_add(ndx__rank_acc *a, int row, const float *contrib);
/* out (nrows x units) ranked by count (or by mean), ties by smaller channel. */
void ndx__rank_acc_finish(const ndx__rank_acc *a, int order_by_mean, ndx_rank_unit *out);

/* 1 when a net of this many classes gets a "decision" row (2 or 3). */
int ndx__rank_has_decision(int classes);
/* The decision row of v (classes x units: per-class weights or
 * contributions) into out (units): v1 - v0 for two classes (cancer vs not),
 * v2 - (v0 + v1) / 2 for three (malignant vs the rest; see rank.c). */
void ndx__rank_decision(const float *v, int classes, int units, float *out);
/* The head's rows (classes, then "decision") into rows (NDX_RANK_MAX_ROWS x
 * units) and names; the row count, 0 on error. */
int ndx__rank_rows(const ndx_net *net, int units, float *rows, char names[][16]);

/* One whole image (gray in [0, 1], ih x iw) resized to oh x ow, through
 * the net up to node: act a view of that node's output (1, units, h, w),
 * valid until *cache is next used or freed (as below). */
ndx_status ndx__rank_image_forward(const ndx_net *base, ndx_net **cache, int node,
                                   const float *gray, int ih, int iw, int oh, int ow,
                                   ndx_tensor *act);
/* One whole image, shorter side resized to short_side, through the net up
 * to node: each unit's maximum activation.  *cache: the net planned at the
 * last size (rebuilt from base when the size changes; the caller frees). */
ndx_status ndx__rank_image_max(const ndx_net *base, ndx_net **cache, int node,
                               const float *gray, int ih, int iw, int short_side,
                               float *maxact);

#endif
