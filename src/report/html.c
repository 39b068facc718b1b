/* report/index.html: one page, offline (the style and script are the
 * library's embedded src/report/assets/, inlined; images are files beside
 * it): provenance, the Figure-4 table (sortable, filterable by network,
 * category and text), coverage, agreement, dissection against experts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

const unsigned char *ndx__asset(const char *path, size_t *len);

static void th(FILE *f, const char *name, int numeric)
{
    fprintf(f, "<th class=\"sort\"%s>", numeric ? " data-type=\"num\"" : "");
    ndx__rp_html_put(f, name);
    fputs("</th>", f);
}

static void td_num(FILE *f, double v, int digits)
{
    if (isnan(v)) fputs("<td class=\"num\" data-v=\"\">&ndash;</td>", f);
    else fprintf(f, "<td class=\"num\">%.*f</td>", digits, v);
}

static void td(FILE *f, const char *s)
{
    fputs("<td>", f);
    ndx__rp_html_put(f, s);
    fputs("</td>", f);
}

static void head(FILE *f, const rp_survey *s)
{
    const int sim = ndx__rp_any_simulated(s);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    fputs(sim ? "SIMULATED READERS - " : "", f);
    fputs("netdx report: BI-RADS comparison</title>\n<style>\n", f);
    fputs((const char *)ndx__asset("src/report/assets/report.css", NULL), f);
    fputs("</style>\n<script>\n", f);
    fputs((const char *)ndx__asset("src/report/assets/report.js", NULL), f);
    fputs("</script>\n</head><body>\n", f);
    if (sim)
        fputs("<div class=\"simulated\">SIMULATED READERS: these answers come from simulated "
              "readers, not from experts</div>\n", f);
    fputs("<h1>BI-RADS comparison: what the units show, in the readers' words</h1>\n", f);
    fputs("<p class=\"prov\">Survey <code>", f);
    ndx__rp_html_put(f, s->path);
    fprintf(f, "</code> (XXH3-64 <code>%s</code>, survey <code>", s->hex);
    ndx__rp_html_put(f, s->id);
    fprintf(f, "</code>), lexicon <code>");
    ndx__rp_html_put(f, ndx_lexicon_version(s->lex));
    fprintf(f, "</code>, netdx %s.<br>Dissections:", ndx_version());
    for (int d = 0; d < s->ndiss; d++) {
        fputs(d ? "; " : " ", f);
        ndx__rp_html_put(f, s->diss[d].network[0] ? s->diss[d].network : "(unused)");
        fputs(" <code>", f);
        ndx__rp_html_put(f, s->diss[d].dir);
        fprintf(f, "</code> (units.csv XXH3-64 <code>%s</code>)", s->diss[d].hex);
    }
    fputs(".</p>\n<table><thead><tr><th>reader</th><th>id</th><th>role</th><th>simulated</th>"
          "<th>answers</th><th>repeats</th></tr></thead><tbody>\n", f);
    long total = 0, repeats = 0;
    for (int r = 0; r < s->nreaders; r++) {
        long n = 0, rep = 0;
        for (long i = 0; i < s->nanswers; i++)
            if (s->answers[i].reader == r) s->answers[i].repeat ? rep++ : n++;
        total += n, repeats += rep;
        fputs("<tr>", f);
        td(f, s->readers[r].name);
        fprintf(f, "<td class=\"num\">%ld</td>", s->readers[r].id);
        td(f, s->readers[r].role);
        fprintf(f, "<td>%s</td><td class=\"num\">%ld</td><td class=\"num\">%ld</td></tr>\n",
                s->readers[r].simulated ? "<span class=\"warn\">simulated</span>" : "no", n, rep);
    }
    fprintf(f, "</tbody></table>\n<p class=\"note\">%d units, %ld answers and %ld repeated "
            "units; %d phenomena were described in text only and mapped to the lexicon, leaving "
            "%d word%s unmatched.</p>\n", s->nunits, total, repeats, s->mapped, s->unmatched,
            s->unmatched == 1 ? "" : "s");
}

static void select_of(FILE *f, const char *id, const char *label, const char *const *v,
                      const char *const *names, int n)
{
    fprintf(f, "<label>%s <select id=\"%s\"><option value=\"\">all</option>", label, id);
    for (int i = 0; i < n; i++) {
        fputs("<option value=\"", f);
        ndx__rp_html_put(f, v[i]);
        fputs("\">", f);
        ndx__rp_html_put(f, names[i]);
        fputs("</option>", f);
    }
    fputs("</select></label>\n", f);
}

static void filters(FILE *f, const rp_survey *s, const rp_analysis *a, const rp_row *rows, int nrows)
{
    const char *nets[17], *cats[RP_MAX_CATS + 2], *cnames[RP_MAX_CATS + 2];
    int nn = 0, nc = 0;
    for (int d = 0; d < s->ndiss; d++) {
        int seen = !s->diss[d].network[0];
        for (int j = 0; j < nn; j++) seen |= !strcmp(nets[j], s->diss[d].network);
        if (!seen) nets[nn++] = s->diss[d].network;
    }
    for (int c = 0; c < a->ncat; c++) {
        int used = 0;
        for (int i = 0; i < nrows && !used; i++) used = rows[i].cat == c;
        if (used) cats[nc] = a->cat[c].id, cnames[nc++] = a->cat[c].name;
    }
    fputs("<div class=\"filters\">", f);
    select_of(f, "f-network", "network", nets, nets, nn);
    select_of(f, "f-category", "category", cats, cnames, nc);
    fputs("<label>text <input id=\"f-text\" type=\"search\" placeholder=\"e.g. spiculated\">"
          "</label> <span id=\"f-count\" class=\"note\"></span></div>\n", f);
}

static void figure4(FILE *f, const rp_survey *s, const rp_analysis *a, const rp_row *rows,
                    int nrows, const char *const *strips)
{
    fputs("<h2>Figure 4: units by BI-RADS category</h2>\n<p class=\"note\">One row per "
          "(category, unit) that at least one reader described with a descriptor of the "
          "category; descriptors with the number of readers who used them, the most common "
          "words of those readers' text. Click a header to sort. Composite figure: "
          "<a href=\"figure4.png\">figure4.png</a>; table: <a href=\"figure4.csv\">figure4.csv"
          "</a>.</p>\n", f);
    filters(f, s, a, rows, nrows);
    fputs("<table id=\"figure4\"><thead><tr>", f);
    th(f, "category", 0);
    th(f, "descriptors", 0);
    th(f, "common words", 0);
    th(f, "network", 0);
    th(f, "layer", 0);
    th(f, "unit", 1);
    th(f, "readers agreeing", 1);
    fputs("<th>top patches</th></tr></thead><tbody>\n", f);
    char buf[2048];
    for (int i = 0; i < nrows; i++) {
        const rp_row *r = &rows[i];
        const rp_drow *d = ndx__rp_unit_row(s, r->unit);
        fputs("<tr data-network=\"", f);
        ndx__rp_html_put(f, ndx__rp_unit_network(s, r->unit));
        fputs("\" data-category=\"", f);
        ndx__rp_html_put(f, a->cat[r->cat].id);
        fputs("\">", f);
        td(f, a->cat[r->cat].name);
        ndx__rp_unit_terms(s, a, r->unit, r->cat, buf, sizeof buf);
        td(f, buf);
        ndx__rp_common_words(s, a, r->unit, r->cat, 3, buf, sizeof buf);
        td(f, buf);
        td(f, ndx__rp_unit_network(s, r->unit));
        td(f, d->layer);
        fprintf(f, "<td class=\"num\">%d</td><td class=\"num\" data-v=\"%d\">%d of %d</td>", d->unit,
                r->agreeing, r->agreeing, a->readers[r->unit]);
        if (strips[r->unit]) fprintf(f, "<td class=\"strip\"><img src=\"%s\" alt=\"unit %d\" loading=\"lazy\"></td>",
                                     strips[r->unit], d->unit);
        else fputs("<td class=\"nb\">no strip</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void coverage(FILE *f, const rp_survey *s, const rp_analysis *a)
{
    rp_cov *cv;
    int n;
    fputs("<h2>Coverage per network and layer</h2>\n<p class=\"note\">Units a majority of their "
          "readers judged recognizable, spurious (not recognizable), entangled (several "
          "phenomena), non-BI-RADS anatomy, or described with each BI-RADS category. "
          "<a href=\"coverage.csv\">coverage.csv</a></p>\n<img class=\"chart\" src=\"coverage.png\" "
          "alt=\"coverage bar chart\">\n", f);
    if (ndx__rp_coverage(s, a, &cv, &n)) return;
    int used[RP_MAX_CATS + 2] = {0};
    for (int c = 0; c < a->ncat; c++)
        for (int g = 0; g < n; g++) used[c] |= a->cat[c].birads && cv[g].cat[c] > 0;
    fputs("<div class=\"wide\"><table><thead><tr>", f);
    const char *h[] = {"network", "layer", "units", "recognizable", "spurious", "entangled", "anatomy"};
    for (int i = 0; i < 7; i++) th(f, h[i], i >= 2);
    for (int c = 0; c < a->ncat; c++)
        if (used[c]) th(f, a->cat[c].name, 1);
    fputs("</tr></thead><tbody>\n", f);
    for (int g = 0; g < n; g++) {
        fputs("<tr>", f);
        td(f, cv[g].network);
        td(f, cv[g].layer);
        const int v[] = {cv[g].units, cv[g].recognizable, cv[g].spurious, cv[g].entangled, cv[g].anatomy};
        for (int i = 0; i < 5; i++) fprintf(f, "<td class=\"num\">%d</td>", v[i]);
        for (int c = 0; c < a->ncat; c++)
            if (used[c]) fprintf(f, "<td class=\"num\">%d</td>", cv[g].cat[c]);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n<p class=\"note\">BI-RADS categories no unit reached are "
          "left out here; coverage.csv has them all.</p>\n", f);
    free(cv);
}


static void agreement(FILE *f, const rp_survey *s, const rp_analysis *a)
{
    fputs("<h2>Agreement between readers</h2>\n", f);
    if (s->nreaders < 2)
        fputs("<p class=\"warn\">Agreement needs two readers: this survey has one.</p>\n", f);
    fputs("<p class=\"note\">Percent agreement and kappa (Cohen's per pair, Fleiss' for all "
          "readers) on Q1 (recognizable?), the cancer association and the primary BI-RADS "
          "category, with 95% bootstrap intervals over units; self-consistency compares a "
          "reader's repeated units with the first answers. <a href=\"agreement.csv\">"
          "agreement.csv</a></p>\n<table><thead><tr>", f);
    const char *h[] = {"question", "readers", "units", "agreement %", "kappa", "95% CI"};
    for (int i = 0; i < 6; i++) th(f, h[i], i >= 2 && i < 5);
    fputs("</tr></thead><tbody>\n", f);
    for (int i = 0; i < a->nagree; i++) {
        const rp_agree *g = &a->agree[i];
        char who[200];
        ndx__rp_agree_who(s, g, who, sizeof who);
        fputs("<tr>", f);
        td(f, ndx__rp_question_names[g->question]);
        td(f, who);
        fprintf(f, "<td class=\"num\">%zu</td>", g->r.n);
        if (!g->defined) {
            fputs("<td colspan=\"3\" class=\"nb\">fewer than 2 units</td></tr>\n", f);
            continue;
        }
        td_num(f, 100 * g->r.agreement, 1);
        td_num(f, g->r.kappa, 3);
        if (isnan(g->r.lo)) fputs("<td class=\"nb\">undefined</td>", f);
        else fprintf(f, "<td>%.3f &ndash; %.3f</td>", g->r.lo, g->r.hi);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

/* Two box plots (labelled above, other below) of IoU on 0..max, as SVG. */
static void boxes(FILE *f, const rp_kind_iou *k, double max)
{
    const double w = 200;
    fputs("<td><svg width=\"210\" height=\"30\" viewBox=\"0 0 210 30\">", f);
    for (int g = 0; g < 2; g++) {
        const double *q = g ? k->neg_q : k->pos_q;
        if (isnan(q[0])) continue;
        const double y = 8 + 14 * g;
        const char *col = g ? "#1f77b4" : "#ff7f0e";
        double x[5];
        for (int i = 0; i < 5; i++) x[i] = 5 + w * q[i] / max;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", x[0], y,
                x[4], y, col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"%s\" "
                   "fill-opacity=\"0.5\" stroke=\"%s\"/>", x[1], y - 5, x[3] - x[1] + 0.5, col, col);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
                   "stroke-width=\"2\"/>", x[2], y - 5, x[2], y + 5);
    }
    fputs("</svg></td>", f);
}

static void experts(FILE *f, const rp_analysis *a)
{
    double max = 1e-9;
    for (int i = 0; i < a->nkind; i++)
        for (int g = 0; g < 2; g++) {
            const double v = g ? a->kinds[i].neg_q[4] : a->kinds[i].pos_q[4];
            if (v > max) max = v;
        }
    fputs("<h2>Dissection against experts</h2>\n<p class=\"note\">For each lesion kind of the "
          "dissection, the IoU (units.csv) of the units a majority of readers labelled with it "
          "against the other surveyed units (median [quartiles]), and the AUC of IoU as a "
          "predictor of the label. <a href=\"experts_iou.csv\">experts_iou.csv</a></p>\n"
          "<table><thead><tr>", f);
    const char *h[] = {"kind", "network", "labelled", "IoU labelled", "other", "IoU other", "AUC"};
    for (int i = 0; i < 7; i++) th(f, h[i], i == 2 || i == 4 || i == 6);
    fprintf(f, "<th>IoU: <span style=\"color:#ff7f0e\">labelled</span> / <span "
               "style=\"color:#1f77b4\">other</span>, 0..%.3f</th>", max);
    fputs("</tr></thead><tbody>\n", f);
    for (int i = 0; i < a->nkind; i++) {
        const rp_kind_iou *k = &a->kinds[i];
        fputs("<tr>", f);
        td(f, k->kind);
        td(f, k->network);
        for (int g = 0; g < 2; g++) {
            const double *q = g ? k->neg_q : k->pos_q;
            fprintf(f, "<td class=\"num\">%d</td>", g ? k->n_neg : k->n_pos);
            if (isnan(q[2])) fputs("<td class=\"nb\">none</td>", f);
            else fprintf(f, "<td>%.4f [%.4f, %.4f]</td>", q[2], q[1], q[3]);
        }
        td_num(f, k->auc, 3);
        boxes(f, k, max);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void mapping(FILE *f, const rp_survey *s)
{
    rp_mapped *m;
    int n;
    if (ndx__rp_mapped_texts(s, &m, &n)) return;
    fputs("<h2>Free text mapped to the lexicon</h2>\n<p class=\"note\">Phenomena a reader "
          "described in words only, mapped by the text mapping (docs/lexicon.md); words no "
          "synonym covers are listed, not guessed. <a href=\"mapping.csv\">mapping.csv</a></p>\n"
          "<table><thead><tr>", f);
    const char *h[] = {"text", "phenomena", "descriptors", "unmatched words"};
    for (int i = 0; i < 4; i++) th(f, h[i], i == 1);
    fputs("</tr></thead><tbody>\n", f);
    char buf[2048];
    for (int i = 0; i < n; i++) {
        fputs("<tr>", f);
        td(f, m[i].ph->text);
        fprintf(f, "<td class=\"num\">%d</td>", m[i].count);
        buf[0] = 0;
        for (int k = 0; k < m[i].ph->nterms; k++) {
            const size_t used = strlen(buf);
            snprintf(buf + used, sizeof buf - used, "%s%s", k ? ", " : "",
                     ndx_lexicon_term_at(s->lex, m[i].ph->terms[k])->name);
        }
        td(f, buf);
        fputs(m[i].ph->unmatched && *m[i].ph->unmatched ? "<td class=\"warn\">" : "<td>", f);
        ndx__rp_html_put(f, m[i].ph->unmatched ? m[i].ph->unmatched : "");
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    free(m);
}

ndx_status ndx__rp_write_html(const char *dir, const rp_survey *s, const rp_analysis *a,
                         const rp_row *rows, int nrows, const char *const *strips)
{
    if (!ndx__asset("src/report/assets/report.css", NULL) || !ndx__asset("src/report/assets/report.js", NULL))
        return ndx__fail(NDX_ERR_UNSUPPORTED, "report: the page assets are not in this build");
    ndx__out o;
    FILE *f = ndx__rp_open(&o, dir, "index.html");
    if (!f) return NDX_ERR_IO;
    head(f, s);
    coverage(f, s, a);
    figure4(f, s, a, rows, nrows, strips);
    agreement(f, s, a);
    experts(f, a);
    mapping(f, s);
    char prov[2048];
    ndx__rp_provenance(s, prov, sizeof prov);
    fputs("<p class=\"prov\">Source: ", f);
    ndx__rp_html_put(f, prov);
    fputs("</p>\n</body></html>\n", f);
    return ndx__rp_close(&o);
}
