/* Dissection suite: the streaming state against a naive reference that
 * stores every map (top-k sets and scores, thresholds within the sketch's
 * bound, IoU with an exact threshold, one pass and two), batch-order
 * independence, merging shards, memory independent of the number of
 * patches, bad input, thread counts.  The files (the state file, the
 * outputs) are check_dissect_files.c's; the fixture dissect_fixture.h. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "dissect_fixture.h"
#include "netdx_dissect.h"
#include "testutil.h"

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
    tcase_add_test(tc, test_merge_equals_one_run);
    tcase_add_test(tc, test_merge_one_pass);
    tcase_add_test(tc, test_memory_independent_of_patches);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_threads_deterministic);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
