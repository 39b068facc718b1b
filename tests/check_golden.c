/* The reference kernels against PyTorch: every record of every golden file
 * in tests/data (tools/gen_golden.py writes them; NDX_TEST_DATA overrides the
 * directory).  Copies (im2col, maxpool, relu, bias_add) must match bit for
 * bit, sums within 1e-5 relative (1e-6 absolute near zero), sgemm within an
 * error bound that grows with k; outputs are NaN-poisoned and guarded. */
#include "kernels.h"
#include "golden.h"
#include "testutil.h"

#include <float.h>

/* "<file> record <i> <what>" for failure messages. */
static const char *where(const gold_file *g, const char *what)
{
    static char buf[1200];
    snprintf(buf, sizeof buf, "%s record %d %s", g->path, g->index, what);
    return buf;
}

/* Bitwise equality, except that any NaN matches any NaN. */
static void assert_same_bits(const gold_file *g, const float *got,
                             const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i]) && isnan(want[i])) continue;
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0,
                      "%s: element %zu is %.9g, expected %.9g (bitwise)",
                      where(g, what), i, (double)got[i], (double)want[i]);
    }
}

static ndx_conv2d_shape conv_shape(const int *p)
{
    ndx_conv2d_shape s = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                        p[9], p[10]};
    return s;
}

static size_t conv_col_size(const ndx_conv2d_shape *s)
{
    return (size_t)s->c * s->kh * s->kw *
           (size_t)ndx_conv2d_shape_out_h(s) * (size_t)ndx_conv2d_shape_out_w(s);
}

START_TEST(test_im2col)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "im2col.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 11, 2);
        ndx_conv2d_shape s = conv_shape(r.p);
        size_t n = conv_col_size(&s);
        gold_expect_n(&g, &r, 0, (size_t)s.c * s.h * s.w);
        gold_expect_n(&g, &r, 1, n);
        float *col = tu_alloc_poisoned(n);
        ndx_f32_im2col__ref(&s, r.t[0].data, col);
        assert_same_bits(&g, col, r.t[1].data, n, "col");
        tu_check_guard(col, n);
        free(col);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

START_TEST(test_col2im)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "col2im.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 11, 2);
        ndx_conv2d_shape s = conv_shape(r.p);
        size_t n = (size_t)s.c * s.h * s.w;
        gold_expect_n(&g, &r, 0, conv_col_size(&s));
        gold_expect_n(&g, &r, 1, n);
        float *im = tu_alloc_poisoned(n);
        ndx_f32_col2im__ref(&s, r.t[0].data, im);
        tu_assert_close(im, r.t[1].data, n, 1e-6, 1e-5, where(&g, "im"));
        tu_check_guard(im, n);
        free(im);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

START_TEST(test_bilinear)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "bilinear.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 6, 2);
        const int *p = r.p;
        size_t n = (size_t)p[0] * p[3] * p[4];
        gold_expect_n(&g, &r, 0, (size_t)p[0] * p[1] * p[2]);
        gold_expect_n(&g, &r, 1, n);
        float *out = tu_alloc_poisoned(n);
        ndx_f32_bilinear__ref(p[0], p[1], p[2], p[3], p[4], p[5],
                              r.t[0].data, out);
        tu_assert_close(out, r.t[1].data, n, 1e-6, 1e-5, where(&g, "out"));
        tu_check_guard(out, n);
        free(out);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

static ndx_pool2d_shape pool_shape(const int *p, int count_include_pad)
{
    ndx_pool2d_shape s = {p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9],
                        count_include_pad};
    return s;
}

static size_t pool_out_n(int channels, const ndx_pool2d_shape *s)
{
    return (size_t)channels *
           (size_t)ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode) *
           (size_t)ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
}

START_TEST(test_maxpool)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "maxpool.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 10, 3);
        ndx_pool2d_shape s = pool_shape(r.p, 0);
        int c = r.p[0];
        size_t n = pool_out_n(c, &s);
        gold_expect_n(&g, &r, 0, (size_t)c * s.h * s.w);
        gold_expect_n(&g, &r, 1, n);   /* checks ndx_pool2d_out_size too */
        gold_expect_n(&g, &r, 2, n);
        float *out = tu_alloc_poisoned(n);
        int32_t *idx = malloc((n + 1) * sizeof *idx);
        ck_assert_ptr_nonnull(idx);
        idx[n] = -7;
        ndx_f32_maxpool2d__ref(c, &s, r.t[0].data, out, idx);
        assert_same_bits(&g, out, r.t[1].data, n, "out");
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(idx[i] == (int32_t)r.t[2].data[i],
                          "%s: argmax %zu is %d, expected %d",
                          where(&g, "argmax"), i, (int)idx[i],
                          (int)r.t[2].data[i]);
        ck_assert_int_eq(idx[n], -7);
        tu_check_guard(out, n);
        free(out);

        out = tu_alloc_poisoned(n);
        ndx_f32_maxpool2d__ref(c, &s, r.t[0].data, out, NULL);
        assert_same_bits(&g, out, r.t[1].data, n, "out without argmax");
        tu_check_guard(out, n);
        free(out);
        free(idx);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

START_TEST(test_avgpool)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "avgpool.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 11, 2);
        ndx_pool2d_shape s = pool_shape(r.p, r.p[10]);
        int c = r.p[0];
        size_t n = pool_out_n(c, &s);
        gold_expect_n(&g, &r, 0, (size_t)c * s.h * s.w);
        gold_expect_n(&g, &r, 1, n);
        float *out = tu_alloc_poisoned(n);
        ndx_f32_avgpool2d__ref(c, &s, r.t[0].data, out);
        tu_assert_close(out, r.t[1].data, n, 1e-6, 1e-5, where(&g, "out"));
        tu_check_guard(out, n);
        free(out);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

START_TEST(test_relu)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "relu.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 1, 2);
        size_t n = (size_t)r.p[0];
        gold_expect_n(&g, &r, 0, n);
        gold_expect_n(&g, &r, 1, n);
        float *y = tu_alloc_poisoned(n);
        ndx_f32_relu__ref(n, r.t[0].data, y);
        assert_same_bits(&g, y, r.t[1].data, n, "y");
        tu_check_guard(y, n);
        free(y);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

START_TEST(test_bias_add)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "bias_add.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 2, 3);
        int c = r.p[0];
        size_t hw = (size_t)r.p[1], n = (size_t)c * hw;
        gold_expect_n(&g, &r, 0, (size_t)c);
        gold_expect_n(&g, &r, 1, n);
        gold_expect_n(&g, &r, 2, n);
        float *x = tu_alloc_poisoned(n);
        memcpy(x, r.t[1].data, n * sizeof *x);
        ndx_f32_bias_add__ref(c, hw, r.t[0].data, x);
        assert_same_bits(&g, x, r.t[2].data, n, "x");
        tu_check_guard(x, n);
        free(x);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

/* sgemm: |got - want| <= 2 (k + 2) eps * (|alpha| sum_p |a_ip b_pj| +
 * |beta c_ij|) + 1e-6, the forward error bound of both summations; columns
 * of C past n must be untouched. */
START_TEST(test_sgemm)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "sgemm.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 8, 6);
        const int ta = r.p[0], tb = r.p[1], m = r.p[2], n = r.p[3], k = r.p[4];
        const int lda = r.p[5], ldb = r.p[6], ldc = r.p[7];
        const float alpha = r.t[0].data[0], beta = r.t[1].data[0];
        const float *a = r.t[2].data, *b = r.t[3].data;
        size_t cn = (size_t)m * ldc;
        gold_expect_n(&g, &r, 2, (size_t)(ta ? k : m) * lda);
        gold_expect_n(&g, &r, 3, (size_t)(tb ? n : k) * ldb);
        gold_expect_n(&g, &r, 4, cn);
        gold_expect_n(&g, &r, 5, cn);
        float *c = tu_alloc_poisoned(cn);
        memcpy(c, r.t[4].data, cn * sizeof *c);
        ndx_f32_gemm__ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < ldc; j++) {
                size_t o = (size_t)i * ldc + j;
                float got = c[o], want = r.t[5].data[o];
                if (j >= n) {
                    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0 ||
                                  (isnan(got) && isnan(want)),
                                  "%s: C[%d][%d] past n was changed",
                                  where(&g, "c"), i, j);
                    continue;
                }
                double bound = 0.0;
                for (int p = 0; p < k; p++) {
                    double av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                    double bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                    bound += fabs(av * bv);
                }
                bound *= fabs(alpha);
                if (beta != 0.0f) bound += fabs((double)beta * r.t[4].data[o]);
                double tol = 2.0 * (k + 2) * FLT_EPSILON * bound + 1e-6;
                ck_assert_msg(!isnan(got) && fabs((double)got - want) <= tol,
                              "%s: C[%d][%d] (m=%d n=%d k=%d ta=%d tb=%d) is %.9g, "
                              "expected %.9g (tol %.3g)", where(&g, "c"), i, j,
                              m, n, k, ta, tb, (double)got, (double)want, tol);
            }
        }
        tu_check_guard(c, cn);
        free(c);
        gold_record_free(&r);
    }
    ck_assert_msg(g.index >= 0, "golden file %s has no records", g.path);
    gold_close(&g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("ref");
    tcase_add_test(tc, test_im2col);
    tcase_add_test(tc, test_col2im);
    tcase_add_test(tc, test_bilinear);
    tcase_add_test(tc, test_maxpool);
    tcase_add_test(tc, test_avgpool);
    tcase_add_test(tc, test_relu);
    tcase_add_test(tc, test_bias_add);
    tcase_add_test(tc, test_sgemm);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
