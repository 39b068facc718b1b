/* Convolution suite: ndx_conv2d_* against PyTorch golden files
 * (tools/gen_conv_golden.py), against a naive double-precision convolution
 * on random shapes (groups, stride, padding, dilation, asymmetric kernels,
 * 1 and 2 threads), and the gradients against central finite differences
 * of L = <conv(x, w) + b, dy> computed in double. */
#include <string.h>

#include "golden.h"
#include "netdx.h"
#include "testutil.h"

/* y (n,k,oh,ow) in double, before relu */
static void naive_conv(const ndx_conv2d_desc *d, const double *x, const double *w,
                       const double *b, double *y)
{
    const int oh = ndx_conv2d_out_h(d), ow = ndx_conv2d_out_w(d);
    const int cg = d->c / d->groups, kg = d->k / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    int g = k / kg;
                    double s = b ? b[k] : 0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int i = 0; i < d->kh; i++)
                            for (int j = 0; j < d->kw; j++) {
                                int iy = oy * d->sh - d->ph + i * d->dh;
                                int ix = ox * d->sw - d->pw + j * d->dw;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                                s += x[(((size_t)n * d->c + g * cg + ci) * d->h + iy) * d->w + ix] *
                                     w[(((size_t)k * cg + ci) * d->kh + i) * d->kw + j];
                            }
                    y[(((size_t)n * d->k + k) * oh + oy) * ow + ox] = s;
                }
}

typedef struct {
    size_t nx, nw, ny, nws;
} sizes;

static sizes conv_sizes(const ndx_conv2d_desc *d)
{
    sizes s;
    s.nx = (size_t)d->n * d->c * d->h * d->w;
    s.nw = (size_t)d->k * (d->c / d->groups) * d->kh * d->kw;
    s.ny = (size_t)d->n * d->k * ndx_conv2d_out_h(d) * ndx_conv2d_out_w(d);
    s.nws = ndx_conv2d_workspace(d);
    return s;
}

START_TEST(test_conv_golden)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "conv2d.gold");
    int records = 0;
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 16, 8);
        const int *p = r.p;
        ndx_conv2d_desc d = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                             p[9], p[10], p[11], p[12], p[13], p[15]};
        ck_assert_int_eq(ndx_conv2d_check(&d), NDX_OK);
        sizes s = conv_sizes(&d);
        ck_assert_uint_eq(s.ny, r.t[3].n);
        const float *bias = p[14] ? r.t[2].data : NULL;
        float *ws = s.nws ? malloc(s.nws * sizeof(float)) : NULL;
        float *y = tu_alloc_poisoned(s.ny), *dx = tu_alloc_poisoned(s.nx);
        float *dw = tu_alloc_poisoned(s.nw), *db = tu_alloc_poisoned((size_t)d.k);
        ck_assert_int_eq(ndx_conv2d_forward(&d, r.t[0].data, r.t[1].data, bias, y, ws), NDX_OK);
        tu_assert_close(y, r.t[3].data, s.ny, 1e-5, 1e-5, g.path);
        ck_assert_int_eq(ndx_conv2d_backward_data(&d, r.t[4].data, r.t[1].data, dx, ws), NDX_OK);
        tu_assert_close(dx, r.t[5].data, s.nx, 1e-5, 1e-5, g.path);
        ck_assert_int_eq(ndx_conv2d_backward_weight(&d, r.t[0].data, r.t[4].data, dw,
                                                    db, ws, 0), NDX_OK);
        tu_assert_close(dw, r.t[6].data, s.nw, 1e-4, 1e-5, g.path);
        if (p[14]) tu_assert_close(db, r.t[7].data, (size_t)d.k, 1e-4, 1e-5, g.path);
        tu_check_guard(y, s.ny);
        tu_check_guard(dx, s.nx);
        tu_check_guard(dw, s.nw);
        free(ws); free(y); free(dx); free(dw); free(db);
        gold_record_free(&r);
        records++;
    }
    gold_close(&g);
    ck_assert_int_ge(records, 10);
}
END_TEST

static ndx_conv2d_desc random_desc(uint64_t *seed)
{
    ndx_conv2d_desc d;
    do {
        int groups = tu_int(seed, 0, 3) == 0 ? tu_int(seed, 1, 3) : 1;
        d = (ndx_conv2d_desc){
            .n = tu_int(seed, 1, 3), .c = groups * tu_int(seed, 1, 5),
            .h = tu_int(seed, 1, 17), .w = tu_int(seed, 1, 17),
            .k = groups * tu_int(seed, 1, 9), .kh = tu_int(seed, 1, 5),
            .kw = tu_int(seed, 1, 5), .sh = tu_int(seed, 1, 3), .sw = tu_int(seed, 1, 3),
            .ph = tu_int(seed, 0, 2), .pw = tu_int(seed, 0, 2), .dh = tu_int(seed, 1, 2),
            .dw = tu_int(seed, 1, 2), .groups = groups, .relu = tu_int(seed, 0, 1)};
    } while (ndx_conv2d_check(&d) != NDX_OK);
    return d;
}

START_TEST(test_conv_random_shapes)
{
    uint64_t seed = 5;
    for (int it = 0; it < 60; it++) {
        ndx_conv2d_desc d = random_desc(&seed);
        sizes s = conv_sizes(&d);
        float *x = malloc(s.nx * sizeof(float)), *w = malloc(s.nw * sizeof(float));
        float *b = malloc(d.k * sizeof(float));
        double *xd = malloc(s.nx * sizeof(double)), *wd = malloc(s.nw * sizeof(double));
        double *bd = malloc(d.k * sizeof(double)), *yd = malloc(s.ny * sizeof(double));
        float *want = malloc(s.ny * sizeof(float)), *y = tu_alloc_poisoned(s.ny);
        float *ws = malloc((s.nws ? s.nws : 1) * sizeof(float));
        tu_fill(&seed, x, s.nx);
        tu_fill(&seed, w, s.nw);
        tu_fill(&seed, b, (size_t)d.k);
        for (size_t i = 0; i < s.nx; i++) xd[i] = x[i];
        for (size_t i = 0; i < s.nw; i++) wd[i] = w[i];
        for (int i = 0; i < d.k; i++) bd[i] = b[i];
        naive_conv(&d, xd, wd, bd, yd);
        for (size_t i = 0; i < s.ny; i++)
            want[i] = (float)(d.relu && yd[i] < 0 ? 0 : yd[i]);
        ck_assert_int_eq(ndx_set_threads(1 + it % 2), NDX_OK);
        ck_assert_int_eq(ndx_conv2d_forward(&d, x, w, b, y, ws), NDX_OK);
        tu_assert_close(y, want, s.ny, 1e-5 * (d.c * d.kh * d.kw), 1e-5, "conv2d random");
        tu_check_guard(y, s.ny);
        free(x); free(w); free(b); free(xd); free(wd); free(bd); free(yd);
        free(want); free(y); free(ws);
    }
}
END_TEST

/* L(x, w, b) = sum(conv(x, w, b) * dy), in double */
static double loss(const ndx_conv2d_desc *d, const double *x, const double *w,
                   const double *b, const double *dy, double *ytmp)
{
    naive_conv(d, x, w, b, ytmp);
    sizes s = conv_sizes(d);
    double l = 0;
    for (size_t i = 0; i < s.ny; i++) l += ytmp[i] * dy[i];
    return l;
}

START_TEST(test_conv_finite_differences)
{
    uint64_t seed = 77;
    const double h = 1e-3;
    for (int it = 0; it < 20; it++) {
        ndx_conv2d_desc d = random_desc(&seed);
        d.relu = 0;
        sizes s = conv_sizes(&d);
        float *x = malloc(s.nx * 4), *w = malloc(s.nw * 4), *dy = malloc(s.ny * 4);
        float *dx = malloc(s.nx * 4), *dw = malloc(s.nw * 4), *db = malloc(d.k * 4);
        float *ws = malloc((s.nws ? s.nws : 1) * 4);
        double *xd = malloc(s.nx * 8), *wd = malloc(s.nw * 8), *dyd = malloc(s.ny * 8);
        double *bd = calloc(d.k, 8), *yt = malloc(s.ny * 8);
        tu_fill(&seed, x, s.nx);
        tu_fill(&seed, w, s.nw);
        tu_fill(&seed, dy, s.ny);
        for (size_t i = 0; i < s.nx; i++) xd[i] = x[i];
        for (size_t i = 0; i < s.nw; i++) wd[i] = w[i];
        for (size_t i = 0; i < s.ny; i++) dyd[i] = dy[i];
        ck_assert_int_eq(ndx_conv2d_backward_data(&d, dy, w, dx, ws), NDX_OK);
        for (int i = 0; i < d.k; i++) db[i] = 1.0f;   /* accumulate onto 1 */
        ck_assert_int_eq(ndx_conv2d_backward_weight(&d, x, dy, dw, db, ws, 0), NDX_OK);
        for (int probe = 0; probe < 6; probe++) {
            size_t i = tu_next(&seed) % s.nx;
            double keep = xd[i];
            xd[i] = keep + h;
            double lp = loss(&d, xd, wd, bd, dyd, yt);
            xd[i] = keep - h;
            double lm = loss(&d, xd, wd, bd, dyd, yt);
            xd[i] = keep;
            ck_assert_double_eq_tol(dx[i], (lp - lm) / (2 * h), 1e-4 * (1 + fabs(dx[i])));
            size_t j = tu_next(&seed) % s.nw;
            keep = wd[j];
            wd[j] = keep + h;
            lp = loss(&d, xd, wd, bd, dyd, yt);
            wd[j] = keep - h;
            lm = loss(&d, xd, wd, bd, dyd, yt);
            wd[j] = keep;
            ck_assert_double_eq_tol(dw[j], (lp - lm) / (2 * h), 1e-4 * (1 + fabs(dw[j])));
            int kb = (int)(tu_next(&seed) % (uint64_t)d.k);
            bd[kb] = h;
            lp = loss(&d, xd, wd, bd, dyd, yt);
            bd[kb] = -h;
            lm = loss(&d, xd, wd, bd, dyd, yt);
            bd[kb] = 0;
            ck_assert_double_eq_tol(db[kb], (lp - lm) / (2 * h), 1e-4 * (1 + fabs(db[kb])));
        }
        free(x); free(w); free(dy); free(dx); free(dw); free(db); free(ws);
        free(xd); free(wd); free(dyd); free(bd); free(yt);
    }
}
END_TEST

START_TEST(test_conv_accumulate_and_errors)
{
    ndx_conv2d_desc d = {1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0};
    sizes s = conv_sizes(&d);
    uint64_t seed = 3;
    float x[50], dy[75], dw1[54], dw2[54], db1[3], db2[3], ws[450];
    ck_assert_uint_eq(s.nws, 450);
    tu_fill(&seed, x, 50);
    tu_fill(&seed, dy, 75);
    ndx_conv2d_backward_weight(&d, x, dy, dw1, db1, ws, 0);
    memcpy(dw2, dw1, sizeof dw1);
    memcpy(db2, db1, sizeof db1);
    ndx_conv2d_backward_weight(&d, x, dy, dw2, db2, ws, 1);   /* doubles */
    for (int i = 0; i < 54; i++) ck_assert_float_eq_tol(dw2[i], 2 * dw1[i], 1e-5);
    for (int i = 0; i < 3; i++) ck_assert_float_eq_tol(db2[i], 2 * db1[i], 1e-5);

    ndx_conv2d_desc bad = d;
    bad.groups = 2;
    ck_assert_int_eq(ndx_conv2d_forward(&bad, x, dw1, NULL, dy, ws), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "groups"));
    bad = d;
    bad.kh = 9;
    ck_assert_int_eq(ndx_conv2d_check(&bad), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "does not fit"));
    bad = d;
    bad.sw = 0;
    ck_assert_int_eq(ndx_conv2d_check(&bad), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "sw = 0"));
    ck_assert_int_eq(ndx_conv2d_forward(&d, x, dw1, NULL, dy, NULL), NDX_ERR_INVALID);
    /* sizes that would overflow int index arithmetic are refused */
    bad = d;
    bad.ph = 1 << 30;
    ck_assert_int_eq(ndx_conv2d_check(&bad), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "ph = 1073741824"));
    bad = d;
    bad.dw = 1 << 20;
    bad.kw = 1 << 12;
    ck_assert_int_eq(ndx_conv2d_check(&bad), NDX_ERR_SHAPE);
}
END_TEST

START_TEST(test_conv_batch_chunks)
{
    /* Big enough that the forward pass splits the batch of 3 into chunks
     * (im2col of one image is 1.8M floats): the batch result must equal
     * three single-image calls bit for bit. */
    ndx_conv2d_desc d = {3, 64, 56, 56, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    ndx_conv2d_desc one = d;
    one.n = 1;
    sizes s = conv_sizes(&d), s1 = conv_sizes(&one);
    ck_assert_uint_lt(s.nws, 3 * s1.nws);   /* really chunked */
    uint64_t seed = 8;
    float *x = malloc(s.nx * 4), *w = malloc(s.nw * 4), *b = malloc(d.k * 4);
    float *y = tu_alloc_poisoned(s.ny), *y1 = malloc(s.ny * 4), *ws = malloc(s.nws * 4);
    tu_fill(&seed, x, s.nx);
    tu_fill(&seed, w, s.nw);
    tu_fill(&seed, b, (size_t)d.k);
    ck_assert_int_eq(ndx_conv2d_forward(&d, x, w, b, y, ws), NDX_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ndx_conv2d_forward(&one, x + i * s1.nx, w, b, y1 + i * s1.ny, ws), NDX_OK);
    ck_assert_int_eq(memcmp(y, y1, s.ny * 4), 0);
    tu_check_guard(y, s.ny);
    free(x); free(w); free(b); free(y); free(y1); free(ws);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_conv_golden);
    tcase_add_test(tc, test_conv_random_shapes);
    tcase_add_test(tc, test_conv_finite_differences);
    tcase_add_test(tc, test_conv_accumulate_and_errors);
    tcase_add_test(tc, test_conv_batch_chunks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
