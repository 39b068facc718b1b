/* index.html of an explanation: offline (style and script inlined from
 * src/explain/assets/, allowed by their SHA-256 in the page's CSP; images
 * are files beside it), the mammogram with the heat maps as a toggled
 * overlay, the top units with their maps, labels and strips, the summary. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "explain_int.h"
#include "../dissect/dissect.h"
#include "../io/io.h"
#include "../survey/survey.h"

const unsigned char *ndx__asset(const char *path, size_t *len);   /* build/gen/assets.c */

/* 'sha256-<base64>' of text into out (>= 60 bytes). */
static void csp_hash(const char *text, char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t d[33] = {0};
    ndx__sha256(text, strlen(text), d);
    char *p = out + sprintf(out, "'sha256-");
    for (int i = 0; i < 33; i += 3) {
        const uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *p++ = b64[v >> 18 & 63], *p++ = b64[v >> 12 & 63];
        *p++ = i + 1 < 32 ? b64[v >> 6 & 63] : '=';
        *p++ = i + 2 < 32 ? b64[v & 63] : '=';
    }
    strcpy(p, "'");
}

static void unit_item(FILE *f, const ndx_explain_result *r, const ndx_explain_unit *e)
{
    const ndx_explain_label *l = &e->label;
    fprintf(f, "<li><b>unit %d</b>", e->unit);
    if (r->labelled && l->readers) {
        fputs(" &mdash; ", f);
        if (l->description[0]) {
            fputs("&lsquo;", f);
            ndx__html_put(f, l->description);
            fputs("&rsquo; ", f);
        }
        fputs("(", f);
        for (int t = 0; t < l->nterms; t++) {
            fputs(t ? "; " : l->terms[t].birads ? "BI-RADS: " : "", f);
            ndx__html_put(f, l->terms[t].name);
            fprintf(f, "%s %d/%d", l->terms[t].birads ? "" : " (not BI-RADS)",
                    l->terms[t].readers, l->readers);
        }
        fprintf(f, "%s%d/%d readers agree on ", l->nterms ? "; " : "", l->agreeing, l->readers);
        ndx__html_put(f, l->category[0] ? l->category : "no category");
        fputs(")", f);
    } else if (r->labelled) {
        fputs(" &mdash; not in the survey", f);
    }
    fputs(" &mdash; strongest at the ", f);
    ndx__html_put(f, e->region);
    fprintf(f, "<br><span class=\"meta\">contribution %.4g", e->contribution);
    if (isfinite(e->weight))
        fprintf(f, " = max activation %.4g &times; (w<sub>cancer</sub> &minus; w<sub>other</sub>) "
                "%.4g", e->max_act, e->weight);
    else fprintf(f, " (gradient &times; activation), max activation %.4g", e->max_act);
    fprintf(f, "; peak at (%d, %d) px</span> <button type=\"button\" "
            "data-map=\"unit_%04d.png\">show map</button>", e->peak_x, e->peak_y, e->unit);
    if (e->strip[0])
        fprintf(f, "<img class=\"strip\" src=\"strip_%04d.png\" alt=\"top patches of unit %d in "
                "the dissection\">", e->unit, e->unit);
    fputs("</li>\n", f);
}

typedef struct page {
    const ndx_explain_result *r;
    int dw, dh;
} page;

static ndx_status fill(FILE *f, void *ctx)
{
    const page *p = ctx;
    const ndx_explain_result *r = p->r;
    const char *css = (const char *)ndx__asset("src/explain/assets/explain.css", NULL);
    const char *js = (const char *)ndx__asset("src/explain/assets/explain.js", NULL);
    if (!css || !js) return ndx__fail(NDX_ERR_INVALID, "explain: page assets missing");
    char hc[64], hj[64];
    csp_hash(css, hc), csp_hash(js, hj);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "img-src 'self'; style-src %s; script-src %s; base-uri 'none'; form-action "
            "'none'\">\n<title>%snetdx explain: ", hc, hj, r->simulated ? "SIMULATED READERS - " : "");
    ndx__html_put(f, r->network);
    fprintf(f, "</title>\n<style>%s</style>\n<script>%s</script>\n</head><body>\n", css, js);
    fputs("<div class=\"notice\">Research aid, not a diagnosis.</div>\n", f);
    if (r->simulated)
        fputs("<div class=\"simulated\">SIMULATED READERS: the unit labels come from simulated "
              "readers, not from experts</div>\n", f);
    fputs("<h1>What the network saw in this mammogram</h1>\n<p class=\"summary\">", f);
    ndx__html_put(f, r->summary);
    fprintf(f, "</p>\n<p class=\"prov\">%s, layer <code>", r->network);
    ndx__html_put(f, r->layer);
    fprintf(f, "</code> (%d units, ranking: %s); %d of %d windows of %d px (step %d px) "
            "classified; image %d x %d px", r->units, r->method, r->windows,
            r->grid_w * r->grid_h, r->window, r->step, r->width, r->height);
    if (r->labelled) {
        fputs("; labels <code>", f);
        ndx__html_put(f, r->labels_path);
        fprintf(f, "</code> (XXH3-64 %s, %d readers)", r->labels_hash, r->readers);
    }
    fputs(".</p>\n<div class=\"wrap\"><div class=\"view\">", f);
    fprintf(f, "<img src=\"mammogram.png\" width=\"%d\" height=\"%d\" alt=\"the mammogram\">"
            "<img id=\"overlay\" class=\"overlay hidden\" src=\"heat.png\" alt=\"\">"
            "<img id=\"unitmap\" class=\"overlay hidden\" src=\"heat.png\" alt=\"\"></div>\n",
            p->dw, p->dh);
    fprintf(f, "<div class=\"side\"><div class=\"controls\">Malignancy map: "
            "<label><input type=\"radio\" name=\"map\" value=\"none\"> off</label>"
            "<label><input type=\"radio\" name=\"map\" value=\"heat.png\" checked> %s"
            "</label>", strcmp(r->patch_map, "fcn") ? "patch classifier"
            : "windows (mean of the 1&times;1 convolution, approximate)");
    if (r->fcn)
        fprintf(f, "<label><input type=\"radio\" name=\"map\" value=\"fcn.png\"> 1&times;1 "
                "convolution (%s)</label>", strcmp(r->unit_maps, "whole") ? "on the windows' maps"
                : "over the whole image");
    fprintf(f, "</div>\n<p class=\"meta\">Highest window probability %.3f, window centred at "
            "(%d, %d) px.", r->max_prob, r->heat_peak_x, r->heat_peak_y);
    if (r->fcn)
        fprintf(f, " 1&times;1-convolution map %d x %d (%s), peak at (%d, %d) px; its mean "
                "logit %.3f.", r->fcn_w, r->fcn_h, strcmp(r->unit_maps, "whole")
                ? "from the windows' maps, the most central window's where they overlap"
                : "the whole image",
                r->fcn_peak_x, r->fcn_peak_y, r->decision);
    fprintf(f, "</p>\n<h2>Top %d units for the cancer class</h2>\n<ol class=\"units\">\n",
            r->nunits);
    for (int i = 0; i < r->nunits; i++) unit_item(f, r, &r->unit[i]);
    fputs("</ol></div></div>\n</body></html>\n", f);
    return NDX_OK;
}

ndx_status ndx__explain_page(const char *dir, const ndx_explain_result *r, int dw, int dh)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/index.html", dir);
    page p = {r, dw, dh};
    return ndx__write_file(path, fill, &p);
}
