/* Data-parallel steps (docs/mpi.md).  A batch of B is cut into n equal
 * parts of B/n; each part runs forward and backward alone (batch norm on
 * the part's own statistics, each part from the step's running
 * statistics); then, with g_k the gradient block (G) and r_k the running
 * statistics (R) after part k:
 *   s = [g_0 | r_0];  s += [g_k | r_k] for k = 1 .. n-1, in that order
 *   grads = s_g / n;  running statistics = s_r / n
 * One process runs the parts in turn; under MPI process k runs part k and
 * the allreduce callback adds the processes' s in rank order, so both give
 * the same bits.  The loss of the whole batch is the mean of the parts'
 * means (equal parts), so its gradient is s_g / n. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "parts.h"

void ndx__parts_free(ndx__parts *p)
{
    ndx_free(p->sum);
    ndx_free(p->saved);
    free(p->buf);
    free(p->len);
    memset(p, 0, sizeof *p);
}

ndx_status ndx__parts_init(ndx__parts *p, ndx_net *net, int n)
{
    memset(p, 0, sizeof *p);
    p->net = net;
    p->n = n;
    if (!ndx_net_grads(net, &p->G)) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    const int nt = ndx_net_num_tensors(net);
    p->buf = malloc((size_t)(nt + 1) * sizeof *p->buf);
    p->len = malloc((size_t)(nt + 1) * sizeof *p->len);
    if (!p->buf || !p->len) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    for (int i = 0; i < nt; i++) {
        ndx_param_info t;
        ndx_status st = ndx_net_tensor(net, i, &t);
        if (st) return st;
        if (!t.is_buffer) continue;
        p->buf[p->nbuf] = t.data, p->len[p->nbuf++] = t.numel;
        p->R += t.numel;
    }
    p->sum = ndx_alloc((p->G + p->R) * sizeof *p->sum);
    p->saved = ndx_alloc((p->R + 1) * sizeof *p->saved);
    if (!p->sum || !p->saved) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    return NDX_OK;
}

void ndx__parts_start(ndx__parts *p, int k)
{
    float *s = p->saved;
    for (int b = 0; b < p->nbuf; s += p->len[b], b++) {
        if (k == 0)
            memcpy(s, p->buf[b], p->len[b] * sizeof *s);
        else
            memcpy(p->buf[b], s, p->len[b] * sizeof *s);
    }
}

void ndx__parts_add(ndx__parts *p, int first)
{
    const float *g = ndx_net_grads(p->net, NULL);
    float *s = p->sum;
    if (first) {
        memcpy(s, g, p->G * sizeof *s);
        s += p->G;
        for (int b = 0; b < p->nbuf; s += p->len[b], b++) memcpy(s, p->buf[b], p->len[b] * sizeof *s);
        return;
    }
    for (size_t i = 0; i < p->G; i++) s[i] += g[i];
    s += p->G;
    for (int b = 0; b < p->nbuf; s += p->len[b], b++)
        for (size_t i = 0; i < p->len[b]; i++) s[i] += p->buf[b][i];
}

ndx_status ndx__parts_end(ndx__parts *p, const ndx_train_opts *o, double *d, size_t nd)
{
    if (o->allreduce) {
        ndx_status st = (ndx_status)o->allreduce(o->allreduce_ctx, p->sum, p->G + p->R, d, nd);
        if (st) return ndx__fail(st, "train: summing the step's gradients over the processes "
                                 "failed (allreduce)");
    }
    const float n = (float)p->n;
    float *g = ndx_net_grads(p->net, NULL), *s = p->sum;
    for (size_t i = 0; i < p->G; i++) g[i] = s[i] / n;
    s += p->G;
    for (int b = 0; b < p->nbuf; s += p->len[b], b++)
        for (size_t i = 0; i < p->len[b]; i++) p->buf[b][i] = s[i] / n;
    return NDX_OK;
}
