/* netdx explain, the parts on small nets built here: the 1x1-convolution
 * classifier and the windows' stitched maps against the whole image's,
 * gradient x activation by hand, and the plan for activation gradients
 * alone (NDX_PLAN_TRAIN_ACT) that it runs on.  The runs on a trained
 * model are in check_explain.c. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdx.h"
#include "netdx_explain.h"
#include "netdx_nn.h"
#include "testutil.h"
#include "explain_fixture.h"
#include "../src/dissect/rank_int.h"
#include "../src/explain/explain_int.h"

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
    float *acc, *n, *best;
} stitch_ctx;

static ndx_status stitch_each(void *ctx, ndx_net *net, int first, int n)
{
    stitch_ctx *c = ctx;
    ndx_tensor t;
    ck_assert_int_eq(ndx_net_output(net, c->node, &t), NDX_OK);
    const int fh = (int)t.shape[2], fw = (int)t.shape[3];
    for (int b = 0; b < n; b++)
        ndx__explain_stitch(t.data + (size_t)b * c->units * fh * fw, c->units, fh, fw,
                            c->win[first + b], c->side, c->acc, c->ah, c->aw, c->n, c->best);
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
        for (int xx = 0; xx + S <= W; xx += 4) win[n++] = ndx__explain_win_at(xx, y, S, W, H);
    float prob[64];
    /* the windows' own maps of r2, stitched (the most central window's) */
    static float acc[6 * (H / 4) * (W / 4)], cnt[(H / 4) * (W / 4)], best[(H / 4) * (W / 4)];
    const int pnode = ndx_net_find(patch, "r2");
    ck_assert_int_eq(ndx_net_keep_outputs(patch, &pnode, 1), NDX_OK);
    stitch_ctx sc = {win, pnode, 6, S, H / 4, W / 4, acc, cnt, best};
    ck_assert_int_eq(ndx_net_plan(patch, 4, NDX_PLAN_INFER), NDX_OK);
    ck_assert_int_eq(ndx__explain_windows(patch, &img, win, n, S, prob, stitch_each, &sc),
                     NDX_OK);
    ndx__explain_stitch_mean(acc, 6, H / 4, W / 4, cnt, best);
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

/* The outline rule on maps built by hand: a window's side on the image's
 * edge is no border; a cell that only a window's outer ring on an inner
 * side saw, next to an uncovered cell, has no value -- unless no cell
 * would be left. */
START_TEST(test_outline_rule)
{
    ndx__explain_win w = ndx__explain_win_at(60, 50, 40, 100, 90);
    ck_assert_uint_eq(w.edge, NDX__EDGE_RIGHT | NDX__EDGE_BOTTOM);
    ck_assert_uint_eq(ndx__explain_win_at(0, 0, 40, 100, 90).edge, NDX__EDGE_LEFT | NDX__EDGE_TOP);
    ck_assert_uint_eq(ndx__explain_win_at(50, 10, 40, 100, 90).edge, 0);   /* 10 px short */
    /* a 12 x 4 image, windows of 4 px (2 x 2 cells) at x = 0 and 4, none at 8 */
    const float m0[4] = {1, 2, 3, 4}, m1[4] = {5, 6, 7, 8};
    float acc[12] = {0}, n[12] = {0}, best[12] = {0};
    ndx__explain_stitch(m0, 1, 2, 2, ndx__explain_win_at(0, 0, 4, 12, 4), 4, acc, 2, 6, n, best);
    ndx__explain_stitch(m1, 1, 2, 2, ndx__explain_win_at(4, 0, 4, 12, 4), 4, acc, 2, 6, n, best);
    ck_assert_float_eq(best[0], 1.5f);   /* the left side is the image's edge */
    ck_assert_float_eq(best[1], 0.5f);
    ndx__explain_stitch_mean(acc, 1, 2, 6, n, best);
    const float want[6] = {1, 2, 5, 0, 0, 0};   /* column 3, beside the bare 4, dropped */
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 6; x++) {
            ck_assert_msg((n[y * 6 + x] > 0) == (x < 3), "cell (%d, %d): %g windows", x, y,
                          n[y * 6 + x]);
            ck_assert_float_eq(acc[y * 6 + x], want[x] + (want[x] ? 2 * y : 0));
        }
    /* one window of one cell, its right side inner: all outline, so it stays */
    const float one = 9;
    float acc1[2] = {0}, n1[2] = {0}, best1[2] = {0};
    ndx__explain_stitch(&one, 1, 1, 1, ndx__explain_win_at(0, 0, 4, 8, 4), 4, acc1, 1, 2, n1,
                        best1);
    ndx__explain_stitch_mean(acc1, 1, 1, 2, n1, best1);
    ck_assert_float_eq(n1[0], 1);
    ck_assert_float_eq(acc1[0], 9);
    ck_assert_float_eq(n1[1], 0);
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

int main(void)
{
    Suite *s = suite_create("explain_units");
    TCase *unit = tcase_create("unit");
    tcase_set_timeout(unit, 120);   /* small nets, but sanitizers on a loaded machine */
    tcase_add_test(unit, test_cam_equals_patches);
    tcase_add_test(unit, test_outline_rule);
    tcase_add_test(unit, test_gradxact_by_hand);
    tcase_add_test(unit, test_act_grads_only);
    suite_add_tcase(s, unit);
    return tu_run(s);
}
