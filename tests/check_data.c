/* Check suite: manifest, label rule, patient split, phantom determinism,
 * CBIS-DDSM import from fixture CSVs, patch loading and masks. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netdx.h"
#include "testutil.h"

/* $NDX_TEST_DATA or tests/data, as tests/golden.h */
static const char *test_data(void)
{
    const char *d = getenv("NDX_TEST_DATA");
    return d && *d ? d : "tests/data";
}

static char tmpdir[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/netdx_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) { nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static const char *tmp(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    if (!fa || !fb) {
        if (fa) fclose(fa);
        if (fb) fclose(fb);
        return 0;
    }
    int eq = 1;
    char ba[8192], bb[8192];
    for (;;) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na)) {
            eq = 0;
            break;
        }
        if (na == 0) break;
    }
    fclose(fa);
    fclose(fb);
    return eq;
}

/* ---- manifest ------------------------------------------------------------- */
#define HDR "patient_id,breast_density,left_or_right_breast,image_view,abnormality_id," \
            "abnormality_type,mass_shape,mass_margins,calc_type,calc_distribution,"     \
            "assessment,pathology,subtlety,image_path,mask_path\n"

START_TEST(manifest_roundtrip_and_normalising)
{
    write_text(tmp("m.csv"), HDR
               "P_1,2,LEFT,CC,1,mass,IRREGULAR-ARCHITECTURAL_DISTORTION,SPICULATED,,,4,MALIGNANT,3,"
               "images/a.png,masks/a_1.png\n"
               "P_1,2,LEFT,CC,2,calcification,,,LUCENT_CENTER-PUNCTATE,CLUSTERED,2,BENIGN,2,"
               "images/a.png,masks/a_2.png\n"
               "P_1,2,RIGHT,MLO,,,,,,,1,,,\"images/b, with comma.png\",\n"
               "\n");
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tmp("m.csv"), &m), NDX_OK);
    ck_assert_uint_eq(m.n, 3);
    ck_assert_str_eq(m.rows[1].calc_type, "LUCENT_CENTERED-PUNCTATE");
    ck_assert_int_eq(ndx_lesion_kind(&m.rows[0]), NDX_LESION_MASS);
    ck_assert_int_eq(ndx_lesion_kind(&m.rows[1]), NDX_LESION_CALC);
    ck_assert_int_eq(ndx_lesion_kind(&m.rows[2]), -1);
    ck_assert_str_eq(m.rows[2].image_path, "images/b, with comma.png");
    ck_assert_int_eq(ndx_manifest_write(tmp("m2.csv"), &m), NDX_OK);
    ndx_manifest m2;
    ck_assert_int_eq(ndx_manifest_read(tmp("m2.csv"), &m2), NDX_OK);
    ck_assert_uint_eq(m2.n, m.n);
    ck_assert_mem_eq(m2.rows, m.rows, sizeof *m.rows * m.n);
    ndx_manifest_free(&m);
    ndx_manifest_free(&m2);
}
END_TEST

static void expect_bad(const char *body, const char *needle)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s", HDR, body);
    write_text(tmp("bad.csv"), text);
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tmp("bad.csv"), &m), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), needle) != NULL, "'%s' lacks '%s'", ndx_last_error(), needle);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "bad.csv"));
    ck_assert_ptr_null(m.rows);
}

START_TEST(manifest_errors_name_line_and_column)
{
    const char *ok = "P_1,2,LEFT,CC,,,,,,,1,,,images/a.png,\n";
    char body[1024];
    snprintf(body, sizeof body, "%s%s", ok, "P_2,7,LEFT,CC,,,,,,,1,,,images/b.png,\n");
    expect_bad(body, ":3: column 2 (breast_density)");
    snprintf(body, sizeof body, "%s%s", ok, "P_2,1,UP,CC,,,,,,,1,,,images/b.png,\n");
    expect_bad(body, ":3: column 3 (left_or_right_breast)");
    expect_bad("P_2,1,LEFT,CC,1,mass,ROUND-SQUARE,,,,4,BENIGN,2,i.png,m.png\n",
               ":2: column 7 (mass_shape): unknown mass shape in 'SQUARE'");
    expect_bad("P_2,1,LEFT,CC,1,calcification,,,,CLUSTERED,4,MAYBE,2,i.png,m.png\n",
               ":2: column 12 (pathology)");
    expect_bad("P_2,1,LEFT,CC,1,mass,ROUND,,,,4,BENIGN,2,i.png,\n", ":2: column 15 (mask_path)");
    expect_bad("P_2,1,LEFT,CC,1,mass,ROUND,,,,4,BENIGN,2,i.png\n", ":2: 14 columns, expected 15");
    expect_bad("P_2,1,LEFT,CC,1,mass,ROUND,,,,x,BENIGN,2,i.png,m.png\n", ":2: column 11 (assessment)");
    char longid[200];
    memset(longid, 'P', 70);
    snprintf(longid + 70, sizeof longid - 70, ",1,LEFT,CC,,,,,,,1,,,images/c.png,\n");
    expect_bad(longid, ":2: column 1 (patient_id): longer than 63 characters");
    write_text(tmp("hdr.csv"), "patient,breast_density\n");
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tmp("hdr.csv"), &m), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "hdr.csv:1: column 1"));
}
END_TEST

/* ---- label rule ----------------------------------------------------------- */
enum { W = 100, H = 100 };

static void fill(uint8_t *m, int x, int y, int w, int h)
{
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++) m[j * W + i] = 1;
}

START_TEST(label_rule_30_percent_of_lesion)
{
    static uint8_t m[W * H];
    memset(m, 0, sizeof m);
    fill(m, 10, 10, 10, 10);   /* a malignant lesion of exactly 100 pixels */
    ndx_lesion_mask les = {m, NDX_LESION_MASS, 1};
    float ov[NDX_LESION_KINDS][2];
    /* box x in [17, 57): columns 17..19 of the lesion = 30 pixels = 30% */
    ck_assert_int_eq(ndx_patch_label_box(&les, 1, W, H, 17, 0, 40, 40, 0.3, ov), 1);
    ck_assert_float_eq_tol(ov[NDX_LESION_MASS][1], 30.0f / 1600, 1e-7);
    ck_assert_float_eq(ov[NDX_LESION_MASS][0], 0);
    ck_assert_float_eq(ov[NDX_LESION_CALC][1], 0);
    /* 29 pixels: one pixel of the lesion removed from the box's part */
    m[19 + 19 * W] = 0;
    ck_assert_int_eq(ndx_patch_label_box(&les, 1, W, H, 17, 0, 40, 40, 0.3, ov), 0);
    /* the same lesion benign: never positive */
    m[19 + 19 * W] = 1;
    les.malignant = 0;
    ck_assert_int_eq(ndx_patch_label_box(&les, 1, W, H, 0, 0, 50, 50, 0.3, ov), 0);
    ck_assert_float_eq_tol(ov[NDX_LESION_MASS][0], 100.0f / 2500, 1e-7);
}
END_TEST

START_TEST(label_rule_30_percent_of_patch)
{
    static uint8_t m[W * H];
    memset(m, 0, sizeof m);
    fill(m, 0, 0, 100, 50);   /* a large malignant lesion: 5000 pixels */
    ndx_lesion_mask les = {m, NDX_LESION_CALC, 1};
    /* box 10 x 10 at y = 47: rows 47..49 inside = 30 pixels = 30% of the box,
     * 0.6% of the lesion */
    ck_assert_int_eq(ndx_patch_label_box(&les, 1, W, H, 20, 47, 10, 10, 0.3, NULL), 1);
    ck_assert_int_eq(ndx_patch_label_box(&les, 1, W, H, 20, 48, 10, 10, 0.3, NULL), 0);
    /* 29 of 100: one pixel less */
    m[20 + 47 * W] = 0;
    ck_assert_int_eq(ndx_patch_label_box(&les, 1, W, H, 20, 47, 10, 10, 0.3, NULL), 0);
    /* two malignant lesions covering together >= 30% count as one union */
    static uint8_t m2[W * H];
    memset(m2, 0, sizeof m2);
    fill(m2, 20, 47, 1, 1);
    ndx_lesion_mask two[2] = {les, {m2, NDX_LESION_MASS, 1}};
    float ov[NDX_LESION_KINDS][2];
    ck_assert_int_eq(ndx_patch_label_box(two, 2, W, H, 20, 47, 10, 10, 0.3, ov), 1);
    ck_assert_float_eq_tol(ov[NDX_LESION_CALC][1], 0.29f, 1e-6);
    ck_assert_float_eq_tol(ov[NDX_LESION_MASS][1], 0.01f, 1e-6);
    /* a benign lesion over the rest does not count */
    static uint8_t m3[W * H];
    memset(m3, 0, sizeof m3);
    fill(m3, 0, 0, 100, 100);
    ndx_lesion_mask three[2] = {les, {m3, NDX_LESION_VESSEL, 0}};
    ck_assert_int_eq(ndx_patch_label_box(three, 2, W, H, 20, 47, 10, 10, 0.3, ov), 0);
    ck_assert_float_eq_tol(ov[NDX_LESION_VESSEL][0], 1.0f, 1e-6);
}
END_TEST

/* ---- phantom + patches ---------------------------------------------------- */
static ndx_synth_opts small_opts(int patients, uint64_t seed)
{
    ndx_synth_opts o;
    ndx_synth_defaults(&o);
    o.patients = patients;
    o.seed = seed;
    o.pixel_um = 400;     /* 250 x 400 images: fast */
    o.normal_frac = 0.3;
    return o;
}

START_TEST(synth_deterministic_and_valid)
{
    ndx_synth_opts o = small_opts(3, 42);
    ndx_synth_stats a, b;
    tu_threads(2);
    ck_assert_int_eq(ndx_synth(tmp("a"), &o, &a), NDX_OK);
    ndx_set_threads(1);
    ck_assert_int_eq(ndx_synth(tmp("b"), &o, &b), NDX_OK);
    ck_assert_int_eq(a.width, 250);
    ck_assert_int_eq(a.height, 400);
    ck_assert_int_eq(a.images, 12);
    ck_assert_mem_eq(&a, &b, sizeof a);
    ck_assert(files_equal(tmp("a/manifest.csv"), tmp("b/manifest.csv")));
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tmp("a/manifest.csv"), &m), NDX_OK);
    for (size_t i = 0; i < m.n; i++) {
        char pa[1100], pb[1100];
        snprintf(pa, sizeof pa, "%s/%s", tmp("a"), m.rows[i].image_path);
        snprintf(pb, sizeof pb, "%s/%s", tmp("b"), m.rows[i].image_path);
        ck_assert_msg(files_equal(pa, pb), "%s differs between runs", m.rows[i].image_path);
        if (m.rows[i].mask_path[0]) {
            snprintf(pa, sizeof pa, "%s/%s", tmp("a"), m.rows[i].mask_path);
            snprintf(pb, sizeof pb, "%s/%s", tmp("b"), m.rows[i].mask_path);
            ck_assert(files_equal(pa, pb));
            /* every lesion's mask is non-empty and inside the breast */
            ndx_image mk, im;
            ck_assert_int_eq(ndx_png_read(pa, 0, &mk, NULL, 0), NDX_OK);
            snprintf(pa, sizeof pa, "%s/%s", tmp("a"), m.rows[i].image_path);
            ck_assert_int_eq(ndx_png_read(pa, 0, &im, NULL, 0), NDX_OK);
            long on = 0, in_breast = 0;
            for (int k = 0; k < mk.w * mk.h; k++)
                if (mk.px[k]) on++, in_breast += im.px[k] > 0;
            ck_assert_int_gt(on, 0);
            ck_assert_int_eq(on, in_breast);
            ndx_image_free(&mk);
            ndx_image_free(&im);
        }
    }
    ndx_manifest_free(&m);
    /* another seed, other pictures */
    o.seed = 43;
    o.patients = 1;
    ck_assert_int_eq(ndx_synth(tmp("c"), &o, NULL), NDX_OK);
    ck_assert(!files_equal(tmp("a/images/P_00001_LEFT_CC.png"), tmp("c/images/P_00001_LEFT_CC.png")));
    /* bad options are refused */
    o.pixel_um = 10;
    ck_assert_int_eq(ndx_synth(tmp("d"), &o, NULL), NDX_ERR_INVALID);
}
END_TEST

static int split_of_patient_in(const ndx_patch_index *ix, const char *pid)
{
    int s = -1;
    for (size_t i = 0; i < ix->n; i++) {
        const char *p = ix->images[ix->patches[i].image].patient_id;
        if (strcmp(p, pid)) continue;
        if (s < 0) s = ix->patches[i].split;
        ck_assert_int_eq(ix->patches[i].split, s);   /* all of a patient's patches */
    }
    return s;
}

START_TEST(patches_unchanged_when_patients_are_added)
{
    ndx_synth_opts o = small_opts(3, 9);
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ck_assert_int_eq(ndx_synth(tmp("few"), &o, NULL), NDX_OK);
    o.patients = 5;
    ck_assert_int_eq(ndx_synth(tmp("more"), &o, NULL), NDX_OK);
    /* the first patients' images do not change when patients are added */
    ck_assert(files_equal(tmp("few/images/P_00003_RIGHT_MLO.png"), tmp("more/images/P_00003_RIGHT_MLO.png")));
    ndx_patch_stats s1, s2;
    ck_assert_int_eq(ndx_patches_build(tmp("few"), &po, &s1), NDX_OK);
    ck_assert_int_eq(ndx_patches_build(tmp("more"), &po, &s2), NDX_OK);
    ck_assert_int_eq(s1.split_patients[0] + s1.split_patients[1] + s1.split_patients[2], 3);
    ck_assert_int_eq(s2.split_patients[0] + s2.split_patients[1] + s2.split_patients[2], 5);
    ndx_patch_index a, b;
    ck_assert_int_eq(ndx_patches_read(tmp("few"), &a), NDX_OK);
    ck_assert_int_eq(ndx_patches_read(tmp("more"), &b), NDX_OK);
    ck_assert_uint_eq(a.n, (size_t)s1.patches);
    ck_assert_uint_gt(b.n, a.n);
    /* each patient's patches in the split ndx_split_assign gives it (the
     * cut moves with the count: 3 patients are 1/1/1, 5 are 3/1/1) */
    char pid[5][16];
    const char *ids[5];
    int want3[3], want5[5];
    for (int p = 0; p < 5; p++) snprintf(pid[p], sizeof pid[p], "P_%05d", p + 1), ids[p] = pid[p];
    ck_assert_int_eq(ndx_split_assign(ids, NULL, 3, po.split_seed, 0, want3), NDX_OK);
    ck_assert_int_eq(ndx_split_assign(ids, NULL, 5, po.split_seed, 0, want5), NDX_OK);
    for (int p = 0; p < 5; p++) {
        if (p < 3) ck_assert_int_eq(split_of_patient_in(&a, pid[p]), want3[p]);
        ck_assert_int_eq(split_of_patient_in(&b, pid[p]), want5[p]);
    }
    for (int sp = 0; sp < 3; sp++) ck_assert_int_eq(s1.split_patients[sp], 1);
    /* the same patches for the first patients in both indexes */
    size_t k = 0;
    for (size_t i = 0; i < b.n && k < a.n; i++) {
        const ndx_patch *pb = &b.patches[i];
        if (strcmp(b.images[pb->image].path, a.images[a.patches[k].image].path)) continue;
        const ndx_patch *pa = &a.patches[k++];
        ck_assert_int_eq(pa->x, pb->x);
        ck_assert_int_eq(pa->y, pb->y);
        ck_assert_int_eq(pa->label, pb->label);
    }
    ck_assert_uint_eq(k, a.n);
    ndx_patches_free(&a);
    ndx_patches_free(&b);
}
END_TEST

START_TEST(patches_geometry_labels_and_loading)
{
    ndx_synth_opts o = small_opts(6, 5);
    o.normal_frac = 0;
    ck_assert_int_eq(ndx_synth(tmp("d"), &o, NULL), NDX_OK);
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ndx_patch_stats st;
    ck_assert_int_eq(ndx_patches_build(tmp("d"), &po, &st), NDX_OK);
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(tmp("d"), &ix), NDX_OK);
    ck_assert_uint_eq(ix.n, (size_t)st.patches);
    ck_assert_int_gt(st.dropped, 0);
    /* the digest is that of the text parsed, read once with the rows */
    uint64_t file_digest = 0;
    ck_assert_int_eq(ndx_hash_file(tmp("d/patches.csv"), 0, &file_digest), NDX_OK);
    ck_assert_uint_eq(ix.digest, file_digest);
    ck_assert_uint_ne(ix.digest, 0);
    long pos = 0;
    for (size_t i = 0; i < ix.n; i++) {
        const ndx_patch *p = &ix.patches[i];
        /* side = 25% of min(250, 400), stride half of it */
        ck_assert_int_eq(p->w, 63);
        ck_assert_int_eq(p->h, 63);
        ck_assert_int_eq(p->x % 32, 0);
        ck_assert_int_eq(p->y % 32, 0);
        ck_assert_float_ge(p->tissue, 0.5f);
        pos += p->label;
        /* a positive patch touches a malignant lesion */
        float mal = 0;
        for (int k = 0; k < NDX_LESION_KINDS; k++) mal += p->overlap[k][1];
        if (p->label) ck_assert_float_gt(mal, 0);
    }
    ck_assert_int_eq(pos, st.positive);
    ck_assert_int_gt(pos, 0);
    /* loading through a cache; a tiny one gives the same pixels (it evicts
     * everything each time) */
    ndx_patch_cache *c = ndx_patch_cache_new(64u << 20), *tiny = ndx_patch_cache_new(1);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(tiny);
    float px[32 * 32], px2[32 * 32], masks[NDX_LESION_KINDS * 2 * 8 * 8];
    int checked = 0;
    for (size_t i = 0; i < ix.n; i++) {
        const ndx_patch *p = &ix.patches[i];
        ck_assert_int_eq(ndx_patch_load(c, &ix, i, 32, px), NDX_OK);
        if (i % 16 == 0) {
            ck_assert_int_eq(ndx_patch_load(tiny, &ix, i, 32, px2), NDX_OK);
            ck_assert_mem_eq(px, px2, sizeof px);
        }
        double mean = 0;
        for (int k = 0; k < 32 * 32; k++) {
            ck_assert_float_ge(px[k], 0);
            ck_assert_float_le(px[k], 1);
            mean += px[k];
        }
        ck_assert_double_gt(mean / (32 * 32), 0.1);   /* mostly breast */
        ck_assert_int_eq(ndx_patch_masks(c, &ix, i, 8, 8, masks), NDX_OK);
        for (int k = 0; k < NDX_LESION_KINDS; k++) {
            double mal = 0, all = 0;
            for (int q = 0; q < 64; q++) {
                mal += masks[(2 * k) * 64 + q];
                all += masks[(2 * k + 1) * 64 + q];
                ck_assert_float_le(masks[(2 * k) * 64 + q], masks[(2 * k + 1) * 64 + q]);
            }
            /* the mean of the resampled mask is the recorded overlap when the
             * image has one lesion of the kind (several: their max, which is
             * at most the union the overlap counts) */
            const ndx_patch_image *im = &ix.images[p->image];
            int nk = 0;
            for (size_t r = 0; r < im->nrows; r++)
                nk += ndx_lesion_kind(&ix.manifest.rows[im->first_row + r]) == k;
            float ov = p->overlap[k][0] + p->overlap[k][1];
            if (nk == 1) ck_assert_double_eq_tol(all / 64, ov, 0.002);
            else ck_assert_double_le(all / 64, ov + 0.002);
            checked += nk == 1 && ov > 0;
            if (p->overlap[k][1] == 0) ck_assert_double_eq(mal, 0);
        }
    }
    ck_assert_int_gt(checked, 0);
    /* threads sharing one small cache get the same pixels as one thread */
    tu_threads(2);   /* fails without OpenMP: the loop below would run on one */
    ndx_patch_cache *shared = ndx_patch_cache_new(2u << 20);
    int mismatches = 0;
    #pragma omp parallel for num_threads(2) reduction(+ : mismatches) schedule(dynamic, 1)
    for (size_t i = 0; i < ix.n; i += 3) {
        float a[16 * 16], b[16 * 16];
        if (ndx_patch_load(shared, &ix, i, 16, a) || ndx_patch_load(c, &ix, i, 16, b) ||
            memcmp(a, b, sizeof a))
            mismatches++;
    }
    ck_assert_int_eq(mismatches, 0);
    ndx_patch_cache_free(shared);
    ck_assert_int_eq(ndx_patch_load(c, &ix, ix.n, 32, px), NDX_ERR_INVALID);
    ndx_patch_cache_free(c);
    ndx_patch_cache_free(tiny);
    ndx_patches_free(&ix);
}
END_TEST

START_TEST(resize_area_filter)
{
    /* 4 x 6 image; the 4 x 4 box at x = 1 down to 2 x 2 = block means */
    uint16_t img[4 * 6];
    for (int i = 0; i < 24; i++) img[i] = (uint16_t)(i * 10);
    float out[4];
    ndx_resize_area_u16(img, 6, 1, 0, 4, 4, 1000, 2, 2, out);
    float want[4] = {(10 + 20 + 70 + 80) / 4000.0f, (30 + 40 + 90 + 100) / 4000.0f,
                     (130 + 140 + 190 + 200) / 4000.0f, (150 + 160 + 210 + 220) / 4000.0f};
    tu_assert_close(out, want, 4, 1e-6, 1e-6, "2x2 blocks");
    /* 3 -> 2 along x: fractional weights, mean preserved */
    uint16_t row[3] = {0, 300, 600};
    float o2[2];
    ndx_resize_area_u16(row, 3, 0, 0, 3, 1, 600, 1, 2, o2);
    float w2[2] = {(0 * 1.0f + 300 * 0.5f) / 1.5f / 600, (300 * 0.5f + 600 * 1.0f) / 1.5f / 600};
    tu_assert_close(o2, w2, 2, 1e-6, 1e-6, "3->2");
    ck_assert_float_eq_tol((o2[0] + o2[1]) / 2, 0.5f, 1e-6);
}
END_TEST

/* ---- CBIS-DDSM import ----------------------------------------------------- */
static void trim(char *s)
{
    char *p = s;
    while (*p && strchr(" \r\n\"", *p)) p++;
    memmove(s, p, strlen(p) + 1);
    size_t n = strlen(s);
    while (n && strchr(" \r\n\"", s[n - 1])) s[--n] = 0;
}

static void mkdirs_for(const char *path)
{
    char b[1024];
    snprintf(b, sizeof b, "%s", path);
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(b, 0777);
            *p = '/';
        }
}

static void png_at(const char *rel_dcm, int w, int h, int mask)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/img/%s", tmpdir, rel_dcm);
    trim(path + strlen(tmpdir) + 5);
    char *dot = strstr(path, ".dcm");
    ck_assert_ptr_nonnull(dot);
    strcpy(dot, ".png");
    mkdirs_for(path);
    if (mask) {
        uint8_t *m = calloc((size_t)w * h, 1);
        for (int y = h / 4; y < h / 2; y++)
            for (int x = w / 4; x < w / 2; x++) m[y * w + x] = 255;
        ck_assert_int_eq(ndx_png_write8(path, m, w, h, 1), NDX_OK);
        free(m);
    } else {
        uint16_t *im = malloc(sizeof *im * w * h);
        for (int i = 0; i < w * h; i++) im[i] = 30000;
        ck_assert_int_eq(ndx_png_write16(path, im, w, h), NDX_OK);
        free(im);
    }
}

/* Creates the PNGs the fixture CSVs point to, with the fixture's traps. */
static void make_cbis_pngs(void)
{
    static const char *const files[4] = {
        "mass_case_description_train_set.csv", "mass_case_description_test_set.csv",
        "calc_case_description_train_set.csv", "calc_case_description_test_set.csv"};
    for (int f = 0; f < 4; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/cbis/%s", test_data(), files[f]);
        ndx_csv *c;
        ck_assert_int_eq(ndx_csv_open(path, &c), NDX_OK);
        ck_assert_int_eq(ndx_csv_next(c), 1);
        while (ndx_csv_next(c) > 0) {
            const char *pid = ndx_csv_field(c, 0), *view = ndx_csv_field(c, 3);
            if (!strcmp(pid, "P_00099")) continue;   /* its PNGs are missing */
            png_at(ndx_csv_field(c, 11), 48, 64, 0);
            int swapped = !strcmp(pid, "P_00016");
            int small = !strcmp(pid, "P_00017") && !strcmp(view, "MLO");
            png_at(ndx_csv_field(c, swapped ? 12 : 13), small ? 24 : 48, small ? 32 : 64, 1);
            png_at(ndx_csv_field(c, swapped ? 13 : 12), 8, 8, 1);   /* the crop */
        }
        ndx_csv_close(c);
    }
}

static void count_note(void *ctx, const char *msg)
{
    char *log = ctx;
    size_t n = strlen(log);
    snprintf(log + n, 8192 - n, "%s\n", msg);
}

START_TEST(cbis_fixtures_with_quirks)
{
    make_cbis_pngs();
    char csv_dir[512], log[8192] = "";
    snprintf(csv_dir, sizeof csv_dir, "%s/cbis", test_data());
    ndx_cbis_stats st;
    ck_assert_int_eq(ndx_cbis_import(csv_dir, tmp("img"), tmp("out"), &st, count_note, log), NDX_OK);
    ck_assert_int_eq(st.csv_rows, 10);
    ck_assert_int_eq(st.rows, 8);
    ck_assert_int_eq(st.missing, 1);
    ck_assert_int_eq(st.invalid, 1);   /* P_00100's breast density 0 */
    ck_assert_ptr_nonnull(strstr(log, "calc_case_description_test_set.csv:6: column 2 (breast_density)"));
    ck_assert_int_eq(st.images, 7);
    ck_assert_int_eq(st.resampled_masks, 1);
    ck_assert_ptr_nonnull(strstr(log, "P_00099"));        /* the skipped row is reported */
    ck_assert_ptr_nonnull(strstr(log, "is 24x32, its image 48x64"));
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tmp("out/manifest.csv"), &m), NDX_OK);
    ck_assert_uint_eq(m.n, 8);
    int seen_lucent = 0, seen_joined = 0, seen_calc_density = 0, seen_swap = 0, kinds[NDX_LESION_KINDS] = {0};
    for (size_t i = 0; i < m.n; i++) {
        const ndx_manifest_row *r = &m.rows[i];
        kinds[ndx_lesion_kind(r)]++;
        /* no quote, CR or LF survives in a path, and it names a PNG that exists */
        ck_assert_ptr_null(strpbrk(r->mask_path, "\"\r\n"));
        ck_assert_ptr_null(strpbrk(r->image_path, "\"\r\n"));
        char full[1200];
        snprintf(full, sizeof full, "%s/%s", tmp("out"), r->mask_path);
        int w, h;
        ck_assert_int_eq(ndx_png_size(full, &w, &h, NULL), NDX_OK);
        ck_assert_int_gt(w, 8);    /* never the crop */
        snprintf(full, sizeof full, "%s/%s", tmp("out"), r->image_path);
        ck_assert_int_eq(ndx_png_size(full, &w, &h, NULL), NDX_OK);
        if (!strcmp(r->calc_type, "AMORPHOUS-LUCENT_CENTERED")) seen_lucent = 1;
        if (!strcmp(r->mass_shape, "IRREGULAR-ARCHITECTURAL_DISTORTION")) seen_joined = 1;
        if (!strcmp(r->patient_id, "P_00005")) seen_calc_density += r->breast_density == 3;
        if (!strcmp(r->patient_id, "P_00016")) seen_swap = strstr(r->mask_path, "000001.png") != NULL;
    }
    ck_assert(seen_lucent);
    ck_assert(seen_joined);
    ck_assert_int_eq(seen_calc_density, 2);   /* "breast density" with a space */
    ck_assert(seen_swap);
    ck_assert_int_eq(kinds[NDX_LESION_MASS], 4);
    ck_assert_int_eq(kinds[NDX_LESION_DISTORTION], 1);
    ck_assert_int_eq(kinds[NDX_LESION_CALC], 2);
    ck_assert_int_eq(kinds[NDX_LESION_VESSEL], 1);
    ndx_manifest_free(&m);
    /* and patches runs on it, resampling the odd mask */
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ndx_patch_stats ps;
    ck_assert_int_eq(ndx_patches_build(tmp("out"), &po, &ps), NDX_OK);
    ck_assert_int_eq(ps.images, 7);
    ck_assert_int_eq(ps.resampled_masks, 1);
    ck_assert_int_gt(ps.positive, 0);
    /* a corrupt image: an error naming it, the earlier patches.csv intact */
    char before[1200], bad[1200];
    snprintf(before, sizeof before, "%s", tmp("out/patches.csv"));
    FILE *f = fopen(before, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long size_before = ftell(f);
    fclose(f);
    ck_assert_int_eq(ndx_manifest_read(tmp("out/manifest.csv"), &m), NDX_OK);
    snprintf(bad, sizeof bad, "%s/%s", tmp("out"), m.rows[0].image_path);
    ndx_manifest_free(&m);
    write_text(bad, "\x89PNG\r\n\x1a\n garbage");
    ck_assert_int_eq(ndx_patches_build(tmp("out"), &po, &ps), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), bad) != NULL, "'%s' does not name %s", ndx_last_error(), bad);
    f = fopen(before, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    ck_assert_int_eq(ftell(f), size_before);
    fclose(f);
    /* a missing CSV directory is an error naming it */
    ck_assert_int_eq(ndx_cbis_import(tmp("nowhere"), tmp("img"), tmp("out2"), &st, NULL, NULL), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "nowhere"));
}
END_TEST


/* patches.csv with one row: the first data row of dir's, with up to two
 * fields replaced (col -1: none) */
static ndx_status patches_variant(const char *dir, int c1, const char *v1, int c2, const char *v2)
{
    char path[600], text[8192], out[8192];
    snprintf(path, sizeof path, "%s/patches.csv.orig", dir);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *row = strchr(text, '\n');
    ck_assert_ptr_nonnull(row);
    *row++ = 0;
    char *end = strchr(row, '\n');
    ck_assert_ptr_nonnull(end);
    *end = 0;
    int len = snprintf(out, sizeof out, "%s\n", text), col = 0;
    for (char *fld = row, *next; fld; fld = next, col++) {
        next = strchr(fld, ',');
        if (next) *next++ = 0;
        const char *v = col == c1 ? v1 : col == c2 ? v2 : fld;
        len += snprintf(out + len, sizeof out - (size_t)len, "%s%s", col ? "," : "", v);
    }
    snprintf(out + len, sizeof out - (size_t)len, "\n");
    snprintf(path, sizeof path, "%s/patches.csv", dir);
    write_text(path, out);
    ndx_patch_index ix;
    ndx_status st = ndx_patches_read(dir, &ix);
    if (st == NDX_OK) ndx_patches_free(&ix);
    return st;
}

static void expect_bad_patches(const char *dir, int c1, const char *v1, int c2, const char *v2,
                               const char *needle)
{
    ndx_status st = patches_variant(dir, c1, v1, c2, v2);
    ck_assert_msg(st == NDX_ERR_FORMAT, "status %d for %s=%s (%s)", st, v1, v2 ? v2 : "",
                  ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), needle) != NULL, "'%s' lacks '%s'", ndx_last_error(),
                  needle);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "patches.csv:2:"));
}

START_TEST(patches_csv_crafted_values)
{
    ndx_synth_opts o = small_opts(2, 7);
    o.normal_frac = 0;
    const char *dir = tmp("c");
    ck_assert_int_eq(ndx_synth(dir, &o, NULL), NDX_OK);
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ck_assert_int_eq(ndx_patches_build(dir, &po, NULL), NDX_OK);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/patches.csv", dir);
    snprintf(b, sizeof b, "%s/patches.csv.orig", dir);
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert_int_eq(patches_variant(dir, -1, NULL, -1, NULL), NDX_OK);   /* the control */
    /* x + w overflows an int: must not pass the box check */
    expect_bad_patches(dir, 3, "2147483000", 5, "1000", "box (2147483000,");
    expect_bad_patches(dir, 4, "2147483000", 6, "1000", "outside the 250x400 image");
    expect_bad_patches(dir, 3, "99999999999", -1, NULL, "column 4 (x): '99999999999'");
    expect_bad_patches(dir, 6, "-3", -1, NULL, "column 7 (h)");
    expect_bad_patches(dir, 9, "nan", -1, NULL, "column 10 (tissue): 'nan'");
    expect_bad_patches(dir, 9, "1.5", -1, NULL, "column 10 (tissue)");
    expect_bad_patches(dir, 10, "250x99999999999", -1, NULL, "column 11 (image_size)");
    /* an index altered in memory: the loaders compare without overflowing */
    ck_assert_int_eq(rename(b, a), 0);
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(dir, &ix), NDX_OK);
    ndx_patch_cache *c = ndx_patch_cache_new(16u << 20);
    ck_assert_ptr_nonnull(c);
    size_t i = 0;   /* a patch of an image with a lesion mask */
    for (int found = 0; !found && i < ix.n; i += !found) {
        const ndx_patch_image *im = &ix.images[ix.patches[i].image];
        for (size_t r = 0; r < im->nrows; r++)
            found |= ndx_lesion_kind(&ix.manifest.rows[im->first_row + r]) >= 0;
    }
    ck_assert_uint_lt(i, ix.n);
    ix.patches[i].x = 2147483000, ix.patches[i].w = 1000;
    float px[8 * 8], masks[NDX_LESION_KINDS * 2 * 8 * 8];
    ck_assert_int_eq(ndx_patch_load(c, &ix, i, 8, px), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "lies outside"));
    ck_assert_int_eq(ndx_patch_masks(c, &ix, i, 8, 8, masks), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "lies outside"));
    ndx_patch_cache_free(c);
    ndx_patches_free(&ix);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *t = tcase_create("manifest");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, manifest_roundtrip_and_normalising);
    tcase_add_test(t, manifest_errors_name_line_and_column);
    suite_add_tcase(s, t);
    t = tcase_create("labels");
    tcase_add_test(t, label_rule_30_percent_of_lesion);
    tcase_add_test(t, label_rule_30_percent_of_patch);
    tcase_add_test(t, resize_area_filter);
    suite_add_tcase(s, t);
    t = tcase_create("pipeline");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, synth_deterministic_and_valid);
    tcase_add_test(t, patches_unchanged_when_patients_are_added);
    tcase_add_test(t, patches_geometry_labels_and_loading);
    tcase_add_test(t, patches_csv_crafted_values);
    tcase_add_test(t, cbis_fixtures_with_quirks);
    suite_add_tcase(s, t);
    return tu_run(s);
}
