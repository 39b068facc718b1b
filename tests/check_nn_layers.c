/* Layers suite: every layer against PyTorch golden files (made by
 * tools/gen_nn_golden.py) and against finite differences.  The graph and the
 * zoo models are check_nn_graph.c's, safetensors and .npy check_nn_files.c's. */
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
        tu_assert_close_rel(y, r.t[3].data, ny, 1e-5, "conv forward");
        ck_assert_int_eq(ndx_conv2d_backward_data(&d, r.t[4].data, r.t[1].data, dx, ws), NDX_OK);
        tu_assert_close_rel(dx, r.t[5].data, nx, 1e-5, "conv dx");
        ck_assert_int_eq(ndx_conv2d_backward_weight(&d, r.t[0].data, r.t[4].data, dw,
                                                    p[14] ? db : NULL, ws, 0), NDX_OK);
        tu_assert_close_rel(dw, r.t[6].data, nw, 1e-5, "conv dw");
        if (p[14]) tu_assert_close_rel(db, r.t[7].data, (size_t)d.k, 1e-5, "conv db");
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
        tu_assert_close_rel(y, r.t[3].data, r.t[3].n, 1e-5, "linear forward");
        ndx_linear_backward(n, in, out, r.t[0].data, r.t[1].data, r.t[4].data, dx, dw, db, 0);
        tu_assert_close_rel(dx, r.t[5].data, r.t[5].n, 1e-5, "linear dx");
        tu_assert_close_rel(dw, r.t[6].data, r.t[6].n, 1e-5, "linear dw");
        tu_assert_close_rel(db, r.t[7].data, r.t[7].n, 1e-5, "linear db");
        /* parameter gradients accumulate */
        ndx_linear_backward(n, in, out, r.t[0].data, r.t[1].data, r.t[4].data, NULL, dw, db, 0);
        for (size_t i = 0; i < r.t[7].n; i++) r.t[7].data[i] *= 2;
        tu_assert_close_rel(db, r.t[7].data, r.t[7].n, 1e-5, "linear db accumulated");
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
        tu_assert_close_rel(y, r.t[1].data, ny, 1e-6, "pool forward");
        tu_assert_close_rel(dx, r.t[3].data, nx, 1e-6, "pool backward");
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
        tu_assert_close_rel(y, r.t[5].data, cnt, 1e-5, "bn forward");
        tu_assert_close_rel(rm, r.t[6].data, (size_t)c, 1e-5, "bn running_mean");
        tu_assert_close_rel(rv, r.t[7].data, (size_t)c, 1e-5, "bn running_var");
        tu_assert_close_rel(dx, r2.t[6].data, cnt, 1e-4, "bn dx");
        tu_assert_close_rel(dgb, r2.t[7].data, 2 * (size_t)c, 1e-5, "bn dgamma, dbeta");
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
        tu_assert_close_rel(dz, r.t[4].data, (size_t)n * k, 1e-5, "xent dlogits");
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

static Suite *suite(void)
{
    Suite *s = suite_create("nn_layers");
    TCase *tc;
    tc = tcase_create("layers");
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
    return s;
}

int main(void) { return tu_run(suite()); }
