/* Networks suite: every layer against PyTorch golden files (made by
 * tools/gen_nn_golden.py) and against finite differences; the graph (plans,
 * buffer reuse, fusion, taps, backward through branches); the zoo models
 * tiny, resnet18, alexnet and inception_v3 against PyTorch's logits, tapped outputs, loss
 * and every parameter gradient (fingerprints); safetensors and .npy files. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/core/core.h"
#include "golden.h"
#include "kernels.h"
#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"

/* max |got - want| <= tol * max(max |want|, 1e-3): the error relative to the
 * tensor's scale. */
static void assert_close_rel(const float *got, const float *want, size_t n, double tol,
                             const char *what)
{
    double scale = 1e-3, err = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (isnan(got[i]) || e > err) err = isnan(got[i]) ? INFINITY : e, worst = i;
    }
    ck_assert_msg(err <= tol * scale, "%s: element %zu is %.9g, expected %.9g (error %.3g of "
                  "scale %.3g)", what, worst, n ? got[worst] : 0.0, n ? want[worst] : 0.0,
                  err / scale, scale);
}

/* ---- layers against PyTorch ------------------------------------------------------- */

START_TEST(test_conv_golden)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "nn_conv.gold");
    int cases = 0;
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 15, 8);
        const int *p = r.p;
        ndx_conv2d_desc d = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9],
                             p[10], p[11], p[12], p[13], 0};
        ck_assert_int_eq(ndx_conv2d_check(&d), NDX_OK);
        const size_t ny = r.t[3].n, nx = r.t[0].n, nw = r.t[1].n;
        float *ws = tu_alloc_poisoned(ndx_conv2d_workspace(&d) + 1);
        float *y = tu_alloc_poisoned(ny), *dx = tu_alloc_poisoned(nx);
        float *dw = tu_alloc_poisoned(nw), *db = tu_alloc_poisoned((size_t)d.k);
        const float *b = p[14] ? r.t[2].data : NULL;
        ck_assert_int_eq(ndx_conv2d_forward(&d, r.t[0].data, r.t[1].data, b, y, ws), NDX_OK);
        assert_close_rel(y, r.t[3].data, ny, 1e-5, "conv forward");
        ck_assert_int_eq(ndx_conv2d_backward_data(&d, r.t[4].data, r.t[1].data, dx, ws), NDX_OK);
        assert_close_rel(dx, r.t[5].data, nx, 1e-5, "conv dx");
        ck_assert_int_eq(ndx_conv2d_backward_weight(&d, r.t[0].data, r.t[4].data, dw,
                                                    p[14] ? db : NULL, ws, 0), NDX_OK);
        assert_close_rel(dw, r.t[6].data, nw, 1e-5, "conv dw");
        if (p[14]) assert_close_rel(db, r.t[7].data, (size_t)d.k, 1e-5, "conv db");
        tu_check_guard(y, ny);
        tu_check_guard(dx, nx);
        tu_check_guard(dw, nw);
        free(ws), free(y), free(dx), free(dw), free(db);
        gold_record_free(&r);
        cases++;
    }
    gold_close(&g);
    ck_assert_int_ge(cases, 5);
}
END_TEST

START_TEST(test_linear_golden)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "nn_linear.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 3, 8);
        const int n = r.p[0], in = r.p[1], out = r.p[2];
        float *y = tu_alloc_poisoned((size_t)n * out), *dx = tu_alloc_poisoned((size_t)n * in);
        float *dw = calloc((size_t)out * in, sizeof *dw), *db = calloc((size_t)out, sizeof *db);
        ndx_linear_forward(n, in, out, r.t[0].data, r.t[1].data, r.t[2].data, y);
        assert_close_rel(y, r.t[3].data, r.t[3].n, 1e-5, "linear forward");
        ndx_linear_backward(n, in, out, r.t[0].data, r.t[1].data, r.t[4].data, dx, dw, db, 0);
        assert_close_rel(dx, r.t[5].data, r.t[5].n, 1e-5, "linear dx");
        assert_close_rel(dw, r.t[6].data, r.t[6].n, 1e-5, "linear dw");
        assert_close_rel(db, r.t[7].data, r.t[7].n, 1e-5, "linear db");
        /* parameter gradients accumulate */
        ndx_linear_backward(n, in, out, r.t[0].data, r.t[1].data, r.t[4].data, NULL, dw, db, 0);
        for (size_t i = 0; i < r.t[7].n; i++) r.t[7].data[i] *= 2;
        assert_close_rel(db, r.t[7].data, r.t[7].n, 1e-5, "linear db accumulated");
        tu_check_guard(y, (size_t)n * out);
        free(y), free(dx), free(dw), free(db);
        gold_record_free(&r);
    }
    gold_close(&g);
}
END_TEST

START_TEST(test_pool_golden)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "nn_pool.gold");
    int kinds[3] = {0, 0, 0};
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 13, 4);
        const int *p = r.p, kind = p[0], planes = p[1] * p[2];
        ndx_pool2d ps = {p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12]};
        const size_t ny = r.t[1].n, nx = r.t[0].n;
        float *y = tu_alloc_poisoned(ny), *dx = tu_alloc_poisoned(nx);
        int32_t *am = malloc(ny * sizeof *am);
        if (kind == 0) {
            ck_assert_uint_eq((size_t)planes * ndx_pool2d_out_h(&ps) * ndx_pool2d_out_w(&ps), ny);
            ndx_maxpool2d_forward(planes, &ps, r.t[0].data, y, am);
            ndx_maxpool2d_backward(planes, &ps, am, r.t[2].data, dx, 0);
        } else if (kind == 1) {
            ck_assert_uint_eq((size_t)planes * ndx_pool2d_out_h(&ps) * ndx_pool2d_out_w(&ps), ny);
            ndx_avgpool2d_forward(planes, &ps, r.t[0].data, y);
            ndx_avgpool2d_backward(planes, &ps, r.t[2].data, dx, 0);
        } else {
            ndx_adaptive_avgpool2d_forward(planes, p[3], p[4], p[5], p[6], r.t[0].data, y);
            ndx_adaptive_avgpool2d_backward(planes, p[3], p[4], p[5], p[6], r.t[2].data, dx, 0);
        }
        assert_close_rel(y, r.t[1].data, ny, 1e-6, "pool forward");
        assert_close_rel(dx, r.t[3].data, nx, 1e-6, "pool backward");
        tu_check_guard(y, ny);
        tu_check_guard(dx, nx);
        kinds[kind]++;
        free(y), free(dx), free(am);
        gold_record_free(&r);
    }
    gold_close(&g);
    ck_assert(kinds[0] && kinds[1] && kinds[2]);
}
END_TEST

START_TEST(test_bn_golden)
{
    gold_file g;
    gold_record r, r2;
    gold_open(&g, "nn_bn.gold");
    int seen_train = 0, seen_eval = 0;
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 5, 8);
        ck_assert(gold_next(&g, &r2));
        gold_expect(&g, &r2, 5, 8);
        const int train = r.p[0], n = r.p[1], c = r.p[2];
        const size_t hw = (size_t)r.p[3] * r.p[4], cnt = (size_t)n * c * hw;
        float *y = tu_alloc_poisoned(cnt), *dx = tu_alloc_poisoned(cnt);
        float rm[16], rv[16], sm[16], si[16], dgb[32] = {0};
        memcpy(rm, r.t[3].data, (size_t)c * sizeof *rm);
        memcpy(rv, r.t[4].data, (size_t)c * sizeof *rv);
        if (train) {
            ndx_batchnorm_forward_train(n, c, hw, r.t[0].data, r.t[1].data, r.t[2].data, rm, rv,
                                        0.1f, 1e-5f, y, sm, si);
            ndx_batchnorm_backward_train(n, c, hw, r.t[0].data, r.t[1].data, sm, si, r2.t[5].data,
                                         dx, dgb, dgb + c, 0);
            seen_train++;
        } else {
            ndx_batchnorm_forward_eval(n, c, hw, r.t[0].data, r.t[1].data, r.t[2].data, rm, rv,
                                       1e-5f, y);
            ndx_batchnorm_backward_eval(n, c, hw, r.t[0].data, r.t[1].data, rm, rv, 1e-5f,
                                        r2.t[5].data, dx, dgb, dgb + c, 0);
            seen_eval++;
        }
        assert_close_rel(y, r.t[5].data, cnt, 1e-5, "bn forward");
        assert_close_rel(rm, r.t[6].data, (size_t)c, 1e-5, "bn running_mean");
        assert_close_rel(rv, r.t[7].data, (size_t)c, 1e-5, "bn running_var");
        assert_close_rel(dx, r2.t[6].data, cnt, 1e-4, "bn dx");
        assert_close_rel(dgb, r2.t[7].data, 2 * (size_t)c, 1e-5, "bn dgamma, dbeta");
        free(y), free(dx);
        gold_record_free(&r);
        gold_record_free(&r2);
    }
    gold_close(&g);
    ck_assert(seen_train && seen_eval);
}
END_TEST

START_TEST(test_xent_golden)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "nn_xent.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 3, 5);
        const int n = r.p[0], k = r.p[1];
        int labels[16];
        for (int i = 0; i < n; i++) labels[i] = (int)r.t[1].data[i];
        float *dz = tu_alloc_poisoned((size_t)n * k);
        double loss = NAN;
        ck_assert_int_eq(ndx_softmax_xent(n, k, r.t[0].data, labels, r.p[2] ? r.t[2].data : NULL,
                                          dz, &loss), NDX_OK);
        ck_assert_msg(fabs(loss - r.t[3].data[0]) <= 1e-5 * fabs(r.t[3].data[0]),
                      "loss %.9g, expected %.9g", loss, (double)r.t[3].data[0]);
        assert_close_rel(dz, r.t[4].data, (size_t)n * k, 1e-5, "xent dlogits");
        labels[0] = k;
        ck_assert_int_eq(ndx_softmax_xent(n, k, r.t[0].data, labels, NULL, dz, &loss),
                         NDX_ERR_INVALID);
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), "label"));
        free(dz);
        gold_record_free(&r);
    }
    gold_close(&g);
}
END_TEST

/* ---- layers against finite differences ---------------------------------------------
 * L(x) = sum_i r_i f(x)_i, accumulated in double; the analytic gradient from the
 * backward with dy = r; central differences with step h. */

typedef void (*fwd_fn)(void *ctx, const float *x, float *y);

static void fd_check(fwd_fn f, void *ctx, float *x, size_t nx, size_t ny, const float *analytic,
                     const float *r, double h, double tol, const char *what)
{
    float *y = malloc(ny * sizeof *y);
    double worst = 0, scale = 1e-3;
    for (size_t i = 0; i < nx; i++) scale = fmax(scale, fabs(analytic[i]));
    for (size_t i = 0; i < nx; i++) {
        const float x0 = x[i];
        double l[2];
        for (int s = 0; s < 2; s++) {
            x[i] = (float)(x0 + (s ? -h : h));
            f(ctx, x, y);
            l[s] = 0;
            for (size_t j = 0; j < ny; j++) l[s] += (double)r[j] * y[j];
        }
        x[i] = x0;
        const double num = (l[0] - l[1]) / (2 * h);
        worst = fmax(worst, fabs(num - analytic[i]));
    }
    ck_assert_msg(worst <= tol * scale, "%s: finite differences differ by %.3g of scale %.3g",
                  what, worst / scale, scale);
    free(y);
}

typedef struct {
    ndx_conv2d_desc d;
    float *w, *b, *ws, *x;
    int wrt_w;
} conv_ctx;

static void conv_f(void *ctx, const float *v, float *y)
{
    conv_ctx *c = ctx;
    ck_assert_int_eq(ndx_conv2d_forward(&c->d, c->wrt_w ? c->x : v, c->wrt_w ? v : c->w, c->b, y,
                                        c->ws), NDX_OK);
}

START_TEST(test_conv_fd)
{
    ck_assert_int_eq(ndx_set_threads(1), NDX_OK);   /* many tiny runs */
    uint64_t s = 11;
    conv_ctx c = {{2, 4, 6, 5, 4, 3, 3, 2, 1, 1, 1, 1, 2, 2, 0}, 0, 0, 0, 0, 0};
    const size_t nx = 2 * 4 * 6 * 5, nw = 4 * 2 * 9;
    const size_t ny = (size_t)2 * 4 * ndx_conv2d_out_h(&c.d) * ndx_conv2d_out_w(&c.d);
    c.x = malloc(nx * 4), c.w = malloc(nw * 4), c.b = malloc(16);
    c.ws = malloc((ndx_conv2d_workspace(&c.d) + 1) * 4);
    float *r = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4), db[4];
    tu_fill(&s, c.x, nx), tu_fill(&s, c.w, nw), tu_fill(&s, c.b, 4), tu_fill(&s, r, ny);
    ck_assert_int_eq(ndx_conv2d_backward_data(&c.d, r, c.w, dx, c.ws), NDX_OK);
    ck_assert_int_eq(ndx_conv2d_backward_weight(&c.d, c.x, r, dw, db, c.ws, 0), NDX_OK);
    fd_check(conv_f, &c, c.x, nx, ny, dx, r, 1e-2, 2e-3, "conv dx");
    c.wrt_w = 1;
    fd_check(conv_f, &c, c.w, nw, ny, dw, r, 1e-2, 2e-3, "conv dw");
    free(c.x), free(c.w), free(c.b), free(c.ws), free(r), free(dx), free(dw);
}
END_TEST

typedef struct { int n, c; size_t hw; float *g, *b, *sm, *si; } bn_ctx;

static void bn_f(void *ctx, const float *x, float *y)
{
    bn_ctx *c = ctx;
    ndx_batchnorm_forward_train(c->n, c->c, c->hw, x, c->g, c->b, NULL, NULL, 0.1f, 1e-5f, y,
                                c->sm, c->si);
}

START_TEST(test_bn_fd)
{
    ck_assert_int_eq(ndx_set_threads(1), NDX_OK);   /* many tiny runs */
    uint64_t s = 5;
    float g[3], b[3], sm[3], si[3];
    bn_ctx c = {2, 3, 4, g, b, sm, si};
    const size_t n = 24;
    float x[24], r[24], y[24], dx[24], dg[3] = {0}, dbt[3] = {0};
    tu_fill(&s, x, n), tu_fill(&s, r, n), tu_fill(&s, g, 3), tu_fill(&s, b, 3);
    bn_f(&c, x, y);
    ndx_batchnorm_backward_train(2, 3, 4, x, g, sm, si, r, dx, dg, dbt, 0);
    fd_check(bn_f, &c, x, n, n, dx, r, 1e-3, 5e-3, "batchnorm dx");
}
END_TEST

typedef struct { ndx_pool2d p; int planes, kind; int32_t *am; } pool_ctx;

static void pool_f(void *ctx, const float *x, float *y)
{
    pool_ctx *c = ctx;
    if (c->kind == 0) ndx_maxpool2d_forward(c->planes, &c->p, x, y, c->am);
    else if (c->kind == 1) ndx_avgpool2d_forward(c->planes, &c->p, x, y);
    else ndx_adaptive_avgpool2d_forward(c->planes, c->p.h, c->p.w, 3, 2, x, y);
}

START_TEST(test_pool_fd)
{
    ck_assert_int_eq(ndx_set_threads(1), NDX_OK);   /* many tiny runs */
    uint64_t s = 9;
    for (int kind = 0; kind < 3; kind++) {
        pool_ctx c = {{7, 6, 3, 3, 2, 2, 1, 1, 1, 0}, 2, kind, NULL};
        const size_t nx = 2 * 42;
        size_t ny = kind == 2 ? 12 : (size_t)2 * ndx_pool2d_out_h(&c.p) * ndx_pool2d_out_w(&c.p);
        float x[84], r[84], dx[84];
        int32_t am[84];
        c.am = am;
        /* distinct values, far apart compared with the step: no ties at the max */
        for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 37) % nx) * 0.1f;
        tu_fill(&s, r, ny);
        float y[84];
        pool_f(&c, x, y);
        if (kind == 0) ndx_maxpool2d_backward(2, &c.p, am, r, dx, 0);
        else if (kind == 1) ndx_avgpool2d_backward(2, &c.p, r, dx, 0);
        else ndx_adaptive_avgpool2d_backward(2, 7, 6, 3, 2, r, dx, 0);
        fd_check(pool_f, &c, x, nx, ny, dx, r, 1e-2, 1e-3, "pool dx");
    }
}
END_TEST

START_TEST(test_small_layers)
{
    /* relu, dropout, concat, add against their definitions */
    uint64_t s = 3;
    float x[64], y[64], dy[64], dx[64], m[64];
    tu_fill(&s, x, 64), tu_fill(&s, dy, 64);
    ndx_relu_forward(64, x, y);
    ndx_relu_backward(64, y, dy, dx, 0);
    for (int i = 0; i < 64; i++) {
        ck_assert_float_eq(y[i], x[i] > 0 ? x[i] : 0);
        ck_assert_float_eq(dx[i], x[i] > 0 ? dy[i] : 0);
    }
    ndx_rng rng;
    ndx_rng_seed(&rng, 1);
    ndx_dropout_forward(64, 0.25f, &rng, x, y, m);
    int zeros = 0;
    for (int i = 0; i < 64; i++) {
        ck_assert(m[i] == 0 || fabsf(m[i] - 1 / 0.75f) < 1e-6f);
        ck_assert_float_eq(y[i], x[i] * m[i]);
        zeros += m[i] == 0;
    }
    ck_assert(zeros > 4 && zeros < 32);
    /* concat of (2, 1, 4) and (2, 3, 4) */
    const int cs[2] = {1, 3};
    const float *xs[2] = {x, x + 8};
    ndx_concat_forward(2, 2, cs, 4, xs, y);
    ck_assert_float_eq(y[0], x[0]);
    ck_assert_float_eq(y[4], x[8]);
    ck_assert_float_eq(y[16], x[4]);
    ck_assert_float_eq(y[20], x[20]);
    float *dxs[2] = {dx, dx + 8};
    const int acc[2] = {0, 0};
    ndx_concat_backward(2, 2, cs, 4, y, dxs, acc);
    for (int i = 0; i < 32; i++) ck_assert_float_eq(dx[i], x[i]);
    ndx_add_forward(64, x, dy, y);
    for (int i = 0; i < 64; i++) ck_assert_float_eq(y[i], x[i] + dy[i]);
    /* grayscale input */
    float gray[2] = {0.0f, 1.0f}, in[6];
    ndx_gray_to_input(1, 2, gray, in);
    ck_assert(fabsf(in[0] - (0 - 0.485f) / 0.229f) < 1e-6f);
    ck_assert(fabsf(in[5] - (1 - 0.406f) / 0.225f) < 1e-6f);
}
END_TEST

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
        assert_close_rel(o.data, ref, 12, 1e-5, "fused inference logits");
    }
    /* the pool output was reused by the end of the run; a tap stops there */
    ck_assert_int_eq(ndx_net_output(net, f, &o), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, f), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, f, &o), NDX_OK);
    assert_close_rel(o.data, tap, sizeof tap / sizeof *tap, 1e-5, "tapped pool");
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
        assert_close_rel(o.data, ref, 12, 1e-5, "folded inference logits");
        ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_INFER_FOLDED), NDX_OK);   /* once only */
    }
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, bn1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, bn1, &o), NDX_OK);
    assert_close_rel(o.data, bn1_out, sizeof bn1_out / sizeof *bn1_out, 1e-5, "folded bn1 tap");
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, ndx_net_find(net, "conv1")),
                     NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_TRAIN), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_safetensors_save(net, "/nonexistent/x.safetensors"), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "folded"));
    ndx_net_init_hash(net, 3);   /* fresh weights: plannable again, same results */
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_TRAIN), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, last, &o), NDX_OK);
    assert_close_rel(o.data, ref, 12, 1e-6, "logits after re-initialising");
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
    assert_close_rel(got, ref, 8, 1e-4, "cached Winograd, batch 4");
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
    assert_close_rel(got, ref, 8, 1e-4, "cached Winograd after touch");
    /* folded in place, batch 4 then batch 1 (features.12 back to im2col) */
    eval_logits(net, 4, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    assert_close_rel(got, ref, 8, 1e-4, "folded, batch 4");
    eval_logits(net, 1, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    assert_close_rel(got, ref, 2, 1e-4, "folded, batch 1");
    eval_logits(net, 4, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    assert_close_rel(got, ref, 8, 1e-4, "folded, batch 4 again");
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
        assert_close_rel(got, ref, 4, 1e-4, "folded and packed, batch 2");
    }
    eval_logits(net, 1, NDX_PLAN_INFER_FOLDED, NDX__CONV_AUTO, x, got);
    assert_close_rel(got, ref, 2, 1e-4, "folded and packed, batch 1");
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
    assert_close_rel(got, ref, 4, 1e-6, "unfolded again");
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
    assert_close_rel(o.data, r.t[1].data, r.t[1].n, 1e-4, "eval logits");
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, t), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, t, &o), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&o), r.t[2].n);
    assert_close_rel(o.data, r.t[2].data, r.t[2].n, 1e-4, "eval tap");
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


/* ---- safetensors and .npy ----------------------------------------------------------- */

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/check_nn.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Removes the files the tests made and their directory. */
static void tmp_cleanup(void)
{
    const char *names[] = {"tiny.safetensors", "hand.safetensors", "x.npy", "bad.safetensors",
                           "meta.safetensors", "big.npy"};
    if (!tmpdir[0]) return;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(tmp_path(names[i]));
    ck_assert_int_eq(rmdir(tmpdir), 0);
    tmpdir[0] = 0;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void expect_load_error(ndx_net *net, const char *path, int flags, ndx_status want,
                              const char *needle)
{
    ndx_status st = ndx_safetensors_load_into(net, path, flags);
    ck_assert_msg(st == want, "%s: status %d, expected %d (%s)", path, st, want, ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  ndx_last_error(), needle);
}

START_TEST(test_safetensors_roundtrip)
{
    ndx_net *a, *b, *c;
    ck_assert_int_eq(ndx_zoo_build("tiny", 3, 16, 1, &a), NDX_OK);
    ndx_net_init_hash(a, 9);
    const char *path = tmp_path("tiny.safetensors");
    ck_assert_int_eq(ndx_safetensors_save(a, path), NDX_OK);
    char arch[32];
    int nc, size;
    ck_assert_int_eq(ndx_safetensors_meta(path, arch, sizeof arch, &nc, &size), NDX_OK);
    ck_assert_str_eq(arch, "tiny");
    ck_assert_int_eq(nc, 3);
    ck_assert_int_eq(size, 16);
    ck_assert_int_eq(ndx_net_load(path, &b), NDX_OK);
    ck_assert_int_eq(ndx_net_num_tensors(a), ndx_net_num_tensors(b));
    for (int i = 0; i < ndx_net_num_tensors(a); i++) {
        ndx_param_info pa, pb;
        ndx_net_tensor(a, i, &pa), ndx_net_tensor(b, i, &pb);
        ck_assert_str_eq(pa.name, pb.name);
        ck_assert_mem_eq(pa.data, pb.data, pa.numel * sizeof(float));
    }
    /* fine-tune set-up: a 2-class head over the 3-class file */
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 16, 1, &c), NDX_OK);
    expect_load_error(c, path, 0, NDX_ERR_SHAPE, "fc.weight has shape (3,128), tiny needs (2,128)");
    ndx_net_free(c);
    ck_assert_int_eq(ndx_net_load_finetune(path, "tiny", 2, 16, 4, &c), NDX_OK);
    ndx_param_info p0, p1, h0;
    ndx_net_tensor(a, 0, &p0), ndx_net_tensor(c, 0, &p1);
    ck_assert_mem_eq(p0.data, p1.data, p0.numel * sizeof(float));
    const int nt = ndx_net_num_tensors(c);
    ndx_net_tensor(c, nt - 2, &h0);
    ck_assert_str_eq(h0.name, "fc.weight");
    double bound = 1 / sqrt(128.0), mx = 0;
    for (size_t j = 0; j < h0.numel; j++) mx = fmax(mx, fabs(h0.data[j]));
    ck_assert(mx <= bound && mx > 0.8 * bound);   /* U(-1/sqrt(in), 1/sqrt(in)) */
    ndx_net_free(c);
    /* a different architecture: extra tensors */
    ck_assert_int_eq(ndx_zoo_build("resnet18", 3, 32, 1, &c), NDX_OK);
    expect_load_error(c, path, 0, NDX_ERR_FORMAT, "extra tensor features.0.weight");
    ndx_net_free(c);
    /* truncated */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    ck_assert_int_eq(truncate(path, len - 100), 0);
    expect_load_error(b, path, 0, NDX_ERR_FORMAT, "truncated file: tensor fc.");
    ck_assert_int_eq(truncate(path, 5), 0);
    expect_load_error(b, path, 0, NDX_ERR_FORMAT, "truncated");
    ndx_net_free(a);
    ndx_net_free(b);
    tmp_cleanup();
}
END_TEST

START_TEST(test_safetensors_handmade)
{
    /* a linear layer "fc" 2 -> 2 with F16 weight and BF16 bias; then variants */
    ndx_net *net = ndx_net_new("custom", 2, 1, 1);
    ndx_net_linear(net, "fc", 0, 2, 1);
    ck_assert_int_eq(ndx_net_finish(net, 0), NDX_OK);
    const char *hdr = "{\"fc.weight\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                      "\"fc.bias\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                      "\"__metadata__\":{\"arch\":\"custom\"}}";
    unsigned char buf[512];
    size_t hl = strlen(hdr);
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    /* F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 2^-24 (subnormal) = 0x0001;
     * BF16: 1.5 = 0x3fc0, -3.0 = 0xc040 */
    const uint16_t v[6] = {0x3c00, 0xc000, 0x3800, 0x0001, 0x3fc0, 0xc040};
    for (int i = 0; i < 6; i++) buf[8 + hl + 2 * i] = v[i] & 255, buf[8 + hl + 2 * i + 1] = v[i] >> 8;
    const char *path = tmp_path("hand.safetensors");
    write_bytes(path, buf, 8 + hl + 12);
    ck_assert_int_eq(ndx_safetensors_load_into(net, path, 0), NDX_OK);
    float *p = ndx_net_params(net, NULL);
    ndx_param_info w, b;
    ndx_net_tensor(net, 0, &w), ndx_net_tensor(net, 1, &b);
    ck_assert_float_eq(w.data[0], 1.0f);
    ck_assert_float_eq(w.data[1], -2.0f);
    ck_assert_float_eq(w.data[2], 0.5f);
    ck_assert_float_eq(w.data[3], ldexpf(1.0f, -24));
    ck_assert_float_eq(b.data[0], 1.5f);
    ck_assert_float_eq(b.data[1], -3.0f);
    (void)p;
    /* a file with no arch cannot be loaded on its own */
    ndx_net *other;
    ck_assert_int_eq(ndx_net_load(path, &other), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "num_classes"));
    /* missing tensor */
    const char *h2 = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    hl = strlen(h2);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, h2, hl);
    write_bytes(path, buf, 8 + hl + 16);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "missing tensor fc.bias");
    /* bad dtype */
    const char *h3 = "{\"fc.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}";
    hl = strlen(h3);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, h3, hl);
    write_bytes(path, buf, 8 + hl + 32);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "fc.weight has dtype F64");
    /* bad JSON, absurd header length */
    const char *h4 = "{\"fc.weight\":{\"dtype\":";
    hl = strlen(h4);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, h4, hl);
    write_bytes(path, buf, 8 + hl);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "bad header");
    buf[7] = 0x7f;
    write_bytes(path, buf, 64);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "bad header: length");
    expect_load_error(net, tmp_path("absent.safetensors"), 0, NDX_ERR_IO, "cannot open");
    ndx_net_free(net);
    tmp_cleanup();
}
END_TEST

START_TEST(test_npy)
{
    int64_t shape[3] = {2, 3, 5};
    ndx_tensor t, u;
    ck_assert_int_eq(ndx_tensor_alloc(&t, 3, shape), NDX_OK);
    uint64_t s = 1;
    tu_fill(&s, t.data, 30);
    const char *path = tmp_path("x.npy");
    ck_assert_int_eq(ndx_npy_write(path, &t), NDX_OK);
    ck_assert_int_eq(ndx_npy_read(path, &u), NDX_OK);
    ck_assert_int_eq(u.ndim, 3);
    ck_assert(u.shape[0] == 2 && u.shape[1] == 3 && u.shape[2] == 5);
    ck_assert_mem_eq(u.data, t.data, 30 * sizeof(float));
    ndx_tensor_free(&u);
    /* header length is a multiple of 64 */
    FILE *f = fopen(path, "rb");
    unsigned char h[10];
    ck_assert_uint_eq(fread(h, 1, 10, f), 10);
    fclose(f);
    ck_assert_int_eq((10 + (h[8] | h[9] << 8)) % 64, 0);
    /* float64, Fortran order, truncated */
    const char *bad[3] = {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                          "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"};
    const char *needle[3] = {"'<f8'", "Fortran", "truncated"};
    for (int k = 0; k < 3; k++) {
        unsigned char buf[128] = "\x93NUMPY\x01\x00";
        size_t hl = strlen(bad[k]);
        buf[8] = (unsigned char)hl, buf[9] = 0;
        memcpy(buf + 10, bad[k], hl);
        write_bytes(path, buf, 10 + hl + 8);
        ck_assert_int_eq(ndx_npy_read(path, &u), NDX_ERR_FORMAT);
        ck_assert_msg(strstr(ndx_last_error(), needle[k]) != NULL, "%s", ndx_last_error());
    }
    ndx_tensor_free(&t);
    tmp_cleanup();
}
END_TEST

/* path: 8-byte length, hdr, then data bytes of the given floats */
static void write_st(const char *path, const char *hdr, const float *data, size_t nf)
{
    unsigned char buf[8192];
    size_t hl = strlen(hdr);
    ck_assert_uint_le(8 + hl + 4 * nf, sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    if (nf) memcpy(buf + 8 + hl, data, 4 * nf);
    write_bytes(path, buf, 8 + hl + 4 * nf);
}

START_TEST(test_safetensors_crafted)
{
    ndx_net *net = ndx_net_new("custom", 2, 1, 1);
    ndx_net_linear(net, "fc", 0, 2, 1);
    ck_assert_int_eq(ndx_net_finish(net, 0), NDX_OK);
    ndx_param_info w, b;
    ndx_net_tensor(net, 0, &w), ndx_net_tensor(net, 1, &b);
    for (int i = 0; i < 4; i++) w.data[i] = 7.0f;
    for (int i = 0; i < 2; i++) b.data[i] = 7.0f;
    const float nine[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    const char *path = tmp_path("bad.safetensors");
    /* a shape of 199 dimensions: refused before it is formatted */
    char hdr[4096];
    int l = snprintf(hdr, sizeof hdr, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < 199; d++)
        l += snprintf(hdr + l, sizeof hdr - (size_t)l, "%s1", d ? "," : "");
    snprintf(hdr + l, sizeof hdr - (size_t)l, "],\"data_offsets\":[0,4]}}");
    write_st(path, hdr, nine, 1);
    expect_load_error(net, path, 0, NDX_ERR_SHAPE, "tensor fc.weight has 199 dimensions");
    /* non-integral dimension and offsets */
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2.4,2],\"data_offsets\":[0,16]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "dimension 0 of tensor fc.weight");
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0.5,16.5]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "data_offsets of tensor fc.weight");
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":"
             "[18446744073709551616,18446744073709551632]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "fc.weight");
    /* a bad second entry leaves the first tensor's values untouched */
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}}", nine, 7);
    expect_load_error(net, path, 0, NDX_ERR_SHAPE, "fc.bias has shape (3)");
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
             nine, 4);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "missing tensor fc.bias");
    for (int i = 0; i < 4; i++) ck_assert_float_eq(w.data[i], 7.0f);
    for (int i = 0; i < 2; i++) ck_assert_float_eq(b.data[i], 7.0f);
    /* the good file loads */
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    ck_assert_int_eq(ndx_safetensors_load_into(net, path, 0), NDX_OK);
    ck_assert_float_eq(w.data[3], 9.0f);
    ck_assert_float_eq(b.data[1], 9.0f);
    /* a directory is named as such */
    expect_load_error(net, tmpdir, 0, NDX_ERR_IO, "not a regular file");
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), tmpdir));
    ndx_net_free(net);
    /* __metadata__: input_size out of 1..8192; a net that cannot be built */
    const char *meta = tmp_path("meta.safetensors");
    write_st(meta, "{\"__metadata__\":{\"arch\":\"tiny\",\"num_classes\":\"2\","
             "\"input_size\":\"100000\"}}", NULL, 0);
    int nc, size;
    ck_assert_int_eq(ndx_safetensors_meta(meta, NULL, 0, &nc, &size), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), "meta.safetensors: __metadata__ input_size") != NULL,
                  "%s", ndx_last_error());
    ndx_net *other;
    ck_assert_int_eq(ndx_net_load(meta, &other), NDX_ERR_FORMAT);
    ck_assert_ptr_null(other);
    write_st(meta, "{\"__metadata__\":{\"arch\":\"nosuch\",\"num_classes\":\"2\"}}", NULL, 0);
    ck_assert_int_ne(ndx_net_load(meta, &other), NDX_OK);
    ck_assert_msg(strncmp(ndx_last_error(), meta, strlen(meta)) == 0, "%s", ndx_last_error());
    /* outputs are readable by others (mkstemp alone makes 0600) */
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 16, 1, &other), NDX_OK);
    ck_assert_int_eq(ndx_safetensors_save(other, meta), NDX_OK);
    struct stat sb;
    ck_assert_int_eq(stat(meta, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    ndx_net_free(other);
    tmp_cleanup();
}
END_TEST

START_TEST(test_npy_crafted)
{
    const char *path = tmp_path("big.npy");
    /* a 128-byte file claiming 19 GB (or more than 2^64) is refused before allocating */
    const char *dicts[3] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 40000, 40000), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000, 4000000000), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"};
    const char *needle[3] = {"truncated", "truncated", "data past"};
    for (int k = 0; k < 3; k++) {
        unsigned char buf[256] = "\x93NUMPY\x01\x00";
        size_t hl = strlen(dicts[k]);
        buf[8] = (unsigned char)hl, buf[9] = 0;
        memcpy(buf + 10, dicts[k], hl);
        write_bytes(path, buf, 10 + hl + 12);
        ndx_tensor u;
        ck_assert_int_eq(ndx_npy_read(path, &u), NDX_ERR_FORMAT);
        ck_assert_msg(strstr(ndx_last_error(), needle[k]) != NULL, "%s", ndx_last_error());
        ck_assert_msg(strstr(ndx_last_error(), "big.npy: ") != NULL, "%s", ndx_last_error());
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), "the file holds 12"));
        ck_assert_ptr_null(u.data);
    }
    /* outputs are readable by others */
    int64_t shape[1] = {3};
    ndx_tensor t;
    ck_assert_int_eq(ndx_tensor_alloc(&t, 1, shape), NDX_OK);
    ck_assert_int_eq(ndx_npy_write(path, &t), NDX_OK);
    ndx_tensor_free(&t);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    tmp_cleanup();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_conv_golden);
    tcase_add_test(tc, test_linear_golden);
    tcase_add_test(tc, test_pool_golden);
    tcase_add_test(tc, test_bn_golden);
    tcase_add_test(tc, test_xent_golden);
    tcase_add_test(tc, test_conv_fd);
    tcase_add_test(tc, test_bn_fd);
    tcase_add_test(tc, test_pool_fd);
    tcase_add_test(tc, test_small_layers);
    suite_add_tcase(s, tc);
    tc = tcase_create("graph");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_graph_fd);
    tcase_add_test(tc, test_graph_zero_grads);
    tcase_add_test(tc, test_graph_plans);
    tcase_add_test(tc, test_graph_winograd_cache);
    tcase_add_test(tc, test_graph_folded_packed);
    tcase_add_test(tc, test_graph_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_safetensors_roundtrip);
    tcase_add_test(tc, test_safetensors_handmade);
    tcase_add_test(tc, test_npy);
    tcase_add_test(tc, test_safetensors_crafted);
    tcase_add_test(tc, test_npy_crafted);
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
