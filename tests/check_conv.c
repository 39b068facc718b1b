/* Convolution suite: ndx_conv2d_* against PyTorch golden files
 * (tools/gen_conv_golden.py), against a naive double-precision convolution
 * on random shapes (groups, stride, padding, dilation, asymmetric kernels,
 * 1 and 2 threads), and the gradients against central finite differences
 * of L = <conv(x, w) + b, dy> computed in double.  The Winograd forward
 * path against the im2col one, forcing each (ndx__conv_set_algo). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../src/core/core.h"

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
        tu_threads(1 + it % 2);
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

/* y of d's forward pass with the algorithm a; ws and y as given. */
static void forward_with(ndx__conv_algo a, const ndx_conv2d_desc *d, const float *x,
                         const float *w, const float *b, float *y, float *ws)
{
    ndx__conv_set_algo(a);
    ck_assert_int_eq(ndx_conv2d_forward(d, x, w, b, y, ws), NDX_OK);
    ndx__conv_set_algo(NDX__CONV_AUTO);
}

/* Scratch for d under either algorithm, with guard floats after it. */
static float *both_workspaces(const ndx_conv2d_desc *d, size_t *n)
{
    ndx__conv_set_algo(NDX__CONV_WINOGRAD);
    size_t a = ndx_conv2d_workspace(d);
    ndx__conv_set_algo(NDX__CONV_IM2COL);
    size_t b = ndx_conv2d_workspace(d);
    ndx__conv_set_algo(NDX__CONV_AUTO);
    *n = a > b ? a : b;
    return tu_alloc_poisoned(*n ? *n : 1);
}

/* Winograd F(2x2, 3x3) against im2col on random 3x3 stride-1 shapes: odd
 * and even H, W (partial tiles), padding 0, 1 and 2, batches of 1 to 3,
 * with and without bias and ReLU, 1 and 2 threads.  Tolerance: the error
 * of either path is a sum over the 9 C products of rounding errors, each
 * bounded by a few eps times |w||x| (the transforms only add and halve:
 * B^T d B sums at most 4 inputs, G g G^T at most 9 weights times 1/4, the
 * output transform at most 9 products), so |y_wino - y_im2col| <=
 * 4 (9 C + 16) eps (sum |w||x| + |b|) with sum |w||x| computed by the
 * im2col path on |x|, |w|. */
START_TEST(test_conv_winograd_vs_im2col)
{
    uint64_t seed = 11;
    double worst = 0;
    for (int it = 0; it < 80; it++) {
        ndx_conv2d_desc d;
        do {
            d = (ndx_conv2d_desc){.n = tu_int(&seed, 1, 3), .c = tu_int(&seed, 1, 40),
                                  .h = tu_int(&seed, 1, 19), .w = tu_int(&seed, 1, 19),
                                  .k = tu_int(&seed, 1, 40), .kh = 3, .kw = 3, .sh = 1,
                                  .sw = 1, .ph = tu_int(&seed, 0, 2), .pw = tu_int(&seed, 0, 2),
                                  .dh = 1, .dw = 1, .groups = 1, .relu = tu_int(&seed, 0, 1)};
        } while (ndx_conv2d_check(&d) != NDX_OK);
        sizes s = conv_sizes(&d);
        size_t nws;
        float *ws = both_workspaces(&d, &nws);
        float *x = malloc(s.nx * 4), *w = malloc(s.nw * 4), *b = malloc(d.k * 4);
        float *ax = malloc(s.nx * 4), *aw = malloc(s.nw * 4), *ab = malloc(d.k * 4);
        float *yi = tu_alloc_poisoned(s.ny), *yw = tu_alloc_poisoned(s.ny);
        float *mag = tu_alloc_poisoned(s.ny);
        tu_fill(&seed, x, s.nx);
        tu_fill(&seed, w, s.nw);
        tu_fill(&seed, b, (size_t)d.k);
        for (size_t i = 0; i < s.nx; i++) ax[i] = fabsf(x[i]);
        for (size_t i = 0; i < s.nw; i++) aw[i] = fabsf(w[i]);
        for (int i = 0; i < d.k; i++) ab[i] = fabsf(b[i]);
        const float *bias = tu_int(&seed, 0, 1) ? b : NULL;
        tu_threads(1 + it % 2);
        forward_with(NDX__CONV_IM2COL, &d, x, w, bias, yi, ws);
        forward_with(NDX__CONV_WINOGRAD, &d, x, w, bias, yw, ws);
        ndx_conv2d_desc dm = d;
        dm.relu = 0;
        forward_with(NDX__CONV_IM2COL, &dm, ax, aw, ab, mag, ws);
        const double tol = 4.0 * (9.0 * d.c + 16) * FLT_EPSILON;
        for (size_t i = 0; i < s.ny; i++) {
            const double e = fabs((double)yw[i] - yi[i]) / (mag[i] + FLT_MIN);
            if (e > worst) worst = e;
            if (!(e <= tol))
                ck_abort_msg("winograd vs im2col: n=%d c=%d h=%d w=%d k=%d pad=%d,%d: "
                             "y[%zu] = %g vs %g (|w||x| %g)", d.n, d.c, d.h, d.w, d.k, d.ph,
                             d.pw, i, yw[i], yi[i], mag[i]);
        }
        tu_check_guard(yw, s.ny);
        tu_check_guard(ws, nws ? nws : 1);
        free(ws); free(x); free(w); free(b); free(ax); free(aw); free(ab);
        free(yi); free(yw); free(mag);
    }
    ck_assert_double_lt(worst, 1e-5);   /* in practice ~1e-7 */
    ndx_set_threads(1);
}
END_TEST

/* The Winograd path is bit-identical with 1 and 2 threads, and for a batch
 * split into several tile chunks (3 x 784 tiles of 64 -> 64 channels: two
 * chunks) it also equals the auto choice, which takes it. */
START_TEST(test_conv_winograd_threads)
{
    ndx_conv2d_desc d = {3, 64, 56, 55, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_str_eq(ndx_conv2d_algo(&d), "winograd");
    sizes s = conv_sizes(&d);
    uint64_t seed = 12;
    float *x = malloc(s.nx * 4), *w = malloc(s.nw * 4), *b = malloc(d.k * 4);
    float *y1 = tu_alloc_poisoned(s.ny), *y2 = tu_alloc_poisoned(s.ny);
    float *ws = tu_alloc_poisoned(s.nws);
    tu_fill(&seed, x, s.nx);
    tu_fill(&seed, w, s.nw);
    tu_fill(&seed, b, (size_t)d.k);
    tu_threads(1);
    ck_assert_int_eq(ndx_conv2d_forward(&d, x, w, b, y1, ws), NDX_OK);
    tu_threads(2);
    ck_assert_int_eq(ndx_conv2d_forward(&d, x, w, b, y2, ws), NDX_OK);
    ck_assert_int_eq(memcmp(y1, y2, s.ny * 4), 0);
    tu_check_guard(y2, s.ny);
    tu_check_guard(ws, s.nws);
    ndx_set_threads(1);
    free(x); free(w); free(b); free(y1); free(y2); free(ws);
}
END_TEST

/* Which layers the auto rule sends to Winograd. */
/* Weights packed once (ndx__sgemm_prepack) give the same GEMM as packing
 * them per call, bit for bit (the same microkernel calls in the same order):
 * m with and without a partial MR panel, k over several KC blocks, one and
 * several images, 1 and 2 threads; the element reader inverts the layout. */
START_TEST(test_sgemm_prepacked)
{
    uint64_t seed = 515;
    int mr, kc;
    ndx__sgemm_prepack_params(&mr, &kc);
    const int shapes[][4] = {{1, 1, 1, 1}, {5, 7, 3, 1}, {mr, 33, 17, 2}, {3 * mr + 1, 49, kc + 9, 1},
                             {130, 20, 2 * kc + 3, 3}, {257, 196, 300, 1}, {64, 70, 576, 2}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2], cnt = shapes[si][3];
        float *a = malloc(sizeof(float) * m * k), *ap = malloc(sizeof(float) * m * k);
        float *b = malloc(sizeof(float) * k * n * cnt);
        const size_t clen = (size_t)m * n * cnt;
        float *want = tu_alloc_poisoned(clen), *got = tu_alloc_poisoned(clen);
        tu_fill(&seed, a, (size_t)m * k);
        tu_fill(&seed, b, (size_t)k * n * cnt);
        ndx__sgemm_prepack(m, k, a, ap);
        for (int r = 0; r < m; r++)
            for (int p = 0; p < k; p++)
                ck_assert(ndx__sgemm_prepacked_at(ap, m, k, r, p) == a[(size_t)r * k + p]);
        for (int th = 1; th <= 2; th++) {
            tu_threads(th);
            for (size_t i = 0; i < clen; i++) got[i] = want[i] = NAN;
            ndx__sgemm_batch(0, m, n, k, 1.0f, a, k, cnt, b, n, (size_t)k * n, 0.0f, want, n,
                             (size_t)m * n);
            ndx__sgemm_batch_prepacked(m, n, k, ap, cnt, b, n, (size_t)k * n, got, n,
                                       (size_t)m * n);
            if (cnt > 1)   /* one image goes through ndx_sgemm's orientation choice */
                ck_assert_msg(!memcmp(got, want, clen * sizeof *got),
                              "prepacked %dx%dx%d x%d, %d threads: not bit-identical", m, n, k,
                              cnt, th);
            tu_assert_close(got, want, clen, 1e-5 * k, 1e-5, "prepacked GEMM");
            tu_check_guard(got, clen);
        }
        ndx_set_threads(1);
        free(a); free(ap); free(b); free(want); free(got);
    }
}
END_TEST

START_TEST(test_conv_algo_choice)
{
    const struct { ndx_conv2d_desc d; const char *algo; } cases[] = {
        {{1, 512, 14, 14, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, "winograd"},
        {{1, 256, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0}, "winograd"},
        {{8, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, "winograd"},
        {{1, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, "im2col"},    /* 16 tiles */
        {{1, 16, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, "im2col"},    /* c < 32 */
        {{1, 64, 56, 56, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, "im2col"},    /* stride 2 */
        {{1, 64, 56, 56, 64, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1}, "im2col"},    /* dilation 2 */
        {{1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1}, "im2col"},    /* groups 2 */
        {{1, 64, 56, 56, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1}, "gemm"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        ck_assert_str_eq(ndx_conv2d_algo(&cases[i].d), cases[i].algo);
    ndx__conv_set_algo(NDX__CONV_IM2COL);
    ck_assert_str_eq(ndx_conv2d_algo(&cases[0].d), "im2col");
    ndx__conv_set_algo(NDX__CONV_WINOGRAD);
    ck_assert_str_eq(ndx_conv2d_algo(&cases[3].d), "winograd");
    ck_assert_str_eq(ndx_conv2d_algo(&cases[5].d), "im2col");   /* does not apply */
    ndx__conv_set_algo(NDX__CONV_AUTO);
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
    tcase_add_test(tc, test_conv_winograd_vs_im2col);
    tcase_add_test(tc, test_conv_winograd_threads);
    tcase_add_test(tc, test_conv_algo_choice);
    tcase_add_test(tc, test_sgemm_prepacked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
