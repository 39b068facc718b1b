/* manifest.csv: one row per lesion (and one per image without lesions) in
 * CBIS-DDSM's columns and vocabularies; reading validates every field and
 * names the file, line and column at fault. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "data.h"
#include "../io/io.h"

const char *const ndx_manifest_columns[NDX_MANIFEST_COLUMNS] = {
    "patient_id", "breast_density", "left_or_right_breast", "image_view",
    "abnormality_id", "abnormality_type", "mass_shape", "mass_margins",
    "calc_type", "calc_distribution", "assessment", "pathology", "subtlety",
    "image_path", "mask_path"};
const char *const ndx_manifest_extra_columns[NDX_MANIFEST_EXTRA_COLUMNS] = {
    "pixel_spacing_mm", "mask_kind", "finding", "pathology_source"};
static const char *const mask_kinds[] = {"none", "outline", "box"};
static const char *const types[] = {"mass", "calcification", "distortion", "asymmetry", "other",
                                    NULL};

static const char *const shapes[] = {
    "ROUND", "OVAL", "LOBULATED", "IRREGULAR", "ARCHITECTURAL_DISTORTION", "LYMPH_NODE",
    "ASYMMETRIC_BREAST_TISSUE", "FOCAL_ASYMMETRIC_DENSITY", NULL};
static const char *const margins[] = {
    "CIRCUMSCRIBED", "MICROLOBULATED", "OBSCURED", "ILL_DEFINED", "SPICULATED", NULL};
static const char *const calc_types[] = {
    "AMORPHOUS", "PLEOMORPHIC", "PUNCTATE", "ROUND_AND_REGULAR", "LUCENT_CENTERED",
    "FINE_LINEAR_BRANCHING", "COARSE", "VASCULAR", "SKIN", "LARGE_RODLIKE", "EGGSHELL",
    "MILK_OF_CALCIUM", "DYSTROPHIC", NULL};
static const char *const distributions[] = {
    "CLUSTERED", "LINEAR", "SEGMENTAL", "REGIONAL", "DIFFUSELY_SCATTERED", NULL};

static int in_list(const char *s, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && !strncmp(s, *list, n)) return 1;
    return 0;
}

/* Normalises codes joined by '-' in place (LUCENT_CENTER -> LUCENT_CENTERED,
 * "N/A" -> "") and checks each against list; returns the first bad code's
 * offset or -1. */
static int check_codes(char *s, size_t cap, const char *const *list)
{
    if (!strcmp(s, "N/A") || !strcmp(s, "NA")) s[0] = 0;
    char out[256] = "";
    size_t o = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '-');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char code[96];
        if (n >= sizeof code - 2) return (int)(p - s);
        memcpy(code, p, n);
        code[n] = 0;
        if (!strcmp(code, "LUCENT_CENTER")) strcpy(code, "LUCENT_CENTERED");
        if (!in_list(code, strlen(code), list)) return (int)(p - s);
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", o ? "-" : "", code);
        if (o >= sizeof out) return 0;
        p += n;
        if (*p == '-') p++;
    }
    if (o >= cap) return 0;
    memcpy(s, out, o + 1);
    return -1;
}

static ndx_status bad(const char *where, long line, int col, const char *fmt, const char *val)
{
    char what[800];
    snprintf(what, sizeof what, fmt, val);
    return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d (%s): %s", where, line, col + 1,
                     ndx_manifest_columns[col], what);
}

/* The optional columns of a row (lesion: it has one); mask_kind 0 becomes
 * outline for a lesion. */
static ndx_status check_extra(ndx_manifest_row *r, const char *where, long line, int lesion)
{
    const char *what = NULL, *col = NULL;
    if (!(r->pixel_spacing_mm == 0 || (r->pixel_spacing_mm >= 0.001 && r->pixel_spacing_mm <= 10)))
        col = "pixel_spacing_mm", what = "must be 0 (unknown) or a spacing of 0.001 to 10 mm";
    else if (r->mask_kind < NDX_MASK_NONE || r->mask_kind > NDX_MASK_BOX)
        col = "mask_kind", what = "must be none, outline or box";
    else if (lesion && r->mask_kind == NDX_MASK_NONE)
        r->mask_kind = NDX_MASK_OUTLINE;
    else if (!lesion && r->mask_kind != NDX_MASK_NONE)
        col = "mask_kind", what = "must be none or empty without abnormality_type";
    if (!col && strcmp(r->pathology_source, "") && strcmp(r->pathology_source, "birads"))
        col = "pathology_source", what = "must be empty or birads";
    else if (!col && !lesion && r->pathology_source[0])
        col = "pathology_source", what = "must be empty without abnormality_type";
    for (const char *p = r->finding; !col && *p; p++)
        if ((unsigned char)*p < 32) col = "finding", what = "holds a control character";
    if (col) return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %s: %s", where, line, col, what);
    return NDX_OK;
}

/* Checks (and normalises) one row; where/line name it in messages. */
ndx_status ndx__manifest_check(ndx_manifest_row *r, const char *where, long line)
{
    if (!r->patient_id[0]) return bad(where, line, 0, "%sempty", "");
    if (r->breast_density < 1 || r->breast_density > 4)
        return bad(where, line, 1, "density must be 1-4%s", "");
    if (strcmp(r->side, "LEFT") && strcmp(r->side, "RIGHT"))
        return bad(where, line, 2, "'%s' is not LEFT or RIGHT", r->side);
    if (strcmp(r->view, "CC") && strcmp(r->view, "MLO"))
        return bad(where, line, 3, "'%s' is not CC or MLO", r->view);
    int lesion = r->abnormality_type[0] != 0;
    if (lesion && !in_list(r->abnormality_type, strlen(r->abnormality_type), types))
        return bad(where, line, 5, "'%s' is not mass, calcification, distortion, asymmetry or other",
                   r->abnormality_type);
    if (lesion && r->abnormality_id < 1) return bad(where, line, 4, "must be >= 1 for a lesion%s", "");
    if (!lesion && r->abnormality_id != 0)
        return bad(where, line, 4, "must be empty or 0 without abnormality_type%s", "");
    int at;
    if ((at = check_codes(r->mass_shape, sizeof r->mass_shape, shapes)) >= 0)
        return bad(where, line, 6, "unknown mass shape in '%s'", r->mass_shape + at);
    if ((at = check_codes(r->mass_margins, sizeof r->mass_margins, margins)) >= 0)
        return bad(where, line, 7, "unknown mass margin in '%s'", r->mass_margins + at);
    if ((at = check_codes(r->calc_type, sizeof r->calc_type, calc_types)) >= 0)
        return bad(where, line, 8, "unknown calcification type in '%s'", r->calc_type + at);
    if ((at = check_codes(r->calc_distribution, sizeof r->calc_distribution, distributions)) >= 0)
        return bad(where, line, 9, "unknown calcification distribution in '%s'",
                   r->calc_distribution + at);
    if (r->assessment < 0 || r->assessment > 5) return bad(where, line, 10, "must be 0-5%s", "");
    if (lesion) {
        if (strcmp(r->pathology, "MALIGNANT") && strcmp(r->pathology, "BENIGN") &&
            strcmp(r->pathology, "BENIGN_WITHOUT_CALLBACK"))
            return bad(where, line, 11, "'%s' is not MALIGNANT, BENIGN or BENIGN_WITHOUT_CALLBACK",
                       r->pathology);
        if (r->subtlety < 0 || r->subtlety > 5)
            return bad(where, line, 12, "must be 1-5 (0 or empty: unknown)%s", "");
        if (!r->mask_path[0]) return bad(where, line, 14, "empty for a lesion%s", "");
    } else {
        if (r->pathology[0]) return bad(where, line, 11, "'%s' given without abnormality_type", r->pathology);
        if (r->mask_path[0]) return bad(where, line, 14, "'%s' given without abnormality_type", r->mask_path);
    }
    if (!r->image_path[0]) return bad(where, line, 13, "empty%s", "");
    return check_extra(r, where, line, lesion);
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

ndx_status ndx_manifest_add(ndx_manifest *m, const ndx_manifest_row *r)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        ndx_manifest_row *rows = realloc(m->rows, sizeof *rows * cap);
        if (!rows) return ndx__fail(NDX_ERR_NOMEM, "manifest: out of memory for %zu rows", cap);
        m->rows = rows;
        m->cap = cap;
    }
    m->rows[m->n] = *r;
    ndx_status st = ndx__manifest_check(&m->rows[m->n], "manifest row", (long)m->n + 2);
    if (st == NDX_OK) m->n++;
    return st;
}

void ndx_manifest_free(ndx_manifest *m)
{
    free(m->rows);
    memset(m, 0, sizeof *m);
}

/* A row and the line it came from, for the checks across rows. */
typedef struct row_at {
    const ndx_manifest_row *r;
    long line;
} row_at;

static int cmp_row_at(const void *a, const void *b)
{
    const row_at *x = a, *y = b;
    int c = strcmp(x->r->image_path, y->r->image_path);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* The rows of one image (a, n of them, in file order) agree on the
 * patient, side and view, and name each lesion (type and id) once. */
static ndx_status check_image_rows(const char *path, const row_at *a, size_t n)
{
    const ndx_manifest_row *f = a[0].r;
    for (size_t i = 1; i < n; i++) {
        const ndx_manifest_row *r = a[i].r;
        if (r->pixel_spacing_mm != f->pixel_spacing_mm)
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: image %s has pixel_spacing_mm %g here but %g "
                             "on line %ld: correct one of the two rows", path, a[i].line,
                             r->image_path, r->pixel_spacing_mm, f->pixel_spacing_mm, a[0].line);
        const int k = strcmp(r->patient_id, f->patient_id) ? 0 : strcmp(r->side, f->side) ? 1
                      : strcmp(r->view, f->view) ? 2 : -1;
        const char *what = k == 0 ? "patient_id" : k == 1 ? "left_or_right_breast" : "image_view";
        const char *was = k == 0 ? f->patient_id : k == 1 ? f->side : f->view;
        const char *now = k == 0 ? r->patient_id : k == 1 ? r->side : r->view;
        if (k >= 0)
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: image %s has %s %s here but %s on line %ld: "
                             "one image belongs to one patient, breast and view; correct one of "
                             "the two rows", path, a[i].line, r->image_path, what, now, was,
                             a[0].line);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(a[j].r->abnormality_type, r->abnormality_type) &&
                a[j].r->abnormality_id == r->abnormality_id)
                return r->abnormality_type[0]
                           ? ndx__fail(NDX_ERR_FORMAT, "%s:%ld: image %s: %s %d repeats line %ld "
                                       "(a lesion counted twice): remove one row, or give the "
                                       "lesions distinct abnormality_id", path, a[i].line,
                                       r->image_path, r->abnormality_type, r->abnormality_id,
                                       a[j].line)
                           : ndx__fail(NDX_ERR_FORMAT, "%s:%ld: image %s: a second row without "
                                       "a lesion, as on line %ld: remove one", path, a[i].line,
                                       r->image_path, a[j].line);
    }
    return NDX_OK;
}

/* Checks across rows: the rows of each image agree (check_image_rows). */
static ndx_status check_rows(const char *path, const ndx_manifest *m, const long *lines)
{
    row_at *a = malloc((m->n ? m->n : 1) * sizeof *a);
    if (!a) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for %zu rows", path, m->n);
    for (size_t i = 0; i < m->n; i++) a[i] = (row_at){&m->rows[i], lines[i]};
    qsort(a, m->n, sizeof *a, cmp_row_at);
    ndx_status st = NDX_OK;
    for (size_t i = 0, j; i < m->n && !st; i = j) {
        for (j = i + 1; j < m->n && !strcmp(a[j].r->image_path, a[i].r->image_path); j++) {}
        st = check_image_rows(path, a + i, j - i);
    }
    free(a);
    return st;
}

/* The header: the 15 columns in order, then optional ones by name
 * (extra_at[k]: the column of ndx_manifest_extra_columns[k], -1 absent). */
static ndx_status read_header(ndx_csv *c, const char *path, int *extra_at, int *ncols)
{
    *ncols = ndx_csv_nfields(c);
    for (int i = 0; i < NDX_MANIFEST_COLUMNS; i++)
        if (strcmp(ndx_csv_field(c, i), ndx_manifest_columns[i]))
            return ndx__fail(NDX_ERR_FORMAT, "%s:1: column %d of the header is '%s', expected '%s'",
                             path, i + 1, ndx_csv_field(c, i), ndx_manifest_columns[i]);
    for (int k = 0; k < NDX_MANIFEST_EXTRA_COLUMNS; k++) extra_at[k] = -1;
    for (int i = NDX_MANIFEST_COLUMNS; i < *ncols; i++) {
        int k = 0;
        while (k < NDX_MANIFEST_EXTRA_COLUMNS && strcmp(ndx_csv_field(c, i), ndx_manifest_extra_columns[k]))
            k++;
        if (k == NDX_MANIFEST_EXTRA_COLUMNS || extra_at[k] >= 0)
            return ndx__fail(NDX_ERR_FORMAT, "%s:1: column %d of the header is '%s': %s", path, i + 1,
                             ndx_csv_field(c, i), k < NDX_MANIFEST_EXTRA_COLUMNS ? "given twice"
                             : "not a manifest column (after the first 15 come pixel_spacing_mm, "
                               "mask_kind, finding, pathology_source)");
        extra_at[k] = i;
    }
    return NDX_OK;
}

/* The optional columns of the current record into r. */
static ndx_status read_extra(ndx_csv *c, const char *path, long line, const int *extra_at,
                             ndx_manifest_row *r)
{
    const char *v[NDX_MANIFEST_EXTRA_COLUMNS];
    for (int k = 0; k < NDX_MANIFEST_EXTRA_COLUMNS; k++)
        v[k] = extra_at[k] >= 0 ? ndx_csv_field(c, extra_at[k]) : "";
    const char *what = NULL;
    int k = 0;
    if (v[0][0]) {
        char *end;
        errno = 0;
        r->pixel_spacing_mm = strtod(v[0], &end);
        if (errno || *end || end == v[0] ||
            !(r->pixel_spacing_mm == 0 || (r->pixel_spacing_mm >= 0.001 && r->pixel_spacing_mm <= 10)))
            what = "is not a spacing in 0..10 mm";
    }
    if (!what && v[1][0]) {
        k = 1;
        r->mask_kind = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(v[1], mask_kinds[i])) r->mask_kind = i;
        if (r->mask_kind < 0) what = "is not outline, box or none";
    }
    if (!what && copy_field(r->finding, sizeof r->finding, v[2])) k = 2, what = "is longer than 63 characters";
    if (!what && copy_field(r->pathology_source, sizeof r->pathology_source, v[3]))
        k = 3, what = "is too long";
    if (!what) return NDX_OK;
    return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: column %d (%s): '%.80s' %s", path, line, extra_at[k] + 1,
                     ndx_manifest_extra_columns[k], v[k], what);
}

ndx_status ndx_manifest_read(const char *path, ndx_manifest *m)
{
    memset(m, 0, sizeof *m);
    ndx_csv *c;
    ndx_status st = ndx_csv_open(path, &c);
    if (st != NDX_OK) return st;
    int got = ndx_csv_next(c);
    if (got < 0) {
        ndx_csv_close(c);
        return (ndx_status)got;
    }
    if (got == 0) {
        ndx_csv_close(c);
        return ndx__fail(NDX_ERR_FORMAT, "%s: empty file (no header)", path);
    }
    int extra_at[NDX_MANIFEST_EXTRA_COLUMNS], ncols;
    if ((st = read_header(c, path, extra_at, &ncols)) != NDX_OK) {
        ndx_csv_close(c);
        return st;
    }
    long *lines = NULL;   /* the line of each row, for the checks across rows */
    size_t nlines = 0;
    while ((got = ndx_csv_next(c)) > 0) {
        long line = ndx_csv_line(c);
        int nf = ndx_csv_nfields(c);
        if (nf == 1 && !ndx_csv_field(c, 0)[0]) continue;   /* blank line */
        if (nf != ncols) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %d columns, expected %d", path, line, nf,
                           ncols);
            break;
        }
        ndx_manifest_row r;
        memset(&r, 0, sizeof r);
        struct { char *dst; size_t cap; int col; } text[] = {
            {r.patient_id, sizeof r.patient_id, 0}, {r.side, sizeof r.side, 2},
            {r.view, sizeof r.view, 3}, {r.abnormality_type, sizeof r.abnormality_type, 5},
            {r.mass_shape, sizeof r.mass_shape, 6}, {r.mass_margins, sizeof r.mass_margins, 7},
            {r.calc_type, sizeof r.calc_type, 8}, {r.calc_distribution, sizeof r.calc_distribution, 9},
            {r.pathology, sizeof r.pathology, 11}, {r.image_path, sizeof r.image_path, 13},
            {r.mask_path, sizeof r.mask_path, 14}};
        for (size_t i = 0; i < sizeof text / sizeof text[0] && st == NDX_OK; i++)
            if (copy_field(text[i].dst, text[i].cap, ndx_csv_field(c, text[i].col))) {
                char lim[32];
                snprintf(lim, sizeof lim, "%zu", text[i].cap - 1);
                st = bad(path, line, text[i].col, "longer than %s characters", lim);
            }
        struct { int *dst; int lo, hi, col, optional; } nums[] = {
            {&r.breast_density, 1, 4, 1, 0}, {&r.abnormality_id, 0, 1000000, 4, 1},
            {&r.assessment, 0, 5, 10, 0}, {&r.subtlety, 0, 5, 12, 1}};
        for (size_t i = 0; i < sizeof nums / sizeof nums[0] && st == NDX_OK; i++) {
            const char *s = ndx_csv_field(c, nums[i].col);
            if (!*s && nums[i].optional) continue;
            if (ndx__parse_int(s, nums[i].lo, nums[i].hi, nums[i].dst))
                st = bad(path, line, nums[i].col, "'%s' is not an integer in range", s);
        }
        if (st == NDX_OK) st = read_extra(c, path, line, extra_at, &r);
        if (st == NDX_OK) st = ndx__manifest_check(&r, path, line);
        if (st == NDX_OK) {
            ndx_status s2 = ndx_manifest_add(m, &r);
            if (s2 != NDX_OK) st = s2;
        }
        if (st == NDX_OK && m->n > nlines) {
            long *l = realloc(lines, m->cap * sizeof *l);
            if (!l) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for %zu rows", path, m->cap);
            else lines = l, nlines = m->cap;
        }
        if (st != NDX_OK) break;
        lines[m->n - 1] = line;
    }
    if (got < 0) st = (ndx_status)got;
    ndx_csv_close(c);
    if (st == NDX_OK && m->n == 0) st = ndx__fail(NDX_ERR_FORMAT, "%s: no rows", path);
    if (st == NDX_OK) st = check_rows(path, m, lines);
    free(lines);
    if (st != NDX_OK) ndx_manifest_free(m);
    return st;
}

/* The rows of manifest ctx as CSV into f. */
static ndx_status put_manifest(FILE *f, void *ctx)
{
    const ndx_manifest *m = ctx;
    for (int i = 0; i < NDX_MANIFEST_COLUMNS; i++) fprintf(f, "%s,", ndx_manifest_columns[i]);
    for (int i = 0; i < NDX_MANIFEST_EXTRA_COLUMNS; i++)
        fprintf(f, "%s%s", ndx_manifest_extra_columns[i], i + 1 < NDX_MANIFEST_EXTRA_COLUMNS ? "," : "\n");
    for (size_t i = 0; i < m->n; i++) {
        const ndx_manifest_row *r = &m->rows[i];
        int lesion = r->abnormality_type[0] != 0;
        ndx__csv_put(f, r->patient_id);
        fprintf(f, ",%d,%s,%s,", r->breast_density, r->side, r->view);
        if (lesion) fprintf(f, "%d", r->abnormality_id);
        fprintf(f, ",%s,", r->abnormality_type);
        ndx__csv_put(f, r->mass_shape);
        fputc(',', f);
        ndx__csv_put(f, r->mass_margins);
        fputc(',', f);
        ndx__csv_put(f, r->calc_type);
        fputc(',', f);
        ndx__csv_put(f, r->calc_distribution);
        fprintf(f, ",%d,%s,", r->assessment, r->pathology);
        if (lesion && r->subtlety) fprintf(f, "%d", r->subtlety);
        fputc(',', f);
        ndx__csv_put(f, r->image_path);
        fputc(',', f);
        ndx__csv_put(f, r->mask_path);
        fprintf(f, ",%.15g,%s,", r->pixel_spacing_mm,
                mask_kinds[r->mask_kind >= 0 && r->mask_kind <= 2 ? r->mask_kind : 0]);
        ndx__csv_put(f, r->finding);
        fprintf(f, ",%s\n", r->pathology_source);
    }
    return NDX_OK;   /* write errors: caught by ndx__out_commit */
}

ndx_status ndx_manifest_write(const char *path, const ndx_manifest *m)
{
    return ndx__write_file(path, put_manifest, (void *)m);
}

int ndx_lesion_kind(const ndx_manifest_row *r)
{
    if (!strcmp(r->abnormality_type, "distortion")) return NDX_LESION_DISTORTION;
    if (!strcmp(r->abnormality_type, "asymmetry")) return NDX_LESION_MASS;
    if (!strcmp(r->abnormality_type, "mass"))
        return !strcmp(r->mass_shape, "ARCHITECTURAL_DISTORTION") ? NDX_LESION_DISTORTION
                                                                   : NDX_LESION_MASS;
    if (!strcmp(r->abnormality_type, "calcification")) {
        const char *v = strstr(r->calc_type, "VASCULAR");
        return v ? NDX_LESION_VESSEL : NDX_LESION_CALC;
    }
    return -1;
}

const char *ndx_lesion_kind_name(int kind)
{
    static const char *const names[NDX_LESION_KINDS] = {"mass", "calcification", "vessel",
                                                        "distortion"};
    return kind >= 0 && kind < NDX_LESION_KINDS ? names[kind] : "none";
}
