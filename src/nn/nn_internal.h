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
    size_t group_off;        /* inference: the fused group's buffer (at its head) */
    int has_grad, grad_writer;
    int keep;                /* ndx_net_keep_outputs: live to the end of a pass */
    int fold_bn, fuse_relu, fused_into, group_end;   /* eval fusion */
    int wino;                /* eval: 1 Winograd weights cached at wino_off, 2 the
                                weights packed for the GEMM (ndx__sgemm_prepack) */
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
    const char *wino_isa;     /* the kernel set wino was packed for (a static name) */
    int fold_dirty;
    int folded;               /* batch norm folded into the conv weights in place */
    int pack_mr, pack_kc;     /* tile rows and KC of the packed weights (0: none packed) */
    const char *pack_isa;     /* and the kernel set that packed them (a static name) */
    int last_mode, last_until;
    const float *x_last;      /* the input of the last forward (backward reads it) */
    int dropout_on;
    /* torchvision's transform_input (Inception-v3): x[c] * ti_scale[c] +
     * ti_shift[c] into the arena at xin_off before the first layer */
    int ti_ok, ti_on;         /* the builder allows it; it is on */
    size_t xin_off;
    int grads_zeroed;         /* ndx_net_zero_grads: the next backward writes, not adds */
    int act_grads_only;       /* NDX_PLAN_TRAIN_ACT: no parameter gradients */
    int plan_algo;            /* ndx__conv_get_algo() when planned (workspace sized for it) */
    ndx_grads_fn on_grads;    /* ndx_net_on_grads */
    void *on_grads_ctx;
    size_t *grads_final;      /* nnodes: after node j's backward, g[grads_final[j], G) is done */
    ndx_rng drop_rng;
    double *prof;             /* ndx__net_profile: seconds per step, by its first node */
    double (*prof_now)(void);
};

/* Per-step timing of ndx_net_forward (benchmarks only): with secs non-NULL
 * (nnodes doubles), each forward adds to secs[i] the time now() says the
 * step headed by node i took (a fused conv group counts at its conv, the
 * other nodes at themselves); secs NULL turns it off. */
void ndx__net_profile(ndx_net *net, double *secs, double (*now)(void));

/* x (batch, 3, H, W) with torchvision's transform_input applied, in the
 * arena at xin_off (zoo.c). */
const float *ndx__transform_input(ndx_net *net, const float *x);

/* Weights replaced from outside graph.c (weights.c). */
void ndx__net_weights_changed(ndx_net *net);
/* 1 when tensor is a parameter of the head (the last linear layer). */
int ndx__net_is_head_tensor(const ndx_net *net, int tensor);

/* ndx_linear_backward; acc_w 0: dw and db are written, not added to. */
void ndx__linear_backward(int n, int in, int out, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db, int acc, int acc_w);

/* ---- shared by the graph's files: graph.c (build), params.c, plan.c,
 * run.c and backward.c ---- */
/* Allocates (zeroed) the gradient and momentum blocks if not yet there. */
ndx_status ndx__net_train_blocks(ndx_net *net);

/* Floats of node n's output for the planned batch. */
static inline size_t ndx__node_numel(const ndx_net *net, const ndx__node *n)
{
    return (size_t)net->batch * n->c * n->h * n->w;
}

/* Floats rounded up to 64 bytes. */
static inline size_t ndx__round16(size_t n) { return (n + 15) / 16 * 16; }

/* The data of tensor t (parameter or buffer block). */
static inline float *ndx__tensor_data(const ndx_net *net, const ndx__tensor *t)
{
    return (t->is_buffer ? net->buffers : net->params) + t->off;
}

/* Tensor index t's data, NULL for -1. */
static inline const float *ndx__param(const ndx_net *net, int t)
{
    return t < 0 ? NULL : ndx__tensor_data(net, &net->tensors[t]);
}

/* The convolution of node n at the planned batch (relu: fused ReLU). */
static inline ndx_conv2d_desc ndx__conv_desc(const ndx_net *net, const ndx__node *n, int relu)
{
    const ndx__node *x = &net->nodes[n->in[0]];
    return (ndx_conv2d_desc){net->batch, x->c, x->h, x->w, n->k, n->kh, n->kw, n->sh, n->sw,
                             n->ph, n->pw, 1, 1, n->groups, relu};
}

/* The pooling window of node n over its input. */
static inline ndx_pool2d ndx__pool_of(const ndx_net *net, const ndx__node *n)
{
    const ndx__node *x = &net->nodes[n->in[0]];
    return (ndx_pool2d){x->h, x->w, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw, n->ceil_mode,
                        n->cip};
}

/* Node i's output (the input x for node 0) and activation gradient. */
static inline float *ndx__out_of(const ndx_net *net, int i, const float *x)
{
    return i == 0 ? (float *)x : net->act + net->nodes[i].out_off;
}
static inline float *ndx__grad_of(const ndx_net *net, int i)
{
    return net->act + net->nodes[i].grad_off;
}

#endif
