/* Reading the report's inputs: the dissection folders' units.csv (rows,
 * IoU per mask kind, the file's XXH3-64) and the survey's answers.jsonl
 * (the export contract, docs/report.md), every line and field checked.
 * Errors name the file, the line and the field. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

const char *const ndx__rp_q1_names[RP_Q1_N] = {"yes", "no", "unsure"};
const char *const ndx__rp_as_names[RP_AS_N] = {"malignant", "benign", "both", "none", "unsure"};
const char *const ndx__rp_q3_names[RP_Q3_N] = {"single", "multiple"};

static ndx_status slurp(const char *path, char **text, size_t *len)
{
    return ndx__read_all(path, 1ull << 32, text, len);
}

static void hex64(char out[17], uint64_t h)
{
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- units.csv ----------------------------------------------------------- */
static ndx_status read_units_csv(rp_dissection *d)
{
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/units.csv", d->dir);
    ndx_status st = slurp(path, &text, &len);
    if (st) return st;
    hex64(d->hex, ndx_hash64(text, len, 0));
    ndx_csv *c;
    st = ndx_csv_open_mem(text, len, path, &c);
    free(text);
    if (st) return st;
    int col[RP_MAX_KINDS], ok = ndx_csv_next(c) == 1;
    ok = ok && ndx_csv_nfields(c) >= 2 && !strcmp(ndx_csv_field(c, 0), "layer") &&
         !strcmp(ndx_csv_field(c, 1), "unit");
    for (int i = 2; ok && i < ndx_csv_nfields(c); i++) {
        const char *h = ndx_csv_field(c, i);
        if (strncmp(h, "iou_", 4) || d->nkinds == RP_MAX_KINDS) continue;
        snprintf(d->kind[d->nkinds], sizeof d->kind[0], "%s", h + 4);
        col[d->nkinds++] = i;
    }
    if (!ok) {
        ndx_csv_close(c);
        return ndx__fail(NDX_ERR_FORMAT, "%s line 1: not a dissection's units.csv (the header "
                         "must start with layer,unit)", path);
    }
    int cap = 0, r;
    while ((r = ndx_csv_next(c)) == 1) {
        if (d->nrows == cap) {
            cap = cap ? 2 * cap : 256;
            rp_drow *rows = realloc(d->rows, (size_t)cap * sizeof *rows);
            if (!rows) {
                ndx_csv_close(c);
                return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
            }
            d->rows = rows;
        }
        rp_drow *row = &d->rows[d->nrows];
        const char *layer = ndx_csv_field(c, 0), *bad = NULL;
        if (!*layer || strlen(layer) >= sizeof row->layer) bad = "layer";
        char *end;
        errno = 0;
        const long u = strtol(ndx_csv_field(c, 1), &end, 10);
        if (!bad && (*end || end == ndx_csv_field(c, 1) || u < 0 || u > 1 << 20 || errno)) bad = "unit";
        for (int k = 0; !bad && k < d->nkinds; k++) {
            const char *v = ndx_csv_field(c, col[k]);
            row->iou[k] = *v ? strtod(v, &end) : NAN;
            if (*v && (*end || !(row->iou[k] >= 0 && row->iou[k] <= 1))) bad = "iou";
        }
        if (bad) {
            const long line = ndx_csv_line(c);
            ndx_csv_close(c);
            return ndx__fail(NDX_ERR_FORMAT, "%s line %ld: bad %s field", path, line, bad);
        }
        snprintf(row->layer, sizeof row->layer, "%s", layer);
        row->unit = (int)u;
        d->nrows++;
    }
    ndx_csv_close(c);
    return r < 0 ? (ndx_status)r : NDX_OK;
}

ndx_status ndx__rp_read_dissections(rp_survey *s, const char *const *dirs, int n)
{
    if (n < 1 || n > 16 || !dirs)
        return ndx__fail(NDX_ERR_INVALID, "report: give 1..16 dissection folders (got %d)", n);
    s->diss = calloc((size_t)n, sizeof *s->diss);
    if (!s->diss) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int i = 0; i < n; i++) {
        s->diss[i].dir = dirs[i];
        s->ndiss++;
        ndx_status st = read_units_csv(&s->diss[i]);
        if (st) return st;
        for (int j = 0; j < i; j++)
            if (!strcmp(s->diss[j].hex, s->diss[i].hex))
                return ndx__fail(NDX_ERR_INVALID, "report: %s and %s hold the same units.csv "
                                 "(hash %s): give each dissection once", dirs[j], dirs[i],
                                 s->diss[i].hex);
    }
    return NDX_OK;
}

/* ---- answers.jsonl ------------------------------------------------------- */
typedef struct ctx {
    rp_survey *s;
    long line;
    const char *prefix;          /* of field names: "" or "phenomena[2]." */
    char field[96];
} ctx;

#define BAD(cx, ...) bad_field(cx, __VA_ARGS__)
__attribute__((format(printf, 2, 3))) static ndx_status bad_field(const ctx *cx, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ndx__fail(NDX_ERR_FORMAT, "%s line %ld, field \"%s\": %s", cx->s->path, cx->line,
                     cx->field, msg);
}

static const cJSON *get(ctx *cx, const cJSON *o, const char *name)
{
    snprintf(cx->field, sizeof cx->field, "%s%s", cx->prefix, name);
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static ndx_status get_string(ctx *cx, const cJSON *o, const char *name, const char **out)
{
    const cJSON *v = get(cx, o, name);
    if (!v) return BAD(cx, "missing");
    if (!cJSON_IsString(v)) return BAD(cx, "expected a string");
    *out = v->valuestring;
    return NDX_OK;
}

static ndx_status get_int(ctx *cx, const cJSON *o, const char *name, long lo, long hi, long *out)
{
    const cJSON *v = get(cx, o, name);
    if (!v) return BAD(cx, "missing");
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return BAD(cx, "expected an integer in %ld..%ld", lo, hi);
    *out = (long)v->valuedouble;
    return NDX_OK;
}

static ndx_status get_bool(ctx *cx, const cJSON *o, const char *name, int *out)
{
    const cJSON *v = get(cx, o, name);
    if (!v) return BAD(cx, "missing");
    if (!cJSON_IsBool(v)) return BAD(cx, "expected true or false");
    *out = cJSON_IsTrue(v);
    return NDX_OK;
}

/* One of names[0..n) or null (-1). */
static ndx_status get_enum(ctx *cx, const cJSON *o, const char *name, const char *const *names,
                           int n, int *out)
{
    const cJSON *v = get(cx, o, name);
    if (!v) return BAD(cx, "missing");
    *out = -1;
    if (cJSON_IsNull(v)) return NDX_OK;
    for (int i = 0; cJSON_IsString(v) && i < n; i++)
        if (!strcmp(v->valuestring, names[i])) {
            *out = i;
            return NDX_OK;
        }
    char list[200] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "", names[i]);
    return BAD(cx, "expected one of %s or null", list);
}

/* ISO-8601 UTC: 2026-12-07T13:45:00Z, fractions of a second allowed. */
static int is_time(const char *t)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0;
    for (; pat[i]; i++)
        if (!t[i] || (pat[i] == 'd' ? !isdigit((unsigned char)t[i]) : t[i] != pat[i])) return 0;
    if (t[i] == '.') {
        const size_t d = ++i;
        while (isdigit((unsigned char)t[i])) i++;
        if (i == d) return 0;
    }
    return !strcmp(t + i, "Z");
}

static int term_index(const ndx_lexicon *lex, const ndx_lexicon_term *t)
{
    int i = 0;
    while (ndx_lexicon_term_at(lex, i) != t) i++;
    return i;
}

/* The text's descriptors, for a phenomenon given without picks. */
static ndx_status map_text(ctx *cx, rp_phen *ph)
{
    ndx_map_result r;
    ndx_status st = ndx_map_text(cx->s->tm, ph->text, &r);
    int *t = st ? NULL : realloc(ph->terms, ((size_t)r.nterms + 1) * sizeof *t);
    if (!st && !t) st = ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    if (t) ph->terms = t;
    for (int k = 0; !st && k < r.nterms; k++) ph->terms[ph->nterms++] = term_index(cx->s->lex, r.terms[k]);
    size_t len = 1;
    for (int w = 0; w < r.nwords; w++) len += strlen(r.words[w]) + 1;
    if (!st && !(ph->unmatched = calloc(len, 1))) st = ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int w = 0; !st && w < r.nwords; w++)
        if (r.word_match[w] == NDX_WORD_UNMATCHED) {
            if (*ph->unmatched) strcat(ph->unmatched, " ");
            strcat(ph->unmatched, r.words[w]);
        }
    ph->from_text = 1;
    ndx_map_result_free(&r);
    return st;
}

static ndx_status read_phenomenon(ctx *cx, const cJSON *p, int i, rp_phen *ph)
{
    char base[40];
    snprintf(base, sizeof base, "phenomena[%d]", i);
    ph->association = ph->confidence = -1;
    if (!cJSON_IsObject(p)) {
        snprintf(cx->field, sizeof cx->field, "%s", base);
        return BAD(cx, "expected an object");
    }
    strcat(base, ".");
    cx->prefix = base;
    const cJSON *d = get(cx, p, "descriptors");
    if (!cJSON_IsArray(d)) return BAD(cx, d ? "expected an array" : "missing");
    const int nd = cJSON_GetArraySize(d);
    ph->terms = malloc(((size_t)nd + 1) * sizeof *ph->terms);
    if (!ph->terms) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int k = 0; k < nd; k++) {
        const cJSON *id = cJSON_GetArrayItem(d, k);
        snprintf(cx->field, sizeof cx->field, "%sdescriptors[%d]", base, k);
        if (!cJSON_IsString(id)) return BAD(cx, "expected a lexicon id (a string)");
        const ndx_lexicon_term *t = ndx_lexicon_find(cx->s->lex, id->valuestring);
        if (!t) return BAD(cx, "unknown lexicon id \"%s\"", id->valuestring);
        const int idx = term_index(cx->s->lex, t);
        int dup = 0;
        for (int j = 0; j < ph->nterms; j++) dup |= ph->terms[j] == idx;
        if (!dup) ph->terms[ph->nterms++] = idx;
    }
    const char *text;
    ndx_status st = get_string(cx, p, "text", &text);
    if (!st) st = get_enum(cx, p, "association", ndx__rp_as_names, RP_AS_N, &ph->association);
    const cJSON *c = st ? NULL : get(cx, p, "confidence");
    if (!st && !c) st = BAD(cx, "missing");
    if (!st && !cJSON_IsNull(c)) {
        long v;
        st = get_int(cx, p, "confidence", 1, 5, &v);
        ph->confidence = (int)v;
    }
    cx->prefix = "";
    if (st) return st;
    if (!(ph->text = strdup(text))) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    return ph->nterms == 0 && *text ? map_text(cx, ph) : NDX_OK;
}

/* The reader of a line: found by reader_id, or added; name, role and
 * simulated must stay the same. */
static ndx_status find_reader(ctx *cx, const char *name, long id, const char *role, int sim,
                              int *out)
{
    rp_survey *s = cx->s;
    for (int i = 0; i < s->nreaders; i++) {
        rp_reader *r = &s->readers[i];
        if (r->id != id) {
            if (!strcmp(r->name, name)) {
                snprintf(cx->field, sizeof cx->field, "reader_id");
                return BAD(cx, "reader \"%s\" has reader_id %ld here but %ld on line %ld", name,
                           id, r->id, r->line);
            }
            continue;
        }
        const char *f = strcmp(r->name, name) ? "reader" : strcmp(r->role, role) ? "role"
                        : r->simulated != sim ? "simulated" : NULL;
        if (f) {
            snprintf(cx->field, sizeof cx->field, "%s", f);
            return BAD(cx, "reader_id %ld is \"%s\" (%s%s) on line %ld; this line disagrees", id,
                       r->name, r->role, r->simulated ? ", simulated" : "", r->line);
        }
        *out = i;
        return NDX_OK;
    }
    rp_reader *r = realloc(s->readers, ((size_t)s->nreaders + 1) * sizeof *r);
    if (!r) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    s->readers = r;
    r += s->nreaders;
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->role, sizeof r->role, "%s", role);
    r->id = id, r->line = cx->line, r->simulated = sim;
    *out = s->nreaders++;
    return NDX_OK;
}

/* The survey unit (dissection, layer, unit), added on first sight; the
 * dissection must be one of the given folders and hold the unit. */
static ndx_status find_unit(ctx *cx, const char *hash, const char *network, const char *layer,
                            long unit, int *out)
{
    rp_survey *s = cx->s;
    int d = 0;
    while (d < s->ndiss && strcmp(s->diss[d].hex, hash)) d++;
    snprintf(cx->field, sizeof cx->field, "dissection");
    if (d == s->ndiss) {
        char list[600] = "";
        for (int i = 0; i < s->ndiss; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s/units.csv is %s",
                     i ? "; " : "", s->diss[i].dir, s->diss[i].hex);
        return BAD(cx, "hash %s is not the units.csv of any dissection given (%s)", hash, list);
    }
    rp_dissection *ds = &s->diss[d];
    if (!ds->network[0]) {
        snprintf(ds->network, sizeof ds->network, "%s", network);
        ds->network_line = cx->line;
    } else if (strcmp(ds->network, network)) {
        snprintf(cx->field, sizeof cx->field, "network");
        return BAD(cx, "\"%s\", but line %ld gives the same dissection (%s) as \"%s\"", network,
                   ds->network_line, ds->dir, ds->network);
    }
    int row = 0;
    while (row < ds->nrows && (ds->rows[row].unit != unit || strcmp(ds->rows[row].layer, layer))) row++;
    if (row == ds->nrows) {
        snprintf(cx->field, sizeof cx->field, "unit");
        return BAD(cx, "layer %s unit %ld is not in %s/units.csv", layer, unit, ds->dir);
    }
    for (int i = 0; i < s->nunits; i++)
        if (s->units[i].dissection == d && s->units[i].row == row) {
            *out = i;
            return NDX_OK;
        }
    rp_unit *u = realloc(s->units, ((size_t)s->nunits + 1) * sizeof *u);
    if (!u) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    s->units = u;
    s->units[s->nunits] = (rp_unit){d, row};
    *out = s->nunits++;
    return NDX_OK;
}

static ndx_status check_survey_id(ctx *cx, const char *id)
{
    if (!*id || strlen(id) >= sizeof cx->s->id) return BAD(cx, "expected a survey id");
    if (!cx->s->id[0]) snprintf(cx->s->id, sizeof cx->s->id, "%s", id);
    if (strcmp(cx->s->id, id))
        return BAD(cx, "\"%s\", but line 1 is from survey \"%s\": one survey per file", id,
                   cx->s->id);
    return NDX_OK;
}

static ndx_status check_name(ctx *cx, const cJSON *o, const char *name, const char **out)
{
    ndx_status st = get_string(cx, o, name, out);
    if (!st && (!**out || strlen(*out) >= RP_NAME))
        st = BAD(cx, "expected a name of 1..%d bytes", RP_NAME - 1);
    return st;
}

/* The identity fields of a line: reader, unit. */
static ndx_status read_who(ctx *cx, const cJSON *o, rp_answer *a)
{
    const char *v, *reader, *role, *network, *layer, *hash;
    long reader_id, unit;
    int sim;
    static const char *const roles[] = {"radiologist", "physicist", "other"};
    int role_i;
    ndx_status st = get_string(cx, o, "format", &v);
    if (!st && strcmp(v, "netdx-survey-answers/1"))
        st = BAD(cx, "\"%s\", expected \"netdx-survey-answers/1\"", v);
    if (!st) st = get_string(cx, o, "survey", &v);
    if (!st) st = check_survey_id(cx, v);
    if (!st) st = get_bool(cx, o, "simulated", &sim);
    if (!st) st = check_name(cx, o, "reader", &reader);
    if (!st) st = get_int(cx, o, "reader_id", 1, 1L << 30, &reader_id);
    if (!st) st = get_enum(cx, o, "role", roles, 3, &role_i);
    if (!st && role_i < 0) st = BAD(cx, "expected a role, not null");
    if (!st) role = roles[role_i];
    if (!st) st = check_name(cx, o, "network", &network);
    if (!st) st = check_name(cx, o, "layer", &layer);
    if (!st) st = get_int(cx, o, "unit", 0, 1 << 20, &unit);
    if (!st) st = get_string(cx, o, "dissection", &hash);
    char hex[17] = "";
    int hexok = !st && strlen(hash) == 16;
    for (int i = 0; hexok && i < 16; i++) {
        hexok = isxdigit((unsigned char)hash[i]) != 0;
        hex[i] = (char)tolower((unsigned char)hash[i]);
    }
    if (!st && !hexok) st = BAD(cx, "expected 16 hex digits (XXH3-64 of units.csv)");
    if (!st) st = get_bool(cx, o, "repeat", &a->repeat);
    if (!st) st = find_reader(cx, reader, reader_id, role, sim, &a->reader);
    if (!st) st = find_unit(cx, hex, network, layer, unit, &a->unit);
    return st;
}

/* The answer fields; *current 0 for an older revision (a --history line). */
static ndx_status read_what(ctx *cx, const cJSON *o, rp_answer *a, int *current)
{
    long rev, revs;
    const char *t;
    ndx_status st = get_int(cx, o, "revision", 1, 1L << 30, &rev);
    if (!st) st = get_int(cx, o, "revisions", 1, 1L << 30, &revs);
    if (!st && rev > revs) {
        snprintf(cx->field, sizeof cx->field, "revision");
        st = BAD(cx, "%ld, above \"revisions\" (%ld)", rev, revs);
    }
    for (int k = 0; !st && k < 2; k++) {
        st = get_string(cx, o, k ? "last_saved" : "first_saved", &t);
        if (!st && !is_time(t)) st = BAD(cx, "\"%s\", expected UTC like 2026-12-07T13:45:00Z", t);
    }
    const cJSON *sec = st ? NULL : get(cx, o, "seconds_spent");
    if (!st && !(cJSON_IsNumber(sec) && sec->valuedouble >= 0 && isfinite(sec->valuedouble)))
        st = BAD(cx, sec ? "expected a number >= 0" : "missing");
    if (!st) a->seconds = sec->valuedouble;
    if (!st) st = get_enum(cx, o, "recognizable", ndx__rp_q1_names, RP_Q1_N, &a->q1);
    if (!st) st = get_enum(cx, o, "association", ndx__rp_as_names, RP_AS_N, &a->q2);
    if (!st) st = get_enum(cx, o, "multiplicity", ndx__rp_q3_names, RP_Q3_N, &a->q3);
    if (!st) st = get_string(cx, o, "comment", &t);
    const cJSON *ph = st ? NULL : get(cx, o, "phenomena");
    if (!st && !cJSON_IsArray(ph)) st = BAD(cx, ph ? "expected an array" : "missing");
    if (st) return st;
    *current = rev == revs;
    a->nphen = cJSON_GetArraySize(ph);
    a->phen = calloc((size_t)a->nphen + 1, sizeof *a->phen);
    if (!a->phen) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int i = 0; !st && i < a->nphen; i++) st = read_phenomenon(cx, cJSON_GetArrayItem(ph, i), i, &a->phen[i]);
    return st;
}

static void free_answer(rp_answer *a)
{
    for (int i = 0; a->phen && i < a->nphen; i++) {
        free(a->phen[i].terms);
        free(a->phen[i].text);
        free(a->phen[i].unmatched);
    }
    free(a->phen);
    a->phen = NULL;
}

static ndx_status read_line(ctx *cx, const char *text, size_t len, long *cap)
{
    rp_survey *s = cx->s;
    cx->prefix = "";
    snprintf(cx->field, sizeof cx->field, "(line)");
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        if (!len) return BAD(cx, "an empty line (one JSON object per line)");
        return BAD(cx, "not a JSON object (malformed or truncated near byte %ld)",
                   end ? (long)(end - text) + 1 : (long)len);
    }
    for (const char *e = end; e && e < text + len; e++)
        if (!isspace((unsigned char)*e)) {
            cJSON_Delete(o);
            return BAD(cx, "text after the JSON object (at byte %ld)", (long)(e - text) + 1);
        }
    rp_answer a = {0};
    a.line = cx->line;
    int current = 1;
    ndx_status st = read_who(cx, o, &a);
    if (!st) st = read_what(cx, o, &a, &current);
    cJSON_Delete(o);
    for (long i = 0; !st && current && i < s->nanswers; i++) {
        const rp_answer *b = &s->answers[i];
        if (b->reader == a.reader && b->unit == a.unit && b->repeat == a.repeat) {
            snprintf(cx->field, sizeof cx->field, "unit");
            st = BAD(cx, "reader \"%s\" answered this %sunit on line %ld already",
                     s->readers[a.reader].name, a.repeat ? "repeated " : "", b->line);
        }
    }
    if (st || !current) {
        free_answer(&a);
        return st;
    }
    if (s->nanswers == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        rp_answer *n = realloc(s->answers, (size_t)*cap * sizeof *n);
        if (!n) {
            free_answer(&a);
            return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
        }
        s->answers = n;
    }
    s->answers[s->nanswers++] = a;
    return NDX_OK;
}

ndx_status ndx__rp_read_answers(rp_survey *s, const char *path)
{
    char *text;
    size_t len;
    s->path = path;
    ndx_status st = slurp(path, &text, &len);
    if (st) return st;
    hex64(s->hex, ndx_hash64(text, len, 0));
    ctx cx = {s, 0, "", ""};
    long cap = 0;
    for (size_t p = 0; !st && p < len;) {
        cx.line++;
        const char *nl = memchr(text + p, '\n', len - p);
        if (!nl) {
            snprintf(cx.field, sizeof cx.field, "(line)");
            st = BAD(&cx, "truncated: the file ends without a newline");
            break;
        }
        st = read_line(&cx, text + p, (size_t)(nl - (text + p)), &cap);
        p = (size_t)(nl - text) + 1;
    }
    free(text);
    if (!st && s->nanswers == 0)
        st = ndx__fail(NDX_ERR_FORMAT, "%s: no answers (an empty file)", path);
    for (long i = 0; !st && i < s->nanswers; i++)
        for (int p = 0; p < s->answers[i].nphen; p++) {
            const rp_phen *ph = &s->answers[i].phen[p];
            if (!ph->from_text) continue;
            s->mapped++;
            for (const char *w = ph->unmatched; w && *w; w++)
                s->unmatched += w == ph->unmatched || w[-1] == ' ';
        }
    return st;
}

void ndx__rp_survey_free(rp_survey *s)
{
    for (long i = 0; i < s->nanswers; i++) free_answer(&s->answers[i]);
    free(s->answers);
    free(s->readers);
    free(s->units);
    for (int i = 0; s->diss && i < s->ndiss; i++) free(s->diss[i].rows);
    free(s->diss);
    memset(s, 0, sizeof *s);
}

const rp_drow *ndx__rp_unit_row(const rp_survey *s, int u)
{
    return &s->diss[s->units[u].dissection].rows[s->units[u].row];
}

const char *ndx__rp_unit_network(const rp_survey *s, int u)
{
    return s->diss[s->units[u].dissection].network;
}
