/* Small helpers of the survey's web server: a growing string with HTML
 * escaping, replies, ids from URLs, and a reader's order of a set's units. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

static int sb_grow(ndx__sb *b, size_t more)
{
    if (b->oom) return -1;
    if (b->len + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void ndx__sb_putn(ndx__sb *b, const char *s, size_t n)
{
    if (sb_grow(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void ndx__sb_put(ndx__sb *b, const char *s) { ndx__sb_putn(b, s, strlen(s)); }

void ndx__sb_printf(ndx__sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_grow(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ndx__sb_html(ndx__sb *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        ndx__sb_putn(b, run, (size_t)(s - run));
        ndx__sb_put(b, rep);
        run = s + 1;
    }
    ndx__sb_putn(b, run, (size_t)(s - run));
}

void ndx__sb_free(ndx__sb *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void ndx__reply_sb(ndx__reply *r, int status, const char *type, ndx__sb *b)
{
    if (b->oom || !b->s) {
        ndx__sb_free(b);
        static const char msg[] = "out of memory\n";
        r->status = 500;
        r->type = "text/plain; charset=utf-8";
        r->body = malloc(sizeof msg);
        r->len = r->body ? sizeof msg - 1 : 0;
        if (r->body) memcpy(r->body, msg, sizeof msg);
        return;
    }
    r->status = status;
    r->type = type;
    r->body = b->s;
    r->len = b->len;
    memset(b, 0, sizeof *b);
}

static void json_str(ndx__sb *b, const char *s)
{
    ndx__sb_put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') ndx__sb_printf(b, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') ndx__sb_printf(b, "\\u%04x", c);
        else ndx__sb_putn(b, s, 1);
    }
    ndx__sb_put(b, "\"");
}

void ndx__reply_error(ndx__reply *r, int status, const char *field, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ndx__sb b = {0};
    ndx__sb_put(&b, "{\"error\":");
    json_str(&b, msg);
    ndx__sb_put(&b, ",\"field\":");
    if (field) json_str(&b, field);
    else ndx__sb_put(&b, "null");
    ndx__sb_put(&b, "}\n");
    ndx__reply_sb(r, status, "application/json; charset=utf-8", &b);
}

void ndx__reply_page_error(ndx__reply *r, int status, const char *title, const char *text)
{
    ndx__sb b = {0};
    ndx__page_begin(&b, title, "error");
    ndx__sb_put(&b, "<main><h1>");
    ndx__sb_html(&b, title);
    ndx__sb_put(&b, "</h1><p>");
    ndx__sb_html(&b, text);
    ndx__sb_put(&b, "</p></main>");
    ndx__page_end(&b);
    ndx__reply_sb(r, status, "text/html; charset=utf-8", &b);
}

ndx__survey_db *ndx__web_rd(ndx__web *w)
{
    unsigned i = __atomic_fetch_add(&w->next_rd, 1u, __ATOMIC_RELAXED);
    return w->rd[i % NDX__WEB_READERS];
}

int64_t ndx__web_id(const char *s)
{
    if (!s || !*s || strlen(s) > 15) return 0;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}

ndx_status ndx__web_units(ndx__web *w, int64_t set_id, int npatches, int64_t reader_id,
                          ndx__survey_unit **out, int *n)
{
    ndx_status st = ndx__survey_units(ndx__web_rd(w), set_id, npatches, reader_id, out, n);
    if (st != NDX_OK || !w->shuffle || *n < 2) return st;
    /* The same order for a reader every time: seeded by survey, reader, set. */
    char key[96];
    snprintf(key, sizeof key, "%s/%lld/%lld", w->meta.id, (long long)reader_id,
             (long long)set_id);
    ndx_rng rng;
    ndx_rng_seed(&rng, ndx_hash_str(key, 0));
    ndx__survey_unit tmp;
    for (int i = *n - 1; i > 0; i--) {
        int j = (int)ndx_rng_below(&rng, (uint64_t)i + 1);
        if (j == i) continue;
        tmp = (*out)[i];
        (*out)[i] = (*out)[j];
        (*out)[j] = tmp;
    }
    return NDX_OK;
}
