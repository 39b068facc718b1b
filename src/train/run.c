/* What training and evaluation share: the data and its split, the batch
 * buffers, the preload (every patch cut and resized once), a batch's
 * input, the scoring of a split; and ndx_eval.
 *
 * Shared work (r->gather, under mpirun): with P processes, process q
 * decodes patches [n q / P, n (q+1) / P) of patches.csv (contiguous, so
 * each decodes about 1/P of the mammograms) and gathers the rest; an
 * evaluation of nb batches gives process q batches [nb q / P,
 * nb (q+1) / P), and the scores, each batch's loss and its correct
 * predictions are gathered and summed in batch order, so every process
 * gets the bits one process running every batch gets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

void ndx__run_free(run *r)
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

ndx_status ndx__run_data(run *r, const char *data_dir, int batch, int classes)
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

/* The first item of share k of P over n items: n k / P (shares differ by one at most). */
static size_t share(size_t n, int k, int P) { return n * (size_t)k / (size_t)P; }

/* Every process's count of n items shared out by `share`, into c (P). */
static void share_counts(size_t n, int P, size_t *c)
{
    for (int q = 0; q < P; q++) c[q] = share(n, q + 1, P) - share(n, q, P);
}

/* r->gather over P = r->parts shares; c (P counts) or the shares of n. */
static ndx_status gather(run *r, void *buf, size_t size, size_t n, const size_t *c)
{
    size_t *own = c ? NULL : malloc((size_t)r->parts * sizeof *own);
    if (!c && !own) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    if (!c) share_counts(n, r->parts, own);
    const ndx_status st = (ndx_status)r->gather(r->gather_ctx, buf, size, c ? c : own);
    free(own);
    return st ? ndx__fail(st, "train: gathering the processes' shares failed (gather)") : NDX_OK;
}

/* Patches [lo, hi) of the index cut and resized into r->pre. */
static ndx_status preload(run *r, size_t lo, size_t hi)
{
    const size_t hw = (size_t)r->S * r->S;
    ndx_status st = NDX_OK;
    char *msg = NULL;
#pragma omp parallel for schedule(static) num_threads(ndx_get_threads())
    for (long i = (long)lo; i < (long)hi; i++) {
        ndx_status s = ndx_patch_load(r->cache, &r->ix, (size_t)i, r->S, r->pre + (size_t)i * hw);
        if (s) {
#pragma omp critical
            if (!st) st = s, msg = ndx__strf("%s", ndx_last_error());
        }
    }
    return st ? ndx__fail_take(st, msg) : NDX_OK;   /* the worker's message, here */
}

ndx_status ndx__run_buffers(run *r, int plan)
{
    r->S = ndx_net_input_size(r->net);
    r->last = ndx_net_num_nodes(r->net) - 1;
    const size_t hw = (size_t)r->S * r->S, px = (size_t)r->B * hw;
    r->gray = ndx_alloc(px * sizeof *r->gray);
    r->x = ndx_alloc(3 * px * sizeof *r->x);
    if (!r->gray || !r->x) return ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    if (r->ix.n <= PRELOAD_MAX / sizeof(float) / hw) {
        r->pre = ndx_alloc(r->ix.n * hw * sizeof *r->pre);   /* NULL: use the cache */
        if (!r->pre && r->gather)   /* the others preload: this one must too */
            return ndx__fail(NDX_ERR_NOMEM, "train: out of memory preloading %zu patches",
                             r->ix.n);
        const int P = r->gather ? r->parts : 1, q = r->gather ? r->rank : 0;
        ndx_status st = r->pre ? preload(r, share(r->ix.n, q, P), share(r->ix.n, q + 1, P))
                               : NDX_OK;
        if (!st && r->gather) st = gather(r, r->pre, hw * sizeof *r->pre, r->ix.n, NULL);
        if (st) return st;
        if (r->pre) {   /* the decoded images are not needed any more */
            ndx_patch_cache_free(r->cache);
            r->cache = NULL;
        }
    }
    return ndx_net_plan(r->net, r->B, plan);
}

ndx_status ndx__run_batch(run *r, const size_t *ids, const int *flip, int n)
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

int ndx__argmax(const float *z, int K)
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

/* Batches [b0, b1) of split s's n patches scored: r->scores, and per
 * batch its loss and correct predictions in lr[2 b], lr[2 b + 1]. */
static ndx_status score_batches(run *r, int s, size_t b0, size_t b1, double *lr)
{
    const size_t n = r->nidx[s], B = (size_t)r->B;
    for (size_t b = b0; b < b1; b++) {
        const size_t k0 = b * B;
        const int m = (int)(n - k0 < B ? n - k0 : B);
        ndx_status st = ndx__run_batch(r, r->idx[s] + k0, NULL, m);
        if (!st) st = ndx_net_forward(r->net, r->x, NDX_EVAL, -1);
        ndx_tensor lg;
        if (!st) st = ndx_net_output(r->net, r->last, &lg);
        if (!st) st = ndx_softmax_xent(m, r->K, lg.data, r->eval_class + k0, NULL, NULL, lr + 2 * b);
        if (st) return st;
        lr[2 * b + 1] = 0;
        for (int i = 0; i < m; i++) {
            const float *z = lg.data + (size_t)i * r->K;
            r->scores[k0 + i] = cancer_prob(z, r->K);
            lr[2 * b + 1] += ndx__argmax(z, r->K) == r->eval_class[k0 + i];
        }
    }
    return NDX_OK;
}

ndx_status ndx__run_evaluate(run *r, int s, double *loss, double *acc, double *auc)
{
    const size_t n = r->nidx[s], B = (size_t)r->B, nb = (n + B - 1) / B;
    if (n == 0) {
        *loss = *acc = *auc = NAN;
        return NDX_OK;
    }
    for (size_t k = 0; k < n; k++) {
        const ndx_patch *p = &r->ix.patches[r->idx[s][k]];
        r->eval_labels[k] = p->label != 0;
        r->eval_class[k] = ndx_patch_class(p, r->K);
    }
    const int P = r->gather ? r->parts : 1, q = r->gather ? r->rank : 0;
    double *lr = malloc(2 * nb * sizeof *lr);
    size_t *c = malloc((size_t)P * sizeof *c);
    ndx_status st = lr && c ? score_batches(r, s, share(nb, q, P), share(nb, q + 1, P), lr)
                            : ndx__fail(NDX_ERR_NOMEM, "train: out of memory");
    if (!st && r->gather) {   /* patches of each process's batches, then the batches */
        for (int k = 0; k < P; k++) {
            const size_t e0 = share(nb, k, P) * B, e1 = share(nb, k + 1, P) * B;
            c[k] = (e1 < n ? e1 : n) - (e0 < n ? e0 : n);
        }
        st = gather(r, r->scores, sizeof *r->scores, n, c);
        if (!st) st = gather(r, lr, 2 * sizeof *lr, nb, NULL);
    }
    ndx_mean ml = {0};
    double right = 0;
    for (size_t b = 0; b < nb && !st; b++) {
        ndx_mean_add(&ml, lr[2 * b], (int)(n - b * B < B ? n - b * B : B));
        right += lr[2 * b + 1];
    }
    free(lr);
    free(c);
    if (st) return st;
    *loss = ndx_mean_value(&ml);
    *acc = right / (double)n;
    if (ndx_auc(r->scores, r->eval_labels, n, auc) != NDX_OK) *auc = NAN;
    return NDX_OK;
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
    if (!st) st = ndx__run_data(&r, data_dir, batch, K);
    r.net = net;
    if (!st) st = ndx__run_buffers(&r, NDX_PLAN_INFER);
    if (st) goto done;
    size_t n = r.nidx[split];
    if (n == 0) {
        st = ndx__fail(NDX_ERR_INVALID, "no %s patches in %s/patches.csv", ndx_split_name(split),
                       data_dir);
        goto done;
    }
    double loss, acc, au;
    if ((st = ndx__run_evaluate(&r, split, &loss, &acc, &au))) goto done;
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
    ndx__run_free(&r);
    return st;
}

