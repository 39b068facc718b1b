/* The forward pass: each node's layer on the arena's buffers, a fused
 * convolution group (conv [-> bn] [-> relu]) in one step with the weights
 * folded at the first eval forward after they changed, and the view of a
 * node's output. */
#include <string.h>

#include "nn_internal.h"
#include "../../kernels/kernels.h"

/* The convolution weights node n runs with in a fused eval step. */
static const float *eval_weights(const ndx_net *net, const ndx__node *n)
{
    return n->fold_bn >= 0 && !net->folded ? net->fold + n->fold_off : ndx__param(net, n->wt);
}

/* The folded weights (unless folded in place once, at planning) and the
 * Winograd transforms of the weights (packed for the kernel set in use:
 * transformed again when it changes). */
static void refold(ndx_net *net)
{
    for (int i = 0; i < net->nnodes && !net->folded; i++) {
        const ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV || n->fold_bn < 0) continue;
        const ndx__node *b = &net->nodes[n->fold_bn];
        const size_t wn = net->tensors[n->wt].numel;
        float *w2 = net->fold + n->fold_off, *b2 = w2 + ndx__round16(wn);
        ndx_batchnorm_fold(n->k, wn / (size_t)n->k, ndx__param(net, n->wt), ndx__param(net, n->bt),
                           ndx__param(net, b->wt), ndx__param(net, b->bt), ndx__param(net, b->rm),
                           ndx__param(net, b->rv), b->eps, w2, b2);
    }
    for (int i = 0; i < net->nnodes; i++) {
        const ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV || !n->wino) continue;
        ndx_conv2d_desc d = ndx__conv_desc(net, n, 0);
        if (n->wino == 2)
            ndx__sgemm_prepack(n->k, (int)(net->tensors[n->wt].numel / (size_t)n->k),
                               eval_weights(net, n), net->wino + n->wino_off);
        else
            ndx__winograd_weights(&d, eval_weights(net, n), net->wino + n->wino_off,
                                  net->act + net->ws_off);
    }
    net->wino_isa = ndx_kernel_set();
    net->fold_dirty = 0;
}

/* Node n's packed copy of its eval weights (wino 2), when the convolution
 * runs through im2col now; NULL otherwise (NETDX_CONV may have changed the
 * choice since the plan). */
static const float *packed_copy(const ndx_net *net, const ndx__node *n, const ndx_conv2d_desc *d)
{
    if (n->wino != 2 || net->mode != NDX_PLAN_INFER || ndx_conv2d_check(d) ||
        ndx__conv_uses_winograd(d))
        return NULL;
    return net->wino + n->wino_off;
}

static ndx_status run_node(ndx_net *net, int i, const float *x0, int train)
{
    ndx__node *n = &net->nodes[i];
    const int B = net->batch;
    const ndx__node *a = &net->nodes[n->in[0]];
    const float *x = ndx__out_of(net, n->in[0], x0);
    float *y = ndx__out_of(net, i, x0);
    const size_t cnt = ndx__node_numel(net, n), hw = (size_t)n->h * n->w;
    switch (n->op) {
    case NDX_OP_CONV: {   /* alone: the cached transform holds its own weights */
        ndx_conv2d_desc d = ndx__conv_desc(net, n, 0);
        const int cached = n->wino == 1 && n->fold_bn < 0 && net->mode == NDX_PLAN_INFER;
        const float *wp = n->fold_bn < 0 ? packed_copy(net, n, &d) : NULL;
        return ndx__conv2d_forward_u(&d, x, wp ? wp : ndx__param(net, n->wt), wp || n->wpacked,
                                     cached ? net->wino + n->wino_off : NULL, ndx__param(net, n->bt),
                                     y, net->act + net->ws_off);
    }
    case NDX_OP_BN:
        if (train)
            ndx_batchnorm_forward_train(B, n->c, hw, x, ndx__param(net, n->wt), ndx__param(net, n->bt),
                                        (float *)ndx__param(net, n->rm), (float *)ndx__param(net, n->rv),
                                        0.1f, n->eps, y, net->act + n->aux_off,
                                        net->act + n->aux_off + n->c);
        else
            ndx_batchnorm_forward_eval(B, n->c, hw, x, ndx__param(net, n->wt), ndx__param(net, n->bt),
                                       ndx__param(net, n->rm), ndx__param(net, n->rv), n->eps, y);
        return NDX_OK;
    case NDX_OP_RELU: ndx_relu_forward(cnt, x, y); return NDX_OK;
    case NDX_OP_MAXPOOL: {
        ndx_pool2d p = ndx__pool_of(net, n);
        ndx_maxpool2d_forward(B * n->c, &p, x, y,
                              net->mode == NDX_PLAN_TRAIN ? (int32_t *)(net->act + n->aux_off)
                                                          : NULL);
        return NDX_OK;
    }
    case NDX_OP_AVGPOOL: {
        ndx_pool2d p = ndx__pool_of(net, n);
        ndx_avgpool2d_forward(B * n->c, &p, x, y);
        return NDX_OK;
    }
    case NDX_OP_ADAPTIVE_AVGPOOL:
        ndx_adaptive_avgpool2d_forward(B * n->c, a->h, a->w, n->oh, n->ow, x, y);
        return NDX_OK;
    case NDX_OP_LINEAR:
        ndx_linear_forward(B, a->c * a->h * a->w, n->k, x, ndx__param(net, n->wt), ndx__param(net, n->bt),
                           y);
        return NDX_OK;
    case NDX_OP_DROPOUT:
        if (train && net->dropout_on && n->p > 0) {
            ndx_dropout_forward(cnt, n->p, &net->drop_rng, x, y, net->act + n->aux_off);
        } else {
            memcpy(y, x, cnt * sizeof *y);
            if (net->mode == NDX_PLAN_TRAIN) {
                float *m = net->act + n->aux_off;
                for (size_t j = 0; j < cnt; j++) m[j] = 1.0f;
            }
        }
        return NDX_OK;
    case NDX_OP_CONCAT: {
        const float *xs[NDX_MAX_IN];
        int cs[NDX_MAX_IN];
        for (int k = 0; k < n->nin; k++) {
            xs[k] = ndx__out_of(net, n->in[k], x0);
            cs[k] = net->nodes[n->in[k]].c;
        }
        ndx_concat_forward(B, n->nin, cs, hw, xs, y);
        return NDX_OK;
    }
    case NDX_OP_ADD:
        ndx_add_forward(cnt, x, ndx__out_of(net, n->in[1], x0), y);
        return NDX_OK;
    case NDX_OP_FLATTEN: memcpy(y, x, cnt * sizeof *y); return NDX_OK;
    case NDX_OP_INPUT: return NDX_OK;
    }
    return ndx__fail(NDX_ERR_INVALID, "net: node %s has an unknown op", n->name);
}

/* Eval: whether add node i and the ReLU after it run as one pass (the
 * ReLU is its only consumer, the add's own output is not kept): the sum
 * never reaches the add's buffer, only the ReLU's. */
static int add_relu_fused(const ndx_net *net, int i, int until)
{
    const ndx__node *n = &net->nodes[i];
    return n->op == NDX_OP_ADD && i + 1 <= until && i + 1 < net->nnodes &&
           net->nodes[i + 1].op == NDX_OP_RELU && net->nodes[i + 1].in[0] == i &&
           n->consumers == 1 && !n->keep;
}

/* The fused add + ReLU of node i (into the ReLU's buffer), in blocks that
 * stay in L1 between the two kernels, the blocks over the threads. */
static void run_add_relu(ndx_net *net, int i, const float *x0)
{
    const ndx__node *n = &net->nodes[i];
    const ndx_kernel_table *t = ndx_kernels();
    const float *a = ndx__out_of(net, n->in[0], x0), *b = ndx__out_of(net, n->in[1], x0);
    float *y = ndx__out_of(net, i + 1, x0);
    const size_t cnt = ndx__node_numel(net, n), blk = 4096;
    const long nb = (long)((cnt + blk - 1) / blk);
    const int nt = ndx_get_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1 && nb > 8) schedule(static)
    for (long j = 0; j < nb; j++) {
        const size_t o = (size_t)j * blk, len = cnt - o < blk ? cnt - o : blk;
        t->add.fn(len, a + o, b + o, y + o);
        t->relu.fn(len, y + o, y + o);
    }
}

/* A conv group in one step up to member `end` (its batch norm or its ReLU):
 * folded weights, bias, ReLU if end is the ReLU, into end's buffer. */
static ndx_status run_group(ndx_net *net, int i, const float *x0, int end)
{
    const ndx__node *n = &net->nodes[i];
    ndx_conv2d_desc d = ndx__conv_desc(net, n, n->fuse_relu >= 0 && end == n->fuse_relu);
    const float *w = eval_weights(net, n), *b = ndx__param(net, n->bt);
    if (n->fold_bn >= 0 && net->folded) b = net->fold + n->fold_off;
    else if (n->fold_bn >= 0) b = w + ndx__round16(net->tensors[n->wt].numel);
    const float *wp = packed_copy(net, n, &d);
    return ndx__conv2d_forward_u(&d, ndx__out_of(net, n->in[0], x0), wp ? wp : w, wp || n->wpacked,
                                 n->wino == 1 ? net->wino + n->wino_off : NULL, b,
                                 ndx__out_of(net, end, x0), net->act + net->ws_off);
}

/* Eval, convolution i heading a fused group: the whole group, or up to a
 * tapped batch norm inside it, or the convolution alone (*last: the last
 * node run).  A kept member before the end gets its own output first,
 * computed as a forward stopping there computes it. */
static ndx_status run_fused(ndx_net *net, int i, const float *x, int until, int *last)
{
    const ndx__node *n = &net->nodes[i];
    const int end = n->group_end <= until ? n->group_end
                    : n->fold_bn >= 0 && n->fold_bn <= until ? n->fold_bn : i;
    const int alone = end == i || n->keep;
    *last = end;
    if (alone && n->fold_bn >= 0 && net->folded)
        return ndx__fail(NDX_ERR_INVALID, "net %s: %s was folded with its batch norm "
                         "(NDX_PLAN_INFER_FOLDED): its own output cannot be tapped",
                         net->arch, n->name);
    ndx_status st = alone ? run_node(net, i, x, 0) : NDX_OK;
    if (!st && n->fold_bn >= 0 && n->fold_bn < end && net->nodes[n->fold_bn].keep)
        st = run_group(net, i, x, n->fold_bn);
    if (!st && end > i) st = run_group(net, i, x, end);
    return st;
}

ndx_status ndx_net_forward(ndx_net *net, const float *x, int mode, int until)
{
    if (!net || !net->planned) return ndx__fail(NDX_ERR_INVALID, "net: forward before plan");
    if (!x) return ndx__fail(NDX_ERR_INVALID, "net: forward: input is NULL");
    if (until < 0) until = net->nnodes - 1;
    if (until >= net->nnodes)
        return ndx__fail(NDX_ERR_INVALID, "net: forward until node %d of %d", until, net->nnodes);
    if (mode == NDX_TRAIN && net->mode != NDX_PLAN_TRAIN)
        return ndx__fail(NDX_ERR_INVALID, "net %s: training forward needs a training plan "
                         "(ndx_net_plan with NDX_PLAN_TRAIN)", net->arch);
    ndx__ensure_init();
    if ((int)ndx__conv_get_algo() != net->plan_algo)   /* its workspace is the plan's */
        return ndx__fail(NDX_ERR_INVALID, "net %s: the convolution algorithm (NETDX_CONV) "
                         "changed since the plan: plan again", net->arch);
    if (net->pack_mr) {   /* some weights are packed: for this kernel set only */
        int mr, kc;
        ndx__sgemm_prepack_params(&mr, &kc);
        const char *isa = ndx_kernel_set();
        if (mr != net->pack_mr || kc != net->pack_kc || strcmp(isa, net->pack_isa))
            return ndx__fail(NDX_ERR_INVALID, "net %s: convolution weights were packed for "
                             "another kernel set (%s: tile rows %d, KC %d; now %s: %d, %d): "
                             "load the weights again", net->arch, net->pack_isa, net->pack_mr,
                             net->pack_kc, isa, mr, kc);
    }
    if (net->ti_on) x = ndx__transform_input(net, x);
    const int fuse = mode == NDX_EVAL && net->mode == NDX_PLAN_INFER;
    if (fuse && net->wino && net->wino_isa != ndx_kernel_set()) net->fold_dirty = 1;
    if (fuse && net->fold_dirty) refold(net);
    if (mode == NDX_TRAIN) net->fold_dirty = 1;   /* running stats change */
    for (int i = 1; i <= until; i++) {
        const ndx__node *n = &net->nodes[i];
        const int head = i;
        const double t0 = net->prof ? net->prof_now() : 0.0;
        ndx_status st;
        if (fuse && n->op == NDX_OP_CONV && n->group_end > i) {
            st = run_fused(net, i, x, until, &i);
        } else if (fuse && add_relu_fused(net, i, until)) {
            run_add_relu(net, i, x);
            st = NDX_OK;
            i++;
        } else {
            st = run_node(net, i, x, mode == NDX_TRAIN);
        }
        if (st) return st;
        if (net->prof) net->prof[head] += net->prof_now() - t0;
    }
    net->last_mode = mode;
    net->last_until = until;
    net->x_last = x;
    return NDX_OK;
}

void ndx__net_profile(ndx_net *net, double *secs, double (*now)(void))
{
    net->prof = secs && now ? secs : NULL;
    net->prof_now = now;
}

ndx_status ndx_net_output(const ndx_net *net, int node, ndx_tensor *out)
{
    if (!net->planned || node < 0 || node >= net->nnodes || node > net->last_until || node == 0)
        return ndx__fail(NDX_ERR_INVALID, "net: node %d has no output from the last forward",
                         node);
    const ndx__node *n = &net->nodes[node];
    if (net->mode == NDX_PLAN_INFER && n->last_use < net->last_until)
        return ndx__fail(NDX_ERR_INVALID, "net: the output of %s was reused; run the forward "
                         "with until = its index", n->name);
    if (net->mode == NDX_PLAN_INFER && n->fused_into >= 0 && !n->keep &&
        net->nodes[n->fused_into].group_end != node && net->last_until > node)
        return ndx__fail(NDX_ERR_INVALID, "net: %s is fused away in inference; run the "
                         "forward with until = its index", n->name);
    if (net->mode == NDX_PLAN_INFER && net->last_mode == NDX_EVAL &&
        add_relu_fused(net, node, net->last_until))
        return ndx__fail(NDX_ERR_INVALID, "net: %s is fused with its ReLU in inference; run "
                         "the forward with until = its index", n->name);
    int64_t shape[4] = {net->batch, n->c, n->h, n->w};
    int feat = n->h == 1 && n->w == 1 && (n->op == NDX_OP_LINEAR || n->op == NDX_OP_FLATTEN);
    return ndx_tensor_view(out, net->act + n->out_off, feat ? 2 : 4, shape);
}

