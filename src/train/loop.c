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
 * the data, preload and scoring are shared with ndx_eval (run.c); a
 * batch in parts: parts.c; under allreduce (MPI) every process also
 * preloads and validates its share (run.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netdx_nn.h"
#include "parts.h"
#include "run.h"
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
    if (parts > 1 && o->batch / parts < 2)
        return ndx__fail(NDX_ERR_INVALID, "train: a batch of %d in %d parts leaves one image "
                         "per part (per process under mpirun): batch norm normalises each part "
                         "by its own statistics, which one image does not have; make the batch "
                         "at least %d", o->batch, parts, 2 * parts);
    if (o->allreduce && !o->gather)
        return ndx__fail(NDX_ERR_INVALID, "train: allreduce is set but gather is not "
                         "(ndx_train_opts.gather: the processes share the preload and the scores)");
    if (o->allreduce ? parts < 2 || o->rank < 0 || o->rank >= parts : o->rank != 0)
        return ndx__fail(NDX_ERR_INVALID, "train: rank %d of %d parts (allreduce %s)", o->rank,
                         parts, o->allreduce ? "set: 2 parts or more"
                                             : "unset: rank 0");
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
    int root;                   /* 1: this process writes */
    ndx__parts sum;             /* parts > 1: the step's running sums */
    int scored_kept;            /* r->scores: the kept model's validation */
    float *kept;                /* under allreduce, --keep best, not the root:
                                   the kept model's tensors (the root reads
                                   them back from --out) */
} trainer;

static void trainer_free(trainer *t)
{
    ckpt_set_free(&t->cs);
    free(t->ckpt);
    free(t->hist);
    free(t->ep);
    ndx_sampler_free(t->sampler);
    ndx__parts_free(&t->sum);
    free(t->kept);
    ndx__run_free(&t->r);
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
    if (!st) st = ndx__run_data(&t->r, o->data_dir, o->batch, o->classes);
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
    if (o->allreduce) {   /* every process preloads and scores its share */
        t->r.parts = t->parts, t->r.rank = o->rank;
        t->r.gather = o->gather, t->r.gather_ctx = o->allreduce_ctx;
    }
    if (st || (st = ndx__run_buffers(&t->r, NDX_PLAN_TRAIN))) return st;
    if (t->parts > 1 && (st = ndx__parts_init(&t->sum, t->r.net, t->parts))) return st;
    if (t->o->allreduce && t->o->grads_ready &&
        (st = ndx_net_on_grads(t->r.net, t->o->grads_ready, t->o->allreduce_ctx)))
        return st;
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
    ndx_status st = ndx__run_batch(r, r->bids + (size_t)k * m, r->flip + (size_t)k * m, m);
    if (st) return st;
    ndx_net_zero_grads(r->net);
    ndx_tensor lg;
    double loss;
    const int *labels = r->labels + (size_t)k * m;
    if ((st = ndx_net_forward(r->net, r->x, NDX_TRAIN, -1)) ||
        (st = ndx_net_output(r->net, r->last, &lg)) ||
        (st = ndx_softmax_xent(m, r->K, lg.data, labels, NULL, r->dlogits, &loss)))
        return st;
    for (int i = 0; i < m; i++) d[1] += ndx__argmax(lg.data + (size_t)i * r->K, r->K) == labels[i];
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

/* The net's tensors (parameters and buffers, not momentum) copied into
 * buf (out) or from it; the count of floats (buf NULL: only that). */
static size_t tensors_copy(ndx_net *net, float *buf, int out)
{
    size_t n = 0;
    for (int i = 0; i < ndx_net_num_tensors(net); i++) {
        ndx_param_info p;
        if (ndx_net_tensor(net, i, &p)) continue;   /* i in range: cannot fail */
        if (buf) memcpy(out ? buf + n : p.data, out ? p.data : buf + n, p.numel * sizeof *buf);
        n += p.numel;
    }
    return n;
}

/* The model is kept: the root writes --out; under allreduce the others
 * copy the tensors (outputs() scores the kept model on every process). */
static ndx_status keep_model(trainer *t)
{
    t->scored_kept = 1;   /* r->scores: the kept model's validation */
    if (t->root) return ndx_safetensors_save(t->r.net, t->o->out);
    if (!t->kept && !(t->kept = malloc(tensors_copy(t->r.net, NULL, 0) * sizeof *t->kept)))
        return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    tensors_copy(t->r.net, t->kept, 1);
    return NDX_OK;
}

/* Under allreduce, at the end of epoch e: the XXH3-64 of every process's
 * parameters, buffers and momentum, gathered and compared, so that
 * processes whose weights drifted apart (a sum that was not the same
 * everywhere, processes started with other options) stop the run loudly
 * instead of training on as different models. */
static ndx_status check_same(trainer *t, int e)
{
    const int P = t->parts;
    uint64_t *dg = calloc((size_t)P, sizeof *dg);
    size_t *c = malloc((size_t)P * sizeof *c);
    ndx_hasher *h = ndx_hasher_new(0);
    if (!dg || !c || !h) {
        free(dg), free(c), ndx_hasher_free(h);
        return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    }
    for (int i = 0; i < t->cs.n - 1; i++)   /* the last is the history */
        ndx_hasher_update(h, t->cs.a[i].data, t->cs.a[i].count * sizeof(float));
    dg[t->o->rank] = ndx_hasher_digest(h);
    ndx_hasher_free(h);
    for (int q = 0; q < P; q++) c[q] = 1;
    ndx_status st = (ndx_status)t->o->gather(t->o->allreduce_ctx, dg, sizeof *dg, c);
    if (st) st = ndx__fail(st, "train: gathering the weights' digests failed (gather)");
    for (int q = 1; q < P && !st; q++)
        if (dg[q] != dg[0])
            st = ndx__fail(NDX_ERR_INVALID, "train: after epoch %d process %d holds other "
                           "weights than process 0 (XXH3 %016llx, not %016llx): the processes "
                           "no longer train one model (were they started with the same "
                           "options?)", e + 1, q, (unsigned long long)dg[q],
                           (unsigned long long)dg[0]);
    free(dg), free(c);
    return st;
}

/* The end of epoch e: its validation numbers (every process scoring its
 * share under allreduce); the model saved when it is kept: --keep last
 * every epoch, --keep best when its AUC is the best so far (or none was
 * finite yet). */
static ndx_status validate(trainer *t, int e, double secs, long steps)
{
    double vl, va, vauc;
    ndx_status st = ndx__run_evaluate(&t->r, NDX_SPLIT_VAL, &vl, &va, &vauc);
    if (st) return st;
    const double B = t->o->batch;
    t->ep[e] = (ndx_epoch_metrics){e + 1, ndx_train_lr(t->o, e), ndx_mean_value(&t->tloss),
                                   t->tright / ((double)t->batches * B), vl, va, vauc, secs,
                                   secs > 0 ? (double)steps * B / secs : NAN};
    hist_put(t->hist, e, &t->ep[e]);
    t->scored_kept = 0;
    if (t->o->keep == NDX_KEEP_LAST) return keep_model(t);
    if (!isfinite(t->best) || (isfinite(vauc) && vauc > t->best)) {
        if ((st = keep_model(t))) return st;
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
 * and loss.png beside the model (under allreduce every process scores its
 * share, the root writes).  The validation scores of the last epoch are
 * reused when its model is the kept one. */
static ndx_status outputs(trainer *t, double *test_auc)
{
    const ndx_train_opts *o = t->o;
    run *r = &t->r;
    char path[4096];
    double vl, va, vauc = t->ep[kept_epoch(t) - 1].val_auc, tl, ta, tauc;
    ndx_status st = NDX_OK;
    if (t->root || !t->kept) {   /* the others read --out only after a resume */
        st = ndx_safetensors_load_into(r->net, o->out, 0);
    } else {
        tensors_copy(r->net, t->kept, 0);
        ndx_net_touch(r->net);
    }
    if (!st && !t->scored_kept) st = ndx__run_evaluate(r, NDX_SPLIT_VAL, &vl, &va, &vauc);
    if (st) return st;
    if (isfinite(vauc) && t->root) {
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
    if ((st = ndx__run_evaluate(r, NDX_SPLIT_TEST, &tl, &ta, &tauc))) return st;
    if (test_auc) *test_auc = tauc;
    if (!t->root) return NDX_OK;
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
        if (!st && o->allreduce) st = check_same(&t, e);
        if (!st) st = validate(&t, e, now_s() - t0, t.batches - b0);
        t.cst.epoch = e + 1, t.cst.batch = 0, t.cst.step = t.opt.step;
        if (!st && t.root) st = save_ckpt(&t);
        if (!st) progress(&t, e, t.batches, t.ep[e].train_loss, &t.ep[e]);
    }
    if (test_auc) *test_auc = NAN;
    if (!st) st = outputs(&t, test_auc);
    trainer_free(&t);
    return st;
}

