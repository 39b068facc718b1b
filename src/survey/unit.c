/* GET /unit/<id>: a unit's 32 top patches in rows of 4 (click: the whole
 * mammogram with the patch's box), the overlay toggles and the answer form.
 * The form is filled in and saved by /app.js through /api/answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

typedef struct choice { const char *value, *label; } choice;

static const choice Q1[] = {{"yes", "Yes"}, {"no", "No"}, {"unsure", "Unsure"}, {0, 0}};
static const choice Q2[] = {{"malignant", "Malignant"}, {"benign", "Benign"},
                            {"both", "Both"}, {"none", "None"}, {"unsure", "Unsure"}, {0, 0}};
static const choice Q3[] = {{"single", "Single"}, {"multiple", "Multiple"}, {0, 0}};

static void radios(ndx__sb *b, const char *name, const char *legend, const choice *c)
{
    ndx__sb_printf(b, "<fieldset class=\"q\" id=\"f-%s\"><legend>%s</legend>", name, legend);
    for (; c->value; c++)
        ndx__sb_printf(b, "<label class=\"opt\"><input type=\"radio\" name=\"%s\" "
                          "value=\"%s\"> %s</label>",
                       name, c->value, c->label);
    ndx__sb_put(b, "</fieldset>\n");
}

static void unit_form(ndx__sb *b, const ndx__survey_unit *u, const char *back)
{
    ndx__sb_printf(b, "<form id=\"answer\" class=\"answer\" data-unit=\"%lld\" data-back=\"",
                   (long long)u->id);
    ndx__sb_html(b, back);
    ndx__sb_put(b, "\" novalidate><h2>Your answer</h2>\n");
    radios(b, "recognizable", "1. Do these images show recognizable phenomena?", Q1);
    radios(b, "association", "2. Are they associated with breast cancer?", Q2);
    radios(b, "multiplicity",
           "3. Is there a single unique phenomenon, or are there multiple?", Q3);
    ndx__sb_put(b, "<fieldset class=\"q\" id=\"f-phenomena\"><legend>4. Please describe each "
                   "of the phenomena you see. For each phenomenon please indicate its "
                   "association with breast cancer.</legend><div id=\"phenomena\"></div>"
                   "<button type=\"button\" id=\"add-ph\">Add a phenomenon</button>"
                   "</fieldset>\n<p class=\"comment\"><label for=\"comment\">General comment"
                   "</label><textarea id=\"comment\" name=\"comment\" rows=\"3\"></textarea>"
                   "</p>\n<p class=\"actions\"><button type=\"submit\" id=\"save\">Save and "
                   "return to the overview</button> <span id=\"status\" role=\"status\" "
                   "aria-live=\"polite\"></span></p></form>\n");
}

static void unit_grid(ndx__sb *b, const ndx__web *w, const ndx__survey_unit *u)
{
    ndx__sb_put(b, "<section class=\"patches\" aria-label=\"Top patches\"><div class=\"toggles\">"
                   "<label><input type=\"checkbox\" id=\"t-hl\" checked> Highlight where the "
                   "unit fires</label>");
    if (!w->meta.hide_labels)
        ndx__sb_put(b, " <label><input type=\"checkbox\" id=\"t-ol\"> True lesion outline"
                       "</label>");
    ndx__sb_put(b, " <span class=\"hint\">Click a patch to see it in its mammogram.</span>"
                   "</div>\n<div class=\"grid\">\n");
    for (int k = 0; k < u->npatches; k++) {
        const ndx__survey_patch *p = &u->patches[k];
        char alt[48];
        snprintf(alt, sizeof alt, "top patch %d", k + 1);
        ndx__sb_printf(b, "<figure class=\"patch\"><button type=\"button\" class=\"zoom stack\" "
                          "data-n=\"%d\" data-m=\"%lld\" data-box=\"%d %d %d %d\"",
                       k + 1, (long long)p->mammogram, p->mbox[0], p->mbox[1], p->mbox[2],
                       p->mbox[3]);
        if (!w->meta.hide_labels) ndx__sb_printf(b, " data-label=\"%d\"", p->label);
        ndx__sb_printf(b, " aria-label=\"Patch %d: show it in its mammogram\">", k + 1);
        ndx__patch_images(b, w, p, alt);
        ndx__sb_printf(b, "</button><figcaption>%d", k + 1);
        if (!w->meta.hide_labels)
            ndx__sb_printf(b, " <span class=\"%s\">%s</span>", p->label ? "pos" : "neg",
                           p->label ? "+" : "&minus;");
        ndx__sb_put(b, "</figcaption></figure>\n");
    }
    ndx__sb_put(b, "</div></section>\n");
}

static void zoom_dialog(ndx__sb *b)
{
    ndx__sb_put(b, "<dialog id=\"zoom\" aria-labelledby=\"zoom-title\"><div class=\"zoom-wrap\">"
                   "<div class=\"mammo\"><img id=\"zoom-m\" alt=\"The whole mammogram\">"
                   "<div id=\"zoom-box\"></div></div><div class=\"zoom-side\"><h2 "
                   "id=\"zoom-title\">Patch</h2><div class=\"stack big\" id=\"zoom-patch\"></div>"
                   "<p id=\"zoom-label\"></p><p><button type=\"button\" id=\"zoom-prev\">"
                   "Previous patch</button> <button type=\"button\" id=\"zoom-next\">Next patch"
                   "</button></p><p><button type=\"button\" id=\"zoom-close\">Close (Esc)"
                   "</button></p></div></div></dialog>\n");
}

/* Where the unit stands in the reader's order of its set. */
static int place(ndx__web *w, const ndx__survey_unit *u, int64_t reader, int64_t *prev,
                 int64_t *next, int *count)
{
    ndx__survey_unit *units = NULL;
    int n = 0, at = -1;
    *prev = *next = 0;
    *count = 0;
    if (ndx__web_units(w, u->set_id, 0, reader, &units, &n) != NDX_OK) return -1;
    for (int i = 0; i < n; i++)
        if (units[i].id == u->id) at = i;
    if (at > 0) *prev = units[at - 1].id;
    if (at >= 0 && at + 1 < n) *next = units[at + 1].id;
    *count = n;
    free(units);
    return at;
}

static void unit_head(ndx__sb *b, const ndx__web *w, const ndx__survey_unit *u,
                      const ndx__survey_set *s, int at, int count, int64_t prev, int64_t next)
{
    ndx__sb_put(b, "<div class=\"unit-head\"><h1>");
    ndx__unit_title(b, w, u, at + 1);
    ndx__sb_printf(b, " <small>%d of %d in ", at + 1, count);
    ndx__set_title(b, w, s, (int)s->id);
    ndx__sb_put(b, "</small></h1><nav class=\"pager\" aria-label=\"Units\">");
    if (prev) ndx__sb_printf(b, "<a id=\"prev\" rel=\"prev\" href=\"/unit/%lld\">&larr; Previous"
                                "</a> ", (long long)prev);
    ndx__sb_printf(b, "<a id=\"overview\" href=\"/set/%lld#u%lld\">Overview</a>",
                   (long long)s->id, (long long)u->id);
    if (next) ndx__sb_printf(b, " <a id=\"next\" rel=\"next\" href=\"/unit/%lld\">Next &rarr;"
                                "</a>", (long long)next);
    ndx__sb_put(b, "</nav><p class=\"keys\">Keys: <kbd>n</kbd>/<kbd>p</kbd> or arrows: next / "
                   "previous unit; <kbd>1</kbd>&ndash;<kbd>5</kbd>: confidence of the "
                   "phenomenon you are in.</p></div>\n");
}

void ndx__page_unit(ndx__web *w, const ndx__req *q, int64_t unit_id, ndx__reply *r)
{
    ndx__survey_unit *u = malloc(sizeof *u);
    ndx__survey_set s;
    if (!u) {
        ndx__reply_page_error(r, 500, "Out of memory", "The server is out of memory.");
        return;
    }
    ndx_status st = unit_id ? ndx__survey_unit_get(ndx__web_rd(w), unit_id, q->me->id, u)
                            : NDX_ERR_INVALID;
    if (st == NDX_OK) st = ndx__survey_set_get(ndx__web_rd(w), u->set_id, &s);
    if (st != NDX_OK) {
        free(u);
        if (st == NDX_ERR_INVALID)
            ndx__reply_page_error(r, 404, "No such unit", "This survey has no such unit.");
        else ndx__reply_page_error(r, 500, "The survey could not be read", ndx_last_error());
        return;
    }
    int64_t prev, next;
    int count, at = place(w, u, q->me->id, &prev, &next, &count);
    char back[64];
    snprintf(back, sizeof back, "/set/%lld#u%lld", (long long)s.id, (long long)u->id);
    ndx__sb b = {0}, title = {0};
    ndx__unit_title(&title, w, u, at + 1);
    ndx__page_begin(&b, title.s ? title.s : "Unit", "unit");
    ndx__page_nav(&b, q->me);
    ndx__sb_put(&b, "<main class=\"unit\">");
    unit_head(&b, w, u, &s, at, count, prev, next);
    ndx__sb_put(&b, "<div class=\"cols\">");
    unit_grid(&b, w, u);
    unit_form(&b, u, back);
    ndx__sb_put(&b, "</div></main>\n");
    zoom_dialog(&b);
    ndx__page_end(&b);
    b.oom |= title.oom;
    ndx__sb_free(&title);
    free(u);
    ndx__reply_sb(r, 200, "text/html; charset=utf-8", &b);
}
