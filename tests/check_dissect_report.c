/* The dissection report (index.html, unit pages, tiles) through
 * ndx_dissect_run on a small phantom: header fields, unit pages with their
 * tiles and contexts, --distinct, --draw-threshold, balanced tags. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_nn.h"
#include "testutil.h"

static char dir[256], model[320], data[320];

static void make_dir(void)
{
    strcpy(dir, "/tmp/ndx_check_dissect_report_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(model, sizeof model, "%s/tiny.safetensors", dir);
}

static void setup(void)
{
    struct stat st;
    if (stat(model, &st) == 0) return;
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 3, so.seed = 3, so.pixel_um = 400, so.normal_frac = 0;
    ndx_synth_stats ss;
    ck_assert_msg(ndx_synth(data, &so, &ss) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ndx_patch_stats ps;
    ck_assert_msg(ndx_patches_build(data, &po, &ps) == NDX_OK, "%s", ndx_last_error());
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 5, &net), NDX_OK);
    ck_assert_msg(ndx_safetensors_save(net, model) == NDX_OK, "%s", ndx_last_error());
    ndx_net_free(net);
}

static void remove_dir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) free(s), s = NULL;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int count(const char *text, const char *what)
{
    int k = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what)) k++;
    return k;
}

/* Every opening tag of these kinds is closed. */
static void balanced(const char *text)
{
    static const char *const tags[][2] = {{"<table", "</table>"}, {"<tbody", "</tbody>"},
                                          {"<tr>", "</tr>"},      {"<figure>", "</figure>"},
                                          {"<a ", "</a>"},        {"<html>", "</html>"}};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        ck_assert_msg(count(text, tags[i][0]) == count(text, tags[i][1]), "%s: %d open, %d closed",
                      tags[i][0], count(text, tags[i][0]), count(text, tags[i][1]));
}

static void run(const char *out, ndx_dissect_distinct distinct, ndx_draw_threshold draw,
                ndx_dissect_run_result *r)
{
    static char path[600];
    ndx_dissect_run_opts o;
    ndx_dissect_run_defaults(&o);
    o.model = model, o.data = data, o.split = NDX_SPLIT_TRAIN, o.topk = 8, o.images = 4;
    o.layers[o.nlayers++] = "features.17";
    o.distinct = distinct, o.draw_threshold = draw;
    snprintf(path, sizeof path, "%s/%s", dir, out);
    o.out = path;
    ck_assert_msg(ndx_dissect_run(&o, r) == NDX_OK, "%s", ndx_last_error());
}

START_TEST(test_index_and_pages)
{
    ndx_dissect_run_result r;
    run("img", NDX_DISTINCT_IMAGE, NDX_DRAW_RELATIVE, &r);
    char p[800];
    snprintf(p, sizeof p, "%s/img/index.html", dir);
    char *text = slurp(p);
    ck_assert_ptr_nonnull(text);
    balanced(text);
    ck_assert_ptr_nonnull(strstr(text, model));
    ck_assert_ptr_nonnull(strstr(text, "XXH3-64 <code>"));
    ck_assert_ptr_nonnull(strstr(text, "<td class=s>tiny</td>"));
    ck_assert_ptr_nonnull(strstr(text, "<td class=s>train</td>"));
    char want[200];
    snprintf(want, sizeof want, "<td class=s>%llu, ", (unsigned long long)r.patches);
    ck_assert_ptr_nonnull(strstr(text, want));
    ck_assert_ptr_nonnull(strstr(text, "top 0.5% of all its activations"));
    ck_assert_ptr_nonnull(strstr(text, "with some lesion kind"));
    ck_assert_ptr_nonnull(strstr(text, "What the numbers and pictures mean"));
    /* a unit body per unit, greyed ones among them when their IoU is low */
    ck_assert_int_eq(count(text, "<tbody"), r.layer[0].units);
    const int dim = count(text, "<tbody class=dim>");
    ck_assert_int_le(dim, r.layer[0].units);
    free(text);
    /* every unit a page: k tiles and k contexts, one per mammogram */
    for (int u = 0; u < r.layer[0].units; u++) {
        snprintf(p, sizeof p, "%s/img/units/features.17_%04d.html", dir, u);
        char *page = slurp(p);
        ck_assert_msg(page != NULL, "no page for unit %d", u);
        balanced(page);
        const int k = count(page, "<img class=tile");
        ck_assert_int_ge(k, 1);
        ck_assert_int_eq(count(page, "<img class=ctx"), k);
        /* the image names (in <small>) are distinct */
        const char *s = page;
        char names[64][128];
        int n = 0;
        while ((s = strstr(s, "<small>")) && n < 64) {
            s += 7;
            const char *e = strchr(s, ' ');
            ck_assert_ptr_nonnull(e);
            snprintf(names[n], sizeof names[n], "%.*s", (int)(e - s), s);
            for (int j = 0; j < n; j++) ck_assert_str_ne(names[j], names[n]);
            n++;
        }
        ck_assert_int_eq(n, k);
        for (int i = 0; i < k; i++) {
            snprintf(p, sizeof p, "%s/img/units/features.17_%04d_%02d.png", dir, u, i);
            ndx_image img = {0};
            ck_assert_msg(ndx_png_read(p, 0, &img, NULL, 0) == NDX_OK, "%s", ndx_last_error());
            ck_assert_int_ge(img.w, 192);
            ndx_image_free(&img);
        }
        free(page);
    }
}
END_TEST

/* none shows every top patch; image at most one per mammogram: fewer or
 * as many; the drawing rule changes the pixels of some tile. */
START_TEST(test_distinct_and_draw)
{
    ndx_dissect_run_result a, b;
    run("none", NDX_DISTINCT_NONE, NDX_DRAW_RELATIVE, &a);
    run("quant", NDX_DISTINCT_NONE, NDX_DRAW_QUANTILE, &b);
    int differ = 0;
    char p[800], q[800];
    for (int u = 0; u < a.layer[0].units; u++) {
        snprintf(p, sizeof p, "%s/none/units/features.17_%04d.html", dir, u);
        char *page = slurp(p);
        ck_assert_ptr_nonnull(page);
        ck_assert_int_eq(count(page, "<img class=tile"), 8);   /* k = 8, all shown */
        free(page);
        for (int i = 0; i < 8 && !differ; i++) {
            snprintf(p, sizeof p, "%s/none/units/features.17_%04d_%02d.png", dir, u, i);
            snprintf(q, sizeof q, "%s/quant/units/features.17_%04d_%02d.png", dir, u, i);
            ndx_image x = {0}, y = {0};
            ck_assert_int_eq(ndx_png_read(p, 0, &x, NULL, 0), NDX_OK);
            ck_assert_int_eq(ndx_png_read(q, 0, &y, NULL, 0), NDX_OK);
            ck_assert_int_eq(x.w, y.w);
            differ = memcmp(x.px, y.px, (size_t)x.w * x.h * sizeof *x.px) != 0;
            ndx_image_free(&x), ndx_image_free(&y);
        }
    }
    ck_assert_msg(differ, "--draw-threshold quantile drew the same pixels as relative");
    snprintf(p, sizeof p, "%s/quant/index.html", dir);
    char *text = slurp(p);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "highlight drawn with the quantile rule"));
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dissect_report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_dir, remove_dir);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_index_and_pages);
    tcase_add_test(tc, test_distinct_and_draw);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
