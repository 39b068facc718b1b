/* INbreast import: the images (AllDICOMs, or the same names as PNG), the
 * ROI files (AllXML/<File Name>.xml, OsiriX property lists) and the case
 * table (INbreast.csv) into manifest.csv and one mask per lesion.
 *
 * Image names: <File Name>_<patient>_MG_<L|R>_<CC|ML|MLO>_ANON.<dcm|png>.
 * ROI file: Images[] -> ROIs[] -> {Name, NumberOfPoints, Point_px: ["(x,
 * y)", ...]} with x the column and y the row in pixels.  Each ROI's point
 * list is filled as a polygon (one point: a disc of calc_radius_px).
 * Names (kept in the finding column): Mass -> mass; Spiculated Region ->
 * mass, margins SPICULATED; Distortion -> distortion; Asymmetry ->
 * asymmetry; Cluster -> calcification, distribution CLUSTERED;
 * Calcification -> one calcification row per image whose mask holds all
 * of them (INbreast outlines calcifications one by one, often hundreds
 * per image).  Other names are left out, each said.
 * Table: ';' or ',' separated; columns File Name, ACR (density 1-4) and
 * Bi-Rads (1-6, 4a-4c).  Assessment: the BI-RADS category (6, a known
 * cancer, written as 5: the manifest's scale ends there); pathology:
 * MALIGNANT from malignant_birads on, else BENIGN (INbreast has no
 * biopsy result per lesion: pathology_source birads); subtlety: empty
 * (INbreast has none); pixel_spacing_mm: the DICOM's, unknown for a PNG. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/core.h"
#include "../io/io.h"
#include "data.h"
#include "import.h"

void ndx_inbreast_defaults(ndx_inbreast_opts *o)
{
    memset(o, 0, sizeof *o);
    o->malignant_birads = 4;
    o->calc_radius_px = 3;
}

/* ---- the case table ------------------------------------------------------------ */
typedef struct case_row {
    char file[32];
    int acr, birads;     /* 0 / -1: missing or bad (why says which) */
    long line;
    char why[96];
} case_row;

typedef struct table {
    case_row *r;
    size_t n;
    const char *path;
} table;

/* s trimmed of blanks and quotes, in place. */
static char *trim(char *s)
{
    while (*s && strchr(" \t\r\"'", *s)) s++;
    size_t n = strlen(s);
    while (n && strchr(" \t\r\"'", s[n - 1])) s[--n] = 0;
    return s;
}

/* "File Name" -> "filename": lower case, no blanks, '-' or '_'. */
static void norm(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++)
        if (!strchr(" -_\t", *in)) out[o++] = (char)(*in >= 'A' && *in <= 'Z' ? *in + 32 : *in);
    out[o] = 0;
}

/* Splits line at sep into at most max fields (in place). */
static int split(char *line, char sep, char **f, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *e = strchr(p, sep);
        if (!e) break;
        *e = 0;
        p = e + 1;
    }
    for (int i = 0; i < n; i++) f[i] = trim(f[i]);
    return n;
}

/* One data row's fields (its columns col[3]: file, ACR, BI-RADS). */
static void table_row(char **f, int nf, const int col[3], long line, case_row *r)
{
    memset(r, 0, sizeof *r);
    r->line = line;
    snprintf(r->file, sizeof r->file, "%s", col[0] < nf ? f[col[0]] : "");
    const char *acr = col[1] < nf ? f[col[1]] : "", *b = col[2] < nf ? f[col[2]] : "";
    if (ndx__parse_int(acr, 1, 4, &r->acr))
        r->acr = 0, snprintf(r->why, sizeof r->why, "ACR '%.20s' is not 1-4", acr);
    if (ndx__parse_int(b, 0, 6, &r->birads) &&
        !(b[0] == '4' && b[1] && strchr("aAbBcC", b[1]) && !b[2] && (r->birads = 4))) {
        r->birads = -1;
        if (!r->why[0]) snprintf(r->why, sizeof r->why, "Bi-Rads '%.20s' is not 0-6 or 4a-4c", b);
    }
}

static ndx_status table_read(const char *path, table *t)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    char *text;
    size_t len;
    ndx_status st = ndx__read_all(path, 16u << 20, &text, &len);
    if (st) return st;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    t->r = malloc(cap * sizeof *t->r);
    if (!t->r) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    int col[3] = {-1, -1, -1};
    char sep = 0, *line = text;
    for (long ln = 1; !st && line; ln++) {
        char *e = strchr(line, '\n');
        if (e) *e = 0;
        char *f[64];
        if (!sep) sep = strchr(line, ';') ? ';' : ',';
        int nf = split(line, sep, f, 64);
        if (col[0] < 0) {
            static const char *const want[3] = {"filename", "acr", "birads"};
            for (int i = 0; i < nf; i++) {
                char h[64];
                norm(f[i], h, sizeof h);
                for (int k = 0; k < 3; k++)
                    if (!strcmp(h, want[k])) col[k] = i;
            }
            for (int k = 0; k < 3 && !st; k++)
                if (col[k] < 0)
                    st = ndx__fail(NDX_ERR_FORMAT, "%s:1: no column '%s' in the header (File Name, "
                                   "ACR and Bi-Rads are needed)", path, k == 0 ? "File Name"
                                   : k == 1 ? "ACR" : "Bi-Rads");
        } else if (nf > 1 || f[0][0]) {
            table_row(f, nf, col, ln, &t->r[t->n]);
            if (t->r[t->n].file[0]) t->n++;
        }
        line = e ? e + 1 : NULL;
    }
    free(text);
    if (!st && col[0] < 0) st = ndx__fail(NDX_ERR_FORMAT, "%s: empty file (no header)", path);
    if (st) free(t->r), t->r = NULL;
    return st;
}

static const case_row *table_find(const table *t, const char *file)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->r[i].file, file)) return &t->r[i];
    return NULL;
}

/* ---- the ROI file ------------------------------------------------------------------ */
typedef struct roi_kind {
    const char *name, *type, *field, *value;
} roi_kind;
static const roi_kind kinds[] = {
    {"mass", "mass", NULL, NULL},
    {"spiculated region", "mass", "margins", "SPICULATED"},
    {"distortion", "distortion", NULL, NULL},
    {"asymmetry", "asymmetry", NULL, NULL},
    {"assymetry", "asymmetry", NULL, NULL},
    {"cluster", "calcification", "distribution", "CLUSTERED"},
    {"calcification", "calcification", NULL, NULL},
    {"calcifications", "calcification", NULL, NULL},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])
#define CALC_KIND 6   /* kinds[6..7]: merged into one row per image */

/* What one image needs while its ROIs are read. */
typedef struct image_ctx {
    ndx__import *im;
    const ndx_inbreast_opts *o;
    const char *xml, *stem;
    int w, h, birads;          /* the image's size and BI-RADS category */
    int next_id[4];            /* the last abnormality id: mass, calcification,
                                  distortion, asymmetry */
    ndx_manifest_row img;      /* the image's row without lesion */
    uint8_t *calc;             /* the merged calcifications, or NULL */
    int dropped;               /* ROIs of kinds netdx does not map */
} image_ctx;

/* roi's Point_px filled into mask (x->w x x->h). */
static ndx_status roi_fill(image_ctx *x, const ndx__plist *roi, int k, uint8_t *mask)
{
    const ndx__plist *pts = ndx__plist_get(roi, "Point_px"), *np = ndx__plist_get(roi, "NumberOfPoints");
    if (!pts || pts->type != NDX__PL_ARRAY || pts->n == 0)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <dict>: ROI %d has no Point_px array of points",
                         x->xml, roi->line, k);
    if (np && (np->type != NDX__PL_INTEGER || np->num != (double)pts->n))
        return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <integer>: ROI %d: NumberOfPoints is %g, Point_px "
                         "holds %zu", x->xml, np->line, k, np->num, pts->n);
    double *xy = malloc(2 * pts->n * sizeof *xy);
    if (!xy) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", x->xml);
    ndx_status st = NDX_OK;
    for (size_t i = 0; i < pts->n && !st; i++) {
        const ndx__plist *p = &pts->kids[i];
        char tail;
        if (p->type != NDX__PL_STRING ||
            sscanf(p->text, " (%lf , %lf ) %c", &xy[2 * i], &xy[2 * i + 1], &tail) != 2 ||
            !isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1]))
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%d: <%s>: ROI %d, point %zu: '%.40s' is not \"(x, y)\"",
                           x->xml, p->line, ndx__plist_type_name(p->type), k, i + 1,
                           p->text ? p->text : "");
        else if (fabs(xy[2 * i] - x->w / 2.0) > 1.5 * x->w || fabs(xy[2 * i + 1] - x->h / 2.0) > 1.5 * x->h)
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%d: <string>: ROI %d, point %zu (%g, %g) lies far "
                           "outside the %dx%d image", x->xml, p->line, k, i + 1, xy[2 * i],
                           xy[2 * i + 1], x->w, x->h);
    }
    if (!st && pts->n == 1) ndx__disc_fill(xy[0], xy[1], x->o->calc_radius_px, mask, x->w, x->h, 255);
    else if (!st) st = ndx__poly_fill(xy, pts->n, mask, x->w, x->h, 255);
    free(xy);
    return st;
}

/* A lesion row of kind kd (the ROI named name) with mask: the mask
 * written, the row added. */
static ndx_status lesion_row(image_ctx *x, const roi_kind *kd, const char *name,
                             const uint8_t *mask)
{
    static const char *const types[4] = {"mass", "calcification", "distortion", "asymmetry"};
    int c = 0;
    while (c < 3 && strcmp(kd->type, types[c])) c++;
    ndx_manifest_row r = x->img;
    r.abnormality_id = ++x->next_id[c];
    snprintf(r.finding, sizeof r.finding, "%s", name);
    strcpy(r.pathology_source, "birads");
    r.mask_kind = NDX_MASK_OUTLINE;
    snprintf(r.abnormality_type, sizeof r.abnormality_type, "%s", kd->type);
    if (kd->field) {
        char *dst = !strcmp(kd->field, "margins") ? r.mass_margins : !strcmp(kd->field, "shape")
                    ? r.mass_shape : r.calc_distribution;
        snprintf(dst, 96, "%s", kd->value);
    }
    snprintf(r.pathology, sizeof r.pathology, "%s",
             x->birads >= x->o->malignant_birads ? "MALIGNANT" : "BENIGN");
    r.subtlety = 0;
    char file[600];
    snprintf(file, sizeof file, "%s_%s%d.png", x->stem, kd->type, r.abnormality_id);
    ndx_status st = ndx__import_mask(x->im, file, mask, x->w, x->h, r.mask_path, sizeof r.mask_path);
    if (!st) st = ndx_manifest_add(&x->im->m, &r);
    if (!st) x->im->S->lesions++;
    return st;
}

/* ROI k of an image dict. */
static ndx_status one_roi(image_ctx *x, const ndx__plist *roi, int k)
{
    if (roi->type != NDX__PL_DICT)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <%s>: ROI %d is not a <dict>", x->xml, roi->line,
                         ndx__plist_type_name(roi->type), k);
    const ndx__plist *nm = ndx__plist_get(roi, "Name");
    if (!nm || nm->type != NDX__PL_STRING)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <dict>: ROI %d has no Name string", x->xml,
                         roi->line, k);
    char low[64];
    snprintf(low, sizeof low, "%s", nm->text);
    for (char *p = low; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    size_t kd = 0;
    while (kd < NKINDS && strcmp(trim(low), kinds[kd].name)) kd++;
    if (kd == NKINDS) {
        ndx__import_drop(x->im, "%s:%d: ROI %d '%s': not a lesion kind netdx maps; left out",
                         x->xml, nm->line, k, nm->text);
        x->dropped++;
        return NDX_OK;
    }
    if (kd >= CALC_KIND) {
        if (!x->calc && !(x->calc = calloc((size_t)x->w * x->h, 1)))
            return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for a mask", x->xml);
        return roi_fill(x, roi, k, x->calc);
    }
    uint8_t *mask = calloc((size_t)x->w * x->h, 1);
    if (!mask) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for a mask", x->xml);
    ndx_status st = roi_fill(x, roi, k, mask);
    if (!st) st = lesion_row(x, &kinds[kd], nm->text, mask);
    free(mask);
    return st;
}

/* Every ROI of the ROI file root; a format error is returned with
 * NDX_ERR_FORMAT (the caller leaves the image out). */
static ndx_status rois(image_ctx *x, const ndx__plist *root)
{
    const ndx__plist *imgs = ndx__plist_get(root, "Images");
    if (!imgs || imgs->type != NDX__PL_ARRAY)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <%s>: no Images array (not an INbreast ROI file)",
                         x->xml, root->line, ndx__plist_type_name(root->type));
    ndx_status st = NDX_OK;
    int k = 0;
    for (size_t i = 0; i < imgs->n && !st; i++) {
        const ndx__plist *d = &imgs->kids[i], *r = ndx__plist_get(d, "ROIs"),
                         *nr = ndx__plist_get(d, "NumberOfROIs");
        if (!r || r->type != NDX__PL_ARRAY)
            return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <%s>: Images item %zu has no ROIs array",
                             x->xml, d->line, ndx__plist_type_name(d->type), i + 1);
        if (nr && (nr->type != NDX__PL_INTEGER || nr->num != (double)r->n))
            return ndx__fail(NDX_ERR_FORMAT, "%s:%d: <integer>: NumberOfROIs is %g, ROIs holds %zu",
                             x->xml, nr->line, nr->num, r->n);
        for (size_t j = 0; j < r->n && !st; j++) st = one_roi(x, &r->kids[j], ++k);
    }
    if (!st && x->calc) st = lesion_row(x, &kinds[CALC_KIND], "Calcification", x->calc);
    return st;
}

/* ---- the images -------------------------------------------------------------------- */
/* name = <id>_<patient>_MG_<L|R>_<CC|ML|MLO>_ANON.<ext>: its parts into
 * r (patient, side, view) and id; 0 when it is such a name. */
static int parse_name(const char *name, char *id, size_t id_cap, ndx_manifest_row *r)
{
    char buf[256], *f[8], *save = NULL;
    if (strlen(name) >= sizeof buf) return -1;
    strcpy(buf, name);
    char *dot = strrchr(buf, '.');
    if (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".dcm"))) return -1;
    *dot = 0;
    int n = 0;
    for (char *t = strtok_r(buf, "_", &save); t && n < 8; t = strtok_r(NULL, "_", &save)) f[n++] = t;
    if (n < 5 || strcmp(f[2], "MG") || strspn(f[0], "0123456789") != strlen(f[0]) ||
        strlen(f[0]) >= id_cap || strlen(f[1]) >= sizeof r->patient_id ||
        (strcmp(f[3], "L") && strcmp(f[3], "R")) ||
        (strcmp(f[4], "CC") && strcmp(f[4], "ML") && strcmp(f[4], "MLO")))
        return -1;
    strcpy(id, f[0]);
    strcpy(r->patient_id, f[1]);
    strcpy(r->side, f[3][0] == 'L' ? "LEFT" : "RIGHT");
    strcpy(r->view, strcmp(f[4], "CC") ? "MLO" : "CC");
    return 0;
}

typedef struct inb_run {
    const ndx_inbreast_opts *o;
    table t;
} inb_run;

/* The ROI file xml of an image: its lesion rows; a malformed file leaves
 * the image out (its rows taken back), said. */
static ndx_status image_rois(image_ctx *x, const char *xml)
{
    ndx__plist *root = NULL;
    const size_t rows = x->im->m.n;
    const long lesions = x->im->S->lesions;
    ndx_status st = ndx__plist_read(xml, &root);
    const int unreadable = st != NDX_OK && st != NDX_ERR_NOMEM;
    if (!st) st = rois(x, root);
    ndx__plist_free(root);
    free(x->calc);
    x->calc = NULL;
    if (unreadable || st == NDX_ERR_FORMAT) {
        x->im->m.n = rows, x->im->S->lesions = lesions;
        ndx__import_skip(x->im, "%s; image left out", ndx_last_error());
        return NDX_ERR_FORMAT;
    }
    return st;
}

/* One image file (path, its name): its rows. */
static ndx_status one_image(ndx__import *im, inb_run *r, const char *path, const char *name)
{
    image_ctx x;
    memset(&x, 0, sizeof x);
    x.im = im, x.o = r->o;
    char id[32];
    if (parse_name(name, id, sizeof id, &x.img)) {
        ndx__say(im->note, im->ctx, "%s: not an INbreast image name (<File Name>_<patient>_MG_"
                 "<L|R>_<CC|ML>_ANON.dcm): ignored", path);
        return NDX_OK;
    }
    im->S->cases++;
    const case_row *c = table_find(&r->t, id);
    if (!c || c->why[0]) {
        if (c) ndx__import_skip(im, "%s:%ld: %s; image %s left out", r->t.path, c->line, c->why, name);
        else ndx__import_skip(im, "%s: no row for File Name %s; image %s left out", r->t.path, id, name);
        return NDX_OK;
    }
    x.img.breast_density = c->acr;
    x.img.assessment = c->birads > 5 ? 5 : c->birads;
    x.birads = c->birads;
    ndx_image_meta meta;
    if (ndx_image_probe(path, &meta)) {
        ndx__import_skip(im, "%s; image left out", ndx_last_error());
        return NDX_OK;
    }
    x.w = meta.width, x.h = meta.height;
    x.img.pixel_spacing_mm = meta.pixel_spacing_mm;
    ndx_status st = ndx__import_rel(im, path, x.img.image_path, sizeof x.img.image_path);
    char *xml = st ? NULL : ndx__strf("%s/%s.xml", r->o->xml, id);
    char stem[256];
    snprintf(stem, sizeof stem, "%.*s", (int)(strrchr(name, '.') - name), name);
    x.xml = xml, x.stem = stem;
    const size_t before = im->m.n;
    if (!st && !xml) st = NDX_ERR_NOMEM;
    if (!st && ndx__is_file(xml) && (st = image_rois(&x, xml)) == NDX_ERR_FORMAT) st = NDX_OK;
    else if (!st && im->m.n == before && x.dropped)   /* not lesion-free: its ROIs unmapped */
        ndx__import_skip(im, "%s: no ROI of a kind netdx maps; image %s left out", xml, name);
    else if (!st && im->m.n == before) st = ndx_manifest_add(&im->m, &x.img);
    if (!st && im->m.n > before) im->S->images++;
    free(xml);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ndx_status inb_body(ndx__import *im, void *arg)
{
    inb_run *r = arg;
    ndx_status st = table_read(r->o->csv, &r->t);
    DIR *d = st ? NULL : opendir(r->o->images);
    if (!st && !d) st = ndx__fail(NDX_ERR_IO, "%s: %s", r->o->images, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; !st && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            char **more = realloc(names, (cap = cap ? 2 * cap : 512) * sizeof *more);
            if (!more) { st = ndx__fail(NDX_ERR_NOMEM, "import-inbreast: out of memory"); break; }
            names = more;
        }
        if (!(names[n] = ndx__strf("%s", e->d_name))) st = NDX_ERR_NOMEM;
        else n++;
    }
    if (d) closedir(d);
    if (!st) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !st; i++) {
        char *path = ndx__join(r->o->images, names[i]);
        const size_t len = strlen(names[i]);
        char *png = len > 4 && !strcasecmp(names[i] + len - 4, ".dcm")
                        ? ndx__strf("%s/%.*s.png", r->o->images, (int)(len - 4), names[i]) : NULL;
        if (!path) st = NDX_ERR_NOMEM;
        else if (png && ndx__is_file(png)) { /* the PNG of the same name is read instead */ }
        else if (ndx__is_file(path)) st = one_image(im, r, path, names[i]);
        free(path), free(png);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(r->t.r);
    return st;
}

ndx_status ndx_inbreast_import(const ndx_inbreast_opts *o, ndx_import_stats *st,
                               void (*note)(void *ctx, const char *msg), void *note_ctx)
{
    if (!o || !o->images || !o->xml || !o->csv || !o->out)
        return ndx__fail(NDX_ERR_INVALID, "import-inbreast: the images, XML and CSV inputs and an "
                         "output folder are needed");
    if (o->malignant_birads < 1 || o->malignant_birads > 6)
        return ndx__fail(NDX_ERR_INVALID, "import-inbreast: malignant_birads %d is not 1-6",
                         o->malignant_birads);
    if (!(o->calc_radius_px >= 0.5 && o->calc_radius_px <= 100))
        return ndx__fail(NDX_ERR_INVALID, "import-inbreast: calc_radius_px %g is not 0.5-100",
                         o->calc_radius_px);
    inb_run r = {o, {NULL, 0, NULL}};
    const char *inputs[] = {"--images", o->images, "--xml", o->xml, "--csv", o->csv, NULL};
    return ndx__import_run("import-inbreast", o->out, inputs, st, note, note_ctx, inb_body, &r,
                           "no INbreast image name in the images folder");
}
