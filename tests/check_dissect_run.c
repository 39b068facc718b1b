/* The dissection pass through the library (ndx_dissect_run), end to end on
 * phantom data and a random-init `tiny`:
 *   - two layers in one run (one forward per batch serves both) give, row
 *     for row, the units.csv lines of two one-layer runs; the results name
 *     the best unit per mask kind as units.csv does; units.json carries the
 *     network and the model; progress reaches the total;
 *   - keep_states hands the states over, out = NULL writes nothing;
 *   - shards merged through the library count every patch once;
 *   - bad options (a missing layer, a layer twice, a bad shard, a split
 *     without patches) fail with the culprit named and write nothing.
 * tests/check_cli.c runs the netdx dissect command itself. */
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_nn.h"
#include "testutil.h"

static char dir[256], model[320], data[320];

/* The folder, in the runner (no OpenMP there: a forked test would hang in
 * a thread pool its parent started). */
static void make_dir(void)
{
    strcpy(dir, "/tmp/ndx_check_dissect_run_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(model, sizeof model, "%s/tiny.safetensors", dir);
}

/* Phantom data (~500 patches, one patient per split) and the model, by
 * the first test. */
static void setup(void) { tu_phantom_tiny(data, model); }

static void remove_dir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static char *slurp(const char *sub, const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    return tu_slurp(p, NULL);
}

static int exists(const char *sub)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    struct stat st;
    return stat(p, &st) == 0;
}

static void opts_for(ndx_dissect_run_opts *o, const char *out)
{
    static char path[600];
    ndx_dissect_run_defaults(o);
    o->model = model;
    o->data = data;
    o->split = NDX_SPLIT_TRAIN;
    o->topk = 8;
    o->batch = 7;   /* a partial last batch */
    o->images = 0;
    if (out) {
        snprintf(path, sizeof path, "%s/%s", dir, out);
        o->out = path;
    }
}

typedef struct prog { uint64_t last, total; int calls, monotone; } prog;
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    prog *p = ctx;
    if (p->calls && done <= p->last) p->monotone = 0;   /* a second pass restarts */
    p->last = done, p->total = total;
    p->calls++;
}

/* The lines of text that start with prefix, into out; returns their count. */
static int count_prefix(const char *text, const char *prefix, char *out, size_t n)
{
    int k = 0;
    size_t used = 0;
    out[0] = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        const size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        if (!strncmp(line, prefix, strlen(prefix)) && used + len < n) {
            memcpy(out + used, line, len);
            used += len;
            out[used] = 0;
            k++;
        }
        line = end ? end + 1 : NULL;
    }
    return k;
}

START_TEST(test_two_layers_one_forward)
{
    static const char *const layers[2] = {"features.14", "features.17"};
    ndx_dissect_run_opts o;
    ndx_dissect_run_result r;
    char *one[2];
    for (int l = 0; l < 2; l++) {
        opts_for(&o, l ? "one17" : "one14");
        o.shard = 1, o.nshards = 2;   /* half the patches: the suite runs under ASan too */
        o.layers[o.nlayers++] = layers[l];
        ck_assert_msg(ndx_dissect_run(&o, &r) == NDX_OK, "%s", ndx_last_error());
        one[l] = slurp(l ? "one17" : "one14", "units.csv");
        ck_assert_ptr_nonnull(one[l]);
    }
    opts_for(&o, "both");
    o.shard = 1, o.nshards = 2;
    o.layers[o.nlayers++] = layers[0];
    o.layers[o.nlayers++] = layers[1];
    prog pg = {0, 0, 0, 1};
    o.progress = on_progress, o.progress_ctx = &pg;
    ck_assert_msg(ndx_dissect_run(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(r.nlayers, 2);
    ck_assert_str_eq(r.network, "tiny");
    ck_assert(r.patches > 0);
    ck_assert(pg.calls >= 1 && pg.total == r.patches && pg.last == r.patches);
    ck_assert(r.passes == 1 ? pg.monotone : !pg.monotone);
    char *both = slurp("both", "units.csv");
    ck_assert_ptr_nonnull(both);
    static char a[1 << 20], b[1 << 20];
    for (int l = 0; l < 2; l++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s,", layers[l]);
        const int na = count_prefix(one[l], prefix, a, sizeof a);
        const int nb = count_prefix(both, prefix, b, sizeof b);
        ck_assert_int_eq(na, r.layer[l].units);
        ck_assert_int_eq(nb, na);
        ck_assert_msg(!strcmp(a, b), "%s: the two-layer run's rows differ from its own run's",
                      layers[l]);
        ck_assert_str_eq(r.layer[l].name, layers[l]);
        for (int m = 0; m < r.nmasks; m++) {   /* the best unit has the highest IoU */
            ck_assert_int_ge(r.layer[l].best_unit[m], 0);
            ck_assert(r.layer[l].best_iou[m] >= 0 && r.layer[l].best_iou[m] <= 1);
        }
    }
    ck_assert_int_eq(r.nmasks, 6);
    ck_assert_str_eq(r.mask_names[0], "mass");
    ck_assert_str_eq(r.mask_names[5], "all");
    char *js = slurp("both", "units.json");
    cJSON *root = cJSON_Parse(js);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(cJSON_GetObjectItem(root, "network")->valuestring, "tiny");
    ck_assert_str_eq(cJSON_GetObjectItem(root, "model")->valuestring, model);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "units")),
                     r.layer[0].units + r.layer[1].units);
    cJSON_Delete(root);
    free(js);
    ck_assert(exists("both/features.14.dstate") && exists("both/features.17.dstate"));
    free(both), free(one[0]), free(one[1]);
}
END_TEST

START_TEST(test_states_and_merge)
{
    ndx_dissect_run_opts o;
    ndx_dissect_run_result r, s[2];
    opts_for(&o, NULL);
    o.layers[o.nlayers++] = "features.17";
    o.keep_states = 1;
    ck_assert_msg(ndx_dissect_run(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_ptr_nonnull(r.state[0]);
    ck_assert_ptr_null(r.state[1]);
    ck_assert_uint_eq(ndx_dissect_patches(r.state[0], 0), r.patches);
    ck_assert_uint_eq(ndx_dissect_patches(r.state[0], 1), r.patches);
    ndx_dissect_unit info;
    ck_assert_int_eq(ndx_dissect_unit_info(r.state[0], r.layer[0].best_unit[1], &info), NDX_OK);
    ck_assert(info.iou[1] == r.layer[0].best_iou[1]);
    ndx_dissect_free(r.state[0]);
    for (int k = 0; k < 2; k++) {
        opts_for(&o, k ? "s1" : "s0");
        o.layers[o.nlayers++] = "features.17";
        o.shard = k, o.nshards = 2;
        ck_assert_msg(ndx_dissect_run(&o, &s[k]) == NDX_OK, "%s", ndx_last_error());
    }
    ck_assert_uint_eq(s[0].patches + s[1].patches, r.patches);
    ndx_dissect_run_opts m;
    ndx_dissect_run_defaults(&m);
    char a[600], b[600], out[600];
    snprintf(a, sizeof a, "%s/s0", dir);
    snprintf(b, sizeof b, "%s/s1", dir);
    snprintf(out, sizeof out, "%s/merged", dir);
    m.merge[0] = a, m.merge[1] = b, m.out = out, m.model = model, m.images = 0;
    ndx_dissect_run_result mr;
    ck_assert_msg(ndx_dissect_run(&m, &mr) == NDX_OK, "%s", ndx_last_error());
    ck_assert_uint_eq(mr.patches, r.patches);
    ck_assert_int_eq(mr.nlayers, 1);
    ck_assert_int_eq(mr.passes, 0);
    ck_assert_int_eq(mr.layer[0].best_unit[1], r.layer[0].best_unit[1]);
    ck_assert(exists("merged/units.csv") && exists("merged/features.17.dstate"));
}
END_TEST

/* One bad option: an error naming `what`, and no output folder. */
static void refused(ndx_dissect_run_opts *o, const char *what)
{
    ndx_dissect_run_result r;
    ck_assert_int_ne(ndx_dissect_run(o, &r), NDX_OK);
    ck_assert_msg(strstr(ndx_last_error(), what) != NULL, "'%s' lacks '%s'", ndx_last_error(),
                  what);
    ck_assert(!exists("bad"));
}

START_TEST(test_bad_options)
{
    ndx_dissect_run_opts o;
    opts_for(&o, "bad");
    o.layers[o.nlayers++] = "features.99";
    refused(&o, "features.99");
    opts_for(&o, "bad");
    o.layers[o.nlayers++] = "features.17";
    o.layers[o.nlayers++] = "features.17";
    refused(&o, "twice");
    opts_for(&o, "bad");
    o.layers[o.nlayers++] = "features.17";
    o.shard = 2, o.nshards = 2;
    refused(&o, "shard");
    opts_for(&o, "bad");
    o.layers[o.nlayers++] = "features.17";
    o.split = NDX_SPLIT_TEST;
    o.nshards = 100000, o.shard = 99999;
    refused(&o, "no test patches");
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "choose another split"));   /* what to do */
    opts_for(&o, "bad");
    o.layers[o.nlayers++] = "features.17";
    o.model = "/nonexistent/m.safetensors";
    refused(&o, "/nonexistent/m.safetensors");
    opts_for(&o, "bad");
    refused(&o, "layers");
    ndx_dissect_run_result r;
    ck_assert_int_eq(ndx_dissect_run(NULL, &r), NDX_ERR_INVALID);
}
END_TEST

/* ---- the report: index.html, unit pages, tiles ---------------------------- */
/* A file under dir by its full path. */
static char *slurp_path(const char *path) { return slurp(".", path + strlen(dir) + 1); }

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

static void run_report(const char *out, ndx_dissect_distinct distinct, ndx_draw_threshold draw,
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
    run_report("img", NDX_DISTINCT_IMAGE, NDX_DRAW_RELATIVE, &r);
    char p[800];
    snprintf(p, sizeof p, "%s/img/index.html", dir);
    char *text = slurp_path(p);
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
        char *page = slurp_path(p);
        ck_assert_msg(page != NULL, "no page for unit %d", u);
        balanced(page);
        const int k = count(page, "<img class=\"tile full\"");
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
    run_report("none", NDX_DISTINCT_NONE, NDX_DRAW_RELATIVE, &a);
    run_report("quant", NDX_DISTINCT_NONE, NDX_DRAW_QUANTILE, &b);
    int differ = 0;
    char p[800], q[800];
    for (int u = 0; u < a.layer[0].units; u++) {
        snprintf(p, sizeof p, "%s/none/units/features.17_%04d.html", dir, u);
        char *page = slurp_path(p);
        ck_assert_ptr_nonnull(page);
        ck_assert_int_eq(count(page, "<img class=\"tile full\""), 8);   /* k = 8, all shown */
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
    char *text = slurp_path(p);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "highlight drawn with the quantile rule"));
    free(text);
}
END_TEST

/* --distinct lesion: within a page, no two shown boxes of one mammogram
 * overlap (the small print gives "image (x, y, w×h)"). */
START_TEST(test_distinct_lesion)
{
    ndx_dissect_run_result r;
    run_report("lesion", NDX_DISTINCT_LESION, NDX_DRAW_RELATIVE, &r);
    char p[800];
    for (int u = 0; u < r.layer[0].units; u++) {
        snprintf(p, sizeof p, "%s/lesion/units/features.17_%04d.html", dir, u);
        char *page = slurp_path(p);
        ck_assert_ptr_nonnull(page);
        char names[64][128];
        int box[64][4], n = 0;
        for (const char *s = page; (s = strstr(s, "<small>")) && n < 64; n++) {
            s += 7;
            ck_assert_int_eq(sscanf(s, "%127s (%d, %d, %d&times;%d)", names[n], &box[n][0], &box[n][1],
                                    &box[n][2], &box[n][3]), 5);
            for (int j = 0; j < n; j++)
                ck_assert_msg(strcmp(names[j], names[n]) || box[j][0] + box[j][2] <= box[n][0] ||
                                  box[n][0] + box[n][2] <= box[j][0] || box[j][1] + box[j][3] <= box[n][1] ||
                                  box[n][1] + box[n][3] <= box[j][1],
                              "unit %d shows overlapping boxes of %s", u, names[n]);
        }
        ck_assert_int_eq(count(page, "<img class=\"tile full\""), n);
        free(page);
    }
}
END_TEST

/* index.html alone (ndx_dissect_write): a kind absent from the split reads
 * n/a (cells and summary); with no active pixel (T above every score) every
 * IoU is 0: best is empty and every unit greyed; strings escaped. */
START_TEST(test_index_absent_and_zero)
{
    enum { U = 3, N = 4, M = 6 };
    const float fixed[U] = {1e30f, 1e30f, 1e30f};
    ndx_dissect_config c = {.layer = "conv5", .units = U, .h = 2, .w = 2, .topk = 2,
                            .mode = NDX_THRESHOLD_FIXED, .fixed = fixed};
    ndx_dissect *st = NULL;
    ck_assert_msg(ndx_dissect_new(&c, &st) == NDX_OK, "%s", ndx_last_error());
    float maps[N * U * 4];
    for (int i = 0; i < N * U * 4; i++) maps[i] = (float)(i % 7);
    const int64_t ids[N] = {0, 1, 2, 3};
    uint8_t ones[8 * 8];
    memset(ones, 1, sizeof ones);
    const uint8_t *masks[N * M];
    for (int i = 0; i < N * M; i++) masks[i] = ones;
    ndx_dissect_batch b = {.n = N, .maps = maps, .ids = ids, .mask_h = 8, .mask_w = 8, .masks = masks};
    ck_assert_msg(ndx_dissect_add(st, &b, NDX_DISSECT_STATS | NDX_DISSECT_IOU) == NDX_OK, "%s",
                  ndx_last_error());
    const uint64_t kinds[M] = {4, 0, 4, 4, 4, 4};
    ndx_dissect_output o = {.kind_patches = kinds, .split = "val", .network = "t<x>"};
    char out[400];
    snprintf(out, sizeof out, "%s/zero", dir);
    const ndx_dissect *layers[1] = {st};
    ck_assert_msg(ndx_dissect_write(out, layers, 1, &o) == NDX_OK, "%s", ndx_last_error());
    char *text = slurp("zero", "index.html");
    ck_assert_ptr_nonnull(text);
    balanced(text);
    ck_assert_int_eq(count(text, "n/a</td>"), U + 1);
    ck_assert_int_eq(count(text, "<tbody class=dim>"), U);
    ck_assert_int_eq(count(text, "<td class=s></td><td>0."), U);   /* best empty */
    ck_assert_ptr_nonnull(strstr(text, "<b>0 of 3 units</b>"));
    ck_assert_ptr_nonnull(strstr(text, "t&lt;x&gt;"));
    ck_assert_ptr_null(strstr(text, "t<x>"));
    ck_assert_ptr_nonnull(strstr(text, "<td class=s>val</td>"));
    free(text);
    ndx_dissect_free(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dissect_run");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_dir, remove_dir);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_two_layers_one_forward);
    tcase_add_test(tc, test_states_and_merge);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_index_and_pages);
    tcase_add_test(tc, test_distinct_and_draw);
    tcase_add_test(tc, test_distinct_lesion);
    tcase_add_test(tc, test_index_absent_and_zero);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
