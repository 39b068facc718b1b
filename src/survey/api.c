/* The JSON API of the survey pages:
 *   GET  /api/answer?unit=U[&reader=R]
 *        -> {"unit":U,"reader":R,"revision":n,"revisions":n,"answer":{...}|null}
 *   POST /api/answer  {"unit":U,"answer":{...},"seconds":s[,"reader":R]}
 *        -> {"unit":U,"revision":n}
 * A reader reads and writes only their own answers (admins may read
 * anyone's); a POST is checked whole before anything is stored: size, JSON,
 * the fields and their types, duplicate keys, the unit, then the answer
 * itself (ndx__survey_answer_check through the save).  Errors are 4xx
 * {"error": ..., "field": ...}. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

#define JSON "application/json; charset=utf-8"

/* The first key that appears twice in any object of v, or NULL. */
static const char *duplicate_key(const cJSON *v)
{
    const cJSON *a, *b;
    cJSON_ArrayForEach(a, v) {
        if (cJSON_IsObject(v))
            for (b = a->next; b; b = b->next)
                if (!strcmp(a->string, b->string)) return a->string;
        const char *d = duplicate_key(a);
        if (d) return d;
    }
    return NULL;
}

/* An integer id >= 1 held exactly by a JSON number; 0 otherwise. */
static int64_t json_id(const cJSON *v)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 1 && d <= 9007199254740992.0) || d != floor(d)) return 0;
    return (int64_t)d;
}

void ndx__api_answer_get(ndx__web *w, const ndx__req *q, ndx__reply *r)
{
    int64_t unit = ndx__web_id(q->query_unit);
    int64_t reader = q->query_reader ? ndx__web_id(q->query_reader) : q->me->id;
    if (!unit) {
        ndx__reply_error(r, 400, "unit", "unit must be a unit id (?unit=N)");
        return;
    }
    if (!reader) {
        ndx__reply_error(r, 400, "reader", "reader must be a reader id");
        return;
    }
    if (reader != q->me->id && !q->me->admin) {
        ndx__reply_error(r, 403, "reader", "readers may read only their own answers");
        return;
    }
    ndx__survey_unit *u = malloc(sizeof *u);
    ndx__survey_answer a = {0};
    ndx_status st = u ? ndx__survey_unit_get(ndx__web_rd(w), unit, reader, u) : NDX_ERR_NOMEM;
    free(u);
    if (st == NDX_ERR_INVALID) {
        ndx__reply_error(r, 404, "unit", "unit %lld is not in the survey", (long long)unit);
        return;
    }
    if (st == NDX_OK) st = ndx__survey_answer_current(ndx__web_rd(w), reader, unit, &a);
    if (st != NDX_OK) {
        ndx__reply_error(r, 500, NULL, "%s", ndx_last_error());
        return;
    }
    ndx__sb b = {0};
    ndx__sb_printf(&b, "{\"unit\":%lld,\"reader\":%lld,\"revision\":%lld,\"revisions\":%lld,"
                       "\"answer\":",
                   (long long)unit, (long long)reader, (long long)a.revision,
                   (long long)a.revisions);
    ndx__sb_put(&b, a.json ? a.json : "null");
    ndx__sb_put(&b, "}\n");
    ndx__survey_answer_free(&a);
    ndx__reply_sb(r, 200, JSON, &b);
}

/* The envelope's fields, checked; 0 and a reply on failure. */
static int envelope(const ndx__req *q, const cJSON *o, int64_t *unit, const cJSON **answer,
                    double *seconds, ndx__reply *r)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, o) {
        if (!strcmp(f->string, "unit") || !strcmp(f->string, "answer") ||
            !strcmp(f->string, "seconds") || !strcmp(f->string, "reader"))
            continue;
        ndx__reply_error(r, 400, f->string, "unknown field '%.64s'", f->string);
        return 0;
    }
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(o, "reader");
    if (rd && json_id(rd) != q->me->id) {
        ndx__reply_error(r, rd && json_id(rd) ? 403 : 400, "reader",
                         json_id(rd) ? "readers may write only their own answers"
                                     : "reader must be an integer id");
        return 0;
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "unit");
    if (!f || !(*unit = json_id(f))) {
        ndx__reply_error(r, 400, "unit", f ? "unit must be an integer >= 1" : "unit is missing");
        return 0;
    }
    *answer = cJSON_GetObjectItemCaseSensitive(o, "answer");
    if (!cJSON_IsObject(*answer)) {
        ndx__reply_error(r, 400, "answer", *answer ? "answer must be an object"
                                                   : "answer is missing");
        return 0;
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "seconds");
    if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble) || f->valuedouble < 0 ||
        f->valuedouble > 86400.0 * 365) {
        ndx__reply_error(r, 400, "seconds", f ? "seconds must be a number in 0..31536000"
                                              : "seconds is missing");
        return 0;
    }
    *seconds = f->valuedouble;
    return 1;
}

/* The store checks the unit (NDX_ERR_INVALID: not in the survey) and the
 * answer (NDX_ERR_FORMAT, naming the field) before anything is stored. */
static void save(ndx__web *w, const ndx__req *q, int64_t unit, const cJSON *answer,
                 double seconds, ndx__reply *r)
{
    char *json = cJSON_PrintUnformatted(answer);
    int64_t rev = 0;
    ndx_status st = json ? ndx__survey_answer_save(w->db, q->me->id, unit, json, strlen(json),
                                                   seconds, &rev)
                         : NDX_ERR_NOMEM;
    free(json);
    if (st == NDX_ERR_INVALID) {
        ndx__reply_error(r, 404, "unit", "unit %lld is not in the survey", (long long)unit);
        return;
    }
    if (st == NDX_ERR_FORMAT) {
        ndx__reply_error(r, 400, "answer", "%s", ndx_last_error());
        return;
    }
    if (st != NDX_OK) {
        ndx__reply_error(r, st == NDX_ERR_NOMEM ? 500 : 503, NULL, "%s", ndx_last_error());
        return;
    }
    ndx__sb b = {0};
    ndx__sb_printf(&b, "{\"unit\":%lld,\"revision\":%lld}\n", (long long)unit, (long long)rev);
    ndx__reply_sb(r, 200, JSON, &b);
}

void ndx__api_answer_post(ndx__web *w, const ndx__req *q, ndx__reply *r)
{
    if (memchr(q->body, 0, q->body_len)) {
        ndx__reply_error(r, 400, NULL, "the body holds a NUL byte");
        return;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(q->body, &end, 1);
    if (!o) {
        size_t at = end && end >= q->body ? (size_t)(end - q->body) : 0;
        ndx__reply_error(r, 400, NULL, "malformed JSON near byte %zu", at);
        return;
    }
    const char *dup = duplicate_key(o);
    int64_t unit = 0;
    const cJSON *answer = NULL;
    double seconds = 0;
    if (!cJSON_IsObject(o))
        ndx__reply_error(r, 400, NULL, "the body must be a JSON object");
    else if (dup)
        ndx__reply_error(r, 400, dup, "field '%.64s' appears twice", dup);
    else if (envelope(q, o, &unit, &answer, &seconds, r))
        save(w, q, unit, answer, seconds, r);
    cJSON_Delete(o);
}
