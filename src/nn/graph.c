/* Building the graph: a DAG of named nodes in topological order, each
 * layer's settings and per-sample output shape, its parameter tensors in
 * state_dict order, aliases, and the queries on nodes.  The parameter
 * blocks are laid out by ndx_net_finish (params.c), the activation arena by
 * ndx_net_plan (plan.c); forward and backward run in run.c and backward.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "../../kernels/kernels.h"

/* ---- building ---------------------------------------------------------------------- */

static int net_error(ndx_net *net, ndx_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int net_error(ndx_net *net, ndx_status st, const char *fmt, ...)
{
    if (net && net->err == NDX_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(net->errmsg, sizeof net->errmsg, fmt, ap);
        va_end(ap);
        net->err = st;
    }
    return -1;
}

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

ndx_net *ndx_net_new(const char *arch, int c, int h, int w)
{
    ndx_net *net = calloc(1, sizeof *net);
    if (!net) {
        ndx__fail(NDX_ERR_NOMEM, "net: out of memory");
        return NULL;
    }
    snprintf(net->arch, sizeof net->arch, "%s", arch ? arch : "custom");
    net->dropout_on = 1;
    ndx_rng_seed(&net->drop_rng, 0);
    if (c < 1 || h < 1 || w < 1) net_error(net, NDX_ERR_SHAPE, "net: input shape (%d,%d,%d)", c, h, w);
    if (grow((void **)&net->nodes, &net->cap_nodes, 1, sizeof(ndx__node))) {
        free(net);
        ndx__fail(NDX_ERR_NOMEM, "net: out of memory");
        return NULL;
    }
    ndx__node *n = &net->nodes[0];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "x");
    n->op = NDX_OP_INPUT;
    n->c = c, n->h = h, n->w = w;
    n->wt = n->bt = n->rm = n->rv = -1;
    net->nnodes = 1;
    return net;
}

static ndx__node *add_node(ndx_net *net, const char *name, ndx_op op, const int *ins, int nin)
{
    if (!net || net->err) return NULL;
    if (net->finished) {
        net_error(net, NDX_ERR_INVALID, "net: node %s added after ndx_net_finish", name);
        return NULL;
    }
    if (strlen(name) >= NDX_NAME_MAX) {
        net_error(net, NDX_ERR_INVALID, "net: node name %s too long", name);
        return NULL;
    }
    if (nin > NDX_MAX_IN) {
        net_error(net, NDX_ERR_INVALID, "net: node %s has %d inputs (at most %d)", name, nin,
                  NDX_MAX_IN);
        return NULL;
    }
    for (int i = 0; i < nin; i++)
        if (ins[i] < 0 || ins[i] >= net->nnodes) {
            net_error(net, NDX_ERR_INVALID, "net: node %s: input %d is not an earlier node",
                      name, ins[i]);
            return NULL;
        }
    if (ndx_net_find(net, name) >= 0) {
        net_error(net, NDX_ERR_INVALID, "net: node name %s used twice", name);
        return NULL;
    }
    if (grow((void **)&net->nodes, &net->cap_nodes, net->nnodes + 1, sizeof(ndx__node))) {
        net_error(net, NDX_ERR_NOMEM, "net: out of memory");
        return NULL;
    }
    ndx__node *n = &net->nodes[net->nnodes++];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->op = op;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = ins[i];
    n->wt = n->bt = n->rm = n->rv = -1;
    if (nin) {
        const ndx__node *a = &net->nodes[ins[0]];
        n->c = a->c, n->h = a->h, n->w = a->w;
    }
    return n;
}

static int add_tensor(ndx_net *net, const char *node, const char *suffix, int kind, int ndim,
                      const int64_t *shape, int fan_in, int fan_out)
{
    if (grow((void **)&net->tensors, &net->cap_tensors, net->ntensors + 1, sizeof(ndx__tensor)))
        return net_error(net, NDX_ERR_NOMEM, "net: out of memory");
    ndx__tensor *t = &net->tensors[net->ntensors];
    memset(t, 0, sizeof *t);
    if (snprintf(t->name, sizeof t->name, "%s.%s", node, suffix) >= (int)sizeof t->name)
        return net_error(net, NDX_ERR_INVALID, "net: tensor name %s.%s too long", node, suffix);
    t->kind = kind;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i], t->numel *= (size_t)shape[i];
    t->fan_in = fan_in, t->fan_out = fan_out;
    t->is_buffer = kind == T_BN_RM || kind == T_BN_RV;
    return net->ntensors++;
}

static int idx(ndx_net *net, ndx__node *n) { return (int)(n - net->nodes); }

int ndx_net_conv(ndx_net *net, const char *name, int in, int k, int kh, int kw, int sh,
                 int sw, int ph, int pw, int groups, int bias)
{
    ndx__node *n = add_node(net, name, NDX_OP_CONV, &in, 1);
    if (!n) return -1;
    const int c = n->c;
    if (k < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || groups < 1 ||
        c % groups || k % groups)
        return net_error(net, NDX_ERR_SHAPE, "net: conv %s: bad settings for %d input channels",
                         name, c);
    ndx_conv2d_desc d = {1, c, n->h, n->w, k, kh, kw, sh, sw, ph, pw, 1, 1, groups, 0};
    int oh = ndx_conv2d_out_h(&d), ow = ndx_conv2d_out_w(&d);
    if (oh < 1 || ow < 1)
        return net_error(net, NDX_ERR_SHAPE, "net: conv %s: kernel %dx%d does not fit its "
                         "input %dx%d (padding %d,%d): input image too small", name, kh, kw,
                         n->h, n->w, ph, pw);
    n->k = k, n->kh = kh, n->kw = kw, n->sh = sh, n->sw = sw, n->ph = ph, n->pw = pw;
    n->groups = groups;
    n->c = k, n->h = oh, n->w = ow;
    int64_t ws[4] = {k, c / groups, kh, kw};
    const int i = idx(net, n);
    n->wt = add_tensor(net, name, "weight", T_CONV_W, 4, ws, c / groups * kh * kw,
                       k / groups * kh * kw);
    if (bias) {
        int64_t bs[1] = {k};
        n->bt = add_tensor(net, name, "bias", T_CONV_B, 1, bs, c / groups * kh * kw, 0);
    }
    return net->err ? -1 : i;
}

int ndx_net_bn(ndx_net *net, const char *name, int in, float eps)
{
    ndx__node *n = add_node(net, name, NDX_OP_BN, &in, 1);
    if (!n) return -1;
    n->eps = eps;
    int64_t s[1] = {n->c};
    const int i = idx(net, n);
    n->wt = add_tensor(net, name, "weight", T_BN_W, 1, s, 0, 0);
    n->bt = add_tensor(net, name, "bias", T_BN_B, 1, s, 0, 0);
    n->rm = add_tensor(net, name, "running_mean", T_BN_RM, 1, s, 0, 0);
    n->rv = add_tensor(net, name, "running_var", T_BN_RV, 1, s, 0, 0);
    return net->err ? -1 : i;
}

int ndx_net_relu(ndx_net *net, const char *name, int in)
{
    ndx__node *n = add_node(net, name, NDX_OP_RELU, &in, 1);
    return n ? idx(net, n) : -1;
}

static int pool(ndx_net *net, const char *name, ndx_op op, int in, int k, int s, int p,
                int ceil_mode, int cip)
{
    ndx__node *n = add_node(net, name, op, &in, 1);
    if (!n) return -1;
    if (k < 1 || s < 1 || p < 0 || 2 * p > k)
        return net_error(net, NDX_ERR_SHAPE, "net: pool %s: kernel %d stride %d padding %d",
                         name, k, s, p);
    int oh = ndx_pool2d_out_size(n->h, k, s, p, ceil_mode);
    int ow = ndx_pool2d_out_size(n->w, k, s, p, ceil_mode);
    if (oh < 1 || ow < 1)
        return net_error(net, NDX_ERR_SHAPE, "net: pool %s: window %d does not fit its input "
                         "%dx%d: input image too small", name, k, n->h, n->w);
    n->kh = n->kw = k, n->sh = n->sw = s, n->ph = n->pw = p;
    n->ceil_mode = ceil_mode, n->cip = cip;
    n->h = oh, n->w = ow;
    return idx(net, n);
}

int ndx_net_maxpool(ndx_net *net, const char *name, int in, int k, int s, int p, int ceil_mode)
{
    return pool(net, name, NDX_OP_MAXPOOL, in, k, s, p, ceil_mode, 0);
}

int ndx_net_avgpool(ndx_net *net, const char *name, int in, int k, int s, int p,
                    int count_include_pad)
{
    return pool(net, name, NDX_OP_AVGPOOL, in, k, s, p, 0, count_include_pad);
}

int ndx_net_adaptive_avgpool(ndx_net *net, const char *name, int in, int oh, int ow)
{
    ndx__node *n = add_node(net, name, NDX_OP_ADAPTIVE_AVGPOOL, &in, 1);
    if (!n) return -1;
    if (oh < 1 || ow < 1)
        return net_error(net, NDX_ERR_SHAPE, "net: adaptive pool %s: output %dx%d", name, oh, ow);
    n->oh = oh, n->ow = ow;
    n->h = oh, n->w = ow;
    return idx(net, n);
}

int ndx_net_linear(ndx_net *net, const char *name, int in, int out, int bias)
{
    ndx__node *n = add_node(net, name, NDX_OP_LINEAR, &in, 1);
    if (!n) return -1;
    const int fin = n->c * n->h * n->w;
    if (out < 1) return net_error(net, NDX_ERR_SHAPE, "net: linear %s: %d outputs", name, out);
    n->k = out;
    n->c = out, n->h = 1, n->w = 1;
    int64_t ws[2] = {out, fin}, bs[1] = {out};
    const int i = idx(net, n);
    n->wt = add_tensor(net, name, "weight", T_LIN_W, 2, ws, fin, out);
    if (bias) n->bt = add_tensor(net, name, "bias", T_LIN_B, 1, bs, fin, 0);
    return net->err ? -1 : i;
}

int ndx_net_dropout(ndx_net *net, const char *name, int in, float p)
{
    ndx__node *n = add_node(net, name, NDX_OP_DROPOUT, &in, 1);
    if (!n) return -1;
    if (!(p >= 0 && p < 1))
        return net_error(net, NDX_ERR_INVALID, "net: dropout %s: p = %g", name, (double)p);
    n->p = p;
    return idx(net, n);
}

int ndx_net_concat(ndx_net *net, const char *name, const int *ins, int nin)
{
    ndx__node *n = add_node(net, name, NDX_OP_CONCAT, ins, nin);
    if (!n) return -1;
    if (nin < 1) return net_error(net, NDX_ERR_INVALID, "net: concat %s without inputs", name);
    int c = 0;
    for (int i = 0; i < nin; i++) {
        const ndx__node *a = &net->nodes[ins[i]];
        if (a->h != n->h || a->w != n->w)
            return net_error(net, NDX_ERR_SHAPE, "net: concat %s: input %s is %dx%d, not %dx%d",
                             name, a->name, a->h, a->w, n->h, n->w);
        c += a->c;
    }
    n->c = c;
    return idx(net, n);
}

int ndx_net_add(ndx_net *net, const char *name, int a, int b)
{
    int ins[2] = {a, b};
    ndx__node *n = add_node(net, name, NDX_OP_ADD, ins, 2);
    if (!n) return -1;
    const ndx__node *x = &net->nodes[a], *y = &net->nodes[b];
    if (x->c != y->c || x->h != y->h || x->w != y->w)
        return net_error(net, NDX_ERR_SHAPE, "net: add %s: (%d,%d,%d) + (%d,%d,%d)", name, x->c,
                         x->h, x->w, y->c, y->h, y->w);
    return idx(net, n);
}

int ndx_net_flatten(ndx_net *net, const char *name, int in)
{
    ndx__node *n = add_node(net, name, NDX_OP_FLATTEN, &in, 1);
    if (!n) return -1;
    n->c = n->c * n->h * n->w, n->h = 1, n->w = 1;
    return idx(net, n);
}

void ndx_net_alias(ndx_net *net, const char *name, int node)
{
    if (!net || net->err || node < 0) return;
    if (grow((void **)&net->aliases, &net->cap_aliases, net->naliases + 1, sizeof(ndx__alias))) {
        net_error(net, NDX_ERR_NOMEM, "net: out of memory");
        return;
    }
    ndx__alias *a = &net->aliases[net->naliases++];
    snprintf(a->name, sizeof a->name, "%s", name);
    a->node = node;
}

void ndx_net_free(ndx_net *net)
{
    if (!net) return;
    free(net->nodes);
    free(net->tensors);
    free(net->aliases);
    ndx_free(net->params);
    ndx_free(net->grads);
    ndx_free(net->momentum);
    ndx_free(net->buffers);
    ndx_free(net->act);
    ndx_free(net->fold);
    ndx_free(net->wino);
    free(net->grads_final);
    free(net);
}

/* ---- queries ----------------------------------------------------------------------- */

const char *ndx_net_arch(const ndx_net *net) { return net->arch; }
int ndx_net_num_nodes(const ndx_net *net) { return net->nnodes; }

int ndx_net_find(const ndx_net *net, const char *name)
{
    for (int i = 0; i < net->nnodes; i++)
        if (!strcmp(net->nodes[i].name, name)) return i;
    for (int i = 0; i < net->naliases; i++)
        if (!strcmp(net->aliases[i].name, name)) return net->aliases[i].node;
    return -1;
}

const char *ndx_net_node_name(const ndx_net *net, int node)
{
    return node >= 0 && node < net->nnodes ? net->nodes[node].name : NULL;
}

ndx_op ndx_net_node_op(const ndx_net *net, int node) { return net->nodes[node].op; }

int ndx_net_node_input(const ndx_net *net, int node, int k)
{
    if (node < 0 || node >= net->nnodes || k < 0 || k >= net->nodes[node].nin) return -1;
    return net->nodes[node].in[k];
}

void ndx_net_node_shape(const ndx_net *net, int node, int *c, int *h, int *w)
{
    const ndx__node *n = &net->nodes[node];
    *c = n->c, *h = n->h, *w = n->w;
}

int ndx_net_num_classes(const ndx_net *net) { return net->nodes[net->nnodes - 1].c; }
int ndx_net_input_size(const ndx_net *net) { return net->nodes[0].h; }
int ndx_net_num_tensors(const ndx_net *net) { return net->ntensors; }

int ndx_net_batch(const ndx_net *net) { return net->planned ? net->batch : 0; }

size_t ndx_net_activation_bytes(const ndx_net *net)
{
    return net->planned ? net->act_floats * sizeof(float) : 0;
}

