/* What a training checkpoint was made from (src/train/provenance.c). */
#ifndef NDX_TRAIN_PROVENANCE_H
#define NDX_TRAIN_PROVENANCE_H

#include "netdx.h"

/* Records in c the settings that decide the steps taken (architecture,
 * input size, batch, seed, flips, lr, momentum, weight decay, the rate's
 * step and gamma, sampler, kept model, classes, parts) and the XXH3-64 of the
 * patches.csv trained on (data). */
ndx_status ndx__train_record(ndx_ckpt_state *c, const ndx_train_opts *o, int size, uint64_t data);
/* Compares c (read from checkpoint path) with this run's settings and data:
 * NDX_ERR_INVALID naming the first field that differs, the checkpoint's
 * value and this run's, and how to go on. */
ndx_status ndx__train_match(const ndx_ckpt_state *c, const char *path, const ndx_train_opts *o,
                            int size, uint64_t data);

#endif
