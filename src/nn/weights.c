/* Models to and from safetensors files: torchvision's state_dict names and
 * shapes, the architecture in __metadata__ (arch, num_classes, input_size,
 * format "pt").  The format itself (header, dtypes, offsets, validation)
 * is src/io/safetensors.c's.
 *
 * Writing: every parameter and buffer as F32 in state_dict order, plus
 * num_batches_tracked (I64 0) after each running_var, so PyTorch's strict
 * load_state_dict accepts the file.  Reading: F32, F16 and BF16 converted
 * to float32; num_batches_tracked and AuxLogits.* ignored; every entry is
 * matched and every value checked finite before the first is copied, so a
 * bad file leaves the net's weights as they were. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/safetensors.h"
#include "nn_internal.h"

static const char *meta_error(const char *v, const char *key, int *out)
{
    *out = 0;
    if (!v) return NULL;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < 1 || x > 1000000) return key;
    *out = (int)x;
    return NULL;
}

/* num_classes and input_size of an open file (0 where absent). */
static ndx_status read_meta(const ndx__st *s, int *num_classes, int *input_size)
{
    const char *bad = meta_error(ndx__st_meta(s, "num_classes"), "num_classes", num_classes);
    if (!bad) bad = meta_error(ndx__st_meta(s, "input_size"), "input_size", input_size);
    if (bad)
        return ndx__fail(NDX_ERR_FORMAT, "%s: __metadata__ %s is not a positive integer", s->path,
                         bad);
    if (*input_size > 8192)
        return ndx__fail(NDX_ERR_FORMAT, "%s: __metadata__ input_size %d is out of 1..8192",
                         s->path, *input_size);
    return NDX_OK;
}

ndx_status ndx_safetensors_meta(const char *path, char *arch, size_t archsz, int *num_classes,
                                int *input_size)
{
    ndx__st s;
    ndx_status st = ndx__st_open(&s, path);
    if (st) return st;
    const char *a = ndx__st_meta(&s, "arch");
    if (arch && archsz) snprintf(arch, archsz, "%s", a ? a : "");
    int nc, is;
    st = read_meta(&s, &nc, &is);
    ndx__st_close(&s);
    if (st) return st;
    if (num_classes) *num_classes = nc;
    if (input_size) *input_size = is;
    return NDX_OK;
}

static int ignored(const char *name)
{
    size_t n = strlen(name);
    return (n >= 19 && !strcmp(name + n - 19, "num_batches_tracked")) ||
           !strncmp(name, "AuxLogits.", 10);
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    int k = snprintf(buf, n, "(");
    for (int d = 0; d < ndim && k > 0 && (size_t)k < n; d++)
        k += snprintf(buf + k, n - (size_t)k, "%s%" PRId64, d ? "," : "", shape[d]);
    if (k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ")");
}

/* The file's entry for each of the net's tensors: at[t] (NULL: the head,
 * skipped), every entry matched to a tensor of the same shape. */
static ndx_status match(const ndx_net *net, const ndx__st *s, int flags,
                        const ndx__st_entry **at, char *skip)
{
    for (int i = 0; i < s->n; i++) {
        const ndx__st_entry *e = &s->e[i];
        if (ignored(e->name)) continue;
        int t = -1;
        for (int k = 0; k < net->ntensors && t < 0; k++)
            if (!strcmp(net->tensors[k].name, e->name)) t = k;
        if (t < 0)
            return ndx__fail(NDX_ERR_FORMAT, "%s: extra tensor %s: %s has no such parameter",
                             s->path, e->name, net->arch);
        if ((flags & NDX_LOAD_EXCEPT_HEAD) && ndx__net_is_head_tensor(net, t)) {
            skip[t] = 1;
            continue;
        }
        if (!ndx__st_is_float(e))
            return ndx__fail(NDX_ERR_FORMAT, "%s: tensor %s has dtype %s (F32, F16, BF16 read)",
                             s->path, e->name, e->dtype);
        const ndx__tensor *tt = &net->tensors[t];
        int ok = e->ndim == tt->ndim;
        for (int d = 0; ok && d < e->ndim; d++) ok = e->shape[d] == tt->shape[d];
        if (!ok) {
            char got[128], want[128];
            shape_str(got, sizeof got, e->ndim, e->shape);
            shape_str(want, sizeof want, tt->ndim, tt->shape);
            return ndx__fail(NDX_ERR_SHAPE, "%s: tensor %s has shape %s, %s needs %s", s->path,
                             e->name, got, net->arch, want);
        }
        at[t] = e;
    }
    for (int t = 0; t < net->ntensors; t++)
        if (!at[t] && !skip[t])
            return ndx__fail(NDX_ERR_FORMAT, "%s: missing tensor %s (%s needs it)", s->path,
                             net->tensors[t].name, net->arch);
    return NDX_OK;
}

/* The file's __metadata__ "transform_input" ("1": the weights expect
 * torchvision's transform_input, "0" or absent: not) into *on. */
static ndx_status transform_meta(const ndx_net *net, const ndx__st *s, int *on)
{
    const char *v = ndx__st_meta(s, "transform_input");
    *on = v && !strcmp(v, "1");
    if (v && !*on && strcmp(v, "0"))
        return ndx__fail(NDX_ERR_FORMAT, "%s: __metadata__ transform_input is '%s', not 0 or 1",
                         s->path, v);
    if (*on && !net->ti_ok)
        return ndx__fail(NDX_ERR_FORMAT, "%s: __metadata__ transform_input is 1 but %s has no "
                         "such option (only inception_v3)", s->path, net->arch);
    return NDX_OK;
}

ndx_status ndx_safetensors_load_into(ndx_net *net, const char *path, int flags)
{
    if (!net || !net->finished) return ndx__fail(NDX_ERR_INVALID, "%s: net not finished", path);
    ndx__st s;
    ndx_status st = ndx__st_open(&s, path);
    if (st) return st;
    const ndx__st_entry **at = calloc((size_t)net->ntensors + 1, sizeof *at);
    char *skip = calloc((size_t)net->ntensors + 1, 1);
    if (!at || !skip) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    if (!st) st = match(net, &s, flags, at, skip);
    int ti = 0;
    if (!st) st = transform_meta(net, &s, &ti);
    for (int t = 0; !st && t < net->ntensors; t++)   /* every value finite, before copying */
        if (at[t]) st = ndx__st_read(&s, at[t], NULL);
    const int copy = !st;
    for (int t = 0; !st && t < net->ntensors; t++) {
        const ndx__tensor *tt = &net->tensors[t];
        float *dst = (tt->is_buffer ? net->buffers : net->params) + tt->off;
        if (at[t]) st = ndx__st_read(&s, at[t], dst);
    }
    if (copy) ndx__net_weights_changed(net), net->ti_on = ti;
    free(at);
    free(skip);
    ndx__st_close(&s);
    return st;
}

ndx_status ndx_safetensors_save(const ndx_net *net, const char *path)
{
    if (!net || !net->finished) return ndx__fail(NDX_ERR_INVALID, "%s: net not finished", path);
    if (net->folded)
        return ndx__fail(NDX_ERR_INVALID, "%s: net %s was folded for inference in place "
                         "(NDX_PLAN_INFER_FOLDED); its weights are not torchvision's", path,
                         net->arch);
    /* at most two entries per tensor (running_var: its num_batches_tracked) */
    ndx__st_put *p = calloc(2 * (size_t)net->ntensors + 1, sizeof *p);
    char (*nb)[NDX_NAME_MAX + 32] = calloc((size_t)net->ntensors + 1, sizeof *nb);
    if (!p || !nb) {
        free(p);
        free(nb);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    int n = 0;
    for (int i = 0; i < net->ntensors; i++) {
        const ndx__tensor *t = &net->tensors[i];
        p[n++] = (ndx__st_put){t->name, "F32", t->ndim, t->shape,
                               (t->is_buffer ? net->buffers : net->params) + t->off,
                               4 * (uint64_t)t->numel};
        if (t->kind == T_BN_RV) {   /* after running_var, as in PyTorch */
            snprintf(nb[i], sizeof nb[i], "%.*s.num_batches_tracked",
                     (int)(strlen(t->name) - strlen(".running_var")), t->name);
            p[n++] = (ndx__st_put){nb[i], "I64", 0, NULL, NULL, 8};
        }
    }
    char nc[32], is[32];
    snprintf(nc, sizeof nc, "%d", ndx_net_num_classes(net));
    snprintf(is, sizeof is, "%d", ndx_net_input_size(net));
    const char *meta[] = {"arch", net->arch, "num_classes", nc, "input_size", is,
                          "format", "pt", net->ti_on ? "transform_input" : NULL, "1", NULL};
    ndx_status st = ndx__st_write(path, p, n, meta);
    free(p);
    free(nb);
    return st;
}

ndx_status ndx_net_load(const char *path, ndx_net **out)
{
    *out = NULL;
    char arch[32];
    int nc, size;
    ndx_status st = ndx_safetensors_meta(path, arch, sizeof arch, &nc, &size);
    if (st) return st;
    if (!arch[0])
        return ndx__fail(NDX_ERR_FORMAT, "%s: no arch in __metadata__ (write it with "
                         "tools/export_torchvision.py)", path);
    if (!nc) return ndx__fail(NDX_ERR_FORMAT, "%s: no num_classes in __metadata__", path);
    ndx_net *net;
    st = ndx_zoo_build(arch, nc, size, NDX_SEED_NONE, &net);   /* size 0: the registry's;
                                                                   every tensor loaded next */
    if (st)
        return ndx__fail(st, "%s: building the net of its __metadata__ failed: %s", path,
                         ndx_last_error());
    st = ndx_safetensors_load_into(net, path, 0);
    if (st) {
        ndx_net_free(net);
        return st;
    }
    *out = net;
    return NDX_OK;
}

ndx_status ndx_net_load_finetune(const char *path, const char *arch, int num_classes,
                                 int input_size, uint64_t seed, ndx_net **out)
{
    ndx_net *net;
    *out = NULL;
    ndx_status st = ndx_zoo_build(arch, num_classes, input_size, seed, &net);
    if (st) return st;
    st = ndx_safetensors_load_into(net, path, NDX_LOAD_EXCEPT_HEAD);
    if (st) {
        ndx_net_free(net);
        return st;
    }
    ndx_net_reset_head(net, seed);
    *out = net;
    return NDX_OK;
}
