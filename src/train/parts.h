/* Data-parallel steps: a batch cut into parts (src/train/parts.c). */
#ifndef NDX_TRAIN_PARTS_H
#define NDX_TRAIN_PARTS_H

#include "netdx.h"
#include "netdx_nn.h"

/* The running sum of the parts of one step: the net's gradient block (G
 * floats) then its batch-norm running statistics (R floats, gathered from
 * its buffers), and the step's statistics at its start. */
typedef struct ndx__parts {
    ndx_net *net;
    int n;                      /* parts per batch */
    size_t G, R;
    float *sum;                 /* G + R */
    float *saved;               /* R: the running statistics before the step */
    float **buf;                /* the net's buffers (nbuf), in tensor order */
    size_t *len;
    int nbuf;
} ndx__parts;

/* Sizes and allocates p for a planned training net; n >= 2. */
ndx_status ndx__parts_init(ndx__parts *p, ndx_net *net, int n);
void ndx__parts_free(ndx__parts *p);
/* Before part k of a step (one process running every part): k == 0 saves
 * the running statistics, k > 0 puts them back, so every part starts from
 * the step's. */
void ndx__parts_start(ndx__parts *p, int k);
/* After part k's backward pass: sum = [grads | statistics] (k == first),
 * else sum += them. */
void ndx__parts_add(ndx__parts *p, int first);
/* The end of the step: with o->allreduce the sums of every process (and
 * d, nd doubles) summed in rank order; then grads = sum / n and the
 * running statistics = their sum / n. */
ndx_status ndx__parts_end(ndx__parts *p, const ndx_train_opts *o, double *d, size_t nd);

#endif
