/* Apple property lists in their XML form: the subset INbreast's ROI files
 * use (OsiriX exports), read into a small tree.  Not a general XML parser:
 * no namespaces, no CDATA, no external entities; attributes are skipped.
 * Every error names the file, the line and the element. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../io/io.h"
#include "import.h"

#define MAX_DEPTH 64
#define MAX_FILE (64u << 20)

typedef struct parser {
    const char *s, *end, *name;
    int line, depth;
} parser;

static const char *const type_names[] = {"dict", "array", "string", "integer", "real",
                                         "true/false", "date", "data"};

const char *ndx__plist_type_name(int type)
{
    return type >= 0 && type <= NDX__PL_DATA ? type_names[type] : "?";
}

static ndx_status perr(parser *p, const char *elem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ndx_status perr(parser *p, const char *elem, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <%s>: %s", p->name, p->line, elem, what);
}

static void advance(parser *p, size_t n)
{
    for (size_t i = 0; i < n && p->s < p->end; i++, p->s++)
        if (*p->s == '\n') p->line++;
}

static int starts(const parser *p, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(p->end - p->s) >= n && !memcmp(p->s, lit, n);
}

/* Skips blanks, comments, the XML declaration and the DOCTYPE. */
static ndx_status skip_misc(parser *p, const char *elem)
{
    for (;;) {
        while (p->s < p->end && strchr(" \t\r\n", *p->s)) advance(p, 1);
        const char *close = starts(p, "<!--") ? "-->" : starts(p, "<?") ? "?>"
                            : starts(p, "<!") ? ">" : NULL;
        if (!close) return NDX_OK;
        const int line = p->line;
        while (p->s < p->end && !starts(p, close)) advance(p, 1);
        if (p->s >= p->end) {
            p->line = line;
            return perr(p, elem, "the file ends inside a comment or declaration begun here");
        }
        advance(p, strlen(close));
    }
}

/* Reads a tag at p->s: name (up to cap-1 bytes), *closing for "</x>",
 * *empty for "<x/>"; attributes are skipped. */
static ndx_status read_tag(parser *p, const char *within, char *name, size_t cap, int *closing,
                           int *empty)
{
    if (p->s >= p->end) return perr(p, within, "the file ends where a tag was expected");
    if (*p->s != '<') return perr(p, within, "text '%.20s' where a tag was expected", p->s);
    advance(p, 1);
    *closing = p->s < p->end && *p->s == '/';
    if (*closing) advance(p, 1);
    size_t n = 0;
    while (p->s < p->end && (strchr("_:-.", *p->s) || (*p->s >= 'a' && *p->s <= 'z') ||
                             (*p->s >= 'A' && *p->s <= 'Z') || (*p->s >= '0' && *p->s <= '9'))) {
        if (n + 1 < cap) name[n++] = *p->s;
        advance(p, 1);
    }
    name[n] = 0;
    if (!n) return perr(p, within, "a tag without a name");
    char quote = 0;
    while (p->s < p->end && (quote || (*p->s != '>' && !starts(p, "/>")))) {
        if (*p->s == '"' || *p->s == '\'') quote = quote == *p->s ? 0 : quote ? quote : *p->s;
        advance(p, 1);
    }
    if (p->s >= p->end) return perr(p, name, "the file ends inside the tag");
    *empty = *p->s == '/';
    advance(p, *empty ? 2 : 1);
    if (*closing && *empty) return perr(p, name, "a closing tag ending in '/>'");
    return NDX_OK;
}

/* Appends the character of entity "&...;" at p->s to out. */
static ndx_status entity(parser *p, const char *elem, char *out, size_t *o)
{
    static const struct { const char *name; char c; } ents[] = {
        {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++)
        if (starts(p, ents[i].name)) {
            out[(*o)++] = ents[i].c;
            advance(p, strlen(ents[i].name));
            return NDX_OK;
        }
    if (starts(p, "&#")) {
        const int hex = p->s + 2 < p->end && (p->s[2] == 'x' || p->s[2] == 'X');
        char *e;
        errno = 0;
        long v = strtol(p->s + (hex ? 3 : 2), &e, hex ? 16 : 10);
        if (!errno && e < p->end && *e == ';' && v > 0 && v < 128) {
            out[(*o)++] = (char)v;
            advance(p, (size_t)(e + 1 - p->s));
            return NDX_OK;
        }
    }
    const char *semi = memchr(p->s, ';', (size_t)(p->end - p->s) < 12 ? (size_t)(p->end - p->s) : 12);
    return perr(p, elem, "unknown or non-ASCII entity '%.*s'", semi ? (int)(semi + 1 - p->s) : 10, p->s);
}

/* The text up to the closing tag </elem>, entities decoded (malloc'd). */
static ndx_status read_text(parser *p, const char *elem, char **text)
{
    const char *lt = memchr(p->s, '<', (size_t)(p->end - p->s));
    if (!lt) return perr(p, elem, "the file ends inside the element");
    char *out = malloc((size_t)(lt - p->s) + 1);
    if (!out) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", p->name);
    size_t o = 0;
    ndx_status st = NDX_OK;
    while (p->s < lt && !st) {
        if (*p->s == '&') st = entity(p, elem, out, &o);
        else out[o++] = *p->s, advance(p, 1);
    }
    out[o] = 0;
    char name[32];
    int closing, empty;
    if (!st) st = read_tag(p, elem, name, sizeof name, &closing, &empty);
    if (!st && (!closing || strcmp(name, elem)))
        st = perr(p, elem, "<%s%s> inside a text element (expected </%s>)", closing ? "/" : "",
                  name, elem);
    if (st) free(out);
    else *text = out;
    return st;
}

static ndx_status parse_value(parser *p, const char *within, ndx__plist *v);

/* Items of an array or entries of a dict up to its closing tag. */
static ndx_status parse_children(parser *p, const char *elem, ndx__plist *v)
{
    size_t cap = 0;
    for (;;) {
        ndx_status st = skip_misc(p, elem);
        if (st) return st;
        char key_tag[32], *key = NULL;
        int closing = 0, empty = 0;
        if (starts(p, "</")) {
            st = read_tag(p, elem, key_tag, sizeof key_tag, &closing, &empty);
            if (!st && strcmp(key_tag, elem))
                st = perr(p, elem, "</%s> closes it (expected </%s>)", key_tag, elem);
            return st;
        }
        if (v->type == NDX__PL_DICT) {
            if ((st = read_tag(p, elem, key_tag, sizeof key_tag, &closing, &empty))) return st;
            if (closing || strcmp(key_tag, "key"))
                return perr(p, elem, "<%s%s> where a <key> was expected", closing ? "/" : "", key_tag);
            if (empty) key = calloc(1, 1);
            else if ((st = read_text(p, "key", &key))) return st;
            if (!key) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", p->name);
            if ((st = skip_misc(p, "key"))) return free(key), st;
        }
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            ndx__plist *kids = realloc(v->kids, cap * sizeof *kids);
            char **keys = kids && v->type == NDX__PL_DICT ? realloc(v->keys, cap * sizeof *keys) : NULL;
            if (kids) v->kids = kids;
            if (keys) v->keys = keys;
            if (!kids || (v->type == NDX__PL_DICT && !keys))
                return free(key), ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", p->name);
        }
        memset(&v->kids[v->n], 0, sizeof v->kids[v->n]);
        if (v->type == NDX__PL_DICT) v->keys[v->n] = key;
        v->n++;
        if ((st = parse_value(p, elem, &v->kids[v->n - 1]))) return st;
    }
}

/* A number element's text into v->num. */
static ndx_status parse_number(parser *p, const char *elem, ndx__plist *v)
{
    char *e;
    errno = 0;
    const char *t = v->text;
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    v->num = v->type == NDX__PL_INTEGER ? (double)strtoll(t, &e, 10) : strtod(t, &e);
    while (*e == ' ' || *e == '\t' || *e == '\n' || *e == '\r') e++;
    if (errno || e == t || *e || !isfinite(v->num))
        return perr(p, elem, "'%.40s' is not %s", v->text,
                    v->type == NDX__PL_INTEGER ? "an integer" : "a finite number");
    return NDX_OK;
}

static ndx_status parse_value(parser *p, const char *within, ndx__plist *v)
{
    ndx_status st = skip_misc(p, within);
    char name[32];
    int closing, empty;
    if (!st) st = read_tag(p, within, name, sizeof name, &closing, &empty);
    if (st) return st;
    v->line = p->line;
    if (closing) return perr(p, within, "</%s> where a value was expected", name);
    static const char *const tags[] = {"dict", "array", "string", "integer", "real",
                                       "true", "date", "data", "false"};
    int t = -1;
    for (int i = 0; i < 9; i++)
        if (!strcmp(name, tags[i])) t = i;
    if (t < 0) return perr(p, name, "unknown element inside <%s>", within);
    v->type = t == 8 ? NDX__PL_BOOL : t;
    if (t == 5 || t == 8) {
        v->num = t == 5;
        if (!empty) {
            char tag[32];
            if ((st = read_tag(p, name, tag, sizeof tag, &closing, &empty))) return st;
            if (!closing || strcmp(tag, name)) return perr(p, name, "expected </%s>", name);
        }
        return NDX_OK;
    }
    if (t <= 1) {
        if (empty) return NDX_OK;
        if (++p->depth > MAX_DEPTH) return perr(p, name, "nested deeper than %d", MAX_DEPTH);
        st = parse_children(p, name, v);
        p->depth--;
        return st;
    }
    if (empty) v->text = calloc(1, 1);
    else if ((st = read_text(p, name, &v->text))) return st;
    if (!v->text) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", p->name);
    return t == 3 || t == 4 ? parse_number(p, name, v) : NDX_OK;
}

ndx_status ndx__plist_parse(const char *text, size_t len, const char *name, ndx__plist **root)
{
    *root = NULL;
    parser p = {text, text + len, name, 1, 0};
    char tag[32];
    int closing, empty;
    ndx_status st = skip_misc(&p, "plist");
    if (!st) st = read_tag(&p, "plist", tag, sizeof tag, &closing, &empty);
    if (!st && (closing || empty || strcmp(tag, "plist")))
        st = perr(&p, tag, "the file does not start with <plist> (not a property list)");
    ndx__plist *v = st ? NULL : calloc(1, sizeof *v);
    if (!st && !v) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", name);
    if (!st) st = parse_value(&p, "plist", v);
    if (!st) st = skip_misc(&p, "plist");
    if (!st) st = read_tag(&p, "plist", tag, sizeof tag, &closing, &empty);
    if (!st && (!closing || strcmp(tag, "plist")))
        st = perr(&p, tag, "a second value in <plist> (expected </plist>)");
    if (!st) st = skip_misc(&p, "plist");
    if (!st && p.s < p.end) st = perr(&p, "plist", "text after </plist>");
    if (st) ndx__plist_free(v);
    else *root = v;
    return st;
}

ndx_status ndx__plist_read(const char *path, ndx__plist **root)
{
    char *text;
    size_t len;
    ndx_status st = ndx__read_all(path, MAX_FILE, &text, &len);
    if (st) return st;
    st = ndx__plist_parse(text, len, path, root);
    free(text);
    return st;
}

static void free_inner(ndx__plist *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free_inner(&p->kids[i]);
        if (p->keys) free(p->keys[i]);
    }
    free(p->kids), free(p->keys), free(p->text);
}

void ndx__plist_free(ndx__plist *p)
{
    if (!p) return;
    free_inner(p);
    free(p);
}

const ndx__plist *ndx__plist_get(const ndx__plist *d, const char *key)
{
    if (!d || d->type != NDX__PL_DICT) return NULL;
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->keys[i], key)) return &d->kids[i];
    return NULL;
}
