/* metrics.json through cJSON: every epoch's numbers, the best epoch by
 * validation AUC, and the test AUC when measured.  NAN is written as null. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static int add_num(cJSON *o, const char *key, double v)
{
    cJSON *x = isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
    return x && cJSON_AddItemToObject(o, key, x);
}

ndx_status ndx_metrics_write_json(const char *path, const ndx_epoch_metrics *ep,
                                  int n_epochs, double test_auc)
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
        ok = cJSON_AddNumberToObject(o, "epoch", m->epoch) && add_num(o, "lr", m->lr) &&
             add_num(o, "train_loss", m->train_loss) &&
             add_num(o, "train_accuracy", m->train_accuracy) &&
             add_num(o, "val_loss", m->val_loss) &&
             add_num(o, "val_accuracy", m->val_accuracy) &&
             add_num(o, "val_auc", m->val_auc) && add_num(o, "seconds", m->seconds) &&
             add_num(o, "images_per_s", m->images_per_s);
        if (isfinite(m->val_auc) && (best < 0 || m->val_auc > ep[best].val_auc)) best = i;
    }
    ok = ok && (best >= 0 ? cJSON_AddNumberToObject(root, "best_epoch", ep[best].epoch) != NULL
                          : cJSON_AddNullToObject(root, "best_epoch") != NULL) &&
         add_num(root, "best_val_auc", best >= 0 ? ep[best].val_auc : NAN) &&
         add_num(root, "test_auc", test_auc);
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return ndx__fail(NDX_ERR_NOMEM, "metrics.json %s: out of memory", path);
    ndx__atomic a;
    ndx_status st = ndx__atomic_open(&a, path, "metrics.json");
    if (st) {
        cJSON_free(text);
        return st;
    }
    size_t len = strlen(text);
    ok = fwrite(text, 1, len, a.f) == len && fputc('\n', a.f) != EOF;
    cJSON_free(text);
    if (!ok) {
        int e = errno;
        ndx__atomic_abort(&a);
        return ndx__fail(NDX_ERR_IO, "metrics.json %s: writing failed: %s", path, strerror(e));
    }
    return ndx__atomic_commit(&a);
}
