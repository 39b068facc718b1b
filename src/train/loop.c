/* The training loop: fine-tuning with SGD on shuffled or class-balanced
 * batches, a step-decayed rate, the validation AUC every epoch, the best or
 * the last model kept, checkpoints, and the final metrics.json, roc.png and
 * loss.png.
 *
 * One step, batch B, input S x S, K classes (2, or 3 = no cancer / benign /
 * malignant, ndx_patch_class):
 *   B patches (B, S, S) gray in [0,1], flipped at random
 *     -> x (B, 3, S, S) ImageNet-normalised -> logits (B, K)
 *     -> softmax cross-entropy, dlogits (B, K) -> gradients -> ndx_sgd_step
 * The score of a patch is P(malignant) = softmax(z)[K - 1], the AUC that of
 * malignant vs the rest.  The rate of epoch e is ndx_train_lr (StepLR).
 * Randomness: the epoch order is ndx_sampler's (seed, epoch); flips and the
 * dropout seed of every batch come from one ndx_rng kept in the checkpoint,
 * so a resumed run takes the same steps as one that never stopped.
 *
 * Read from the bottom: ndx_train is the loop; trainer_init (data, net,
 * sampler, resume), step, validate, save_ckpt and outputs are its parts;
 * run_* and evaluate are shared with ndx_eval; a batch in parts: parts.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netdx_nn.h"
#include "../io/io.h"
#include "parts.h"
#include "provenance.h"

/* Doubles per epoch in the checkpoint's "history" array (as float bits). */
#define HIST_FIELDS 9

void ndx_train_defaults(ndx_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->arch = "tiny";
    o->epochs = 10;
    o->batch = 32;
    o->input_size = 0;          /* the architecture's */
    o->lr = 1e-4;
    o->momentum = 0.9;
    o->weight_decay = 1e-4;
    o->lr_gamma = 0.1;
    o->sampler = NDX_SAMPLER_BALANCED;
    o->keep = NDX_KEEP_BEST;
    o->classes = 2;
    o->seed = 1;
}

double ndx_train_lr(const ndx_train_opts *o, int epoch)
{
    if (o->lr_step <= 0 || epoch < o->lr_step) return o->lr;
    return o->lr * pow(o->lr_gamma, (double)(epoch / o->lr_step));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Everything one run holds, sized once. */
typedef struct run {
    ndx_patch_index ix;
    ndx_patch_cache *cache;
    ndx_net *net;
    int S, B, last;             /* input side, batch, logits node */
    int K;                      /* classes */
    size_t *idx[3], nidx[3];    /* patches of each split */
    int *train_labels;          /* classes (ndx_patch_class) */
    float *gray, *x, *dlogits, *scores;
    int *labels;                /* B labels of the batch */
    int *flip;                  /* B flags */
    size_t *bids;               /* B patch indices */
    int *eval_labels;           /* malignant (0/1) of the largest split */
    int *eval_class;            /* classes of the largest split */
    float *pre;                 /* every patch at S x S, when it fits PRELOAD_MAX */
    ndx_ioplan *plan;           /* what the run reads and writes; its locks */
} run;

/* Patches are cut and resized once, up front, when they all fit in this
 * many bytes; otherwise every batch reads them through the patch cache. */
#define PRELOAD_MAX ((size_t)1 << 30)

static void run_free(run *r)
{
    ndx_ioplan_free(r->plan);
    for (int s = 0; s < 3; s++) free(r->idx[s]);
    free(r->train_labels);
    ndx_free(r->gray);
    ndx_free(r->pre);
    ndx_free(r->x);
    free(r->dlogits);
    free(r->scores);
    free(r->labels);
    free(r->flip);
    free(r->bids);
    free(r->eval_labels);
    free(r->eval_class);
    ndx_net_free(r->net);
    ndx_patch_cache_free(r->cache);
    ndx_patches_free(&r->ix);
    memset(r, 0, sizeof *r);
}

/* Reads the patch index, checks and locks the plan (r->plan: the rest of
 * the run's inputs and its outputs), splits the index and allocates the
 * batch buffers. */
static ndx_status run_data(run *r, const char *data_dir, int batch, int classes)
{
    r->K = classes;
    ndx_status st = ndx_patches_read(data_dir, &r->ix);
    if (!st) st = ndx_ioplan_patches(r->plan, &r->ix);
    if (!st) st = ndx_ioplan_begin(r->plan);   /* before any work */
    if (st) return st;
    for (size_t i = 0; i < r->ix.n; i++) {
        int s = r->ix.patches[i].split;
        if (s < 0 || s > 2)
            return ndx__fail(NDX_ERR_FORMAT, "%s/patches.csv: patch %zu has split %d",
                             data_dir, i, s);
        r->nidx[s]++;
    }
    size_t most = 1;
    for (int s = 0; s < 3; s++) {
        r->idx[s] = malloc((r->nidx[s] ? r->nidx[s] : 1) * sizeof *r->idx[s]);
        if (!r->idx[s]) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
        if (r->nidx[s] > most) most = r->nidx[s];
        r->nidx[s] = 0;
    }
    for (size_t i = 0; i < r->ix.n; i++) {
        int s = r->ix.patches[i].split;
        r->idx[s][r->nidx[s]++] = i;
    }
    r->B = batch;
    r->cache = ndx_patch_cache_new((size_t)512 << 20);
    r->train_labels = malloc((r->nidx[NDX_SPLIT_TRAIN] + 1) * sizeof *r->train_labels);
    r->scores = malloc(most * sizeof *r->scores);
    r->eval_labels = malloc(most * sizeof *r->eval_labels);
    r->eval_class = malloc(most * sizeof *r->eval_class);
    r->labels = malloc((size_t)batch * sizeof *r->labels);
    r->flip = calloc((size_t)batch, sizeof *r->flip);
    r->bids = malloc((size_t)batch * sizeof *r->bids);
    r->dlogits = malloc((size_t)batch * classes * sizeof *r->dlogits);
    if (!r->cache || !r->train_labels || !r->scores || !r->eval_labels || !r->eval_class ||
        !r->labels ||
        !r->flip || !r->bids || !r->dlogits)
        return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    for (size_t k = 0; k < r->nidx[NDX_SPLIT_TRAIN]; k++)
        r->train_labels[k] = ndx_patch_class(&r->ix.patches[r->idx[NDX_SPLIT_TRAIN][k]], classes);
    return NDX_OK;
}

static ndx_status run_net_buffers(run *r, int plan)
{
    r->S = ndx_net_input_size(r->net);
    r->last = ndx_net_num_nodes(r->net) - 1;
    const size_t hw = (size_t)r->S * r->S, px = (size_t)r->B * hw;
    r->gray = ndx_alloc(px * sizeof *r->gray);
    r->x = ndx_alloc(3 * px * sizeof *r->x);
    if (!r->gray || !r->x) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    if (r->ix.n <= PRELOAD_MAX / sizeof(float) / hw) {
        r->pre = ndx_alloc(r->ix.n * hw * sizeof *r->pre);   /* NULL: use the cache */
        ndx_status st = NDX_OK;
        char *msg = NULL;
        const long n = r->pre ? (long)r->ix.n : 0;
#pragma omp parallel for schedule(static) num_threads(ndx_get_threads())
        for (long i = 0; i < n; i++) {
            ndx_status s = ndx_patch_load(r->cache, &r->ix, (size_t)i, r->S, r->pre + (size_t)i * hw);
            if (s) {
#pragma omp critical
                if (!st) st = s, msg = ndx__strf("%s", ndx_last_error());
            }
        }
        if (st) return ndx__fail_take(st, msg);   /* the worker's message, here */
        if (r->pre) {   /* the decoded images are not needed any more */
            ndx_patch_cache_free(r->cache);
            r->cache = NULL;
        }
    }
    return ndx_net_plan(r->net, r->B, plan);
}

/* Loads patches ids[0..n) (n <= B; the rest of the batch repeats the last)
 * into r->x, flipped where flip (B flags, or NULL: none) says. */
static ndx_status load_batch(run *r, const size_t *ids, const int *flip, int n)
{
    const int S = r->S;
    const size_t hw = (size_t)S * S;
    ndx_status st = NDX_OK;
    char *msg = NULL;
#pragma omp parallel for schedule(static) num_threads(ndx_get_threads())
    for (int i = 0; i < r->B; i++) {
        size_t id = ids[i < n ? i : n - 1];
        float *g = r->gray + (size_t)i * hw;
        ndx_status s = NDX_OK;
        if (r->pre)
            memcpy(g, r->pre + id * hw, hw * sizeof *g);
        else
            s = ndx_patch_load(r->cache, &r->ix, id, S, g);
        if (s) {
#pragma omp critical
            if (!st) st = s, msg = ndx__strf("%s", ndx_last_error());
            continue;
        }
        if (flip && flip[i])
            for (int y = 0; y < S; y++)
                for (int a = 0, b = S - 1; a < b; a++, b--) {
                    float t = g[(size_t)y * S + a];
                    g[(size_t)y * S + a] = g[(size_t)y * S + b];
                    g[(size_t)y * S + b] = t;
                }
    }
    if (st) return ndx__fail_take(st, msg);   /* the worker's message, here */
    ndx_gray_to_input(r->B, hw, r->gray, r->x);
    return NDX_OK;
}

static int argmax(const float *z, int K)
{
    int best = 0;
    for (int c = 1; c < K; c++)
        if (z[c] > z[best]) best = c;
    return best;
}

/* P(malignant) = softmax(z)[K - 1] of logits z (K); for 2 classes the
 * logistic of z1 - z0. */
static float cancer_prob(const float *z, int K)
{
    double m = z[0], sum = 0;
    for (int c = 1; c < K; c++) m = z[c] > m ? z[c] : m;
    for (int c = 0; c < K; c++) sum += exp((double)z[c] - m);
    return (float)(exp((double)z[K - 1] - m) / sum);
}

/* Scores split s with the net in eval mode: r->scores (P(malignant)),
 * r->eval_labels (malignant) and r->eval_class for each of its patches,
 * mean loss, accuracy (argmax = class), AUC of malignant vs the rest (NAN
 * when the split lacks one of them). */
static ndx_status evaluate(run *r, int s, double *loss, double *acc, double *auc)
{
    size_t n = r->nidx[s];
    if (n == 0) {
        *loss = *acc = *auc = NAN;
        return NDX_OK;
    }
    ndx_mean ml = {0};
    size_t right = 0;
    for (size_t b0 = 0; b0 < n; b0 += (size_t)r->B) {
        int m = (int)(n - b0 < (size_t)r->B ? n - b0 : (size_t)r->B);
        ndx_status st = load_batch(r, r->idx[s] + b0, NULL, m);
        if (!st) st = ndx_net_forward(r->net, r->x, NDX_EVAL, -1);
        ndx_tensor lg;
        if (!st) st = ndx_net_output(r->net, r->last, &lg);
        if (st) return st;
        for (int i = 0; i < m; i++) {
            const float *z = lg.data + (size_t)i * r->K;
            const ndx_patch *p = &r->ix.patches[r->idx[s][b0 + i]];
            r->scores[b0 + i] = cancer_prob(z, r->K);
            r->eval_labels[b0 + i] = p->label != 0;
            r->eval_class[b0 + i] = ndx_patch_class(p, r->K);
            right += argmax(z, r->K) == r->eval_class[b0 + i];
        }
        double l;
        st = ndx_softmax_xent(m, r->K, lg.data, r->eval_class + b0, NULL, NULL, &l);
        if (st) return st;
        ndx_mean_add(&ml, l, m);
    }
    *loss = ndx_mean_value(&ml);
    *acc = (double)right / (double)n;
    if (ndx_auc(r->scores, r->eval_labels, n, auc) != NDX_OK) *auc = NAN;
    return NDX_OK;
}

/* ---- checkpoints: every tensor by name, momentum as "momentum.<name>" -- */
typedef struct ckpt_set {
    ndx_ckpt_array *a;
    char *names;
    int n;
} ckpt_set;

static ndx_status ckpt_set_make(ckpt_set *c, ndx_net *net, float *hist, size_t nhist)
{
    int nt = ndx_net_num_tensors(net);
    c->a = calloc((size_t)2 * nt + 1, sizeof *c->a);
    c->names = calloc((size_t)2 * nt + 1, NDX_CKPT_NAME_MAX);
    c->n = 0;
    if (!c->a || !c->names) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    for (int i = 0; i < nt; i++) {
        ndx_param_info t;
        ndx_status st = ndx_net_tensor(net, i, &t);
        if (st) return st;
        for (int k = 0; k < (t.is_buffer ? 1 : 2); k++) {
            char *nm = c->names + (size_t)c->n * NDX_CKPT_NAME_MAX;
            snprintf(nm, NDX_CKPT_NAME_MAX, "%s%s", k ? "momentum." : "", t.name);
            c->a[c->n++] = (ndx_ckpt_array){nm, k ? t.momentum : t.data, t.numel};
        }
    }
    c->a[c->n++] = (ndx_ckpt_array){"history", hist, nhist};
    return NDX_OK;
}

static void ckpt_set_free(ckpt_set *c)
{
    free(c->a);
    free(c->names);
}

static void hist_put(float *hist, int e, const ndx_epoch_metrics *m)
{
    double v[HIST_FIELDS] = {m->epoch, m->lr, m->train_loss, m->train_accuracy, m->val_loss,
                             m->val_accuracy, m->val_auc, m->seconds, m->images_per_s};
    memcpy(hist + (size_t)e * HIST_FIELDS * 2, v, sizeof v);
}

static void hist_get(const float *hist, int e, ndx_epoch_metrics *m)
{
    double v[HIST_FIELDS];
    memcpy(v, hist + (size_t)e * HIST_FIELDS * 2, sizeof v);
    *m = (ndx_epoch_metrics){(int)v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]};
}

/* "<dir of path>/<name>" into buf. */
static void beside(char *buf, size_t n, const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(buf, n, "%.*s/%s", (int)(slash - path), path, name);
    else
        snprintf(buf, n, "%s", name);
}

static ndx_status check_opts(const ndx_train_opts *o)
{
    if (!o || !o->arch || !o->data_dir || !o->out)
        return ndx__fail(NDX_ERR_INVALID, "train: arch, data directory and output are required");
    if (o->epochs < 1 || o->epochs > 100000 || o->batch < 1 || o->batch > 65536 ||
        o->checkpoint_every < 0)
        return ndx__fail(NDX_ERR_INVALID, "train: epochs %d, batch %d, checkpoint_every %d "
                         "out of range", o->epochs, o->batch, o->checkpoint_every);
    if (!(o->lr > 0) || !(o->momentum >= 0) || !(o->weight_decay >= 0))
        return ndx__fail(NDX_ERR_INVALID, "train: lr %g, momentum %g, weight decay %g",
                         o->lr, o->momentum, o->weight_decay);
    if (o->lr_step < 0 || o->lr_step > 100000 || !(o->lr_gamma > 0 && o->lr_gamma <= 1))
        return ndx__fail(NDX_ERR_INVALID, "train: lr_step %d (0..100000) or lr_gamma %g "
                         "((0, 1]) out of range", o->lr_step, o->lr_gamma);
    if ((o->sampler != NDX_SAMPLER_SHUFFLE && o->sampler != NDX_SAMPLER_BALANCED) ||
        (o->keep != NDX_KEEP_BEST && o->keep != NDX_KEEP_LAST) ||
        (o->classes != 2 && o->classes != 3))
        return ndx__fail(NDX_ERR_INVALID, "train: sampler %d, keep %d or classes %d out of "
                         "range (NDX_SAMPLER_*, NDX_KEEP_*, 2 or 3)", o->sampler, o->keep,
                         o->classes);
    const int parts = o->parts > 1 ? o->parts : 1;
    if (o->parts < 0 || o->batch % parts)
        return ndx__fail(NDX_ERR_INVALID, "train: batch %d is not cut into %d equal parts (one "
                         "per process under mpirun): make the batch a multiple of %d",
                         o->batch, parts, parts);
    if (o->allreduce ? parts < 2 || o->rank < 0 || o->rank >= parts : o->rank != 0)
        return ndx__fail(NDX_ERR_INVALID, "train: rank %d of %d parts (allreduce %s)", o->rank,
                         parts, o->allreduce ? "set: 2 parts or more" : "unset: rank 0");
    return NDX_OK;
}

/* ---- the training run ------------------------------------------------------ */

/* One training run: the data and net (run), the optimiser, the position
 * and RNG (cst, kept in the checkpoint), the epoch's running totals. */
typedef struct trainer {
    const ndx_train_opts *o;
    run r;
    ckpt_set cs;
    ndx_sampler *sampler;
    float *hist;                /* every epoch's metrics, for the checkpoint */
    ndx_epoch_metrics *ep;
    char *ckpt;                 /* the checkpoint's path (owned) */
    int size;                   /* input side */
    long batches;               /* per epoch (the last partial batch dropped) */
    float *params, *grads, *mom;
    size_t np;
    ndx_sgd opt;
    ndx_ckpt_state cst;
    double best;                /* best validation AUC so far (NAN: none) */
    ndx_mean tloss;             /* the epoch's training loss */
    double tright;              /* the epoch's correct training predictions */
    int parts;                  /* sub-batches per batch (1: the whole batch) */
    int root;                   /* 1: this process validates and writes */
    ndx__parts sum;             /* parts > 1: the step's running sums */
} trainer;

static void trainer_free(trainer *t)
{
    ckpt_set_free(&t->cs);
    free(t->ckpt);
    free(t->hist);
    free(t->ep);
    ndx_sampler_free(t->sampler);
    ndx__parts_free(&t->sum);
    run_free(&t->r);
}

static ndx_status save_ckpt(trainer *t)
{
    ndx_ckpt_state *c = &t->cst;
    const ndx_train_opts *o = t->o;
    ndx_status st;
    if ((st = ndx__train_record(c, o, t->size, t->r.ix.digest)) ||
        (st = ndx_ckpt_set(c, "best_auc", t->best)) ||
        (st = ndx_ckpt_set(c, "train_loss_sum", t->tloss.sum)) ||
        (st = ndx_ckpt_set(c, "train_weight", t->tloss.weight)) ||
        (st = ndx_ckpt_set(c, "train_right", t->tright)))
        return st;
    return ndx_ckpt_save(t->ckpt, c, t->cs.a, t->cs.n);
}

/* The checkpoint's position, totals and history checked against this run
 * before any is used: a valid checksum proves the bytes, not that the
 * values fit (an epoch or batch past the run's would index past its
 * buffers). */
static ndx_status check_resumed(const trainer *t)
{
    const char *p = t->o->resume;
    const ndx_ckpt_state *c = &t->cst;
    const int64_t E = t->o->epochs, nb = t->batches;
    const double most = (double)nb * t->o->batch;
    ndx_status st;
    if ((st = ndx__field_int(p, c->epoch, 0, E, "epoch (--epochs %lld)", (long long)E)) ||
        (st = ndx__field_int(p, c->batch, 0, c->epoch < E ? nb - 1 : 0, "batch (%lld per epoch)",
                             (long long)nb)))
        return st;
    const int64_t at = c->epoch * nb + c->batch;   /* both in range now: no overflow */
    if ((st = ndx__field_int(p, c->step, at, at, "step (epoch %lld x %lld batches + batch %lld)",
                             (long long)c->epoch, (long long)nb, (long long)c->batch)) ||
        (!isnan(t->best) && (st = ndx__field_real(p, t->best, 0, 1, "scalar best_auc"))) ||
        (st = ndx__field_real(p, t->tloss.sum, 0, HUGE_VAL, "scalar train_loss_sum")) ||
        (st = ndx__field_real(p, t->tloss.weight, 0, most, "scalar train_weight")) ||
        (st = ndx__field_real(p, t->tright, 0, most, "scalar train_right")))
        return st;
    for (int e = 0; e < c->epoch; e++) {
        double v[HIST_FIELDS];
        memcpy(v, t->hist + (size_t)e * HIST_FIELDS * 2, sizeof v);
        if ((st = ndx__field_real(p, v[0], e + 1, e + 1, "history: epoch %d's number", e + 1)))
            return st;
        for (int i = 1; i < HIST_FIELDS; i++)
            if (isinf(v[i]))
                return ndx__fail(NDX_ERR_FORMAT, "%s: history: field %d of epoch %d is infinite",
                                 p, i, e + 1);
    }
    return NDX_OK;
}

/* Resume: the position, the optimiser, the RNG, the epoch so far. */
static ndx_status resume(trainer *t)
{
    const ndx_train_opts *o = t->o;
    ndx_status st = ndx_ckpt_peek(o->resume, &t->cst);
    if (!st) st = ndx__train_match(&t->cst, o->resume, o, t->size, t->r.ix.digest);
    if (!st) st = ndx_ckpt_load(o->resume, &t->cst, t->cs.a, t->cs.n);
    if (st == NDX_ERR_SHAPE && strstr(ndx_last_error(), "'history'"))
        st = ndx__fail(NDX_ERR_INVALID, "checkpoint %s was written for another --epochs",
                       o->resume);
    if (st) return st;
    ndx_ckpt_get(&t->cst, "best_auc", &t->best);
    ndx_ckpt_get(&t->cst, "train_loss_sum", &t->tloss.sum);
    ndx_ckpt_get(&t->cst, "train_weight", &t->tloss.weight);
    ndx_ckpt_get(&t->cst, "train_right", &t->tright);
    if ((st = check_resumed(t))) return st;
    t->opt.step = t->cst.step;
    for (int e = 0; e < t->cst.epoch && e < o->epochs; e++) hist_get(t->hist, e, &t->ep[e]);
    ndx_net_touch(t->r.net);
    return NDX_OK;
}

/* Tells o->note when the training split lacks a class: no malignant patch
 * (either sampler then shows one class only), or for 3 classes no benign. */
static void warn_data(const trainer *t)
{
    const ndx_train_opts *o = t->o;
    if (!o->note) return;
    size_t count[3] = {0, 0, 0};
    for (size_t k = 0; k < t->r.nidx[NDX_SPLIT_TRAIN]; k++) count[t->r.train_labels[k]]++;
    char msg[1024];
    if (count[o->classes - 1] == 0) {
        snprintf(msg, sizeof msg, "the training split of %s/patches.csv has no malignant patch "
                 "(%zu patches): every batch%s holds one class and the model cannot learn "
                 "malignancy; more patients, or netdx patches --stratify, would give it some",
                 o->data_dir, t->r.nidx[NDX_SPLIT_TRAIN],
                 o->sampler == NDX_SAMPLER_BALANCED ? ", balanced or not," : "");
        o->note(o->note_ctx, msg);
    }
    if (o->classes == 3 && count[1] == 0) {
        snprintf(msg, sizeof msg, "the training split of %s/patches.csv has no benign patch: "
                 "the benign class of the 3-class head is never shown", o->data_dir);
        o->note(o->note_ctx, msg);
    }
}

/* What training reads and writes: --weights, --resume (which may be the
 * checkpoint it rewrites), --out, the checkpoint, and beside --out
 * metrics.json, roc.png, loss.png (the data's files come in run_data). */
static ndx_status plan_train(trainer *t)
{
    const ndx_train_opts *o = t->o;
    char path[4096];
    ndx_status st = ndx_ioplan_new("train", &t->r.plan);
    if (!st) st = ndx_ioplan_input(t->r.plan, "--weights", o->weights, NULL);
    if (!st) st = ndx_ioplan_input(t->r.plan, "--resume", o->resume, "--checkpoint");
    if (!t->root) return st;   /* only the root writes (under allreduce) */
    if (!st) st = ndx_ioplan_output(t->r.plan, "--out", o->out, NDX_OUT_FILE);
    if (!st) st = ndx_ioplan_output(t->r.plan, "--checkpoint", t->ckpt, NDX_OUT_FILE);
    static const char *const beside_out[] = {"metrics.json", "roc.png", "loss.png"};
    for (int i = 0; i < 3 && !st; i++) {
        beside(path, sizeof path, o->out, beside_out[i]);
        st = ndx_ioplan_output(t->r.plan, beside_out[i], path, NDX_OUT_FILE);
    }
    return st;
}

/* Data, network, sampler, buffers: everything sized once; then the
 * checkpoint to resume from, if any. */
static ndx_status trainer_init(trainer *t, const ndx_train_opts *o)
{
    memset(t, 0, sizeof *t);
    t->o = o;
    t->best = NAN;
    t->parts = o->parts > 1 ? o->parts : 1;
    t->root = o->rank == 0;
    t->ckpt = o->checkpoint ? ndx__strf("%s", o->checkpoint) : ndx__strf("%s.ckpt", o->out);
    if (!t->ckpt) return NDX_ERR_NOMEM;
    ndx_status st = plan_train(t);
    if (!st) st = run_data(&t->r, o->data_dir, o->batch, o->classes);
    if (st) return st;
    const size_t ntrain = t->r.nidx[NDX_SPLIT_TRAIN];
    warn_data(t);
    if (ntrain < (size_t)o->batch)
        return ndx__fail(NDX_ERR_INVALID, "train: %zu training patches in %s, fewer than a "
                         "batch of %d", ntrain, o->data_dir, o->batch);
    t->batches = (long)(ntrain / (size_t)o->batch);
    const ndx_zoo_arch *za = ndx_zoo_find(o->arch);
    t->size = o->input_size ? o->input_size : za ? za->input_size : 0;
    if (o->weights)
        st = ndx_net_load_finetune(o->weights, o->arch, o->classes, t->size, o->seed, &t->r.net);
    else
        st = ndx_zoo_build(o->arch, o->classes, t->size, o->seed, &t->r.net);
    t->r.B = o->batch / t->parts;   /* the net runs one part at a time */
    if (st || (st = run_net_buffers(&t->r, NDX_PLAN_TRAIN))) return st;
    if (t->parts > 1 && (st = ndx__parts_init(&t->sum, t->r.net, t->parts))) return st;
    st = ndx_sampler_new(t->r.train_labels, ntrain, o->classes, o->sampler == NDX_SAMPLER_BALANCED,
                         o->seed, &t->sampler);
    if (st) return st;
    const size_t nhist = (size_t)o->epochs * HIST_FIELDS * 2;
    t->hist = calloc(nhist, sizeof *t->hist);
    t->ep = calloc((size_t)o->epochs, sizeof *t->ep);
    if (!t->hist || !t->ep) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    if ((st = ckpt_set_make(&t->cs, t->r.net, t->hist, nhist))) return st;
    t->params = ndx_net_params(t->r.net, &t->np);
    t->grads = ndx_net_grads(t->r.net, NULL);
    t->mom = ndx_net_momentum(t->r.net, NULL);
    t->opt = (ndx_sgd){(float)o->lr, (float)o->momentum, (float)o->weight_decay, 0};
    ndx_rng_seed(&t->cst.rng, o->seed ^ 0x747261696e726e67ull);
    return o->resume ? resume(t) : NDX_OK;
}

static void progress(const trainer *t, int e, long b, double loss, const ndx_epoch_metrics *m)
{
    if (!t->o->progress) return;
    ndx_train_progress pr = {e + 1, t->o->epochs, b, t->batches, loss, m};
    t->o->progress(t->o->progress_ctx, &pr);
}

/* Part k of the batch (patches k*m .. k*m+m-1, m = B / parts): forward,
 * loss (mean over the part), backward into the net's gradients; its loss
 * and correct predictions added to d[0], d[1]. */
static ndx_status run_part(trainer *t, int k, uint64_t seed, double *d)
{
    run *r = &t->r;
    const int m = r->B;
    ndx_net_seed_dropout(r->net, seed ^ (uint64_t)k * 0x9e3779b97f4a7c15ull);
    ndx_status st = load_batch(r, r->bids + (size_t)k * m, r->flip + (size_t)k * m, m);
    if (st) return st;
    ndx_net_zero_grads(r->net);
    ndx_tensor lg;
    double loss;
    const int *labels = r->labels + (size_t)k * m;
    if ((st = ndx_net_forward(r->net, r->x, NDX_TRAIN, -1)) ||
        (st = ndx_net_output(r->net, r->last, &lg)) ||
        (st = ndx_softmax_xent(m, r->K, lg.data, labels, NULL, r->dlogits, &loss)))
        return st;
    for (int i = 0; i < m; i++) d[1] += argmax(lg.data + (size_t)i * r->K, r->K) == labels[i];
    d[0] += loss;
    return ndx_net_backward(r->net, r->dlogits);
}

/* One SGD step on batch b of the epoch's order: patches, labels, flips and
 * the dropout seed (drawn for the whole batch, on every process alike),
 * then each part forward and backward (parts.c), the update. */
static ndx_status step(trainer *t, const uint32_t *order, long b)
{
    run *r = &t->r;
    const int B = t->o->batch;
    for (int i = 0; i < B; i++) {
        const uint32_t k = order[(size_t)b * B + i];
        r->bids[i] = r->idx[NDX_SPLIT_TRAIN][k];
        r->labels[i] = r->train_labels[k];
        r->flip[i] = t->o->flips ? (int)(ndx_rng_u64(&t->cst.rng) >> 63) : 0;
    }
    const uint64_t seed = ndx_rng_u64(&t->cst.rng);
    double d[2] = {0, 0};   /* summed loss of the parts, correct predictions */
    ndx_status st = NDX_OK;
    if (t->parts == 1) {
        st = run_part(t, 0, seed, d);
    } else if (t->o->allreduce) {   /* this process's part; the others' come in the sum */
        if (!(st = run_part(t, t->o->rank, seed, d))) ndx__parts_add(&t->sum, 1);
    } else {
        for (int k = 0; k < t->parts && !st; k++) {
            ndx__parts_start(&t->sum, k);
            if (!(st = run_part(t, k, seed, d))) ndx__parts_add(&t->sum, k == 0);
        }
    }
    if (!st && t->parts > 1) st = ndx__parts_end(&t->sum, t->o, d, 2);
    if (st || (st = ndx_sgd_step(&t->opt, t->params, t->grads, t->mom, t->np))) return st;
    ndx_net_touch(r->net);
    t->tright += d[1];
    ndx_mean_add(&t->tloss, d[0] / t->parts, B);
    return NDX_OK;
}

/* The end of epoch e: its validation numbers; the model saved when it is
 * kept: --keep last every epoch, --keep best when its AUC is the best so
 * far (or none was finite yet). */
static ndx_status validate(trainer *t, int e, double secs, long steps)
{
    double vl, va, vauc;
    ndx_status st = evaluate(&t->r, NDX_SPLIT_VAL, &vl, &va, &vauc);
    if (st) return st;
    const double B = t->o->batch;
    t->ep[e] = (ndx_epoch_metrics){e + 1, ndx_train_lr(t->o, e), ndx_mean_value(&t->tloss),
                                   t->tright / ((double)t->batches * B), vl, va, vauc, secs,
                                   secs > 0 ? (double)steps * B / secs : NAN};
    hist_put(t->hist, e, &t->ep[e]);
    if (t->o->keep == NDX_KEEP_LAST) return ndx_safetensors_save(t->r.net, t->o->out);
    if (!isfinite(t->best) || (isfinite(vauc) && vauc > t->best)) {
        if ((st = ndx_safetensors_save(t->r.net, t->o->out))) return st;
        if (isfinite(vauc)) t->best = vauc;
    }
    return NDX_OK;
}

/* The epoch whose model validate() saved last: the last epoch, or for
 * --keep best the first of best finite AUC (the last, when none is finite). */
static int kept_epoch(const trainer *t)
{
    const int n = t->o->epochs;
    int best = -1;
    for (int e = 0; t->o->keep == NDX_KEEP_BEST && e < n; e++)
        if (isfinite(t->ep[e].val_auc) && (best < 0 || t->ep[e].val_auc > t->ep[best].val_auc))
            best = e;
    return best >= 0 ? best + 1 : n;
}

/* The kept model: its validation ROC (roc.png), the test AUC, metrics.json
 * and loss.png beside the model. */
static ndx_status outputs(trainer *t, double *test_auc)
{
    const ndx_train_opts *o = t->o;
    run *r = &t->r;
    char path[4096];
    double vl, va, vauc, tl, ta, tauc;
    ndx_status st = ndx_safetensors_load_into(r->net, o->out, 0);
    if (st || (st = evaluate(r, NDX_SPLIT_VAL, &vl, &va, &vauc))) return st;
    if (isfinite(vauc)) {
        beside(path, sizeof path, o->out, "roc.png");
        size_t nv = r->nidx[NDX_SPLIT_VAL], npts;
        double *fpr = malloc((nv + 1) * sizeof *fpr), *tpr = malloc((nv + 1) * sizeof *tpr);
        st = fpr && tpr ? ndx_roc(r->scores, r->eval_labels, nv, fpr, tpr, NULL, nv + 1, &npts,
                                  &vauc)
                        : ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
        if (!st) st = ndx_plot_roc(path, fpr, tpr, npts, vauc, "Validation ROC");
        free(fpr);
        free(tpr);
        if (st) return st;
    }
    if ((st = evaluate(r, NDX_SPLIT_TEST, &tl, &ta, &tauc))) return st;
    if (test_auc) *test_auc = tauc;
    beside(path, sizeof path, o->out, "metrics.json");
    ndx_metrics_info info = {o->classes, o->sampler, o->lr_step, o->lr_gamma, o->keep,
                             kept_epoch(t)};
    if ((st = ndx_metrics_write_json(path, t->ep, o->epochs, tauc, &info))) return st;
    double *curves = malloc((size_t)o->epochs * 2 * sizeof *curves);
    if (!curves) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    for (int e = 0; e < o->epochs; e++)
        curves[e] = t->ep[e].train_loss, curves[o->epochs + e] = t->ep[e].val_loss;
    beside(path, sizeof path, o->out, "loss.png");
    st = ndx_plot_loss(path, curves, curves + o->epochs, o->epochs);
    free(curves);
    return st;
}

/* The loop: epochs of steps (resuming mid-epoch from a checkpoint), a
 * checkpoint every checkpoint_every steps and after each validated epoch,
 * then the outputs. */
ndx_status ndx_train(const ndx_train_opts *o, double *test_auc)
{
    ndx_status st = check_opts(o);
    if (st) return st;
    if (o->threads > 0 && (st = ndx_set_threads(o->threads))) return st;
    trainer t;
    st = trainer_init(&t, o);
    for (int e = (int)t.cst.epoch; !st && e < o->epochs; e++) {
        const uint32_t *order = ndx_sampler_epoch(t.sampler, (uint64_t)e);
        t.opt.lr = (float)ndx_train_lr(o, e);
        const double t0 = now_s();
        const long b0 = e == t.cst.epoch ? (long)t.cst.batch : 0;
        if (b0 == 0) t.tloss = (ndx_mean){0}, t.tright = 0;
        progress(&t, e, b0, ndx_mean_value(&t.tloss), NULL);
        for (long b = b0; !st && b < t.batches; b++) {
            st = step(&t, order, b);
            if (!st) progress(&t, e, b + 1, ndx_mean_value(&t.tloss), NULL);
            if (!st && t.root && o->checkpoint_every && (b + 1) % o->checkpoint_every == 0 &&
                b + 1 < t.batches) {
                t.cst.epoch = e, t.cst.batch = b + 1, t.cst.step = t.opt.step;
                st = save_ckpt(&t);
            }
        }
        if (!st && t.root) st = validate(&t, e, now_s() - t0, t.batches - b0);
        t.cst.epoch = e + 1, t.cst.batch = 0, t.cst.step = t.opt.step;
        if (!st && t.root) st = save_ckpt(&t);
        if (!st) progress(&t, e, t.batches, t.ep[e].train_loss, &t.ep[e]);
    }
    if (test_auc) *test_auc = NAN;
    if (!st && t.root) st = outputs(&t, test_auc);
    trainer_free(&t);
    return st;
}

ndx_status ndx_eval(const char *model, const char *data_dir, int split, int batch,
                    const char *roc_png, const char *scores_csv, double *auc,
                    double *accuracy)
{
    if (!model || !data_dir || split < 0 || split > 2 || batch < 1 || batch > 65536)
        return ndx__fail(NDX_ERR_INVALID, "eval: need a model, a data directory, a split "
                         "and a batch of 1..65536");
    run r;
    memset(&r, 0, sizeof r);
    double *fpr = NULL, *tpr = NULL;
    ndx_net *net = NULL;
    ndx_status st = ndx_ioplan_new("eval", &r.plan);
    if (!st) st = ndx_ioplan_input(r.plan, "--model", model, NULL);
    if (!st) st = ndx_ioplan_output(r.plan, "--roc", roc_png, NDX_OUT_FILE);
    if (!st) st = ndx_ioplan_output(r.plan, "--scores", scores_csv, NDX_OUT_FILE);
    if (!st) st = ndx_net_load(model, &net);
    const int K = net ? ndx_net_num_classes(net) : 0;
    if (!st && K != 2 && K != 3)
        st = ndx__fail(NDX_ERR_SHAPE, "eval: %s has %d classes, expected 2 or 3 (cancer = the "
                       "last)", model, K);
    if (!st) st = run_data(&r, data_dir, batch, K);
    r.net = net;
    if (!st) st = run_net_buffers(&r, NDX_PLAN_INFER);
    if (st) goto done;
    size_t n = r.nidx[split];
    if (n == 0) {
        st = ndx__fail(NDX_ERR_INVALID, "no %s patches in %s/patches.csv", ndx_split_name(split),
                       data_dir);
        goto done;
    }
    double loss, acc, au;
    if ((st = evaluate(&r, split, &loss, &acc, &au))) goto done;
    if (accuracy) *accuracy = acc;
    if (auc) *auc = au;   /* NAN: one class only, no ROC (the scores are still written) */
    if (scores_csv) {
        ndx__out w;
        if ((st = ndx__out_open(&w, scores_csv, 0))) goto done;
        fprintf(w.f, "patch,image,x,y,w,h,label,score\n");
        for (size_t k = 0; k < n; k++) {
            const ndx_patch *p = &r.ix.patches[r.idx[split][k]];
            fprintf(w.f, "%zu,", r.idx[split][k]);
            ndx__csv_put(w.f, r.ix.images[p->image].path);
            fprintf(w.f, ",%d,%d,%d,%d,%d,%.9g\n", p->x, p->y, p->w, p->h, p->label,
                    (double)r.scores[k]);
        }
        st = ndx__out_commit(&w);
    }
    if (!st && roc_png && isfinite(au)) {
        size_t npts;
        double v;
        fpr = malloc((n + 1) * sizeof *fpr);
        tpr = malloc((n + 1) * sizeof *tpr);
        if (!fpr || !tpr) st = ndx__fail(NDX_ERR_NOMEM, "eval: out of memory");
        if (!st) st = ndx_roc(r.scores, r.eval_labels, n, fpr, tpr, NULL, n + 1, &npts, &v);
        if (!st) st = ndx_plot_roc(roc_png, fpr, tpr, npts, v, NULL);
    }
done:
    free(fpr);
    free(tpr);
    run_free(&r);
    return st;
}
