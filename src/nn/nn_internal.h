/* Private structures of the graph (src/nn), shared by graph.c, layers.c, zoo.c and
 * weights.c. */
#ifndef NDX_NN_INTERNAL_H
#define NDX_NN_INTERNAL_H

#include "../core/core.h"
#include "netdx_nn.h"

#define NDX_NAME_MAX 80
#define NDX_MAX_IN 8

enum { T_CONV_W, T_CONV_B, T_LIN_W, T_LIN_B, T_BN_W, T_BN_B, T_BN_RM, T_BN_RV };

typedef struct ndx__tensor {
    char name[NDX_NAME_MAX];
    int kind, ndim, fan_in, fan_out;
    int64_t shape[NDX_MAX_DIMS];
    size_t numel, off;       /* offset in the param or buffer block (floats) */
    int is_buffer;
} ndx__tensor;

typedef struct ndx__node {
    char name[NDX_NAME_MAX];
    ndx_op op;
    int in[NDX_MAX_IN], nin;
    int c, h, w;             /* per-sample output shape */
    /* op settings */
    int k, kh, kw, sh, sw, ph, pw, groups, ceil_mode, cip, oh, ow;
    float eps, p;
    int wt, bt, rm, rv;      /* tensor indices or -1 */
    /* plan */
    int last_use, def_time, consumers;
    size_t out_off, grad_off, aux_off, fold_off, wino_off;
    int has_grad, grad_writer;
    int fold_bn, fuse_relu, fused_into, group_end;   /* eval fusion */
    int wino;                /* eval: Winograd weights cached at wino_off */
    int wpacked;             /* folded in place: weights in the GEMM's panel layout */
} ndx__node;

typedef struct ndx__alias { char name[NDX_NAME_MAX]; int node; } ndx__alias;

struct ndx_net {
    char arch[32];
    ndx__node *nodes;
    int nnodes, cap_nodes;
    ndx__tensor *tensors;
    int ntensors, cap_tensors;
    ndx__alias *aliases;
    int naliases, cap_aliases;
    ndx_status err;
    char errmsg[256];
    int finished;
    size_t nparam, nbuffer;
    float *params, *grads, *momentum, *buffers;
    /* plan */
    int batch, mode, planned;
    float *act;               /* the activation arena */
    size_t act_floats;
    size_t ws_off, scratch_off;
    float *fold;              /* folded conv weights for fused eval */
    size_t fold_floats;
    float *wino;              /* Winograd-transformed weights for eval */
    size_t wino_floats;
    int fold_dirty;
    int folded;               /* batch norm folded into the conv weights in place */
    int pack_mr, pack_kc;     /* tile rows and KC of the packed weights (0: none packed) */
    int last_mode, last_until;
    const float *x_last;      /* the input of the last forward (backward reads it) */
    int dropout_on;
    int grads_zeroed;         /* ndx_net_zero_grads: the next backward writes, not adds */
    ndx_rng drop_rng;
};

/* Weights replaced from outside graph.c (weights.c). */
void ndx__net_weights_changed(ndx_net *net);
/* 1 when tensor is a parameter of the head (the last linear layer). */
int ndx__net_is_head_tensor(const ndx_net *net, int tensor);

/* ndx_linear_backward; acc_w 0: dw and db are written, not added to. */
void ndx__linear_backward(int n, int in, int out, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db, int acc, int acc_w);

#endif
