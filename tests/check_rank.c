/* Unit ranking suite (netdx rank, src/dissect/rank.c, rank_run.c):
 * DeepMiner's count on a hand-computed example; against PyTorch on a
 * resnet18 (tests/data/rank_resnet18.gold from tools/gen_rank_golden.py:
 * the whole-image maxima, the units kept per image and the ranking, ties
 * broken by the smaller channel, compared exactly); the refusal of
 * networks without a pooled classifier (AlexNet, a VGG-like head); the run
 * on phantom data (outputs, unit_0001 naming); gradient x activation
 * against its closed form at a layer that feeds a global pool. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "golden.h"
#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_nn.h"
#include "../src/dissect/rank_int.h"
#include "testutil.h"

START_TEST(test_select_ties)
{
    const float c[5] = {1, 5, 5, 3, 5};
    int idx[4];
    ndx_rank_select(5, c, 3, idx);
    ck_assert_int_eq(idx[0], 1);
    ck_assert_int_eq(idx[1], 2);
    ck_assert_int_eq(idx[2], 4);
    ndx_rank_select(5, c, 4, idx);
    ck_assert_int_eq(idx[3], 3);
    const float d[3] = {-2, -1, -3};
    ndx_rank_select(3, d, 1, idx);
    ck_assert_int_eq(idx[0], 1);
}
END_TEST

/* 3 images, 4 units, top 2.  Row 1 (weights -1 1 .5 2): contributions
 * (-1 2 1.5 8), (-4 3 1 2), (-2 2 1 4): kept {3,1} {1,3} {3,1}: counts u1 3,
 * u3 3 -> order 1 3 0 2.  Row 2 (1 0 .5 2): (1 0 1.5 8) {3,2}, (4 0 1 2)
 * {0,3}, (2 0 1 4) {3,0}: u3 3, u0 2, u2 1, u1 0.  Row 0 (all 1): (1 2 3 4)
 * {3,2}, (4 3 2 1) {0,1}, (2 2 2 2) {0,1} (ties: smaller channel): u0 2,
 * u1 2, u2 1, u3 1. */
START_TEST(test_hand_example)
{
    const float act[12] = {1, 2, 3, 4, 4, 3, 2, 1, 2, 2, 2, 2};
    const float w[12] = {1, 1, 1, 1, -1, 1, 0.5f, 2, 1, 0, 0.5f, 2};
    ndx_rank_unit out[12];
    ck_assert_int_eq(ndx_rank_units(3, 4, 3, act, w, 2, out), NDX_OK);
    const int unit[12] = {0, 1, 2, 3, 1, 3, 0, 2, 3, 0, 2, 1};
    const int count[12] = {2, 2, 1, 1, 3, 3, 0, 0, 3, 2, 1, 0};
    for (int i = 0; i < 12; i++) {
        ck_assert_msg(out[i].unit == unit[i] && out[i].count == count[i],
                      "entry %d: unit %d count %d, want %d %d", i, out[i].unit, out[i].count,
                      unit[i], count[i]);
    }
    ck_assert_double_eq_tol(out[4].mean, 7.0 / 3, 1e-9);    /* u1, row 1: (2+3+2)/3 */
    ck_assert_double_eq_tol(out[5].mean, 14.0 / 3, 1e-9);   /* u3, row 1: (8+2+4)/3 */
    ck_assert_double_eq_tol(out[6].mean, -7.0 / 3, 1e-9);   /* u0, row 1 */
    ck_assert_double_eq_tol(out[8].mean, 14.0 / 3, 1e-9);   /* u3, row 2 */
    const float bad[12] = {1, 2, NAN, 4, 4, 3, 2, 1, 2, 2, 2, 2};
    ck_assert_int_eq(ndx_rank_units(3, 4, 3, bad, w, 2, out), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "image 0, unit 2"));
    ck_assert_int_eq(ndx_rank_units(3, 4, 3, act, w, 5, out), NDX_ERR_INVALID);
}
END_TEST

/* The golden file's header and images: maxima, kept units, and ranking. */
START_TEST(test_resnet18_vs_pytorch)
{
    gold_file g;
    gold_record h, r;
    gold_open(&g, "rank_resnet18.gold");
    ck_assert(gold_next(&g, &h));
    gold_expect(&g, &h, 7, 0);
    const int seed = h.p[0], classes = h.p[1], input = h.p[2], scale = h.p[3], top = h.p[4];
    const int nimg = h.p[5], units = h.p[6];
    ndx_net *base = NULL, *cache = NULL;
    ck_assert_int_eq(ndx_zoo_build("resnet18", classes, input, 0, &base), NDX_OK);
    ndx_net_init_hash(base, (uint64_t)seed);
    const int node = ndx_rank_pooled_layer(base);
    ck_assert_int_eq(node, ndx_net_find(base, "layer4"));
    float rows[NDX_RANK_MAX_ROWS * 512];
    char names[NDX_RANK_MAX_ROWS][16];
    ck_assert_int_eq(units, 512);
    ck_assert_int_eq(ndx__rank_rows(base, units, rows, names), 3);
    ck_assert_str_eq(names[2], "decision");
    float *all = malloc((size_t)nimg * units * sizeof *all), c[512];
    int idx[512];
    for (int i = 0; i < nimg; i++) {
        ck_assert(gold_next(&g, &r));
        gold_expect(&g, &r, 4, 3);
        float *mx = all + (size_t)i * units;
        ck_assert_msg(ndx__rank_image_max(base, &cache, node, r.t[0].data, r.p[0], r.p[1],
                                          scale * input, mx) == NDX_OK, "%s", ndx_last_error());
        int ch, oh, ow;
        ndx_net_node_shape(cache, 0, &ch, &oh, &ow);
        ck_assert_int_eq(oh, r.p[2]);
        ck_assert_int_eq(ow, r.p[3]);
        double scale_mx = 1e-3;
        for (int u = 0; u < units; u++) scale_mx = fmax(scale_mx, fabs(r.t[1].data[u]));
        for (int u = 0; u < units; u++)
            ck_assert_msg(fabs(mx[u] - r.t[1].data[u]) <= 1e-4 * scale_mx,
                          "image %d unit %d: %g vs PyTorch %g", i, u, mx[u], r.t[1].data[u]);
        for (int row = 0; row < 3; row++) {
            for (int u = 0; u < units; u++) c[u] = mx[u] * rows[row * units + u];
            ndx_rank_select(units, c, top, idx);
            for (int k = 0; k < top; k++)
                ck_assert_msg(idx[k] == (int)r.t[2].data[row * top + k],
                              "image %d row %d: kept #%d is %d, PyTorch %d", i, row, k, idx[k],
                              (int)r.t[2].data[row * top + k]);
        }
        gold_record_free(&r);
    }
    ck_assert(gold_next(&g, &r));
    gold_expect(&g, &r, 2, 3);
    ndx_rank_unit *out = malloc((size_t)3 * units * sizeof *out);
    ck_assert_int_eq(ndx_rank_units(nimg, units, 3, all, rows, top, out), NDX_OK);
    for (int i = 0; i < 3 * units; i++) {
        ck_assert_msg(out[i].unit == (int)r.t[0].data[i] && out[i].count == (int)r.t[1].data[i],
                      "ranking %d: unit %d count %d, PyTorch %d %d", i, out[i].unit,
                      out[i].count, (int)r.t[0].data[i], (int)r.t[1].data[i]);
        ck_assert_msg(fabs(out[i].mean - r.t[2].data[i]) <= 1e-4 * (1 + fabs(r.t[2].data[i])),
                      "mean %d: %g vs %g", i, out[i].mean, r.t[2].data[i]);
    }
    gold_record_free(&r);
    gold_record_free(&h);
    gold_close(&g);
    free(out), free(all);
    ndx_net_free(cache), ndx_net_free(base);
}
END_TEST

/* A VGG-like head: conv -> adaptive pool 2x2 -> flatten -> fc -> relu -> fc. */
START_TEST(test_refuses_flattened_heads)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("alexnet", 2, 64, 0, &net), NDX_OK);
    ck_assert_int_eq(ndx_rank_pooled_layer(net), -1);
    const char *e = ndx_last_error();
    ck_assert_msg(strstr(e, "alexnet") && strstr(e, "flattened") && strstr(e, "gradxact"), "%s", e);
    ndx_net_free(net);
    net = ndx_net_new("vgg16", 3, 8, 8);
    int x = ndx_net_conv(net, "features.0", 0, 4, 3, 3, 1, 1, 1, 1, 1, 1);
    x = ndx_net_adaptive_avgpool(net, "avgpool", x, 2, 2);
    x = ndx_net_flatten(net, "flatten", x);
    x = ndx_net_linear(net, "classifier.0", x, 6, 1);
    x = ndx_net_relu(net, "classifier.1", x);
    ndx_net_linear(net, "classifier.6", x, 2, 1);
    ck_assert_int_eq(ndx_net_finish(net, 1), NDX_OK);
    ck_assert_int_eq(ndx_rank_pooled_layer(net), -1);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "vgg16: DeepMiner's ranking does not apply"));
    ndx_net_free(net);
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 0, &net), NDX_OK);
    ck_assert_int_eq(ndx_rank_pooled_layer(net), ndx_net_find(net, "features.17"));
    ndx_net_free(net);
}
END_TEST

static char dir[256], model[320], data[320], data2[320], out[320], bin[1024];

static void make_dir(void)
{
    strcpy(dir, "/tmp/ndx_check_rank_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(data2, sizeof data2, "%s/data2", dir);
    snprintf(model, sizeof model, "%s/tiny.safetensors", dir);
    snprintf(out, sizeof out, "%s/out", dir);
}

static void remove_dir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* Phantom data (one patient per split), a second set of 2 patients (both
 * in train, no val or test split) and a tiny model at 32 px. */
static void setup(void)
{
    struct stat st;
    if (stat(model, &st) == 0) return;
    ndx_patch_stats ps;
    tu_phantom(data2, 2, &ps);
    ck_assert_int_eq(ps.split_patches[NDX_SPLIT_VAL], 0);
    tu_phantom_tiny(data, model);
}

/* Images holding at least one patch of the split. */
static size_t split_images(int split)
{
    ndx_patch_index ix;
    ck_assert_msg(ndx_patches_read(data, &ix) == NDX_OK, "%s", ndx_last_error());
    size_t n = 0;
    for (size_t i = 0; i < ix.nimages; i++) {
        int has = 0;
        for (size_t p = 0; p < ix.n && !has; p++)
            has = ix.patches[p].image == (int)i && ix.patches[p].split == split;
        n += has;
    }
    ndx_patches_free(&ix);
    return n;
}

START_TEST(test_run_deepminer)
{
    ndx_rank_opts o;
    ndx_rank_defaults(&o);
    o.model = model, o.data = data, o.out = out, o.split = NDX_SPLIT_TRAIN, o.show = 5;
    ndx_rank_result r;
    ck_assert_msg(ndx_rank_run(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(r.network, "tiny");
    ck_assert_int_eq(r.nrows, 3);
    ck_assert_int_eq(r.units, 128);
    /* the train patient's 2 breasts x 2 views */
    ck_assert_uint_eq(split_images(NDX_SPLIT_TRAIN), 4);
    ck_assert_uint_eq(r.items, 4);
    for (int row = 0; row < 3; row++) {
        long sum = 0;
        for (int u = 0; u < r.units; u++) {
            const ndx_rank_unit *e = &r.ranking[row * r.units + u];
            sum += e->count;
            if (u) ck_assert(e->count <= e[-1].count);
        }
        ck_assert_int_eq(sum, (long)r.items * o.top);
    }
    char p[400], line[256];
    snprintf(p, sizeof p, "%s/rank.csv", out);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    int n = 0, unit, urank;
    char uname[32];
    while (fgets(line, sizeof line, f)) {
        if (n++ == 0) {
            ck_assert_str_eq(line, "network,layer,method,class,rank,unit,unit_name,count,"
                                   "mean_contribution\n");
            continue;
        }
        ck_assert_int_eq(sscanf(line, "tiny,features.17,deepminer,%*[^,],%d,%d,%31[^,],", &urank,
                                &unit, uname), 3);
        char want[32];
        snprintf(want, sizeof want, "unit_%04d", unit + 1);
        ck_assert_str_eq(uname, want);
    }
    fclose(f);
    ck_assert_int_eq(n, 1 + 3 * 5);
    ndx_rank_free(&r);
    o.split = NDX_SPLIT_VAL, o.data = data2;   /* its 2 patients are both in train */
    ck_assert_int_eq(ndx_rank_run(&o, &r), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "no val images"));
    o.split = NDX_SPLIT_TRAIN, o.data = data, o.layer = "features.9";
    ck_assert_int_eq(ndx_rank_run(&o, &r), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "gradxact"));
}
END_TEST

/* At features.17 (-> global average pool -> fc) dz_c/dA_u(x, y) = W[c][u] /
 * hw, so the mean of sum_xy grad x act is W[c][u] x the mean pooled value
 * of unit u over the positive patches, computed here by a plain forward. */
START_TEST(test_gradxact_closed_form)
{
    ndx_rank_opts o;
    ndx_rank_defaults(&o);
    o.model = model, o.data = data, o.split = NDX_SPLIT_TRAIN, o.method = NDX_RANK_GRADXACT;
    o.batch = 5;
    ndx_rank_result r;
    ck_assert_msg(ndx_rank_run(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(r.layer, "features.17");
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(data, &ix), NDX_OK);
    ndx_patch_cache *cache = ndx_patch_cache_new(64 << 20);
    const int pool = ndx_net_find(net, "avgpool");
    double mean[128] = {0};
    float gray[32 * 32], x[3 * 32 * 32];
    size_t npos = 0;
    for (size_t i = 0; i < ix.n; i++) {
        if (ix.patches[i].split != NDX_SPLIT_TRAIN || !ix.patches[i].label) continue;
        ck_assert_int_eq(ndx_patch_load(cache, &ix, i, 32, gray), NDX_OK);
        ndx_gray_to_input(1, 32 * 32, gray, x);
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, pool), NDX_OK);
        ndx_tensor t;
        ck_assert_int_eq(ndx_net_output(net, pool, &t), NDX_OK);
        for (int u = 0; u < 128; u++) mean[u] += t.data[u];
        npos++;
    }
    ck_assert_uint_eq(r.items, npos);
    ck_assert_uint_gt(npos, 5);   /* more than one batch, a partial last one */
    ndx_param_info w;
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 2, &w), NDX_OK);
    ck_assert_str_eq(w.name, "fc.weight");
    for (int row = 0; row < 3; row++)
        for (int k = 0; k < 128; k++) {
            const ndx_rank_unit *e = &r.ranking[row * 128 + k];
            const int u = e->unit;
            const double wu = row < 2 ? w.data[row * 128 + u] : w.data[128 + u] - w.data[u];
            const double want = wu * mean[u] / (double)npos;
            ck_assert_msg(fabs(e->mean - want) <= 1e-4 * (fabs(want) + 1e-3),
                          "row %d unit %d: %g, closed form %g", row, u, e->mean, want);
            if (k) ck_assert(e->mean <= e[-1].mean);
        }
    ndx_patch_cache_free(cache);
    ndx_patches_free(&ix);
    ndx_net_free(net);
    ndx_rank_free(&r);
}
END_TEST

/* Sum over the positive patches of logit `cls` (class 1 - class 0 for
 * cls 2) with unit u of conv tensor wt scaled by s. */
static double logit_sum(ndx_net *net, int wt, int u, float s, const float *x, int cls)
{
    ndx_param_info w;
    ck_assert_int_eq(ndx_net_tensor(net, wt, &w), NDX_OK);
    const size_t per = w.numel / (size_t)w.shape[0];
    float *p = w.data + (size_t)u * per;
    for (size_t i = 0; i < per; i++) p[i] *= s;
    ndx_net_touch(net);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    for (size_t i = 0; i < per; i++) p[i] /= s;
    ndx_net_touch(net);
    ndx_tensor t;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &t), NDX_OK);
    double sum = 0;
    for (int b = 0; b < ndx_net_batch(net); b++)
        sum += cls < 2 ? t.data[2 * b + cls] : t.data[2 * b + 1] - t.data[2 * b];
    return sum;
}

/* At a convolution without bias (features.12), scaling unit u's weights by
 * (1 + e) scales its output A_u by (1 + e), so the central difference of
 * the logit in e is sum_xy dz/dA_u x A_u: gradxact's score, by finite
 * differences, for the top units of each row. */
START_TEST(test_gradxact_finite_differences)
{
    ndx_rank_opts o;
    ndx_rank_defaults(&o);
    o.model = model, o.data = data, o.split = NDX_SPLIT_TRAIN, o.method = NDX_RANK_GRADXACT;
    o.layer = "features.12", o.batch = 7;
    ndx_rank_result r;
    ck_assert_msg(ndx_rank_run(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(data, &ix), NDX_OK);
    ndx_patch_cache *cache = ndx_patch_cache_new(64 << 20);
    float *x = malloc(ix.n * 3 * 32 * 32 * sizeof *x), gray[32 * 32];
    int n = 0;
    for (size_t i = 0; i < ix.n; i++) {
        if (ix.patches[i].split != NDX_SPLIT_TRAIN || !ix.patches[i].label) continue;
        ck_assert_int_eq(ndx_patch_load(cache, &ix, i, 32, gray), NDX_OK);
        ndx_gray_to_input(1, 32 * 32, gray, x + (size_t)n++ * 3 * 32 * 32);
    }
    ck_assert_uint_eq(r.items, (uint64_t)n);
    ck_assert_int_eq(ndx_net_plan(net, n, NDX_PLAN_INFER), NDX_OK);
    int wt = -1;
    for (int t = 0; t < ndx_net_num_tensors(net); t++) {
        ndx_param_info w;
        ndx_net_tensor(net, t, &w);
        if (!strcmp(w.name, "features.12.weight")) wt = t;
    }
    ck_assert_int_ge(wt, 0);
    const float e = 1e-2f;
    for (int row = 0; row < 3; row++) {
        const double top = fabs(r.ranking[row * 128].mean);
        for (int k = 0; k < 3; k++) {
            const ndx_rank_unit *u = &r.ranking[row * 128 + k];
            const double fd = (logit_sum(net, wt, u->unit, 1 + e, x, row) -
                               logit_sum(net, wt, u->unit, 1 - e, x, row)) / (2.0 * e * n);
            ck_assert_msg(fabs(fd - u->mean) <= 0.02 * top, "row %d unit %d: %g, finite "
                          "differences %g", row, u->unit, u->mean, fd);
        }
    }
    free(x);
    ndx_patch_cache_free(cache);
    ndx_patches_free(&ix);
    ndx_net_free(net);
    ndx_rank_free(&r);
}
END_TEST

/* netdx rank (the binary beside the tests' folder): exit code; its output
 * in dir/log. */
static int cli(const char *args)
{
    char cmd[4000];
    snprintf(cmd, sizeof cmd, "NETDX_THREADS=2 %s rank --model %s --data %s %s > %s/log 2>&1",
             bin, model, data, args, dir);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int log_has(const char *what)
{
    char p[400];
    snprintf(p, sizeof p, "%s/log", dir);
    char *text = tu_slurp(p, NULL);
    const int has = text && strstr(text, what);
    free(text);
    return has;
}

START_TEST(test_cli)
{
    char args[1200];
    snprintf(args, sizeof args, "--split train --show 3 --out %s/cli", dir);
    ck_assert_int_eq(cli(args), 0);
    ck_assert(log_has("tiny features.17, 4 images, top 8 of 128 units"));
    ck_assert(log_has("class decision"));
    char p[400];
    struct stat st;
    snprintf(p, sizeof p, "%s/cli/rank.json", dir);
    ck_assert_int_eq(stat(p, &st), 0);
    snprintf(args, sizeof args, "--method nope --out %s/cli", dir);
    ck_assert_int_eq(cli(args), 2);
    ck_assert(log_has("--method: 'nope' is not deepminer or gradxact"));
    snprintf(args, sizeof args, "--split val --data %s --out %s/cli", data2, dir);
    ck_assert_int_eq(cli(args), 1);
    ck_assert(log_has("no val images"));
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("rank");
    TCase *tc = tcase_create("ranking");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_select_ties);
    tcase_add_test(tc, test_hand_example);
    tcase_add_test(tc, test_resnet18_vs_pytorch);
    tcase_add_test(tc, test_refuses_flattened_heads);
    suite_add_tcase(s, tc);
    TCase *run = tcase_create("run");
    tcase_set_timeout(run, 300);
    tcase_add_unchecked_fixture(run, make_dir, remove_dir);
    tcase_add_checked_fixture(run, setup, NULL);
    tcase_add_test(run, test_run_deepminer);
    tcase_add_test(run, test_gradxact_closed_form);
    tcase_add_test(run, test_gradxact_finite_differences);
    tcase_add_test(run, test_cli);
    suite_add_tcase(s, run);
    return tu_run(s);
}
