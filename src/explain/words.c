/* The words of netdx explain: the breast's side and view, where a point
 * lies, and the plain-language summary -- built only from what the image,
 * its name and the readers' labels say. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "explain_int.h"

static int has_word(const char *name, const char *word)
{
    const size_t n = strlen(word);
    for (const char *p = name; *p; p++) {
        if (p != name && isalnum((unsigned char)p[-1])) continue;
        size_t i = 0;
        while (i < n && p[i] && toupper((unsigned char)p[i]) == word[i]) i++;
        if (i == n && !isalnum((unsigned char)p[n])) return 1;
    }
    return 0;
}

ndx_status ndx__explain_orientation(const ndx_explain_opts *o, ndx_explain_result *r)
{
    const char *base = strrchr(o->image, '/');
    base = base ? base + 1 : o->image;
    if (o->side) {
        if (!strcmp(o->side, "L") || !strcmp(o->side, "left")) strcpy(r->side, "L");
        else if (!strcmp(o->side, "R") || !strcmp(o->side, "right")) strcpy(r->side, "R");
        else return ndx__fail(NDX_ERR_INVALID, "explain: side '%s' (L or R)", o->side);
    } else if (has_word(base, "LEFT") != has_word(base, "RIGHT")) {
        strcpy(r->side, has_word(base, "LEFT") ? "L" : "R");
    }
    if (o->view) {
        if (!strcmp(o->view, "CC") || !strcmp(o->view, "MLO")) strcpy(r->view, o->view);
        else return ndx__fail(NDX_ERR_INVALID, "explain: view '%s' (CC or MLO)", o->view);
    } else if (has_word(base, "CC") != has_word(base, "MLO")) {
        strcpy(r->view, has_word(base, "CC") ? "CC" : "MLO");
    }
    if (o->side || o->view) strcpy(r->orient_source, "options");
    else if (r->side[0] || r->view[0]) strcpy(r->orient_source, "file name");
    return NDX_OK;
}

/* The breast's columns: the chest wall's edge (the side with more breast
 * in its outer tenth) and the farthest column holding breast. */
static void breast_extent(const ndx_image *img, int thr, int *wall_left, int *x0, int *x1)
{
    const int band = img->w / 10 > 0 ? img->w / 10 : 1;
    long left = 0, right = 0;
    *x0 = img->w, *x1 = -1;
    for (int x = 0; x < img->w; x++) {
        long n = 0;
        for (int y = 0; y < img->h; y += 4) n += img->px[(size_t)y * img->w + x] > thr;
        if (x < band) left += n;
        if (x >= img->w - band) right += n;
        if (n * 4 > img->h / 100) {
            if (x < *x0) *x0 = x;
            *x1 = x;
        }
    }
    *wall_left = left >= right;
    if (*x1 < *x0) *x0 = 0, *x1 = img->w - 1;
}

void ndx__explain_region(const ndx_explain_result *r, const ndx_image *img, int thr, int x,
                         int y, char *buf, size_t n)
{
    int wall_left, x0, x1;
    breast_extent(img, thr, &wall_left, &x0, &x1);
    const double span = x1 > x0 ? x1 - x0 : 1;
    const double d = wall_left ? (x - x0) / span : (x1 - x) / span;
    const char *depth = d < 1.0 / 3 ? "near the chest wall" : d < 2.0 / 3
                                    ? "at middle depth" : "toward the nipple";
    const int third = y * 3 / (img->h > 0 ? img->h : 1);
    const char *side = r->side[0] == 'L' ? "left" : "right";
    if (r->side[0] && !strcmp(r->view, "MLO")) {
        static const char *const v[3] = {"upper", "central", "lower"};
        snprintf(buf, n, "%s part of the %s breast, %s (MLO)", v[third > 2 ? 2 : third], side,
                 depth);
    } else if (r->side[0] && !strcmp(r->view, "CC")) {
        static const char *const v[3] = {"outer", "central", "inner"};
        snprintf(buf, n, "%s part of the %s breast, %s (CC)", v[third > 2 ? 2 : third], side,
                 depth);
    } else {
        static const char *const v[3] = {"top", "middle", "bottom"};
        const char *h = x * 3 < img->w ? "left" : x * 3 < 2 * img->w ? "centre" : "right";
        snprintf(buf, n, "%s %s of the image (x %d%%, y %d%%), %s; side and view unknown",
                 v[third > 2 ? 2 : third], h, (int)(100.0 * x / img->w),
                 (int)(100.0 * y / img->h), depth);
    }
}

/* One unit in the summary's words. */
static void unit_words(const ndx_explain_result *r, const ndx_explain_unit *e, char *buf,
                       size_t n)
{
    const ndx_explain_label *l = &e->label;
    char terms[400] = "";
    size_t k = 0;
    for (int t = 0; t < l->nterms && t < 3 && k + 1 < sizeof terms; t++)
        k += (size_t)snprintf(terms + k, sizeof terms - k, "%s%s", t ? ", " : "",
                              l->terms[t].name);
    if (k >= sizeof terms) terms[sizeof terms - 1] = 0;
    if (!r->labelled)
        snprintf(buf, n, "unit %d, strongest at the %s", e->unit, e->region);
    else if (!l->readers)
        snprintf(buf, n, "unit %d (not labelled by the readers), strongest at the %s", e->unit,
                 e->region);
    else if (l->description[0] || terms[0])
        snprintf(buf, n, "unit %d, which %d of %d readers placed in \"%s\"%s%s%s%s%s%s, "
                 "strongest at the %s", e->unit, l->agreeing, l->readers,
                 l->category[0] ? l->category : "no category",
                 l->description[0] ? " and described as \"" : "", l->description,
                 l->description[0] ? "\"" : "", terms[0] ? " (descriptors: " : "", terms,
                 terms[0] ? ")" : "", e->region);
    else
        snprintf(buf, n, "unit %d, which its %d readers did not describe, strongest at the %s",
                 e->unit, l->readers, e->region);
}

void ndx__explain_summary(ndx_explain_result *r)
{
    char *s = r->summary;
    const size_t n = sizeof r->summary;
    size_t k = (size_t)snprintf(s, n, "Research aid, not a diagnosis. The %s network's highest "
                                "malignancy score over the %d windows of this mammogram is "
                                "%.2f", r->network, r->windows, r->max_prob);
    const int show = r->nunits < 3 ? r->nunits : 3;
    for (int i = 0; i < show && k < n; i++) {
        char u[900];
        unit_words(r, &r->unit[i], u, sizeof u);
        k += (size_t)snprintf(s + k, n - k, "%s%s", i ? "; " : ". The units that raised its "
                              "cancer score most were ", u);
    }
    if (k < n && r->labelled)
        k += (size_t)snprintf(s + k, n - k, ". The descriptions are those of %d %sreaders",
                              r->readers, r->simulated ? "SIMULATED " : "");
    if (k < n && !r->labelled)
        k += (size_t)snprintf(s + k, n - k, ". No reader labels were given");
    if (k < n) snprintf(s + k, n - k, ".");
}
