/* netdx survey export: the answers as answers.jsonl or answers.csv, the
 * contract with `netdx report` (docs/survey.md, "Export").  One record per
 * current answer (the latest revision per reader and survey unit), or per
 * revision with history.  Written to a temporary file and renamed. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netdx_survey.h"
#include "survey.h"
#include "../core/core.h"
#include "../io/io.h"

#define FORMAT "netdx-survey-answers/1"

typedef struct unit_ref {
    int64_t id;
    int set, unit, repeat;
} unit_ref;

typedef struct exporter {
    ndx__survey_db *db;
    ndx__survey_meta meta;
    ndx__survey_reader *readers;
    int nreaders;
    ndx__survey_set *sets;
    int nsets;
    unit_ref *units;            /* sorted by id */
    int nunits;
    FILE *f;
    int csv, max_phenomena;
    long records;
} exporter;

static int by_id(const void *a, const void *b)
{
    const int64_t x = ((const unit_ref *)a)->id, y = ((const unit_ref *)b)->id;
    return x < y ? -1 : x > y;
}

static ndx_status load_refs(exporter *e)
{
    ndx_status s = ndx__survey_get_meta(e->db, &e->meta);
    if (!s) s = ndx__survey_reader_list(e->db, &e->readers, &e->nreaders);
    if (!s) s = ndx__survey_sets(e->db, &e->sets, &e->nsets);
    for (int i = 0; i < e->nsets && !s; i++) {
        ndx__survey_unit *u;
        int n;
        if ((s = ndx__survey_units(e->db, e->sets[i].id, 0, 0, &u, &n))) break;
        unit_ref *p = realloc(e->units, (size_t)(e->nunits + n + 1) * sizeof *p);
        if (!p) {
            free(u);
            return ndx__fail(NDX_ERR_NOMEM, "export: out of memory");
        }
        e->units = p;
        for (int j = 0; j < n; j++) e->units[e->nunits++] = (unit_ref){u[j].id, i, u[j].unit, u[j].repeat_of != 0};
        free(u);
    }
    if (!s && e->nunits) qsort(e->units, (size_t)e->nunits, sizeof *e->units, by_id);
    return s;
}

static const ndx__survey_reader *find_reader(const exporter *e, int64_t id)
{
    for (int i = 0; i < e->nreaders; i++)
        if (e->readers[i].id == id) return &e->readers[i];
    return NULL;
}

static const unit_ref *find_unit(const exporter *e, int64_t id)
{
    const unit_ref key = {id, 0, 0, 0};
    return e->nunits ? bsearch(&key, e->units, (size_t)e->nunits, sizeof key, by_id) : NULL;
}

/* One record as a cJSON object, fields in the contract's order. */
static cJSON *record(const exporter *e, const ndx__survey_answer *a)
{
    const ndx__survey_reader *r = find_reader(e, a->reader_id);
    const unit_ref *u = find_unit(e, a->unit_id);
    cJSON *ans = a->json ? cJSON_Parse(a->json) : NULL;
    if (!r || !u || !cJSON_IsObject(ans)) {
        cJSON_Delete(ans);
        ndx__fail(NDX_ERR_FORMAT, "%s: answer of reader %lld to unit %lld: %s", ndx__survey_path(e->db),
                  (long long)a->reader_id, (long long)a->unit_id,
                  !r ? "unknown reader" : !u ? "unknown unit" : "stored JSON unreadable");
        return NULL;
    }
    const ndx__survey_set *set = &e->sets[u->set];
    char first[24], last[24];
    ndx__iso_time(a->first_saved, first);
    ndx__iso_time(a->saved, last);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", FORMAT);
    cJSON_AddStringToObject(o, "survey", e->meta.id);
    cJSON_AddBoolToObject(o, "simulated", r->simulated);
    cJSON_AddStringToObject(o, "reader", r->name);
    cJSON_AddNumberToObject(o, "reader_id", (double)r->id);
    cJSON_AddStringToObject(o, "role", r->role);
    cJSON_AddStringToObject(o, "network", set->network);
    cJSON_AddStringToObject(o, "layer", set->layer);
    cJSON_AddNumberToObject(o, "unit", u->unit);
    cJSON_AddStringToObject(o, "dissection", set->hash);
    cJSON_AddBoolToObject(o, "repeat", u->repeat);
    cJSON_AddNumberToObject(o, "revision", (double)a->revision);
    cJSON_AddNumberToObject(o, "revisions", (double)a->revisions);
    cJSON_AddStringToObject(o, "first_saved", first);
    cJSON_AddStringToObject(o, "last_saved", last);
    cJSON_AddNumberToObject(o, "seconds_spent", round(a->seconds_total * 1000) / 1000);   /* to the ms */
    static const char *const keys[] = {"recognizable", "association", "multiplicity", "phenomena", "comment"};
    for (int i = 0; i < 5; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(ans, keys[i]);
        if (!v) v = i == 3 ? cJSON_CreateArray() : i == 4 ? cJSON_CreateString("") : cJSON_CreateNull();
        cJSON_AddItemToObject(o, keys[i], v);
    }
    cJSON_Delete(ans);
    return o;
}

/* ---- CSV ------------------------------------------------------------------------------- */
static void csv_field(FILE *f, const char *s, int first)
{
    if (!first) fputc(',', f);
    ndx__csv_put(f, s);
}

/* A scalar as CSV text: strings as they are, null empty, bools true/false,
 * numbers as JSON writes them. */
static void csv_value(FILE *f, const cJSON *v)
{
    if (!v || cJSON_IsNull(v)) csv_field(f, "", 0);
    else if (cJSON_IsString(v)) csv_field(f, v->valuestring, 0);
    else if (cJSON_IsBool(v)) csv_field(f, cJSON_IsTrue(v) ? "true" : "false", 0);
    else {
        char *t = cJSON_PrintUnformatted(v);
        csv_field(f, t ? t : "", 0);
        cJSON_free(t);
    }
}

static void csv_header(exporter *e)
{
    static const char *const cols[] = {"format", "survey", "simulated", "reader", "reader_id", "role",
                                       "network", "layer", "unit", "dissection", "repeat", "revision",
                                       "revisions", "first_saved", "last_saved", "seconds_spent",
                                       "recognizable", "association", "multiplicity"};
    for (int i = 0; i < 19; i++) csv_field(e->f, cols[i], i == 0);
    static const char *const sub[] = {"descriptors", "text", "association", "confidence"};
    for (int p = 1; p <= e->max_phenomena; p++)
        for (int k = 0; k < 4; k++) fprintf(e->f, ",phenomenon_%d_%s", p, sub[k]);
    fputs(",comment\r\n", e->f);
}

static void csv_record(exporter *e, const cJSON *o)
{
    int i = 0;
    for (const cJSON *c = o->child; c && i < 19; c = c->next, i++) {
        if (i == 0) csv_field(e->f, c->valuestring, 1);
        else csv_value(e->f, c);
    }
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(o, "phenomena");
    const cJSON *p = ph ? ph->child : NULL;
    for (int j = 0; j < e->max_phenomena; j++, p = p ? p->next : NULL) {
        const cJSON *d = p ? cJSON_GetObjectItemCaseSensitive(p, "descriptors") : NULL;
        size_t len = 1;
        for (const cJSON *x = d ? d->child : NULL; x; x = x->next) len += strlen(x->valuestring) + 1;
        char *ids = malloc(len);
        if (ids) {
            ids[0] = 0;
            for (const cJSON *x = d ? d->child : NULL; x; x = x->next) {
                if (ids[0]) strcat(ids, ";");
                strcat(ids, x->valuestring);
            }
        }
        csv_field(e->f, p && ids ? ids : "", 0);
        free(ids);
        csv_value(e->f, p ? cJSON_GetObjectItemCaseSensitive(p, "text") : NULL);
        csv_value(e->f, p ? cJSON_GetObjectItemCaseSensitive(p, "association") : NULL);
        csv_value(e->f, p ? cJSON_GetObjectItemCaseSensitive(p, "confidence") : NULL);
    }
    csv_value(e->f, cJSON_GetObjectItemCaseSensitive(o, "comment"));
    fputs("\r\n", e->f);
}

/* ---- the walk ------------------------------------------------------------------------------ */
static int count_phenomena(void *ctx, const ndx__survey_answer *a)
{
    exporter *e = ctx;
    cJSON *ans = a->json ? cJSON_Parse(a->json) : NULL;
    const int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ans, "phenomena"));
    if (n > e->max_phenomena) e->max_phenomena = n;
    cJSON_Delete(ans);
    return 0;
}

static int write_one(void *ctx, const ndx__survey_answer *a)
{
    exporter *e = ctx;
    cJSON *o = record(e, a);
    if (!o) return NDX_ERR_FORMAT;
    if (e->csv) {
        csv_record(e, o);
    } else {
        char *t = cJSON_PrintUnformatted(o);
        if (!t) {
            cJSON_Delete(o);
            ndx__fail(NDX_ERR_NOMEM, "export: out of memory");
            return NDX_ERR_NOMEM;
        }
        fputs(t, e->f);
        fputc('\n', e->f);
        cJSON_free(t);
    }
    cJSON_Delete(o);
    e->records++;
    return ferror(e->f) ? ndx__fail(NDX_ERR_IO, "export: write error") : 0;
}

static ndx_status write_file(exporter *e, const char *out, int history)
{
    ndx_status s = NDX_OK;
    if (e->csv) s = ndx__survey_answers(e->db, 0, history, count_phenomena, e);
    if (s) return s;
    ndx__out o;
    if ((s = ndx__out_open(&o, out, 0))) return s;
    e->f = o.f;
    if (e->csv) csv_header(e);
    s = ndx__survey_answers(e->db, 0, history, write_one, e);
    e->f = NULL;
    if (s) {
        ndx__out_abort(&o);
        return s;
    }
    return ndx__out_commit(&o);   /* syncs, renames over out */
}

ndx_status ndx_survey_export(const char *db, const char *out, int history, long *records)
{
    if (records) *records = 0;
    const size_t n = out ? strlen(out) : 0;
    const int csv = n > 4 && !strcmp(out + n - 4, ".csv");
    if (!csv && !(n > 6 && !strcmp(out + n - 6, ".jsonl")))
        return ndx__fail(NDX_ERR_INVALID, "export: --out '%s': must end in .jsonl or .csv", out ? out : "");
    exporter e = {.csv = csv};
    ndx_ioplan *plan = NULL;   /* --out is not the database, and is locked */
    ndx_status s = ndx_ioplan_new("survey export", &plan);
    if (!s) s = ndx_ioplan_input(plan, "--db", db, NULL);
    if (!s) s = ndx_ioplan_output(plan, "--out", out, NDX_OUT_FILE);
    if (!s) s = ndx_ioplan_begin(plan);
    if (!s) s = ndx__survey_open(&e.db, db, 0, 1);
    if (!s) s = load_refs(&e);
    if (!s) s = write_file(&e, out, history);
    if (!s && records) *records = e.records;
    ndx__survey_close(e.db);
    ndx_ioplan_free(plan);
    free(e.readers), free(e.sets), free(e.units);
    return s;
}
