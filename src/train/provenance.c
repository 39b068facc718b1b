/* Provenance of a checkpoint: the settings a resumed run must share with
 * the run that wrote it, and the digest of the data it was trained on,
 * recorded as named scalars (doubles: every value below is exact in one;
 * a 64-bit digest is two 32-bit halves, an architecture the low 48 bits of
 * XXH3 of its name).  A resume that differs in any of them is refused,
 * naming the field and both values. */
#include <stdio.h>
#include <string.h>

#include "../core/core.h"
#include "netdx_nn.h"
#include "provenance.h"

enum { K_NUM, K_FLAG, K_ARCH, K_DIGEST, K_NAME };

typedef struct key {
    const char *name;   /* scalar name (a digest: name_hi, name_lo) */
    const char *flag;   /* the command-line option, for messages */
    int kind;
    double v;           /* K_DIGEST: unused (d) */
    uint64_t d;
    const char *const *names;   /* K_NAME: the option's words by value */
} key;

#define LOW48 0xffffffffffffull
#define MAX_KEYS 15   /* exactly the keys keys() fills: add one, raise it */

static double arch_code(const char *arch) { return (double)(ndx_hash_str(arch, 0) & LOW48); }

/* The keys of this run. */
static int keys(key *k, const ndx_train_opts *o, int size, uint64_t data)
{
    int n = 0;
    k[n++] = (key){"arch", "--arch", K_ARCH, arch_code(o->arch), 0, NULL};
    k[n++] = (key){"input_size", "--input-size", K_NUM, size, 0, NULL};
    k[n++] = (key){"batch_size", "--batch", K_NUM, o->batch, 0, NULL};
    k[n++] = (key){"seed", "--seed", K_NUM, (double)(o->seed & LOW48), 0, NULL};
    k[n++] = (key){"flips", "--flips", K_FLAG, o->flips != 0, 0, NULL};
    k[n++] = (key){"lr", "--lr", K_NUM, o->lr, 0, NULL};
    k[n++] = (key){"momentum", "--momentum", K_NUM, o->momentum, 0, NULL};
    k[n++] = (key){"weight_decay", "--weight-decay", K_NUM, o->weight_decay, 0, NULL};
    static const char *const samplers[] = {"shuffle", "balanced"}, *const kept[] = {"best", "last"};
    k[n++] = (key){"lr_step", "--lr-step", K_NUM, o->lr_step, 0, NULL};
    k[n++] = (key){"lr_gamma", "--lr-gamma", K_NUM, o->lr_step ? o->lr_gamma : 0, 0, NULL};
    k[n++] = (key){"sampler", "--sampler", K_NAME, o->sampler, 0, samplers};
    k[n++] = (key){"keep", "--keep", K_NAME, o->keep, 0, kept};
    k[n++] = (key){"classes", "--classes", K_NUM, o->classes, 0, NULL};
    /* the batch's parts (processes under mpirun): not recorded before them, 1 */
    k[n++] = (key){"parts", "--parts (mpirun -np)", K_NUM, o->parts > 1 ? o->parts : 1, 0, NULL};
    k[n++] = (key){"data", "--data", K_DIGEST, 0, data, NULL};
    return n;
}

ndx_status ndx__train_record(ndx_ckpt_state *c, const ndx_train_opts *o, int size, uint64_t data)
{
    key k[MAX_KEYS];
    const int n = keys(k, o, size, data);
    ndx_status st = NDX_OK;
    for (int i = 0; i < n && !st; i++) {
        if (k[i].kind != K_DIGEST) {
            st = ndx_ckpt_set(c, k[i].name, k[i].v);
            continue;
        }
        char nm[32];
        snprintf(nm, sizeof nm, "%s_hi", k[i].name);
        st = ndx_ckpt_set(c, nm, (double)(k[i].d >> 32));
        snprintf(nm, sizeof nm, "%s_lo", k[i].name);
        if (!st) st = ndx_ckpt_set(c, nm, (double)(k[i].d & 0xffffffffull));
    }
    return st;
}

/* The name of the architecture of code v, or a note that it is unknown. */
static const char *arch_name(double v)
{
    for (int i = 0; ndx_zoo_arch_at(i); i++)
        if (arch_code(ndx_zoo_arch_at(i)->name) == v) return ndx_zoo_arch_at(i)->name;
    return "(an architecture this netdx does not know)";
}

static ndx_status missing(const char *path, const char *name)
{
    return ndx__fail(NDX_ERR_INVALID, "checkpoint %s does not record '%s' (written by an older "
                     "netdx): it cannot be checked against this run; start a new run without "
                     "--resume", path, name);
}

static ndx_status differs(const char *path, const key *k, double was)
{
    const char *how = "resume with the checkpoint's settings, or start a new run without --resume";
    if (k->kind == K_ARCH)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint %s was written by --arch %s; this run has "
                         "--arch %s: %s", path, arch_name(was), arch_name(k->v), how);
    if (k->kind == K_FLAG)
        return ndx__fail(NDX_ERR_INVALID, "checkpoint %s was written %s %s; this run is %s it: "
                         "%s", path, was != 0 ? "with" : "without", k->flag,
                         k->v != 0 ? "with" : "without", how);
    if (k->kind == K_NAME && (was == 0 || was == 1))
        return ndx__fail(NDX_ERR_INVALID, "checkpoint %s was written with %s %s; this run has "
                         "%s %s: %s", path, k->flag, k->names[(int)was], k->flag,
                         k->names[(int)k->v], how);
    return ndx__fail(NDX_ERR_INVALID, "checkpoint %s was written with %s %.15g; this run has "
                     "%s %.15g: %s", path, k->flag, was, k->flag, k->v, how);
}

ndx_status ndx__train_match(const ndx_ckpt_state *c, const char *path, const ndx_train_opts *o,
                            int size, uint64_t data)
{
    key k[MAX_KEYS];
    const int n = keys(k, o, size, data);
    for (int i = 0; i < n; i++) {
        double v, lo;
        if (k[i].kind != K_DIGEST) {
            if (ndx_ckpt_get(c, k[i].name, &v)) {
                if (strcmp(k[i].name, "parts")) return missing(path, k[i].name);
                v = 1;   /* written before parts were */
            }
            if (v != k[i].v) return differs(path, &k[i], v);
            continue;
        }
        char hi_name[32], lo_name[32];
        snprintf(hi_name, sizeof hi_name, "%s_hi", k[i].name);
        snprintf(lo_name, sizeof lo_name, "%s_lo", k[i].name);
        if (ndx_ckpt_get(c, hi_name, &v)) return missing(path, hi_name);
        if (ndx_ckpt_get(c, lo_name, &lo)) return missing(path, lo_name);
        if (!(v >= 0 && v < 4294967296.0 && lo >= 0 && lo < 4294967296.0))
            return ndx__fail(NDX_ERR_FORMAT, "checkpoint %s: '%s' is not a 64-bit digest", path,
                             k[i].name);
        const uint64_t was = (uint64_t)v << 32 | (uint64_t)lo;
        if (was != k[i].d)
            return ndx__fail(NDX_ERR_INVALID, "checkpoint %s was trained on a patches.csv of "
                             "XXH3 %016llx; %s/patches.csv is %016llx (re-made, or another "
                             "--data): resume on the data it was trained on, or start a new run "
                             "without --resume", path, (unsigned long long)was, o->data_dir,
                             (unsigned long long)k[i].d);
    }
    return NDX_OK;
}
