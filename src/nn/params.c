/* The parameter blocks of a net: laying them out at ndx_net_finish,
 * initialising them (PyTorch's defaults, the hash initialisation the export
 * script shares, a fresh head), the state_dict view of each tensor, and the
 * gradient and momentum blocks of training.
 *
 * Parameters, gradients and momentum are one block each (nparam floats), so
 * zeroing the gradients is one memset and an SGD step one loop; running
 * statistics live in a fourth block.  Tensors are listed in state_dict order
 * with torchvision's names; each starts 64-byte aligned. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

static void init_default(ndx_net *net, uint64_t seed)
{
    ndx_rng r;
    ndx_rng_seed(&r, seed);
    for (int i = 0; i < net->ntensors; i++) {
        const ndx__tensor *t = &net->tensors[i];
        float *p = ndx__tensor_data(net, t);
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
    if (seed != NDX_SEED_NONE) init_default(net, seed);
    net->finished = 1;
    net->fold_dirty = 1;
    return NDX_OK;
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

void ndx_net_init_hash(ndx_net *net, uint64_t seed)
{
    for (int i = 0; i < net->ntensors; i++) {
        const ndx__tensor *t = &net->tensors[i];
        float *p = ndx__tensor_data(net, t);
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
        float *p = ndx__tensor_data(net, t);
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
    net->pack_isa = NULL;
}

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
    info->data = ndx__tensor_data(net, t);
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
ndx_status ndx__net_train_blocks(ndx_net *net)
{
    const size_t n = (net->nparam ? net->nparam : 1) * sizeof(float);
    if (!net->grads && (net->grads = ndx_alloc(n))) memset(net->grads, 0, n);
    if (!net->momentum && (net->momentum = ndx_alloc(n))) memset(net->momentum, 0, n);
    return net->grads && net->momentum ? NDX_OK : NDX_ERR_NOMEM;
}

float *ndx_net_grads(ndx_net *net, size_t *count)
{
    if (count) *count = net->nparam;
    return ndx__net_train_blocks(net) ? NULL : net->grads;
}

float *ndx_net_momentum(ndx_net *net, size_t *count)
{
    if (count) *count = net->nparam;
    return ndx__net_train_blocks(net) ? NULL : net->momentum;
}


size_t ndx_net_param_bytes(const ndx_net *net)
{
    return ((net->grads ? 3 : 1) * net->nparam + net->nbuffer + net->fold_floats +
            net->wino_floats) * sizeof(float);
}

