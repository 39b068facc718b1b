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

/* Phantom data (3 patients at 400 um, ~500 patches, all in train) and the
 * model, by the first test. */
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
    suite_add_tcase(s, tc);
    return tu_run(s);
}
