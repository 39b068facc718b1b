/* Planning (ndx_net_plan): one activation arena for a batch, in three steps.
 *   liveness  each node's definition time and last use; a node marked with
 *             ndx_net_keep_outputs lives to the end of the pass;
 *   fusion    (inference) a convolution followed by batch norm (and ReLU)
 *             runs as one step with folded weights; a convolution that takes
 *             Winograd at this batch keeps its transformed weights (16 x K x
 *             C) beside the folded ones, made again whenever those are;
 *   layout    NDX_PLAN_INFER: each output gets a buffer live from its
 *             definition to its last use, reused after (first fit); a fused
 *             group's members share one buffer, live from the convolution to
 *             the group's last consumer, except a kept member, which gets its
 *             own.  NDX_PLAN_TRAIN: every output kept (backward reads them),
 *             plus the max-pool argmax, batch-norm statistics and dropout
 *             masks, plus gradient buffers reused the same way in reverse.
 * Both add the convolution workspace and a scratch buffer.  Nothing is
 * allocated by forward or backward. */
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "../../kernels/kernels.h"

/* First-fit interval allocator over live blocks. */
typedef struct { size_t off, size; int until; } live_block;
typedef struct { live_block *b; int n; size_t peak; } allocator;

static size_t alloc_block(allocator *a, size_t size, int now, int until)
{
    int k = 0;
    for (int i = 0; i < a->n; i++)
        if (a->b[i].until >= now) a->b[k++] = a->b[i];
    a->n = k;
    size = ndx__round16(size);
    /* blocks are kept sorted by offset */
    size_t off = 0;
    int pos = 0;
    for (; pos < a->n; pos++) {
        if (a->b[pos].off >= off + size) break;
        size_t end = a->b[pos].off + a->b[pos].size;
        if (end > off) off = end;
    }
    memmove(&a->b[pos + 1], &a->b[pos], (size_t)(a->n - pos) * sizeof *a->b);
    a->b[pos] = (live_block){off, size, until};
    a->n++;
    if (off + size > a->peak) a->peak = off + size;
    return off;
}

static int single_consumer(const ndx_net *net, int i)
{
    return net->nodes[i].consumers == 1 ? net->nodes[i].last_use : -1;
}

/* With the weights folded in place (inference only from then on), the
 * convolutions that always run through im2col + GEMM (one group, not
 * Winograd's 3x3 stride 1 at any batch) get their weights packed in place
 * into the GEMM's panel layout, once: their forward passes then pack
 * nothing.  Layers left as they are when no scratch copy fits in memory. */
static void pack_weights(ndx_net *net)
{
    int mr, kc;
    ndx__sgemm_prepack_params(&mr, &kc);
    for (int i = 0; i < net->nnodes; i++) {
        ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV || n->wpacked) continue;
        const ndx_conv2d_desc d = ndx__conv_desc(net, n, 0);
        if (d.groups != 1 || ndx__winograd_fits(&d)) continue;
        float *w = net->params + net->tensors[n->wt].off;
        const size_t wn = net->tensors[n->wt].numel;
        float *copy = ndx_alloc(wn * sizeof *copy);
        if (!copy) continue;
        memcpy(copy, w, wn * sizeof *w);
        ndx__sgemm_prepack(n->k, (int)(wn / (size_t)n->k), copy, w);
        ndx_free(copy);
        n->wpacked = 1;
        net->pack_mr = mr;
        net->pack_kc = kc;
        net->pack_isa = ndx_kernel_set();
    }
}

/* Liveness: each node's consumers, definition time and last use; the
 * network's output stays to the end. */
static void liveness(ndx_net *net)
{
    const int N = net->nnodes;
    for (int i = 0; i < N; i++) {
        ndx__node *n = &net->nodes[i];
        n->consumers = 0, n->last_use = i, n->def_time = i;
        n->fold_bn = n->fuse_relu = n->fused_into = -1;
        n->group_end = i;
        n->wino = 0;
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < net->nodes[i].nin; k++) {
            ndx__node *a = &net->nodes[net->nodes[i].in[k]];
            a->consumers++;
            if (i > a->last_use) a->last_use = i;
        }
    net->nodes[N - 1].last_use = N;   /* the output stays */
    /* an add whose one consumer is the ReLU after it may run fused into the
     * ReLU's buffer (run.c), reading its inputs: that buffer is born with
     * the add, so it never shares memory with them */
    for (int i = 1; i + 1 < N; i++)
        if (net->nodes[i].op == NDX_OP_ADD && net->nodes[i].consumers == 1 &&
            net->nodes[i + 1].op == NDX_OP_RELU && net->nodes[i + 1].in[0] == i)
            net->nodes[i + 1].def_time = i;
}

/* Fusion groups conv [-> bn] [-> relu] (a member with one consumer joins),
 * the fold block's layout (*fold floats; the folded weights too unless
 * folded in place) and the Winograd block's (*wino floats: the transformed
 * weights of the layers that take Winograd, the packed weights of the
 * other 3x3 stride-1 layers). */
static void fusion(ndx_net *net, int inplace, size_t *fold_floats, size_t *wino_floats)
{
    size_t fold = 0, wino = 0;
    for (int i = 0; i < net->nnodes; i++) {
        ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV) continue;
        int end = i, j = single_consumer(net, i);
        if (j > 0 && net->nodes[j].op == NDX_OP_BN) {
            n->fold_bn = j;
            net->nodes[j].fused_into = i;
            end = j;
            n->fold_off = fold;
            fold += (inplace ? 0 : ndx__round16(net->tensors[n->wt].numel)) +
                    ndx__round16((size_t)n->k);
        }
        j = single_consumer(net, end);
        if (j > 0 && net->nodes[j].op == NDX_OP_RELU) {
            n->fuse_relu = j;
            net->nodes[j].fused_into = i;
            end = j;
        }
        n->group_end = end;
        for (int m = i + 1; m <= end; m++) net->nodes[m].def_time = i;
        ndx_conv2d_desc d = ndx__conv_desc(net, n, 0);
        if (net->mode == NDX_PLAN_INFER && ndx__conv_uses_winograd(&d)) {
            n->wino = 1;
            n->wino_off = wino;
            wino += ndx__round16(16 * (size_t)n->k * (size_t)d.c);
        } else if (net->mode == NDX_PLAN_INFER && ndx__winograd_fits(&d)) {
            /* Winograd-shaped, im2col at this batch (ResNet's 7x7 layers
             * at batch 1): a packed copy, which the in-place packing
             * cannot give a layer that takes Winograd at other batches */
            n->wino = 2;
            n->wino_off = wino;
            wino += ndx__round16(net->tensors[n->wt].numel);
        }
    }
    *fold_floats = fold;
    *wino_floats = wino;
}

/* The fold and Winograd blocks at their planned sizes; with inplace, batch
 * norm folded into the weights in the parameter block (the biases into the
 * fold block) and the GEMM's weights packed, once. */
static ndx_status fusion_blocks(ndx_net *net, int inplace, size_t fold, size_t wino)
{
    if (net->fold && (net->fold_floats != fold || net->mode != NDX_PLAN_INFER)) {
        ndx_free(net->fold);
        net->fold = NULL;
        net->fold_floats = 0;
    }
    if (net->wino_floats != wino) {   /* its own block: the fold block keeps its layout */
        ndx_free(net->wino);
        net->wino = wino ? ndx_alloc(wino * sizeof(float)) : NULL;
        if (wino && !net->wino) return NDX_ERR_NOMEM;
        net->wino_floats = wino;
    }
    if (wino) net->fold_dirty = 1;   /* transformed at the first forward */
    if (fold && !net->fold && net->mode == NDX_PLAN_INFER) {
        net->fold = ndx_alloc(fold * sizeof(float));
        if (!net->fold) return NDX_ERR_NOMEM;
        net->fold_floats = fold;
        net->fold_dirty = 1;
    }
    if (!inplace || net->folded) return NDX_OK;
    for (int i = 0; i < net->nnodes; i++) {
        const ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV || n->fold_bn < 0) continue;
        const ndx__node *b = &net->nodes[n->fold_bn];
        float *w = net->params + net->tensors[n->wt].off;
        const size_t wn = net->tensors[n->wt].numel;
        ndx_batchnorm_fold(n->k, wn / (size_t)n->k, w, ndx__param(net, n->bt),
                           ndx__param(net, b->wt), ndx__param(net, b->bt), ndx__param(net, b->rm),
                           ndx__param(net, b->rv), b->eps, w, net->fold + n->fold_off);
    }
    net->folded = 1;
    net->fold_dirty = wino != 0;   /* the Winograd weights, at the first forward */
    pack_weights(net);
    return NDX_OK;
}

/* Inference layout: buffers reused once their node's life ended.  The
 * members of a fused group share one buffer (a run writes only the last; a
 * tap inside the group stops there), except a kept member, which gets its
 * own, live to the end.  Returns the floats of the activations. */
static size_t layout_infer(ndx_net *net, allocator *al)
{
    const int N = net->nnodes;
    for (int i = 1; i < N; i++) {
        ndx__node *n = &net->nodes[i];
        const size_t cnt = ndx__node_numel(net, n);
        if (n->fused_into >= 0) {
            const ndx__node *head = &net->nodes[n->fused_into];
            n->out_off = n->keep && head->group_end != i
                             ? alloc_block(al, cnt, n->def_time, N) : head->group_off;
            continue;
        }
        const int until = net->nodes[n->group_end].last_use;
        n->group_off = alloc_block(al, cnt, n->def_time, until);
        n->out_off = n->keep && n->group_end > i ? alloc_block(al, cnt, n->def_time, N)
                                                  : n->group_off;
    }
    return al->peak;
}

/* Training layout: every output and its saved statistics kept in order,
 * then the activation gradients: node j's backward (reverse time N-1-j)
 * defines its inputs' gradients; a gradient lives until its own node's
 * backward (a node marked with ndx_net_keep_outputs: to the end, for
 * ndx_net_grad_output).  A node that does not reach the output gets no gradient; the
 * first consumer to run backward (grad_writer) overwrites, the rest add.
 * Returns the floats of both. */
static size_t layout_train(ndx_net *net, allocator *al)
{
    const int N = net->nnodes;
    size_t off = 0;
    for (int i = 1; i < N; i++) {
        ndx__node *n = &net->nodes[i];
        n->out_off = off;
        off += ndx__round16(ndx__node_numel(net, n));
        n->aux_off = off;
        size_t aux = 0;
        if (n->op == NDX_OP_MAXPOOL || n->op == NDX_OP_DROPOUT) aux = ndx__node_numel(net, n);
        if (n->op == NDX_OP_BN) aux = 2 * (size_t)n->c;
        off += ndx__round16(aux);
    }
    for (int i = 0; i < N; i++) net->nodes[i].has_grad = 0;
    ndx__node *last = &net->nodes[N - 1];
    last->grad_off = alloc_block(al, ndx__node_numel(net, last), 0, 0);
    last->has_grad = 1;
    for (int j = N - 1; j > 0; j--) {
        const ndx__node *n = &net->nodes[j];
        if (!n->has_grad) continue;
        for (int k = 0; k < n->nin; k++) {
            ndx__node *a = &net->nodes[n->in[k]];
            if (n->in[k] == 0 || a->has_grad) continue;
            const int until = a->keep ? N : N - 1 - n->in[k];   /* kept: to the end */
            a->grad_off = alloc_block(al, ndx__node_numel(net, a), N - 1 - j, until);
            a->has_grad = 1;
            a->grad_writer = j;
        }
    }
    for (int i = 1; i < N; i++) net->nodes[i].grad_off += off;
    return off + al->peak;
}

/* The arena: activations (and gradients), the largest convolution
 * workspace, and a scratch buffer as large as the largest convolution
 * input. */
static ndx_status layout(ndx_net *net)
{
    const int N = net->nnodes;
    size_t ws = 0, scratch = 0;
    for (int i = 0; i < N; i++) {
        const ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV) continue;
        ndx_conv2d_desc d = ndx__conv_desc(net, n, 0);
        const size_t w = ndx_conv2d_workspace(&d);
        if (w > ws) ws = w;
        const size_t in = ndx__node_numel(net, &net->nodes[n->in[0]]);
        if (in > scratch) scratch = in;
    }
    allocator al = {calloc(2 * (size_t)N + 1, sizeof(live_block)), 0, 0};
    if (!al.b) return ndx__fail(NDX_ERR_NOMEM, "net: out of memory");
    size_t total = net->mode == NDX_PLAN_INFER ? layout_infer(net, &al) : layout_train(net, &al);
    free(al.b);
    net->ws_off = total;
    total += ndx__round16(ws);
    net->scratch_off = total;
    total += ndx__round16(scratch);
    net->xin_off = total;   /* the transformed input, when the net may transform it */
    if (net->ti_ok) total += ndx__round16(ndx__node_numel(net, &net->nodes[0]));
    net->act_floats = total;
    net->act = ndx_alloc((total ? total : 1) * sizeof(float));
    return net->act ? NDX_OK : NDX_ERR_NOMEM;
}

ndx_status ndx_net_plan(ndx_net *net, int batch, int mode)
{
    if (!net || !net->finished) return ndx__fail(NDX_ERR_INVALID, "net: plan before finish");
    if (batch < 1 || batch > 65536) return ndx__fail(NDX_ERR_INVALID, "net: batch %d", batch);
    if (mode != NDX_PLAN_INFER && mode != NDX_PLAN_TRAIN && mode != NDX_PLAN_INFER_FOLDED &&
        mode != NDX_PLAN_TRAIN_ACT)
        return ndx__fail(NDX_ERR_INVALID, "net: plan mode %d", mode);
    if (net->folded && mode != NDX_PLAN_INFER_FOLDED)
        return ndx__fail(NDX_ERR_INVALID, "net %s: batch norm was folded into the convolutions "
                         "in place (NDX_PLAN_INFER_FOLDED); load the weights again to plan "
                         "otherwise", net->arch);
    const int inplace = mode == NDX_PLAN_INFER_FOLDED, act_only = mode == NDX_PLAN_TRAIN_ACT;
    if (inplace) mode = NDX_PLAN_INFER;
    if (act_only) mode = NDX_PLAN_TRAIN;
    ndx_free(net->act);
    net->act = NULL;
    net->planned = 0;
    if (mode == NDX_PLAN_TRAIN && !act_only && ndx__net_train_blocks(net)) return NDX_ERR_NOMEM;
    net->batch = batch, net->mode = mode, net->act_grads_only = act_only;
    liveness(net);
    size_t fold, wino;
    fusion(net, inplace, &fold, &wino);
    for (int i = 0; i < net->nnodes; i++)   /* after fusion: a kept node does not stop it */
        if (net->nodes[i].keep) net->nodes[i].last_use = net->nnodes;
    ndx_status st = fusion_blocks(net, inplace, fold, wino);
    if (!st) st = layout(net);
    if (st) return st;
    net->plan_algo = (int)ndx__conv_get_algo();
    net->planned = 1;
    net->last_until = -2;
    return NDX_OK;
}

ndx_status ndx_net_keep_outputs(ndx_net *net, const int *nodes, int n)
{
    if (!net || n < 0 || (n > 0 && !nodes))
        return ndx__fail(NDX_ERR_INVALID, "net: keep_outputs: NULL net or nodes");
    for (int k = 0; k < n; k++)
        if (nodes[k] < 1 || nodes[k] >= net->nnodes)
            return ndx__fail(NDX_ERR_INVALID, "net %s: keep_outputs: node %d of %d", net->arch,
                             nodes[k], net->nnodes);
    for (int i = 0; i < net->nnodes; i++) net->nodes[i].keep = 0;
    for (int k = 0; k < n; k++) net->nodes[nodes[k]].keep = 1;
    net->planned = 0;   /* the marks take effect at the next plan */
    return NDX_OK;
}
