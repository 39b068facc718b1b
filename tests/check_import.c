/* Check suite: outlines (chain codes and polygons), the DDSM and INbreast
 * imports from fixtures the tests write, and their bad-input messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdx.h"
#include "netdx_import.h"
#include "testutil.h"
#include "dicom_fixture.h"
#include "../src/data/import.h"

/* dir/rel for a manifest's relative paths (up to 511 characters): one of
 * four rotating buffers. */
static const char *rowpath(const char *dir, const char *rel)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%.400s/%.511s", dir, rel);
    return buf[k];
}

/* The mask PNG at path as 0 / 255 bytes (malloc'd), its size in *w, *h. */
static uint8_t *read_mask(const char *path, int *w, int *h)
{
    ndx_image im;
    ck_assert_msg(ndx_png_read(path, 0, &im, NULL, 0) == NDX_OK, "%s", ndx_last_error());
    uint8_t *m = malloc((size_t)im.w * im.h);
    ck_assert_ptr_nonnull(m);
    for (size_t i = 0; i < (size_t)im.w * im.h; i++) m[i] = im.px[i] ? 255 : 0;
    *w = im.w, *h = im.h;
    ndx_image_free(&im);
    return m;
}

/* Traces mask and fills the outlines back: whether it comes back exact;
 * *nout / *nholes get the outlines and holes. */
static int round_trip(const uint8_t *mask, int w, int h, size_t *nout, size_t *nholes)
{
    ndx__outline *o;
    size_t n;
    ck_assert_msg(ndx__mask_trace(mask, w, h, &o, &n) == NDX_OK, "%s", ndx_last_error());
    uint8_t *back = malloc((size_t)w * h);
    ck_assert_ptr_nonnull(back);
    ck_assert_msg(ndx__outlines_fill(o, n, back, w, h, "round trip") == NDX_OK, "%s",
                  ndx_last_error());
    *nout = n, *nholes = 0;
    for (size_t i = 0; i < n; i++) *nholes += o[i].hole;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        if ((back[i] != 0) != (mask[i] != 0) && !bad++) first = i;
    if (bad)
        fprintf(stderr, "round trip: %zu pixels differ, first at (%zu, %zu)\n", bad, first % w,
                first / w);
    ndx__outlines_free(o, n);
    free(back);
    return bad == 0;
}

/* Phantoms of 6 patients, all with lesions, into dir. */
static void make_phantoms(const char *dir)
{
    ndx_synth_opts o;
    ndx_synth_defaults(&o);
    o.patients = 6, o.seed = 2207, o.normal_frac = 0;
    ndx_synth_stats st;
    ck_assert_msg(ndx_synth(dir, &o, &st) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_gt(st.lesions, 6);
}

START_TEST(chain_round_trip_phantoms)
{
    /* Chain-code round trip: mask -> chain code -> mask is exact for every
     * phantom lesion.  (The phantoms' masks are one component each, the
     * lesion's disc or outline: several outlines and holes are the next
     * test's.) */
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    make_phantoms(dir);
    ndx_manifest m;
    ck_assert_msg(ndx_manifest_read(tu_tmppath(dir, "manifest.csv"), &m) == NDX_OK, "%s",
                  ndx_last_error());
    long lesions = 0, kinds[NDX_LESION_KINDS] = {0};
    for (size_t i = 0; i < m.n; i++) {
        if (!m.rows[i].mask_path[0]) continue;
        int w, h;
        uint8_t *mask = read_mask(rowpath(dir, m.rows[i].mask_path), &w, &h);
        size_t nout, nh;
        ck_assert_msg(round_trip(mask, w, h, &nout, &nh), "%s: not exact", m.rows[i].mask_path);
        ck_assert_msg(nout > 0, "%s: no outline", m.rows[i].mask_path);
        lesions++;
        kinds[ndx_lesion_kind(&m.rows[i])]++;
        free(mask);
    }
    ck_assert_int_gt(lesions, 6);
    ck_assert_int_gt(kinds[NDX_LESION_MASS], 0);
    ck_assert_int_gt(kinds[NDX_LESION_CALC], 0);
    ndx_manifest_free(&m);
    tu_tmpdir_remove(dir);
}
END_TEST

START_TEST(chain_round_trip_holes)
{
    /* Rings, islands in holes, diagonal touches, spurs and the image edge:
     * seeded random masks from smoothed noise, each exact. */
    uint64_t seed = 22;
    size_t holes = 0;
    for (int t = 0; t < 40; t++) {
        const int w = tu_int(&seed, 1, 70), h = tu_int(&seed, 1, 50);
        uint8_t *mask = calloc((size_t)w * h, 1);
        float *f = malloc((size_t)w * h * sizeof *f);
        ck_assert(mask && f);
        tu_fill(&seed, f, (size_t)w * h);
        const float cut = 0.4f * tu_uniform(&seed);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float s = 0;
                for (int k = 0; k < 4; k++)
                    s += f[(size_t)((y + k / 2) % h) * w + (x + k % 2) % w];
                mask[(size_t)y * w + x] = t % 5 == 0 ? (x + y) % 2 ? 255 : 0 : s / 4 > cut ? 255 : 0;
            }
        size_t nout, nh;
        ck_assert_msg(round_trip(mask, w, h, &nout, &nh), "mask %d (%dx%d): not exact", t, w, h);
        holes += nh;
        free(mask), free(f);
    }
    ck_assert_int_gt(holes, 10);
    /* a ring with an island: three outlines, one a hole */
    uint8_t ring[9 * 9] = {0};
    for (int y = 1; y < 8; y++)
        for (int x = 1; x < 8; x++) ring[y * 9 + x] = (x == 1 || x == 7 || y == 1 || y == 7) ? 255 : 0;
    ring[4 * 9 + 4] = 255;
    size_t nout, nh;
    ck_assert(round_trip(ring, 9, 9, &nout, &nh));
    ck_assert_uint_eq(nout, 3);
    ck_assert_uint_eq(nh, 1);
}
END_TEST

START_TEST(polygon_fill)
{
    /* An axis-aligned rectangle with integer corners fills exactly its
     * pixels; a chain's step directions are DDSM's (0 up, clockwise). */
    enum { W = 40, H = 30 };
    uint8_t m[W * H] = {0};
    const double rect[8] = {5, 4, 20, 4, 20, 12, 5, 12};
    ck_assert_int_eq(ndx__poly_fill(rect, 4, m, W, H, 255), NDX_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            ck_assert_int_eq(m[y * W + x], x >= 5 && x <= 20 && y >= 4 && y <= 12 ? 255 : 0);
    uint8_t code[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    ndx__outline o = {10, 10, 8, code, 0};
    const int want[9][2] = {{10, 10}, {10, 9}, {11, 8}, {12, 8}, {13, 9}, {13, 10}, {12, 11},
                            {11, 11}, {10, 10}};
    uint8_t c[W * H] = {0};
    ck_assert_int_eq(ndx__chain_fill(&o, c, W, H, 255, "t"), NDX_OK);
    for (int i = 0; i < 9; i++) ck_assert_int_eq(c[want[i][1] * W + want[i][0]], 255);
    ck_assert_int_eq(c[9 * W + 11], 255);   /* inside */
    ck_assert_int_eq(c[9 * W + 14], 0);
    double bad[2] = {NAN, 1};
    ck_assert_int_eq(ndx__poly_fill(bad, 1, m, W, H, 255), NDX_ERR_INVALID);
}
END_TEST

/* ---- DDSM ------------------------------------------------------------------ */

static char bin[1024];   /* the netdx beside this suite */

/* netdx (bin) with the arguments, its output into dir/out: its exit status. */
static int cli_run(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cli_run(const char *dir, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int rc = tu_cli_vrun(bin, dir, fmt, ap);
    va_end(ap);
    return rc;
}

static void put_text(const char *path, const char *text)
{
    tu_write_bytes(path, text, strlen(text));
}

/* A case file A_0001_1.ics in dir: w x h views, LEFT_CC with an overlay,
 * the others without; density d. */
static void write_ics(const char *dir, int w, int h, int d)
{
    char t[1024];
    snprintf(t, sizeof t,
             "ics_version 1.0\nfilename A-0001-1\nDATE_OF_STUDY 1 1 1998\nPATIENT_AGE 60\n"
             "FILM\nFILM_TYPE REGULAR\nDENSITY %d\nDIGITIZER LUMISYS LASER\nSEQUENCE\n"
             "LEFT_CC LINES %d PIXELS_PER_LINE %d BITS_PER_PIXEL 12 RESOLUTION 50 OVERLAY\n"
             "LEFT_MLO LINES %d PIXELS_PER_LINE %d BITS_PER_PIXEL 12 RESOLUTION 50 NON_OVERLAY\n"
             "RIGHT_CC LINES %d PIXELS_PER_LINE %d BITS_PER_PIXEL 12 RESOLUTION 50 NON_OVERLAY\n",
             d, h, w, h, w, h, w);
    put_text(tu_tmppath(dir, "A_0001_1.ics"), t);
}

/* "col row c c ... #" of o, appended to buf. */
static void put_chain(char *buf, size_t cap, const ndx__outline *o)
{
    size_t n = strlen(buf);
    n += (size_t)snprintf(buf + n, cap - n, "%d %d", o->x0, o->y0);
    for (size_t i = 0; i < o->n && n + 4 < cap; i++) n += (size_t)snprintf(buf + n, cap - n, " %d", o->code[i]);
    ck_assert_uint_lt(n + 4, cap);
    strcat(buf, " #\n");
}

/* The first phantom lesion masks after `after` with a single outline
 * (one component, no hole) of size w x h: its manifest row index. */
static size_t single_outline(const ndx_manifest *m, const char *dir, size_t after, int w, int h,
                             uint8_t **mask, ndx__outline **o)
{
    for (size_t i = after; i < m->n; i++) {
        if (!m->rows[i].mask_path[0]) continue;
        int mw, mh;
        uint8_t *k = read_mask(rowpath(dir, m->rows[i].mask_path), &mw, &mh);
        size_t n;
        ck_assert_int_eq(ndx__mask_trace(k, mw, mh, o, &n), NDX_OK);
        if (n == 1 && (*o)[0].n >= 8 && (w == 0 || (mw == w && mh == h))) {
            *mask = k;
            return i;
        }
        ndx__outlines_free(*o, n);
        free(k);
    }
    ck_abort_msg("no phantom lesion with one outline");
    return 0;
}

static void collect(void *ctx, const char *msg)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 8192 - n, "%s\n", msg);
}

/* A DDSM case written from phantom masks: dir/cases/A_0001_1.* with
 * LEFT_CC's overlay holding two lesions (their masks m1, m2, w x h),
 * LEFT_MLO without overlay, RIGHT_CC only as an LJPEG. */
typedef struct ddsm_fix {
    char *cases;
    uint8_t *m1, *m2;
    int w, h;
} ddsm_fix;

static void ddsm_fixture(const char *dir, ddsm_fix *f)
{
    char *ph = strdup(tu_tmppath(dir, "phantom"));
    f->cases = strdup(tu_tmppath(dir, "cases"));
    ck_assert_int_eq(mkdir(ph, 0755) | mkdir(f->cases, 0755), 0);
    make_phantoms(ph);
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(tu_tmppath(ph, "manifest.csv"), &m), NDX_OK);
    ndx__outline *o1, *o2;
    int w, h;
    size_t i1 = single_outline(&m, ph, 0, 0, 0, &f->m1, &o1);
    free(read_mask(rowpath(ph, m.rows[i1].mask_path), &w, &h));
    single_outline(&m, ph, i1 + 1, w, h, &f->m2, &o2);
    f->w = w, f->h = h;
    /* a CORE: a 3x3 square around a pixel deep inside lesion 1 */
    int cx = -1, cy = -1;
    for (int y = 2; y < h - 2 && cx < 0; y++)
        for (int x = 2; x < w - 2 && cx < 0; x++) {
            int in = 1;
            for (int k = 0; k < 25; k++) in &= f->m1[(size_t)(y - 2 + k / 5) * w + x - 2 + k % 5] != 0;
            if (in) cx = x, cy = y;
        }
    ck_assert_int_ge(cx, 0);
    uint8_t core_code[8] = {2, 2, 4, 4, 6, 6, 0, 0};
    ndx__outline core = {cx - 1, cy - 1, 8, core_code, 0};
    static char ovl[1 << 20];
    snprintf(ovl, sizeof ovl, "TOTAL_ABNORMALITIES 2\nABNORMALITY 1\nLESION_TYPE MASS SHAPE "
             "LOBULATED-TUBULAR MARGINS SPICULATED\nASSESSMENT 5\nSUBTLETY 4\nPATHOLOGY MALIGNANT\n"
             "TOTAL_OUTLINES 2\nBOUNDARY\n");
    put_chain(ovl, sizeof ovl, o1);
    strcat(ovl, "\tCORE\n");
    put_chain(ovl, sizeof ovl, &core);
    strcat(ovl, "ABNORMALITY 2\nLESION_TYPE CALCIFICATION TYPE PLEOMORPHIC DISTRIBUTION "
           "CLUSTERED\nASSESSMENT 3\nSUBTLETY 2\nPATHOLOGY BENIGN\nTOTAL_OUTLINES 1\nBOUNDARY\n");
    put_chain(ovl, sizeof ovl, o2);
    put_text(tu_tmppath(f->cases, "A_0001_1.LEFT_CC.OVERLAY"), ovl);
    write_ics(f->cases, w, h, 3);
    size_t n;
    char *png = tu_slurp(rowpath(ph, m.rows[i1].image_path), &n);
    ck_assert_ptr_nonnull(png);
    tu_write_bytes(tu_tmppath(f->cases, "A_0001_1.LEFT_CC.LJPEG.png"), png, n);
    tu_write_bytes(tu_tmppath(f->cases, "A_0001_1.LEFT_MLO.png"), png, n);
    put_text(tu_tmppath(f->cases, "A_0001_1.RIGHT_CC.LJPEG"), "not decoded");
    free(png);
    ndx_manifest_free(&m);
    ndx__outlines_free(o1, 1), ndx__outlines_free(o2, 1);
    free(ph);
}

START_TEST(ddsm_overlay_round_trip)
{
    /* An .ics/.OVERLAY pair written from phantom masks with their chain
     * codes imports back to the same masks. */
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    ddsm_fix f;
    ddsm_fixture(dir, &f);
    const int w = f.w, h = f.h;
    char *cases = f.cases;
    uint8_t *m1 = f.m1, *m2 = f.m2;
    static char notes[8192];
    ndx_import_stats st;
    char *out = strdup(tu_tmppath(dir, "out"));
    ck_assert_msg(ndx_ddsm_import(cases, NULL, out, &st, collect, notes) == NDX_OK, "%s",
                  ndx_last_error());
    ck_assert_msg(strstr(notes, "A_0001_1.RIGHT_CC.LJPEG: only the LJPEG is there"), "%s", notes);
    ck_assert_msg(strstr(notes, "code TUBULAR left out"), "%s", notes);
    ck_assert_int_eq(st.cases, 1);
    ck_assert_int_eq(st.images, 2);
    ck_assert_int_eq(st.lesions, 2);
    ck_assert_int_eq(st.skipped, 1);
    ndx_manifest got;
    ck_assert_msg(ndx_manifest_read(tu_tmppath(out, "manifest.csv"), &got) == NDX_OK, "%s",
                  ndx_last_error());
    ck_assert_uint_eq(got.n, 3);
    int seen = 0;
    for (size_t i = 0; i < got.n; i++) {
        const ndx_manifest_row *r = &got.rows[i];
        ck_assert_str_eq(r->patient_id, "A-0001-1");
        ck_assert_int_eq(r->breast_density, 3);
        ck_assert_str_eq(r->side, "LEFT");
        ck_assert_double_eq(r->pixel_spacing_mm, 0.05);   /* RESOLUTION 50 */
        if (!r->abnormality_type[0]) {
            ck_assert_str_eq(r->view, "MLO");
            seen |= 4;
            continue;
        }
        const int calc = !strcmp(r->abnormality_type, "calcification");
        ck_assert_int_eq(r->abnormality_id, calc ? 2 : 1);
        ck_assert_str_eq(calc ? r->calc_type : r->mass_shape, calc ? "PLEOMORPHIC" : "LOBULATED");
        ck_assert_str_eq(calc ? r->calc_distribution : r->mass_margins, calc ? "CLUSTERED" : "SPICULATED");
        ck_assert_str_eq(r->pathology, calc ? "BENIGN" : "MALIGNANT");
        ck_assert_int_eq(r->assessment, calc ? 3 : 5);
        ck_assert_int_eq(r->subtlety, calc ? 2 : 4);
        ck_assert_int_eq(r->mask_kind, NDX_MASK_OUTLINE);
        ck_assert_str_eq(r->finding, calc ? "CALCIFICATION TYPE PLEOMORPHIC DISTRIBUTION CLUSTERED"
                                          : "MASS SHAPE LOBULATED-TUBULAR MARGINS SPICULATED");
        int mw, mh;
        uint8_t *back = read_mask(rowpath(out, r->mask_path), &mw, &mh);
        ck_assert_int_eq(mw, w);
        ck_assert_int_eq(mh, h);
        ck_assert_msg(!memcmp(back, calc ? m2 : m1, (size_t)w * h), "%s differs from the phantom's",
                      r->mask_path);
        free(back);
        seen |= calc ? 2 : 1;
    }
    ck_assert_int_eq(seen, 7);
    ndx_manifest_free(&got);
    free(m1), free(m2), free(cases), free(out);
    tu_tmpdir_remove(dir);
}
END_TEST

START_TEST(ddsm_cli_to_patches)
{
    /* From the case folder to patches with the netdx command alone: the
     * malignant mass gives positive patches, the benign calcification and
     * the image without lesion none of their own. */
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    ddsm_fix f;
    ddsm_fixture(dir, &f);
    char out[512];
    snprintf(out, sizeof out, "%s/ddsm", dir);
    ck_assert_int_eq(cli_run(dir, "import-ddsm --cases %s --out %s", f.cases, out), 0);
    ck_assert(tu_cli_output_has(dir, "import-ddsm: 1 case files seen; 2 images (2 lesion rows) "
                                     "written; left out: 1 images"));
    ck_assert(tu_cli_output_has(dir, "only the LJPEG is there"));
    ck_assert_int_eq(cli_run(dir, "patches --data %s", out), 0);
    char *csv = tu_slurp(rowpath(out, "patches.csv"), NULL);
    ck_assert_ptr_nonnull(csv);
    long pos = 0, rows = 0;
    for (char *l = strchr(csv, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        rows++;
        const char *f8 = l + 1;
        for (int k = 0; k < 7 && f8; k++) f8 = strchr(f8, ',') ? strchr(f8, ',') + 1 : NULL;
        pos += f8 && f8[0] == '1';
    }
    ck_assert_int_gt(rows, 8);
    ck_assert_int_gt(pos, 0);
    ck_assert_int_lt(pos, rows);
    ck_assert_int_eq(cli_run(dir, "import-ddsm --cases %s", f.cases), 2);
    ck_assert_int_eq(cli_run(dir, "import-inbreast --images a --xml b --csv c --out d "
                                   "--malignant-birads 9"), 2);
    free(csv), free(f.cases), free(f.m1), free(f.m2);
    tu_tmpdir_remove(dir);
}
END_TEST

/* One 64 x 48 case whose LEFT_CC overlay is ovl (the other views have no
 * PNG): the import fails naming why, and the message holds want. */
static void ddsm_bad(const char *ovl, int density, const char *want)
{
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    write_ics(dir, 64, 48, density);
    put_text(tu_tmppath(dir, "A_0001_1.LEFT_CC.OVERLAY"), ovl);
    uint16_t px[64 * 48] = {0};
    ck_assert_int_eq(ndx_png_write16(tu_tmppath(dir, "A_0001_1.LEFT_CC.png"), px, 64, 48), NDX_OK);
    static char notes[8192];
    notes[0] = 0;
    ck_assert_int_eq(ndx_ddsm_import(dir, NULL, tu_tmppath(dir, "out"), NULL, collect, notes),
                     NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), want), "'%s' lacks '%s'", ndx_last_error(), want);
    ck_assert_msg(strstr(notes, want), "notes lack '%s':\n%s", want, notes);
    ck_assert_msg(!tu_slurp(tu_tmppath(dir, "out/manifest.csv"), NULL), "a manifest was written");
    tu_tmpdir_remove(dir);
}

START_TEST(ddsm_types)
{
    /* A mass with calcifications is two rows sharing one mask; OTHER is
     * kept as type other; an UNPROVEN lesion is left out, said. */
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    write_ics(dir, 64, 48, 4);
    put_text(tu_tmppath(dir, "A_0001_1.LEFT_CC.OVERLAY"),
             "TOTAL_ABNORMALITIES 3\nABNORMALITY 1\n"
             "LESION_TYPE MASS SHAPE IRREGULAR MARGINS ILL_DEFINED\n"
             "LESION_TYPE CALCIFICATION TYPE LUCENT_CENTER DISTRIBUTION N/A\n"
             "ASSESSMENT 4\nSUBTLETY 0\nPATHOLOGY BENIGN\nTOTAL_OUTLINES 1\nBOUNDARY\n"
             "10 10 2 2 4 4 6 6 0 0 #\nABNORMALITY 2\nLESION_TYPE OTHER\nASSESSMENT 2\n"
             "SUBTLETY 3\nPATHOLOGY BENIGN_WITHOUT_CALLBACK\nTOTAL_OUTLINES 1\nBOUNDARY\n"
             "40 20 4 #\nABNORMALITY 3\nLESION_TYPE MASS SHAPE OVAL MARGINS OBSCURED\n"
             "ASSESSMENT 3\nSUBTLETY 2\nPATHOLOGY UNPROVEN\nTOTAL_OUTLINES 1\nBOUNDARY\n"
             "30 30 2 #\n");
    uint16_t px[64 * 48] = {0};
    ck_assert_int_eq(ndx_png_write16(tu_tmppath(dir, "A_0001_1.LEFT_CC.png"), px, 64, 48), NDX_OK);
    static char notes[8192];
    ndx_import_stats st;
    ck_assert_msg(ndx_ddsm_import(dir, NULL, tu_tmppath(dir, "out"), &st, collect, notes) == NDX_OK,
                  "%s", ndx_last_error());
    ck_assert_msg(strstr(notes, "A_0001_1.LEFT_CC.OVERLAY:19: ABNORMALITY 3: pathology UNPROVEN: "
                         "left out"), "%s", notes);
    ck_assert_int_eq(st.lesions, 3);
    ck_assert_int_eq(st.dropped, 1);
    ndx_manifest m;
    ck_assert_msg(ndx_manifest_read(tu_tmppath(dir, "out/manifest.csv"), &m) == NDX_OK, "%s",
                  ndx_last_error());
    ck_assert_uint_eq(m.n, 3);
    const ndx_manifest_row *r = m.rows;
    ck_assert_str_eq(r[0].abnormality_type, "mass");
    ck_assert_str_eq(r[0].mass_shape, "IRREGULAR");
    ck_assert_str_eq(r[1].abnormality_type, "calcification");
    ck_assert_str_eq(r[1].calc_type, "LUCENT_CENTERED");
    ck_assert_str_eq(r[1].calc_distribution, "");
    ck_assert_str_eq(r[0].mask_path, r[1].mask_path);
    ck_assert_int_eq(r[0].subtlety, 0);
    ck_assert_str_eq(r[2].abnormality_type, "other");
    ck_assert_str_eq(r[2].finding, "OTHER");
    ck_assert_int_eq(r[2].abnormality_id, 2);
    int w, h;
    uint8_t *k = read_mask(rowpath(dir, "out/masks/A_0001_1.LEFT_CC_2.png"), &w, &h);
    ck_assert_int_eq(k[20 * 64 + 40] + k[21 * 64 + 40], 2 * 255);   /* the two-pixel line */
    long on = 0;
    for (int i = 0; i < w * h; i++) on += k[i] != 0;
    ck_assert_int_eq(on, 2);
    free(k);
    ndx_manifest_free(&m);
    tu_tmpdir_remove(dir);
}
END_TEST

#define HEAD "TOTAL_ABNORMALITIES 1\nABNORMALITY 1\n"
#define MASS "LESION_TYPE MASS SHAPE OVAL MARGINS CIRCUMSCRIBED\n"
#define TAIL "ASSESSMENT 4\nSUBTLETY 3\nPATHOLOGY MALIGNANT\nTOTAL_OUTLINES 1\nBOUNDARY\n"

START_TEST(ddsm_bad_input)
{
    ddsm_bad(HEAD MASS TAIL "10 10 2 2 4 4 6 6", 2,
             "A_0001_1.LEFT_CC.OVERLAY:9: ABNORMALITY 1, BOUNDARY: the chain code ends without "
             "'#' after 6 steps (truncated?)");
    ddsm_bad(HEAD MASS TAIL "60 10 2 2 2 2 2 4 #\n", 2,
             "A_0001_1.LEFT_CC.OVERLAY:9: ABNORMALITY 1, BOUNDARY: the chain leaves the 64x48 "
             "image at step 4 (column 64, row 10)");
    ddsm_bad(HEAD "LESION_TYPE TUMOR SHAPE OVAL MARGINS CIRCUMSCRIBED\n" TAIL "10 10 2 4 6 0 #\n", 2,
             "A_0001_1.LEFT_CC.OVERLAY:3: ABNORMALITY 1: unknown LESION_TYPE 'TUMOR' (MASS, "
             "CALCIFICATION or OTHER)");
    ddsm_bad(HEAD "LESION_TYPE MASS SHAPE BLOBBY MARGINS CIRCUMSCRIBED\n" TAIL "10 10 2 4 6 0 #\n",
             2, "OVERLAY:3: ABNORMALITY 1: unknown SHAPE code in 'BLOBBY'");
    ddsm_bad(HEAD MASS TAIL "10 10 2 8 6 0 #\n", 2,
             "OVERLAY:9: ABNORMALITY 1, BOUNDARY: '8 6 0 #' at step 2 is not a chain code 0-7");
    ddsm_bad(HEAD MASS TAIL, 2, "OVERLAY:8: ABNORMALITY 1: the file ends after BOUNDARY");
    ddsm_bad(HEAD MASS "ASSESSMENT 9\n", 2, "OVERLAY:4: ASSESSMENT '9' is not an integer in 0..5");
    ddsm_bad(HEAD MASS TAIL "10 10 2 4 6 0 #\n", 7, "A_0001_1.ics:7: DENSITY '7' is not 1-4");
}
END_TEST

/* ---- INbreast ---------------------------------------------------------------- */

#define PL_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC " \
    "\"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n" \
    "<plist version=\"1.0\">\n<dict>\n\t<key>Images</key>\n\t<array>\n\t\t<dict>\n" \
    "\t\t\t<key>ImageIndex</key>\n\t\t\t<integer>0</integer>\n"

/* One ROI dict of name with the points given ("(x, y)" strings). */
static void put_roi(char *buf, size_t cap, const char *name, int n, const char *const *pts)
{
    size_t o = strlen(buf);
    o += (size_t)snprintf(buf + o, cap - o, "\t\t\t\t<dict>\n\t\t\t\t\t<key>Name</key>\n"
                          "\t\t\t\t\t<string>%s</string>\n\t\t\t\t\t<key>NumberOfPoints</key>\n"
                          "\t\t\t\t\t<integer>%d</integer>\n\t\t\t\t\t<key>Point_px</key>\n"
                          "\t\t\t\t\t<array>\n", name, n);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, cap - o, "\t\t\t\t\t\t<string>%s</string>\n", pts[i]);
    snprintf(buf + o, cap - o, "\t\t\t\t\t</array>\n\t\t\t\t</dict>\n");
}

/* An INbreast folder in dir: two images (File Names 20586908, 20586934),
 * the first with the ROI file xml (and as DICOM when dicom is 1), and the
 * table. */
static void inbreast_fixture(const char *dir, const char *xml, int dicom)
{
    ck_assert_int_eq(mkdir(tu_tmppath(dir, "AllXML"), 0755) | mkdir(tu_tmppath(dir, "AllPNGs"), 0755), 0);
    static uint16_t px[80 * 60];
    for (int i = 0; i < 80 * 60; i++) px[i] = (uint16_t)(i * 7);
    if (dicom) {
        dcm_fx fx = {0};
        fx.w = 80, fx.h = 60, fx.px = px, fx.spacing = "0.07\\0.07";
        fx.image_laterality = "R", fx.view = "CC";
        dcm_write(tu_tmppath(dir, "AllPNGs/20586908_6c613a14b80a8591_MG_R_CC_ANON.dcm"), &fx);
    } else {
        ck_assert_int_eq(ndx_png_write16(tu_tmppath(dir, "AllPNGs/20586908_6c613a14b80a8591_MG_R_CC_ANON.png"),
                                         px, 80, 60), NDX_OK);
    }
    ck_assert_int_eq(ndx_png_write16(tu_tmppath(dir, "AllPNGs/20586934_6c613a14b80a8591_MG_L_ML_ANON.png"),
                                     px, 80, 60), NDX_OK);
    put_text(tu_tmppath(dir, "AllPNGs/notes.txt"), "not an image");
    put_text(tu_tmppath(dir, "AllXML/20586908.xml"), xml);
    put_text(tu_tmppath(dir, "INbreast.csv"),
             "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads\n"
             "removed;;R;CC;201001;20586908;2;4c\nremoved;;L;MLO;201001;20586934;3;1\n");
}

static ndx_status inbreast_run(const char *dir, ndx_import_stats *st, char *notes)
{
    ndx_inbreast_opts o;
    ndx_inbreast_defaults(&o);
    o.images = tu_tmppath(dir, "AllPNGs"), o.xml = tu_tmppath(dir, "AllXML");
    o.csv = tu_tmppath(dir, "INbreast.csv"), o.out = tu_tmppath(dir, "out");
    return ndx_inbreast_import(&o, st, collect, notes);
}

/* An image whose ROIs are all of kinds netdx does not map is left out,
 * not written as lesion-free tissue. */
START_TEST(inbreast_unmapped_rois_leave_the_image_out)
{
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    static char xml[4096];
    snprintf(xml, sizeof xml, "%s\t\t\t<key>NumberOfROIs</key>\n\t\t\t<integer>1</integer>\n"
             "\t\t\t<key>ROIs</key>\n\t\t\t<array>\n", PL_HEAD);
    const char *pt[1] = {"(1, 1)"};
    put_roi(xml, sizeof xml, "Point 1", 1, pt);
    strcat(xml, "\t\t\t</array>\n\t\t</dict>\n\t</array>\n</dict>\n</plist>\n");
    inbreast_fixture(dir, xml, 0);
    static char notes[8192];
    notes[0] = 0;
    ndx_import_stats st;
    ck_assert_msg(inbreast_run(dir, &st, notes) == NDX_OK, "%s", ndx_last_error());
    ck_assert_msg(strstr(notes, "no ROI of a kind netdx maps; image "
                                "20586908_6c613a14b80a8591_MG_R_CC_ANON.png left out"), "%s", notes);
    ck_assert_int_eq(st.images, 1);
    ndx_manifest m;
    ck_assert_msg(ndx_manifest_read(tu_tmppath(dir, "out/manifest.csv"), &m) == NDX_OK, "%s",
                  ndx_last_error());
    ck_assert_uint_eq(m.n, 1);
    ck_assert(strstr(m.rows[0].image_path, "20586934") != NULL);
    ndx_manifest_free(&m);
    tu_tmpdir_remove(dir);
}
END_TEST

START_TEST(inbreast_import)
{
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    static char xml[16384];
    snprintf(xml, sizeof xml, "%s\t\t\t<key>NumberOfROIs</key>\n\t\t\t<integer>5</integer>\n"
             "\t\t\t<key>ROIs</key>\n\t\t\t<array>\n", PL_HEAD);
    const char *rect[4] = {"(10, 10)", "(30, 10)", "(30.0, 25)", "(10, 25.000)"};
    const char *one[1] = {"(50.2, 40.7)"}, *two[1] = {"(70, 50)"};
    const char *tri[3] = {"(60, 5)", "(75, 5)", "(60, 20)"}, *pt[1] = {"(1, 1)"};
    put_roi(xml, sizeof xml, "Mass", 4, rect);
    put_roi(xml, sizeof xml, "Calcification", 1, one);
    put_roi(xml, sizeof xml, "Cluster", 3, tri);
    put_roi(xml, sizeof xml, "Calcification", 1, two);
    put_roi(xml, sizeof xml, "Point 1", 1, pt);
    strcat(xml, "\t\t\t</array>\n\t\t</dict>\n\t</array>\n</dict>\n</plist>\n");
    inbreast_fixture(dir, xml, _i);
    static char notes[8192];
    ndx_import_stats st;
    ck_assert_msg(inbreast_run(dir, &st, notes) == NDX_OK, "%s", ndx_last_error());
    if (_i && !ndx_image_dicom_available()) {   /* make DICOM=0: the .dcm said and left out */
        ck_assert_msg(strstr(notes, "20586908_6c613a14b80a8591_MG_R_CC_ANON.dcm") &&
                      strstr(notes, "image left out"), "%s", notes);
        ck_assert_int_eq(st.images, 1);
        ck_assert_int_eq(st.skipped, 1);
        tu_tmpdir_remove(dir);
        return;
    }
    ck_assert_msg(strstr(notes, "20586908.xml:") && strstr(notes, "ROI 5 'Point 1': not a lesion "
                  "kind netdx maps"), "%s", notes);
    ck_assert_int_eq(st.images, 2);
    ck_assert_int_eq(st.lesions, 3);
    ck_assert_int_eq(st.dropped, 1);
    ndx_manifest m;
    ck_assert_msg(ndx_manifest_read(tu_tmppath(dir, "out/manifest.csv"), &m) == NDX_OK, "%s",
                  ndx_last_error());
    ck_assert_uint_eq(m.n, 4);
    int seen = 0;
    for (size_t i = 0; i < m.n; i++) {
        const ndx_manifest_row *r = &m.rows[i];
        ck_assert_str_eq(r->patient_id, "6c613a14b80a8591");
        if (!r->abnormality_type[0]) {
            ck_assert_str_eq(r->side, "LEFT");
            ck_assert_str_eq(r->view, "MLO");
            ck_assert_int_eq(r->breast_density, 3);
            ck_assert_int_eq(r->assessment, 1);
            seen |= 1;
            continue;
        }
        ck_assert_str_eq(r->side, "RIGHT");
        ck_assert_str_eq(r->view, "CC");
        ck_assert_int_eq(r->breast_density, 2);
        ck_assert_str_eq(r->image_path + strlen(r->image_path) - 4, _i ? ".dcm" : ".png");
        ck_assert_double_eq(r->pixel_spacing_mm, _i ? 0.07 : 0);   /* the DICOM's spacing */
        ck_assert_int_eq(r->assessment, 4);
        ck_assert_str_eq(r->pathology, "MALIGNANT");
        ck_assert_str_eq(r->pathology_source, "birads");
        ck_assert_int_eq(r->subtlety, 0);   /* unknown: INbreast does not grade it */
        int w, h;
        char mp[1024];
        snprintf(mp, sizeof mp, "%s/out/%s", dir, r->mask_path);
        uint8_t *k = read_mask(mp, &w, &h);
        ck_assert_int_eq(w, 80);
        ck_assert_int_eq(h, 60);
        long on = 0;
        for (int j = 0; j < w * h; j++) on += k[j] != 0;
        if (!strcmp(r->abnormality_type, "mass")) {
            ck_assert_str_eq(r->finding, "Mass");
            ck_assert_int_eq(on, 21 * 16);
            ck_assert_int_eq(k[10 * 80 + 10], 255);
            ck_assert_int_eq(k[25 * 80 + 30], 255);
            ck_assert_int_eq(k[26 * 80 + 30], 0);
            seen |= 2;
        } else if (!strcmp(r->calc_distribution, "CLUSTERED")) {
            ck_assert_str_eq(r->finding, "Cluster");
            ck_assert_int_eq(k[5 * 80 + 75], 255);
            ck_assert_int_eq(k[10 * 80 + 62], 255);
            ck_assert_int_eq(k[19 * 80 + 74], 0);
            seen |= 4;
        } else {   /* the two calcifications, one mask: discs of radius 3 */
            ck_assert_str_eq(r->finding, "Calcification");
            ck_assert_int_eq(k[41 * 80 + 50], 255);
            ck_assert_int_eq(k[50 * 80 + 73], 255);
            ck_assert_int_eq(k[50 * 80 + 74], 0);
            ck_assert_int_eq(on, 29 + 29);   /* both discs: 29 pixels each */
            seen |= 8;
        }
        free(k);
    }
    ck_assert_int_eq(seen, 15);
    ndx_manifest_free(&m);
    tu_tmpdir_remove(dir);
}
END_TEST

/* The plist text fails to parse with a message holding want. */
static void plist_bad(const char *text, const char *want)
{
    ndx__plist *p = NULL;
    ck_assert_int_eq(ndx__plist_parse(text, strlen(text), "t.xml", &p), NDX_ERR_FORMAT);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(ndx_last_error(), want), "'%s' lacks '%s'", ndx_last_error(), want);
}

START_TEST(inbreast_bad_xml)
{
    plist_bad("<plist version=\"1.0\">\n<dict>\n<key>Images</key>\n<array>\n",
              "t.xml:5: <array>: the file ends where a tag was expected");
    plist_bad("<plist>\n<dict><key>A</key>\n<string>x</dict></plist>",
              "t.xml:3: <string>: </dict> inside a text element (expected </string>)");
    plist_bad("<plist><dict>\n<key>N</key><integer>12x</integer></dict></plist>",
              "t.xml:2: <integer>: '12x' is not an integer");
    plist_bad("<plist><dict><key>N</key>\n<foo/></dict></plist>",
              "t.xml:2: <foo>: unknown element inside <dict>");
    plist_bad("hello", "t.xml:1: <plist>: text 'hello' where a tag was expected");
    plist_bad("<plist><dict><string>x</string></dict></plist>",
              "t.xml:1: <dict>: <string> where a <key> was expected");
    plist_bad("<plist><dict><key>A&bogus;</key><true/></dict></plist>",
              "<key>: unknown or non-ASCII entity '&bogus;'");
    static char deep[4096];
    strcpy(deep, "<plist>");
    for (int i = 0; i < 100; i++) strcat(deep, "<array>");
    plist_bad(deep, "<array>: nested deeper than 64");
    /* a good one, with what the parser must keep */
    const char *good = "<?xml version=\"1.0\"?><!-- c --><plist><dict><key>a&amp;b</key>"
                       "<array><real>2.5</real><false/><string/></array></dict></plist>\n";
    ndx__plist *p;
    ck_assert_int_eq(ndx__plist_parse(good, strlen(good), "g.xml", &p), NDX_OK);
    const ndx__plist *a = ndx__plist_get(p, "a&b");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->n, 3);
    ck_assert_double_eq(a->kids[0].num, 2.5);
    ck_assert_int_eq(a->kids[1].type, NDX__PL_BOOL);
    ck_assert_str_eq(a->kids[2].text, "");
    ndx__plist_free(p);
    /* through the import: the image is left out, said with file, line, element */
    char dir[256];
    tu_tmpdir_make(dir, "netdx_import");
    static char xml[8192];
    snprintf(xml, sizeof xml, "%s\t\t\t<key>ROIs</key>\n\t\t\t<array>\n", PL_HEAD);
    const char *pts[2] = {"(10, 10)", "(12, abc)"};
    put_roi(xml, sizeof xml, "Mass", 2, pts);
    strcat(xml, "\t\t\t</array>\n\t\t</dict>\n\t</array>\n</dict>\n</plist>\n");
    inbreast_fixture(dir, xml, 0);
    static char notes[8192];
    ndx_import_stats st;
    ck_assert_msg(inbreast_run(dir, &st, notes) == NDX_OK, "%s", ndx_last_error());
    ck_assert_msg(strstr(notes, "AllXML/20586908.xml:20: <string>: ROI 1, point 2: '(12, abc)' is "
                         "not \"(x, y)\"; image left out"), "%s", notes);
    ck_assert_int_eq(st.images, 1);
    ck_assert_int_eq(st.skipped, 1);
    tu_tmpdir_remove(dir);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("import");
    TCase *t = tcase_create("import");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, polygon_fill);
    tcase_add_test(t, chain_round_trip_holes);
    tcase_add_test(t, chain_round_trip_phantoms);
    tcase_add_test(t, ddsm_overlay_round_trip);
    tcase_add_test(t, ddsm_cli_to_patches);
    tcase_add_test(t, ddsm_types);
    tcase_add_test(t, ddsm_bad_input);
    tcase_add_loop_test(t, inbreast_import, 0, 2);   /* PNG, DICOM */
    tcase_add_test(t, inbreast_unmapped_rois_leave_the_image_out);
    tcase_add_test(t, inbreast_bad_xml);
    suite_add_tcase(s, t);
    return tu_run(s);
}
