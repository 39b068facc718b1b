/* Shared by the dissection's Check suites (check_dissect.c,
 * check_dissect_files.c): a small data set kept whole (U units of H x W
 * maps, NM mask kinds of MH x MW, top K), fed to states in shuffled batches;
 * the naive reference that stores every map (scores, thresholds, IoU) and
 * checks a state's top-k against it; two states compared field by field;
 * a scratch folder.  Header-only; include once per program. */
#ifndef NDX_DISSECT_FIXTURE_H
#define NDX_DISSECT_FIXTURE_H

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels.h"
#include "netdx_dissect.h"
#include "testutil.h"

enum { U = 5, H = 4, W = 3, HW = H * W, MH = 11, MW = 9, NM = 6, K = 8 };

/* A small data set kept whole: the naive reference's view. */
typedef struct data {
    int n;
    float *maps;       /* n x U x H x W */
    int64_t *ids;
    uint8_t *labels;
    uint8_t *mask;     /* n x NM x MH x MW */
    uint8_t *has;      /* n x NM: mask present */
    const uint8_t **ptr; /* n x NM pointers (NULL where absent) */
} data;

/* Values with ties (multiples of 1/8, repeated maps), zeros (ReLU), a wide
 * range and a few negatives; ids unique and shuffled; masks random
 * rectangles or absent. */
static inline data make_data(int n, uint64_t seed)
{
    data d = {n, malloc(sizeof(float) * n * U * HW), malloc(sizeof(int64_t) * n),
              malloc(n), malloc((size_t)n * NM * MH * MW), malloc((size_t)n * NM),
              malloc(sizeof(uint8_t *) * n * NM)};
    uint64_t s = seed;
    for (int i = 0; i < n; i++) d.ids[i] = 1000 + 7 * i;
    for (int i = n - 1; i > 0; i--) {
        int j = tu_int(&s, 0, i);
        int64_t t = d.ids[i];
        d.ids[i] = d.ids[j];
        d.ids[j] = t;
    }
    for (size_t j = 0; j < (size_t)n * U * HW; j++) {
        float v = tu_uniform(&s);
        const int kind = tu_int(&s, 0, 9);
        if (kind < 3) v = 0;                                   /* ReLU zeros */
        else if (kind < 6) v = (float)((int)((v + 1) * 16)) / 8; /* ties */
        else if (kind < 9) v = expf(6 * v);                    /* wide range */
        else v = -expf(3 * v);                                 /* negatives */
        d.maps[j] = v;
    }
    /* a third of the patches repeat an earlier patch's maps: equal scores
     * under different ids, at every rank */
    for (int i = 1; i < n; i++)
        if (tu_int(&s, 0, 2) == 0)
            memcpy(d.maps + (size_t)i * U * HW, d.maps + (size_t)tu_int(&s, 0, i - 1) * U * HW,
                   sizeof(float) * U * HW);
    memset(d.mask, 0, (size_t)n * NM * MH * MW);
    for (int i = 0; i < n; i++) {
        d.labels[i] = tu_int(&s, 0, 2) == 0;
        for (int m = 0; m < NM; m++) {
            const int has = i % 4 != 0 && tu_int(&s, 0, 2) != 0;   /* every 4th: none */
            d.has[i * NM + m] = (uint8_t)has;
            uint8_t *mk = d.mask + ((size_t)i * NM + m) * MH * MW;
            d.ptr[i * NM + m] = has ? mk : NULL;
            if (!has) continue;
            int y0 = tu_int(&s, 0, MH - 1), y1 = tu_int(&s, y0, MH - 1);
            int x0 = tu_int(&s, 0, MW - 1), x1 = tu_int(&s, x0, MW - 1);
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++) mk[y * MW + x] = (uint8_t)(1 + tu_int(&s, 0, 200));
        }
    }
    return d;
}

static inline void free_data(data *d)
{
    free(d->maps);
    free(d->ids);
    free(d->labels);
    free(d->mask);
    free(d->has);
    free(d->ptr);
}

static inline ndx_dissect_batch batch_of(const data *d, int first, int n)
{
    ndx_dissect_batch b = {n, d->maps + (size_t)first * U * HW, d->ids + first, d->labels + first,
                           MH, MW, d->ptr + (size_t)first * NM};
    return b;
}

/* Feeds patches [first, last) in batches of varying size. */
static inline void feed(ndx_dissect *st, const data *d, int first, int last, int what,
                        uint64_t seed)
{
    uint64_t s = seed;
    for (int i = first; i < last;) {
        int n = tu_int(&s, 1, 9);
        if (i + n > last) n = last - i;
        ndx_dissect_batch b = batch_of(d, i, n);
        ck_assert_msg(ndx_dissect_add(st, &b, what) == NDX_OK, "%s", ndx_last_error());
        i += n;
    }
}

static inline ndx_dissect *new_state(ndx_dissect_mode mode, double q, const float *fixed)
{
    ndx_dissect_config c = {.layer = "conv5", .units = U, .h = H, .w = W, .topk = K,
                            .mode = mode, .quantile = q, .fixed = fixed};
    ndx_dissect *st = NULL;
    ck_assert_msg(ndx_dissect_new(&c, &st) == NDX_OK, "%s", ndx_last_error());
    return st;
}

/* ---- the naive reference ---------------------------------------------- */
static inline float ref_score(const data *d, int i, int u, int *arg)
{
    const float *m = d->maps + ((size_t)i * U + u) * HW;
    float b = m[0];
    *arg = 0;
    for (int j = 1; j < HW; j++)
        if (m[j] > b) b = m[j], *arg = j;
    return b;
}

static inline int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static inline float ref_threshold(const data *d, int first, int last, int u, double q)
{
    const int cnt = (last - first) * HW;
    float *v = malloc(sizeof(float) * cnt);
    for (int i = first; i < last; i++)
        memcpy(v + (size_t)(i - first) * HW, d->maps + ((size_t)i * U + u) * HW, sizeof(float) * HW);
    qsort(v, cnt, sizeof *v, cmp_desc);
    double r = ceil(q * cnt);
    if (r < 1) r = 1;
    float t = v[(int)r - 1];
    free(v);
    return t;
}

/* IoU counts as Network Dissection sums them: map upsampled by the bilinear
 * oracle, > t, against each mask (absent = empty). */
static inline void ref_iou(const data *d, int first, int last, int u, float t, int ac,
                           uint64_t *inter, uint64_t *uni)
{
    float up[MH * MW];
    memset(inter, 0, sizeof(uint64_t) * NM);
    memset(uni, 0, sizeof(uint64_t) * NM);
    for (int i = first; i < last; i++) {
        ndx_f32_bilinear__ref(1, H, W, MH, MW, ac, d->maps + ((size_t)i * U + u) * HW, up);
        for (int m = 0; m < NM; m++) {
            const uint8_t *mk = d->ptr[i * NM + m];
            for (int j = 0; j < MH * MW; j++) {
                const int a = up[j] > t, b = mk && mk[j];
                inter[m] += a && b;
                uni[m] += a || b;
            }
        }
    }
}

static inline void check_topk(const ndx_dissect *st, const data *d, int first, int last)
{
    ndx_dissect_top top[K];
    for (int u = 0; u < U; u++) {
        /* the naive top-k: every patch scored, sorted by (score desc, id asc) */
        int idx[512], n = last - first;
        float sc[512];
        int arg[512];
        for (int i = 0; i < n; i++) {
            idx[i] = first + i;
            sc[i] = ref_score(d, first + i, u, &arg[i]);
        }
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0; j--) {
                const int a = j - 1, b = j;
                const int swap = sc[b] > sc[a] || (sc[b] == sc[a] && d->ids[idx[b]] < d->ids[idx[a]]);
                if (!swap) break;
                float ts = sc[a]; sc[a] = sc[b]; sc[b] = ts;
                int ti = idx[a]; idx[a] = idx[b]; idx[b] = ti;
                ti = arg[a]; arg[a] = arg[b]; arg[b] = ti;
            }
        int got = -1;
        ck_assert_int_eq(ndx_dissect_unit_top(st, u, top, &got), NDX_OK);
        ck_assert_int_eq(got, n < K ? n : K);
        int pos = 0;
        for (int j = 0; j < got; j++) {
            ck_assert_msg(top[j].id == d->ids[idx[j]], "unit %d rank %d: id %lld, want %lld", u, j,
                          (long long)top[j].id, (long long)d->ids[idx[j]]);
            ck_assert(top[j].score == sc[j]);
            ck_assert_int_eq(top[j].argmax, arg[j]);
            ck_assert_int_eq(top[j].label, d->labels[idx[j]]);
            ck_assert(!memcmp(top[j].map, d->maps + ((size_t)idx[j] * U + u) * HW, sizeof(float) * HW));
            pos += d->labels[idx[j]];
        }
        ndx_dissect_unit info;
        ck_assert_int_eq(ndx_dissect_unit_info(st, u, &info), NDX_OK);
        ck_assert(info.max_score == sc[0]);
        double mean = 0;
        for (int i = 0; i < n; i++) mean += sc[i];
        mean /= n;
        ck_assert(fabs(info.mean_score - mean) <= 1e-5 * fabs(mean) + 1e-6);
        ck_assert(fabs(info.positive_fraction - (double)pos / got) < 1e-12);
    }
}

static inline void assert_same(const ndx_dissect *a, const ndx_dissect *b)
{
    ck_assert_uint_eq(ndx_dissect_patches(a, 0), ndx_dissect_patches(b, 0));
    ck_assert_uint_eq(ndx_dissect_patches(a, 1), ndx_dissect_patches(b, 1));
    for (int u = 0; u < U; u++) {
        ndx_dissect_unit x, y;
        ndx_dissect_unit_info(a, u, &x);
        ndx_dissect_unit_info(b, u, &y);
        ck_assert(x.max_score == y.max_score);
        ck_assert(fabs(x.mean_score - y.mean_score) <= 1e-6 * fabs(y.mean_score));
        ck_assert(x.quantile_threshold == y.quantile_threshold);
        ck_assert(x.threshold == y.threshold || (isnan(x.threshold) && isnan(y.threshold)));
        ck_assert(!memcmp(x.inter, y.inter, sizeof x.inter));
        ck_assert(!memcmp(x.uni, y.uni, sizeof x.uni));
        ck_assert(x.positive_fraction == y.positive_fraction);
        ndx_dissect_top ta[K], tb[K];
        int na, nb;
        ndx_dissect_unit_top(a, u, ta, &na);
        ndx_dissect_unit_top(b, u, tb, &nb);
        ck_assert_int_eq(na, nb);
        for (int j = 0; j < na; j++) {
            ck_assert(ta[j].id == tb[j].id && ta[j].score == tb[j].score);
            ck_assert(!memcmp(ta[j].map, tb[j].map, sizeof(float) * HW));
        }
    }
}

/* The scratch folder of the test running (mk_tmpdir, rm_tmpdir). */
static char tmpdir[256];
static inline void mk_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/ndx_check_dissect_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}
static inline void rm_tmpdir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

#endif
