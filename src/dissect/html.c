/* index.html of a dissection: a header (model, its XXH3-64, network, layers,
 * split, patches, threshold rule), a glossary, per layer a summary (units
 * with IoU >= 0.04 for some lesion kind, a CSS bar per kind) and the table:
 * one <tbody> per unit (its numbers, then its first tiles); units under
 * 0.04 greyed; kinds absent from the split "n/a".  Offline: no script or
 * style from elsewhere; every string escaped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dissect.h"
#include "../io/io.h"

#define IOU_BAR 0.04      /* NetDissect's "detector" bar */
#define INDEX_TILES 5     /* tiles per unit on the index: 5 x 196 px and a link fit 1280 */

const char ndx__dissect_css[] =
    "body{font-family:sans-serif;margin:1em;max-width:1240px}table{border-collapse:collapse}"
    "th{background:#eee}th,td{border:1px solid #ccc;padding:2px 5px;text-align:right}"
    "td.s,th.s{text-align:left}tbody.dim td{color:#aaa}tbody.dim img{opacity:.45}"
    "img.tile{height:192px;margin:2px}img.full{height:auto;min-height:192px}img.ctx{height:300px;margin:2px}"
    "figure{display:inline-block;margin:4px;vertical-align:top}.cards{display:flex;flex-wrap:wrap}"
    ".pos{color:#c00}.neg{color:#00c}.bar{background:#4a7;height:14px;display:inline-block}"
    "dt{font-weight:bold}dd{margin:0 0 .4em 1.5em}code{background:#f4f4f4}";

const char *ndx__dissect_mode_name(ndx_dissect_mode m)
{
    return m == NDX_THRESHOLD_QUANTILE ? "quantile" : m == NDX_THRESHOLD_RELATIVE ? "relative" : "fixed";
}

static int absent(const ndx_dissect_output *opt, int m)
{
    return opt->kind_patches && opt->kind_patches[m] == 0;
}

void ndx__dissect_iou_cells(FILE *f, const ndx_dissect *d, const ndx_dissect_unit *info,
                            const ndx_dissect_output *opt)
{
    for (int m = 0; m < d->nmasks; m++)
        if (absent(opt, m)) fputs("<td title=\"no patch of the split holds this kind\">n/a</td>", f);
        else if (d->n_iou) fprintf(f, "<td>%.4f</td>", info->iou[m]);
        else fputs("<td></td>", f);
}

int ndx__dissect_best(const ndx_dissect *d, const ndx_dissect_unit *info, const ndx_dissect_output *opt)
{
    int b = -1;
    for (int m = 0; m < d->nmasks && d->n_iou; m++)
        if (!absent(opt, m) && info->iou[m] > 0 && (b < 0 || info->iou[m] > info->iou[b])) b = m;
    return b;
}

static void model_line(FILE *f, const ndx_dissect_output *opt)
{
    fputs("<tr><th class=s>model</th><td class=s>", f);
    if (!opt->model) {
        fputs("not given</td></tr>\n", f);
        return;
    }
    fputs("<code>", f);
    ndx__html_put(f, opt->model);
    fputs("</code>", f);
    FILE *m = NULL;
    (void)ndx__open_read(opt->model, &m, NULL);   /* no digest when it cannot be read */
    ndx_hasher *h = m ? ndx_hasher_new(0) : NULL;
    if (h) {
        unsigned char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, m)) > 0) ndx_hasher_update(h, buf, n);
        if (!ferror(m)) fprintf(f, " (XXH3-64 <code>%016llx</code>)", (unsigned long long)ndx_hasher_digest(h));
        ndx_hasher_free(h);
    }
    if (m) fclose(m);
    fputs("</td></tr>\n", f);
}

static void header(FILE *f, const ndx_dissect *const *layers, int nlayers, const ndx_dissect_output *opt)
{
    const ndx_dissect *d0 = layers[0];
    fprintf(f, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>netdx dissection</title>\n"
            "<style>%s</style></head><body>\n<h1>netdx dissection</h1>\n<table class=head>\n",
            ndx__dissect_css);
    model_line(f, opt);
    fputs("<tr><th class=s>network</th><td class=s>", f);
    ndx__html_put(f, opt->network ? opt->network : "not given");
    fputs("</td></tr>\n<tr><th class=s>layers</th><td class=s>", f);
    for (int l = 0; l < nlayers; l++) {
        fputs(l ? ", <code>" : "<code>", f);
        ndx__html_put(f, layers[l]->layer);
        fprintf(f, "</code> (%d units, maps %dx%d)", layers[l]->units, layers[l]->h, layers[l]->w);
    }
    fputs("</td></tr>\n<tr><th class=s>split</th><td class=s>", f);
    ndx__html_put(f, opt->split ? opt->split : "not given");
    fprintf(f, "</td></tr>\n<tr><th class=s>patches</th><td class=s>%llu, %llu positive "
            "(malignant); IoU over %llu</td></tr>\n<tr><th class=s>threshold T (IoU)</th>"
            "<td class=s>%s: ", (unsigned long long)d0->n_stats, (unsigned long long)d0->n_pos,
            (unsigned long long)d0->n_iou, ndx__dissect_mode_name(d0->mode));
    if (d0->mode == NDX_THRESHOLD_QUANTILE)
        fprintf(f, "per unit, the value exceeded by the top %.4g%% of all its activations", 100 * d0->quantile);
    else if (d0->mode == NDX_THRESHOLD_RELATIVE)
        fprintf(f, "per unit, %.3g &times; its best score", d0->relative);
    else
        fputs("given per unit", f);
    fprintf(f, "</td></tr>\n<tr><th class=s>pictures</th><td class=s>highlight drawn with the %s "
            "rule (%s); shown patches: %s</td></tr>\n</table>\n",
            opt->draw_threshold == NDX_DRAW_QUANTILE ? "quantile" : "relative",
            opt->draw_threshold == NDX_DRAW_QUANTILE ? "map above T"
                                                       : "map at least 0.2 &times; the unit's best score, as the study drew",
            opt->distinct == NDX_DISTINCT_NONE     ? "every top patch"
            : opt->distinct == NDX_DISTINCT_LESION ? "one view per lesion"
                                                   : "at most one per mammogram");
}

static void glossary(FILE *f)
{
    fputs("<details open><summary><b>What the numbers and pictures mean</b></summary><dl>\n"
          "<dt>unit</dt><dd>one channel of the layer; its <i>map</i> is its activation over a patch.</dd>\n"
          "<dt>max, mean</dt><dd>the unit's score on a patch is the maximum of its map; max and mean "
          "are over all patches of the split.</dd>\n"
          "<dt>threshold T</dt><dd>a map pixel counts as <i>active</i> above T (rule in the header).</dd>\n"
          "<dt>IoU</dt><dd>intersection over union, summed over all patches, of the active region "
          "(map upsampled to the patch) and the lesion mask of a kind; 0 = no overlap, 1 = the "
          "same pixels. A unit with IoU &ge; 0.04 for a kind is counted as a detector of it; "
          "units below that for every kind are greyed. <i>n/a</i>: no patch of the split holds "
          "that kind.</dd>\n"
          "<dt>best</dt><dd>the lesion kind of highest IoU (empty when every IoU is 0).</dd>\n"
          "<dt>positive fraction</dt><dd>the share of the unit's top-k patches that hold a "
          "malignant lesion.</dd>\n"
          "<dt>influence on the decision</dt><dd>not shown here: how much a unit moves the "
          "network's cancer decision is ranked by <code>netdx rank</code> (DeepMiner's count "
          "over whole mammograms, or gradient &times; activation where DeepMiner does not "
          "apply; docs/ranking.md).</dd>\n"
          "<dt>pictures</dt><dd>each tile is a top patch cut from its mammogram at its own "
          "resolution and windowed for display; outside the unit's highlight it is dimmed to 20%; "
          "the <span style=\"color:#2a2\">green line</span> is the true lesion outline; the corner "
          "mark is <b class=pos>+</b> for a patch holding a malignant lesion, <b class=neg>&minus;</b> "
          "otherwise. On a unit's page, the <span style=\"color:#c00\">red box</span> shows where "
          "each patch lies in its mammogram. Click a unit number for its page.</dd>\n"
          "</dl></details>\n",
          f);
}

/* Per layer: units with IoU >= the bar and a bar per kind of their best. */
static void summary(FILE *f, const ndx_dissect *const *layers, int nlayers, const ndx_dissect_output *opt,
                    const ndx__dissect_row *rows, int nrows)
{
    for (int l = 0; l < nlayers; l++) {
        const ndx_dissect *d = layers[l];
        int per[NDX_DISSECT_MAX_MASKS] = {0}, n = 0, most = 1;
        for (int i = 0; i < nrows; i++) {
            if (rows[i].layer != l) continue;
            const int b = ndx__dissect_best(d, &rows[i].info, opt);
            if (b >= 0 && rows[i].info.iou[b] >= IOU_BAR) per[b]++, n++;
        }
        for (int m = 0; m < d->nmasks; m++) most = per[m] > most ? per[m] : most;
        fputs("<h2>Layer <code>", f);
        ndx__html_put(f, d->layer);
        fprintf(f, "</code></h2>\n<p><b>%d of %d units</b> have IoU &ge; %.2g with some lesion kind%s."
                "</p>\n<table class=bars><tr><th class=s>best kind</th><th>units</th><th class=s></th></tr>\n",
                n, d->units, IOU_BAR, d->n_iou ? "" : " (no IoU computed: statistics only)");
        for (int m = 0; m < d->nmasks; m++) {
            fputs("<tr><td class=s>", f);
            ndx__html_put(f, d->mask_names[m]);
            if (absent(opt, m)) fputs("</td><td>n/a</td><td class=s>absent from the split</td></tr>\n", f);
            else
                fprintf(f, "</td><td>%d</td><td class=s><span class=bar style=\"width:%dpx\"></span>"
                        "</td></tr>\n", per[m], 300 * per[m] / most);
        }
        fputs("</table>\n", f);
    }
}

static void unit_body(FILE *f, const ndx_dissect *d, const ndx_dissect_output *opt,
                      const ndx__dissect_row *r, int ncols)
{
    char lname[64];
    ndx__safe_name(lname, sizeof lname, d->layer);
    const int b = ndx__dissect_best(d, &r->info, opt);
    fprintf(f, "<tbody%s><tr><td class=s>", b >= 0 && r->info.iou[b] >= IOU_BAR ? "" : " class=dim");
    ndx__html_put(f, d->layer);
    if (r->nshown >= 0) fprintf(f, "</td><td><a href=\"units/%s_%04d.html\">%d</a></td>", lname, r->unit, r->unit);
    else fprintf(f, "</td><td>%d</td>", r->unit);
    const double nums[3] = {r->info.max_score, r->info.mean_score, r->info.threshold};
    for (int i = 0; i < 3; i++)   /* empty, not "nan": no threshold yet (--stats-only) */
        if (isnan(nums[i])) fputs("<td></td>", f);
        else fprintf(f, "<td>%.4g</td>", nums[i]);
    ndx__dissect_iou_cells(f, d, &r->info, opt);
    fputs("<td class=s>", f);
    if (b >= 0) ndx__html_put(f, d->mask_names[b]);
    fprintf(f, "</td><td>%.3f</td></tr>\n", r->info.positive_fraction);
    if (r->nshown > 0) {
        fprintf(f, "<tr><td class=s colspan=%d>", ncols);
        for (int i = 0; i < r->nshown && i < INDEX_TILES; i++)
            fprintf(f, "<a href=\"units/%s_%04d_%02d.png\"><img class=tile loading=\"lazy\" "
                    "src=\"units/%s_%04d_%02d.png\" alt=\"\"></a>", lname, r->unit, i, lname, r->unit, i);
        if (r->nshown > INDEX_TILES)
            fprintf(f, " <a href=\"units/%s_%04d.html\">all %d &rarr;</a>", lname, r->unit, r->nshown);
        fputs("</td></tr>\n", f);
    } else if (r->image[0] || r->context[0]) {
        fprintf(f, "<tr><td class=s colspan=%d>", ncols);
        if (r->image[0]) {
            fputs("<img class=tile loading=\"lazy\" src=\"", f);
            ndx__html_put(f, r->image);
            fputs("\" alt=\"\">", f);
        }
        if (r->context[0]) {
            fputs("<img class=tile loading=\"lazy\" src=\"", f);
            ndx__html_put(f, r->context);
            fputs("\" alt=\"\">", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n", f);
}

static const char sort_js[] =
    "<script>\n"
    "document.querySelectorAll('table.units thead th').forEach(function (th, i) {\n"
    "  th.style.cursor = 'pointer';\n"
    "  th.onclick = function () {\n"
    "    var t = th.closest('table'), bodies = Array.prototype.slice.call(t.tBodies);\n"
    "    var num = th.hasAttribute('data-num'), desc = th.dataset.dir !== 'desc';\n"
    "    th.dataset.dir = desc ? 'desc' : 'asc';\n"
    "    function key(b) { var x = b.rows[0].cells[i].textContent;\n"
    "      if (!num) return x; var v = parseFloat(x); return isNaN(v) ? -Infinity : v; }\n"
    "    bodies.sort(function (a, b) { var x = key(a), y = key(b);\n"
    "      return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1); });\n"
    "    bodies.forEach(function (b) { t.appendChild(b); });\n"
    "  };\n"
    "});\n</script>\n";

ndx_status ndx__dissect_index(const char *dir, const ndx_dissect *const *layers, int nlayers,
                              const ndx_dissect_output *opt, const ndx__dissect_row *rows, int nrows)
{
    const ndx_dissect *d0 = layers[0];
    ndx__out o;
    ndx_status st = ndx__dissect_open(&o, dir, "index.html");
    if (st) return st;
    FILE *f = o.f;
    header(f, layers, nlayers, opt);
    glossary(f);
    summary(f, layers, nlayers, opt, rows, nrows);
    fputs("<h2>Units</h2>\n<p>Click a column header to sort.</p>\n<table class=units><thead><tr>"
          "<th class=s>layer</th><th data-num>unit</th><th data-num>max</th><th data-num>mean</th>"
          "<th data-num>threshold</th>", f);
    for (int m = 0; m < d0->nmasks; m++) {
        fputs("<th data-num>IoU ", f);
        ndx__html_put(f, d0->mask_names[m]);
        fputs("</th>", f);
    }
    fputs("<th class=s>best</th><th data-num>positive fraction</th></tr></thead>\n", f);
    for (int i = 0; i < nrows; i++) unit_body(f, layers[rows[i].layer], opt, &rows[i], 7 + d0->nmasks);
    fputs("</table>\n", f);
    fputs(sort_js, f);
    fputs("</body></html>\n", f);
    return ndx__out_commit(&o);
}
