/* Dissection files suite: the state file (round trip, corrupt and
 * truncated files, shards merged from files), and the outputs (units.csv,
 * units.json, index.html, unit strips, context images).  The fixture is
 * dissect_fixture.h. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <png.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dissect_fixture.h"
#include "netdx_dissect.h"
#include "testutil.h"

static long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
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
    tu_write_bytes(bad, buf, size);
    back = NULL;
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "checksum"));
    buf[size / 2] ^= 0x40;
    /* truncated, at several places */
    const long cuts[] = {size - 1, size - 9, size / 2, 400, 20, 3, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        tu_write_bytes(bad, buf, cuts[i]);
        ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
        ck_assert_msg(strstr(ndx_last_error(), "truncated") || strstr(ndx_last_error(), "magic"),
                      "cut at %ld: %s", cuts[i], ndx_last_error());
    }
    /* trailing garbage */
    unsigned char *big = malloc(size + 1);
    memcpy(big, buf, size);
    big[size] = 0;
    tu_write_bytes(bad, big, size + 1);
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
    free(big);
    /* a header field changed: units (caught by size, before allocating) */
    int32_t units = 60000;
    memcpy(buf + 16 + 64 + 8 * 32, &units, 4);
    tu_write_bytes(bad, buf, size);
    ck_assert_int_eq(ndx_dissect_load(bad, &back), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "header promises"));
    /* other magic */
    memcpy(buf, "NOTDISS", 8);
    tu_write_bytes(bad, buf, size);
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

static int load_gray(void *ctx, int64_t id, float *px, int size)
{
    int *calls = ctx;
    (*calls)++;
    if (id < 0) return -1;
    for (int i = 0; i < size * size; i++) px[i] = 1.0f;
    return 0;
}

/* Whether text holds a word "nan" or "inf" (any case): a number printed
 * from NaN or infinity. */
static int has_nan(const char *text)
{
    for (const char *s = text; *s;) {
        if (!isalpha((unsigned char)*s)) {
            s++;
            continue;
        }
        const char *e = s;
        while (isalpha((unsigned char)*e)) e++;
        if (e - s == 3 && (!strncasecmp(s, "nan", 3) || !strncasecmp(s, "inf", 3))) return 1;
        s = e;
    }
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
    int calls = 0;
    ndx_dissect_output o = {.load = load_gray, .load_ctx = &calls, .patch_size = 24,
                            .strip_count = 3};
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
    /* no class influence (issue 19: `netdx rank` ranks units by their effect) */
    ck_assert_str_eq(line, "layer,unit,max_score,mean_score,threshold,iou_mass,iou_calcification,"
                     "iou_vessel,iou_distortion,iou_malignant,iou_all,best_lesion,best_iou,"
                     "positive_fraction,topk\n");
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
        ck_assert_ptr_null(cJSON_GetObjectItem(e, "class_influence"));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(e, "top")), K);
        ck_assert(fabs(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "iou"), "mass")->valuedouble -
                       info.iou[0]) < 1e-9);
    }
    cJSON *rk = cJSON_GetObjectItem(root, "rankings");
    cJSON *a = cJSON_GetObjectItem(rk, "positive_fraction");
    ck_assert_int_eq(cJSON_GetArraySize(a), U);
    for (int j = 1; j < U; j++)
        ck_assert(cJSON_GetObjectItem(cJSON_GetArrayItem(a, j - 1), "value")->valuedouble >=
                  cJSON_GetObjectItem(cJSON_GetArrayItem(a, j), "value")->valuedouble);
    ck_assert_ptr_null(cJSON_GetObjectItem(rk, "class_influence"));
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
    /* no influence column; the glossary sends the reader to netdx rank */
    ck_assert_ptr_null(strstr(text, "<th data-num>class influence"));
    ck_assert_ptr_nonnull(strstr(text, "<dt>influence on the decision</dt>"));
    ck_assert_ptr_nonnull(strstr(text, "<code>netdx rank</code>"));

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

    /* statistics only (no threshold, no IoU yet): empty fields, no NaN */
    ndx_dissect_free(st);
    st = new_state(NDX_THRESHOLD_QUANTILE, 0.05, NULL);
    feed(st, &d, 0, d.n, NDX_DISSECT_STATS, 3);
    layers[0] = st;
    ndx_dissect_output plain = {0};
    ck_assert_msg(ndx_dissect_write(out, layers, 1, &plain) == NDX_OK, "%s", ndx_last_error());
    const char *files[] = {"units.csv", "units.json", "index.html"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        char *all = tu_slurp(p, NULL);
        ck_assert_ptr_nonnull(all);
        ck_assert_msg(!has_nan(all), "%s holds a NaN or infinity", files[i]);
        free(all);
    }

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
    Suite *s = suite_create("dissect_files");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_state_file);
    tcase_add_test(tc, test_merge_from_files);
    tcase_add_test(tc, test_outputs);
    tcase_add_test(tc, test_context_image);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
