/* The exact patient split, the phantom's visibility rule and distortions,
 * the breast threshold on 12-bit data in 16-bit PNGs. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netdx.h"
#include "testutil.h"
#include "../src/data/data.h"

#define MAXP 400

static char idbuf[MAXP][16];
static const char *ids[MAXP];

static void make_ids(int n, int first)
{
    for (int i = 0; i < n; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "P_%05d", first + i);
        ids[i] = idbuf[i];
    }
}

static void count(const int *split, const int *mal, int n, int c[3], int m[3])
{
    c[0] = c[1] = c[2] = m[0] = m[1] = m[2] = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_int_ge(split[i], NDX_SPLIT_TRAIN);
        ck_assert_int_le(split[i], NDX_SPLIT_TEST);
        c[split[i]]++;
        if (mal) m[split[i]] += mal[i];
    }
}

START_TEST(split_exact_counts)
{
    int split[MAXP], c[3], m[3];
    /* 80/10/10 of 12 is 9.6/1.2/1.2, of 30 24/3/3 */
    make_ids(12, 1);
    ck_assert_int_eq(ndx_split_assign(ids, NULL, 12, 0, 0, split), NDX_OK);
    count(split, NULL, 12, c, m);
    ck_assert_int_eq(c[0], 10); ck_assert_int_eq(c[1], 1); ck_assert_int_eq(c[2], 1);
    make_ids(30, 1);
    ck_assert_int_eq(ndx_split_assign(ids, NULL, 30, 0, 0, split), NDX_OK);
    count(split, NULL, 30, c, m);
    ck_assert_int_eq(c[0], 24); ck_assert_int_eq(c[1], 3); ck_assert_int_eq(c[2], 3);
    /* every size: val = test = round(n/10), at least 1 from 3 patients */
    for (int n = 1; n <= 250; n++) {
        make_ids(n, 7);
        ck_assert_int_eq(ndx_split_assign(ids, NULL, (size_t)n, 5, 0, split), NDX_OK);
        count(split, NULL, n, c, m);
        int k = n < 3 ? 0 : (int)(n / 10.0 + 0.5) < 1 ? 1 : (int)(n / 10.0 + 0.5);
        ck_assert_msg(c[1] == k && c[2] == k && c[0] == n - 2 * k, "n %d: %d/%d/%d", n, c[0], c[1], c[2]);
        /* cut in hash order: every train hash below every val one, below test */
        uint64_t top[3] = {0, 0, 0}, low[3] = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
        for (int i = 0; i < n; i++) {
            uint64_t h = ndx_hash_str(ids[i], 5);
            if (h > top[split[i]]) top[split[i]] = h;
            if (h < low[split[i]]) low[split[i]] = h;
        }
        if (c[1]) ck_assert(top[0] < low[1] && top[1] < low[2]);
    }
}
END_TEST

START_TEST(split_stratified)
{
    int split[MAXP], mal[MAXP], c[3], m[3];
    for (int n = 12; n <= 30; n += 18) {
        make_ids(n, 1);
        /* three malignant patients: one in each split */
        memset(mal, 0, sizeof mal);
        mal[1] = mal[4] = mal[8] = 1;
        ck_assert_int_eq(ndx_split_assign(ids, mal, (size_t)n, 0, 1, split), NDX_OK);
        count(split, mal, n, c, m);
        ck_assert_int_eq(c[0], n - 2 * (n == 12 ? 1 : 3));
        ck_assert_int_eq(m[0], 1); ck_assert_int_eq(m[1], 1); ck_assert_int_eq(m[2], 1);
        /* two: train and val; ten of 30: 8/1/1 */
        mal[8] = 0;
        ck_assert_int_eq(ndx_split_assign(ids, mal, (size_t)n, 0, 1, split), NDX_OK);
        count(split, mal, n, c, m);
        ck_assert_int_eq(m[0], 1); ck_assert_int_eq(m[1], 1); ck_assert_int_eq(m[2], 0);
        for (int i = 0; i < 10; i++) mal[2 * i] = 1;
        ck_assert_int_eq(ndx_split_assign(ids, mal, (size_t)n, 0, 1, split), NDX_OK);
        count(split, mal, n, c, m);
        int nm = 0;
        for (int i = 0; i < n; i++) nm += mal[i];
        ck_assert_int_eq(m[1], 1); ck_assert_int_eq(m[2], 1); ck_assert_int_eq(m[0], nm - 2);
        ck_assert_int_eq(c[1], n == 12 ? 1 : 3);
    }
    /* all malignant: the same exact counts */
    make_ids(3, 1);
    for (int i = 0; i < 3; i++) mal[i] = 1;
    ck_assert_int_eq(ndx_split_assign(ids, mal, 3, 0, 1, split), NDX_OK);
    count(split, mal, 3, c, m);
    ck_assert_int_eq(m[0], 1); ck_assert_int_eq(m[1], 1); ck_assert_int_eq(m[2], 1);
}
END_TEST

/* Patients of ids[0..n) whose split differs between a and b. */
static int moved(const int *a, const int *b, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += a[i] != b[i];
    return k;
}

START_TEST(split_stable)
{
    int a[MAXP], b[MAXP], mal[MAXP];
    /* the same seed, the same split, whatever the input order */
    make_ids(30, 1);
    ck_assert_int_eq(ndx_split_assign(ids, NULL, 30, 9, 0, a), NDX_OK);
    const char *rev[30];
    for (int i = 0; i < 30; i++) rev[i] = ids[29 - i];
    ck_assert_int_eq(ndx_split_assign(rev, NULL, 30, 9, 0, b), NDX_OK);
    for (int i = 0; i < 30; i++) ck_assert_int_eq(a[i], b[29 - i]);
    ck_assert_int_eq(ndx_split_assign(ids, NULL, 30, 10, 0, b), NDX_OK);
    ck_assert_int_gt(moved(a, b, 30), 0);   /* another seed, another split */
    /* adding one patient moves at most 3 others across a cut: one at each
     * cut when the sizes stay; when val and test each grow by one, the
     * last two train patients (if the new one ranks before them) and the
     * last val one; stratified, the same in each group: at most 6.
     * Measured here over 3..300 patients (297 additions): plain, none
     * moved 206 times, 1: 29, 2: 42, 3: 20 (mean 0.58); stratified, the
     * same up to 3 and 5 or 6 twice each (mean 0.64). */
    for (int i = 0; i < MAXP; i++) mal[i] = i % 7 == 3;
    int worst[2] = {0, 0};
    for (int strat = 0; strat < 2; strat++)
        for (int n = 3; n < 300; n++) {
            make_ids(n + 1, 100);
            ck_assert_int_eq(ndx_split_assign(ids, mal, (size_t)n, 4, strat, a), NDX_OK);
            ck_assert_int_eq(ndx_split_assign(ids, mal, (size_t)n + 1, 4, strat, b), NDX_OK);
            int k = moved(a, b, n);
            if (k > worst[strat]) worst[strat] = k;
        }
    ck_assert_msg(worst[0] <= 3 && worst[1] <= 6, "moved %d, stratified %d", worst[0], worst[1]);
}
END_TEST

/* ---- the phantom's visibility rule ---------------------------------------- */
START_TEST(visibility_rule)
{
    double base = ndx__visibility(0.1, 0.5, 15, 0.4);
    ck_assert(base > 0);
    for (double d = 0.01; d < 0.2; d += 0.01) {
        ck_assert(ndx__visibility(0.1 + d, 0.5, 15, 0.4) > base);          /* contrast */
        ck_assert(ndx__visibility(0.1, 0.5, 15 + 100 * d, 0.4) > base);    /* size */
        ck_assert(ndx__visibility(0.1, 0.5 + 10 * d, 15, 0.4) < base);     /* blur */
        ck_assert(ndx__visibility(0.1, 0.5, 15, 0.4 + 2 * d) < base);      /* density */
    }
    /* subtlety: 1..5, never falling as visibility rises, all five used */
    int prev = 1, seen[6] = {0};
    for (double v = 0; v < 3; v += 0.01) {
        int s = ndx__subtlety(v);
        ck_assert_int_ge(s, prev);
        ck_assert_int_le(s, 5);
        seen[s] = 1;
        prev = s;
    }
    for (int s = 1; s <= 5; s++) ck_assert(seen[s]);
    /* an ill-defined mass in a dense breast is subtler than a sharp one in
     * a fatty breast of the same contrast and size */
    ck_assert_int_lt(ndx__subtlety(ndx__visibility(0.12, 1.5, 15, 0.8)),
                     ndx__subtlety(ndx__visibility(0.12, 0.15, 15, 0.1)));
    /* no planned malignant lesion below the floor */
    long n = 0;
    double lo = ndx__synth_min_malignant_visibility(1, 400, &n);
    ck_assert_int_gt(n, 100);
    ck_assert_msg(lo >= NDX__VIS_FLOOR - 1e-12, "visibility %g below the floor", lo);
}
END_TEST

START_TEST(synth_subtlety_spread)
{
    /* the manifest's subtlety comes from the rule: several grades used */
    char dir[] = "/tmp/netdx_split_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ndx_synth_opts o;
    ndx_synth_defaults(&o);
    o.patients = 40, o.pixel_um = 400, o.normal_frac = 0;
    ck_assert_int_eq(ndx_synth(dir, &o, NULL), NDX_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/manifest.csv", dir);
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(path, &m), NDX_OK);
    int seen[6] = {0}, kinds = 0;
    for (size_t i = 0; i < m.n; i++)
        if (m.rows[i].subtlety >= 1 && m.rows[i].subtlety <= 5) seen[m.rows[i].subtlety]++;
    for (int s = 1; s <= 5; s++) kinds += seen[s] > 0;
    ck_assert_int_ge(kinds, 4);
    ndx_manifest_free(&m);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(distortion_inside_its_mask)
{
    static const double size[] = {15, 25, 35}, pxmm[] = {2.5, 5, 10};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (uint64_t seed = 1; seed <= 4; seed++) {
                long on = 0, out = ndx__synth_distortion_outside(size[a], pxmm[b], seed, &on);
                ck_assert_int_eq(out, 0);
                ck_assert_int_gt(on, (long)(size[a] * pxmm[b]));   /* lines were drawn */
            }
}
END_TEST

/* ---- 12-bit data in a 16-bit PNG ---------------------------------------- */
static char tmpdir[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

START_TEST(breast_threshold_12_bit)
{
    enum { W = 256, H = 320 };
    static uint16_t px[W * H];
    uint64_t s = 77;
    long breast = 0;
    /* a half disc of 12-bit tissue (700 at the edge .. 3800 inside, a
     * coarse pattern of +500) on a background of 0..60 noise, then on one
     * of 150..260: Otsu alone would cut at about 1900 */
    for (int bg = 0; bg <= 150; bg += 150) {
        breast = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double dy = (y - H / 2.0) / (H / 2.0), dx = x / (0.8 * W), r = sqrt(dx * dx + dy * dy);
                int v = bg + tu_int(&s, 0, 60 + bg / 3);
                if (r < 1) {
                    v = (int)(700 + 2600 * fmin(1, (1 - r) * 4)) + tu_int(&s, -150, 150);
                    v += (x / 16 + y / 16) % 2 ? 500 : 0;
                    breast++;
                }
                px[y * W + x] = (uint16_t)v;
            }
        int t = -1;
        ck_assert_int_eq(ndx_breast_threshold(px, W * H, 65535, &t), NDX_OK);
        ck_assert_int_ge(t, bg + 60 + bg / 3);   /* above the background */
        ck_assert_int_lt(t, 550);                /* below the faintest breast */
    }
    /* through netdx patches: the breast fraction found and kept windows */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/netdx_split_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char path[512];
    snprintf(path, sizeof path, "%s/images", tmpdir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/images/a.png", tmpdir);
    ck_assert_int_eq(ndx_png_write16(path, px, W, H), NDX_OK);
    snprintf(path, sizeof path, "%s/manifest.csv", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("patient_id,breast_density,left_or_right_breast,image_view,abnormality_id,"
          "abnormality_type,mass_shape,mass_margins,calc_type,calc_distribution,assessment,"
          "pathology,subtlety,image_path,mask_path\n"
          "P_00001,2,LEFT,CC,,,,,,,1,,,images/a.png,\n", f);
    fclose(f);
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ndx_patch_stats st;
    ck_assert_int_eq(ndx_patches_build(tmpdir, &po, &st), NDX_OK);
    ck_assert_double_eq_tol(st.breast_frac_mean, (double)breast / (W * H), 0.01);
    ck_assert_double_eq_tol(st.breast_frac_min, st.breast_frac_mean, 1e-12);
    ck_assert_int_gt(st.patches, 8);
    ck_assert_int_eq(st.split_patients[NDX_SPLIT_TRAIN], 1);   /* one patient: train */
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("split");
    TCase *t = tcase_create("split");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, split_exact_counts);
    tcase_add_test(t, split_stratified);
    tcase_add_test(t, split_stable);
    tcase_add_test(t, visibility_rule);
    tcase_add_test(t, synth_subtlety_spread);
    tcase_add_test(t, distortion_inside_its_mask);
    tcase_add_test(t, breast_threshold_12_bit);
    suite_add_tcase(s, t);
    return tu_run(s);
}
