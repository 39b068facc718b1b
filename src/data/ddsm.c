/* DDSM import: the original Digital Database for Screening Mammography's
 * case folders (.ics case files, .OVERLAY lesion files) and the images
 * converted to PNG by other tools into manifest.csv and one mask per
 * abnormality.
 *
 * .ics: "filename A-1234-1" (the case, our patient_id), "DENSITY 3" (1-4),
 * and per view "LEFT_CC LINES 4720 PIXELS_PER_LINE 3128 BITS_PER_PIXEL 12
 * RESOLUTION 50 OVERLAY" (NON_OVERLAY: no abnormality drawn).
 * .OVERLAY (as USF's overlay.c reads it): TOTAL_ABNORMALITIES n, then per
 * abnormality "ABNORMALITY k", one or two "LESION_TYPE MASS SHAPE s
 * MARGINS m" / "LESION_TYPE CALCIFICATION TYPE t DISTRIBUTION d" /
 * "LESION_TYPE OTHER" lines, ASSESSMENT, SUBTLETY, PATHOLOGY,
 * TOTAL_OUTLINES m, then m outlines: a "BOUNDARY" (then "CORE") line and a
 * line "col row c c c ... #" of chain codes (outline.h).  The abnormality's
 * mask is its BOUNDARY filled, with its CORE outlines (inside it) added.
 * The LESION_TYPE line goes into the finding column as written, OTHER
 * becomes abnormality_type other; RESOLUTION (µm) gives pixel_spacing_mm. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../core/core.h"
#include "../io/io.h"
#include "data.h"
#include "import.h"

#define MAX_OUTLINES 64
#define MAX_DESC 4

/* ---- the lines of a text file, as tokens -------------------------------------- */
typedef struct lines {
    char *text;
    char **line;     /* NUL-terminated lines */
    size_t n, at;    /* count; the next line to read */
    const char *path;
} lines;

static ndx_status lines_read(const char *path, lines *L)
{
    memset(L, 0, sizeof *L);
    L->path = path;
    size_t len;
    ndx_status st = ndx__read_all(path, 256u << 20, &L->text, &len);
    if (st) return st;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += L->text[i] == '\n';
    L->line = malloc(cap * sizeof *L->line);
    if (!L->line) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    char *p = L->text;
    while (L->n < cap) {
        L->line[L->n++] = p;
        char *e = strchr(p, '\n');
        if (!e) break;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        *e = 0;
        p = e + 1;
    }
    return NDX_OK;
}

static void lines_free(lines *L)
{
    free(L->text), free(L->line);
}

/* Splits s into at most max blank-separated tokens (in place). */
static int tokens(char *s, char **tok, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, " \t\r", &save); t && n < max; t = strtok_r(NULL, " \t\r", &save))
        tok[n++] = t;
    return n;
}

/* The next line that is not blank (its index in *li), or -1 at the end. */
static int next_line(lines *L, size_t *li)
{
    while (L->at < L->n) {
        const char *s = L->line[L->at++];
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (*s) return *li = L->at - 1, 0;
    }
    return -1;
}

/* ---- .ics ------------------------------------------------------------------------- */
static const char *const views[4] = {"LEFT_CC", "LEFT_MLO", "RIGHT_CC", "RIGHT_MLO"};

typedef struct ics {
    char patient[64];
    int density;
    struct { int present, lines, ppl, res, overlay; } v[4];   /* res: µm per pixel */
} ics;

/* One view line's fields (tok[0] is the view). */
static ndx_status ics_view(const char *path, long line, char **tok, int nt, ics *c, int k)
{
    int got = 0;
    for (int i = 1; i + 1 < nt; i += 2) {
        static const char *const keys[4] = {"LINES", "PIXELS_PER_LINE", "BITS_PER_PIXEL",
                                            "RESOLUTION"};
        static const long hi[4] = {65535, 65535, 16, 1000};
        int *dst[4] = {&c->v[k].lines, &c->v[k].ppl, NULL, &c->v[k].res}, val;
        for (int j = 0; j < 4; j++) {
            if (strcmp(tok[i], keys[j])) continue;
            if (ndx__parse_int(tok[i + 1], 1, hi[j], &val))
                return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %s %s: '%s' is not an integer in 1..%ld",
                                 path, line, views[k], keys[j], tok[i + 1], hi[j]);
            if (dst[j]) *dst[j] = val;
            got |= 1 << j;
        }
    }
    if ((got & 3) != 3)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %s without LINES and PIXELS_PER_LINE", path, line,
                         views[k]);
    if ((int64_t)c->v[k].lines * c->v[k].ppl > ndx__max_pixels())
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %s is %dx%d, more than %lld pixels", path, line,
                         views[k], c->v[k].ppl, c->v[k].lines, (long long)ndx__max_pixels());
    c->v[k].present = 1;
    c->v[k].overlay = !strcmp(tok[nt - 1], "OVERLAY");
    if (!c->v[k].overlay && strcmp(tok[nt - 1], "NON_OVERLAY"))
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %s ends in '%s', not OVERLAY or NON_OVERLAY",
                         path, line, views[k], tok[nt - 1]);
    return NDX_OK;
}

/* path's case: its patient (the filename field), density and views. */
static ndx_status ics_read(const char *path, const char *base, ics *c)
{
    memset(c, 0, sizeof *c);
    lines L;
    ndx_status st = lines_read(path, &L);
    size_t li;
    while (!st && next_line(&L, &li) == 0) {
        char *tok[32];
        int nt = tokens(L.line[li], tok, 32);
        const long line = (long)li + 1;
        if (!strcasecmp(tok[0], "filename") && nt >= 2) {
            if (strlen(tok[1]) >= sizeof c->patient)
                st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: filename '%.80s' is too long", path, line,
                               tok[1]);
            else
                strcpy(c->patient, tok[1]);
        } else if (!strcasecmp(tok[0], "DENSITY")) {
            if (nt < 2 || ndx__parse_int(tok[1], 1, 4, &c->density))
                st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: DENSITY '%s' is not 1-4", path, line,
                               nt < 2 ? "" : tok[1]);
        } else {
            for (int k = 0; k < 4; k++)
                if (!strcmp(tok[0], views[k])) st = ics_view(path, line, tok, nt, c, k);
        }
    }
    lines_free(&L);
    if (st) return st;
    if (!c->density) return ndx__fail(NDX_ERR_FORMAT, "%s: no DENSITY line", path);
    if (!c->v[0].present && !c->v[1].present && !c->v[2].present && !c->v[3].present)
        return ndx__fail(NDX_ERR_FORMAT, "%s: no LEFT_CC, LEFT_MLO, RIGHT_CC or RIGHT_MLO line",
                         path);
    if (!c->patient[0]) snprintf(c->patient, sizeof c->patient, "%.63s", base);
    return NDX_OK;
}

/* ---- .OVERLAY --------------------------------------------------------------------- */
/* DDSM's vocabularies: CBIS-DDSM's (manifest.c) plus TUBULAR and SUTURE,
 * which CBIS-DDSM has not (left out with a note), and LUCENT_CENTER. */
static const char *const shapes[] = {
    "ROUND", "OVAL", "LOBULATED", "IRREGULAR", "ARCHITECTURAL_DISTORTION", "TUBULAR", "LYMPH_NODE",
    "ASYMMETRIC_BREAST_TISSUE", "FOCAL_ASYMMETRIC_DENSITY", NULL};
static const char *const margins[] = {"CIRCUMSCRIBED", "MICROLOBULATED", "OBSCURED",
                                      "ILL_DEFINED", "SPICULATED", NULL};
static const char *const calc_types[] = {
    "PUNCTATE", "AMORPHOUS", "PLEOMORPHIC", "ROUND_AND_REGULAR", "LUCENT_CENTERED", "LUCENT_CENTER",
    "FINE_LINEAR_BRANCHING", "SKIN", "VASCULAR", "COARSE", "LARGE_RODLIKE", "EGGSHELL",
    "MILK_OF_CALCIUM", "SUTURE", "DYSTROPHIC", NULL};
static const char *const distributions[] = {"CLUSTERED", "LINEAR", "SEGMENTAL", "REGIONAL",
                                            "DIFFUSELY_SCATTERED", NULL};

typedef struct where {
    const char *path;
    long line;
    int abn;
} where;

/* v (codes joined by '-', '_' or ',', "N/A" for none) into out (cap bytes)
 * as CBIS joins them; codes CBIS lacks are left out with a note (*left). */
static ndx_status map_codes(const where *w, const char *field, const char *v,
                            const char *const *list, char *out, size_t cap, char *left,
                            size_t left_cap)
{
    out[0] = 0;
    if (!strcmp(v, "N/A") || !strcmp(v, "NA")) return NDX_OK;
    size_t o = 0;
    for (const char *p = v; *p;) {
        if (strchr("-_,", *p)) { p++; continue; }
        size_t best = 0;
        const char *code = NULL;
        for (const char *const *c = list; *c; c++) {
            size_t n = strlen(*c);
            if (n > best && !strncmp(p, *c, n) && (!p[n] || strchr("-_,", p[n]))) best = n, code = *c;
        }
        if (!code)
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d: unknown %s code in '%s'",
                             w->path, w->line, w->abn, field, p);
        p += best;
        if (!strcmp(code, "TUBULAR") || !strcmp(code, "SUTURE")) {
            snprintf(left, left_cap, "%s", code);
            continue;
        }
        int k = snprintf(out + o, cap - o, "%s%s", o ? "-" : "", code);
        if (k < 0 || (size_t)k >= cap - o)
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %s '%.60s...' is too long", w->path, w->line,
                             field, v);
        o += (size_t)k;
    }
    return NDX_OK;
}

typedef struct desc {
    int kind;            /* 0 mass, 1 calcification, 2 other */
    char a[96], b[96];   /* shape / margins, or type / distribution */
    char left[32];       /* a code CBIS lacks, left out ("" none) */
    char text[64];       /* the line after LESION_TYPE, as written (cut at 63) */
} desc;

typedef struct abn {
    int ndesc, assessment, subtlety, line;
    desc d[MAX_DESC];
    char pathology[32];
    size_t nout;
    ndx__outline out[MAX_OUTLINES];
} abn;

/* "LESION_TYPE ..." (tok[0]) into d. */
static ndx_status lesion_type(const where *w, char **tok, int nt, desc *d)
{
    memset(d, 0, sizeof *d);
    if (nt < 2)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d: LESION_TYPE without a type",
                         w->path, w->line, w->abn);
    d->kind = !strcmp(tok[1], "MASS") ? 0 : !strcmp(tok[1], "CALCIFICATION") ? 1
              : !strcmp(tok[1], "OTHER") ? 2 : -1;
    for (int i = 1, o = 0; i < nt && o < (int)sizeof d->text - 1; i++)
        o += snprintf(d->text + o, sizeof d->text - (size_t)o, "%s%s", i > 1 ? " " : "", tok[i]);
    if (d->kind < 0)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d: unknown LESION_TYPE '%s' "
                         "(MASS, CALCIFICATION or OTHER)", w->path, w->line, w->abn, tok[1]);
    if (d->kind == 2) return NDX_OK;
    const char *ka = d->kind ? "TYPE" : "SHAPE", *kb = d->kind ? "DISTRIBUTION" : "MARGINS";
    const char *va = NULL, *vb = NULL;
    for (int i = 2; i + 1 < nt; i++) {
        if (!strcmp(tok[i], ka)) va = tok[i + 1];
        if (!strcmp(tok[i], kb)) vb = tok[i + 1];
    }
    if (!va || !vb)
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d: LESION_TYPE %s without %s and %s",
                         w->path, w->line, w->abn, tok[1], ka, kb);
    ndx_status st = map_codes(w, ka, va, d->kind ? calc_types : shapes, d->a, sizeof d->a, d->left,
                              sizeof d->left);
    if (!st)
        st = map_codes(w, kb, vb, d->kind ? distributions : margins, d->b, sizeof d->b, d->left,
                       sizeof d->left);
    return st;
}

/* The line after li's keyword must be "KEY value": its tokens. */
static ndx_status keyword(lines *L, const where *w0, const char *key, char **tok, int *nt,
                          long *line)
{
    size_t li;
    if (next_line(L, &li))
        return ndx__fail(NDX_ERR_FORMAT, "%s: the file ends before %s (ABNORMALITY %d; truncated?)",
                         L->path, key, w0->abn);
    *line = (long)li + 1;
    *nt = tokens(L->line[li], tok, 64);
    if (strcmp(tok[0], key))
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: '%s' where %s was expected", L->path, *line,
                         tok[0], key);
    return NDX_OK;
}

/* keyword KEY with an integer value in lo..hi. */
static ndx_status keyword_int(lines *L, const where *w, const char *key, int lo, int hi, int *v)
{
    char *tok[64];
    int nt;
    long line;
    ndx_status st = keyword(L, w, key, tok, &nt, &line);
    if (!st && (nt < 2 || ndx__parse_int(tok[1], lo, hi, v)))
        st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: %s '%s' is not an integer in %d..%d", L->path, line,
                       key, nt < 2 ? "" : tok[1], lo, hi);
    return st;
}

/* One outline: a BOUNDARY / CORE line, then "col row codes... #", the
 * chain checked against the w x h image. */
static ndx_status outline(lines *L, const where *w0, int first, int w, int h, ndx__outline *o)
{
    const char *kind = first ? "BOUNDARY" : "CORE";
    char *tok[64];
    int nt;
    long line;
    ndx_status st = keyword(L, w0, kind, tok, &nt, &line);
    if (st) return st;
    size_t li, cap = 0;
    if (next_line(L, &li))
        return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d: the file ends after %s "
                         "(truncated?)", L->path, line, w0->abn, kind);
    line = (long)li + 1;
    char *s = L->line[li], *e;
    long v[2];
    for (int k = 0; k < 2; k++) {
        errno = 0;
        v[k] = strtol(s, &e, 10);
        if (errno || e == s || v[k] < -1000000 || v[k] > 1000000)
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d, %s: no start %s", L->path,
                             line, w0->abn, kind, k ? "row" : "column");
        s = e;
    }
    o->x0 = (int)v[0], o->y0 = (int)v[1];
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#') break;
        if (!*s) {   /* the chain goes on on the next line, if it holds codes */
            size_t nl;
            if (next_line(L, &nl) || !strchr("01234567", *L->line[nl] ? *L->line[nl] : 'x'))
                return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d, %s: the chain code ends "
                                 "without '#' after %zu steps (truncated?)", L->path, line, w0->abn,
                                 kind, o->n);
            s = L->line[nl];
            continue;
        }
        if (*s < '0' || *s > '7' || (s[1] && !strchr(" \t#", s[1])))
            return ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d, %s: '%.8s' at step %zu is not "
                             "a chain code 0-7", L->path, line, w0->abn, kind, s, o->n + 1);
        if (o->n == cap) {
            uint8_t *more = realloc(o->code, cap = cap ? 2 * cap : 256);
            if (!more) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", L->path);
            o->code = more;
        }
        o->code[o->n++] = (uint8_t)(*s++ - '0');
    }
    char at[64];
    snprintf(at, sizeof at, "ABNORMALITY %d, %s", w0->abn, kind);
    char *msg = ndx__strf("%s:%ld: %s", L->path, line, at);
    st = msg ? ndx__chain_check(o, w, h, msg) : NDX_ERR_NOMEM;
    free(msg);
    return st;
}

/* One ABNORMALITY block (number k) into a. */
static ndx_status abnormality(lines *L, int k, int w, int h, abn *a)
{
    where wh = {L->path, 0, k};
    char *tok[64];
    int nt, v;
    long line;
    ndx_status st = keyword(L, &wh, "ABNORMALITY", tok, &nt, &line);
    if (!st && (nt < 2 || ndx__parse_int(tok[1], k, k, &v)))
        st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY '%s', expected %d", L->path, line,
                       nt < 2 ? "" : tok[1], k);
    a->line = (int)line;
    while (!st) {
        size_t li, save = L->at;
        if (next_line(L, &li)) break;
        wh.line = (long)li + 1;
        const char *first = L->line[li] + strspn(L->line[li], " \t");
        if (strncmp(first, "LESION_TYPE", 11) || !strchr(" \t", first[11])) {
            L->at = save;   /* the line is read again, untouched, as ASSESSMENT */
            break;
        }
        nt = tokens(L->line[li], tok, 64);
        if (a->ndesc == MAX_DESC)
            st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d: more than %d LESION_TYPE lines",
                           L->path, wh.line, k, MAX_DESC);
        else
            st = lesion_type(&wh, tok, nt, &a->d[a->ndesc++]);
    }
    if (!st && !a->ndesc)
        st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: ABNORMALITY %d without LESION_TYPE", L->path, line, k);
    if (!st) st = keyword_int(L, &wh, "ASSESSMENT", 0, 5, &a->assessment);
    if (!st) st = keyword_int(L, &wh, "SUBTLETY", 0, 5, &a->subtlety);
    if (!st) st = keyword(L, &wh, "PATHOLOGY", tok, &nt, &line);
    if (!st && (nt < 2 || strlen(tok[1]) >= sizeof a->pathology))
        st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: PATHOLOGY without a value", L->path, line);
    if (!st) strcpy(a->pathology, tok[1]);
    if (!st && strcmp(a->pathology, "MALIGNANT") && strcmp(a->pathology, "BENIGN") &&
        strcmp(a->pathology, "BENIGN_WITHOUT_CALLBACK") && strcmp(a->pathology, "UNPROVEN"))
        st = ndx__fail(NDX_ERR_FORMAT, "%s:%ld: PATHOLOGY '%s' (MALIGNANT, BENIGN, "
                       "BENIGN_WITHOUT_CALLBACK or UNPROVEN)", L->path, line, a->pathology);
    int nout = 0;
    if (!st) st = keyword_int(L, &wh, "TOTAL_OUTLINES", 1, MAX_OUTLINES, &nout);
    for (int i = 0; i < nout && !st; i++) {
        st = outline(L, &wh, i == 0, w, h, &a->out[i]);
        a->nout = (size_t)i + 1;
    }
    return st;
}

static void abn_free(abn *a, int n)
{
    for (int i = 0; a && i < n; i++)
        for (size_t k = 0; k < a[i].nout; k++) free(a[i].out[k].code);
    free(a);
}

/* path's abnormalities (*a, *na of them), outlines checked against w x h. */
static ndx_status overlay_read(const char *path, int w, int h, abn **a, int *na)
{
    *a = NULL, *na = 0;
    lines L;
    ndx_status st = lines_read(path, &L);
    where wh = {path, 0, 0};
    int n = 0;
    if (!st) st = keyword_int(&L, &wh, "TOTAL_ABNORMALITIES", 1, 1000, &n);
    abn *all = st ? NULL : calloc((size_t)n, sizeof *all);
    if (!st && !all) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    int k = 0;
    for (; k < n && !st; k++) st = abnormality(&L, k + 1, w, h, &all[k]);
    size_t li;
    if (!st && next_line(&L, &li) == 0)
        st = ndx__fail(NDX_ERR_FORMAT, "%s:%zu: text after the %d abnormalities of "
                       "TOTAL_ABNORMALITIES", path, li + 1, n);
    lines_free(&L);
    if (st) {
        abn_free(all, k);
        return st;
    }
    *a = all, *na = n;
    return NDX_OK;
}

/* ---- the import -------------------------------------------------------------- */
typedef struct ddsm_run {
    const char *cases, *images;
    char **ics;          /* the .ics files found, sorted */
    size_t n, cap;
} ddsm_run;

static int ends_with_ics(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcasecmp(name + n - 4, ".ics");
}

/* Every .ics under dir (depth <= 16) into r. */
static ndx_status find_ics(ddsm_run *r, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return ndx__fail(NDX_ERR_IO, "%s: %s", dir, strerror(errno));
    ndx_status st = NDX_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *path = ndx__join(dir, e->d_name);
        struct stat sb;
        if (!path) st = NDX_ERR_NOMEM;
        else if (stat(path, &sb)) { /* a dangling link: not a case */ }
        else if (S_ISDIR(sb.st_mode) && depth < 16) st = find_ics(r, path, depth + 1);
        else if (S_ISREG(sb.st_mode) && ends_with_ics(e->d_name)) {
            if (r->n == r->cap) {
                char **more = realloc(r->ics, (r->cap = r->cap ? 2 * r->cap : 256) * sizeof *more);
                if (!more) st = ndx__fail(NDX_ERR_NOMEM, "import-ddsm: out of memory");
                else r->ics = more;
            }
            if (!st) r->ics[r->n++] = path, path = NULL;
        }
        free(path);
    }
    closedir(d);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The PNG of view v of case file ics (folder dir, base name base): the
 * first of base.V.png and base.V.LJPEG.png found in the folders to look
 * in (malloc'd), or NULL. */
static char *find_png(const ddsm_run *r, const char *dir, const char *base, const char *v)
{
    const size_t nc = strlen(r->cases);
    const char *rel = strncmp(dir, r->cases, nc) ? "" : dir + nc;
    while (*rel == '/') rel++;
    char *dirs[3] = {NULL, NULL, NULL};
    if (r->images) dirs[0] = ndx__join(r->images, *rel ? rel : "."), dirs[1] = ndx__strf("%s", r->images);
    else dirs[0] = ndx__strf("%s", dir);
    char *found = NULL;
    for (int i = 0; i < 2 && !found; i++)
        for (int k = 0; k < 2 && !found && dirs[i]; k++) {
            char *p = ndx__strf("%s/%s.%s%s", dirs[i], base, v, k ? ".LJPEG.png" : ".png");
            if (p && ndx__is_file(p)) found = p;
            else free(p);
        }
    free(dirs[0]), free(dirs[1]);
    return found;
}

/* The rows of one abnormality (number k of image `img` named name): its
 * mask written when a description uses it. */
static ndx_status abn_rows(ndx__import *im, const ndx_manifest_row *img, const char *name,
                           const char *ovl, const abn *a, int k, int w, int h)
{
    if (!strcmp(a->pathology, "UNPROVEN")) {
        ndx__import_drop(im, "%s:%d: ABNORMALITY %d: pathology UNPROVEN: left out (the manifest "
                         "takes MALIGNANT, BENIGN or BENIGN_WITHOUT_CALLBACK)", ovl, a->line, k);
        return NDX_OK;
    }
    uint8_t *mask = calloc((size_t)w * h, 1);
    if (!mask) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for a %dx%d mask", ovl, w, h);
    ndx_status st = NDX_OK;
    for (size_t i = 0; i < a->nout && !st; i++) st = ndx__chain_fill(&a->out[i], mask, w, h, 255, ovl);
    char mask_name[600], rel[512] = "";
    snprintf(mask_name, sizeof mask_name, "%s_%d.png", name, k);
    for (int d = 0; d < a->ndesc && !st; d++) {
        const desc *ds = &a->d[d];
        if (ds->left[0])
            ndx__say(im->note, im->ctx, "%s:%d: ABNORMALITY %d: code %s left out (not in "
                     "CBIS-DDSM's vocabulary)", ovl, a->line, k, ds->left);
        if (!rel[0]) st = ndx__import_mask(im, mask_name, mask, w, h, rel, sizeof rel);
        ndx_manifest_row r = *img;
        r.abnormality_id = k;
        strcpy(r.abnormality_type, ds->kind == 2 ? "other" : ds->kind ? "calcification" : "mass");
        strcpy(r.finding, ds->text);
        r.mask_kind = NDX_MASK_OUTLINE;
        snprintf(ds->kind ? r.calc_type : r.mass_shape, sizeof r.calc_type, "%s", ds->a);
        snprintf(ds->kind ? r.calc_distribution : r.mass_margins, sizeof r.mass_margins, "%s", ds->b);
        r.assessment = a->assessment, r.subtlety = a->subtlety;
        snprintf(r.pathology, sizeof r.pathology, "%s", a->pathology);
        snprintf(r.mask_path, sizeof r.mask_path, "%s", rel);
        if (!st) st = ndx_manifest_add(&im->m, &r);
        if (!st) im->S->lesions++;
    }
    free(mask);
    return st;
}

/* The rows of view v of a case whose image is png: lesions from the
 * overlay (a malformed overlay is said and the image left out), or one
 * row without lesion. */
static ndx_status view_rows(ndx__import *im, const ics *c, int v, const char *png,
                            const char *stem, const char *name)
{
    ndx_manifest_row img;
    memset(&img, 0, sizeof img);
    snprintf(img.patient_id, sizeof img.patient_id, "%s", c->patient);
    img.breast_density = c->density;
    strcpy(img.side, v < 2 ? "LEFT" : "RIGHT");
    strcpy(img.view, v % 2 ? "MLO" : "CC");
    img.assessment = 1;
    ndx_status st = ndx__import_rel(im, png, img.image_path, sizeof img.image_path);
    if (st) return st;
    const int w = c->v[v].ppl, h = c->v[v].lines;
    int pw, ph;
    if ((st = ndx_png_size(png, &pw, &ph, NULL))) {
        ndx__import_skip(im, "%s; image left out", ndx_last_error());
        return NDX_OK;
    }
    if (c->v[v].res) img.pixel_spacing_mm = c->v[v].res / 1000.0 * w / pw;
    if (img.pixel_spacing_mm > 10) img.pixel_spacing_mm = 0;   /* a thumbnail: unknown */
    if (!c->v[v].overlay) {
        st = ndx_manifest_add(&im->m, &img);
        if (!st) im->S->images++;
        return st;
    }
    char *ovl = ndx__strf("%s.%s.OVERLAY", stem, views[v]);
    if (!ovl) return NDX_ERR_NOMEM;
    abn *a = NULL;
    int na = 0;
    const size_t before = im->m.n;
    if (!ndx__is_file(ovl))
        ndx__import_skip(im, "%s: missing (the .ics says OVERLAY); image left out", ovl);
    else if (overlay_read(ovl, w, h, &a, &na))
        ndx__import_skip(im, "%s; image left out", ndx_last_error());
    for (int k = 0; k < na && !st; k++) st = abn_rows(im, &img, name, ovl, &a[k], k + 1, w, h);
    if (!st && na && im->m.n == before)
        ndx__import_skip(im, "%s: no lesion netdx can use; image left out (its lesions would pass "
                         "for normal tissue)", ovl);
    else if (!st && na) {
        im->S->images++;
        if (pw != w || ph != h) {
            im->S->resized++;
            ndx__say(im->note, im->ctx, "%s: the PNG is %dx%d, the .ics says %dx%d: masks kept at "
                     "the .ics size (netdx patches resamples them)", png, pw, ph, w, h);
        }
    }
    abn_free(a, na);
    free(ovl);
    return st;
}

/* One case file: its views with a PNG. */
static ndx_status one_case(ndx__import *im, const ddsm_run *r, const char *path)
{
    im->S->cases++;
    char *dir = NULL, *file = NULL;
    ndx_status st = ndx__split_path(path, &dir, &file);
    if (st) return st;
    file[strlen(file) - 4] = 0;   /* the base name: .ics dropped */
    ics c;
    if (ics_read(path, file, &c)) {
        ndx__import_skip(im, "%s; case left out", ndx_last_error());
        free(dir), free(file);
        return NDX_OK;
    }
    for (int v = 0; v < 4 && !st; v++) {
        if (!c.v[v].present) continue;
        char *stem = ndx__join(dir, file), *name = ndx__strf("%s.%s", file, views[v]);
        char *png = stem && name ? find_png(r, dir, file, views[v]) : NULL;
        char *ljpeg = stem ? ndx__strf("%s.%s.LJPEG", stem, views[v]) : NULL;
        if (!stem || !name || !ljpeg) st = NDX_ERR_NOMEM;
        else if (!png && ndx__is_file(ljpeg))
            ndx__import_skip(im, "%s: only the LJPEG is there: netdx does not decode LJPEG; "
                             "convert it to %s.png first (docs/data.md)", ljpeg, name);
        else if (!png)
            ndx__import_skip(im, "%s: no %s.png or %s.LJPEG.png found%s%s; image left out", path,
                             name, name, r->images ? " under " : "", r->images ? r->images : "");
        else st = view_rows(im, &c, v, png, stem, name);
        free(stem), free(name), free(png), free(ljpeg);
    }
    free(dir), free(file);
    return st;
}

static ndx_status ddsm_body(ndx__import *im, void *arg)
{
    ddsm_run *r = arg;
    ndx_status st = find_ics(r, r->cases, 0);
    if (!st && r->n == 0) st = ndx__fail(NDX_ERR_FORMAT, "%s: no .ics case file under it", r->cases);
    if (st) return st;
    qsort(r->ics, r->n, sizeof *r->ics, cmp_str);
    for (size_t i = 0; i < r->n && !st; i++) st = one_case(im, r, r->ics[i]);
    return st;
}

ndx_status ndx_ddsm_import(const char *cases_dir, const char *images_dir, const char *out_dir,
                           ndx_import_stats *st, void (*note)(void *ctx, const char *msg),
                           void *note_ctx)
{
    if (!cases_dir || !out_dir)
        return ndx__fail(NDX_ERR_INVALID, "import-ddsm: a cases folder and an output folder are "
                         "needed");
    ddsm_run r = {cases_dir, images_dir, NULL, 0, 0};
    const char *inputs[] = {"--cases", cases_dir, "--images", images_dir, NULL};
    ndx_status s = ndx__import_run("import-ddsm", out_dir, inputs, st, note, note_ctx, ddsm_body, &r,
                                   "no case had an image");
    for (size_t i = 0; i < r.n; i++) free(r.ics[i]);
    free(r.ics);
    return s;
}
