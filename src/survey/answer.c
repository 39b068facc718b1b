/* The answer schema (survey.h): validation and the canonical form that the
 * store keeps and the export reads.  Shared by the server's save path and
 * the simulated readers, so both are held to the same rules. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdx_lexicon.h"
#include "survey.h"
#include "../core/core.h"

#define MAX_PHENOMENA 16
#define MAX_DESCRIPTORS 16
#define MAX_TEXT 4000

static const char *const RECOGNIZABLE[] = {"yes", "no", "unsure", NULL};
static const char *const ASSOCIATION[] = {"malignant", "benign", "both", "none", "unsure", NULL};
static const char *const MULTIPLICITY[] = {"single", "multiple", NULL};

/* The built-in lexicon, loaded once per process and kept. */
static pthread_once_t lex_once = PTHREAD_ONCE_INIT;
static ndx_lexicon *lex;
static ndx_status lex_status;
static char lex_error[256];
static void lex_load(void)
{
    lex_status = ndx_lexicon_load(NULL, &lex);
    if (lex_status) snprintf(lex_error, sizeof lex_error, "%s", ndx_last_error());
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set)) return 1;
    return 0;
}

/* A choice field: absent or null -> null; a string of the set -> copied. */
static ndx_status choice(const cJSON *obj, const char *key, const char *const *set, const char *where,
                         cJSON *dst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        cJSON_AddNullToObject(dst, key);
        return NDX_OK;
    }
    if (!cJSON_IsString(v) || !one_of(v->valuestring, set))
        return ndx__fail(NDX_ERR_FORMAT, "answer: %s%s: not one of the allowed values", where, key);
    cJSON_AddStringToObject(dst, key, v->valuestring);
    return NDX_OK;
}

/* A text field: absent -> ""; a string of at most MAX_TEXT bytes. */
static ndx_status text(const cJSON *obj, const char *key, const char *where, cJSON *dst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        cJSON_AddStringToObject(dst, key, "");
        return NDX_OK;
    }
    if (!cJSON_IsString(v)) return ndx__fail(NDX_ERR_FORMAT, "answer: %s%s: not a string", where, key);
    if (strlen(v->valuestring) > MAX_TEXT)
        return ndx__fail(NDX_ERR_FORMAT, "answer: %s%s: over %d bytes", where, key, MAX_TEXT);
    cJSON_AddStringToObject(dst, key, v->valuestring);
    return NDX_OK;
}

static ndx_status only_keys(const cJSON *obj, const char *const *keys, const char *where)
{
    for (const cJSON *c = obj->child; c; c = c->next)
        if (!c->string || !one_of(c->string, keys))
            return ndx__fail(NDX_ERR_FORMAT, "answer: %sunknown field '%.60s'", where, c->string ? c->string : "");
    return NDX_OK;
}

/* A descriptor id: "category.term", lowercase letters, digits and '_'. */
static ndx_status descriptor(const char *id, const char *where)
{
    size_t n = strlen(id), dots = 0;
    int ok = n >= 3 && n <= 63;
    for (size_t i = 0; ok && i < n; i++) {
        const char c = id[i];
        if (c == '.') dots++;
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) ok = 0;
    }
    if (!ok || dots != 1 || id[0] == '.' || id[n - 1] == '.')
        return ndx__fail(NDX_ERR_FORMAT, "answer: %sdescriptors: '%.60s' is not a lexicon id", where, id);
    pthread_once(&lex_once, lex_load);
    if (lex_status) return ndx__fail(lex_status, "answer: the built-in lexicon: %s", lex_error);
    if (!ndx_lexicon_find(lex, id))
        return ndx__fail(NDX_ERR_FORMAT, "answer: %sdescriptors: '%.60s' is not in the lexicon", where, id);
    return NDX_OK;
}

static ndx_status phenomenon(const cJSON *p, int i, cJSON *dst)
{
    static const char *const keys[] = {"descriptors", "text", "association", "confidence", NULL};
    char where[32];
    snprintf(where, sizeof where, "phenomena[%d].", i);
    if (!cJSON_IsObject(p)) return ndx__fail(NDX_ERR_FORMAT, "answer: phenomena[%d]: not an object", i);
    ndx_status s = only_keys(p, keys, where);
    if (s) return s;
    cJSON *ids = cJSON_AddArrayToObject(dst, "descriptors");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "descriptors");
    if (d && !cJSON_IsNull(d)) {
        if (!cJSON_IsArray(d)) return ndx__fail(NDX_ERR_FORMAT, "answer: %sdescriptors: not an array", where);
        if (cJSON_GetArraySize(d) > MAX_DESCRIPTORS)
            return ndx__fail(NDX_ERR_FORMAT, "answer: %sdescriptors: more than %d", where, MAX_DESCRIPTORS);
        for (const cJSON *e = d->child; e; e = e->next) {
            if (!cJSON_IsString(e)) return ndx__fail(NDX_ERR_FORMAT, "answer: %sdescriptors: not a string", where);
            if ((s = descriptor(e->valuestring, where))) return s;
            for (const cJSON *f = d->child; f != e; f = f->next)
                if (!strcmp(f->valuestring, e->valuestring))
                    return ndx__fail(NDX_ERR_FORMAT, "answer: %sdescriptors: '%s' twice", where, e->valuestring);
            cJSON_AddItemToArray(ids, cJSON_CreateString(e->valuestring));
        }
    }
    if ((s = text(p, "text", where, dst))) return s;
    if ((s = choice(p, "association", ASSOCIATION, where, dst))) return s;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "confidence");
    if (!c || cJSON_IsNull(c)) {
        cJSON_AddNullToObject(dst, "confidence");
    } else {
        const double v = cJSON_IsNumber(c) ? c->valuedouble : NAN;
        if (!(v >= 1 && v <= 5 && v == floor(v)))
            return ndx__fail(NDX_ERR_FORMAT, "answer: %sconfidence: an integer 1..5 or null", where);
        cJSON_AddNumberToObject(dst, "confidence", v);
    }
    return NDX_OK;
}

static ndx_status check_root(const cJSON *in, cJSON *out)
{
    static const char *const keys[] = {"recognizable", "association", "multiplicity", "phenomena", "comment", NULL};
    if (!cJSON_IsObject(in)) return ndx__fail(NDX_ERR_FORMAT, "answer: not a JSON object");
    ndx_status s = only_keys(in, keys, "");
    if (s || (s = choice(in, "recognizable", RECOGNIZABLE, "", out)) ||
        (s = choice(in, "association", ASSOCIATION, "", out)) ||
        (s = choice(in, "multiplicity", MULTIPLICITY, "", out)))
        return s;
    cJSON *arr = cJSON_AddArrayToObject(out, "phenomena");
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(in, "phenomena");
    if (ph && !cJSON_IsNull(ph)) {
        if (!cJSON_IsArray(ph)) return ndx__fail(NDX_ERR_FORMAT, "answer: phenomena: not an array");
        if (cJSON_GetArraySize(ph) > MAX_PHENOMENA)
            return ndx__fail(NDX_ERR_FORMAT, "answer: phenomena: more than %d", MAX_PHENOMENA);
        int i = 0;
        for (const cJSON *p = ph->child; p; p = p->next, i++) {
            cJSON *o = cJSON_CreateObject();
            if (!o) return ndx__fail(NDX_ERR_NOMEM, "answer: out of memory");
            cJSON_AddItemToArray(arr, o);
            if ((s = phenomenon(p, i, o))) return s;
        }
    }
    return text(in, "comment", "", out);
}

ndx_status ndx__survey_answer_check(const char *json, size_t len, char **canon)
{
    if (canon) *canon = NULL;
    if (!json) return ndx__fail(NDX_ERR_FORMAT, "answer: empty");
    if (len > NDX__SURVEY_MAX_ANSWER)
        return ndx__fail(NDX_ERR_FORMAT, "answer: %zu bytes, at most %d", len, NDX__SURVEY_MAX_ANSWER);
    if (memchr(json, 0, len)) return ndx__fail(NDX_ERR_FORMAT, "answer: a NUL byte in the JSON");
    const char *end = NULL;
    cJSON *in = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!in) return ndx__fail(NDX_ERR_FORMAT, "answer: malformed JSON near byte %td", end ? end - json : 0);
    for (; end && end < json + len; end++)
        if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t') {
            cJSON_Delete(in);
            return ndx__fail(NDX_ERR_FORMAT, "answer: text after the JSON object at byte %td", end - json);
        }
    cJSON *out = cJSON_CreateObject();
    ndx_status s = out ? check_root(in, out) : ndx__fail(NDX_ERR_NOMEM, "answer: out of memory");
    cJSON_Delete(in);
    if (!s && canon && !(*canon = cJSON_PrintUnformatted(out))) s = ndx__fail(NDX_ERR_NOMEM, "answer: out of memory");
    cJSON_Delete(out);
    return s;
}
