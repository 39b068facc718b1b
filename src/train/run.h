/* What training and evaluation share (src/train/run.c): the data, the net,
 * the batch buffers, the preloaded patches, the scoring of a split. */
#ifndef NDX_TRAIN_RUN_H
#define NDX_TRAIN_RUN_H

#include "netdx.h"
#include "netdx_nn.h"
#include "../io/io.h"

/* Everything one run holds, sized once. */
typedef struct run {
    ndx_patch_index ix;
    ndx_patch_cache *cache;
    ndx_net *net;
    int S, B, last;             /* input side, batch, logits node */
    int K;                      /* classes */
    size_t *idx[3], nidx[3];    /* patches of each split */
    int *train_labels;          /* classes (ndx_patch_class) */
    float *gray, *x, *dlogits, *scores;
    int *labels;                /* B labels of the batch */
    int *flip;                  /* B flags */
    size_t *bids;               /* B patch indices */
    int *eval_labels;           /* malignant (0/1) of the largest split */
    int *eval_class;            /* classes of the largest split */
    float *pre;                 /* every patch at S x S, when it fits PRELOAD_MAX */
    ndx_ioplan *plan;           /* what the run reads and writes; its locks */
    /* Shared work (ndx_train_opts.gather): process `rank` of `parts`
     * decodes its share of the preload and scores its share of every
     * evaluation's batches; gather hands every process the rest.  NULL:
     * this process does all. */
    int parts, rank;
    int (*gather)(void *ctx, void *buf, size_t size, const size_t *counts);
    void *gather_ctx;
} run;

/* Patches are cut and resized once, up front, when they all fit in this
 * many bytes; otherwise every batch reads them through the patch cache. */
#define PRELOAD_MAX ((size_t)1 << 30)

void ndx__run_free(run *r);
/* Reads the patch index, checks and locks the plan (r->plan: the rest of
 * the run's inputs and its outputs), splits the index and allocates the
 * batch buffers. */
ndx_status ndx__run_data(run *r, const char *data_dir, int batch, int classes);
/* The net's buffers for batches of r->B, the preload, the plan. */
ndx_status ndx__run_buffers(run *r, int plan);
/* Loads patches ids[0..n) (n <= B; the rest of the batch repeats the last)
 * into r->x, flipped where flip (B flags, or NULL: none) says. */
ndx_status ndx__run_batch(run *r, const size_t *ids, const int *flip, int n);
int ndx__argmax(const float *z, int K);
/* Scores split s with the net in eval mode: r->scores (P(malignant)),
 * r->eval_labels (malignant) and r->eval_class for each of its patches,
 * mean loss, accuracy (argmax = class), AUC of malignant vs the rest (NAN
 * when the split lacks one of them).  With r->gather every process takes
 * part (its share of the batches) and gets the same results. */
ndx_status ndx__run_evaluate(run *r, int s, double *loss, double *acc, double *auc);

#endif
