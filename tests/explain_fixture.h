/* What the explain suites share: a window's probability by hand. */
#ifndef NDX_EXPLAIN_FIXTURE_H
#define NDX_EXPLAIN_FIXTURE_H

#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "netdx.h"
#include "netdx_nn.h"

/* P(cancer) of the window (x, y, side) by hand: net planned at batch 1. */
static inline double window_prob(ndx_net *net, const ndx_image *img, int x, int y, int side,
                          double *logit)
{
    const int S = ndx_net_input_size(net);
    float *gray = malloc(sizeof *gray * S * S), *in = malloc(sizeof *in * 3 * S * S);
    ndx_resize_area_u16(img->px, img->w, x, y, side, side, img->maxval, S, S, gray);
    ndx_gray_to_input(1, (size_t)S * S, gray, in);
    ck_assert_int_eq(ndx_net_forward(net, in, NDX_EVAL, -1), NDX_OK);
    ndx_tensor z;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &z), NDX_OK);
    free(gray), free(in);
    *logit = (double)z.data[1] - z.data[0];
    return 1 / (1 + exp(-*logit));
}

#endif
