/* Reader for the golden files written by tools/gen_golden.py (the format is
 * described at the top of that script): records of "NDXGOLD1", int32 params
 * and float32 tensors, little-endian, until EOF.
 *
 *   gold_file g;
 *   gold_record r;
 *   gold_open(&g, "im2col.gold");          looks in $NDX_TEST_DATA or tests/data
 *   while (gold_next(&g, &r)) {
 *       gold_expect(&g, &r, 11, 2);       params and tensor counts
 *       ... r.p[0], r.t[1].data, r.t[1].n ...
 *       gold_record_free(&r);
 *   }
 *   gold_close(&g);
 *
 * Every failure (missing file, bad magic, truncation, absurd sizes) is a
 * ck_assert_msg naming the file and the record. */
#ifndef NDX_GOLDEN_H
#define NDX_GOLDEN_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLD_MAX_PARAMS 32
#define GOLD_MAX_TENSORS 8
#define GOLD_MAX_DIMS 4

typedef struct gold_tensor {
    int ndim;
    int dims[GOLD_MAX_DIMS];
    size_t n;              /* prod(dims) */
    float *data;           /* malloc'd, n floats */
} gold_tensor;

typedef struct gold_record {
    int np, nt;
    int p[GOLD_MAX_PARAMS];
    gold_tensor t[GOLD_MAX_TENSORS];
} gold_record;

typedef struct gold_file {
    char path[1024];
    unsigned char *buf;    /* the whole file */
    size_t size, pos;
    int index;             /* of the record gold_next() last returned */
} gold_file;

static inline void gold_open(gold_file *g, const char *name)
{
    const char *dir = getenv("NDX_TEST_DATA");
    if (!dir || !*dir) dir = "tests/data";
    int len = snprintf(g->path, sizeof g->path, "%s/%s", dir, name);
    ck_assert_msg(len > 0 && (size_t)len < sizeof g->path,
                  "golden path too long: %s/%s", dir, name);
    FILE *f = fopen(g->path, "rb");
    ck_assert_msg(f != NULL,
                  "cannot open golden file %s (run tools/gen_golden.py, or "
                  "set NDX_TEST_DATA to the directory holding it)", g->path);
    int ok = fseek(f, 0, SEEK_END) == 0;
    long end = ok ? ftell(f) : -1;
    ok = ok && end >= 0 && fseek(f, 0, SEEK_SET) == 0;
    g->size = ok ? (size_t)end : 0;
    g->buf = ok ? malloc(g->size ? g->size : 1) : NULL;
    ok = ok && g->buf && fread(g->buf, 1, g->size, f) == g->size;
    fclose(f);
    ck_assert_msg(ok, "cannot read golden file %s", g->path);
    g->pos = 0;
    g->index = -1;
}

static inline void gold_close(gold_file *g)
{
    free(g->buf);
    g->buf = NULL;
}

/* Next 4 bytes as a little-endian uint32; fails on truncation. */
static inline uint32_t gold__u32(gold_file *g, const char *what)
{
    ck_assert_msg(g->size - g->pos >= 4,
                  "golden file %s: record %d truncated reading %s at byte %zu",
                  g->path, g->index, what, g->pos);
    const unsigned char *b = g->buf + g->pos;
    g->pos += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static inline int gold__int(gold_file *g, const char *what, int lo, int hi)
{
    uint32_t u = gold__u32(g, what);
    int32_t v;
    memcpy(&v, &u, sizeof v);
    ck_assert_msg(v >= lo && v <= hi,
                  "golden file %s: record %d: %s = %d, expected %d..%d",
                  g->path, g->index, what, (int)v, lo, hi);
    return (int)v;
}

/* Reads the next record into r (free it with gold_record_free); returns 0 at
 * a clean end of file. */
static inline int gold_next(gold_file *g, gold_record *r)
{
    memset(r, 0, sizeof *r);
    if (g->pos == g->size) return 0;
    g->index++;
    ck_assert_msg(g->size - g->pos >= 8 && memcmp(g->buf + g->pos, "NDXGOLD1", 8) == 0,
                  "golden file %s: record %d: bad magic or truncated at byte %zu",
                  g->path, g->index, g->pos);
    g->pos += 8;
    r->np = gold__int(g, "nparams", 0, GOLD_MAX_PARAMS);
    for (int i = 0; i < r->np; i++) r->p[i] = gold__int(g, "param", INT32_MIN, INT32_MAX);
    r->nt = gold__int(g, "ntensors", 0, GOLD_MAX_TENSORS);
    for (int k = 0; k < r->nt; k++) {
        gold_tensor *t = &r->t[k];
        t->ndim = gold__int(g, "ndim", 0, GOLD_MAX_DIMS);
        t->n = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->dims[d] = gold__int(g, "dim", 0, 1 << 24);
            t->n *= (size_t)t->dims[d];
        }
        ck_assert_msg((g->size - g->pos) / 4 >= t->n,
                      "golden file %s: record %d truncated in tensor %d (%zu floats)",
                      g->path, g->index, k, t->n);
        t->data = malloc((t->n ? t->n : 1) * sizeof *t->data);
        ck_assert_ptr_nonnull(t->data);
        for (size_t i = 0; i < t->n; i++) {
            uint32_t u = gold__u32(g, "data");
            memcpy(&t->data[i], &u, sizeof u);
        }
    }
    return 1;
}

static inline void gold_record_free(gold_record *r)
{
    for (int k = 0; k < r->nt; k++) free(r->t[k].data);
    memset(r, 0, sizeof *r);
}

/* Fails unless the record has exactly np params and nt tensors. */
static inline void gold_expect(const gold_file *g, const gold_record *r,
                               int np, int nt)
{
    ck_assert_msg(r->np == np && r->nt == nt,
                  "golden file %s: record %d has %d params and %d tensors, "
                  "expected %d and %d", g->path, g->index, r->np, r->nt, np, nt);
}

/* Fails unless tensor k of the record holds n floats. */
static inline void gold_expect_n(const gold_file *g, const gold_record *r,
                                 int k, size_t n)
{
    ck_assert_msg(r->t[k].n == n,
                  "golden file %s: record %d: tensor %d has %zu floats, "
                  "expected %zu", g->path, g->index, k, r->t[k].n, n);
}

#endif
