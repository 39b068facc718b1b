/* Check suite: the imports of real data as distributed, on fixtures made
 * from phantoms: CBIS-DDSM's TCIA tree in DICOM (classic and descriptive
 * folder names, the quirks), patches --window-mm, VinDr-Mammo, and the
 * manifest's optional columns. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dicom_fixture.h"
#include "netdx.h"
#include "netdx_import.h"
#include "testutil.h"

static char dir[256];

/* tu_cli_vrun with the arguments given printf-style. */
static int tu_cli_run_import(const char *b, const char *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int rc = tu_cli_vrun(b, d, fmt, ap);
    va_end(ap);
    return rc;
}
static void setup(void) { tu_tmpdir_make(dir, "netdx_import"); }
static void teardown(void) { tu_tmpdir_remove(dir); }
static const char *tmp(const char *name) { return tu_tmppath(dir, name); }

static void mkdirs(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

/* The folder of file path made. */
static void mkparent(const char *path)
{
    char d[1200];
    snprintf(d, sizeof d, "%s", path);
    char *s = strrchr(d, '/');
    ck_assert_ptr_nonnull(s);
    *s = 0;
    mkdirs(d);
}

static void write_text(const char *path, const char *text)
{
    mkparent(path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- the TCIA tree ------------------------------------------------------- */

/* One file of the fixture in the three trees: png/<rel>.png,
 * dcm/<rel>.dcm (classic names) and desc/<folder>/1-<k+1>.dcm (the
 * retriever's descriptive names, listed in desc/metadata.csv).  kind: 0
 * image (16-bit; MONOCHROME1 when mono1), 1 mask (8-bit 0/255), 2 crop. */
typedef struct tree {
    FILE *meta;      /* desc/metadata.csv */
    int series;
} tree;

static void put_file(tree *t, const char *rel_noext, const char *series_uid, int k,
                     const uint16_t *px, int w, int h, int kind, int mono1)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/png/%s.png", dir, rel_noext);
    mkparent(p);
    if (kind == 1) {
        uint8_t *b = malloc((size_t)w * h);
        ck_assert_ptr_nonnull(b);
        for (int i = 0; i < w * h; i++) b[i] = px[i] ? 255 : 0;
        ck_assert_int_eq(ndx_png_write8(p, b, w, h, 1), NDX_OK);
        free(b);
    } else {
        ck_assert_int_eq(ndx_png_write16(p, px, w, h), NDX_OK);
    }
    uint16_t *stored = malloc(sizeof *stored * (size_t)w * h);
    ck_assert_ptr_nonnull(stored);
    for (int i = 0; i < w * h; i++)
        stored[i] = kind == 1 ? (px[i] ? 255 : 0) : mono1 ? (uint16_t)(65535 - px[i]) : px[i];
    dcm_fx x = {.w = w, .h = h, .px = stored, .photometric = mono1 ? "MONOCHROME1" : NULL};
    if (kind == 1) x.bits_allocated = x.bits_stored = 8;
    if (kind == 0) x.spacing = "0.4\\0.4", x.image_laterality = NULL;
    snprintf(p, sizeof p, "%s/dcm/%s.dcm", dir, rel_noext);
    mkparent(p);
    dcm_write(p, &x);
    char folder[600];   /* the series' folder: a new one for file 0, the last one's after */
    snprintf(folder, sizeof folder, "CBIS-DDSM/subject/07-20-2016-DDSM-NA-%d/1.000000-images-%s",
             k == 0 ? t->series : t->series - 1, series_uid);
    snprintf(p, sizeof p, "%s/desc/%s/1-%d.dcm", dir, folder, k + 1);
    mkparent(p);
    dcm_write(p, &x);
    if (k == 0) fprintf(t->meta, "%s,CBIS-DDSM,./%s\n", series_uid, folder), t->series++;
    free(stored);
}

/* The CSV line's three paths for lesion row r (image number ii), the files
 * written; swap: the ROI column names the crop file (a CBIS quirk); wider:
 * the mask 2 pixels wider than its image (another). */
static void lesion_files(tree *t, const char *data, const ndx_manifest_row *r, int ii, int swap,
                         int wider, char *img_p, char *crop_p, char *roi_p, size_t n)
{
    const int km = !strcmp(r->abnormality_type, "mass") ? 1 : 2;   /* its own series per folder */
    const char *kind = km == 1 ? "Mass" : "Calc";
    char rel[700], uid[80], path[1200];
    snprintf(path, sizeof path, "%s/%s", data, r->image_path);
    ndx_image img;
    ck_assert_int_eq(ndx_image_read(path, 0, &img, NULL), NDX_OK);
    snprintf(uid, sizeof uid, "1.3.6.1.4.1.9590.%d.%d", ii, km);
    snprintf(img_p, n, "%s-Training_%s_%s_%s/1.3.6.1.4.1.9590.%d.0/%s/000000.dcm", kind, r->patient_id,
             r->side, r->view, ii, uid);
    snprintf(rel, sizeof rel, "%.*s", (int)strlen(img_p) - 4, img_p);
    struct stat sb;
    snprintf(path, sizeof path, "%s/dcm/%s.dcm", dir, rel);
    if (stat(path, &sb) != 0) put_file(t, rel, uid, 0, img.px, img.w, img.h, 0, ii % 2);
    /* the crop: 16 x 16 pixels of the image; the mask: the lesion's */
    uint16_t crop[256];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) crop[y * 16 + x] = img.px[(size_t)y * img.w + x];
    snprintf(path, sizeof path, "%s/%s", data, r->mask_path);
    ndx_image m;
    ck_assert_int_eq(ndx_image_read(path, 0, &m, NULL), NDX_OK);
    const int mw = m.w + (wider ? 2 : 0);
    uint16_t *mp = calloc((size_t)mw * m.h, sizeof *mp);
    ck_assert_ptr_nonnull(mp);
    for (int y = 0; y < m.h; y++)
        for (int x = 0; x < m.w; x++) mp[(size_t)y * mw + x] = m.px[(size_t)y * m.w + x] > m.maxval / 2;
    snprintf(uid, sizeof uid, "1.3.6.1.4.1.9590.%d.%d.%d", ii, km, r->abnormality_id);
    char base[600];
    snprintf(base, sizeof base, "%s-Training_%s_%s_%s_%d/1.3.6.1.4.1.9590.%d.%d.0/%s", kind,
             r->patient_id, r->side, r->view, r->abnormality_id, ii, r->abnormality_id, uid);
    snprintf(rel, sizeof rel, "%s/000000", base);
    put_file(t, rel, uid, 0, crop, 16, 16, 2, 0);
    snprintf(rel, sizeof rel, "%s/000001", base);
    put_file(t, rel, uid, 1, mp, mw, m.h, 1, 0);
    snprintf(crop_p, n, "%s/%s", base, swap ? "000001.dcm" : "000000.dcm");
    snprintf(roi_p, n, "%s/%s", base, swap ? "000000.dcm" : "000001.dcm");
    free(mp);
    ndx_image_free(&m);
    ndx_image_free(&img);
}

/* CBIS-DDSM's CSVs (mass and calc, training) in csv/ and the three trees
 * from the phantom data in data/: every lesion of every image. */
static void make_tcia(const char *data_path)
{
    char data[512];   /* data_path may be one of tmp()'s rotating buffers */
    snprintf(data, sizeof data, "%s", data_path);
    ndx_manifest m;
    char p[1200];
    snprintf(p, sizeof p, "%s/manifest.csv", data);
    ck_assert_int_eq(ndx_manifest_read(p, &m), NDX_OK);
    mkdirs(tmp("csv"));
    mkdirs(tmp("desc"));
    FILE *mass = fopen(tmp("csv/mass_case_description_train_set.csv"), "w");
    FILE *calc = fopen(tmp("csv/calc_case_description_train_set.csv"), "w");
    tree t = {fopen(tmp("desc/metadata.csv"), "w"), 1};
    ck_assert(mass && calc && t.meta);
    fprintf(t.meta, "Series UID,Collection,File Location\n");
    fprintf(mass, "patient_id,breast_density,left or right breast,image view,abnormality id,"
            "abnormality type,mass shape,mass margins,assessment,pathology,subtlety,"
            "image file path,cropped image file path,ROI mask file path\n");
    fprintf(calc, "patient_id,breast density,left or right breast,image view,abnormality id,"
            "abnormality type,calc type,calc distribution,assessment,pathology,subtlety,"
            "image file path,cropped image file path,ROI mask file path\n");
    int ii = 0, lesions = 0;
    for (size_t i = 0; i < m.n; i++) {
        const ndx_manifest_row *r = &m.rows[i];
        if (i == 0 || strcmp(r->image_path, m.rows[i - 1].image_path)) ii++;
        if (!r->abnormality_type[0]) continue;
        char ip[700], cp[700], rp[700];
        lesion_files(&t, data, r, ii, lesions % 3 == 1, lesions == 2, ip, cp, rp, sizeof ip);
        const int is_mass = !strcmp(r->abnormality_type, "mass");
        fprintf(is_mass ? mass : calc, "%s,%d,%s,%s,%d,%s,%s,%s,%d,%s,%d,%s,%s,\"%s\n\"\n",
                r->patient_id, r->breast_density, r->side, r->view, r->abnormality_id,
                r->abnormality_type, is_mass ? r->mass_shape : r->calc_type,
                is_mass ? r->mass_margins : r->calc_distribution, r->assessment, r->pathology,
                r->subtlety, ip, cp, rp);
        lesions++;
    }
    ck_assert_int_gt(lesions, 3);
    ck_assert_int_eq(fclose(mass), 0);
    ck_assert_int_eq(fclose(calc), 0);
    ck_assert_int_eq(fclose(t.meta), 0);
    ndx_manifest_free(&m);
}

static void note_log(void *ctx, const char *msg)
{
    char *log = ctx;
    size_t n = strlen(log);
    if (n + strlen(msg) + 2 < 16384) snprintf(log + n, 16384 - n, "%s\n", msg);
}

/* patches.csv of a and b agree field by field, the image path but for
 * its first folder and its ending (png/.png against dcm/.dcm). */
static void same_patches(const char *a, const char *b)
{
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/patches.csv", a);
    snprintf(pb, sizeof pb, "%s/patches.csv", b);
    char *ta = tu_slurp(pa, NULL), *tb = tu_slurp(pb, NULL);
    ck_assert(ta && tb);
    long rows = 0;
    char *sa, *sb;
    char *la = strtok_r(ta, "\n", &sa), *lb = strtok_r(tb, "\n", &sb);
    for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb), rows++) {
        char *fa, *fb, *ga, *gb;
        int col = 0;
        for (fa = strtok_r(la, ",", &ga), fb = strtok_r(lb, ",", &gb); fa && fb;
             fa = strtok_r(NULL, ",", &ga), fb = strtok_r(NULL, ",", &gb), col++) {
            if (col == 2 && rows > 0) {   /* ../png/X.png against ../dcm/X.dcm */
                const char *xa = strstr(fa, "png/"), *xb = strstr(fb, "dcm/");
                ck_assert(xa && xb);
                ck_assert_int_eq(strlen(xa), strlen(xb));
                ck_assert_msg(!strncmp(xa + 4, xb + 4, strlen(xa) - 8), "%s against %s", fa, fb);
                continue;
            }
            ck_assert_msg(!strcmp(fa, fb), "patches.csv line %ld column %d: %s against %s",
                          rows + 1, col + 1, fa, fb);
        }
        ck_assert_msg(!fa && !fb, "line %ld: column counts differ", rows + 1);
    }
    ck_assert_msg(!la && !lb, "patches.csv: %ld rows in common, then one file ends", rows);
    ck_assert_int_gt(rows, 20);
    free(ta);
    free(tb);
}

START_TEST(tcia_dicom_tree_gives_the_png_paths_patches)
{
    /* From DICOM phantoms laid out like the TCIA tree, import-cbis --dicom
     * + patches gives the same patches as the PNG path on the same pixels. */
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 3, so.seed = 7, so.pixel_um = 400, so.normal_frac = 0;
    ndx_synth_stats ss;
    ck_assert_msg(ndx_synth(tmp("data"), &so, &ss) == NDX_OK, "%s", ndx_last_error());
    make_tcia(tmp("data"));
    static char log_png[16384], log_dcm[16384], log_desc[16384];
    log_png[0] = log_dcm[0] = log_desc[0] = 0;
    ndx_cbis_stats sp, sd, sx;
    ck_assert_msg(ndx_cbis_import(tmp("csv"), tmp("png"), tmp("out_png"), &sp, note_log, log_png) == NDX_OK,
                  "%s", ndx_last_error());
    ck_assert_msg(ndx_cbis_import_dicom(tmp("csv"), tmp("dcm"), tmp("out_dcm"), &sd, note_log, log_dcm) ==
                  NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(sd.rows, sp.rows);
    ck_assert_int_eq(sd.images, sp.images);
    ck_assert_int_eq(sd.missing, 0);
    ck_assert_int_eq(sd.invalid, 0);
    ck_assert_int_eq(sd.resampled_masks, 1);   /* the mask 2 pixels wider */
    ck_assert_ptr_nonnull(strstr(log_dcm, "the mask is the 'cropped image' file"));
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tmp("out_dcm/manifest.csv"), &m), NDX_OK);
    for (size_t i = 0; i < m.n; i++) {
        ck_assert_double_eq_tol(m.rows[i].pixel_spacing_mm, 0.4, 1e-12);
        ck_assert_ptr_nonnull(strstr(m.rows[i].mask_path, "000001.dcm"));   /* never the crop */
    }
    ndx_manifest_free(&m);
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ndx_patch_stats pp, pd;
    ck_assert_msg(ndx_patches_build(tmp("out_png"), &po, &pp) == NDX_OK, "%s", ndx_last_error());
    ck_assert_msg(ndx_patches_build(tmp("out_dcm"), &po, &pd) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_gt(pd.positive, 0);
    ck_assert_int_eq(pd.patches, pp.patches);
    same_patches(tmp("out_png"), tmp("out_dcm"));
    /* the retriever's descriptive tree, found through its metadata.csv */
    ck_assert_msg(ndx_cbis_import_dicom(tmp("csv"), tmp("desc"), tmp("out_desc"), &sx, note_log,
                                        log_desc) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(sx.rows, sd.rows);
    ck_assert_int_eq(sx.missing, 0);
    ck_assert_ptr_nonnull(strstr(log_desc, "series of the NBIA Data Retriever's tree"));
    ck_assert_msg(ndx_patches_build(tmp("out_desc"), &po, &pd) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(pd.patches, pp.patches);
    /* --window-mm: 20 mm at 0.4 mm is 50 pixels; refused without a spacing */
    po.window_mm = 20;
    ck_assert_msg(ndx_patches_build(tmp("out_dcm"), &po, &pd) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(tmp("out_dcm"), &ix), NDX_OK);
    ck_assert_uint_gt(ix.n, 0);
    for (size_t i = 0; i < ix.n; i++) ck_assert_int_eq(ix.patches[i].w, 50);
    ndx_patches_free(&ix);
    ck_assert_int_eq(ndx_patches_build(tmp("out_png"), &po, &pp), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "has no pixel_spacing_mm"));
}
END_TEST

START_TEST(tcia_bad_file_skips_its_row)
{
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 2, so.seed = 8, so.pixel_um = 400, so.normal_frac = 0;
    ndx_synth_stats ss;
    ck_assert_int_eq(ndx_synth(tmp("data"), &so, &ss), NDX_OK);
    make_tcia(tmp("data"));
    /* the first image of a CSV made a colour image */
    char *csv = tu_slurp(tmp("csv/mass_case_description_train_set.csv"), NULL);
    ck_assert_ptr_nonnull(csv);
    if (!strchr(csv, '\n')[1]) {   /* no mass: the calcification file */
        free(csv);
        csv = tu_slurp(tmp("csv/calc_case_description_train_set.csv"), NULL);
        ck_assert_ptr_nonnull(csv);
    }
    char *line = strchr(csv, '\n') + 1, *f = line;
    for (int c = 0; c < 11; c++) f = strchr(f, ',') + 1;
    *strchr(f, ',') = 0;
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/dcm/%s", dir, f);
    uint16_t rgb[27] = {0};
    dcm_fx x = {.w = 3, .h = 3, .px = rgb, .samples = 3, .photometric = "RGB", .bits_allocated = 8,
                .bits_stored = 8};
    dcm_write(bad, &x);
    free(csv);
    static char log[16384];
    log[0] = 0;
    ndx_cbis_stats st;
    ck_assert_msg(ndx_cbis_import_dicom(tmp("csv"), tmp("dcm"), tmp("out"), &st, note_log, log) == NDX_OK,
                  "%s", ndx_last_error());
    ck_assert_int_ge(st.invalid, 1);
    ck_assert_msg(strstr(log, "(0028,0004) PhotometricInterpretation is 'RGB'") != NULL, "%s", log);
    ck_assert_ptr_nonnull(strstr(log, bad));
}
END_TEST

static char bin[1100];   /* the netdx beside this suite */

START_TEST(cli_import_cbis_dicom_and_window_mm)
{
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 1, so.seed = 9, so.pixel_um = 400, so.normal_frac = 0;
    ndx_synth_stats ss;
    ck_assert_int_eq(ndx_synth(tmp("data"), &so, &ss), NDX_OK);
    make_tcia(tmp("data"));
    ck_assert_int_eq(tu_cli_run_import(bin, dir, "import-cbis --csv-dir %s --dicom %s --out %s",
                                       tmp("csv"), tmp("dcm"), tmp("cli")), 0);
    ck_assert(tu_cli_output_has(dir, "(file missing)"));
    ck_assert(tu_cli_output_has(dir, "wrote "));
    ck_assert_int_eq(tu_cli_run_import(bin, dir, "patches --data %s --window-mm 12.5 --min-tissue 0",
                                       tmp("cli")), 0);
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(tmp("cli"), &ix), NDX_OK);
    ck_assert_uint_gt(ix.n, 0);
    ck_assert_int_eq(ix.patches[0].w, 31);   /* 12.5 mm / 0.4 mm, rounded */
    ndx_patches_free(&ix);
    /* usage errors: both or neither of --images and --dicom, both windows */
    ck_assert_int_eq(tu_cli_run_import(bin, dir, "import-cbis --csv-dir %s --out %s", tmp("csv"),
                                       tmp("cli")), 2);
    ck_assert(tu_cli_output_has(dir, "one of --images and --dicom"));
    ck_assert_int_eq(tu_cli_run_import(bin, dir, "patches --data %s --window 0.2 --window-mm 10",
                                       tmp("cli")), 2);
    ck_assert(tu_cli_output_has(dir, "exclude each other"));
}
END_TEST

/* ---- VinDr-Mammo ------------------------------------------------------------ */

START_TEST(vindr_boxes_become_box_masks)
{
    const int w = 60, h = 80;
    uint16_t *px = calloc((size_t)w * h, sizeof *px);
    ck_assert_ptr_nonnull(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w / 2; x++) px[y * w + x] = (uint16_t)(20000 + 100 * (x + y));
    const char *img[4] = {"i1", "i2", "i3", "i4"};
    for (int i = 0; i < 4; i++) {
        char p[200];
        snprintf(p, sizeof p, "vindr/images/s%d/%s.dicom", i / 2, img[i]);
        mkparent(tmp(p));
        dcm_fx x = {.w = w, .h = h, .px = px, .imager_spacing = "0.1\\0.1", .image_laterality = i % 2 ? "R" : "L",
                    .view = "CC", .photometric = i == 3 ? "MONOCHROME1" : NULL};
        dcm_write(tmp(p), &x);
    }
    write_text(tmp("vindr/breast-level_annotations.csv"),
               "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,"
               "breast_density,split\n"
               "s0,se,i1,L,CC,80,60,BI-RADS 4,DENSITY C,training\n"
               "s0,se,i2,R,CC,80,60,BI-RADS 1,DENSITY C,training\n"
               "s1,se,i3,,,80,60,BI-RADS 2,DENSITY A,test\n"
               "s1,se,i4,R,CC,80,60,BI-RADS 2,DENSITY X,test\n");
    write_text(tmp("vindr/finding_annotations.csv"),
               "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,"
               "breast_density,finding_categories,finding_birads,xmin,ymin,xmax,ymax,split\n"
               "s0,se,i1,L,CC,80,60,BI-RADS 4,DENSITY C,\"['Mass', 'Suspicious Calcification']\","
               "BI-RADS 4,10.2,20.5,30.7,40.1,training\n"
               "s0,se,i1,L,CC,80,60,BI-RADS 4,DENSITY C,['Focal Asymmetry'],BI-RADS 3,50,70,75,95,training\n"
               "s0,se,i1,L,CC,80,60,BI-RADS 4,DENSITY C,['Skin Thickening'],BI-RADS 2,0,0,5,5,training\n"
               "s0,se,i1,L,CC,80,60,BI-RADS 4,DENSITY C,['Mass'],BI-RADS 4,-1e300,1,1e300,4,training\n"
               "s0,se,i1,L,CC,80,60,BI-RADS 4,DENSITY C,['Architectural Distortion'],,1,1,4,4,training\n"
               "s0,se,i2,R,CC,80,60,BI-RADS 1,DENSITY C,['No Finding'],,,,,,training\n"
               "s0,se,i2,R,CC,80,60,BI-RADS 1,DENSITY C,['Mass'],BI-RADS 4,-inf,1,1e300,4,training\n");
    static char log[16384];
    log[0] = 0;
    ndx_vindr_stats st;
    ck_assert_msg(ndx_vindr_import(tmp("vindr"), tmp("out"), &st, note_log, log) == NDX_OK, "%s",
                  ndx_last_error());
    ck_assert_int_eq(st.images, 2);      /* i4's density is refused; i2's finding unusable */
    ck_assert_int_eq(st.findings, 4);    /* the distortion has no BI-RADS */
    ck_assert_int_eq(st.boxes_clipped, 2);   /* one of +-1e300: clipped as doubles */
    ck_assert_int_eq(st.skipped, 3);   /* and i2's box of infinite corners */
    ck_assert_msg(strstr(log, "breast_density is not DENSITY A-D") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "finding 'Architectural Distortion' skipped") != NULL, "%s", log);
    /* an image whose findings were all dropped is not written as lesion-free */
    ck_assert_msg(strstr(log, "image i2 left out: none of its findings could be used") != NULL,
                  "%s", log);
    ndx_manifest m;
    ck_assert_msg(ndx_manifest_read(tmp("out/manifest.csv"), &m) == NDX_OK, "%s", ndx_last_error());
    ck_assert_uint_eq(m.n, 5);   /* i1: 4 findings; i3: none */
    int seen = 0;
    for (size_t i = 0; i < m.n; i++) {
        const ndx_manifest_row *r = &m.rows[i];
        ck_assert_double_eq_tol(r->pixel_spacing_mm, 0.1, 1e-12);
        if (strstr(r->image_path, "i3")) {   /* side and view from the DICOM header */
            ck_assert_str_eq(r->side, "LEFT");
            ck_assert_str_eq(r->view, "CC");
            ck_assert_int_eq(r->breast_density, 1);
            ck_assert_int_eq(r->mask_kind, NDX_MASK_NONE);
        }
        if (!strcmp(r->finding, "Mass; Suspicious Calcification")) {
            seen++;
            ck_assert_str_eq(r->abnormality_type, "mass");
            ck_assert_str_eq(r->pathology, "MALIGNANT");
            ck_assert_str_eq(r->pathology_source, "birads");
            ck_assert_int_eq(r->assessment, 4);
            ck_assert_int_eq(r->mask_kind, NDX_MASK_BOX);
            char p[1200];
            snprintf(p, sizeof p, "%s/%s", tmp("out"), r->mask_path);
            ndx_image mk;
            ck_assert_int_eq(ndx_image_read(p, 0, &mk, NULL), NDX_OK);
            ck_assert_int_eq(mk.w, w);
            long on = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    const int in = x >= 10 && x < 31 && y >= 20 && y < 41;
                    ck_assert_int_eq(mk.px[y * w + x] != 0, in);
                    on += in;
                }
            ck_assert_int_eq(on, 21 * 21);
            ndx_image_free(&mk);
        }
        if (!strcmp(r->finding, "Focal Asymmetry")) {
            seen++;
            ck_assert_str_eq(r->abnormality_type, "asymmetry");
            ck_assert_str_eq(r->pathology, "BENIGN");
            ck_assert_int_eq(ndx_lesion_kind(r), NDX_LESION_MASS);
        }
        if (!strcmp(r->finding, "Skin Thickening")) {
            seen++;
            ck_assert_str_eq(r->abnormality_type, "other");
            ck_assert_int_eq(ndx_lesion_kind(r), -1);
        }
    }
    ck_assert_int_eq(seen, 3);
    ndx_manifest_free(&m);
    /* and patches runs on it, the DICOM images and the box masks */
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    po.window_mm = 2;   /* 20 pixels */
    po.min_tissue = 0;
    ndx_patch_stats ps;
    ck_assert_msg(ndx_patches_build(tmp("out"), &po, &ps) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_gt(ps.positive, 0);
    free(px);
}
END_TEST

/* ---- the manifest's optional columns ------------------------------------------- */

#define HDR15 "patient_id,breast_density,left_or_right_breast,image_view,abnormality_id," \
              "abnormality_type,mass_shape,mass_margins,calc_type,calc_distribution,"     \
              "assessment,pathology,subtlety,image_path,mask_path"

static void manifest_refused(const char *text, const char *needle)
{
    write_text(tmp("m.csv"), text);
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tmp("m.csv"), &m), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), needle) != NULL, "'%s' lacks '%s'", ndx_last_error(), needle);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "m.csv"));
}

START_TEST(manifest_optional_columns)
{
    /* an old manifest reads with the defaults; written back it has them all */
    write_text(tmp("old.csv"), HDR15 "\n"
               "P_1,2,LEFT,CC,1,mass,ROUND,,,,4,BENIGN,2,a.png,m.png\n"
               "P_1,2,RIGHT,CC,,,,,,,1,,,b.png,\n");
    ndx_manifest m, m2;
    ck_assert_int_eq(ndx_manifest_read(tmp("old.csv"), &m), NDX_OK);
    ck_assert_int_eq(m.rows[0].mask_kind, NDX_MASK_OUTLINE);
    ck_assert_int_eq(m.rows[1].mask_kind, NDX_MASK_NONE);
    ck_assert_double_eq(m.rows[0].pixel_spacing_mm, 0);
    ck_assert_int_eq(ndx_manifest_write(tmp("new.csv"), &m), NDX_OK);
    char *text = tu_slurp(tmp("new.csv"), NULL);
    ck_assert_ptr_nonnull(strstr(text, "mask_path,pixel_spacing_mm,mask_kind,finding,pathology_source\n"));
    free(text);
    ck_assert_int_eq(ndx_manifest_read(tmp("new.csv"), &m2), NDX_OK);
    ck_assert_mem_eq(m2.rows, m.rows, sizeof *m.rows * m.n);
    ndx_manifest_free(&m);
    ndx_manifest_free(&m2);
    /* any order; the new types; an unknown subtlety */
    write_text(tmp("ext.csv"), HDR15 ",finding,mask_kind,pixel_spacing_mm\n"
               "V_1,3,LEFT,MLO,1,distortion,,,,,4,MALIGNANT,,a.dcm,b.png,\"Architectural, Distortion\",box,0.085\n"
               "V_1,3,LEFT,MLO,2,asymmetry,,,,,3,BENIGN,,a.dcm,c.png,,,0.085\n");
    ck_assert_msg(ndx_manifest_read(tmp("ext.csv"), &m) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(ndx_lesion_kind(&m.rows[0]), NDX_LESION_DISTORTION);
    ck_assert_int_eq(ndx_lesion_kind(&m.rows[1]), NDX_LESION_MASS);
    ck_assert_int_eq(m.rows[0].mask_kind, NDX_MASK_BOX);
    ck_assert_int_eq(m.rows[1].mask_kind, NDX_MASK_OUTLINE);
    ck_assert_str_eq(m.rows[0].finding, "Architectural, Distortion");
    ck_assert_int_eq(m.rows[0].subtlety, 0);
    ck_assert_int_eq(ndx_manifest_write(tmp("ext2.csv"), &m), NDX_OK);
    ck_assert_int_eq(ndx_manifest_read(tmp("ext2.csv"), &m2), NDX_OK);
    ck_assert_mem_eq(m2.rows, m.rows, sizeof *m.rows * m.n);
    ndx_manifest_free(&m);
    ndx_manifest_free(&m2);
    /* errors name the line and the column */
    manifest_refused(HDR15 ",colour\nP_1,2,LEFT,CC,,,,,,,1,,,b.png,,x\n", ":1: column 16 of the header is 'colour'");
    manifest_refused(HDR15 ",mask_kind,mask_kind\nP_1,2,LEFT,CC,,,,,,,1,,,b.png,,,\n", "given twice");
    manifest_refused(HDR15 ",mask_kind\nP_1,2,LEFT,CC,1,mass,,,,,1,BENIGN,1,b.png,m.png,circle\n",
                     ":2: column 16 (mask_kind): 'circle' is not outline, box or none");
    manifest_refused(HDR15 ",mask_kind\nP_1,2,LEFT,CC,,,,,,,1,,,b.png,,box\n",
                     ":2: column mask_kind: must be none or empty without abnormality_type");
    manifest_refused(HDR15 ",pixel_spacing_mm\nP_1,2,LEFT,CC,,,,,,,1,,,b.png,,-1\n",
                     ":2: column 16 (pixel_spacing_mm): '-1' is not a spacing");
    manifest_refused(HDR15 ",pathology_source\nP_1,2,LEFT,CC,1,mass,,,,,1,BENIGN,1,b.png,m.png,guess\n",
                     "column pathology_source: must be empty or birads");
    manifest_refused(HDR15 "\nP_1,2,LEFT,CC,1,lump,,,,,1,BENIGN,1,b.png,m.png\n",
                     "'lump' is not mass, calcification, distortion, asymmetry or other");
    manifest_refused(HDR15 ",pixel_spacing_mm\nP_1,2,LEFT,CC,1,mass,,,,,1,BENIGN,1,b.png,m.png,0.1\n"
                     "P_1,2,LEFT,CC,2,mass,,,,,1,BENIGN,1,b.png,n.png,0.2\n",
                     "has pixel_spacing_mm 0.2 here but 0.1");
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("import_dicom");
    TCase *t = tcase_create("manifest");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, manifest_optional_columns);
    suite_add_tcase(s, t);
    t = tcase_create("imports");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    if (ndx_image_dicom_available()) {
        tcase_add_test(t, tcia_dicom_tree_gives_the_png_paths_patches);
        tcase_add_test(t, tcia_bad_file_skips_its_row);
        tcase_add_test(t, cli_import_cbis_dicom_and_window_mm);
        tcase_add_test(t, vindr_boxes_become_box_masks);
    } else {
        fprintf(stderr, "check_import_dicom: built without DICOM (DICOM=0): the CBIS-DDSM DICOM and "
                "VinDr-Mammo tests did not run\n");
    }
    suite_add_tcase(s, t);
    return tu_run(s);
}
