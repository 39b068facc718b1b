/* The survey's web server, private parts shared by server.c (HTTP,
 * sessions, security headers, static files), pages.c (the HTML pages) and
 * api.c (the JSON API).  Not installed. */
#ifndef NDX_SURVEY_WEB_H
#define NDX_SURVEY_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "netdx.h"
#include "netdx_lexicon.h"
#include "netdx_survey.h"
#include "survey.h"

#define NDX__WEB_MAX_BODY 65536     /* bytes of a request body */
#define NDX__WEB_COOKIE "ndx_session"
#define NDX__WEB_SESSION_TTL (30 * 24 * 3600)

/* A growing string.  A failed allocation sets oom and ignores further
 * appends: check oom once, at the end. */
typedef struct ndx__sb {
    char *s;
    size_t len, cap;
    int oom;
} ndx__sb;
void ndx__sb_put(ndx__sb *b, const char *s);
void ndx__sb_putn(ndx__sb *b, const char *s, size_t n);
void ndx__sb_printf(ndx__sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' as character references: safe in text and in quoted
 * attribute values. */
void ndx__sb_html(ndx__sb *b, const char *s);
void ndx__sb_free(ndx__sb *b);

/* What a route answers: a status, a type and a body (malloc'ed, handed
 * over), plus optional headers. */
typedef struct ndx__reply {
    int status;
    const char *type;               /* Content-Type */
    char *body;
    size_t len;
    const char *location;           /* Location (redirects), or NULL */
    char set_cookie[160];           /* Set-Cookie value, or "" */
    int cache;                      /* 1: static asset, may be cached */
} ndx__reply;

/* The server as the routes see it.  Saves and new sessions go through db;
 * everything else reads through read-only connections of its own (WAL:
 * readers never wait for a save's fsync). */
#define NDX__WEB_READERS 4
typedef struct ndx__web {
    ndx__survey_db *db;
    ndx__survey_db *rd[NDX__WEB_READERS];
    unsigned next_rd;               /* round robin over rd (atomic) */
    ndx__survey_meta meta;
    ndx_lexicon *lex;               /* the built-in lexicon: names of ids */
    int shuffle;                    /* per-reader random unit order */
} ndx__web;
/* A read-only connection for this request. */
ndx__survey_db *ndx__web_rd(ndx__web *w);

/* One request, read by the routes. */
typedef struct ndx__req {
    const char *method, *url;
    const char *query_unit, *query_reader;   /* ?unit= ?reader= or NULL */
    const char *body;
    size_t body_len;
    const ndx__survey_reader *me;            /* NULL when not signed in */
} ndx__req;

/* Replies with text owned by the reply from now on (body from an ndx__sb:
 * an oom buffer gives a 500). */
void ndx__reply_sb(ndx__reply *r, int status, const char *type, ndx__sb *b);
/* A small JSON error {"error": msg, "field": field or null}. */
void ndx__reply_error(ndx__reply *r, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An HTML page saying what went wrong. */
void ndx__reply_page_error(ndx__reply *r, int status, const char *title, const char *text);

/* A reader's view of a set: its units in the reader's order (fewest
 * negatives first, or shuffled per reader), each with npatches patches. */
ndx_status ndx__web_units(ndx__web *w, int64_t set_id, int npatches, int64_t reader_id,
                          ndx__survey_unit **out, int *n);
/* Reads a decimal id >= 1 (the whole string); 0 when it is not one. */
int64_t ndx__web_id(const char *s);

/* Pages (pages.c, unit.c). */
void ndx__page_home(ndx__web *w, const ndx__req *q, ndx__reply *r);
void ndx__page_set(ndx__web *w, const ndx__req *q, int64_t set_id, ndx__reply *r);
void ndx__page_unit(ndx__web *w, const ndx__req *q, int64_t unit_id, ndx__reply *r);
void ndx__page_admin(ndx__web *w, const ndx__req *q, ndx__reply *r);
void ndx__page_answers(ndx__web *w, const ndx__req *q, ndx__reply *r);
/* The head of every page and its end. */
void ndx__page_begin(ndx__sb *b, const char *title, const char *page);
void ndx__page_end(ndx__sb *b);
/* The bar atop every signed-in page. */
void ndx__page_nav(ndx__sb *b, const ndx__survey_reader *me);
/* A set's and a unit's name as readers see them (index: 1-based place in
 * the survey / in the reader's order, shown when ids are hidden). */
void ndx__set_title(ndx__sb *b, const ndx__web *w, const ndx__survey_set *s, int index);
void ndx__unit_title(ndx__sb *b, const ndx__web *w, const ndx__survey_unit *u, int index);
/* A patch's stacked images: tile, highlight overlay, lesion outline. */
void ndx__patch_images(ndx__sb *b, const ndx__web *w, const ndx__survey_patch *p,
                       const char *alt);

/* JSON API (api.c): GET and POST /api/answer. */
void ndx__api_answer_get(ndx__web *w, const ndx__req *q, ndx__reply *r);
void ndx__api_answer_post(ndx__web *w, const ndx__req *q, ndx__reply *r);

#endif
