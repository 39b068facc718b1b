/* GET /answers[?reader=R]: a reader's current answers as HTML, every
 * stored string escaped.  Readers see their own; admins anyone's. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

typedef struct held {
    int64_t unit_id, revisions, saved;
    char *json;
} held;

typedef struct held_list {
    held *a;
    int n, cap;
} held_list;

static int keep(void *ctx, const ndx__survey_answer *a)
{
    held_list *l = ctx;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        held *p = realloc(l->a, (size_t)cap * sizeof *p);
        if (!p) return NDX_ERR_NOMEM;
        l->a = p;
        l->cap = cap;
    }
    char *json = a->json ? strdup(a->json) : NULL;
    if (a->json && !json) return NDX_ERR_NOMEM;
    l->a[l->n++] = (held){a->unit_id, a->revisions, a->saved, json};
    return 0;
}

static const char *str_or(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static void row(ndx__sb *b, const char *what, const char *value)
{
    ndx__sb_put(b, "<dt>");
    ndx__sb_put(b, what);
    ndx__sb_put(b, "</dt><dd>");
    ndx__sb_html(b, value);
    ndx__sb_put(b, "</dd>");
}

static void phenomenon(const ndx__web *w, ndx__sb *b, const cJSON *p, int i)
{
    ndx__sb_printf(b, "<li><span class=\"ph\">Phenomenon %d:</span> ", i + 1);
    const cJSON *d, *ds = cJSON_GetObjectItemCaseSensitive(p, "descriptors");
    int k = 0;
    cJSON_ArrayForEach(d, ds)
        if (cJSON_IsString(d)) {
            const ndx_lexicon_term *t = ndx_lexicon_find(w->lex, d->valuestring);
            if (k++) ndx__sb_put(b, ", ");
            if (t) {
                ndx__sb_html(b, t->name);
                ndx__sb_put(b, " ");
            }
            ndx__sb_put(b, "<code>");
            ndx__sb_html(b, d->valuestring);
            ndx__sb_put(b, "</code>");
        }
    if (!k) ndx__sb_put(b, "no lexicon term");
    ndx__sb_put(b, "; association: ");
    ndx__sb_html(b, str_or(p, "association", "-"));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "confidence");
    if (cJSON_IsNumber(c)) ndx__sb_printf(b, "; confidence %d", c->valueint);
    ndx__sb_put(b, "<br><span class=\"free\">");
    ndx__sb_html(b, str_or(p, "text", ""));
    ndx__sb_put(b, "</span></li>");
}

static void answer_html(const ndx__web *w, ndx__sb *b, const char *json)
{
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!o) {
        ndx__sb_put(b, "<p>(unreadable answer)</p>");
        return;
    }
    ndx__sb_put(b, "<dl>");
    row(b, "Recognizable phenomena", str_or(o, "recognizable", "-"));
    row(b, "Association with cancer", str_or(o, "association", "-"));
    row(b, "Single or multiple", str_or(o, "multiplicity", "-"));
    ndx__sb_put(b, "</dl><ol class=\"phenomena\">");
    const cJSON *p, *ps = cJSON_GetObjectItemCaseSensitive(o, "phenomena");
    int i = 0;
    cJSON_ArrayForEach(p, ps) phenomenon(w, b, p, i++);
    ndx__sb_put(b, "</ol><p class=\"comment\">Comment: <span class=\"free\">");
    ndx__sb_html(b, str_or(o, "comment", ""));
    ndx__sb_put(b, "</span></p>");
    cJSON_Delete(o);
}

/* The answers of one set, in the reader's order of its units. */
static void set_section(ndx__web *w, ndx__sb *b, const ndx__survey_set *s, int index,
                        int64_t reader, const held_list *l)
{
    ndx__survey_unit *units = NULL;
    int n = 0;
    if (ndx__web_units(w, s->id, 0, reader, &units, &n) != NDX_OK) return;
    ndx__sb_put(b, "<section><h2>");
    ndx__set_title(b, w, s, index);
    ndx__sb_put(b, "</h2>");
    int shown = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < l->n; j++) {
            if (l->a[j].unit_id != units[i].id) continue;
            char t[32];
            ndx__iso_time(l->a[j].saved, t);
            ndx__sb_printf(b, "<article class=\"answer\"><h3><a href=\"/unit/%lld\">",
                           (long long)units[i].id);
            ndx__unit_title(b, w, &units[i], i + 1);
            ndx__sb_printf(b, "</a> <small>%lld revision%s, last saved %s</small></h3>",
                           (long long)l->a[j].revisions, l->a[j].revisions == 1 ? "" : "s", t);
            answer_html(w, b, l->a[j].json);
            ndx__sb_put(b, "</article>\n");
            shown++;
        }
    if (!shown) ndx__sb_put(b, "<p>No answers yet.</p>");
    ndx__sb_put(b, "</section>\n");
    free(units);
}

void ndx__page_answers(ndx__web *w, const ndx__req *q, ndx__reply *r)
{
    int64_t reader = q->query_reader ? ndx__web_id(q->query_reader) : q->me->id;
    ndx__survey_reader who;
    if (!reader) {
        ndx__reply_page_error(r, 400, "Bad reader", "reader must be a reader's number.");
        return;
    }
    if (reader != q->me->id && !q->me->admin) {
        ndx__reply_page_error(r, 403, "Not yours", "Readers see only their own answers.");
        return;
    }
    if (ndx__survey_reader_get(ndx__web_rd(w), reader, &who) != NDX_OK) {
        ndx__reply_page_error(r, 404, "No such reader", "This survey has no such reader.");
        return;
    }
    held_list l = {0};
    ndx__survey_set *sets = NULL;
    int nsets = 0;
    if (ndx__survey_answers(ndx__web_rd(w), reader, 0, keep, &l) != NDX_OK ||
        ndx__survey_sets(ndx__web_rd(w), &sets, &nsets) != NDX_OK) {
        ndx__reply_page_error(r, 500, "The answers could not be read", ndx_last_error());
    } else {
        ndx__sb b = {0};
        ndx__page_begin(&b, "Answers", "answers");
        ndx__page_nav(&b, q->me);
        ndx__sb_put(&b, "<main><h1>Answers of ");
        ndx__sb_html(&b, who.name);
        ndx__sb_printf(&b, "</h1><p class=\"lead\">%d current answer%s.</p>\n", l.n,
                       l.n == 1 ? "" : "s");
        for (int i = 0; i < nsets; i++) set_section(w, &b, &sets[i], i + 1, reader, &l);
        ndx__sb_put(&b, "</main>");
        ndx__page_end(&b);
        ndx__reply_sb(r, 200, "text/html; charset=utf-8", &b);
    }
    for (int i = 0; i < l.n; i++) free(l.a[i].json);
    free(l.a);
    free(sets);
}
