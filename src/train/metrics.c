/* Evaluation metrics: ROC curve and AUC (exact, ties as in the Mann-Whitney
 * statistic), accuracy, a running mean (of losses), and metrics.json (every
 * epoch's numbers, the best epoch by validation AUC, the test AUC; NaN is
 * written as null).
 *
 * AUC: with the samples sorted by score, descending, and grouped by equal
 * score g (p_g positives, n_g negatives, b_g negatives scoring lower),
 *   U = sum_g p_g * (b_g + n_g / 2),     AUC = U / (P * N),
 * which is also the trapezoid area under the ROC curve whose points are the
 * (fp/N, tp/P) totals after each group.  2U is kept as an exact integer. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "../io/io.h"

typedef struct { float s; int y; } scored;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

ndx_status ndx_roc(const float *scores, const int *labels, size_t n, double *fpr,
                   double *tpr, float *thr, size_t cap, size_t *npoints,
                   double *auc)
{
    if (!scores || !labels || !npoints)
        return ndx__fail(NDX_ERR_INVALID, "roc: scores, labels and npoints must not be NULL");
    *npoints = 0;
    if ((fpr || tpr || thr) && cap < n + 1)
        return ndx__fail(NDX_ERR_INVALID, "roc: room for %zu points, need n + 1 = %zu",
                         cap, n + 1);
    uint64_t pos = 0, neg = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return ndx__fail(NDX_ERR_INVALID, "roc: label %zu is %d, expected 0 or 1",
                             i, labels[i]);
        if (!isfinite(scores[i]))
            return ndx__fail(NDX_ERR_INVALID, "roc: score %zu is %g, expected a finite number",
                             i, (double)scores[i]);
        pos += labels[i] == 1;
    }
    neg = n - pos;
    if (pos == 0 || neg == 0)
        return ndx__fail(NDX_ERR_INVALID,
                         "roc: %llu positives and %llu negatives among %zu samples: "
                         "AUC needs both classes",
                         (unsigned long long)pos, (unsigned long long)neg, n);
    scored *v = malloc(n * sizeof *v);
    if (!v) return ndx__fail(NDX_ERR_NOMEM, "roc: out of memory for %zu samples", n);
    for (size_t i = 0; i < n; i++) v[i] = (scored){scores[i], labels[i]};
    qsort(v, n, sizeof *v, by_score_desc);

    uint64_t tp = 0, fp = 0, u2 = 0;   /* u2 = 2U */
    size_t k = 0;
    if (fpr) fpr[0] = 0.0;
    if (tpr) tpr[0] = 0.0;
    if (thr) thr[0] = INFINITY;
    k = 1;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t pg = 0, ng = 0;
        for (; j < n && v[j].s == v[i].s; j++) {
            pg += v[j].y;
            ng += 1 - v[j].y;
        }
        uint64_t below = neg - fp - ng;
        u2 += pg * (2 * below + ng);
        tp += pg;
        fp += ng;
        if (fpr) fpr[k] = (double)fp / (double)neg;
        if (tpr) tpr[k] = (double)tp / (double)pos;
        if (thr) thr[k] = v[i].s;
        k++;
        i = j;
    }
    free(v);
    *npoints = k;
    if (auc) *auc = (double)u2 / (2.0 * (double)pos * (double)neg);
    return NDX_OK;
}

ndx_status ndx_auc(const float *scores, const int *labels, size_t n, double *auc)
{
    size_t np;
    if (!auc) return ndx__fail(NDX_ERR_INVALID, "auc: auc must not be NULL");
    return ndx_roc(scores, labels, n, NULL, NULL, NULL, 0, &np, auc);
}

ndx_status ndx_accuracy(const float *logits, const int *labels, size_t n,
                        int classes, double *acc)
{
    if (!logits || !labels || !acc || n == 0 || classes < 1)
        return ndx__fail(NDX_ERR_INVALID,
                         "accuracy: need logits, labels, acc, n > 0 (got %zu) and "
                         "classes >= 1 (got %d)", n, classes);
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        const float *x = logits + i * (size_t)classes;
        if (labels[i] < 0 || labels[i] >= classes)
            return ndx__fail(NDX_ERR_INVALID, "accuracy: label %zu is %d, expected 0..%d",
                             i, labels[i], classes - 1);
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (x[c] > x[best]) best = c;
        right += best == labels[i];
    }
    *acc = (double)right / (double)n;
    return NDX_OK;
}

void ndx_mean_add(ndx_mean *m, double value, double weight)
{
    m->sum += value * weight;
    m->weight += weight;
}

double ndx_mean_value(const ndx_mean *m)
{
    return m->weight > 0 ? m->sum / m->weight : NAN;
}

/* ---- metrics.json ------------------------------------------------------- */

/* The run's options and the kept model into root; 0 when out of memory. */
static int info_json(cJSON *root, const ndx_metrics_info *in)
{
    static const char *const sel_note =
        "the kept model is the epoch of best validation AUC: selected on the validation "
        "split, its validation AUC is optimistic, and so is a dissection of that split "
        "with it; the test AUC, or --keep last, is unbiased";
    const char *auc_of = in->classes == 3 ? "malignant (class 2) vs no cancer and benign "
                                            "(classes 0, 1); score softmax(z)[2]"
                                          : "malignant (class 1) vs not; score softmax(z)[1]";
    return cJSON_AddNumberToObject(root, "classes", in->classes) &&
           cJSON_AddStringToObject(root, "auc_of", auc_of) &&
           cJSON_AddStringToObject(root, "sampler", in->sampler == NDX_SAMPLER_BALANCED
                                                        ? "balanced" : "shuffle") &&
           cJSON_AddNumberToObject(root, "lr_step", in->lr_step) &&
           ndx__json_num(root, "lr_gamma", in->lr_step ? in->lr_gamma : NAN) &&
           cJSON_AddStringToObject(root, "kept", in->keep == NDX_KEEP_LAST ? "last" : "best") &&
           (in->kept_epoch > 0 ? cJSON_AddNumberToObject(root, "kept_epoch", in->kept_epoch)
                               : cJSON_AddNullToObject(root, "kept_epoch")) &&
           (in->keep == NDX_KEEP_LAST ? cJSON_AddNullToObject(root, "selection_note")
                                      : cJSON_AddStringToObject(root, "selection_note",
                                                                sel_note));
}

ndx_status ndx_metrics_write_json(const char *path, const ndx_epoch_metrics *ep,
                                  int n_epochs, double test_auc, const ndx_metrics_info *info)
{
    if (!path || n_epochs < 0 || (n_epochs && !ep))
        return ndx__fail(NDX_ERR_INVALID, "metrics.json: need a path and %d epochs", n_epochs);
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    int ok = root && arr && cJSON_AddItemToObject(root, "epochs", arr);
    if (!ok) cJSON_Delete(arr);
    int best = -1;
    for (int i = 0; ok && i < n_epochs; i++) {
        const ndx_epoch_metrics *m = &ep[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(arr, o);
        if (!ok) {
            cJSON_Delete(o);
            break;
        }
        ok = cJSON_AddNumberToObject(o, "epoch", m->epoch) && ndx__json_num(o, "lr", m->lr) &&
             ndx__json_num(o, "train_loss", m->train_loss) &&
             ndx__json_num(o, "train_accuracy", m->train_accuracy) &&
             ndx__json_num(o, "val_loss", m->val_loss) &&
             ndx__json_num(o, "val_accuracy", m->val_accuracy) &&
             ndx__json_num(o, "val_auc", m->val_auc) && ndx__json_num(o, "seconds", m->seconds) &&
             ndx__json_num(o, "images_per_s", m->images_per_s);
        if (isfinite(m->val_auc) && (best < 0 || m->val_auc > ep[best].val_auc)) best = i;
    }
    ok = ok && (best >= 0 ? cJSON_AddNumberToObject(root, "best_epoch", ep[best].epoch) != NULL
                          : cJSON_AddNullToObject(root, "best_epoch") != NULL) &&
         ndx__json_num(root, "best_val_auc", best >= 0 ? ep[best].val_auc : NAN) &&
         ndx__json_num(root, "test_auc", test_auc) && (!info || info_json(root, info));
    ndx_status st = ok ? ndx__json_write(path, root)
                       : ndx__fail(NDX_ERR_NOMEM, "metrics.json %s: out of memory", path);
    cJSON_Delete(root);
    return st;
}
