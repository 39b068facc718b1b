/* JSON output on cJSON: numbers that may be NaN (written as null) and a
 * tree written to a file through the safe-write routine (file.c).  Any
 * stage's JSON (metrics.json, units.json, reports) can use these. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "io.h"

int ndx__json_num(cJSON *obj, const char *key, double v)
{
    cJSON *x = isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
    if (x && cJSON_AddItemToObject(obj, key, x)) return 1;
    cJSON_Delete(x);
    return 0;
}

ndx_status ndx__json_write(const char *path, const cJSON *root)
{
    char *text = root ? cJSON_Print(root) : NULL;
    if (!text) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    ndx__out o;
    ndx_status st = ndx__out_open(&o, path, 0);
    if (!st) {
        ndx__out_put(&o, text, strlen(text));
        ndx__out_put(&o, "\n", 1);
        st = ndx__out_commit(&o);
    }
    cJSON_free(text);
    return st;
}
