/* Finding the files of a TCIA download (CBIS-DDSM) from the paths its CSVs
 * give, e.g. Mass-Training_P_00001_LEFT_CC/<study uid>/<series uid>/000000.dcm:
 *
 * - the "classic" tree holds that path as it is, under the folder given or
 *   under its CBIS-DDSM/ subfolder;
 * - the NBIA Data Retriever's descriptive tree names folders by date and
 *   series description and the files 1-1.dcm, 1-2.dcm, ...; its
 *   metadata.csv maps each "Series UID" to a "File Location" (relative to
 *   the download folder), and the CSV's 00000k.dcm is the folder's
 *   1-(k+1).dcm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../io/io.h"
#include "data.h"

typedef struct series {
    char *uid, *folder;
} series;

struct ndx__tcia {
    series *s;
    size_t n;
};

static int cmp_series(const void *a, const void *b)
{
    return strcmp(((const series *)a)->uid, ((const series *)b)->uid);
}

void ndx__tcia_free(ndx__tcia *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->s[i].uid), free(t->s[i].folder);
    free(t->s);
    free(t);
}

/* Columns "Series UID" and "File Location" of the metadata.csv open in c. */
static ndx_status read_series(ndx_csv *c, const char *path, ndx__tcia *t)
{
    int cu = -1, cf = -1, got;
    for (int i = 0; i < ndx_csv_nfields(c); i++) {
        if (!strcmp(ndx_csv_field(c, i), "Series UID")) cu = i;
        if (!strcmp(ndx_csv_field(c, i), "File Location")) cf = i;
    }
    if (cu < 0 || cf < 0)
        return ndx__fail(NDX_ERR_FORMAT, "%s:1: no 'Series UID' and 'File Location' columns: not "
                         "the NBIA Data Retriever's metadata.csv", path);
    size_t cap = 0;
    while ((got = ndx_csv_next(c)) > 0) {
        const char *uid = ndx_csv_field(c, cu), *loc = ndx_csv_field(c, cf);
        if (!uid[0] || !loc[0]) continue;
        if (t->n == cap) {
            cap = cap ? 2 * cap : 256;
            series *s = realloc(t->s, cap * sizeof *s);
            if (!s) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
            t->s = s;
        }
        if (loc[0] == '.' && loc[1] == '/') loc += 2;
        series *s = &t->s[t->n];
        s->uid = strdup(uid), s->folder = strdup(loc);
        if (!s->uid || !s->folder) {
            free(s->uid), free(s->folder);
            return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
        }
        for (char *p = s->folder; *p; p++)
            if (*p == '\\') *p = '/';   /* written on Windows */
        t->n++;
    }
    if (got < 0) return (ndx_status)got;
    qsort(t->s, t->n, sizeof *t->s, cmp_series);
    return NDX_OK;
}

ndx_status ndx__tcia_open(const char *dir, ndx__tcia **out)
{
    *out = NULL;
    ndx__tcia *t = calloc(1, sizeof *t);
    char *path = ndx__join(dir, "metadata.csv");
    if (!t || !path) {
        free(t), free(path);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", dir);
    }
    ndx_status st = NDX_OK;
    if (ndx__is_file(path)) {
        ndx_csv *c;
        st = ndx_csv_open(path, &c);
        if (!st) {
            int got = ndx_csv_next(c);
            st = got < 0 ? (ndx_status)got
                 : got == 0 ? ndx__fail(NDX_ERR_FORMAT, "%s: empty file", path)
                            : read_series(c, path, t);
            ndx_csv_close(c);
        }
    }
    free(path);
    if (st) ndx__tcia_free(t);
    else *out = t;
    return st;
}

size_t ndx__tcia_series(const ndx__tcia *t) { return t ? t->n : 0; }

/* dir/rel when it is a file: rel copied (malloc'd), else NULL. */
static char *try_rel(const char *dir, const char *rel)
{
    char *full = ndx__join(dir, rel);
    int ok = full && ndx__is_file(full);
    free(full);
    return ok ? strdup(rel) : NULL;
}

char *ndx__tcia_find(const ndx__tcia *t, const char *dir, const char *p)
{
    if (!p[0]) return NULL;
    char *r = try_rel(dir, p);
    if (r) return r;
    size_t n = strlen(p) + 16;
    char *alt = malloc(n);
    if (!alt) return NULL;
    snprintf(alt, n, "CBIS-DDSM/%s", p);
    r = try_rel(dir, alt);
    free(alt);
    if (r || !t || !t->n) return r;
    /* .../<series uid>/00000k.dcm: the series' folder, file 1-(k+1).dcm */
    const char *file = strrchr(p, '/');
    if (!file || file == p) return NULL;
    const char *s0 = file - 1;
    while (s0 > p && s0[-1] != '/') s0--;
    char uid[128];
    if ((size_t)(file - s0) >= sizeof uid) return NULL;
    memcpy(uid, s0, (size_t)(file - s0));
    uid[file - s0] = 0;
    series key = {uid, NULL};
    const series *s = bsearch(&key, t->s, t->n, sizeof *t->s, cmp_series);
    char *end;
    long k = strtol(file + 1, &end, 10);
    if (!s || end == file + 1 || strcmp(end, ".dcm") || k < 0 || k > 9999) return NULL;
    n = strlen(s->folder) + 32;
    if (!(alt = malloc(n))) return NULL;
    snprintf(alt, n, "%s/1-%ld.dcm", s->folder, k + 1);
    r = try_rel(dir, alt);
    free(alt);
    return r;
}
