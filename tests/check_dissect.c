/* Dissection suite: the streaming state against a naive reference that
 * stores every map (top-k sets and scores, thresholds within the sketch's
 * bound, IoU with an exact threshold), batch-order independence, merging
 * shards, the state file (round trip, corrupt and truncated files), memory
 * independent of the number of patches, and the outputs. */
#include <cjson/cJSON.h>
#include <png.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
static data make_data(int n, uint64_t seed)
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

static void free_data(data *d)
{
    free(d->maps);
    free(d->ids);
    free(d->labels);
    free(d->mask);
    free(d->has);
    free(d->ptr);
}

static ndx_dissect_batch batch_of(const data *d, int first, int n)
{
    ndx_dissect_batch b = {n, d->maps + (size_t)first * U * HW, d->ids + first, d->labels + first,
                           MH, MW, d->ptr + (size_t)first * NM};
    return b;
}

/* Feeds patches [first, last) in batches of varying size. */
static void feed(ndx_dissect *st, const data *d, int first, int last, int what, uint64_t seed)
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

static ndx_dissect *new_state(ndx_dissect_mode mode, double q, const float *fixed)
{
    ndx_dissect_config c = {.layer = "conv5", .units = U, .h = H, .w = W, .topk = K,
                            .mode = mode, .quantile = q, .fixed = fixed};
    ndx_dissect *st = NULL;
    ck_assert_msg(ndx_dissect_new(&c, &st) == NDX_OK, "%s", ndx_last_error());
    return st;
}

/* ---- the naive reference ---------------------------------------------- */
static float ref_score(const data *d, int i, int u, int *arg)
{
    const float *m = d->maps + ((size_t)i * U + u) * HW;
    float b = m[0];
    *arg = 0;
    for (int j = 1; j < HW; j++)
        if (m[j] > b) b = m[j], *arg = j;
    return b;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static float ref_threshold(const data *d, int first, int last, int u, double q)
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
static void ref_iou(const data *d, int first, int last, int u, float t, int ac, uint64_t *inter,
                    uint64_t *uni)
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

static void check_topk(const ndx_dissect *st, const data *d, int first, int last)
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

/* ---- tests ---------------------------------------------------------------- */
START_TEST(test_topk_matches_reference)
{
    data d = make_data(97, 1);
    ndx_dissect *a = new_state(NDX_THRESHOLD_QUANTILE, 0, NULL);
    feed(a, &d, 0, d.n, NDX_DISSECT_STATS, 11);
    check_topk(a, &d, 0, d.n);
    ck_assert_uint_eq(ndx_dissect_patches(a, 0), 97);

    /* batch order and batching do not matter: the patches reversed, one by one */
    ndx_dissect *b = new_state(NDX_THRESHOLD_QUANTILE, 0, NULL);
    for (int i = d.n - 1; i >= 0; i--) {
        ndx_dissect_batch bt = batch_of(&d, i, 1);
        ck_assert_int_eq(ndx_dissect_add(b, &bt, NDX_DISSECT_STATS), NDX_OK);
    }
    check_topk(b, &d, 0, d.n);
    /* a single thread gives the same */
    const int nt = ndx_get_threads();
    ndx_set_threads(1);
    ndx_dissect *c = new_state(NDX_THRESHOLD_QUANTILE, 0, NULL);
    feed(c, &d, 0, d.n, NDX_DISSECT_STATS, 12);
    ndx_set_threads(nt);
    check_topk(c, &d, 0, d.n);
    ndx_dissect_free(a);
    ndx_dissect_free(b);
    ndx_dissect_free(c);
    free_data(&d);
}
END_TEST

START_TEST(test_quantile_within_bound)
{
    data d = make_data(150, 2);
    const double qs[] = {0.005, 0.05, 0.3};
    for (int qi = 0; qi < 3; qi++) {
        ndx_dissect *st = new_state(NDX_THRESHOLD_QUANTILE, qs[qi], NULL);
        feed(st, &d, 0, d.n, NDX_DISSECT_STATS, 3);
        ck_assert_int_eq(ndx_dissect_set_thresholds(st, NULL), NDX_OK);
        for (int u = 0; u < U; u++) {
            ndx_dissect_unit info;
            ndx_dissect_unit_info(st, u, &info);
            const float want = ref_threshold(&d, 0, d.n, u, qs[qi]);
            /* a bin edge at or below: T < T_exact, T_exact - T < |T_exact| / 32;
             * T_exact 0 (|T_exact| < 2^-20): T just below 2^-20 */
            const double bound = ldexp(fabs(want), -5);
            if (fabs(want) < ldexp(1, -20))
                ck_assert(info.threshold == nextafterf(0x1p-20f, 0));
            else
                ck_assert_msg(info.threshold < want && want - info.threshold <= bound,
                              "q %g unit %d: %.9g vs exact %.9g", qs[qi], u, info.threshold, want);
            ck_assert(info.threshold == info.quantile_threshold);
        }
        ndx_dissect_free(st);
    }
    free_data(&d);
}
END_TEST

/* Exact thresholds given: IoU counts equal the reference's, in one pass. */
START_TEST(test_iou_fixed_threshold)
{
    data d = make_data(60, 3);
    float t[U];
    for (int u = 0; u < U; u++) t[u] = ref_threshold(&d, 0, d.n, u, 0.1);
    ndx_dissect *st = new_state(NDX_THRESHOLD_FIXED, 0, t);
    feed(st, &d, 0, d.n, NDX_DISSECT_STATS | NDX_DISSECT_IOU, 4);
    check_topk(st, &d, 0, d.n);
    int nonzero = 0;
    for (int u = 0; u < U; u++) {
        uint64_t in[NM], un[NM];
        ref_iou(&d, 0, d.n, u, t[u], 0, in, un);
        ndx_dissect_unit info;
        ndx_dissect_unit_info(st, u, &info);
        ck_assert(info.threshold == t[u]);
        for (int m = 0; m < NM; m++) {
            ck_assert_uint_eq(info.inter[m], in[m]);
            ck_assert_uint_eq(info.uni[m], un[m]);
            const double want = un[m] ? (double)in[m] / un[m] : 0;
            ck_assert(fabs(info.iou[m] - want) <= 1e-6 * want);
            nonzero += in[m] > 0;
        }
        ck_assert_int_ge(info.best_mask, 0);
        for (int m = 0; m < NM; m++) ck_assert(info.iou[m] <= info.iou[info.best_mask]);
    }
    ck_assert_int_gt(nonzero, 0);
    ndx_dissect_free(st);
    free_data(&d);
}
END_TEST

/* Two passes: statistics, thresholds from the sketch (or relative), IoU. */
START_TEST(test_iou_two_pass)
{
    data d = make_data(80, 4);
    for (int mode = 0; mode < 2; mode++) {
        ndx_dissect *st = new_state((ndx_dissect_mode)mode, 0.02, NULL);
        feed(st, &d, 0, d.n, NDX_DISSECT_STATS, 5);
        ndx_dissect_batch b = batch_of(&d, 0, 4);
        ck_assert_int_eq(ndx_dissect_add(st, &b, NDX_DISSECT_IOU), NDX_ERR_INVALID);
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), "thresholds"));
        ck_assert_int_eq(ndx_dissect_set_thresholds(st, NULL), NDX_OK);
        feed(st, &d, 0, d.n, NDX_DISSECT_IOU, 6);
        ck_assert_uint_eq(ndx_dissect_patches(st, 1), 80);
        ck_assert_int_eq(ndx_dissect_set_thresholds(st, NULL), NDX_ERR_INVALID);
        for (int u = 0; u < U; u++) {
            ndx_dissect_unit info;
            ndx_dissect_unit_info(st, u, &info);
            if (mode == NDX_THRESHOLD_RELATIVE) {
                const double want = 0.2 * info.max_score;
                ck_assert(info.threshold < want &&
                          want - info.threshold <= ldexp(fabs(want), -5) + ldexp(1, -19));
            }
            uint64_t in[NM], un[NM];
            ref_iou(&d, 0, d.n, u, info.threshold, 0, in, un);
            for (int m = 0; m < NM; m++) {
                ck_assert_uint_eq(info.inter[m], in[m]);
                ck_assert_uint_eq(info.uni[m], un[m]);
            }
        }
        ndx_dissect_free(st);
    }
    free_data(&d);
}
END_TEST

static ndx_dissect *new_one_pass(ndx_dissect_mode mode, double q, int warmup)
{
    ndx_dissect_config c = {.layer = "conv5", .units = U, .h = H, .w = W, .topk = K,
                            .mode = mode, .quantile = q, .warmup = warmup};
    ndx_dissect *st = NULL;
    ck_assert_msg(ndx_dissect_new(&c, &st) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(ndx_dissect_warmup(st), warmup);
    return st;
}

/* IoU counts and thresholds of st equal the reference's at st's thresholds
 * and two's thresholds (a two-pass state over the same patches). */
static int check_iou(const ndx_dissect *st, const ndx_dissect *two, const data *d)
{
    int nonzero = 0;
    for (int u = 0; u < U; u++) {
        ndx_dissect_unit info, t2;
        ndx_dissect_unit_info(st, u, &info);
        ndx_dissect_unit_info(two, u, &t2);
        ck_assert_msg(info.threshold == t2.threshold, "unit %d: %.9g vs %.9g", u, info.threshold,
                      t2.threshold);
        uint64_t in[NM], un[NM];
        ref_iou(d, 0, d->n, u, info.threshold, 0, in, un);
        for (int m = 0; m < NM; m++) {
            ck_assert_msg(info.inter[m] == in[m] && info.uni[m] == un[m],
                          "unit %d mask %d: %llu/%llu vs %llu/%llu", u, m,
                          (unsigned long long)info.inter[m], (unsigned long long)info.uni[m],
                          (unsigned long long)in[m], (unsigned long long)un[m]);
            nonzero += in[m] > 0;
        }
    }
    return nonzero;
}

/* One pass (STATS | IOU, then finish) gives the two-pass thresholds and the
 * reference's IoU at them, in both modes, whether the windows open during the
 * feed or at finish (warm-up longer than the data). */
START_TEST(test_iou_one_pass)
{
    data d = make_data(80, 14);
    const int warm[] = {8, 20, 200};
    for (int mode = 0; mode < 2; mode++)
        for (int wi = 0; wi < 3; wi++) {
            ndx_dissect *one = new_one_pass((ndx_dissect_mode)mode, 0.02, warm[wi]);
            ndx_dissect *two = new_one_pass((ndx_dissect_mode)mode, 0.02, warm[wi]);
            feed(one, &d, 0, d.n, NDX_DISSECT_STATS | NDX_DISSECT_IOU, 20 + wi);
            /* no thresholds before finish; set_thresholds refuses meanwhile */
            ndx_dissect_unit info;
            ndx_dissect_unit_info(one, 0, &info);
            ck_assert(isnan(info.threshold));
            ck_assert_int_eq(ndx_dissect_set_thresholds(one, NULL), NDX_ERR_INVALID);
            /* a patch fed to the statistics alone would be missing from the IoU */
            ndx_dissect_batch lone = batch_of(&d, 0, 1);
            ck_assert_int_eq(ndx_dissect_add(one, &lone, NDX_DISSECT_STATS), NDX_ERR_INVALID);
            int missed = -1;
            ck_assert_msg(ndx_dissect_finish(one, &missed) == NDX_OK, "%s", ndx_last_error());
            ck_assert_int_eq(missed, 0);
            ck_assert_uint_eq(ndx_dissect_patches(one, 1), d.n);
            feed(two, &d, 0, d.n, NDX_DISSECT_STATS, 30 + wi);
            ck_assert_int_eq(ndx_dissect_set_thresholds(two, NULL), NDX_OK);
            ck_assert_int_gt(check_iou(one, two, &d), 0);
            check_topk(one, &d, 0, d.n);
            /* finish again changes nothing */
            ck_assert_int_eq(ndx_dissect_finish(one, &missed), NDX_OK);
            ck_assert_int_eq(missed, 0);
            check_iou(one, two, &d);
            ndx_dissect_free(one);
            ndx_dissect_free(two);
        }
    free_data(&d);
}
END_TEST

/* A warm-up unlike the rest (scaled up 2^12) puts the windows above the final
 * thresholds: finish reports the units missed, the second IoU pass at the
 * thresholds it set gives the reference's counts. */
START_TEST(test_one_pass_window_missed)
{
    data d = make_data(60, 15);
    for (size_t j = 0; j < (size_t)8 * U * HW; j++) d.maps[j] *= 4096;
    ndx_dissect *st = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.05, 8);
    ndx_dissect *two = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.05, 8);
    feed(st, &d, 0, d.n, NDX_DISSECT_STATS | NDX_DISSECT_IOU, 40);
    int missed = -1;
    ck_assert_int_eq(ndx_dissect_finish(st, &missed), NDX_OK);
    ck_assert_int_gt(missed, 0);
    ck_assert_uint_eq(ndx_dissect_patches(st, 1), 0);
    feed(st, &d, 0, d.n, NDX_DISSECT_IOU, 41);
    feed(two, &d, 0, d.n, NDX_DISSECT_STATS, 42);
    ck_assert_int_eq(ndx_dissect_set_thresholds(two, NULL), NDX_OK);
    ck_assert_int_gt(check_iou(st, two, &d), 0);
    ndx_dissect_free(st);
    ndx_dissect_free(two);
    free_data(&d);
}
END_TEST

static void assert_same(const ndx_dissect *a, const ndx_dissect *b)
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

START_TEST(test_merge_equals_one_run)
{
    data d = make_data(90, 5);
    const int cut = 37;
    ndx_dissect *all = new_state(NDX_THRESHOLD_QUANTILE, 0.01, NULL);
    ndx_dissect *a = new_state(NDX_THRESHOLD_QUANTILE, 0.01, NULL);
    ndx_dissect *b = new_state(NDX_THRESHOLD_QUANTILE, 0.01, NULL);
    feed(all, &d, 0, d.n, NDX_DISSECT_STATS, 7);
    feed(a, &d, 0, cut, NDX_DISSECT_STATS, 8);
    feed(b, &d, cut, d.n, NDX_DISSECT_STATS, 9);
    /* pass 1 merged: thresholds from the merged sketch */
    ndx_dissect *m = new_state(NDX_THRESHOLD_QUANTILE, 0.01, NULL);
    ck_assert_int_eq(ndx_dissect_merge(m, a), NDX_OK);
    ck_assert_int_eq(ndx_dissect_merge(m, b), NDX_OK);
    assert_same(m, all);
    ck_assert_int_eq(ndx_dissect_set_thresholds(m, NULL), NDX_OK);
    ck_assert_int_eq(ndx_dissect_set_thresholds(all, NULL), NDX_OK);
    float t[U];
    for (int u = 0; u < U; u++) {
        ndx_dissect_unit x, y;
        ndx_dissect_unit_info(m, u, &x);
        ndx_dissect_unit_info(all, u, &y);
        ck_assert(x.threshold == y.threshold);
        t[u] = x.threshold;
    }
    /* shards with different thresholds refuse to merge */
    ndx_dissect *m2 = new_state(NDX_THRESHOLD_QUANTILE, 0.01, NULL);
    ck_assert_int_eq(ndx_dissect_merge(m2, m), NDX_ERR_INVALID);
    ndx_dissect_free(m2);
    /* pass 2 on each shard with the merged thresholds, then merge */
    ck_assert_int_eq(ndx_dissect_set_thresholds(a, t), NDX_OK);
    ck_assert_int_eq(ndx_dissect_set_thresholds(b, t), NDX_OK);
    feed(all, &d, 0, d.n, NDX_DISSECT_IOU, 10);
    feed(a, &d, 0, cut, NDX_DISSECT_IOU, 11);
    feed(b, &d, cut, d.n, NDX_DISSECT_IOU, 12);
    ck_assert_int_eq(ndx_dissect_merge(a, b), NDX_OK);
    assert_same(a, all);
    /* a different configuration refuses */
    ndx_dissect_config c = {.layer = "conv4", .units = U, .h = H, .w = W, .topk = K};
    ndx_dissect *other;
    ck_assert_int_eq(ndx_dissect_new(&c, &other), NDX_OK);
    ck_assert_int_eq(ndx_dissect_merge(other, b), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "conv4"));
    ndx_dissect_free(other);
    ndx_dissect_free(all);
    ndx_dissect_free(a);
    ndx_dissect_free(b);
    ndx_dissect_free(m);
    free_data(&d);
}
END_TEST

static char tmpdir[256];
static void mk_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/ndx_check_dissect_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}
static void rm_tmpdir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static void write_bytes(const char *p, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

START_TEST(test_state_file)
{
    mk_tmpdir();
    data d = make_data(50, 6);
    float t[U] = {0.5f, 1, 2, 0.25f, 3};
    ndx_dissect *st = new_state(NDX_THRESHOLD_FIXED, 0, t);
    feed(st, &d, 0, d.n, NDX_DISSECT_STATS | NDX_DISSECT_IOU, 13);
    char path[400], bad[400];
    snprintf(path, sizeof path, "%s/conv5.state", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.state", tmpdir);
    ck_assert_msg(ndx_dissect_save(st, path) == NDX_OK, "%s", ndx_last_error());
    ndx_dissect *back = NULL;
    ck_assert_msg(ndx_dissect_load(path, &back) == NDX_OK, "%s", ndx_last_error());
    assert_same(back, st);
    ck_assert_str_eq(ndx_dissect_layer(back), "conv5");
    ck_assert_str_eq(ndx_dissect_mask_name(back, 1), "calcification");
    /* a loaded shard merges like the live one */
    ck_assert_int_eq(ndx_dissect_set_thresholds(back, t), NDX_ERR_INVALID);   /* IoU present */
    ndx_dissect_free(back);

    /* only the file itself in the directory: no temporary left */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", tmpdir);
    ck_assert_int_eq(system(cmd), 0);

    const long size = file_size(path);
    ck_assert_int_gt(size, 1000);
    unsigned char *buf = malloc(size);
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(buf, 1, size, f), (size_t)size);
    fclose(f);

    /* one flipped byte in the middle: checksum */
    buf[size / 2] ^= 0x40;
    write_bytes(bad, buf, size);
    back = NULL;
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "checksum"));
    buf[size / 2] ^= 0x40;
    /* truncated, at several places */
    const long cuts[] = {size - 1, size - 9, size / 2, 400, 20, 3, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        write_bytes(bad, buf, cuts[i]);
        ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
        ck_assert_msg(strstr(ndx_last_error(), "truncated") || strstr(ndx_last_error(), "magic"),
                      "cut at %ld: %s", cuts[i], ndx_last_error());
    }
    /* trailing garbage */
    unsigned char *big = malloc(size + 1);
    memcpy(big, buf, size);
    big[size] = 0;
    write_bytes(bad, big, size + 1);
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
    free(big);
    /* a header field changed: units (caught by size, before allocating) */
    int32_t units = 60000;
    memcpy(buf + 16 + 64 + 8 * 32, &units, 4);
    write_bytes(bad, buf, size);
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "header promises"));
    /* other magic */
    memcpy(buf, "NOTDISS", 8);
    write_bytes(bad, buf, size);
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "magic"));
    /* missing file */
    snprintf(bad, sizeof bad, "%s/none.state", tmpdir);
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "none.state"));
    /* an unwritable place leaves nothing behind */
    snprintf(bad, sizeof bad, "%s/no/such/dir.state", tmpdir);
    ck_assert_int_eq(ndx_dissect_save(st, bad), NDX_ERR_IO);
    free(buf);
    ndx_dissect_free(st);
    free_data(&d);
    rm_tmpdir();
}
END_TEST

/* Shards saved and loaded, then merged, equal one run. */
START_TEST(test_merge_from_files)
{
    mk_tmpdir();
    data d = make_data(70, 7);
    float t[U] = {0.5f, 1, 2, 0.25f, 3};
    ndx_dissect *all = new_state(NDX_THRESHOLD_FIXED, 0, t);
    ndx_dissect *a = new_state(NDX_THRESHOLD_FIXED, 0, t);
    ndx_dissect *b = new_state(NDX_THRESHOLD_FIXED, 0, t);
    feed(all, &d, 0, d.n, 3, 1);
    feed(a, &d, 0, 20, 3, 2);
    feed(b, &d, 20, d.n, 3, 3);
    char pa[400], pb[400];
    snprintf(pa, sizeof pa, "%s/a.state", tmpdir);
    snprintf(pb, sizeof pb, "%s/b.state", tmpdir);
    ck_assert_int_eq(ndx_dissect_save(a, pa), NDX_OK);
    ck_assert_int_eq(ndx_dissect_save(b, pb), NDX_OK);
    ndx_dissect *la, *lb;
    ck_assert_int_eq(ndx_dissect_load(pa, &la), NDX_OK);
    ck_assert_int_eq(ndx_dissect_load(pb, &lb), NDX_OK);
    ck_assert_int_eq(ndx_dissect_merge(la, lb), NDX_OK);
    assert_same(la, all);
    check_topk(la, &d, 0, d.n);
    ndx_dissect_free(all);
    ndx_dissect_free(a);
    ndx_dissect_free(b);
    ndx_dissect_free(la);
    ndx_dissect_free(lb);
    free_data(&d);
    rm_tmpdir();
}
END_TEST

/* One-pass shards (their windows differ: different warm-up samples), saved,
 * loaded and merged, then finished: as one run over all patches. */
START_TEST(test_merge_one_pass)
{
    mk_tmpdir();
    data d = make_data(90, 16);
    const int cut = 37;
    ndx_dissect *all = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.01, 8);
    ndx_dissect *a = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.01, 8);
    ndx_dissect *b = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.01, 8);
    feed(all, &d, 0, d.n, 3, 50);
    feed(a, &d, 0, cut, 3, 51);
    feed(b, &d, cut, d.n, 3, 52);
    int missed;
    char pa[400], pb[400];
    snprintf(pa, sizeof pa, "%s/a.state", tmpdir);
    snprintf(pb, sizeof pb, "%s/b.state", tmpdir);
    /* a state whose windows have not opened yet (warm-up 200) cannot be saved */
    ndx_dissect *early = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.01, 200);
    feed(early, &d, 0, 20, 3, 54);
    ck_assert_int_eq(ndx_dissect_save(early, pa), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "finish"));
    ck_assert_int_eq(ndx_dissect_merge(a, early), NDX_ERR_INVALID);
    ndx_dissect_free(early);
    ck_assert_int_eq(ndx_dissect_finish(all, &missed), NDX_OK);
    ck_assert_int_eq(missed, 0);
    ck_assert_int_eq(ndx_dissect_finish(a, &missed), NDX_OK);
    ck_assert_int_eq(ndx_dissect_finish(b, &missed), NDX_OK);
    ck_assert_int_eq(ndx_dissect_save(a, pa), NDX_OK);
    ck_assert_int_eq(ndx_dissect_save(b, pb), NDX_OK);
    ndx_dissect *la, *lb;
    ck_assert_msg(ndx_dissect_load(pa, &la) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(ndx_dissect_load(pb, &lb), NDX_OK);
    assert_same(la, a);
    /* into a fresh state, then the second shard */
    ndx_dissect *m = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.01, 8);
    ck_assert_int_eq(ndx_dissect_merge(m, la), NDX_OK);
    ck_assert_int_eq(ndx_dissect_merge(m, lb), NDX_OK);
    ck_assert_int_eq(ndx_dissect_finish(m, &missed), NDX_OK);
    ck_assert_int_eq(missed, 0);
    assert_same(m, all);
    check_topk(m, &d, 0, d.n);
    /* shard into shard */
    ck_assert_int_eq(ndx_dissect_merge(la, lb), NDX_OK);
    ck_assert_int_eq(ndx_dissect_finish(la, &missed), NDX_OK);
    assert_same(la, all);
    /* one-pass windows and IoU at given thresholds do not mix */
    float t[U] = {0.5f, 1, 2, 0.25f, 3};
    ndx_dissect *f = new_state(NDX_THRESHOLD_FIXED, 0.01, t);
    feed(f, &d, 0, cut, 3, 53);
    ck_assert_int_eq(ndx_dissect_merge(f, lb), NDX_ERR_INVALID);
    ndx_dissect_free(f);
    ndx_dissect_free(all);
    ndx_dissect_free(a);
    ndx_dissect_free(b);
    ndx_dissect_free(la);
    ndx_dissect_free(lb);
    ndx_dissect_free(m);
    free_data(&d);
    rm_tmpdir();
}
END_TEST

START_TEST(test_memory_independent_of_patches)
{
    data d = make_data(400, 8);
    float t[U] = {0.5f, 1, 2, 0.25f, 3};
    ndx_dissect *small = new_state(NDX_THRESHOLD_FIXED, 0, t);
    ndx_dissect *large = new_state(NDX_THRESHOLD_FIXED, 0, t);
    for (int i = 0; i < 400; i += 8) {   /* the same batch size for both */
        ndx_dissect_batch b = batch_of(&d, i, 8);
        if (i < 40) ck_assert_int_eq(ndx_dissect_add(small, &b, 3), NDX_OK);
        ck_assert_int_eq(ndx_dissect_add(large, &b, 3), NDX_OK);
    }
    ck_assert_uint_eq(ndx_dissect_patches(large, 0), 10 * ndx_dissect_patches(small, 0));
    ck_assert_uint_eq(ndx_dissect_bytes(small), ndx_dissect_bytes(large));
    /* the state is O(U x k x h x w) plus the sketches, plus a workspace of
     * the mask size and the batch size */
    const size_t bound = (size_t)U * K * (HW * 4 + 64) + (size_t)U * NDX_DISSECT_SKETCH_BINS * 8 +
                         (size_t)MH * MW + 8 * NM * 8 + 64 * 1024;
    ck_assert_uint_le(ndx_dissect_bytes(large), bound);
    ndx_dissect_free(small);
    ndx_dissect_free(large);
    /* one pass: the windows add U x (1 + masks) x 256 counters; the warm-up
     * buffer (8 patches here) is gone once the windows open */
    small = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.01, 8);
    large = new_one_pass(NDX_THRESHOLD_QUANTILE, 0.01, 8);
    for (int i = 0; i < 400; i += 8) {
        ndx_dissect_batch b = batch_of(&d, i, 8);
        if (i < 40) ck_assert_int_eq(ndx_dissect_add(small, &b, 3), NDX_OK);
        ck_assert_int_eq(ndx_dissect_add(large, &b, 3), NDX_OK);
    }
    ck_assert_uint_eq(ndx_dissect_bytes(small), ndx_dissect_bytes(large));
    ck_assert_uint_le(ndx_dissect_bytes(large), bound + (size_t)U * (12 + (1 + NM) * 256 * 8));
    ndx_dissect_free(small);
    ndx_dissect_free(large);
    free_data(&d);
}
END_TEST

START_TEST(test_bad_input)
{
    data d = make_data(10, 9);
    ndx_dissect *st = new_state(NDX_THRESHOLD_QUANTILE, 0, NULL);
    feed(st, &d, 0, 5, NDX_DISSECT_STATS, 1);
    ndx_dissect_unit before, after;
    ndx_dissect_unit_info(st, 2, &before);
    d.maps[(size_t)7 * U * HW + 2 * HW + 5] = NAN;
    ndx_dissect_batch b = batch_of(&d, 5, 5);
    ck_assert_int_eq(ndx_dissect_add(st, &b, NDX_DISSECT_STATS), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "unit 2"));
    ndx_dissect_unit_info(st, 2, &after);
    ck_assert(!memcmp(&before, &after, sizeof before));
    ck_assert_uint_eq(ndx_dissect_patches(st, 0), 5);
    b.n = -1;
    ck_assert_int_eq(ndx_dissect_add(st, &b, NDX_DISSECT_STATS), NDX_ERR_SHAPE);
    b = batch_of(&d, 0, 2);
    ck_assert_int_eq(ndx_dissect_add(st, &b, 0), NDX_ERR_INVALID);
    ndx_dissect_free(st);

    ndx_dissect_config c = {.layer = "x", .units = 0, .h = 2, .w = 2};
    ndx_dissect *s2 = NULL;
    ck_assert_int_eq(ndx_dissect_new(&c, &s2), NDX_ERR_SHAPE);
    ck_assert_ptr_null(s2);
    c.units = 3;
    c.quantile = 1.5;
    ck_assert_int_eq(ndx_dissect_new(&c, &s2), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "quantile"));
    c.quantile = 0;
    c.mode = NDX_THRESHOLD_FIXED;
    ck_assert_int_eq(ndx_dissect_new(&c, &s2), NDX_ERR_INVALID);
    free_data(&d);
}
END_TEST

/* Large enough for the threaded loops: 2 threads give what 1 gives. */
START_TEST(test_threads_deterministic)
{
    enum { BU = 48, BH = 6, BW = 6, BN = 64, BM = 40 };
    uint64_t s = 77;
    float *maps = malloc(sizeof(float) * BN * BU * BH * BW);
    int64_t ids[BN];
    uint8_t labels[BN], *mask = calloc(BN, BM * BM);
    const uint8_t *ptr[BN * 6] = {0};
    for (size_t j = 0; j < (size_t)BN * BU * BH * BW; j++) {
        const float v = tu_uniform(&s);
        maps[j] = v > 0 ? v : 0;
    }
    for (int i = 0; i < BN; i++) {
        ids[i] = 5 * i + 3;
        labels[i] = i % 3 == 0;
        uint8_t *mk = mask + (size_t)i * BM * BM;
        for (int y = tu_int(&s, 0, 20); y < 30; y++)
            for (int x = tu_int(&s, 0, 20); x < 35; x++) mk[y * BM + x] = 1;
        ptr[i * 6 + (i % 6)] = mk;
        ptr[i * 6 + 5] = mk;
    }
    /* two passes with 1 and 2 threads, then one pass (warm-up 8) with 1 and 2 */
    ndx_dissect *st[4];
    const int nt = ndx_get_threads();
    for (int r = 0; r < 4; r++) {
        tu_threads(r % 2 ? 2 : 1);
        ndx_dissect_config c = {.layer = "big", .units = BU, .h = BH, .w = BW, .topk = 10,
                                .quantile = 0.05, .warmup = 8};
        ck_assert_int_eq(ndx_dissect_new(&c, &st[r]), NDX_OK);
        ndx_dissect_batch b = {BN, maps, ids, labels, BM, BM, ptr};
        if (r >= 2) {
            int missed;
            ck_assert_int_eq(ndx_dissect_add(st[r], &b, NDX_DISSECT_STATS | NDX_DISSECT_IOU), NDX_OK);
            ck_assert_int_eq(ndx_dissect_finish(st[r], &missed), NDX_OK);
            ck_assert_int_eq(missed, 0);
            continue;
        }
        ck_assert_int_eq(ndx_dissect_add(st[r], &b, NDX_DISSECT_STATS), NDX_OK);
        ck_assert_int_eq(ndx_dissect_set_thresholds(st[r], NULL), NDX_OK);
        ck_assert_int_eq(ndx_dissect_add(st[r], &b, NDX_DISSECT_IOU), NDX_OK);
    }
    ndx_set_threads(nt);
    uint64_t inter = 0;
    for (int u = 0; u < BU; u++) {
        ndx_dissect_unit x, y, z, v;
        ndx_dissect_unit_info(st[0], u, &x);
        ndx_dissect_unit_info(st[1], u, &y);
        ndx_dissect_unit_info(st[2], u, &z);
        ndx_dissect_unit_info(st[3], u, &v);
        ck_assert(!memcmp(&x, &y, sizeof x));
        ck_assert(!memcmp(&x, &z, sizeof x));
        ck_assert(!memcmp(&x, &v, sizeof x));
        ndx_dissect_top ta[10], tb[10];
        int na, nb;
        ndx_dissect_unit_top(st[0], u, ta, &na);
        ndx_dissect_unit_top(st[1], u, tb, &nb);
        ck_assert_int_eq(na, 10);
        ck_assert_int_eq(nb, 10);
        for (int j = 0; j < na; j++) ck_assert(ta[j].id == tb[j].id && ta[j].score == tb[j].score);
        inter += x.inter[5];
    }
    ck_assert_uint_gt(inter, 0);
    for (int r = 0; r < 4; r++) ndx_dissect_free(st[r]);
    free(maps);
    free(mask);
}
END_TEST

/* Loader: patch id -> a constant gray image. */
static int load_gray(void *ctx, int64_t id, float *px, int size)
{
    int *calls = ctx;
    (*calls)++;
    if (id < 0) return -1;
    for (int i = 0; i < size * size; i++) px[i] = 1.0f;
    return 0;
}

START_TEST(test_outputs)
{
    mk_tmpdir();
    data d = make_data(40, 10);
    ndx_dissect *st = new_state(NDX_THRESHOLD_QUANTILE, 0.05, NULL);
    feed(st, &d, 0, d.n, NDX_DISSECT_STATS, 1);
    ck_assert_int_eq(ndx_dissect_set_thresholds(st, NULL), NDX_OK);
    feed(st, &d, 0, d.n, NDX_DISSECT_IOU, 2);
    float wts[U] = {1, -2, 0.5f, 3, 0};
    const float *wl[1] = {wts};
    int calls = 0;
    ndx_dissect_output o = {.class_weights = wl, .load = load_gray, .load_ctx = &calls,
                            .patch_size = 24, .strip_count = 3};
    char out[400], p[500];
    snprintf(out, sizeof out, "%s/out", tmpdir);
    const ndx_dissect *layers[1] = {st};
    ck_assert_msg(ndx_dissect_write(out, layers, 1, &o) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(calls, U * 3);

    /* units.csv: a header and one line per unit */
    snprintf(p, sizeof p, "%s/units.csv", out);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(strstr(line, "layer,unit,max_score,mean_score,threshold,iou_mass,"));
    ck_assert_ptr_nonnull(strstr(line, "positive_fraction,class_influence,topk"));
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        ck_assert(!strncmp(line, "conv5,", 6));
        lines++;
    }
    fclose(f);
    ck_assert_int_eq(lines, U);

    /* units.json parses; units in order; rankings sorted */
    snprintf(p, sizeof p, "%s/units.json", out);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    cJSON *units = cJSON_GetObjectItem(root, "units");
    ck_assert_int_eq(cJSON_GetArraySize(units), U);
    for (int u = 0; u < U; u++) {
        cJSON *e = cJSON_GetArrayItem(units, u);
        ndx_dissect_unit info;
        ndx_dissect_unit_info(st, u, &info);
        ck_assert_int_eq(cJSON_GetObjectItem(e, "unit")->valueint, u);
        ck_assert(fabs(cJSON_GetObjectItem(e, "class_influence")->valuedouble - info.max_score * wts[u]) <
                  1e-4 * (1 + fabs(info.max_score * wts[u])));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(e, "top")), K);
        ck_assert(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "iou"), "mass")->valuedouble -
                       info.iou[0]) < 1e-9);
    }
    cJSON *rk = cJSON_GetObjectItem(root, "rankings");
    const char *keys[] = {"positive_fraction", "class_influence"};
    for (int i = 0; i < 2; i++) {
        cJSON *a = cJSON_GetObjectItem(rk, keys[i]);
        ck_assert_int_eq(cJSON_GetArraySize(a), U);
        for (int j = 1; j < U; j++)
            ck_assert(cJSON_GetObjectItem(cJSON_GetArrayItem(a, j - 1), "value")->valuedouble >=
                      cJSON_GetObjectItem(cJSON_GetArrayItem(a, j), "value")->valuedouble);
    }
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(rk, "iou"), "vessel")), U);
    cJSON_Delete(root);

    /* index.html: offline (no URL), sortable, lists the images */
    snprintf(p, sizeof p, "%s/index.html", out);
    f = fopen(p, "r");
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    ck_assert_ptr_nonnull(strstr(text, "<script>"));
    ck_assert_ptr_nonnull(strstr(text, "units/conv5_0004.png"));
    ck_assert_ptr_null(strstr(text, "http"));

    /* the strip: 3 patches of 24 px, 2 px apart; dimmed (0.2 x 255 = 51)
     * outside the mask, 255 inside, some outline */
    snprintf(p, sizeof p, "%s/units/conv5_0000.png", out);
    ndx_image img = {0};
    ck_assert_msg(ndx_png_read(p, 0, &img, NULL, 0) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(img.w, 3 * 24 + 2 * 2);
    ck_assert_int_eq(img.h, 24);
    int dim = 0, full = 0, other = 0;
    for (int i = 0; i < img.w * img.h; i++) {
        const int x = i % img.w;
        if (x % 26 >= 24) continue;   /* gap */
        if (img.px[i] == 51) dim++;
        else if (img.px[i] == 255) full++;
        else other++;
    }
    ck_assert_int_gt(dim, 0);
    ck_assert_int_gt(other, 0);   /* the outline */
    ck_assert_int_eq(dim + full + other, 3 * 24 * 24);
    ndx_image_free(&img);

    /* a failing loader is an error naming the patch */
    ndx_dissect_free(st);
    d.ids[0] = -5;
    st = new_state(NDX_THRESHOLD_QUANTILE, 0.05, NULL);
    ndx_dissect_batch b = batch_of(&d, 0, 1);
    ndx_dissect_add(st, &b, NDX_DISSECT_STATS);
    layers[0] = st;
    ck_assert_int_eq(ndx_dissect_write(out, layers, 1, &o), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "-5"));
    ndx_dissect_free(st);
    free_data(&d);
    rm_tmpdir();
}
END_TEST

/* The context image's source: a 300 x 800 16-bit gradient, a 64 px box at
 * (100, 400); a box outside the image for patch id -7; -1 fails. */
typedef struct ctx_src {
    char path[400];
    int calls;
} ctx_src;
static int locate_ctx(void *ctx, int64_t id, char *path, size_t n, int box[4])
{
    ctx_src *c = ctx;
    c->calls++;
    if (id == -1) return -1;
    snprintf(path, n, "%s", c->path);
    box[0] = 100, box[1] = id == -7 ? 790 : 400, box[2] = 64, box[3] = 64;
    return 0;
}

START_TEST(test_context_image)
{
    mk_tmpdir();
    enum { IW = 300, IH = 800 };
    ctx_src src = {0};
    snprintf(src.path, sizeof src.path, "%s/mammo.png", tmpdir);
    uint16_t *px = malloc(sizeof(uint16_t) * IW * IH);
    for (int i = 0; i < IW * IH; i++) px[i] = (uint16_t)(20000 + 40 * (i % IW));
    ck_assert_int_eq(ndx_png_write16(src.path, px, IW, IH), NDX_OK);
    free(px);
    data d = make_data(20, 11);
    ndx_dissect *st = new_state(NDX_THRESHOLD_QUANTILE, 0.05, NULL);
    feed(st, &d, 0, d.n, NDX_DISSECT_STATS, 1);
    ndx_dissect_output o = {.locate = locate_ctx, .locate_ctx = &src};
    char out[400], p[500];
    snprintf(out, sizeof out, "%s/out", tmpdir);
    const ndx_dissect *layers[1] = {st};
    ck_assert_msg(ndx_dissect_write(out, layers, 1, &o) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(src.calls, U);

    /* 800 rows -> 400 (default), 300 columns -> 150; RGB 8-bit; the box
     * (100..163, 400..463) -> columns 50..81, rows 200..231, 2 px of red */
    for (int u = 0; u < U; u++) {
        snprintf(p, sizeof p, "%s/units/conv5_%04d_context.png", out, u);
        png_image im;
        memset(&im, 0, sizeof im);
        im.version = PNG_IMAGE_VERSION;
        ck_assert_msg(png_image_begin_read_from_file(&im, p), "%s", p);
        ck_assert_int_eq(im.width, 150);
        ck_assert_int_eq(im.height, 400);
        ck_assert(!(im.format & PNG_FORMAT_FLAG_ALPHA) && (im.format & PNG_FORMAT_FLAG_COLOR));
        im.format = PNG_FORMAT_RGB;
        uint8_t *rgb = malloc(PNG_IMAGE_SIZE(im));
        ck_assert(png_image_finish_read(&im, NULL, rgb, 0, NULL));
        int red = 0, gray = 0, other = 0;
        for (int y = 0; y < 400; y++)
            for (int x = 0; x < 150; x++) {
                const uint8_t *q = rgb + (y * 150 + x) * 3;
                const int in = x >= 50 && x <= 81 && y >= 200 && y <= 231;
                const int edge = in && (x < 52 || x > 79 || y < 202 || y > 229);
                if (q[0] == 255 && q[1] == 0 && q[2] == 0) red++, ck_assert_msg(edge, "red at %d,%d", x, y);
                else if (q[0] == q[1] && q[1] == q[2]) gray++, ck_assert_msg(!edge, "gray at %d,%d", x, y);
                else other++;
            }
        ck_assert_int_eq(red, 32 * 32 - 28 * 28);
        ck_assert_int_eq(other, 0);
        ck_assert_int_eq(gray, 150 * 400 - red);
        /* the gradient survives the area filter: left darker than right */
        ck_assert_int_lt(rgb[(10 * 150 + 5) * 3], rgb[(10 * 150 + 140) * 3]);
        free(rgb);
    }
    snprintf(p, sizeof p, "%s/index.html", out);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    static char text[1 << 18];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    ck_assert_ptr_nonnull(strstr(text, "src=\"units/conv5_0003_context.png\""));

    /* context_height: smaller, never upscaled */
    o.context_height = 100;
    ck_assert_int_eq(ndx_dissect_write(out, layers, 1, &o), NDX_OK);
    int w, h, bits;
    snprintf(p, sizeof p, "%s/units/conv5_0000_context.png", out);
    ck_assert_int_eq(ndx_png_size(p, &w, &h, &bits), NDX_OK);
    ck_assert_int_eq(h, 100);
    ck_assert_int_eq(w, 38);   /* 300 / 8 = 37.5, rounded */
    o.context_height = 5000;
    ck_assert_int_eq(ndx_dissect_write(out, layers, 1, &o), NDX_OK);
    ck_assert_int_eq(ndx_png_size(p, &w, &h, &bits), NDX_OK);
    ck_assert_int_eq(h, IH);
    ck_assert_int_eq(w, IW);
    ndx_dissect_free(st);

    /* a failing locator, a box outside the image: errors naming them */
    const int64_t bad[2] = {-1, -7};
    const ndx_status want[2] = {NDX_ERR_IO, NDX_ERR_INVALID};
    const char *says[2] = {"-1", "outside"};
    for (int i = 0; i < 2; i++) {
        st = new_state(NDX_THRESHOLD_QUANTILE, 0.05, NULL);
        d.ids[0] = bad[i];
        ndx_dissect_batch b = batch_of(&d, 0, 1);
        ndx_dissect_add(st, &b, NDX_DISSECT_STATS);
        layers[0] = st;
        ck_assert_int_eq(ndx_dissect_write(out, layers, 1, &o), want[i]);
        ck_assert_msg(strstr(ndx_last_error(), says[i]), "%s", ndx_last_error());
        ndx_dissect_free(st);
    }
    free_data(&d);
    rm_tmpdir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dissect");
    TCase *tc = tcase_create("dissect");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_topk_matches_reference);
    tcase_add_test(tc, test_quantile_within_bound);
    tcase_add_test(tc, test_iou_fixed_threshold);
    tcase_add_test(tc, test_iou_two_pass);
    tcase_add_test(tc, test_iou_one_pass);
    tcase_add_test(tc, test_one_pass_window_missed);
    tcase_add_test(tc, test_merge_one_pass);
    tcase_add_test(tc, test_merge_equals_one_run);
    tcase_add_test(tc, test_state_file);
    tcase_add_test(tc, test_merge_from_files);
    tcase_add_test(tc, test_memory_independent_of_patches);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_threads_deterministic);
    tcase_add_test(tc, test_outputs);
    tcase_add_test(tc, test_context_image);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
