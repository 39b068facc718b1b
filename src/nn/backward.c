/* The backward pass of a training plan: from the loss gradient at the
 * output back through every node that reaches it, in reverse order; a
 * parameter gradient is added to (or stored, after ndx_net_zero_grads), an
 * activation gradient written by its first consumer and added by the rest. */
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "../../kernels/kernels.h"

static ndx_status backward_ready(const ndx_net *net)
{
    if (!net->planned || net->mode != NDX_PLAN_TRAIN || net->last_until != net->nnodes - 1)
        return ndx__fail(NDX_ERR_INVALID, "net: backward needs a full forward on a training plan");
    return NDX_OK;
}

static ndx_status backward(ndx_net *net);

/* ndx_net_on_grads's hook, if any: g[from, G) is final (from 0: the pass is over). */
static void grads_done(ndx_net *net, int params, size_t from)
{
    if (params && net->on_grads) net->on_grads(net->on_grads_ctx, net->grads, from, net->nparam);
}

ndx_status ndx_net_on_grads(ndx_net *net, ndx_grads_fn fn, void *ctx)
{
    if (!net) return ndx__fail(NDX_ERR_INVALID, "net: NULL");
    if (fn && !net->grads_final) {   /* the end of the parameters of nodes 0 .. j-1 */
        size_t *f = malloc((size_t)net->nnodes * sizeof *f), end = 0;
        if (!f) return ndx__fail(NDX_ERR_NOMEM, "net: out of memory");
        for (int j = 0; j < net->nnodes; j++) {
            f[j] = end;
            const ndx__node *n = &net->nodes[j];
            const int ts[2] = {n->wt, n->bt};
            for (int k = 0; k < 2; k++)
                if (ts[k] >= 0 && net->tensors[ts[k]].off + net->tensors[ts[k]].numel > end)
                    end = net->tensors[ts[k]].off + net->tensors[ts[k]].numel;
        }
        net->grads_final = f;
    }
    net->on_grads = fn, net->on_grads_ctx = ctx;
    return NDX_OK;
}

ndx_status ndx_net_backward(ndx_net *net, const float *dlogits)
{
    ndx_status st = backward_ready(net);
    if (st) return st;
    const int N = net->nnodes;
    memcpy(ndx__grad_of(net, N - 1), dlogits, ndx__node_numel(net, &net->nodes[N - 1]) * sizeof(float));
    return backward(net);
}

ndx_status ndx_net_loss_backward(ndx_net *net, const int *labels, const float *class_weight,
                                 double *loss)
{
    ndx_status st = backward_ready(net);
    if (st) return st;
    const int N = net->nnodes;
    const ndx__node *o = &net->nodes[N - 1];
    st = ndx_softmax_xent(net->batch, o->c * o->h * o->w, net->act + o->out_off, labels,
                          class_weight, ndx__grad_of(net, N - 1), loss);
    return st ? st : backward(net);
}

void ndx_net_zero_grads(ndx_net *net)
{
    if (net) net->grads_zeroed = 1;
}

/* The parameters whose gradient the backward pass writes outright: those of
 * the convolutions and linear layers it reaches. */
static int writes_grad(const ndx__node *n)
{
    return n->has_grad && (n->op == NDX_OP_CONV || n->op == NDX_OP_LINEAR);
}

/* After ndx_net_zero_grads: zeroes every gradient the backward pass will
 * add to or leave alone, and the alignment padding of the others. */
static void zero_other_grads(ndx_net *net)
{
    for (int i = 0; i < net->nnodes; i++) {
        const ndx__node *n = &net->nodes[i];
        const int ts[2] = {n->wt, n->bt};
        for (int k = 0; k < 2; k++) {
            if (ts[k] < 0) continue;
            const ndx__tensor *t = &net->tensors[ts[k]];
            const size_t from = writes_grad(n) ? t->numel : 0;
            memset(net->grads + t->off + from, 0, (ndx__round16(t->numel) - from) * sizeof(float));
        }
    }
}

static ndx_status backward(ndx_net *net)
{
    const int N = net->nnodes, B = net->batch;
    const int train = net->last_mode == NDX_TRAIN;
    float *scratch = net->act + net->scratch_off, *ws = net->act + net->ws_off;
    const int params = !net->act_grads_only;
    const int fresh = net->grads_zeroed;   /* the first write of a gradient is a store */
    int stop = 0;                          /* the nodes after it run */
    if (params) {
        net->grads_zeroed = 0;
        if (fresh) zero_other_grads(net);
    } else {   /* down to the lowest kept node: its gradient is then complete */
        stop = 1;
        while (stop < N && !net->nodes[stop].keep) stop++;
        stop = stop < N ? stop : 0;
    }
    for (int j = N - 1; j > stop; j--) {
        const ndx__node *n = &net->nodes[j];
        if (!n->has_grad) continue;
        const float *dy = ndx__grad_of(net, j), *y = net->act + n->out_off;
        const int i0 = n->in[0];
        const ndx__node *a = &net->nodes[i0];
        const float *x = i0 ? net->act + a->out_off : net->x_last;
        float *dx = i0 ? ndx__grad_of(net, i0) : NULL;
        const int acc = i0 && a->grad_writer != j;
        const size_t cnt = ndx__node_numel(net, n), hw = (size_t)n->h * n->w;
        const size_t ahw = (size_t)a->h * a->w;
        float *dw = params && n->wt >= 0 ? net->grads + net->tensors[n->wt].off : NULL;
        float *db = params && n->bt >= 0 ? net->grads + net->tensors[n->bt].off : NULL;
        ndx_status st = NDX_OK;
        switch (n->op) {
        case NDX_OP_CONV: break;
        case NDX_OP_BN:
            if (train)
                ndx_batchnorm_backward_train(B, n->c, hw, x, ndx__param(net, n->wt), net->act + n->aux_off,
                                             net->act + n->aux_off + n->c, dy, dx, dw, db, acc);
            else
                ndx_batchnorm_backward_eval(B, n->c, hw, x, ndx__param(net, n->wt), ndx__param(net, n->rm),
                                            ndx__param(net, n->rv), n->eps, dy, dx, dw, db, acc);
            break;
        case NDX_OP_RELU: if (dx) ndx_relu_backward(cnt, y, dy, dx, acc); break;
        case NDX_OP_MAXPOOL: {
            ndx_pool2d p = ndx__pool_of(net, n);
            if (dx) ndx_maxpool2d_backward(B * n->c, &p, (const int32_t *)(net->act + n->aux_off),
                                           dy, dx, acc);
            break;
        }
        case NDX_OP_AVGPOOL: {
            ndx_pool2d p = ndx__pool_of(net, n);
            if (dx) ndx_avgpool2d_backward(B * n->c, &p, dy, dx, acc);
            break;
        }
        case NDX_OP_ADAPTIVE_AVGPOOL:
            if (dx) ndx_adaptive_avgpool2d_backward(B * n->c, a->h, a->w, n->oh, n->ow, dy, dx, acc);
            break;
        case NDX_OP_LINEAR:
            ndx__linear_backward(B, a->c * (int)ahw, n->k, x, ndx__param(net, n->wt), dy, dx, dw, db,
                                 acc, !fresh);
            break;
        case NDX_OP_DROPOUT:
            if (dx) ndx_dropout_backward(cnt, net->act + n->aux_off, dy, dx, acc);
            break;
        case NDX_OP_CONCAT: {
            float *dxs[NDX_MAX_IN];
            int cs[NDX_MAX_IN], accs[NDX_MAX_IN];
            for (int k = 0; k < n->nin; k++) {
                const int ik = n->in[k];
                dxs[k] = ik ? ndx__grad_of(net, ik) : NULL;
                cs[k] = net->nodes[ik].c;
                accs[k] = net->nodes[ik].grad_writer != j;
                /* the same input twice: the first copy writes, the rest add */
                for (int m = 0; m < k; m++)
                    if (n->in[m] == ik) accs[k] = 1;
            }
            ndx_concat_backward(B, n->nin, cs, hw, dy, dxs, accs);
            break;
        }
        case NDX_OP_ADD:
            for (int k = 0; k < 2; k++) {
                const int ik = n->in[k];
                if (!ik) continue;
                int ak = net->nodes[ik].grad_writer != j || (k == 1 && n->in[0] == ik);
                ndx_copy_grad(cnt, dy, ndx__grad_of(net, ik), ak);
            }
            break;
        case NDX_OP_FLATTEN: if (dx) ndx_copy_grad(cnt, dy, dx, acc); break;
        case NDX_OP_INPUT: break;
        }
        if (n->op == NDX_OP_CONV) {
            ndx_conv2d_desc d = ndx__conv_desc(net, n, 0);
            if (params) st = ndx_conv2d_backward_weight(&d, x, dy, dw, db, ws, !fresh);
            if (!st && dx) {
                st = ndx_conv2d_backward_data(&d, dy, ndx__param(net, n->wt), acc ? scratch : dx, ws);
                if (!st && acc) ndx_copy_grad(ndx__node_numel(net, a), scratch, dx, 1);
            }
        }
        if (st) {   /* the pass ends here: the hook must let go of g */
            grads_done(net, params, 0);
            return st;
        }
        if (net->grads_final && net->grads_final[j] > 0) grads_done(net, params, net->grads_final[j]);
    }
    grads_done(net, params, 0);
    return NDX_OK;
}

ndx_status ndx_net_grad_output(const ndx_net *net, int node, ndx_tensor *out)
{
    if (!net || backward_ready(net)) return NDX_ERR_INVALID;
    if (node < 1 || node >= net->nnodes || !net->nodes[node].has_grad)
        return ndx__fail(NDX_ERR_INVALID, "net: node %d has no gradient (it does not reach "
                         "the output)", node);
    if (!net->nodes[node].keep)
        return ndx__fail(NDX_ERR_INVALID, "net: the gradient of %s was reused; mark the node "
                         "with ndx_net_keep_outputs before planning", net->nodes[node].name);
    const ndx__node *n = &net->nodes[node];
    int64_t shape[4] = {net->batch, n->c, n->h, n->w};
    return ndx_tensor_view(out, ndx__grad_of(net, node), 4, shape);
}
