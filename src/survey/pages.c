/* The survey's HTML pages but the unit page (unit.c): home, a set's
 * overview, the admin's completion table and a reader's answers.  Every
 * piece of text from the store goes through ndx__sb_html; the pages load
 * /style.css and /app.js and carry no inline script or style. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

#define HTML "text/html; charset=utf-8"

void ndx__page_begin(ndx__sb *b, const char *title, const char *page)
{
    ndx__sb_put(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>");
    ndx__sb_html(b, title);
    ndx__sb_put(b, " - netdx survey</title><link rel=\"stylesheet\" href=\"/style.css\">"
                   "<script src=\"/app.js\" defer></script></head>\n<body data-page=\"");
    ndx__sb_html(b, page);
    ndx__sb_put(b, "\">\n");
}

void ndx__page_end(ndx__sb *b) { ndx__sb_put(b, "\n</body></html>\n"); }

void ndx__page_nav(ndx__sb *b, const ndx__survey_reader *me)
{
    ndx__sb_put(b, "<header class=\"bar\"><nav aria-label=\"Survey\"><a class=\"brand\" "
                   "href=\"/\">netdx survey</a> <a href=\"/\">Home</a> "
                   "<a href=\"/answers\">My answers</a>");
    if (me->admin) ndx__sb_put(b, " <a href=\"/admin\">Admin</a>");
    ndx__sb_put(b, "</nav><span class=\"who\">");
    ndx__sb_html(b, me->name);
    ndx__sb_put(b, " (");
    ndx__sb_html(b, me->role);
    ndx__sb_put(b, ")</span></header>\n");
}

void ndx__set_title(ndx__sb *b, const ndx__web *w, const ndx__survey_set *s, int index)
{
    if (w->meta.hide_ids) {
        ndx__sb_printf(b, "Unit set %d", index);
        return;
    }
    ndx__sb_html(b, s->network);
    ndx__sb_put(b, " / ");
    ndx__sb_html(b, s->layer);
}

void ndx__unit_title(ndx__sb *b, const ndx__web *w, const ndx__survey_unit *u, int index)
{
    if (w->meta.hide_ids) ndx__sb_printf(b, "Unit %d", index);
    else ndx__sb_printf(b, "Unit %d", u->unit);
}

static int set_index(const ndx__survey_set *sets, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (sets[i].id == id) return i;
    return -1;
}

/* One row of home's table; *resume gets the first unanswered unit. */
static void home_row(ndx__web *w, ndx__sb *b, const ndx__survey_set *s, int index,
                     const ndx__survey_progress *p, int64_t reader, int64_t *resume)
{
    ndx__survey_unit *units = NULL;
    int n = 0;
    int64_t first = 0;
    if (ndx__web_units(w, s->id, 0, reader, &units, &n) == NDX_OK)
        for (int i = 0; i < n && !first; i++)
            if (!units[i].answered) first = units[i].id;
    free(units);
    if (first && !*resume) *resume = first;
    int answered = p ? p->answered : 0, total = p ? p->total : s->units;
    ndx__sb_printf(b, "<tr><th scope=\"row\"><a href=\"/set/%lld\">", (long long)s->id);
    ndx__set_title(b, w, s, index);
    ndx__sb_printf(b, "</a></th><td><progress value=\"%d\" max=\"%d\" aria-label=\"", answered,
                   total > 0 ? total : 1);
    ndx__set_title(b, w, s, index);
    ndx__sb_printf(b, " progress\"></progress></td><td class=\"num\">%d / %d</td><td>",
                   answered, total);
    if (first) ndx__sb_printf(b, "<a class=\"resume\" href=\"/unit/%lld\">Resume</a>",
                              (long long)first);
    else ndx__sb_put(b, "all answered");
    ndx__sb_put(b, "</td></tr>\n");
}

void ndx__page_home(ndx__web *w, const ndx__req *q, ndx__reply *r)
{
    ndx__survey_set *sets = NULL;
    ndx__survey_progress *prog = NULL;
    int nsets = 0, nprog = 0;
    if (ndx__survey_sets(ndx__web_rd(w), &sets, &nsets) != NDX_OK ||
        ndx__survey_progress_get(ndx__web_rd(w), q->me->id, &prog, &nprog) != NDX_OK) {
        free(sets);
        ndx__reply_page_error(r, 500, "The survey could not be read", ndx_last_error());
        return;
    }
    int answered = 0, total = 0;
    int64_t revisions = 0, resume = 0;
    ndx__sb rows = {0}, b = {0};
    for (int i = 0; i < nsets; i++) {
        const ndx__survey_progress *p = NULL;
        for (int j = 0; j < nprog; j++)
            if (prog[j].set_id == sets[i].id) p = &prog[j];
        if (p) answered += p->answered, revisions += p->revisions;
        total += p ? p->total : sets[i].units;
        home_row(w, &rows, &sets[i], i + 1, p, q->me->id, &resume);
    }
    ndx__page_begin(&b, "Home", "home");
    ndx__page_nav(&b, q->me);
    ndx__sb_put(&b, "<main><h1>Welcome, ");
    ndx__sb_html(&b, q->me->name);
    ndx__sb_printf(&b, "</h1>\n<p class=\"lead\">You have answered <strong>%d</strong> of "
                       "%d units in %d set%s (%lld answer%s submitted).</p>\n",
                   answered, total, nsets, nsets == 1 ? "" : "s", (long long)revisions,
                   revisions == 1 ? "" : "s");
    if (resume)
        ndx__sb_printf(&b, "<p><a class=\"button\" id=\"resume\" href=\"/unit/%lld\">Resume: "
                           "the next unanswered unit</a></p>\n", (long long)resume);
    else if (total)
        ndx__sb_put(&b, "<p class=\"done\">Every unit is answered: thank you. You can still "
                        "open any unit and change its answer.</p>\n");
    ndx__sb_put(&b, "<table class=\"sets\"><caption>Your unit sets</caption><thead><tr>"
                    "<th scope=\"col\">Set</th><th scope=\"col\">Progress</th>"
                    "<th scope=\"col\">Answered</th><th scope=\"col\">Next</th></tr></thead>"
                    "<tbody>\n");
    ndx__sb_putn(&b, rows.s ? rows.s : "", rows.len);
    ndx__sb_put(&b, "</tbody></table></main>");
    ndx__page_end(&b);
    b.oom |= rows.oom;
    ndx__sb_free(&rows);
    free(sets);
    free(prog);
    ndx__reply_sb(r, 200, HTML, &b);
}

/* The tiles of a patch: the patch, its highlight overlay and the lesion
 * outline (hidden with the labels). */
void ndx__patch_images(ndx__sb *b, const ndx__web *w, const ndx__survey_patch *p,
                       const char *alt)
{
    ndx__sb_printf(b, "<img class=\"tile\" src=\"/img/%lld\" alt=\"", (long long)p->tile);
    ndx__sb_html(b, alt);
    ndx__sb_put(b, "\">");
    if (p->highlight)
        ndx__sb_printf(b, "<img class=\"hl\" src=\"/img/%lld\" alt=\"\">",
                       (long long)p->highlight);
    if (p->outline && !w->meta.hide_labels)
        ndx__sb_printf(b, "<img class=\"ol\" src=\"/img/%lld\" alt=\"\">", (long long)p->outline);
}

static void overview_row(ndx__sb *b, const ndx__web *w, const ndx__survey_unit *u, int index)
{
    ndx__sb_printf(b, "<tr id=\"u%lld\" class=\"unit-row\" data-href=\"/unit/%lld\">"
                      "<th scope=\"row\"><a href=\"/unit/%lld\">",
                   (long long)u->id, (long long)u->id, (long long)u->id);
    ndx__unit_title(b, w, u, index);
    ndx__sb_put(b, "</a>");
    if (u->answered) ndx__sb_put(b, "<br><span class=\"recorded\">[response recorded]</span>");
    ndx__sb_put(b, "</th><td class=\"thumbs\">");
    for (int k = 0; k < u->npatches; k++) {
        const ndx__survey_patch *p = &u->patches[k];
        char alt[48];
        snprintf(alt, sizeof alt, "top patch %d", k + 1);
        ndx__sb_put(b, "<figure class=\"thumb\"><div class=\"stack\">");
        ndx__patch_images(b, w, p, alt);
        ndx__sb_put(b, "</div>");
        if (!w->meta.hide_labels)
            ndx__sb_printf(b, "<figcaption class=\"%s\" title=\"%s\">%s</figcaption>",
                           p->label ? "pos" : "neg",
                           p->label ? "cancer-positive patch" : "cancer-negative patch",
                           p->label ? "+" : "&minus;");
        ndx__sb_put(b, "</figure>");
    }
    ndx__sb_put(b, "</td></tr>\n");
}

void ndx__page_set(ndx__web *w, const ndx__req *q, int64_t set_id, ndx__reply *r)
{
    ndx__survey_set *sets = NULL;
    ndx__survey_unit *units = NULL;
    int nsets = 0, n = 0, index;
    if (ndx__survey_sets(ndx__web_rd(w), &sets, &nsets) != NDX_OK) {
        ndx__reply_page_error(r, 500, "The survey could not be read", ndx_last_error());
        return;
    }
    if (!set_id || (index = set_index(sets, nsets, set_id)) < 0) {
        free(sets);
        ndx__reply_page_error(r, 404, "No such unit set", "This survey has no such unit set.");
        return;
    }
    if (ndx__web_units(w, set_id, NDX__SURVEY_OVERVIEW, q->me->id, &units, &n) != NDX_OK) {
        free(sets);
        ndx__reply_page_error(r, 500, "The survey could not be read", ndx_last_error());
        return;
    }
    ndx__sb b = {0}, title = {0};
    ndx__set_title(&title, w, &sets[index], index + 1);
    ndx__page_begin(&b, title.s ? title.s : "", "overview");
    ndx__page_nav(&b, q->me);
    ndx__sb_put(&b, "<main><h1>");
    ndx__sb_putn(&b, title.s ? title.s : "", title.len);
    ndx__sb_put(&b, "</h1>\n<p class=\"instructions\">Each row is one unit of the network: "
                    "the 8 image patches that activate it most, with the region where the "
                    "unit fires highlighted. ");
    if (!w->meta.hide_labels)
        ndx__sb_put(&b, "Under each patch, <strong>+</strong> marks a patch from a "
                        "cancer-positive (malignant) region and <strong>&minus;</strong> a "
                        "patch without cancer. ");
    ndx__sb_put(&b, "The highlight shows where the unit fires, not necessarily where a "
                    "lesion is. Click a row to see the unit's 32 top patches and describe "
                    "what it detects.</p>\n<table class=\"overview\"><caption>Units of this "
                    "set</caption><thead><tr><th scope=\"col\">Unit</th><th scope=\"col\">Top "
                    "patches</th></tr></thead><tbody>\n");
    for (int i = 0; i < n; i++) overview_row(&b, w, &units[i], i + 1);
    ndx__sb_put(&b, "</tbody></table></main>");
    ndx__page_end(&b);
    b.oom |= title.oom;
    ndx__sb_free(&title);
    free(units);
    free(sets);
    ndx__reply_sb(r, 200, HTML, &b);
}

/* The admin's table: one row per reader and set. */
static void admin_rows(ndx__web *w, ndx__sb *b, const ndx__survey_reader *rd, int nrd,
                       const ndx__survey_progress *p, int np, const ndx__survey_set *sets,
                       int nsets)
{
    for (int i = 0; i < nrd; i++) {
        for (int j = 0; j < np; j++) {
            if (p[j].reader_id != rd[i].id) continue;
            int si = set_index(sets, nsets, p[j].set_id);
            ndx__sb_put(b, "<tr><th scope=\"row\">");
            ndx__sb_html(b, rd[i].name);
            ndx__sb_put(b, "</th><td>");
            ndx__sb_html(b, rd[i].role);
            ndx__sb_printf(b, "%s%s%s</td><td>", rd[i].admin ? ", admin" : "",
                           rd[i].simulated ? ", simulated" : "",
                           rd[i].disabled ? ", disabled" : "");
            if (si >= 0) ndx__set_title(b, w, &sets[si], si + 1);
            ndx__sb_printf(b, "</td><td><progress value=\"%d\" max=\"%d\" aria-label=\"completion"
                              "\"></progress></td><td class=\"num\">%d / %d</td><td class=\"num\">"
                              "%lld</td><td>",
                           p[j].answered, p[j].total > 0 ? p[j].total : 1, p[j].answered,
                           p[j].total, (long long)p[j].revisions);
            if (p[j].last_saved) {
                char t[32];
                ndx__iso_time(p[j].last_saved, t);
                ndx__sb_put(b, t);
            }
            ndx__sb_printf(b, "</td><td><a href=\"/answers?reader=%lld\">answers</a></td></tr>\n",
                           (long long)rd[i].id);
        }
    }
}

void ndx__page_admin(ndx__web *w, const ndx__req *q, ndx__reply *r)
{
    if (!q->me->admin) {
        ndx__reply_page_error(r, 403, "Admins only", "This page is for the survey's admins.");
        return;
    }
    ndx__survey_reader *rd = NULL;
    ndx__survey_progress *p = NULL;
    ndx__survey_set *sets = NULL;
    int nrd = 0, np = 0, nsets = 0;
    if (ndx__survey_reader_list(ndx__web_rd(w), &rd, &nrd) != NDX_OK ||
        ndx__survey_progress_get(ndx__web_rd(w), 0, &p, &np) != NDX_OK ||
        ndx__survey_sets(ndx__web_rd(w), &sets, &nsets) != NDX_OK) {
        free(rd);
        free(p);
        ndx__reply_page_error(r, 500, "The survey could not be read", ndx_last_error());
        return;
    }
    ndx__sb b = {0};
    ndx__page_begin(&b, "Admin", "admin");
    ndx__page_nav(&b, q->me);
    ndx__sb_printf(&b, "<main><h1>Completion per reader</h1>\n<p class=\"lead\">%d reader%s, "
                       "%d unit set%s. Survey %s.</p>\n",
                   nrd, nrd == 1 ? "" : "s", nsets, nsets == 1 ? "" : "s", w->meta.id);
    ndx__sb_put(&b, "<table class=\"admin\"><caption>Answers per reader and set</caption>"
                    "<thead><tr><th scope=\"col\">Reader</th><th scope=\"col\">Role</th>"
                    "<th scope=\"col\">Set</th><th scope=\"col\">Completion</th>"
                    "<th scope=\"col\">Answered</th><th scope=\"col\">Revisions</th>"
                    "<th scope=\"col\">Last saved (UTC)</th><th scope=\"col\">Answers</th>"
                    "</tr></thead><tbody>\n");
    admin_rows(w, &b, rd, nrd, p, np, sets, nsets);
    ndx__sb_put(&b, "</tbody></table></main>");
    ndx__page_end(&b);
    free(rd);
    free(p);
    free(sets);
    ndx__reply_sb(r, 200, HTML, &b);
}
