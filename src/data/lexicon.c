/* The BI-RADS lexicon: load, validate, look up (include/netdx_lexicon.h).
 * The file is parsed with cJSON into one block of terms; every string the
 * terms point at is a copy owned by the lexicon. */
#include <ctype.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../io/io.h"
#include "netdx_lexicon.h"

const unsigned char *ndx__asset(const char *name, size_t *len);

#define BUILTIN "data/birads-lexicon.json"

struct ndx_lexicon {
    char *version;
    int n;
    ndx_lexicon_term *terms;
    const char **pool;           /* every term's synonyms, one after another */
    int npool;
    char **strings;              /* every copied string, freed at the end */
    int nstrings, capstrings;
};

size_t ndx_lexicon_normalise(const char *text, char *out, size_t n)
{
    size_t len = 0;
    int space = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        int c = *p;
        if (c < 0x80 && (isspace(c) || c == '_' || c == '-' ||
                         (ispunct(c) && c != '\''))) {
            space = len > 0;
            continue;
        }
        if (space) {
            if (len + 1 < n) out[len] = ' ';
            len++;
            space = 0;
        }
        if (len + 1 < n) out[len] = (char)(c < 0x80 ? tolower(c) : c);
        len++;
    }
    if (n) out[len < n ? len : n - 1] = '\0';
    return len;
}

/* A copy of s owned by lex (NULL when out of memory). */
static char *keep(ndx_lexicon *lex, const char *s)
{
    if (lex->nstrings == lex->capstrings) {
        int cap = lex->capstrings ? 2 * lex->capstrings : 256;
        char **p = realloc(lex->strings, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        lex->strings = p;
        lex->capstrings = cap;
    }
    char *c = strdup(s);
    if (c) lex->strings[lex->nstrings++] = c;
    return c;
}

static int valid_id(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* The string member `key` of o, or NULL (with an error naming where) when it
 * is missing, not a string or empty and required. */
static const char *member(const cJSON *o, const char *key, int required, const char *file,
                          const char *where, ndx_status *st)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v && !required) return "";
    if (!cJSON_IsString(v) || (required && !v->valuestring[0])) {
        *st = ndx__fail(NDX_ERR_FORMAT, "%s: %s.%s: %s", file, where, key,
                        v ? "not a non-empty string" : "missing");
        return NULL;
    }
    return v->valuestring;
}

/* Fills t's synonyms from the array s (may be NULL): normalised, unique. */
static ndx_status synonyms(ndx_lexicon *lex, ndx_lexicon_term *t, const cJSON *s,
                           const char *file, const char *where)
{
    if (!s) return NDX_OK;
    if (!cJSON_IsArray(s))
        return ndx__fail(NDX_ERR_FORMAT, "%s: %s.synonyms: not an array", file, where);
    int n = cJSON_GetArraySize(s), k = 0;
    const char **list = lex->pool + lex->npool;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(s, i);
        char buf[256];
        if (!cJSON_IsString(v))
            return ndx__fail(NDX_ERR_FORMAT, "%s: %s.synonyms[%d]: not a string", file, where, i);
        size_t len = ndx_lexicon_normalise(v->valuestring, buf, sizeof buf);
        if (len == 0 || len >= sizeof buf)
            return ndx__fail(NDX_ERR_FORMAT, "%s: %s.synonyms[%d]: \"%s\" is %s once normalised",
                             file, where, i, v->valuestring, len ? "too long" : "empty");
        int dup = 0;
        for (int j = 0; j < k && !dup; j++) dup = !strcmp(list[j], buf);
        if (dup) continue;
        if (!(list[k++] = keep(lex, buf))) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", file);
    }
    t->synonyms = list;
    t->nsynonyms = k;
    lex->npool += k;
    return NDX_OK;
}

static ndx_status term(ndx_lexicon *lex, const cJSON *d, const char *cat, const char *catname,
                       int birads, const char *file, const char *where)
{
    ndx_status st = NDX_OK;
    if (!cJSON_IsObject(d)) return ndx__fail(NDX_ERR_FORMAT, "%s: %s: not an object", file, where);
    const char *id = member(d, "id", 1, file, where, &st);
    const char *name = id ? member(d, "name", 1, file, where, &st) : NULL;
    const char *def = name ? member(d, "definition", 0, file, where, &st) : NULL;
    if (!def) return st;
    if (!valid_id(id))
        return ndx__fail(NDX_ERR_FORMAT, "%s: %s.id: \"%s\" is not of [a-z0-9_.]", file, where, id);
    if (ndx_lexicon_find(lex, id))
        return ndx__fail(NDX_ERR_FORMAT, "%s: %s.id: \"%s\" appears twice", file, where, id);
    ndx_lexicon_term *t = &lex->terms[lex->n];
    memset(t, 0, sizeof *t);
    t->id = keep(lex, id);
    t->name = keep(lex, name);
    t->definition = keep(lex, def);
    t->category = cat;
    t->category_name = catname;
    t->birads = birads;
    if (!t->id || !t->name || !t->definition) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", file);
    if ((st = synonyms(lex, t, cJSON_GetObjectItemCaseSensitive(d, "synonyms"), file, where)))
        return st;
    lex->n++;
    return NDX_OK;
}

static ndx_status category(ndx_lexicon *lex, const cJSON *c, int ci, const char *file)
{
    char where[96];
    ndx_status st = NDX_OK;
    snprintf(where, sizeof where, "categories[%d]", ci);
    if (!cJSON_IsObject(c)) return ndx__fail(NDX_ERR_FORMAT, "%s: %s: not an object", file, where);
    const char *id = member(c, "id", 1, file, where, &st);
    const char *name = id ? member(c, "name", 1, file, where, &st) : NULL;
    const char *source = name ? member(c, "source", 1, file, where, &st) : NULL;
    if (!source) return st;
    if (!valid_id(id) || strchr(id, '.'))
        return ndx__fail(NDX_ERR_FORMAT, "%s: %s.id: \"%s\" is not of [a-z0-9_]", file, where, id);
    for (int i = 0; i < lex->n; i++)
        if (!strcmp(lex->terms[i].category, id))
            return ndx__fail(NDX_ERR_FORMAT, "%s: %s.id: \"%s\" appears twice", file, where, id);
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(c, "descriptors");
    if (!cJSON_IsArray(ds) || cJSON_GetArraySize(ds) == 0)
        return ndx__fail(NDX_ERR_FORMAT, "%s: %s.descriptors: not a non-empty array", file, where);
    const char *cid = keep(lex, id), *cname = keep(lex, name);
    if (!cid || !cname) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", file);
    int birads = strncmp(source, "project extension", 17) != 0;
    int di = 0;
    for (const cJSON *d = ds->child; d; d = d->next, di++) {
        char w[128];
        snprintf(w, sizeof w, "%s.descriptors[%d]", where, di);
        if ((st = term(lex, d, cid, cname, birads, file, w))) return st;
    }
    return NDX_OK;
}

static ndx_status parse(ndx_lexicon *lex, const char *text, size_t len, const char *file)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return ndx__fail(NDX_ERR_FORMAT, "%s: not valid JSON", file);
    ndx_status st = NDX_OK;
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(root, "categories");
    const char *version = member(root, "version", 1, file, "(top)", &st);
    if (version && (!cJSON_IsArray(cats) || cJSON_GetArraySize(cats) == 0))
        st = ndx__fail(NDX_ERR_FORMAT, "%s: categories: not a non-empty array", file);
    if (version && !st) {
        size_t terms = 0, syns = 0;
        for (const cJSON *c = cats->child; c; c = c->next) {
            const cJSON *ds = cJSON_GetObjectItemCaseSensitive(c, "descriptors");
            terms += (size_t)cJSON_GetArraySize(ds);
            for (const cJSON *d = ds ? ds->child : NULL; d; d = d->next)
                syns += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "synonyms"));
        }
        lex->terms = calloc(terms + 1, sizeof *lex->terms);
        lex->pool = calloc(syns + 1, sizeof *lex->pool);
        lex->version = keep(lex, version);
        if (!lex->terms || !lex->pool || !lex->version) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", file);
        int ci = 0;
        for (const cJSON *c = cats->child; c && !st; c = c->next) st = category(lex, c, ci++, file);
    }
    cJSON_Delete(root);
    return st;
}

/* The whole file (at most 16 MiB), NUL-terminated. */
static ndx_status slurp(const char *path, char **text, size_t *len)
{
    return ndx__read_all(path, 16u << 20, text, len);
}

ndx_status ndx_lexicon_load(const char *path, ndx_lexicon **out)
{
    if (!out) return ndx__fail(NDX_ERR_INVALID, "ndx_lexicon_load: out is NULL");
    *out = NULL;
    ndx_lexicon *lex = calloc(1, sizeof *lex);
    if (!lex) return ndx__fail(NDX_ERR_NOMEM, "lexicon: out of memory");
    ndx_status st;
    if (!path) {
        size_t len;
        const unsigned char *text = ndx__asset(BUILTIN, &len);
        st = text ? parse(lex, (const char *)text, len, "built-in " BUILTIN)
                  : ndx__fail(NDX_ERR_IO, "the built-in lexicon %s is missing", BUILTIN);
    } else {
        char *text = NULL;
        size_t len = 0;
        st = slurp(path, &text, &len);
        if (!st) st = parse(lex, text, len, path);
        free(text);
    }
    if (st) {
        ndx_lexicon_free(lex);
        return st;
    }
    *out = lex;
    return NDX_OK;
}

void ndx_lexicon_free(ndx_lexicon *lex)
{
    if (!lex) return;
    for (int i = 0; i < lex->nstrings; i++) free(lex->strings[i]);
    free(lex->strings);
    free(lex->pool);
    free(lex->terms);
    free(lex);
}

const char *ndx_lexicon_version(const ndx_lexicon *lex) { return lex->version; }
int ndx_lexicon_size(const ndx_lexicon *lex) { return lex->n; }

const ndx_lexicon_term *ndx_lexicon_term_at(const ndx_lexicon *lex, int i)
{
    return i >= 0 && i < lex->n ? &lex->terms[i] : NULL;
}

const ndx_lexicon_term *ndx_lexicon_find(const ndx_lexicon *lex, const char *id)
{
    for (int i = 0; i < lex->n; i++)
        if (!strcmp(lex->terms[i].id, id)) return &lex->terms[i];
    return NULL;
}
