/* The public reader calls (netdx_survey.h): each opens the survey, does one
 * thing through the store and closes it. */
#include <stdlib.h>
#include <string.h>

#include "netdx_survey.h"
#include "survey.h"
#include "../core/core.h"

ndx_status ndx_survey_reader_add(const char *db, const char *name, const char *role, int admin, char *token,
                                 int64_t *id)
{
    ndx__survey_db *d;
    ndx_status s = ndx__survey_open(&d, db, 0, 0);
    if (s) return s;
    s = ndx__survey_reader_add(d, name, role, admin, 0, token, id);
    ndx__survey_close(d);
    return s;
}

ndx_status ndx_survey_reader_disable(const char *db, const char *name)
{
    ndx__survey_db *d;
    ndx_status s = ndx__survey_open(&d, db, 0, 0);
    if (s) return s;
    s = ndx__survey_reader_disable(d, name);
    ndx__survey_close(d);
    return s;
}

ndx_status ndx_survey_reader_list(const char *db, ndx_survey_reader_info **out, int *n)
{
    *out = NULL, *n = 0;
    ndx__survey_db *d;
    ndx_status s = ndx__survey_open(&d, db, 0, 1);
    if (s) return s;
    ndx__survey_reader *r = NULL;
    ndx__survey_progress *p = NULL;
    int nr = 0, np = 0;
    if (!(s = ndx__survey_reader_list(d, &r, &nr)) && !(s = ndx__survey_progress_get(d, 0, &p, &np)) &&
        !(*out = calloc(nr ? (size_t)nr : 1, sizeof **out)))
        s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", db);
    for (int i = 0; !s && i < nr; i++) {
        ndx_survey_reader_info *o = &(*out)[i];
        o->id = r[i].id;
        memcpy(o->name, r[i].name, sizeof o->name);
        memcpy(o->role, r[i].role, sizeof o->role);
        o->admin = r[i].admin, o->disabled = r[i].disabled, o->simulated = r[i].simulated;
        for (int j = 0; j < np; j++)
            if (p[j].reader_id == r[i].id) o->answered += p[j].answered, o->total += p[j].total;
    }
    if (!s) *n = nr;
    else free(*out), *out = NULL;
    free(r), free(p);
    ndx__survey_close(d);
    return s;
}
