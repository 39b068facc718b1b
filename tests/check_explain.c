/* netdx explain: the 1x1-convolution classifier against the patch
 * classifier, the unit contributions by hand, a phantom lesion under the
 * heat map's maximum on a trained tiny model, the readers' labels, the
 * outputs and bad input. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_explain.h"
#include "netdx_nn.h"
#include "netdx_report.h"
#include "testutil.h"
#include "dicom_fixture.h"
#include "../src/dissect/rank_int.h"
#include "../src/explain/explain_int.h"

static char dir[256], data[320], model[320], model3[320], diss[320], bin[1024];

/* ---- the 1x1 convolution equals the patch classifier ---------------------- */

/* conv 2x2/2, relu, conv 2x2/2, relu, global pool, linear: no padding, so a
 * window on the 4-pixel grid sees exactly the features of the whole image
 * under it. */
static ndx_net *grid_net(int h, int w)
{
    ndx_net *n = ndx_net_new("grid", 3, h, w);
    int x = ndx_net_conv(n, "c1", 0, 5, 2, 2, 2, 2, 0, 0, 1, 1);
    x = ndx_net_relu(n, "r1", x);
    x = ndx_net_conv(n, "c2", x, 6, 2, 2, 2, 2, 0, 0, 1, 1);
    x = ndx_net_relu(n, "r2", x);
    x = ndx_net_adaptive_avgpool(n, "pool", x, 1, 1);
    x = ndx_net_flatten(n, "flat", x);
    ndx_net_linear(n, "fc", x, 2, 1);
    ck_assert_msg(ndx_net_finish(n, 11) == NDX_OK, "%s", ndx_last_error());
    return n;
}

/* ndx__explain_windows' callback: each window's maps of the layer into the
 * image-wide maps (ctx), as explain does without a whole-image pass. */
typedef struct stitch_ctx {
    const ndx__explain_win *win;
    int node, units, side, ah, aw;
    float *acc, *n;
} stitch_ctx;

static ndx_status stitch_each(void *ctx, ndx_net *net, int first, int n)
{
    stitch_ctx *c = ctx;
    ndx_tensor t;
    ck_assert_int_eq(ndx_net_output(net, c->node, &t), NDX_OK);
    const int fh = (int)t.shape[2], fw = (int)t.shape[3];
    for (int b = 0; b < n; b++)
        ndx__explain_stitch(t.data + (size_t)b * c->units * fh * fw, c->units, fh, fw,
                            c->win[first + b], c->side, c->acc, c->ah, c->aw, c->n);
    return NDX_OK;
}

START_TEST(test_cam_equals_patches)
{
    enum { H = 24, W = 32, S = 8 };
    ndx_net *patch = grid_net(S, S), *whole = grid_net(H, W);
    for (int i = 0; i < ndx_net_num_tensors(patch); i++) {   /* the same weights */
        ndx_param_info a, b;
        ndx_net_tensor(patch, i, &a), ndx_net_tensor(whole, i, &b);
        ck_assert_uint_eq(a.numel, b.numel);
        uint64_t s = 100 + (uint64_t)i;
        for (size_t k = 0; k < a.numel; k++) a.data[k] = b.data[k] = 0.5f * tu_uniform(&s);
    }
    ndx_net_touch(patch), ndx_net_touch(whole);
    ndx_image img = {W, H, 65535, malloc(sizeof(uint16_t) * W * H)};
    float gray[H * W], x[3 * H * W];
    uint64_t s = 5;
    for (int i = 0; i < H * W; i++) {
        img.px[i] = (uint16_t)tu_int(&s, 0, 65535);
        gray[i] = (float)img.px[i] / 65535.0f;
    }
    ndx_gray_to_input(1, H * W, gray, x);
    ck_assert_int_eq(ndx_net_plan(whole, 1, NDX_PLAN_INFER), NDX_OK);
    const int node = ndx_net_find(whole, "r2");
    ck_assert_int_eq(ndx_rank_pooled_layer(whole), node);
    ck_assert_int_eq(ndx_net_forward(whole, x, NDX_EVAL, node), NDX_OK);
    ndx_tensor act;
    ck_assert_int_eq(ndx_net_output(whole, node, &act), NDX_OK);
    ck_assert_int_eq(act.shape[2], H / 4);
    ck_assert_int_eq(act.shape[3], W / 4);
    float dw[6], db, z[(H / 4) * (W / 4)];
    ck_assert_int_eq(ndx__explain_head(whole, 6, dw, &db), NDX_OK);
    ndx__explain_cam(act.data, 6, H / 4, W / 4, dw, db, z, NULL);
    ndx__explain_win win[64];
    int n = 0;
    for (int y = 0; y + S <= H; y += 4)
        for (int xx = 0; xx + S <= W; xx += 4) win[n++] = (ndx__explain_win){xx, y};
    float prob[64];
    /* the windows' own maps of r2, stitched (their mean where they overlap) */
    static float acc[6 * (H / 4) * (W / 4)], cnt[(H / 4) * (W / 4)];
    const int pnode = ndx_net_find(patch, "r2");
    ck_assert_int_eq(ndx_net_keep_outputs(patch, &pnode, 1), NDX_OK);
    stitch_ctx sc = {win, pnode, 6, S, H / 4, W / 4, acc, cnt};
    ck_assert_int_eq(ndx_net_plan(patch, 4, NDX_PLAN_INFER), NDX_OK);
    ck_assert_int_eq(ndx__explain_windows(patch, &img, win, n, S, prob, stitch_each, &sc),
                     NDX_OK);
    ndx__explain_stitch_mean(acc, 6, H / 4, W / 4, cnt);
    /* without padding, on the grid, they are the whole image's maps */
    for (int p = 0; p < (H / 4) * (W / 4); p++) {
        ck_assert_msg(cnt[p] >= 1 && cnt[p] <= 4, "cell %d: %g windows", p, cnt[p]);
        for (int u = 0; u < 6; u++)
            ck_assert_msg(fabsf(acc[u * (H / 4) * (W / 4) + p] - act.data[u * (H / 4) * (W / 4) + p])
                          <= 1e-5f * (1 + fabsf(act.data[u * (H / 4) * (W / 4) + p])),
                          "unit %d cell %d: windows %.7g, whole image %.7g", u, p,
                          acc[u * (H / 4) * (W / 4) + p], act.data[u * (H / 4) * (W / 4) + p]);
    }
    for (int i = 0; i < n; i++) {   /* the mean of the 2x2 cells under the window */
        const int cy = win[i].y / 4, cx = win[i].x / 4, fw = W / 4;
        const double want = (z[cy * fw + cx] + z[cy * fw + cx + 1] + z[(cy + 1) * fw + cx] +
                             z[(cy + 1) * fw + cx + 1]) / 4;
        const double got = log(prob[i] / (1 - prob[i]));
        ck_assert_msg(fabs(got - want) < 2e-4 + 1e-4 * fabs(want),
                      "window (%d, %d): patch classifier logit %.7g, 1x1 conv %.7g", win[i].x,
                      win[i].y, got, want);
    }
    /* the patch map explain derives from the 1x1 convolution (--patch-map
     * fcn) is that mean: here, without padding, the patch classifier's own */
    float from_fcn[64];
    ndx__explain_fcn_windows(z, H / 4, W / 4, W, H, win, n, S, from_fcn);
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(log(from_fcn[i] / (1 - from_fcn[i])) - log(prob[i] / (1 - prob[i]))) <
                      2e-4, "window (%d, %d): fcn map %.7g, patch classifier %.7g", win[i].x,
                      win[i].y, from_fcn[i], prob[i]);
    free(img.px);
    ndx_net_free(patch), ndx_net_free(whole);
}
END_TEST

/* ---- AlexNet/VGG's way: gradient x activation ------------------------------ */

/* conv, relu, conv (the layer), relu, flatten, two fully connected layers
 * without bias (relu between): as AlexNet's head, no unit has a weight into
 * a class; and z1 - z0 is positively homogeneous in the layer's output A,
 * so sum over units and cells of dz/dA x A is z1 - z0 itself (Euler). */
static ndx_net *fc_net(void)
{
    ndx_net *n = ndx_net_new("fcnet", 3, 16, 16);
    int x = ndx_net_conv(n, "c1", 0, 4, 3, 3, 2, 2, 1, 1, 1, 1);
    x = ndx_net_relu(n, "r1", x);
    x = ndx_net_conv(n, "c2", x, 5, 3, 3, 2, 2, 1, 1, 1, 1);
    x = ndx_net_relu(n, "r2", x);
    x = ndx_net_flatten(n, "flat", x);
    x = ndx_net_linear(n, "fc1", x, 6, 0);
    x = ndx_net_relu(n, "r3", x);
    ndx_net_linear(n, "fc2", x, 2, 0);
    ck_assert_msg(ndx_net_finish(n, 21) == NDX_OK, "%s", ndx_last_error());
    return n;
}

/* NDX_PLAN_TRAIN_ACT (gradxact's plan): the gradient at a kept node equals
 * that of a training plan, and no parameter gradient is allocated or
 * written.  tiny: batch norm (its backward without dgamma) between the
 * kept node and the output. */
static void act_grad(ndx_net *net, int node, const float *x, int mode, float *g, size_t n)
{
    ck_assert_int_eq(ndx_net_plan(net, 2, mode), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    const float dl[4] = {-1, 1, 0.5f, -0.25f};
    ndx_net_zero_grads(net);
    ck_assert_int_eq(ndx_net_backward(net, dl), NDX_OK);
    ndx_tensor t;
    ck_assert_int_eq(ndx_net_grad_output(net, node, &t), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&t), n);
    memcpy(g, t.data, n * sizeof *g);
}

START_TEST(test_act_grads_only)
{
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 64, 3, &net), NDX_OK);
    const int node = ndx_net_find(net, "features.10");   /* a ReLU inside */
    ck_assert_int_gt(node, 0);
    ck_assert_int_eq(ndx_net_keep_outputs(net, &node, 1), NDX_OK);
    int c, h, w;
    ndx_net_node_shape(net, node, &c, &h, &w);
    const size_t n = (size_t)2 * c * h * w;
    float *x = malloc(sizeof *x * 2 * 3 * 64 * 64), *g1 = malloc(n * sizeof *g1),
          *g2 = malloc(n * sizeof *g2);
    uint64_t s = 11;
    for (int i = 0; i < 2 * 3 * 64 * 64; i++) x[i] = tu_uniform(&s);
    act_grad(net, node, x, NDX_PLAN_TRAIN_ACT, g2, n);
    const size_t bytes = ndx_net_param_bytes(net);
    act_grad(net, node, x, NDX_PLAN_TRAIN, g1, n);
    size_t np;   /* the training plan adds the gradient and momentum blocks */
    ndx_net_params(net, &np);
    ck_assert_uint_eq(ndx_net_param_bytes(net), bytes + 2 * sizeof(float) * np);
    double norm = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(fabsf(g1[i] - g2[i]) <= 1e-6f * (1 + fabsf(g1[i])), "gradient %zu: "
                      "training plan %.8g, activation-only plan %.8g", i, g1[i], g2[i]);
        norm += fabs(g1[i]);
    }
    ck_assert(norm > 0);
    /* the parameter gradients of the training step stay as they were */
    const float *grads = ndx_net_grads(net, &np);
    float *keep = malloc(np * sizeof *keep);
    memcpy(keep, grads, np * sizeof *keep);
    act_grad(net, node, x, NDX_PLAN_TRAIN_ACT, g2, n);
    ck_assert_mem_eq(keep, ndx_net_grads(net, NULL), np * sizeof *keep);
    ck_assert_mem_eq(g1, g2, n * sizeof *g1);
    free(x), free(g1), free(g2), free(keep);
    ndx_net_free(net);
}
END_TEST

/* w x h: a noisy half ellipse of breast on the left edge, black elsewhere. */
static ndx_image breast_image(int w, int h, uint64_t seed)
{
    ndx_image img = {w, h, 65535, malloc(sizeof(uint16_t) * (size_t)w * h)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const double dx = x / (0.9 * w), dy = (y - h / 2.0) / (0.45 * h);
            img.px[y * w + x] = dx * dx + dy * dy < 1
                                ? (uint16_t)tu_int(&seed, 20000, 60000) : 0;
        }
    return img;
}

/* P(cancer) of the window (x, y, side) by hand: net planned at batch 1. */
static double window_prob(ndx_net *net, const ndx_image *img, int x, int y, int side,
                          double *logit)
{
    const int S = ndx_net_input_size(net);
    float *gray = malloc(sizeof *gray * S * S), *in = malloc(sizeof *in * 3 * S * S);
    ndx_resize_area_u16(img->px, img->w, x, y, side, side, img->maxval, S, S, gray);
    ndx_gray_to_input(1, (size_t)S * S, gray, in);
    ck_assert_int_eq(ndx_net_forward(net, in, NDX_EVAL, -1), NDX_OK);
    ndx_tensor z;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &z), NDX_OK);
    free(gray), free(in);
    *logit = (double)z.data[1] - z.data[0];
    return 1 / (1 + exp(-*logit));
}

START_TEST(test_gradxact_by_hand)
{
    ndx_net *net = fc_net();
    ck_assert_int_lt(ndx_rank_pooled_layer(net), 1);
    ndx_image img = breast_image(64, 96, 9);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = "fcnet (in memory)", o.image = "breast (in memory)", o.top = 64;
    ndx_explain_result r;
    ck_assert_msg(ndx__explain_net(&o, net, &img, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(r.method, "gradxact");
    ck_assert_str_eq(r.layer, "c2");   /* the last convolution */
    ck_assert_str_eq(r.patch_map, "exact");
    ck_assert_int_eq(r.window, 16);
    ck_assert_int_eq(r.fcn, 0);
    ck_assert_int_eq(r.nunits, 5);
    ck_assert_int_gt(r.windows, 4);
    /* the heat map is the net's own output on each window */
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);
    int seen = 0;
    double zbest = 0;
    for (int gy = 0; gy < r.grid_h; gy++)
        for (int gx = 0; gx < r.grid_w; gx++) {
            const float p = r.patch_prob[gy * r.grid_w + gx];
            if (isnan(p)) continue;
            double z;
            const double want = window_prob(net, &img, gx * r.step, gy * r.step, r.window, &z);
            ck_assert_msg(fabs(p - want) < 1e-5, "window (%d, %d): %.7f, by hand %.7f", gx, gy,
                          p, want);
            if (gx * r.step + r.window / 2 == r.heat_peak_x &&
                gy * r.step + r.window / 2 == r.heat_peak_y) {
                zbest = z;
                ck_assert_float_eq(p, r.max_prob);
            }
            seen++;
        }
    ck_assert_int_eq(seen, r.windows);
    /* the units' gradient x activation in that window sums to its decision */
    double sum = 0;
    for (int i = 0; i < r.nunits; i++) {
        const ndx_explain_unit *e = &r.unit[i];
        sum += e->contribution;
        ck_assert(isnan(e->weight));
        if (i) ck_assert(r.unit[i - 1].contribution >= e->contribution);
        float mx = -INFINITY;
        for (int p = 0; p < e->map_h * e->map_w; p++) mx = fmaxf(mx, e->map[p]);
        ck_assert_float_eq(mx, e->max_act);
        ck_assert_int_eq(e->map_h, (96 * 4 + 15) / 16);   /* 4x4 cells per 16 px window */
        ck_assert_int_eq(e->map_w, 64 * 4 / 16);
    }
    ck_assert_msg(fabs(sum - zbest) < 1e-4 + 1e-4 * fabs(zbest),
                  "sum of gradient x activation %.7g, decision of the best window %.7g", sum,
                  zbest);
    ndx_explain_free(&r);
    /* no unit feeds a linear head through a pool: no map from the 1x1 convolution */
    o.patch_map = NDX_EXPLAIN_PATCH_FCN;
    ck_assert_int_eq(ndx__explain_net(&o, net, &img, &r), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "--patch-map fcn"));
    ck_assert_ptr_null(r.patch_prob);
    o.patch_map = NDX_EXPLAIN_PATCH_EXACT, o.unit_maps = NDX_EXPLAIN_MAPS_WHOLE;
    ck_assert_int_eq(ndx__explain_net(&o, net, &img, &r), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "--unit-maps whole"));
    o.unit_maps = 2;
    ck_assert_int_eq(ndx__explain_net(&o, net, &img, &r), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "unit maps 2"));
    free(img.px);
    ndx_net_free(net);
}
END_TEST

/* ---- fixture: phantoms, a trained tiny, its dissection -------------------- */

/* The fixture's work, in a child process: OpenMP's threads started in the
 * runner would be missing in the test processes Check forks from it, and
 * their first parallel region would wait for them for ever. */
static void build_fixture(void)
{
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 4, so.seed = 4, so.pixel_um = 400, so.normal_frac = 0;
    ndx_synth_stats ss;
    ck_assert_msg(ndx_synth(data, &so, &ss) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ndx_patch_stats ps;
    ck_assert_msg(ndx_patches_build(data, &po, &ps) == NDX_OK, "%s", ndx_last_error());
    ndx_train_opts to;
    ndx_train_defaults(&to);
    to.arch = "tiny", to.data_dir = data, to.out = model, to.input_size = 32;
    to.epochs = 3, to.batch = 16, to.lr = 0.02, to.flips = 1, to.seed = 1;
    double auc;
    ck_assert_msg(ndx_train(&to, &auc) == NDX_OK, "%s", ndx_last_error());
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("tiny", 3, 32, 5, &net), NDX_OK);
    ck_assert_int_eq(ndx_safetensors_save(net, model3), NDX_OK);
    ndx_net_free(net);
    ndx_dissect_run_opts d;
    ndx_dissect_run_defaults(&d);
    d.model = model, d.data = data, d.split = NDX_SPLIT_VAL, d.topk = 4, d.images = 4;
    d.layers[d.nlayers++] = "features.17";
    d.out = diss;
    ndx_dissect_run_result r;
    ck_assert_msg(ndx_dissect_run(&d, &r) == NDX_OK, "%s", ndx_last_error());
}

static void make_dir(void)
{
    strcpy(dir, "/tmp/ndx_check_explain_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(model, sizeof model, "%s/tiny.safetensors", dir);
    snprintf(model3, sizeof model3, "%s/tiny3.safetensors", dir);
    snprintf(diss, sizeof diss, "%s/dissection", dir);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        build_fixture();
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "building the fixture (phantoms, training, dissection) failed");
}

static void remove_dir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* The manifest row of the largest malignant lesion in a test image (any
 * split when the test split has none): its image and mask paths. */
static void malignant_image(char *image, char *mask, size_t n)
{
    ndx_patch_index ix;
    ck_assert_int_eq(ndx_patches_read(data, &ix), NDX_OK);
    long best = -1;
    int best_split = -1;
    image[0] = mask[0] = 0;
    for (size_t i = 0; i < ix.nimages; i++) {
        int split = -1;
        for (size_t p = 0; p < ix.n && split < 0; p++)
            if (ix.patches[p].image == (int)i) split = ix.patches[p].split;
        for (size_t r = ix.images[i].first_row; r < ix.images[i].first_row + ix.images[i].nrows;
             r++) {
            const ndx_manifest_row *row = &ix.manifest.rows[r];
            if (!row->mask_path[0] || strcmp(row->pathology, "MALIGNANT")) continue;
            char path[1100];
            snprintf(path, sizeof path, "%s/%s", data, row->mask_path);
            ndx_image m;
            ck_assert_int_eq(ndx_png_read(path, 0, &m, NULL, 0), NDX_OK);
            long area = 0;
            for (size_t k = 0; k < (size_t)m.w * m.h; k++) area += m.px[k] > m.maxval / 2;
            ndx_image_free(&m);
            const int better = (split == NDX_SPLIT_TEST) > (best_split == NDX_SPLIT_TEST) ||
                               ((split == NDX_SPLIT_TEST) == (best_split == NDX_SPLIT_TEST) &&
                                area > best);
            if (better) {
                best = area, best_split = split;
                snprintf(image, n, "%s/%s", data, ix.images[i].path);
                snprintf(mask, n, "%s", path);
            }
        }
    }
    ndx_patches_free(&ix);
    ck_assert_msg(best > 0, "no malignant lesion in the phantoms");
}

START_TEST(test_phantom_lesion_under_maximum)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ndx_image m;
    ck_assert_int_eq(ndx_png_read(mask, 0, &m, NULL, 0), NDX_OK);
    ck_assert_int_eq(m.w, r.width);
    ck_assert_int_eq(m.h, r.height);
    /* the most malignant window holds lesion, and the 1x1-convolution map's
     * peak lies within a window's reach of the lesion */
    const int x0 = r.heat_peak_x - r.window / 2, y0 = r.heat_peak_y - r.window / 2;
    long in = 0, lx0 = m.w, ly0 = m.h, lx1 = -1, ly1 = -1;
    for (int y = 0; y < m.h; y++)
        for (int x = 0; x < m.w; x++) {
            if (m.px[(size_t)y * m.w + x] <= m.maxval / 2) continue;
            in += x >= x0 && x < x0 + r.window && y >= y0 && y < y0 + r.window;
            lx0 = x < lx0 ? x : lx0, lx1 = x > lx1 ? x : lx1;
            ly0 = y < ly0 ? y : ly0, ly1 = y > ly1 ? y : ly1;
        }
    ndx_image_free(&m);
    ck_assert_msg(in > 0, "%s: the heat map's maximum (window at %d, %d, side %d, p %.3f) "
                  "misses the lesion (box %ld..%ld x %ld..%ld)", image, x0, y0, r.window,
                  r.max_prob, lx0, lx1, ly0, ly1);
    ck_assert_msg(r.max_prob > 0.5, "max probability %.3f", r.max_prob);
    ck_assert(r.fcn);
    ck_assert_msg(r.fcn_peak_x >= lx0 - r.window && r.fcn_peak_x <= lx1 + r.window &&
                  r.fcn_peak_y >= ly0 - r.window && r.fcn_peak_y <= ly1 + r.window,
                  "1x1-conv peak (%d, %d) far from the lesion", r.fcn_peak_x, r.fcn_peak_y);
    ndx_explain_free(&r);
}
END_TEST

/* ---- the two patch maps on the trained tiny ------------------------------------ */

START_TEST(test_patch_maps)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    ndx_explain_result ex, fc;
    ck_assert_msg(ndx_explain(&o, &ex) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(ex.patch_map, "exact");
    /* exact: every window's probability is the model's own (folded weights:
     * float rounding apart) */
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    for (int g = 0; g < ex.grid_w * ex.grid_h; g++) {
        if (isnan(ex.patch_prob[g])) continue;
        double z;
        const double want = window_prob(net, &img, g % ex.grid_w * ex.step,
                                        g / ex.grid_w * ex.step, ex.window, &z);
        ck_assert_msg(fabs(ex.patch_prob[g] - want) < 1e-4, "window %d: %.6f, by hand %.6f", g,
                      ex.patch_prob[g], want);
    }
    ndx_image_free(&img);
    ndx_net_free(net);
    /* the units' maps from the whole image: the same patch map */
    ck_assert_str_eq(ex.unit_maps, "windows");
    o.unit_maps = NDX_EXPLAIN_MAPS_WHOLE;
    ck_assert_msg(ndx_explain(&o, &fc) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(fc.unit_maps, "whole");
    ck_assert_str_eq(fc.patch_map, "exact");
    for (int g = 0; g < ex.grid_w * ex.grid_h; g++)
        ck_assert(isnan(ex.patch_prob[g]) ? isnan(fc.patch_prob[g])
                  : fabsf(ex.patch_prob[g] - fc.patch_prob[g]) < 1e-6f);
    ndx_explain_free(&ex);
    ex = fc;
    /* fcn: the same windows, from the same 1x1-convolution map */
    o.patch_map = NDX_EXPLAIN_PATCH_FCN, o.unit_maps = NDX_EXPLAIN_MAPS_WINDOWS;
    ck_assert_msg(ndx_explain(&o, &fc) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(fc.unit_maps, "whole");   /* fcn needs the whole image's maps */
    ck_assert_str_eq(fc.patch_map, "fcn");
    ck_assert_int_eq(fc.windows, ex.windows);
    ck_assert_int_eq(fc.fcn_h * fc.fcn_w, ex.fcn_h * ex.fcn_w);
    for (int p = 0; p < fc.fcn_h * fc.fcn_w; p++)
        ck_assert_float_eq_tol(fc.fcn_prob[p], ex.fcn_prob[p], 1e-6);
    for (int g = 0; g < ex.grid_w * ex.grid_h; g++) {
        ck_assert_int_eq(isnan(fc.patch_prob[g]), isnan(ex.patch_prob[g]));
        ck_assert(isnan(fc.patch_prob[g]) || (fc.patch_prob[g] > 0 && fc.patch_prob[g] < 1));
    }
    for (int i = 0; i < fc.nunits; i++) {   /* the units do not depend on the patch map */
        ck_assert_int_eq(fc.unit[i].unit, ex.unit[i].unit);
        ck_assert_float_eq_tol(fc.unit[i].contribution, ex.unit[i].contribution, 1e-6);
    }
    ndx_explain_free(&fc);
    /* a layer that is not the pooled one has no map from the 1x1 convolution */
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    for (int i = 1; i < ndx_net_num_nodes(net) && !o.layer; i++)
        if (ndx_net_node_op(net, i) == NDX_OP_CONV) o.layer = ndx_net_node_name(net, i);
    ck_assert_int_eq(ndx_explain(&o, &fc), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "--patch-map fcn"));
    ndx_net_free(net);
    ndx_explain_free(&ex);
}
END_TEST

/* ---- contributions by hand ------------------------------------------------- */

START_TEST(test_contributions_by_hand)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image, o.top = 64;
    o.unit_maps = NDX_EXPLAIN_MAPS_WHOLE;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(r.method, "deepminer");
    ck_assert_str_eq(r.layer, "features.17");
    ck_assert_str_eq(r.unit_maps, "whole");
    /* by hand: the whole image through the net at the size that makes a
     * window the input, each unit's max x (w1 - w0) from the file's head */
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    ndx_param_info head;
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 2, &head), NDX_OK);
    ck_assert_int_eq(head.ndim, 2);
    ck_assert_int_eq(head.shape[0], 2);
    const int U = (int)head.shape[1];
    ck_assert_int_eq(U, r.units);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    float *gray = malloc(sizeof *gray * img.w * img.h);
    for (size_t i = 0; i < (size_t)img.w * img.h; i++) gray[i] = img.px[i] / (float)img.maxval;
    ndx_net *cache = NULL;
    ndx_tensor t;
    const int oh = (int)lround(img.h * 32.0 / r.window), ow = (int)lround(img.w * 32.0 / r.window);
    ck_assert_int_eq(ndx__rank_image_forward(net, &cache, ndx_net_find(net, "features.17"), gray,
                                             img.h, img.w, oh, ow, &t), NDX_OK);
    const size_t hw = (size_t)t.shape[2] * t.shape[3];
    float *c = malloc(sizeof *c * U);
    double decision = 0;
    for (int u = 0; u < U; u++) {
        float mx = -INFINITY;
        double mean = 0;
        for (size_t p = 0; p < hw; p++) mx = fmaxf(mx, t.data[u * hw + p]), mean += t.data[u * hw + p];
        const float w = head.data[U + u] - head.data[u];
        c[u] = mx * w;
        decision += mean / hw * w;
    }
    ndx_param_info bias;
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 1, &bias), NDX_OK);
    decision += bias.data[1] - bias.data[0];
    ck_assert_int_eq(r.nunits, 64);
    for (int i = 0; i < r.nunits; i++) {
        const ndx_explain_unit *e = &r.unit[i];
        int above = 0;   /* units with a larger contribution: exactly i */
        for (int u = 0; u < U; u++) above += c[u] > c[e->unit];
        ck_assert_msg(above == i, "rank %d: unit %d has %d units above it", i + 1, e->unit, above);
        ck_assert_msg(fabsf(e->contribution - c[e->unit]) <= 1e-5f + 1e-5f * fabsf(c[e->unit]),
                      "unit %d: %g, by hand %g", e->unit, e->contribution, c[e->unit]);
        ck_assert_float_eq_tol(e->weight, head.data[U + e->unit] - head.data[e->unit], 1e-7);
        float mx = -INFINITY;
        for (int p = 0; p < e->map_h * e->map_w; p++) mx = fmaxf(mx, e->map[p]);
        ck_assert_float_eq(mx, e->max_act);
    }
    ck_assert_msg(fabs(r.decision - decision) < 1e-4 + 1e-5 * fabs(decision),
                  "decision %g, by hand %g", r.decision, decision);
    /* and it is the mean of the 1x1-convolution logits over the map */
    double zmean = 0;
    for (int p = 0; p < r.fcn_h * r.fcn_w; p++) {
        const double q = fmin(fmax(r.fcn_prob[p], 1e-7), 1 - 1e-7);
        zmean += log(q / (1 - q));
    }
    zmean /= r.fcn_h * r.fcn_w;
    ck_assert_msg(fabs(zmean - decision) < 1e-3 + 1e-4 * fabs(decision), "mean logit %g vs %g",
                  zmean, decision);
    free(gray), free(c);
    ndx_image_free(&img);
    ndx_net_free(cache), ndx_net_free(net);
    ndx_explain_free(&r);
}
END_TEST

/* The default for pooled nets: the units' maps and the 1x1 convolution from
 * the windows' own maps of the layer, by hand: each classified window
 * through the net alone, its maps averaged into the image's cells. */
START_TEST(test_window_maps_by_hand)
{
    char image[1200], mask[1200];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image, o.top = 64;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert_str_eq(r.unit_maps, "windows");
    ck_assert(r.fcn);
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(model, &net), NDX_OK);
    const int node = ndx_net_find(net, "features.17");
    ck_assert_int_eq(ndx_net_keep_outputs(net, &node, 1), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);
    int U, fh, fw;
    ndx_net_node_shape(net, node, &U, &fh, &fw);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    const int ah = (img.h * fh + r.window - 1) / r.window, aw = (img.w * fw + r.window - 1) / r.window;
    ck_assert_int_eq(r.fcn_h, ah);
    ck_assert_int_eq(r.fcn_w, aw);
    double *sum = calloc((size_t)U * ah * aw, sizeof *sum);
    int *cnt = calloc((size_t)ah * aw, sizeof *cnt);
    for (int g = 0; g < r.grid_w * r.grid_h; g++) {
        if (isnan(r.patch_prob[g])) continue;
        double z;
        window_prob(net, &img, g % r.grid_w * r.step, g / r.grid_w * r.step, r.window, &z);
        ndx_tensor t;
        ck_assert_int_eq(ndx_net_output(net, node, &t), NDX_OK);
        const int oy = (int)lround((double)(g / r.grid_w * r.step) * fh / r.window);
        const int ox = (int)lround((double)(g % r.grid_w * r.step) * fw / r.window);
        for (int y = 0; y < fh && oy + y < ah; y++)
            for (int x = 0; x < fw && ox + x < aw; x++) {
                cnt[(oy + y) * aw + ox + x]++;
                for (int u = 0; u < U; u++)
                    sum[((size_t)u * ah + oy + y) * aw + ox + x] += t.data[(u * fh + y) * fw + x];
            }
    }
    ndx_param_info head, bias;
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 2, &head), NDX_OK);
    ck_assert_int_eq(ndx_net_tensor(net, ndx_net_num_tensors(net) - 1, &bias), NDX_OK);
    double zsum = 0;
    int cells = 0;
    for (int p = 0; p < ah * aw; p++) {
        ck_assert_int_eq(isnan(r.fcn_prob[p]), cnt[p] == 0);   /* no window, no value */
        if (!cnt[p]) continue;
        double z = bias.data[1] - bias.data[0];
        for (int u = 0; u < U; u++)
            z += sum[(size_t)u * ah * aw + p] / cnt[p] * (head.data[U + u] - head.data[u]);
        ck_assert_msg(fabs(r.fcn_prob[p] - 1 / (1 + exp(-z))) < 1e-5, "cell %d: %.6f, by hand "
                      "%.6f", p, r.fcn_prob[p], 1 / (1 + exp(-z)));
        zsum += z, cells++;
    }
    ck_assert_msg(fabs(r.decision - zsum / cells) < 1e-4 + 1e-5 * fabs(zsum / cells),
                  "decision %g, mean logit of the covered cells by hand %g", r.decision,
                  zsum / cells);
    for (int i = 0; i < r.nunits; i++) {
        const ndx_explain_unit *e = &r.unit[i];
        ck_assert_int_eq(e->map_h, ah);
        ck_assert_int_eq(e->map_w, aw);
        double mx = -INFINITY;
        for (int p = 0; p < ah * aw; p++) {
            const double want = cnt[p] ? sum[(size_t)e->unit * ah * aw + p] / cnt[p] : 0;
            ck_assert_msg(fabs(e->map[p] - want) <= 1e-4 * (1 + fabs(want)), "unit %d cell %d: "
                          "%g, by hand %g", e->unit, p, e->map[p], want);
            if (cnt[p]) mx = fmax(mx, want);
        }
        const double w = head.data[U + e->unit] - head.data[e->unit];
        ck_assert_msg(fabs(e->contribution - mx * w) <= 1e-4 * (1 + fabs(mx * w)),
                      "unit %d: contribution %g, by hand %g", e->unit, e->contribution, mx * w);
    }
    free(sum), free(cnt);
    ndx_image_free(&img);
    ndx_net_free(net);
    ndx_explain_free(&r);
}
END_TEST

/* ---- labels and outputs ----------------------------------------------------- */

/* answers.jsonl: two readers on unit `unit` of the dissection. */
static void write_answers(const char *path, int unit)
{
    char csv[400];
    snprintf(csv, sizeof csv, "%s/units.csv", diss);
    size_t n;
    char *text = tu_slurp(csv, &n);
    ck_assert_ptr_nonnull(text);
    const unsigned long long h = (unsigned long long)ndx_hash64(text, n, 0);
    free(text);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    static const char *const who[2] = {"ann", "bob"};
    static const char *const what[2] = {
        "[{\"descriptors\":[\"calc_susp.fine_pleomorphic\",\"finding.calcifications\"],"
        "\"text\":\"fine pleomorphic calcs\",\"association\":\"malignant\",\"confidence\":4}]",
        "[{\"descriptors\":[\"calc_susp.fine_pleomorphic\"],\"text\":\"fine pleomorphic calcs\","
        "\"association\":null,\"confidence\":null}]"};
    for (int r = 0; r < 2; r++)
        fprintf(f, "{\"format\":\"netdx-survey-answers/1\",\"survey\":\"abc123\",\"simulated\":"
                "true,\"reader\":\"%s\",\"reader_id\":%d,\"role\":\"radiologist\",\"network\":"
                "\"tiny\",\"layer\":\"features.17\",\"unit\":%d,\"dissection\":\"%016llx\","
                "\"repeat\":false,\"revision\":1,\"revisions\":1,\"first_saved\":"
                "\"2026-12-07T13:45:00Z\",\"last_saved\":\"2026-12-07T13:45:00Z\","
                "\"seconds_spent\":12,\"recognizable\":\"yes\",\"association\":\"malignant\","
                "\"multiplicity\":\"single\",\"phenomena\":%s,\"comment\":\"\"}\n",
                who[r], r + 1, unit, h, what[r]);
    fclose(f);
}

START_TEST(test_labels_and_outputs)
{
    char image[1200], mask[1200], answers[400], out[400], path[600];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image, o.top = 3;
    ndx_explain_result r;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    const int top = r.unit[0].unit;
    ndx_explain_free(&r);
    snprintf(answers, sizeof answers, "%s/answers.jsonl", dir);
    write_answers(answers, top);
    o.labels = answers, o.dissection = diss;
    ck_assert_msg(ndx_explain(&o, &r) == NDX_OK, "%s", ndx_last_error());
    ck_assert(r.labelled);
    ck_assert_int_eq(r.readers, 2);
    ck_assert_int_eq(r.simulated, 2);
    const ndx_explain_label *l = &r.unit[0].label;
    ck_assert_int_eq(l->readers, 2);
    ck_assert_int_eq(l->recognizable, 2);
    ck_assert_int_eq(l->agreeing, 2);
    ck_assert_str_eq(l->description, "fine pleomorphic calcs");
    ck_assert_str_eq(l->association, "malignant");
    ck_assert_int_eq(l->nterms, 2);
    ck_assert_str_eq(l->terms[0].id, "calc_susp.fine_pleomorphic");
    ck_assert_int_eq(l->terms[0].readers, 2);
    ck_assert_int_eq(l->terms[1].readers, 1);
    ck_assert_int_eq(r.unit[1].label.readers, 0);
    ck_assert_msg(r.unit[0].strip[0], "no strip from %s", diss);
    ck_assert_ptr_nonnull(strstr(r.summary, "Research aid, not a diagnosis"));
    ck_assert_ptr_nonnull(strstr(r.summary, "fine pleomorphic calcs"));
    ck_assert_ptr_nonnull(strstr(r.summary, "SIMULATED"));
    snprintf(out, sizeof out, "%s/explain", dir);
    for (int pass = 0; pass < 2; pass++)   /* the second replaces the first */
        ck_assert_msg(ndx_explain_write(out, &o, &r) == NDX_OK, "%s", ndx_last_error());
    static const char *const files[] = {"index.html", "explain.json", "mammogram.png",
                                        "heat.png", "fcn.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s missing", path);
    }
    snprintf(path, sizeof path, "%s/explain.json", out);
    char *text = tu_slurp(path, NULL);
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "netdx-explain/1");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "notice")->valuestring, "research aid, not a diagnosis");
    const cJSON *w = cJSON_GetObjectItem(j, "windows");
    const cJSON *prob = cJSON_GetObjectItem(w, "probability");
    ck_assert_int_eq(cJSON_GetArraySize(prob), r.grid_h);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetArrayItem(prob, 0)), r.grid_w);
    ck_assert_int_eq(cJSON_GetObjectItem(w, "classified")->valueint, r.windows);
    const cJSON *units = cJSON_GetObjectItem(j, "units");
    ck_assert_int_eq(cJSON_GetArraySize(units), 3);
    const cJSON *u0 = cJSON_GetArrayItem(units, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(u0, "unit")->valueint, top);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(u0, "contribution")->valuedouble,
                            r.unit[0].contribution, 1e-5);
    const cJSON *lab = cJSON_GetObjectItem(u0, "label");
    ck_assert_int_eq(cJSON_GetObjectItem(lab, "readers")->valueint, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(lab,
                     "descriptors"), 0), "id")->valuestring, "calc_susp.fine_pleomorphic");
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(u0, "strip_png")));
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(j, "fully_convolutional")));
    ck_assert_str_eq(cJSON_GetObjectItem(j, "summary")->valuestring, r.summary);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/index.html", out);
    text = tu_slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(text, "Content-Security-Policy"));
    ck_assert_ptr_nonnull(strstr(text, "Research aid, not a diagnosis"));
    ck_assert_ptr_null(strstr(text, "http://"));
    ck_assert_ptr_null(strstr(text, "https://"));
    free(text);
    /* the same labels through a report folder (its provenance.json) */
    ndx_report_opts ro;
    ndx_report_defaults(&ro);
    const char *dirs[1] = {diss};
    snprintf(path, sizeof path, "%s/report", dir);
    ro.survey = answers, ro.dissections = dirs, ro.ndissections = 1, ro.out = path;
    ro.resamples = 10;
    ck_assert_msg(ndx_report(&ro, NULL) == NDX_OK, "%s", ndx_last_error());
    ndx_explain_opts o2 = o;
    o2.labels = NULL, o2.dissection = NULL, o2.report = path;
    ndx_explain_result r2;
    ck_assert_msg(ndx_explain(&o2, &r2) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(r2.unit[0].label.readers, 2);
    ck_assert_str_eq(r2.unit[0].label.description, l->description);
    ck_assert_str_eq(r2.summary, r.summary);
    ndx_explain_free(&r2);
    /* a folder of other files is left alone */
    ck_assert_int_ne(ndx_explain_write(data, &o, &r), NDX_OK);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "refusing"));
    ck_assert_int_eq(access(data, R_OK), 0);
    /* a strip that went missing: the images are written by several
     * threads, the failure still says which file */
    char gone[400], out2[400];
    snprintf(gone, sizeof gone, "%s/no_such_strip.png", dir);
    snprintf(out2, sizeof out2, "%s/explain_gone", dir);
    snprintf(r.unit[r.nunits - 1].strip, sizeof r.unit[0].strip, "%s", gone);
    ck_assert_int_ne(ndx_explain_write(out2, &o, &r), NDX_OK);
    ck_assert_msg(strstr(ndx_last_error(), "no_such_strip.png"), "%s", ndx_last_error());
    ck_assert_int_ne(access(out2, F_OK), 0);
    ndx_explain_free(&r);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------ */

static void expect_error(ndx_explain_opts *o, ndx_status want, const char *says)
{
    ndx_explain_result r;
    const ndx_status st = ndx_explain(o, &r);
    ck_assert_msg(st == want, "status %d, want %d (%s)", st, want, ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), says), "'%s' does not say '%s'", ndx_last_error(),
                  says);
    ck_assert_ptr_null(r.unit);
    ck_assert_ptr_null(r.patch_prob);
}

/* The same pixels as a 16-bit DICOM file explain as the PNG does. */
START_TEST(test_dicom_image)
{
    if (!ndx_image_dicom_available()) {
        printf("check_explain: built without DICOM (make DICOM=0): the DICOM case not run\n");
        return;
    }
    char image[1200], mask[1200], dcm[600];
    malignant_image(image, mask, sizeof image);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(image, 0, &img, NULL, 0), NDX_OK);
    ck_assert_int_eq(img.maxval, 65535);
    snprintf(dcm, sizeof dcm, "%s/same.dcm", dir);
    dcm_fx x = {.w = img.w, .h = img.h, .px = img.px};
    dcm_write(dcm, &x);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    ndx_explain_result a, b;
    ck_assert_msg(ndx_explain(&o, &a) == NDX_OK, "%s", ndx_last_error());
    o.image = dcm;
    ck_assert_msg(ndx_explain(&o, &b) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(a.grid_w, b.grid_w);
    ck_assert_int_eq(a.grid_h, b.grid_h);
    ck_assert_int_gt(a.grid_w * a.grid_h, 0);
    ck_assert_mem_eq(a.patch_prob, b.patch_prob, sizeof(float) * a.grid_w * a.grid_h);
    ck_assert_int_eq(a.nunits, b.nunits);
    for (int u = 0; u < a.nunits; u++) ck_assert_int_eq(a.unit[u].unit, b.unit[u].unit);
    ndx_explain_free(&a);
    ndx_explain_free(&b);
    ndx_image_free(&img);
}
END_TEST

START_TEST(test_bad_input)
{
    char image[1200], mask[1200], path[600];
    malignant_image(image, mask, sizeof image);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    snprintf(path, sizeof path, "%s/junk.dcm", dir);
    FILE *j = fopen(path, "w");
    fputs("not a DICOM file at all", j);
    fclose(j);
    o.model = model, o.image = path;
    if (ndx_image_dicom_available()) expect_error(&o, NDX_ERR_FORMAT, "junk.dcm: not a DICOM file");
    else expect_error(&o, NDX_ERR_UNSUPPORTED, "built without");
    o.image = "/nonexistent/x.png";
    expect_error(&o, NDX_ERR_IO, "/nonexistent/x.png");
    o.image = image, o.model = model3;
    expect_error(&o, NDX_ERR_INVALID, "3 classes");
    o.model = model, o.layer = "features.99";
    expect_error(&o, NDX_ERR_INVALID, "no layer 'features.99'");
    o.layer = NULL, o.top = 0;
    expect_error(&o, NDX_ERR_INVALID, "top 0");
    o.top = 8, o.side = "middle";
    expect_error(&o, NDX_ERR_INVALID, "side 'middle'");
    o.side = NULL, o.labels = image;
    expect_error(&o, NDX_ERR_INVALID, "--dissection");
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"format\":\"netdx-survey-answers/1\"}\n", f);
    fclose(f);
    o.labels = path, o.dissection = diss;
    expect_error(&o, NDX_ERR_FORMAT, "bad.jsonl");
    o.labels = NULL, o.report = data;
    expect_error(&o, NDX_ERR_IO, "provenance.json");
    /* an image without breast */
    o.report = NULL, o.dissection = NULL;
    uint16_t black[64 * 64] = {0};
    snprintf(path, sizeof path, "%s/black.png", dir);
    ck_assert_int_eq(ndx_png_write16(path, black, 64, 64), NDX_OK);
    o.image = path;
    expect_error(&o, NDX_ERR_INVALID, "no window");
}
END_TEST

static int cli(const char *args, const char *log)
{
    char cmd[5000];
    snprintf(cmd, sizeof cmd, "'%s' explain %s > '%s' 2>&1", bin, args, log);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_cli)
{
    char image[1200], mask[1200], args[3000], log[400], out[400];
    malignant_image(image, mask, sizeof image);
    snprintf(log, sizeof log, "%s/cli.log", dir);
    snprintf(out, sizeof out, "%s/cli", dir);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --top 2 --dissection '%s' --out '%s'",
             model, image, diss, out);
    ck_assert_int_eq(cli(args, log), 0);
    char *text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "Research aid, not a diagnosis"));
    ck_assert_ptr_nonnull(strstr(text, "(exact, unit maps: windows)"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --image x.dcm --out '%s'", model, out);
    ck_assert_int_eq(cli(args, log), 1);
    text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "netdx explain: x.dcm"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --out '%s'", model, out);
    ck_assert_int_eq(cli(args, log), 2);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --top 99 --out '%s'", model, image, out);
    ck_assert_int_eq(cli(args, log), 2);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --patch-map mean --out '%s'", model,
             image, out);
    ck_assert_int_eq(cli(args, log), 2);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --patch-map fcn --top 1 --out '%s'",
             model, image, out);
    ck_assert_int_eq(cli(args, log), 0);
    text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "(fcn, unit maps: whole)"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --unit-maps whole --top 1 --out '%s'",
             model, image, out);
    ck_assert_int_eq(cli(args, log), 0);
    text = tu_slurp(log, NULL);
    ck_assert_ptr_nonnull(strstr(text, "(exact, unit maps: whole)"));
    free(text);
    snprintf(args, sizeof args, "--model '%s' --image '%s' --unit-maps all --out '%s'", model,
             image, out);
    ck_assert_int_eq(cli(args, log), 2);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("explain");
    TCase *unit = tcase_create("unit");
    tcase_set_timeout(unit, 120);   /* small nets, but sanitizers on a loaded machine */
    tcase_add_test(unit, test_cam_equals_patches);
    tcase_add_test(unit, test_gradxact_by_hand);
    tcase_add_test(unit, test_act_grads_only);
    suite_add_tcase(s, unit);
    TCase *run = tcase_create("run");
    tcase_set_timeout(run, 600);
    tcase_add_unchecked_fixture(run, make_dir, remove_dir);
    tcase_add_test(run, test_phantom_lesion_under_maximum);
    tcase_add_test(run, test_patch_maps);
    tcase_add_test(run, test_contributions_by_hand);
    tcase_add_test(run, test_window_maps_by_hand);
    tcase_add_test(run, test_labels_and_outputs);
    tcase_add_test(run, test_bad_input);
    tcase_add_test(run, test_dicom_image);
    tcase_add_test(run, test_cli);
    suite_add_tcase(s, run);
    return tu_run(s);
}
