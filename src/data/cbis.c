/* CBIS-DDSM import: the four description CSVs plus the images, converted to
 * PNG (each CSV path with .dcm replaced by .png, under images_dir) or as
 * TCIA distributes them in DICOM (tcia.c finds them), become manifest.csv.
 *
 * Quirks handled: header names are compared after trimming, lower-casing
 * and turning spaces into underscores ("breast density" in calc files,
 * "breast_density" in mass files); values are trimmed of blanks, CR/LF and
 * stray quotes (the ROI path often ends in a newline inside its quotes);
 * codes joined with '-' are checked one by one, LUCENT_CENTER becomes
 * LUCENT_CENTERED; which of the ROI and crop paths is the mask is decided
 * by size (the mask is about the image's size, the crop small); a mask of
 * another size than its image is kept and reported (patches resamples it);
 * rows whose image or mask PNG is missing, or with a value out of the
 * vocabulary, are skipped and reported. */
#define _XOPEN_SOURCE 700   /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../io/io.h"
#include "data.h"
#include "netdx_import.h"

enum { C_PATIENT, C_DENSITY, C_SIDE, C_VIEW, C_ABN_ID, C_ABN_TYPE, C_SHAPE, C_MARGINS,
       C_CALC_TYPE, C_CALC_DIST, C_ASSESS, C_PATHOLOGY, C_SUBTLETY, C_IMAGE, C_CROP, C_ROI,
       C_COUNT };
static const char *const col_names[C_COUNT] = {
    "patient_id", "breast_density", "left_or_right_breast", "image_view", "abnormality_id",
    "abnormality_type", "mass_shape", "mass_margins", "calc_type", "calc_distribution",
    "assessment", "pathology", "subtlety", "image_file_path", "cropped_image_file_path",
    "roi_mask_file_path"};

/* Trims blanks, CR, LF and quotes from both ends, in place. */
static char *trim(char *s)
{
    while (*s && strchr(" \t\r\n\"'", *s)) s++;
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n\"'", s[n - 1])) s[--n] = 0;
    return s;
}

static void norm_header(const char *in, char *out, size_t cap)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", in);
    char *t = trim(tmp);
    size_t o = 0;
    for (; *t && o + 1 < cap; t++) {
        char ch = *t;
        if (ch == ' ') ch = '_';
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        out[o++] = ch;
    }
    out[o] = 0;
}

/* rel = path of `to` relative to directory `from` (both absolute). */
int ndx__relpath(const char *from, const char *to, char *rel, size_t cap)
{
    size_t i = 0, common = 0;
    while (from[i] && from[i] == to[i]) {
        if (from[i] == '/') common = i;
        i++;
    }
    if (!from[i] && (to[i] == '/' || !to[i])) common = i;
    size_t o = 0;
    rel[0] = 0;
    for (const char *p = from + common; *p; p++)
        if (*p == '/' && p[1]) {
            if (o + 4 >= cap) return -1;
            memcpy(rel + o, "../", 4);
            o += 3;
        }
    const char *rest = to + common;
    if (*rest == '/') rest++;
    int k = snprintf(rel + o, cap - o, "%s", *rest ? rest : ".");
    if (k < 0 || (size_t)k >= cap - o) return -1;
    if (o && !*rest) rel[o - 1] = 0;   /* "../.." rather than "../../." */
    return 0;
}

/* "a/b/c.dcm" -> "a/b/c.png" (any other ending gets .png appended). */
static int to_png(const char *p, char *out, size_t cap)
{
    size_t n = strlen(p);
    int k = n > 4 && !strcmp(p + n - 4, ".dcm") ? snprintf(out, cap, "%.*s.png", (int)(n - 4), p)
                                                : snprintf(out, cap, "%s.png", p);
    return k > 0 && (size_t)k < cap ? 0 : -1;
}

/* snprintf that reports truncation (0 ok, -1 cut) */
static int fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(buf, n, f, ap);
    va_end(ap);
    return k >= 0 && (size_t)k < n ? 0 : -1;
}

/* col[k]: the header's column of col_names[k], -1 when the file (a mass or
 * a calcification file) has none. */
static ndx_status header_columns(ndx_csv *c, const char *csv_path, int col[C_COUNT])
{
    for (int k = 0; k < C_COUNT; k++) col[k] = -1;
    for (int i = 0; i < ndx_csv_nfields(c); i++) {
        char h[128];
        norm_header(ndx_csv_field(c, i), h, sizeof h);
        for (int k = 0; k < C_COUNT; k++)
            if (!strcmp(h, col_names[k])) col[k] = i;
    }
    const int is_mass = col[C_SHAPE] >= 0;
    for (int k = 0; k < C_COUNT; k++) {
        if (col[k] >= 0) continue;
        if (is_mass && (k == C_CALC_TYPE || k == C_CALC_DIST)) continue;
        if (!is_mass && (k == C_SHAPE || k == C_MARGINS)) continue;
        return ndx__fail(NDX_ERR_FORMAT, "%s:1: no column '%s' in the header", csv_path, col_names[k]);
    }
    return NDX_OK;
}

/* r's text and number fields from the row's trimmed values v; NDX_ERR_FORMAT
 * names a bad value (the caller skips the row). */
static ndx_status row_fields(char v[C_COUNT][600], const int *col, const char *csv_path, long line,
                             ndx_manifest_row *r)
{
    ndx_status st = NDX_OK;
    memset(r, 0, sizeof *r);
    struct { int k; char *dst; size_t cap; } text[] = {
        {C_PATIENT, r->patient_id, sizeof r->patient_id}, {C_SIDE, r->side, sizeof r->side},
        {C_VIEW, r->view, sizeof r->view}, {C_ABN_TYPE, r->abnormality_type, sizeof r->abnormality_type},
        {C_SHAPE, r->mass_shape, sizeof r->mass_shape}, {C_MARGINS, r->mass_margins, sizeof r->mass_margins},
        {C_CALC_TYPE, r->calc_type, sizeof r->calc_type}, {C_CALC_DIST, r->calc_distribution, sizeof r->calc_distribution},
        {C_PATHOLOGY, r->pathology, sizeof r->pathology}};
    for (size_t i = 0; i < sizeof text / sizeof text[0] && st == NDX_OK; i++) {
        if (strlen(v[text[i].k]) >= text[i].cap)
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d (%s): '%.80s' is too long", csv_path,
                           line, col[text[i].k] + 1, col_names[text[i].k], v[text[i].k]);
        else
            memcpy(text[i].dst, v[text[i].k], strlen(v[text[i].k]) + 1);
    }
    struct { int k, lo, hi; int *dst; } nums[] = {
        {C_DENSITY, 1, 4, &r->breast_density}, {C_ABN_ID, 1, 1000000, &r->abnormality_id},
        {C_ASSESS, 0, 5, &r->assessment}, {C_SUBTLETY, 1, 5, &r->subtlety}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0] && st == NDX_OK; i++) {
        char *end;
        errno = 0;
        long x = strtol(v[nums[i].k], &end, 10);
        if (errno || end == v[nums[i].k] || *end || x < nums[i].lo || x > nums[i].hi)
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d (%s): '%s' is not an integer in %d..%d",
                           csv_path, line, col[nums[i].k] + 1, col_names[nums[i].k], v[nums[i].k],
                           nums[i].lo, nums[i].hi);
        else
            *nums[i].dst = (int)x;
    }
    /* CBIS spells the type in lower case; accept any case */
    for (char *p = r->abnormality_type; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    for (char *p = r->side; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    for (char *p = r->view; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return st;
}

/* Where one CSV file is read from and what it reports to. */
typedef struct import_ctx {
    const char *csv_path, *images_dir, *rel_images;
    const ndx__tcia *tcia;     /* DICOM: the download's files; NULL: PNGs */
    ndx_cbis_stats *S;
    void (*note)(void *, const char *);
    void *ctx;
} import_ctx;

/* r's image and mask paths from the row's values v: the mask is the larger
 * of the ROI and crop files (CBIS swaps them at times).  *skip = 1 (and a
 * note) when a file is missing; errors stop the import. */
static ndx_status row_images_at(const import_ctx *x, long line, ndx_manifest_row *r, int *skip,
                                const char *img_rel, const char *roi_rel, const char *crop_rel,
                                const char *full, const char *roi_full, const char *crop_full,
                                char v[C_COUNT][600]);

/* The file of CSV path p under images_dir, relative to it: the PNG of
 * the same name, or (DICOM) where the TCIA tree has it (p itself when
 * missing). */
static int locate(const import_ctx *x, const char *p, char *out, size_t cap)
{
    if (!x->tcia) return to_png(p, out, cap);
    char *f = ndx__tcia_find(x->tcia, x->images_dir, p);
    int k = snprintf(out, cap, "%s", f ? f : p);
    free(f);
    return k >= 0 && (size_t)k < cap ? 0 : -1;
}

/* The row's image and mask, found under images_dir (paths allocated). */
static ndx_status row_images(const import_ctx *x, char v[C_COUNT][600], long line,
                             ndx_manifest_row *r, int *skip)
{
    char img_rel[600], roi_rel[600], crop_rel[600];
    *skip = 0;
    if (locate(x, v[C_IMAGE], img_rel, sizeof img_rel) || locate(x, v[C_ROI], roi_rel, sizeof roi_rel) ||
        locate(x, v[C_CROP], crop_rel, sizeof crop_rel) || !v[C_IMAGE][0])
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: empty or too long image path", x->csv_path, line);
    char *full = ndx__join(x->images_dir, img_rel), *roi_full = ndx__join(x->images_dir, roi_rel);
    char *crop_full = ndx__join(x->images_dir, crop_rel);
    ndx_status st = !full || !roi_full || !crop_full
                        ? NDX_ERR_NOMEM
                        : row_images_at(x, line, r, skip, img_rel, roi_rel, crop_rel, full,
                                        roi_full, crop_full, v);
    free(full), free(roi_full), free(crop_full);
    return st;
}

static ndx_status row_images_at(const import_ctx *x, long line, ndx_manifest_row *r, int *skip,
                                const char *img_rel, const char *roi_rel, const char *crop_rel,
                                const char *full, const char *roi_full, const char *crop_full,
                                char v[C_COUNT][600])
{
    const char *csv_path = x->csv_path;
    if (!ndx__is_file(full)) {
        x->S->missing++;
        if (!x->S->first_missing[0]) fmt(x->S->first_missing, sizeof x->S->first_missing, "%s", full);
        ndx__say(x->note, x->ctx, "%s:%ld: skipped: image %s is missing", csv_path, line, full);
        *skip = 1;
        return NDX_OK;
    }
    int iw, ih, mw = 0, mh = 0;
    ndx_image_meta meta;
    ndx_status st = ndx_image_probe(full, &meta);
    if (st == NDX_ERR_FORMAT && x->tcia) {   /* one bad DICOM file skips its row */
        x->S->invalid++;
        ndx__say(x->note, x->ctx, "%s:%ld: skipped: %s", csv_path, line, ndx_last_error());
        *skip = 1;
        return NDX_OK;
    }
    if (st) return st;
    iw = meta.width, ih = meta.height;
    const char *mask_rel = NULL;
    long best = -1;
    const char *cand_rel[2] = {roi_rel, crop_rel}, *cand_full[2] = {roi_full, crop_full};
    for (int k = 0; k < 2; k++) {
        int w, h;
        if (!v[k ? C_CROP : C_ROI][0] || !ndx__is_file(cand_full[k])) continue;
        if ((st = ndx_image_size(cand_full[k], &w, &h, NULL)) == NDX_ERR_FORMAT && x->tcia) {
            ndx__say(x->note, x->ctx, "%s:%ld: %s: not a candidate mask", csv_path, line, ndx_last_error());
            continue;
        }
        if (st) return st;
        long score = (long)w * h;
        if (score > best) best = score, mask_rel = cand_rel[k], mw = w, mh = h;
    }
    if (!mask_rel) {
        x->S->missing++;
        if (!x->S->first_missing[0]) fmt(x->S->first_missing, sizeof x->S->first_missing, "%s", roi_full);
        ndx__say(x->note, x->ctx, "%s:%ld: skipped: no mask file (%s)", csv_path, line, roi_full);
        *skip = 1;
        return NDX_OK;
    }
    if (mask_rel != roi_rel)
        ndx__say(x->note, x->ctx, "%s:%ld: the mask is the 'cropped image' file %s (larger than the ROI file)",
            csv_path, line, mask_rel);
    if (mw != iw || mh != ih) {
        x->S->resampled_masks++;
        ndx__say(x->note, x->ctx, "%s:%ld: mask %s is %dx%d, its image %dx%d: kept, resampled by patches",
            csv_path, line, mask_rel, mw, mh, iw, ih);
    }
    if (snprintf(r->image_path, sizeof r->image_path, "%s/%s", x->rel_images, img_rel) >= (int)sizeof r->image_path ||
        snprintf(r->mask_path, sizeof r->mask_path, "%s/%s", x->rel_images, mask_rel) >= (int)sizeof r->mask_path)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: image path too long", csv_path, line);
    r->pixel_spacing_mm = meta.pixel_spacing_mm;
    if (!r->side[0]) snprintf(r->side, sizeof r->side, "%s", meta.laterality);
    if (!r->view[0] && strlen(meta.view) < sizeof r->view) memcpy(r->view, meta.view, strlen(meta.view) + 1);
    return NDX_OK;
}

/* One data row: its trimmed values, its fields, its images, its checks;
 * bad values and missing files skip the row (counted and said). */
static ndx_status import_row(const import_ctx *x, ndx_csv *c, const int *col, ndx_manifest *m)
{
    const char *csv_path = x->csv_path;
    const long line = ndx_csv_line(c);
    x->S->csv_rows++;
    char v[C_COUNT][600];
    for (int k = 0; k < C_COUNT; k++) {
        char tmp[600];
        const char *f = col[k] >= 0 ? ndx_csv_field(c, col[k]) : "";
        if (strlen(f) >= sizeof tmp)
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d (%s) is too long", csv_path, line,
                             col[k] + 1, col_names[k]);
        snprintf(tmp, sizeof tmp, "%s", f);
        snprintf(v[k], sizeof v[k], "%s", trim(tmp));
    }
    ndx_manifest_row r;
    int skip = 0;
    ndx_status st = row_fields(v, col, csv_path, line, &r);
    if (!st) st = row_images(x, v, line, &r, &skip);
    else if (st == NDX_ERR_FORMAT) skip = -1;
    if (!st && !skip && (st = ndx__manifest_check(&r, csv_path, line)) == NDX_ERR_FORMAT) skip = -1;
    if (skip < 0) {   /* a bad value: the row is skipped, and said */
        x->S->invalid++;
        ndx__say(x->note, x->ctx, "%s; row skipped", ndx_last_error());
        return NDX_OK;
    }
    if (st || skip) return st;
    if ((st = ndx_manifest_add(m, &r)) != NDX_OK) return st;
    x->S->rows++;
    return NDX_OK;
}

static ndx_status import_csv(const char *csv_path, const char *images_dir, const char *rel_images,
                             const ndx__tcia *tcia, ndx_manifest *m, ndx_cbis_stats *S,
                             void (*note)(void *, const char *), void *ctx)
{
    const import_ctx x = {csv_path, images_dir, rel_images, tcia, S, note, ctx};
    ndx_csv *c;
    ndx_status st = ndx_csv_open(csv_path, &c);
    if (st != NDX_OK) return st;
    int got = ndx_csv_next(c), col[C_COUNT];
    if (got <= 0)
        st = got < 0 ? (ndx_status)got : ndx__fail(NDX_ERR_FORMAT, "%s: empty file", csv_path);
    if (!st) st = header_columns(c, csv_path, col);
    while (st == NDX_OK && (got = ndx_csv_next(c)) > 0) {
        if (ndx_csv_nfields(c) == 1 && !ndx_csv_field(c, 0)[0]) continue;
        st = import_row(&x, c, col, m);
    }
    if (st == NDX_OK && got < 0) st = (ndx_status)got;
    ndx_csv_close(c);
    return st;
}

static int cmp_image(const void *a, const void *b)
{
    const ndx_manifest_row *x = a, *y = b;
    int c = strcmp(x->image_path, y->image_path);
    return c ? c : x->abnormality_id - y->abnormality_id;
}

/* Drops the rows (sorted by image) that disagree with an earlier row of
 * their image on the patient, side or view, or repeat its lesion (type and
 * id): the manifest reader would refuse them.  Each is noted and counted
 * invalid. */
static void drop_conflicts(ndx_manifest *m, ndx_cbis_stats *S, void (*note)(void *, const char *),
                           void *ctx)
{
    size_t out = 0, first = 0;
    for (size_t i = 0; i < m->n; i++) {
        const ndx_manifest_row *r = &m->rows[i];
        if (out == 0 || strcmp(r->image_path, m->rows[out - 1].image_path)) first = out;
        const char *why = NULL;
        for (size_t j = first; j < out && !why; j++) {
            const ndx_manifest_row *k = &m->rows[j];
            if (strcmp(k->patient_id, r->patient_id) || strcmp(k->side, r->side) ||
                strcmp(k->view, r->view))
                why = "another patient, side or view than an earlier row";
            else if (!strcmp(k->abnormality_type, r->abnormality_type) &&
                     k->abnormality_id == r->abnormality_id)
                why = "a lesion given twice";
        }
        if (why) {
            ndx__say(note, ctx, "%s: %s %d: %s, row skipped", r->image_path, r->abnormality_type,
                r->abnormality_id, why);
            S->invalid++;
            S->rows--;
            continue;
        }
        m->rows[out++] = *r;
    }
    m->n = out;
}

static const char *const files[4] = {
    "mass_case_description_train_set.csv", "mass_case_description_test_set.csv",
    "calc_case_description_train_set.csv", "calc_case_description_test_set.csv"};

/* The four CSVs (those present) into out_dir/manifest.csv. */
static ndx_status import_all(const char *csv_dir, const char *abs_img, const char *rel,
                             const char *out_dir, const char *images_dir, int dicom,
                             ndx_cbis_stats *stats, void (*note)(void *ctx, const char *msg),
                             void *note_ctx)
{
    ndx_cbis_stats S;
    memset(&S, 0, sizeof S);
    ndx_manifest m = {0};
    int found = 0;
    ndx__tcia *tcia = NULL;
    ndx_status st = dicom ? ndx__tcia_open(abs_img, &tcia) : NDX_OK;
    if (!st && dicom && ndx__tcia_series(tcia))
        ndx__say(note, note_ctx, "%s/metadata.csv: %zu series of the NBIA Data Retriever's tree", images_dir,
            ndx__tcia_series(tcia));
    for (int f = 0; f < 4 && st == NDX_OK; f++) {
        char *path = ndx__join(csv_dir, files[f]);
        if (!path) {
            st = NDX_ERR_NOMEM;
        } else if (!ndx__is_file(path)) {
            ndx__say(note, note_ctx, "%s: not found, skipped", path);
        } else {
            found++;
            st = import_csv(path, abs_img, rel, tcia, &m, &S, note, note_ctx);
        }
        free(path);
    }
    if (st == NDX_OK && !found)
        st = ndx__fail(NDX_ERR_IO, "%s: none of the four CBIS-DDSM description CSVs is there", csv_dir);
    if (st == NDX_OK && m.n == 0)
        st = ndx__fail(NDX_ERR_FORMAT, "%s: no row has its %s under %s (first missing: %s)", csv_dir,
                       dicom ? "DICOM files" : "PNGs", images_dir, S.first_missing);
    if (st == NDX_OK) {
        qsort(m.rows, m.n, sizeof *m.rows, cmp_image);
        drop_conflicts(&m, &S, note, note_ctx);
        for (size_t i = 0; i < m.n; i++)
            if (i == 0 || strcmp(m.rows[i].image_path, m.rows[i - 1].image_path)) S.images++;
        char *path = ndx__join(out_dir, "manifest.csv");
        st = path ? ndx_manifest_write(path, &m) : NDX_ERR_NOMEM;
        free(path);
    }
    ndx_manifest_free(&m);
    ndx__tcia_free(tcia);
    if (st == NDX_OK && stats) *stats = S;
    return st;
}

static ndx_status import(const char *csv_dir, const char *images_dir, const char *out_dir,
                         int dicom, ndx_cbis_stats *stats, void (*note)(void *ctx, const char *msg),
                         void *note_ctx)
{
    ndx_status st = ndx__mkdirs(out_dir);
    if (st != NDX_OK) return st;
    char *abs_out = realpath(out_dir, NULL), *abs_img = NULL, *rel = NULL;
    if (!abs_out) st = ndx__fail(NDX_ERR_IO, "%s: %s", out_dir, strerror(errno));
    else if (!(abs_img = realpath(images_dir, NULL)))
        st = ndx__fail(NDX_ERR_IO, "%s: %s", images_dir, strerror(errno));
    /* "../" per folder of abs_out, then abs_img's tail: room for both */
    const size_t cap = abs_img ? 3 * strlen(abs_out) + strlen(abs_img) + 2 : 0;
    if (!st && !(rel = malloc(cap))) st = ndx__fail(NDX_ERR_NOMEM, "cbis: out of memory");
    if (!st && ndx__relpath(abs_out, abs_img, rel, cap))
        st = ndx__fail(NDX_ERR_INVALID, "%s: no path from %s", images_dir, out_dir);
    if (!st) st = import_all(csv_dir, abs_img, rel, out_dir, images_dir, dicom, stats, note, note_ctx);
    free(abs_out), free(abs_img), free(rel);
    return st;
}

/* The description CSVs and out_dir/manifest.csv (its folder made when
 * missing) checked and locked for the run. */
static ndx_status run(const char *csv_dir, const char *images_dir, const char *out_dir, int dicom,
                      ndx_cbis_stats *stats, void (*note)(void *ctx, const char *msg),
                      void *note_ctx)
{
    if (!csv_dir || !images_dir || !out_dir)
        return ndx__fail(NDX_ERR_INVALID, "import-cbis: a CSV folder, an image folder and an "
                         "output folder are needed");
    ndx_ioplan *p = NULL;
    ndx_status st = ndx_ioplan_new("import-cbis", &p);
    for (int f = 0; f < 4 && !st; f++) {
        char *path = ndx__join(csv_dir, files[f]);
        st = path ? ndx_ioplan_input(p, files[f], path, NULL) : NDX_ERR_NOMEM;
        free(path);
    }
    char *man = st ? NULL : ndx__join(out_dir, "manifest.csv");
    if (!st && !man) st = NDX_ERR_NOMEM;
    if (!st) st = ndx_ioplan_output(p, "manifest.csv", man, NDX_OUT_MKDIRS);
    free(man);
    if (!st) st = ndx_ioplan_begin(p);
    if (!st) st = import(csv_dir, images_dir, out_dir, dicom, stats, note, note_ctx);
    ndx_ioplan_free(p);
    return st;
}

ndx_status ndx_cbis_import(const char *csv_dir, const char *images_dir, const char *out_dir,
                           ndx_cbis_stats *stats, void (*note)(void *ctx, const char *msg),
                           void *note_ctx)
{
    return run(csv_dir, images_dir, out_dir, 0, stats, note, note_ctx);
}

ndx_status ndx_cbis_import_dicom(const char *csv_dir, const char *dicom_dir, const char *out_dir,
                                 ndx_cbis_stats *stats, void (*note)(void *ctx, const char *msg),
                                 void *note_ctx)
{
    if (!ndx_image_dicom_available())
        return ndx__fail(NDX_ERR_UNSUPPORTED, "import-cbis --dicom: this netdx was built without "
                         "DICOM (make DICOM=0, or no libdcmtk-dev when it was built)");
    return run(csv_dir, dicom_dir, out_dir, 1, stats, note, note_ctx);
}
