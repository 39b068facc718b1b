/* Graph suite: plans, buffer reuse, fusion, taps, backward through
 * branches; the zoo models tiny, resnet18, alexnet and inception_v3 against
 * PyTorch's logits, tapped outputs, loss and every parameter gradient
 * (fingerprints).  Layers alone are check_nn_layers.c's. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../src/core/core.h"
#include "golden.h"
#include "kernels.h"
#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"

/* ---- the graph ---------------------------------------------------------------------- */

/* A small net with every op and two kinds of branching. */
static ndx_net *branchy(int size)
{
    ndx_net *net = ndx_net_new("branchy", 3, size, size);
    int a = ndx_net_conv(net, "conv1", 0, 6, 3, 3, 1, 1, 1, 1, 1, 1);
    a = ndx_net_bn(net, "bn1", a, 1e-5f);
    a = ndx_net_relu(net, "relu1", a);
    int b = ndx_net_conv(net, "b.conv", a, 6, 1, 1, 1, 1, 0, 0, 2, 0);
    b = ndx_net_bn(net, "b.bn", b, 1e-5f);
    int s = ndx_net_add(net, "add", b, a);             /* a used twice */
    int p = ndx_net_avgpool(net, "pool", a, 3, 1, 1, 1);
    int ins[3] = {s, p, a};
    int c = ndx_net_concat(net, "cat", ins, 3);        /* a three times */
    c = ndx_net_maxpool(net, "mp", c, 3, 2, 1, 1);
    int d = ndx_net_adaptive_avgpool(net, "ap", c, 2, 2);
    ndx_net_relu(net, "dead", c);                      /* reaches no output */
    c = ndx_net_flatten(net, "flatten", d);
    c = ndx_net_dropout(net, "drop", c, 0.5f);
    c = ndx_net_linear(net, "fc", c, 3, 1);
    ndx_net_alias(net, "features", p);
    ck_assert_int_eq(ndx_net_finish(net, 1), NDX_OK);
    return net;
}

static double net_loss(ndx_net *net, const float *x, const int *labels)
{
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
    ndx_tensor out;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &out), NDX_OK);
    double loss;
    ck_assert_int_eq(ndx_softmax_xent((int)out.shape[0], (int)out.shape[1], out.data, labels,
                                      NULL, NULL, &loss), NDX_OK);
    return loss;
}

START_TEST(test_graph_fd)
{
    ck_assert_int_eq(ndx_set_threads(1), NDX_OK);   /* many tiny runs */
    ndx_net *net = branchy(7);
    ck_assert_int_eq(ndx_net_plan(net, 2, NDX_PLAN_TRAIN), NDX_OK);
    ndx_net_set_dropout(net, 0);
    uint64_t s = 17;
    float x[2 * 3 * 49], dz[6];
    tu_fill(&s, x, sizeof x / sizeof *x);
    const int labels[2] = {0, 2};
    size_t np;
    float *params = ndx_net_params(net, &np), *grads = ndx_net_grads(net, NULL);
    /* BN running stats drift with each training forward but do not enter the
     * training-mode output, so the loss is a function of the parameters. */
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
    ndx_tensor out;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &out), NDX_OK);
    ck_assert_int_eq(ndx_softmax_xent(2, 3, out.data, labels, NULL, dz, NULL), NDX_OK);
    memset(grads, 0, np * sizeof *grads);
    ck_assert_int_eq(ndx_net_backward(net, dz), NDX_OK);
    int checked = 0;
    for (int t = 0; t < ndx_net_num_tensors(net); t++) {
        ndx_param_info pi;
        ck_assert_int_eq(ndx_net_tensor(net, t, &pi), NDX_OK);
        if (pi.is_buffer) continue;
        for (size_t j = 0; j < pi.numel; j += 1 + pi.numel / 5) {
            const float p0 = pi.data[j];
            const double h = 1e-3;
            pi.data[j] = (float)(p0 + h);
            double lp = net_loss(net, x, labels);
            pi.data[j] = (float)(p0 - h);
            double lm = net_loss(net, x, labels);
            pi.data[j] = p0;
            double num = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(num - pi.grad[j]) <= 2e-3 + 2e-2 * fabs(num),
                          "%s[%zu]: backward %.6g, finite differences %.6g", pi.name, j,
                          (double)pi.grad[j], num);
            checked++;
        }
    }
    ck_assert_int_ge(checked, 20);
    (void)params;
    ndx_net_free(net);
}
END_TEST

/* ndx_net_zero_grads: the gradients of one backward pass equal those after a
 * memset, from gradients full of NaN, padding included; the next backward
 * pass adds again. */
START_TEST(test_graph_zero_grads)
{
    ndx_net *net = branchy(7);
    ck_assert_int_eq(ndx_net_plan(net, 2, NDX_PLAN_TRAIN), NDX_OK);
    ndx_net_set_dropout(net, 0);
    uint64_t s = 19;
    float x[2 * 3 * 49];
    tu_fill(&s, x, sizeof x / sizeof *x);
    const int labels[2] = {1, 2};
    size_t np;
    float *grads = ndx_net_grads(net, &np), *want = malloc(np * sizeof *want);
    memset(grads, 0, np * sizeof *grads);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_loss_backward(net, labels, NULL, NULL), NDX_OK);
    memcpy(want, grads, np * sizeof *want);
    for (size_t i = 0; i < np; i++) grads[i] = NAN;
    ndx_net_zero_grads(net);
    for (int pass = 1; pass <= 2; pass++) {
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
        ck_assert_int_eq(ndx_net_loss_backward(net, labels, NULL, NULL), NDX_OK);
        size_t nonzero = 0;
        for (size_t i = 0; i < np; i++) {
            ck_assert_msg(fabsf(grads[i] - pass * want[i]) <= 1e-6f * (1 + fabsf(want[i])),
                          "pass %d: gradient %zu is %g, want %g", pass, i, (double)grads[i],
                          (double)(pass * want[i]));
            nonzero += want[i] != 0;
        }
        ck_assert_uint_gt(nonzero, np / 2);
    }
    free(want);
    ndx_net_free(net);
}
END_TEST

START_TEST(test_graph_plans)
{
    ndx_net *net = branchy(9);
    uint64_t s = 23;
    float x[4 * 3 * 81];
    tu_fill(&s, x, sizeof x / sizeof *x);
    /* eval on a training plan (unfused) equals eval on an inference plan
     * (fused conv+bn+relu, buffers reused) */
    ndx_net_init_hash(net, 3);
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_TRAIN), NDX_OK);
    size_t train_bytes = ndx_net_activation_bytes(net);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ndx_tensor o;
    const int last = ndx_net_num_nodes(net) - 1;
    ck_assert_int_eq(ndx_net_output(net, last, &o), NDX_OK);
    float ref[12], tap[4 * 6 * 81];
    memcpy(ref, o.data, sizeof ref);
    const int f = ndx_net_find(net, "features");
    ck_assert_int_eq(f, ndx_net_find(net, "pool"));
    ck_assert_int_eq(ndx_net_output(net, f, &o), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&o), sizeof tap / sizeof *tap);
    memcpy(tap, o.data, sizeof tap);
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_INFER), NDX_OK);
    ck_assert_uint_lt(ndx_net_activation_bytes(net), train_bytes);
    for (int rep = 0; rep < 2; rep++) {
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
        ck_assert_int_eq(ndx_net_output(net, last, &o), NDX_OK);
        tu_assert_close_rel(o.data, ref, 12, 1e-5, "fused inference logits");
    }
    /* the pool output was reused by the end of the run; a tap stops there */
    ck_assert_int_eq(ndx_net_output(net, f, &o), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, f), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, f, &o), NDX_OK);
    tu_assert_close_rel(o.data, tap, sizeof tap / sizeof *tap, 1e-5, "tapped pool");
    /* a node inside a fused group: bn1 (before relu1) */
    const int bn1 = ndx_net_find(net, "bn1");
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, bn1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, bn1, &o), NDX_OK);
    float bn1_out[4 * 6 * 81];
    memcpy(bn1_out, o.data, sizeof bn1_out);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_net_find(net, "nope"), -1);
    /* batch norm folded in place: the same logits, bn1 still tappable, conv1 not */
    size_t two_copies = ndx_net_param_bytes(net);
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_INFER_FOLDED), NDX_OK);
    ck_assert_uint_lt(ndx_net_param_bytes(net), two_copies);
    for (int rep = 0; rep < 2; rep++) {
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
        ck_assert_int_eq(ndx_net_output(net, last, &o), NDX_OK);
        tu_assert_close_rel(o.data, ref, 12, 1e-5, "folded inference logits");
        ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_INFER_FOLDED), NDX_OK);   /* once only */
    }
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, bn1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, bn1, &o), NDX_OK);
    tu_assert_close_rel(o.data, bn1_out, sizeof bn1_out / sizeof *bn1_out, 1e-5, "folded bn1 tap");
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, ndx_net_find(net, "conv1")),
                     NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_TRAIN), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_safetensors_save(net, "/nonexistent/x.safetensors"), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "folded"));
    ndx_net_init_hash(net, 3);   /* fresh weights: plannable again, same results */
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_TRAIN), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, last, &o), NDX_OK);
    tu_assert_close_rel(o.data, ref, 12, 1e-6, "logits after re-initialising");
    ndx_net_free(net);
}
END_TEST

/* Eval logits (2 classes, batch n) of a net with the convolution path forced. */
static void eval_logits(ndx_net *net, int n, int mode, ndx__conv_algo algo, const float *x,
                        float *out)
{
    ndx__conv_set_algo(algo);
    ck_assert_int_eq(ndx_net_plan(net, n, mode), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ndx_tensor o;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &o), NDX_OK);
    memcpy(out, o.data, sizeof(float) * 2 * (size_t)n);
    ndx__conv_set_algo(NDX__CONV_AUTO);
}

/* Inference plans keep the Winograd transform of the (folded) weights: the
 * logits equal the im2col path's, also after the weights change (touch), and
 * after batch norm is folded in place and the net planned again at another
 * batch (another set of Winograd layers). */
START_TEST(test_graph_winograd_cache)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 64, 1, &net), NDX_OK);
    ndx_net_init_hash(net, 5);
    uint64_t s = 41;
    float *x = malloc(sizeof(float) * 4 * 3 * 64 * 64);
    tu_fill(&s, x, 4 * 3 * 64 * 64);
    /* features.4 (32 -> 64 at 32x32) takes Winograd; features.12 (96 -> 128
     * at 8x8: 16 tiles an image) only from batch 3 */
    ndx_conv2d_desc d4 = {2, 32, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0};
    ndx_conv2d_desc d12 = {2, 96, 8, 8, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0};
    ck_assert_str_eq(ndx_conv2d_algo(&d4), "winograd");
    ck_assert_str_eq(ndx_conv2d_algo(&d12), "im2col");
    d12.n = 4;
    ck_assert_str_eq(ndx_conv2d_algo(&d12), "winograd");

    float ref[8], got[8], before[8];
    eval_logits(net, 4, NDX_PLAN_INFER, NDX__CONV_IM2COL, x, ref);
    eval_logits(net, 4, NDX_PLAN_INFER, NDX__CONV_AUTO, x, got);
    tu_assert_close_rel(got, ref, 8, 1e-4, "cached Winograd, batch 4");
    memcpy(before, got, sizeof got);
    /* new weights in features.4: the cache follows */
    for (int i = 0; i < ndx_net_num_tensors(net); i++) {
        ndx_param_info p;
        ck_assert_int_eq(ndx_net_tensor(net, i, &p), NDX_OK);
        if (strcmp(p.name, "features.4.weight")) continue;
        for (size_t j = 0; j < p.numel; j++) p.data[j] *= (j % 3) ? 0.5f : -1.0f;
    }
    ndx_net_touch(net);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ndx_tensor o;
    ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &o), NDX_OK);
    memcpy(got, o.data, sizeof got);
    double diff = 0;
    for (int j = 0; j < 8; j++) diff += fabs(got[j] - before[j]);
    ck_assert(diff > 1e-3);
    eval_logits(net, 4, NDX_PLAN_INFER, NDX__CONV_IM2COL, x, ref);
    tu_assert_close_rel(got, ref, 8, 1e-4, "cached Winograd after touch");
    /* folded in place, batch 4 then batch 1 (features.12 back to im2col) */
    eval_logits(net, 4, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    tu_assert_close_rel(got, ref, 8, 1e-4, "folded, batch 4");
    eval_logits(net, 1, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    tu_assert_close_rel(got, ref, 2, 1e-4, "folded, batch 1");
    eval_logits(net, 4, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    tu_assert_close_rel(got, ref, 8, 1e-4, "folded, batch 4 again");
    free(x);
    ndx_net_free(net);
}
END_TEST

/* Folding in place also packs the weights of the convolutions that always
 * run through im2col (resnet18: the 7x7 stem, strided 3x3s, 1x1 shortcuts)
 * into the GEMM's panel layout: the same logits as the unfolded plan at
 * batch 2 and 1, and a kernel set with another layout is refused. */
START_TEST(test_graph_folded_packed)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("resnet18", 2, 64, 1, &net), NDX_OK);
    ndx_net_init_hash(net, 9);
    uint64_t s = 43;
    float *x = malloc(sizeof(float) * 2 * 3 * 64 * 64);
    tu_fill(&s, x, 2 * 3 * 64 * 64);
    float ref[4], got[4];
    eval_logits(net, 2, NDX_PLAN_INFER, NDX__CONV_AUTO, x, ref);
    for (int rep = 0; rep < 2; rep++) {   /* packed once: the second plan keeps it */
        eval_logits(net, 2, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
        tu_assert_close_rel(got, ref, 4, 1e-4, "folded and packed, batch 2");
    }
    eval_logits(net, 1, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    tu_assert_close_rel(got, ref, 2, 1e-4, "folded and packed, batch 1");
    const char *now = ndx_kernels()->isa, *other;   /* every other set refuses them */
    for (int i = 0; (other = ndx_kernels_name_at(i)); i++) {
        if (!strcmp(other, now) || ndx_kernels_select(other)) continue;
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_ERR_INVALID);
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), "packed for another kernel set"));
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), now));
        ck_assert_int_eq(ndx_kernels_select(now), 0);
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    }
    ndx_net_init_hash(net, 9);   /* fresh weights: unpacked, the same logits unfolded */
    eval_logits(net, 2, NDX_PLAN_INFER, NDX__CONV_AUTO, x, got);
    tu_assert_close_rel(got, ref, 4, 1e-6, "unfolded again");
    free(x);
    ndx_net_free(net);
}
END_TEST

START_TEST(test_graph_errors)
{
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("resnet7", 2, 64, 0, &net), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "resnet7"));
    ck_assert_int_eq(ndx_zoo_build("alexnet", 2, 32, 0, &net), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "features"));
    ck_assert_ptr_null(net);
    ck_assert_int_eq(ndx_zoo_build("inception_v3", 2, 74, 0, &net), NDX_ERR_SHAPE);
    net = ndx_net_new("bad", 3, 8, 8);
    int a = ndx_net_conv(net, "c", 0, 4, 3, 3, 1, 1, 0, 0, 1, 0);
    ck_assert_int_eq(ndx_net_conv(net, "c", a, 4, 3, 3, 1, 1, 0, 0, 1, 0), -1);
    ck_assert_int_eq(ndx_net_finish(net, 0), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "used twice"));
    ndx_net_free(net);
}
END_TEST

/* ---- zoo models against PyTorch ---------------------------------------------------- */

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static double hash_u(uint64_t st, size_t i)
{
    uint64_t z = st + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 40) / 8388608.0 - 1.0;
}

/* train = 0: eval logits and tap only (inception_v3 at 75 px has 1x1 maps in
 * Mixed_7*, where training-mode batch norm over 2 values makes the loss and
 * gradients depend on float rounding: netdx's own kernel sets differ by 1e-3). */
static void model_golden(const char *arch, const char *tap, int train)
{
    char file[64];
    snprintf(file, sizeof file, "nn_model_%s.gold", arch);
    gold_file g;
    gold_record r;
    gold_open(&g, file);
    ck_assert(gold_next(&g, &r));
    gold_expect(&g, &r, 5, 6);
    const int seed = r.p[0], batch = r.p[1], size = r.p[2], classes = r.p[3];
    ndx_net *net;
    ck_assert_msg(ndx_zoo_build(arch, classes, size, 0, &net) == NDX_OK, "%s", ndx_last_error());
    ndx_net_init_hash(net, (uint64_t)seed);
    /* eval: logits and the tap from an inference plan */
    ck_assert_int_eq(ndx_net_plan(net, batch, NDX_PLAN_INFER), NDX_OK);
    const float *x = r.t[0].data;
    const int last = ndx_net_num_nodes(net) - 1, t = ndx_net_find(net, tap);
    ck_assert_int_ge(t, 0);
    ndx_tensor o;
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, last, &o), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&o), r.t[1].n);
    tu_assert_close_rel(o.data, r.t[1].data, r.t[1].n, 1e-4, "eval logits");
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, t), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, t, &o), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&o), r.t[2].n);
    tu_assert_close_rel(o.data, r.t[2].data, r.t[2].n, 1e-4, "eval tap");
    if (!train) {
        ndx_net_free(net);
        gold_record_free(&r);
        gold_close(&g);
        return;
    }
    /* one training step: loss and every parameter gradient */
    ck_assert_int_eq(ndx_net_plan(net, batch, NDX_PLAN_TRAIN), NDX_OK);
    ndx_net_set_dropout(net, 0);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, last, &o), NDX_OK);
    int labels[64];
    for (int i = 0; i < batch; i++) labels[i] = (int)r.t[3].data[i];
    float *dz = malloc((size_t)batch * classes * sizeof *dz);
    double loss;
    ck_assert_int_eq(ndx_softmax_xent(batch, classes, o.data, labels, NULL, dz, &loss), NDX_OK);
    ck_assert_msg(fabs(loss - r.t[4].data[0]) <= 1e-4 * fabs(r.t[4].data[0]),
                  "%s: loss %.8g, expected %.8g", arch, loss, (double)r.t[4].data[0]);
    size_t np;
    float *grads = ndx_net_grads(net, &np);
    memset(grads, 0, np * sizeof(float));
    ck_assert_int_eq(ndx_net_backward(net, dz), NDX_OK);
    /* the same step through ndx_net_loss_backward: the same gradients */
    float *g1 = malloc(np * sizeof *g1);
    memcpy(g1, grads, np * sizeof *g1);
    memset(grads, 0, np * sizeof(float));
    double loss2 = NAN;
    ck_assert_int_eq(ndx_net_loss_backward(net, labels, NULL, &loss2), NDX_OK);
    ck_assert(loss2 == loss);
    ck_assert_mem_eq(g1, grads, np * sizeof *g1);
    free(g1);
    uint64_t h = 0xcbf29ce484222325ull;
    int k = 0;
    for (int i = 0; i < ndx_net_num_tensors(net); i++) {
        ndx_param_info pi;
        ck_assert_int_eq(ndx_net_tensor(net, i, &pi), NDX_OK);
        if (pi.is_buffer) continue;
        if (k) h = fnv1a(",", h);
        h = fnv1a(pi.name, h);
        char gname[128];
        snprintf(gname, sizeof gname, "grad:%s", pi.name);
        const uint64_t st = (uint64_t)seed ^ fnv1a(gname, 0xcbf29ce484222325ull);
        double nrm = 0, dot = 0, unrm = 0;
        for (size_t j = 0; j < pi.numel; j++) {
            const double u = hash_u(st, j);
            nrm += (double)pi.grad[j] * pi.grad[j];
            dot += u * pi.grad[j];
            unrm += u * u;
        }
        nrm = sqrt(nrm);
        ck_assert_uint_lt((size_t)k * 2 + 1, r.t[5].n);
        const double wn = r.t[5].data[2 * k], wd = r.t[5].data[2 * k + 1];
        ck_assert_msg(fabs(nrm - wn) <= 1e-4 * wn + 1e-12,
                      "%s: |grad %s| = %.8g, PyTorch %.8g", arch, pi.name, nrm, wn);
        ck_assert_msg(fabs(dot - wd) <= 1e-4 * wn * sqrt(unrm) + 1e-12,
                      "%s: <grad %s, u> = %.8g, PyTorch %.8g", arch, pi.name, dot, wd);
        k++;
    }
    ck_assert_uint_eq((size_t)k * 2, r.t[5].n);
    ck_assert_int_eq((int)(h & 0x7fffffff), r.p[4]);
    free(dz);
    ndx_net_free(net);
    gold_record_free(&r);
    gold_close(&g);
}

START_TEST(test_model_tiny) { model_golden("tiny", "features.8", 1); }
END_TEST
START_TEST(test_model_resnet18) { model_golden("resnet18", "layer3.1.bn2", 1); }
END_TEST
START_TEST(test_model_alexnet) { model_golden("alexnet", "features.10", 1); }
END_TEST
START_TEST(test_model_inception_v3) { model_golden("inception_v3", "Mixed_6b", 0); }
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn_graph");
    TCase *tc;
    tc = tcase_create("graph");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_graph_fd);
    tcase_add_test(tc, test_graph_zero_grads);
    tcase_add_test(tc, test_graph_plans);
    tcase_add_test(tc, test_graph_winograd_cache);
    tcase_add_test(tc, test_graph_folded_packed);
    tcase_add_test(tc, test_graph_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("zoo");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_model_tiny);
    tcase_add_test(tc, test_model_resnet18);
    tcase_add_test(tc, test_model_alexnet);
    tcase_add_test(tc, test_model_inception_v3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
