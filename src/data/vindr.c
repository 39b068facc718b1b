/* VinDr-Mammo import: breast-level_annotations.csv (one row per image:
 * study_id, image_id, laterality, view_position, height, width,
 * breast_birads, breast_density, split) and finding_annotations.csv (one row
 * per finding: the same plus finding_categories, a Python list such as
 * "['Mass', 'Suspicious Calcification']", finding_birads and the box xmin,
 * ymin, xmax, ymax in pixels) with the images at
 * images/<study_id>/<image_id>.dicom become manifest.csv.
 *
 * Each finding's box becomes a mask PNG (masks/<image_id>_<k>.png, box
 * filled, mask_kind box).  The study is the patient (VinDr gives no patient
 * id; one study per woman).  VinDr has no pathology: BI-RADS 4-5 findings
 * are MALIGNANT, 2-3 BENIGN (pathology_source birads); findings of BI-RADS
 * 0-1 or none are skipped and said.  VinDr's own split is not used (netdx
 * patches makes its own). */
#define _XOPEN_SOURCE 700   /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../io/io.h"
#include "data.h"
#include "netdx_import.h"

enum { V_STUDY, V_IMAGE, V_LAT, V_VIEW, V_H, V_W, V_BIRADS, V_DENSITY, V_CATS, V_FBIRADS, V_XMIN,
       V_YMIN, V_XMAX, V_YMAX, V_COUNT };
static const char *const vcols[V_COUNT] = {
    "study_id", "image_id", "laterality", "view_position", "height", "width", "breast_birads",
    "breast_density", "finding_categories", "finding_birads", "xmin", "ymin", "xmax", "ymax"};

/* One CSV row's values (the columns this file has; "" for the others). */
typedef struct vrow {
    char v[V_COUNT][128];
    long line;
} vrow;

typedef struct vtable {
    vrow *r;
    size_t n;
} vtable;

static int cmp_vrow(const void *a, const void *b)
{
    return strcmp(((const vrow *)a)->v[V_IMAGE], ((const vrow *)b)->v[V_IMAGE]);
}

/* Reads path; need: the columns it must have (the first need_n of vcols). */
static ndx_status read_table(const char *path, int need_n, vtable *t)
{
    memset(t, 0, sizeof *t);
    ndx_csv *c;
    ndx_status st = ndx_csv_open(path, &c);
    if (st) return st;
    int col[V_COUNT], got = ndx_csv_next(c);
    for (int k = 0; k < V_COUNT; k++) col[k] = -1;
    for (int i = 0; got > 0 && i < ndx_csv_nfields(c); i++)
        for (int k = 0; k < V_COUNT; k++)
            if (!strcmp(ndx_csv_field(c, i), vcols[k])) col[k] = i;
    if (got <= 0) st = got < 0 ? (ndx_status)got : ndx__fail(NDX_ERR_FORMAT, "%s: empty file", path);
    for (int k = 0; k < need_n && !st; k++)
        if (col[k] < 0) st = ndx__fail(NDX_ERR_FORMAT, "%s:1: no column '%s'", path, vcols[k]);
    size_t cap = 0;
    while (!st && (got = ndx_csv_next(c)) > 0) {
        if (ndx_csv_nfields(c) == 1 && !ndx_csv_field(c, 0)[0]) continue;
        if (t->n == cap) {
            cap = cap ? 2 * cap : 1024;
            vrow *r = realloc(t->r, cap * sizeof *r);
            if (!r) {
                st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            t->r = r;
        }
        vrow *r = &t->r[t->n];
        r->line = ndx_csv_line(c);
        for (int k = 0; k < V_COUNT && !st; k++) {
            const char *f = col[k] >= 0 ? ndx_csv_field(c, col[k]) : "";
            if (strlen(f) >= sizeof r->v[k])
                st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %s: longer than %zu characters", path,
                               r->line, vcols[k], sizeof r->v[k] - 1);
            else
                memcpy(r->v[k], f, strlen(f) + 1);
        }
        t->n++;
    }
    if (!st && got < 0) st = (ndx_status)got;
    ndx_csv_close(c);
    if (st) free(t->r), memset(t, 0, sizeof *t);
    return st;
}

/* "BI-RADS 4" (or "4") -> 4; -1 when not 0..5. */
static int birads_of(const char *s)
{
    if (!strncmp(s, "BI-RADS", 7)) s += 7;
    while (*s == ' ') s++;
    return s[0] >= '0' && s[0] <= '5' && !s[1] ? s[0] - '0' : -1;
}

/* The manifest type of a finding's categories (the most specific one) and
 * its words "Mass; Suspicious Calcification" into words. */
static const char *finding_type(const char *cats, char *words, size_t cap)
{
    static const struct { const char *name, *type; int rank; } map[] = {
        {"Mass", "mass", 5}, {"Suspicious Calcification", "calcification", 4},
        {"Architectural Distortion", "distortion", 3}, {"Asymmetry", "asymmetry", 2},
        {"Focal Asymmetry", "asymmetry", 2}, {"Global Asymmetry", "asymmetry", 2}};
    const char *type = "other";
    int best = 0;
    size_t o = 0;
    words[0] = 0;
    for (const char *p = cats; *p;) {
        while (*p && strchr("[]'\", ", *p)) p++;
        const char *e = p;
        while (*e && !strchr("'\"]", *e) && *e != ',') e++;
        while (e > p && e[-1] == ' ') e--;
        if (e == p) {
            if (*p) p++;
            continue;
        }
        int n = (int)(e - p);
        if (o < cap) o += (size_t)snprintf(words + o, cap - o, "%s%.*s", o ? "; " : "", n, p);
        for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
            if ((int)strlen(map[k].name) == n && !strncmp(p, map[k].name, (size_t)n) && map[k].rank > best)
                best = map[k].rank, type = map[k].type;
        p = e;
    }
    if (o >= cap && cap > 4) strcpy(words + cap - 4, "...");
    return type;
}

/* What the import writes and counts. */
typedef struct vctx {
    const char *dir, *out_dir, *rel, *fpath;
    ndx_manifest m;
    ndx_vindr_stats S;
    void (*note)(void *, const char *);
    void *note_ctx;
} vctx;

/* A w x h mask with box [x0, x1) x [y0, y1) set, written to out_dir/rel. */
static ndx_status write_box(const vctx *x, const char *rel, int w, int h, int x0, int y0, int x1,
                            int y1)
{
    uint8_t *px = calloc((size_t)w * h, 1);
    char *path = ndx__join(x->out_dir, rel);
    ndx_status st = !px || !path ? ndx__fail(NDX_ERR_NOMEM, "import-vindr: out of memory") : NDX_OK;
    for (int y = y0; y < y1 && !st; y++) memset(px + (size_t)y * w + x0, 255, (size_t)(x1 - x0));
    if (!st) st = ndx_png_write8(path, px, w, h, 1);
    free(px), free(path);
    return st;
}

/* One finding f of image row b (whose image is w x h) as lesion k. */
static ndx_status add_finding(vctx *x, const ndx_manifest_row *base, const vrow *f, int w, int h,
                              int *k)
{
    char words[64];
    const char *type = finding_type(f->v[V_CATS], words, sizeof words);
    if (!strcmp(words, "No Finding")) return NDX_OK;
    const int fb = birads_of(f->v[V_FBIRADS]);
    double c[4];
    for (int i = 0; i < 4; i++) {
        char *e;
        c[i] = strtod(f->v[V_XMIN + i], &e);
        if (e == f->v[V_XMIN + i] || *e || !isfinite(c[i])) c[i] = NAN;
    }
    const char *why = fb < 2 ? "no BI-RADS 2-5 for the finding (finding_birads)"
                      : !(c[0] < c[2] && c[1] < c[3]) ? "no box (xmin < xmax, ymin < ymax)" : NULL;
    if (why) {
        x->S.skipped++;
        ndx__say(x->note, x->note_ctx, "%s:%ld: finding '%s' skipped: %s", x->fpath, f->line, words, why);
        return NDX_OK;
    }
    if (c[0] < 0 || c[1] < 0 || c[2] > w || c[3] > h) x->S.boxes_clipped++;
    /* clipped to the image while still doubles: any finite value converts */
    const double lim[4] = {w, h, w, h};
    for (int i = 0; i < 4; i++) c[i] = c[i] < 0 ? 0 : c[i] > lim[i] ? lim[i] : c[i];
    const int x0 = (int)floor(c[0]), y0 = (int)floor(c[1]), x1 = (int)ceil(c[2]),
              y1 = (int)ceil(c[3]);
    if (x0 >= x1 || y0 >= y1) {
        x->S.skipped++;
        ndx__say(x->note, x->note_ctx, "%s:%ld: finding '%s' skipped: its box lies outside the %dx%d image", x->fpath,
             f->line, words, w, h);
        return NDX_OK;
    }
    ndx_manifest_row r = *base;
    r.abnormality_id = ++*k;
    snprintf(r.abnormality_type, sizeof r.abnormality_type, "%s", type);
    snprintf(r.finding, sizeof r.finding, "%s", words);
    snprintf(r.pathology, sizeof r.pathology, "%s", fb >= 4 ? "MALIGNANT" : "BENIGN");
    snprintf(r.pathology_source, sizeof r.pathology_source, "birads");
    r.assessment = fb;
    r.mask_kind = NDX_MASK_BOX;
    char rel[300];
    snprintf(rel, sizeof rel, "masks/%s_%d.png", f->v[V_IMAGE], *k);
    snprintf(r.mask_path, sizeof r.mask_path, "%s", rel);
    ndx_status st = write_box(x, rel, w, h, x0, y0, x1, y1);
    if (!st) st = ndx_manifest_add(&x->m, &r);
    if (!st) x->S.findings++;
    return st;
}

/* The findings of image id in F (sorted): [*first, *first + *n). */
static void findings_of(const vtable *F, const char *id, size_t *first, size_t *n)
{
    size_t lo = 0, hi = F->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(F->r[mid].v[V_IMAGE], id) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t e = lo;
    while (e < F->n && !strcmp(F->r[e].v[V_IMAGE], id)) e++;
    *first = lo, *n = e - lo;
}

/* The fields of breast-level row b common to its image's rows; NULL, or
 * why the image is skipped. */
static const char *base_row(const vrow *b, ndx_manifest_row *r)
{
    memset(r, 0, sizeof *r);
    const char *d = b->v[V_DENSITY], *lat = b->v[V_LAT];
    if (!strncmp(d, "DENSITY", 7)) d += 7;
    while (*d == ' ') d++;
    if (!b->v[V_STUDY][0] || strlen(b->v[V_STUDY]) >= sizeof r->patient_id) return "study_id empty or too long";
    if (!b->v[V_IMAGE][0] || strchr(b->v[V_IMAGE], '/')) return "image_id empty or holding '/'";
    if (d[0] < 'A' || d[0] > 'D' || d[1]) return "breast_density is not DENSITY A-D";
    if ((r->assessment = birads_of(b->v[V_BIRADS])) < 0) return "breast_birads is not BI-RADS 0-5";
    snprintf(r->patient_id, sizeof r->patient_id, "%s", b->v[V_STUDY]);
    r->breast_density = d[0] - 'A' + 1;
    snprintf(r->side, sizeof r->side, "%s", !strcmp(lat, "L") ? "LEFT" : !strcmp(lat, "R") ? "RIGHT" : "");
    snprintf(r->view, sizeof r->view, "%.3s", b->v[V_VIEW]);
    if (b->v[V_VIEW][0] && strcmp(b->v[V_VIEW], "CC") && strcmp(b->v[V_VIEW], "MLO"))
        return "view_position is not CC or MLO";
    if (lat[0] && !r->side[0]) return "laterality is not L or R";
    return NULL;
}

/* One image (breast-level row b) and its findings in F. */
static ndx_status add_image(vctx *x, const char *bpath, const vrow *b, const vtable *F)
{
    ndx_manifest_row r;
    const char *why = base_row(b, &r);
    char rel[400];
    snprintf(rel, sizeof rel, "images/%s/%s.dicom", b->v[V_STUDY], b->v[V_IMAGE]);
    char *full = ndx__join(x->dir, rel);
    if (!full) return ndx__fail(NDX_ERR_NOMEM, "import-vindr: out of memory");
    ndx_image_meta meta;
    ndx_status st = why ? NDX_OK : ndx_image_probe(full, &meta);
    if (st == NDX_ERR_FORMAT || st == NDX_ERR_IO) why = ndx_last_error(), st = NDX_OK;
    if (!why && (atol(b->v[V_W]) != meta.width || atol(b->v[V_H]) != meta.height) && b->v[V_W][0])
        why = "its width and height differ from the DICOM file's";
    if (!why && !r.side[0]) snprintf(r.side, sizeof r.side, "%s", meta.laterality);
    if (!why && !r.view[0] && (!strcmp(meta.view, "CC") || !strcmp(meta.view, "MLO")))
        snprintf(r.view, sizeof r.view, "%.3s", meta.view);
    if (!why && (!r.side[0] || !r.view[0])) why = "no laterality or view in the CSV nor the DICOM file";
    if (st || why) {
        if (why) x->S.skipped++, ndx__say(x->note, x->note_ctx, "%s:%ld: image %s skipped: %s", bpath, b->line, full, why);
        free(full);
        return st;
    }
    free(full);
    r.pixel_spacing_mm = meta.pixel_spacing_mm;
    if (snprintf(r.image_path, sizeof r.image_path, "%s/%s", x->rel, rel) >= (int)sizeof r.image_path)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: image path too long", bpath, b->line);
    size_t first, n;
    findings_of(F, b->v[V_IMAGE], &first, &n);
    int k = 0;
    const long skipped = x->S.skipped;
    for (size_t i = 0; i < n && !st; i++) st = add_finding(x, &r, &F->r[first + i], meta.width, meta.height, &k);
    if (!st && k == 0 && x->S.skipped > skipped) {
        /* its findings were all dropped: not a lesion-free image */
        ndx__say(x->note, x->note_ctx, "%s:%ld: image %s left out: none of its findings could be used", bpath, b->line,
             b->v[V_IMAGE]);
        return NDX_OK;
    }
    if (!st && k == 0) st = ndx_manifest_add(&x->m, &r);
    if (!st) x->S.images++;
    return st;
}

/* Both CSVs read, every image added, the manifest written. */
static ndx_status import(vctx *x, const char *bpath)
{
    vtable B, F;
    ndx_status st = read_table(bpath, V_CATS, &B);
    if (st) return st;
    if ((st = read_table(x->fpath, V_YMAX + 1, &F))) {
        free(B.r);
        return st;
    }
    qsort(F.r, F.n, sizeof *F.r, cmp_vrow);
    for (size_t i = 0; i < B.n && !st; i++) st = add_image(x, bpath, &B.r[i], &F);
    if (!st && x->m.n == 0) st = ndx__fail(NDX_ERR_FORMAT, "%s: no image could be imported", bpath);
    if (!st) {
        char *man = ndx__join(x->out_dir, "manifest.csv");
        st = man ? ndx_manifest_write(man, &x->m) : NDX_ERR_NOMEM;
        free(man);
    }
    free(B.r), free(F.r);
    return st;
}

/* out_dir made, the relative path from it to dir, then the import. */
static ndx_status import_into(vctx *x, const char *bpath)
{
    char *masks = ndx__join(x->out_dir, "masks");
    ndx_status st = masks ? ndx__mkdirs(masks) : NDX_ERR_NOMEM;
    free(masks);
    char *abs_out = st ? NULL : realpath(x->out_dir, NULL), *abs_dir = NULL, *rel = NULL;
    if (!st && !abs_out) st = ndx__fail(NDX_ERR_IO, "%s: %s", x->out_dir, strerror(errno));
    if (!st && !(abs_dir = realpath(x->dir, NULL))) st = ndx__fail(NDX_ERR_IO, "%s: %s", x->dir, strerror(errno));
    const size_t cap = abs_dir ? 3 * strlen(abs_out) + strlen(abs_dir) + 2 : 0;
    if (!st && !(rel = malloc(cap))) st = ndx__fail(NDX_ERR_NOMEM, "import-vindr: out of memory");
    if (!st && ndx__relpath(abs_out, abs_dir, rel, cap))
        st = ndx__fail(NDX_ERR_INVALID, "%s: no path from %s", x->dir, x->out_dir);
    x->rel = rel;
    if (!st) st = import(x, bpath);
    free(abs_out), free(abs_dir), free(rel);
    return st;
}

ndx_status ndx_vindr_import(const char *vindr_dir, const char *out_dir, ndx_vindr_stats *stats,
                            void (*note)(void *ctx, const char *msg), void *note_ctx)
{
    if (!vindr_dir || !out_dir)
        return ndx__fail(NDX_ERR_INVALID, "import-vindr: a data folder and an output folder are needed");
    vctx x;
    memset(&x, 0, sizeof x);
    x.dir = vindr_dir, x.out_dir = out_dir, x.note = note, x.note_ctx = note_ctx;
    char *bpath = ndx__join(vindr_dir, "breast-level_annotations.csv");
    char *fpath = ndx__join(vindr_dir, "finding_annotations.csv");
    char *man = ndx__join(out_dir, "manifest.csv");
    x.fpath = fpath;
    ndx_ioplan *p = NULL;
    ndx_status st = !bpath || !fpath || !man ? NDX_ERR_NOMEM : ndx_ioplan_new("import-vindr", &p);
    if (!st) st = ndx_ioplan_input(p, "breast-level_annotations.csv", bpath, NULL);
    if (!st) st = ndx_ioplan_input(p, "finding_annotations.csv", fpath, NULL);
    if (!st) st = ndx_ioplan_output(p, "manifest.csv", man, NDX_OUT_MKDIRS);
    if (!st) st = ndx_ioplan_begin(p);
    if (!st) st = import_into(&x, bpath);
    ndx_ioplan_free(p);
    ndx_manifest_free(&x.m);
    free(bpath), free(fpath), free(man);
    if (!st && stats) *stats = x.S;
    return st;
}
