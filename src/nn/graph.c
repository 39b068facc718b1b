/* The graph: a DAG of named nodes in topological order, its parameter blocks
 * and its activation arena.
 *
 * Parameters, gradients and momentum are one block each (nparam floats), so
 * zeroing the gradients is one memset and an SGD step one loop; running
 * statistics live in a fourth block.  Tensors are listed in state_dict order
 * with torchvision's names.
 *
 * Planning (ndx_net_plan) sizes one activation arena for a batch:
 *   NDX_PLAN_INFER: each node's output gets a buffer live from its definition
 *     to its last consumer; buffers whose life ended are reused (first fit).
 *     A convolution followed by batch norm (and ReLU) runs as one fused step
 *     with folded weights; the group's members share one buffer, live from
 *     the convolution to the last consumer of the group.  A convolution
 *     that takes Winograd at this batch keeps its transformed weights (16 x
 *     K x C) beside the folded ones, made again whenever those are.
 *   NDX_PLAN_TRAIN: every output kept (backward reads them), plus the
 *     max-pool argmax, batch-norm statistics and dropout masks, plus gradient
 *     buffers of the activations reused the same way in reverse order.
 * Both add the convolution workspace and a scratch buffer.  Nothing is
 * allocated by forward or backward.
 */
#include <math.h>
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

/* ---- parameters -------------------------------------------------------------------- */

static float *tensor_data(const ndx_net *net, const ndx__tensor *t)
{
    return (t->is_buffer ? net->buffers : net->params) + t->off;
}

static void init_default(ndx_net *net, uint64_t seed)
{
    ndx_rng r;
    ndx_rng_seed(&r, seed);
    for (int i = 0; i < net->ntensors; i++) {
        const ndx__tensor *t = &net->tensors[i];
        float *p = tensor_data(net, t);
        double bound = t->fan_in > 0 ? 1.0 / sqrt((double)t->fan_in) : 0;
        double sd = t->fan_out > 0 ? sqrt(2.0 / t->fan_out) : 0;
        for (size_t j = 0; j < t->numel; j++) switch (t->kind) {
            case T_CONV_W: p[j] = (float)(sd * ndx_rng_normal(&r)); break;
            case T_CONV_B: p[j] = 0; break;
            case T_LIN_W:
            case T_LIN_B: p[j] = (float)(bound * (2 * ndx_rng_uniform(&r) - 1)); break;
            case T_BN_W: case T_BN_RV: p[j] = 1; break;
            default: p[j] = 0;
            }
    }
}

ndx_status ndx_net_finish(ndx_net *net, uint64_t seed)
{
    if (!net) return ndx__fail(NDX_ERR_INVALID, "net: NULL");
    if (net->err) return ndx__fail(net->err, "%s", net->errmsg);
    if (net->finished) return NDX_OK;
    if (net->nnodes < 2) return ndx__fail(NDX_ERR_INVALID, "net %s has no layers", net->arch);
    size_t np = 0, nb = 0;
    for (int i = 0; i < net->ntensors; i++) {
        ndx__tensor *t = &net->tensors[i];
        size_t *n = t->is_buffer ? &nb : &np;
        t->off = *n;
        *n += (t->numel + 15) / 16 * 16;  /* 64-byte aligned tensors */
    }
    net->nparam = np, net->nbuffer = nb;
    net->params = ndx_alloc((np ? np : 1) * sizeof(float));
    net->buffers = ndx_alloc((nb ? nb : 1) * sizeof(float));
    if (!net->params || !net->buffers)
        return ndx__fail(NDX_ERR_NOMEM, "net %s: cannot allocate %zu parameters", net->arch, np);
    memset(net->params, 0, (np ? np : 1) * sizeof(float));
    memset(net->buffers, 0, (nb ? nb : 1) * sizeof(float));
    init_default(net, seed);
    net->finished = 1;
    net->fold_dirty = 1;
    return NDX_OK;
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
    free(net);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* u_i in [-1, 1) of the stream (seed ^ fnv1a(name)): splitmix64 outputs. */
static double hash_uniform(uint64_t state, size_t i)
{
    uint64_t z = state + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 40) / 8388608.0 - 1.0;
}

void ndx__net_weights_changed(ndx_net *net);

void ndx_net_init_hash(ndx_net *net, uint64_t seed)
{
    for (int i = 0; i < net->ntensors; i++) {
        const ndx__tensor *t = &net->tensors[i];
        float *p = tensor_data(net, t);
        const uint64_t st = seed ^ fnv1a(t->name);
        const double sc = t->fan_in > 0 ? sqrt(6.0 / t->fan_in) : 0;
        for (size_t j = 0; j < t->numel; j++) {
            const double u = hash_uniform(st, j);
            switch (t->kind) {
            case T_CONV_W: case T_LIN_W: p[j] = (float)(sc * u); break;
            case T_BN_W: p[j] = (float)(1.0 + 0.2 * u); break;
            case T_BN_RV: p[j] = (float)(1.0 + 0.5 * u); break;
            default: p[j] = (float)(0.1 * u);
            }
        }
    }
    ndx__net_weights_changed(net);
}

static int head_node(const ndx_net *net)
{
    for (int i = net->nnodes - 1; i > 0; i--)
        if (net->nodes[i].op == NDX_OP_LINEAR) return i;
    return -1;
}

void ndx_net_reset_head(ndx_net *net, uint64_t seed)
{
    int h = head_node(net);
    if (h < 0 || !net->finished) return;
    ndx_rng r;
    ndx_rng_seed(&r, seed);
    const ndx__node *n = &net->nodes[h];
    const int ts[2] = {n->wt, n->bt};
    for (int k = 0; k < 2; k++) {
        if (ts[k] < 0) continue;
        const ndx__tensor *t = &net->tensors[ts[k]];
        float *p = tensor_data(net, t);
        const double bound = 1.0 / sqrt((double)t->fan_in);
        for (size_t j = 0; j < t->numel; j++)
            p[j] = (float)(bound * (2 * ndx_rng_uniform(&r) - 1));
    }
    net->fold_dirty = 1;
}

/* The tensors of the head (for NDX_LOAD_EXCEPT_HEAD). */
int ndx__net_is_head_tensor(const ndx_net *net, int tensor)
{
    int h = head_node(net);
    return h >= 0 && (net->nodes[h].wt == tensor || net->nodes[h].bt == tensor);
}

void ndx_net_set_dropout(ndx_net *net, int on) { net->dropout_on = on; }
void ndx_net_seed_dropout(ndx_net *net, uint64_t seed) { ndx_rng_seed(&net->drop_rng, seed); }
void ndx_net_touch(ndx_net *net) { net->fold_dirty = 1; }

/* All weights were replaced (loaded, re-initialised): an in-place fold and
 * packing are gone. */
void ndx__net_weights_changed(ndx_net *net)
{
    net->fold_dirty = 1;
    if (net->folded) net->folded = 0, net->planned = 0;
    for (int i = 0; i < net->nnodes; i++) net->nodes[i].wpacked = 0;
    net->pack_mr = net->pack_kc = 0;
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

void ndx_net_node_shape(const ndx_net *net, int node, int *c, int *h, int *w)
{
    const ndx__node *n = &net->nodes[node];
    *c = n->c, *h = n->h, *w = n->w;
}

int ndx_net_num_classes(const ndx_net *net) { return net->nodes[net->nnodes - 1].c; }
int ndx_net_input_size(const ndx_net *net) { return net->nodes[0].h; }
int ndx_net_num_tensors(const ndx_net *net) { return net->ntensors; }

ndx_status ndx_net_tensor(const ndx_net *net, int i, ndx_param_info *info)
{
    if (i < 0 || i >= net->ntensors)
        return ndx__fail(NDX_ERR_INVALID, "net: tensor %d of %d", i, net->ntensors);
    if (!net->finished) return ndx__fail(NDX_ERR_INVALID, "net: not finished");
    const ndx__tensor *t = &net->tensors[i];
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) info->shape[d] = t->shape[d];
    info->numel = t->numel;
    info->data = tensor_data(net, t);
    info->is_buffer = t->is_buffer;
    if (!t->is_buffer) {
        info->grad = net->grads ? net->grads + t->off : NULL;
        info->momentum = net->momentum ? net->momentum + t->off : NULL;
    }
    return NDX_OK;
}

float *ndx_net_params(ndx_net *net, size_t *count)
{
    if (count) *count = net->nparam;
    return net->params;
}

/* Gradient and momentum blocks exist only for training: allocated (zeroed)
 * by a training plan or the first call asking for them. */
static ndx_status train_blocks(ndx_net *net)
{
    const size_t n = (net->nparam ? net->nparam : 1) * sizeof(float);
    if (!net->grads && (net->grads = ndx_alloc(n))) memset(net->grads, 0, n);
    if (!net->momentum && (net->momentum = ndx_alloc(n))) memset(net->momentum, 0, n);
    return net->grads && net->momentum ? NDX_OK : NDX_ERR_NOMEM;
}

float *ndx_net_grads(ndx_net *net, size_t *count)
{
    if (count) *count = net->nparam;
    return train_blocks(net) ? NULL : net->grads;
}

float *ndx_net_momentum(ndx_net *net, size_t *count)
{
    if (count) *count = net->nparam;
    return train_blocks(net) ? NULL : net->momentum;
}

int ndx_net_batch(const ndx_net *net) { return net->planned ? net->batch : 0; }

size_t ndx_net_activation_bytes(const ndx_net *net)
{
    return net->planned ? net->act_floats * sizeof(float) : 0;
}

size_t ndx_net_param_bytes(const ndx_net *net)
{
    return ((net->grads ? 3 : 1) * net->nparam + net->nbuffer + net->fold_floats +
            net->wino_floats) * sizeof(float);
}

/* ---- planning ---------------------------------------------------------------------- */

static size_t node_numel(const ndx_net *net, const ndx__node *n)
{
    return (size_t)net->batch * n->c * n->h * n->w;
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

static const float *param(const ndx_net *net, int t);

/* First-fit interval allocator over live blocks. */
typedef struct { size_t off, size; int until; } live_block;
typedef struct { live_block *b; int n; size_t peak; } allocator;

static size_t alloc_block(allocator *a, size_t size, int now, int until)
{
    int k = 0;
    for (int i = 0; i < a->n; i++)
        if (a->b[i].until >= now) a->b[k++] = a->b[i];
    a->n = k;
    size = round16(size);
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

static ndx_conv2d_desc conv_desc(const ndx_net *net, const ndx__node *n, int relu)
{
    const ndx__node *x = &net->nodes[n->in[0]];
    return (ndx_conv2d_desc){net->batch, x->c, x->h, x->w, n->k, n->kh, n->kw, n->sh, n->sw,
                             n->ph, n->pw, 1, 1, n->groups, relu};
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
        const ndx_conv2d_desc d = conv_desc(net, n, 0);
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
    }
}

ndx_status ndx_net_plan(ndx_net *net, int batch, int mode)
{
    if (!net || !net->finished) return ndx__fail(NDX_ERR_INVALID, "net: plan before finish");
    if (batch < 1 || batch > 65536) return ndx__fail(NDX_ERR_INVALID, "net: batch %d", batch);
    if (mode != NDX_PLAN_INFER && mode != NDX_PLAN_TRAIN && mode != NDX_PLAN_INFER_FOLDED)
        return ndx__fail(NDX_ERR_INVALID, "net: plan mode %d", mode);
    if (net->folded && mode != NDX_PLAN_INFER_FOLDED)
        return ndx__fail(NDX_ERR_INVALID, "net %s: batch norm was folded into the convolutions "
                         "in place (NDX_PLAN_INFER_FOLDED); load the weights again to plan "
                         "otherwise", net->arch);
    const int inplace = mode == NDX_PLAN_INFER_FOLDED;
    if (inplace) mode = NDX_PLAN_INFER;
    ndx_free(net->act);
    net->act = NULL;
    net->planned = 0;
    if (mode == NDX_PLAN_TRAIN && train_blocks(net)) return NDX_ERR_NOMEM;
    net->batch = batch, net->mode = mode;
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
    /* fusion groups: conv [-> bn] [-> relu] */
    size_t fold = 0, wino = 0;
    for (int i = 0; i < N; i++) {
        ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV) continue;
        int end = i, j = single_consumer(net, i);
        if (j > 0 && net->nodes[j].op == NDX_OP_BN) {
            n->fold_bn = j;
            net->nodes[j].fused_into = i;
            end = j;
            n->fold_off = fold;
            fold += (inplace ? 0 : round16(net->tensors[n->wt].numel)) + round16((size_t)n->k);
        }
        j = single_consumer(net, end);
        if (j > 0 && net->nodes[j].op == NDX_OP_RELU) {
            n->fuse_relu = j;
            net->nodes[j].fused_into = i;
            end = j;
        }
        n->group_end = end;
        for (int m = i + 1; m <= end; m++) net->nodes[m].def_time = i;
        ndx_conv2d_desc d = conv_desc(net, n, 0);
        if (mode == NDX_PLAN_INFER && ndx__conv_uses_winograd(&d)) {
            n->wino = 1;
            n->wino_off = wino;
            wino += round16(16 * (size_t)n->k * (size_t)d.c);
        }
    }
    if (net->fold && (net->fold_floats != fold || mode != NDX_PLAN_INFER)) {
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
    if (fold && !net->fold && mode == NDX_PLAN_INFER) {
        net->fold = ndx_alloc(fold * sizeof(float));
        if (!net->fold) return NDX_ERR_NOMEM;
        net->fold_floats = fold;
        net->fold_dirty = 1;
    }
    if (inplace && !net->folded) {
        /* w <- w * s in the parameter block; the biases into the fold block */
        for (int i = 0; i < N; i++) {
            const ndx__node *n = &net->nodes[i];
            if (n->op != NDX_OP_CONV || n->fold_bn < 0) continue;
            const ndx__node *b = &net->nodes[n->fold_bn];
            float *w = net->params + net->tensors[n->wt].off;
            const size_t wn = net->tensors[n->wt].numel;
            ndx_batchnorm_fold(n->k, wn / (size_t)n->k, w, param(net, n->bt), param(net, b->wt),
                               param(net, b->bt), param(net, b->rm), param(net, b->rv), b->eps,
                               w, net->fold + n->fold_off);
        }
        net->folded = 1;
        net->fold_dirty = wino != 0;   /* the Winograd weights, at the first forward */
        pack_weights(net);
    }
    size_t ws = 0, scratch = 0;
    for (int i = 0; i < N; i++) {
        const ndx__node *n = &net->nodes[i];
        if (n->op == NDX_OP_CONV) {
            ndx_conv2d_desc d = conv_desc(net, n, 0);
            size_t w = ndx_conv2d_workspace(&d);
            if (w > ws) ws = w;
            size_t in = node_numel(net, &net->nodes[n->in[0]]);
            if (in > scratch) scratch = in;
        }
    }
    allocator al = {calloc((size_t)N + 1, sizeof(live_block)), 0, 0};
    if (!al.b) return ndx__fail(NDX_ERR_NOMEM, "net: out of memory");
    size_t total;
    if (mode == NDX_PLAN_INFER) {
        /* the members of a fused group share one buffer (a run writes only the
         * last; a tap inside the group stops there) */
        for (int i = 1; i < N; i++) {
            ndx__node *n = &net->nodes[i];
            if (n->fused_into >= 0) {
                n->out_off = net->nodes[n->fused_into].out_off;
                continue;
            }
            const int until = net->nodes[n->group_end].last_use;
            n->out_off = alloc_block(&al, node_numel(net, n), n->def_time, until);
        }
        total = al.peak;
    } else {
        size_t off = 0;
        for (int i = 1; i < N; i++) {
            ndx__node *n = &net->nodes[i];
            n->out_off = off;
            off += round16(node_numel(net, n));
            n->aux_off = off;
            size_t aux = 0;
            if (n->op == NDX_OP_MAXPOOL || n->op == NDX_OP_DROPOUT) aux = node_numel(net, n);
            if (n->op == NDX_OP_BN) aux = 2 * (size_t)n->c;
            off += round16(aux);
        }
        /* gradients: node j's backward (reverse time N-1-j) defines its inputs'
         * gradients; a gradient lives until its own node's backward. */
        for (int i = 0; i < N; i++) net->nodes[i].has_grad = 0;
        ndx__node *last = &net->nodes[N - 1];
        last->grad_off = alloc_block(&al, node_numel(net, last), 0, 0);
        last->has_grad = 1;
        /* a node that does not reach the output gets no gradient; the first
         * consumer to run backward (grad_writer) overwrites, the rest add */
        for (int j = N - 1; j > 0; j--) {
            const ndx__node *n = &net->nodes[j];
            if (!n->has_grad) continue;
            for (int k = 0; k < n->nin; k++) {
                ndx__node *a = &net->nodes[n->in[k]];
                if (n->in[k] == 0 || a->has_grad) continue;
                a->grad_off = alloc_block(&al, node_numel(net, a), N - 1 - j, N - 1 - n->in[k]);
                a->has_grad = 1;
                a->grad_writer = j;
            }
        }
        for (int i = 1; i < N; i++) net->nodes[i].grad_off += off;
        total = off + al.peak;
    }
    free(al.b);
    net->ws_off = total;
    total += round16(ws);
    net->scratch_off = total;
    total += round16(scratch);
    net->act_floats = total;
    net->act = ndx_alloc((total ? total : 1) * sizeof(float));
    if (!net->act) return NDX_ERR_NOMEM;
    net->planned = 1;
    net->last_until = -2;
    return NDX_OK;
}

/* ---- running ----------------------------------------------------------------------- */

static float *out_of(const ndx_net *net, int i, const float *x)
{
    return i == 0 ? (float *)x : net->act + net->nodes[i].out_off;
}

static float *grad_of(const ndx_net *net, int i)
{
    return net->act + net->nodes[i].grad_off;
}

static const float *param(const ndx_net *net, int t)
{
    return t < 0 ? NULL : tensor_data(net, &net->tensors[t]);
}

/* The convolution weights node n runs with in a fused eval step. */
static const float *eval_weights(const ndx_net *net, const ndx__node *n)
{
    return n->fold_bn >= 0 && !net->folded ? net->fold + n->fold_off : param(net, n->wt);
}

/* The folded weights (unless folded in place once, at planning) and the
 * Winograd transforms of the weights. */
static void refold(ndx_net *net)
{
    for (int i = 0; i < net->nnodes && !net->folded; i++) {
        const ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV || n->fold_bn < 0) continue;
        const ndx__node *b = &net->nodes[n->fold_bn];
        const size_t wn = net->tensors[n->wt].numel;
        float *w2 = net->fold + n->fold_off, *b2 = w2 + round16(wn);
        ndx_batchnorm_fold(n->k, wn / (size_t)n->k, param(net, n->wt), param(net, n->bt),
                           param(net, b->wt), param(net, b->bt), param(net, b->rm),
                           param(net, b->rv), b->eps, w2, b2);
    }
    for (int i = 0; i < net->nnodes; i++) {
        const ndx__node *n = &net->nodes[i];
        if (n->op != NDX_OP_CONV || !n->wino) continue;
        ndx_conv2d_desc d = conv_desc(net, n, 0);
        ndx__winograd_weights(&d, eval_weights(net, n), net->wino + n->wino_off);
    }
    net->fold_dirty = 0;
}

static ndx_pool2d pool_of(const ndx_net *net, const ndx__node *n)
{
    const ndx__node *x = &net->nodes[n->in[0]];
    return (ndx_pool2d){x->h, x->w, n->kh, n->kw, n->sh, n->sw, n->ph, n->pw, n->ceil_mode,
                        n->cip};
}

static ndx_status run_node(ndx_net *net, int i, const float *x0, int train)
{
    ndx__node *n = &net->nodes[i];
    const int B = net->batch;
    const ndx__node *a = &net->nodes[n->in[0]];
    const float *x = out_of(net, n->in[0], x0);
    float *y = out_of(net, i, x0);
    const size_t cnt = node_numel(net, n), hw = (size_t)n->h * n->w;
    switch (n->op) {
    case NDX_OP_CONV: {   /* alone: the cached transform holds its own weights */
        ndx_conv2d_desc d = conv_desc(net, n, 0);
        const int cached = n->wino && n->fold_bn < 0 && net->mode == NDX_PLAN_INFER;
        return ndx__conv2d_forward_u(&d, x, param(net, n->wt), n->wpacked,
                                     cached ? net->wino + n->wino_off : NULL, param(net, n->bt),
                                     y, net->act + net->ws_off);
    }
    case NDX_OP_BN:
        if (train)
            ndx_batchnorm_forward_train(B, n->c, hw, x, param(net, n->wt), param(net, n->bt),
                                        (float *)param(net, n->rm), (float *)param(net, n->rv),
                                        0.1f, n->eps, y, net->act + n->aux_off,
                                        net->act + n->aux_off + n->c);
        else
            ndx_batchnorm_forward_eval(B, n->c, hw, x, param(net, n->wt), param(net, n->bt),
                                       param(net, n->rm), param(net, n->rv), n->eps, y);
        return NDX_OK;
    case NDX_OP_RELU: ndx_relu_forward(cnt, x, y); return NDX_OK;
    case NDX_OP_MAXPOOL: {
        ndx_pool2d p = pool_of(net, n);
        ndx_maxpool2d_forward(B * n->c, &p, x, y,
                              net->mode == NDX_PLAN_TRAIN ? (int32_t *)(net->act + n->aux_off)
                                                          : NULL);
        return NDX_OK;
    }
    case NDX_OP_AVGPOOL: {
        ndx_pool2d p = pool_of(net, n);
        ndx_avgpool2d_forward(B * n->c, &p, x, y);
        return NDX_OK;
    }
    case NDX_OP_ADAPTIVE_AVGPOOL:
        ndx_adaptive_avgpool2d_forward(B * n->c, a->h, a->w, n->oh, n->ow, x, y);
        return NDX_OK;
    case NDX_OP_LINEAR:
        ndx_linear_forward(B, a->c * a->h * a->w, n->k, x, param(net, n->wt), param(net, n->bt),
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
            xs[k] = out_of(net, n->in[k], x0);
            cs[k] = net->nodes[n->in[k]].c;
        }
        ndx_concat_forward(B, n->nin, cs, hw, xs, y);
        return NDX_OK;
    }
    case NDX_OP_ADD:
        ndx_add_forward(cnt, x, out_of(net, n->in[1], x0), y);
        return NDX_OK;
    case NDX_OP_FLATTEN: memcpy(y, x, cnt * sizeof *y); return NDX_OK;
    case NDX_OP_INPUT: return NDX_OK;
    }
    return ndx__fail(NDX_ERR_INVALID, "net: node %s has an unknown op", n->name);
}

/* A conv group in one step up to member `end` (its batch norm or its ReLU):
 * folded weights, bias, ReLU if end is the ReLU, into end's buffer. */
static ndx_status run_group(ndx_net *net, int i, const float *x0, int end)
{
    const ndx__node *n = &net->nodes[i];
    ndx_conv2d_desc d = conv_desc(net, n, n->fuse_relu >= 0 && end == n->fuse_relu);
    const float *w = eval_weights(net, n), *b = param(net, n->bt);
    if (n->fold_bn >= 0 && net->folded) b = net->fold + n->fold_off;
    else if (n->fold_bn >= 0) b = w + round16(net->tensors[n->wt].numel);
    return ndx__conv2d_forward_u(&d, out_of(net, n->in[0], x0), w, n->wpacked,
                                 n->wino ? net->wino + n->wino_off : NULL, b,
                                 out_of(net, end, x0), net->act + net->ws_off);
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
    if (net->pack_mr) {   /* some weights are packed: for this kernel set only */
        int mr, kc;
        ndx__sgemm_prepack_params(&mr, &kc);
        if (mr != net->pack_mr || kc != net->pack_kc)
            return ndx__fail(NDX_ERR_INVALID, "net %s: convolution weights were packed for "
                             "another kernel set (tile rows %d, KC %d; now %d, %d): load the "
                             "weights again", net->arch, net->pack_mr, net->pack_kc, mr, kc);
    }
    const int fuse = mode == NDX_EVAL && net->mode == NDX_PLAN_INFER;
    if (fuse && net->fold_dirty) refold(net);
    if (mode == NDX_TRAIN) net->fold_dirty = 1;   /* running stats change */
    for (int i = 1; i <= until; i++) {
        const ndx__node *n = &net->nodes[i];
        ndx_status st;
        if (fuse && n->op == NDX_OP_CONV && n->group_end > i) {
            /* the whole group, or up to a tapped batch norm inside it */
            int end = n->group_end <= until ? n->group_end
                      : n->fold_bn >= 0 && n->fold_bn <= until ? n->fold_bn : i;
            if (end == i && n->fold_bn >= 0 && net->folded)
                return ndx__fail(NDX_ERR_INVALID, "net %s: %s was folded with its batch norm "
                                 "(NDX_PLAN_INFER_FOLDED): its own output cannot be tapped",
                                 net->arch, n->name);
            if (end == i) {
                st = run_node(net, i, x, 0);
            } else {
                st = run_group(net, i, x, end);
                i = end;
            }
        } else {
            st = run_node(net, i, x, mode == NDX_TRAIN);
        }
        if (st) return st;
    }
    net->last_mode = mode;
    net->last_until = until;
    net->x_last = x;
    return NDX_OK;
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
    if (net->mode == NDX_PLAN_INFER && n->fused_into >= 0 &&
        net->nodes[n->fused_into].group_end != node && net->last_until > node)
        return ndx__fail(NDX_ERR_INVALID, "net: %s is fused away in inference; run the "
                         "forward with until = its index", n->name);
    int64_t shape[4] = {net->batch, n->c, n->h, n->w};
    int feat = n->h == 1 && n->w == 1 && (n->op == NDX_OP_LINEAR || n->op == NDX_OP_FLATTEN);
    return ndx_tensor_view(out, net->act + n->out_off, feat ? 2 : 4, shape);
}

static ndx_status backward_ready(const ndx_net *net)
{
    if (!net->planned || net->mode != NDX_PLAN_TRAIN || net->last_until != net->nnodes - 1)
        return ndx__fail(NDX_ERR_INVALID, "net: backward needs a full forward on a training plan");
    return NDX_OK;
}

static ndx_status backward(ndx_net *net);

ndx_status ndx_net_backward(ndx_net *net, const float *dlogits)
{
    ndx_status st = backward_ready(net);
    if (st) return st;
    const int N = net->nnodes;
    memcpy(grad_of(net, N - 1), dlogits, node_numel(net, &net->nodes[N - 1]) * sizeof(float));
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
                          class_weight, grad_of(net, N - 1), loss);
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
            memset(net->grads + t->off + from, 0, (round16(t->numel) - from) * sizeof(float));
        }
    }
}

static ndx_status backward(ndx_net *net)
{
    const int N = net->nnodes, B = net->batch;
    const int train = net->last_mode == NDX_TRAIN;
    float *scratch = net->act + net->scratch_off, *ws = net->act + net->ws_off;
    const int fresh = net->grads_zeroed;   /* the first write of a gradient is a store */
    net->grads_zeroed = 0;
    if (fresh) zero_other_grads(net);
    for (int j = N - 1; j > 0; j--) {
        const ndx__node *n = &net->nodes[j];
        if (!n->has_grad) continue;
        const float *dy = grad_of(net, j), *y = net->act + n->out_off;
        const int i0 = n->in[0];
        const ndx__node *a = &net->nodes[i0];
        const float *x = i0 ? net->act + a->out_off : net->x_last;
        float *dx = i0 ? grad_of(net, i0) : NULL;
        const int acc = i0 && a->grad_writer != j;
        const size_t cnt = node_numel(net, n), hw = (size_t)n->h * n->w;
        const size_t ahw = (size_t)a->h * a->w;
        float *dw = n->wt >= 0 ? net->grads + net->tensors[n->wt].off : NULL;
        float *db = n->bt >= 0 ? net->grads + net->tensors[n->bt].off : NULL;
        ndx_status st = NDX_OK;
        switch (n->op) {
        case NDX_OP_CONV: break;
        case NDX_OP_BN:
            if (train)
                ndx_batchnorm_backward_train(B, n->c, hw, x, param(net, n->wt), net->act + n->aux_off,
                                             net->act + n->aux_off + n->c, dy, dx, dw, db, acc);
            else
                ndx_batchnorm_backward_eval(B, n->c, hw, x, param(net, n->wt), param(net, n->rm),
                                            param(net, n->rv), n->eps, dy, dx, dw, db, acc);
            break;
        case NDX_OP_RELU: if (dx) ndx_relu_backward(cnt, y, dy, dx, acc); break;
        case NDX_OP_MAXPOOL: {
            ndx_pool2d p = pool_of(net, n);
            if (dx) ndx_maxpool2d_backward(B * n->c, &p, (const int32_t *)(net->act + n->aux_off),
                                           dy, dx, acc);
            break;
        }
        case NDX_OP_AVGPOOL: {
            ndx_pool2d p = pool_of(net, n);
            if (dx) ndx_avgpool2d_backward(B * n->c, &p, dy, dx, acc);
            break;
        }
        case NDX_OP_ADAPTIVE_AVGPOOL:
            if (dx) ndx_adaptive_avgpool2d_backward(B * n->c, a->h, a->w, n->oh, n->ow, dy, dx, acc);
            break;
        case NDX_OP_LINEAR:
            ndx__linear_backward(B, a->c * (int)ahw, n->k, x, param(net, n->wt), dy, dx, dw, db,
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
                dxs[k] = ik ? grad_of(net, ik) : NULL;
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
                ndx_copy_grad(cnt, dy, grad_of(net, ik), ak);
            }
            break;
        case NDX_OP_FLATTEN: if (dx) ndx_copy_grad(cnt, dy, dx, acc); break;
        case NDX_OP_INPUT: break;
        }
        if (n->op == NDX_OP_CONV) {
            ndx_conv2d_desc d = conv_desc(net, n, 0);
            st = ndx_conv2d_backward_weight(&d, x, dy, dw, db, ws, !fresh);
            if (!st && dx) {
                st = ndx_conv2d_backward_data(&d, dy, param(net, n->wt), acc ? scratch : dx, ws);
                if (!st && acc) ndx_copy_grad(node_numel(net, a), scratch, dx, 1);
            }
        }
        if (st) return st;
    }
    return NDX_OK;
}
