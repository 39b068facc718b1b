/* Properties of the reference kernels that need no golden file: col2im is
 * the adjoint of im2col, im2col + GEMM is a direct convolution, bilinear
 * reproduces affine functions and is the identity at equal sizes, pooling
 * windows bound their outputs, output sizes follow PyTorch's table.  Random
 * shapes come from a fixed splitmix64 seed; outputs are NaN-poisoned and
 * guarded. */
#include "kernels.h"
#include "testutil.h"

#include <float.h>

/* ---- output sizes ------------------------------------------------------ */

START_TEST(test_conv_out_size)
{
    static const struct { int h, k, s, p, d, out; } t[] = {
        {5, 3, 1, 0, 1, 3},   {7, 3, 2, 1, 1, 4},   {9, 3, 1, 2, 2, 9},
        {227, 11, 4, 0, 1, 55}, {224, 7, 2, 3, 1, 112}, {1, 1, 1, 0, 1, 1},
        {2, 3, 1, 0, 1, 0},   {2, 3, 2, 0, 1, 0},   {3, 2, 1, 0, 2, 1},
        {4, 3, 3, 0, 1, 1},   {6, 1, 7, 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ndx_conv2d_shape s = {1, t[i].h, 1, t[i].k, 1, t[i].s, 1, t[i].p, 0,
                            t[i].d, 1};
        ck_assert_msg(ndx_conv2d_shape_out_h(&s) == t[i].out,
                      "case %zu: out_h %d, expected %d", i, ndx_conv2d_shape_out_h(&s),
                      t[i].out);
        ndx_conv2d_shape w = {1, 1, t[i].h, 1, t[i].k, 1, t[i].s, 0, t[i].p, 1,
                            t[i].d};
        ck_assert_int_eq(ndx_conv2d_shape_out_w(&w), t[i].out);
    }
}
END_TEST

START_TEST(test_pool_out_size)
{
    static const struct { int in, k, s, p, ceil, out; } t[] = {
        {13, 3, 2, 0, 0, 6}, {13, 3, 2, 0, 1, 6},
        {6, 3, 2, 1, 0, 3},  {6, 3, 2, 1, 1, 4},   /* ceil adds a window */
        {7, 2, 2, 0, 0, 3},  {7, 2, 2, 0, 1, 4},
        {5, 2, 2, 1, 0, 3},  {5, 2, 2, 1, 1, 3},   /* ceil's window dropped */
        {2, 2, 3, 1, 0, 1},  {2, 2, 3, 1, 1, 1},
        {55, 3, 2, 0, 0, 27}, {112, 3, 2, 1, 0, 56}, {112, 3, 2, 1, 1, 57},
        {1, 1, 1, 0, 0, 1},  {2, 3, 1, 0, 0, 0},   {1, 3, 2, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(ndx_pool2d_out_size(t[i].in, t[i].k, t[i].s, t[i].p,
                                        t[i].ceil) == t[i].out,
                      "case %zu: in %d k %d s %d p %d ceil %d gives %d, expected %d",
                      i, t[i].in, t[i].k, t[i].s, t[i].p, t[i].ceil,
                      ndx_pool2d_out_size(t[i].in, t[i].k, t[i].s, t[i].p, t[i].ceil),
                      t[i].out);
}
END_TEST

/* ---- im2col / col2im --------------------------------------------------- */

static ndx_conv2d_shape random_conv(uint64_t *rng)
{
    for (;;) {
        ndx_conv2d_shape s = {
            tu_int(rng, 1, 3), tu_int(rng, 1, 12), tu_int(rng, 1, 12),
            tu_int(rng, 1, 5), tu_int(rng, 1, 5),
            tu_int(rng, 1, 3), tu_int(rng, 1, 3),
            tu_int(rng, 0, 3), tu_int(rng, 0, 3),
            tu_int(rng, 1, 3), tu_int(rng, 1, 3),
        };
        if (ndx_conv2d_shape_out_h(&s) > 0 && ndx_conv2d_shape_out_w(&s) > 0) return s;
    }
}

static size_t col_size(const ndx_conv2d_shape *s)
{
    return (size_t)s->c * s->kh * s->kw *
           (size_t)ndx_conv2d_shape_out_h(s) * (size_t)ndx_conv2d_shape_out_w(s);
}

/* <im2col(x), y> == <x, col2im(y)>; poisoning also proves that im2col writes
 * all of col and col2im overwrites all of im. */
START_TEST(test_col2im_adjoint)
{
    uint64_t rng = 0x1234;
    for (int trial = 0; trial < 300; trial++) {
        ndx_conv2d_shape s = random_conv(&rng);
        size_t ni = (size_t)s.c * s.h * s.w, nc = col_size(&s);
        float *x = malloc(ni * sizeof *x), *y = malloc(nc * sizeof *y);
        ck_assert(x && y);
        tu_fill(&rng, x, ni);
        tu_fill(&rng, y, nc);
        float *col = tu_alloc_poisoned(nc), *im = tu_alloc_poisoned(ni);
        ndx_f32_im2col__ref(&s, x, col);
        ndx_f32_col2im__ref(&s, y, im);
        double lhs = 0, rhs = 0, mag = 0;
        for (size_t i = 0; i < nc; i++) {
            lhs += (double)col[i] * y[i];
            mag += fabs((double)col[i] * y[i]);
        }
        for (size_t i = 0; i < ni; i++) rhs += (double)x[i] * im[i];
        ck_assert_msg(fabs(lhs - rhs) <= 1e-6 * mag + 1e-9,
                      "trial %d (c%d %dx%d k%dx%d s%d,%d p%d,%d d%d,%d): "
                      "<im2col x, y> = %.9g, <x, col2im y> = %.9g", trial,
                      s.c, s.h, s.w, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh,
                      s.dw, lhs, rhs);
        tu_check_guard(col, nc);
        tu_check_guard(im, ni);
        free(x), free(y), free(col), free(im);
    }
}
END_TEST

/* A convolution as F x (C*KH*KW) weights times im2col equals the direct
 * six-loop convolution (both summed in double in the same order). */
START_TEST(test_im2col_conv)
{
    uint64_t rng = 0x5678;
    for (int trial = 0; trial < 100; trial++) {
        ndx_conv2d_shape s = random_conv(&rng);
        const int f = tu_int(&rng, 1, 4);
        const int oh = ndx_conv2d_shape_out_h(&s), ow = ndx_conv2d_shape_out_w(&s);
        const size_t kk = (size_t)s.c * s.kh * s.kw, l = (size_t)oh * ow;
        size_t ni = (size_t)s.c * s.h * s.w;
        float *x = malloc(ni * sizeof *x), *w = malloc(f * kk * sizeof *w);
        ck_assert(x && w);
        tu_fill(&rng, x, ni);
        tu_fill(&rng, w, f * kk);
        float *col = tu_alloc_poisoned(kk * l);
        ndx_f32_im2col__ref(&s, x, col);
        for (int o = 0; o < f; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double direct = 0, gemm = 0;
                    for (int c = 0; c < s.c; c++)
                        for (int i = 0; i < s.kh; i++)
                            for (int j = 0; j < s.kw; j++) {
                                int y = oy * s.sh - s.ph + i * s.dh;
                                int xx = ox * s.sw - s.pw + j * s.dw;
                                size_t r = ((size_t)c * s.kh + i) * s.kw + j;
                                double wv = w[o * kk + r];
                                if (y >= 0 && y < s.h && xx >= 0 && xx < s.w)
                                    direct += wv * x[((size_t)c * s.h + y) * s.w + xx];
                                gemm += wv * col[r * l + (size_t)oy * ow + ox];
                            }
                    ck_assert_msg(fabs(direct - gemm) <= 1e-12,
                                  "trial %d filter %d at (%d,%d): direct %.17g, "
                                  "via im2col %.17g", trial, o, oy, ox, direct, gemm);
                }
        tu_check_guard(col, kk * l);
        free(x), free(w), free(col);
    }
}
END_TEST

/* ---- bilinear ---------------------------------------------------------- */

START_TEST(test_bilinear_identity)
{
    uint64_t rng = 0x9abc;
    for (int trial = 0; trial < 50; trial++) {
        const int c = tu_int(&rng, 1, 3), h = tu_int(&rng, 1, 20),
                  w = tu_int(&rng, 1, 20), ac = trial & 1;
        size_t n = (size_t)c * h * w;
        float *x = malloc(n * sizeof *x);
        ck_assert_ptr_nonnull(x);
        tu_fill(&rng, x, n);
        float *y = tu_alloc_poisoned(n);
        ndx_f32_bilinear__ref(c, h, w, h, w, ac, x, y);
        ck_assert_msg(memcmp(x, y, n * sizeof *x) == 0,
                      "%dx%d (ac=%d) is not the identity", h, w, ac);
        tu_check_guard(y, n);
        free(x), free(y);
    }
}
END_TEST

/* Source coordinate of output index dst, in double, clamped to [0, in-1]. */
static double source_coord(int dst, int in, int out, int ac)
{
    double s;
    if (ac) s = out > 1 ? dst * (double)(in - 1) / (out - 1) : 0.0;
    else s = (dst + 0.5) * in / out - 0.5;
    if (s < 0) s = 0;
    if (s > in - 1) s = in - 1;
    return s;
}

/* f(y, x) = a*y + b*x + d per channel is reproduced at the source
 * coordinates (bilinear interpolation is exact on affine functions), for
 * both align_corners, up- and downsampling, non-square, one-pixel sizes. */
START_TEST(test_bilinear_affine)
{
    uint64_t rng = 0xdef0;
    for (int trial = 0; trial < 200; trial++) {
        const int c = tu_int(&rng, 1, 3), ac = trial & 1;
        const int ih = tu_int(&rng, 1, 16), iw = tu_int(&rng, 1, 16);
        const int oh = tu_int(&rng, 1, 40), ow = tu_int(&rng, 1, 40);
        float *x = malloc((size_t)c * ih * iw * sizeof *x);
        ck_assert_ptr_nonnull(x);
        float coef[3][3];
        for (int k = 0; k < c; k++) {
            coef[k][0] = tu_uniform(&rng);
            coef[k][1] = tu_uniform(&rng);
            coef[k][2] = tu_uniform(&rng);
            for (int y = 0; y < ih; y++)
                for (int xx = 0; xx < iw; xx++)
                    x[((size_t)k * ih + y) * iw + xx] =
                        coef[k][0] * y + coef[k][1] * xx + coef[k][2];
        }
        size_t n = (size_t)c * oh * ow;
        float *out = tu_alloc_poisoned(n);
        ndx_f32_bilinear__ref(c, ih, iw, oh, ow, ac, x, out);
        for (int k = 0; k < c; k++)
            for (int y = 0; y < oh; y++)
                for (int xx = 0; xx < ow; xx++) {
                    double want = coef[k][0] * source_coord(y, ih, oh, ac) +
                                  coef[k][1] * source_coord(xx, iw, ow, ac) +
                                  coef[k][2];
                    double got = out[((size_t)k * oh + y) * ow + xx];
                    double scale = fabs(coef[k][0]) * ih + fabs(coef[k][1]) * iw +
                                   fabs(coef[k][2]);
                    ck_assert_msg(fabs(got - want) <= 8 * FLT_EPSILON * scale,
                                  "%dx%d -> %dx%d ac=%d ch %d at (%d,%d): %.9g, "
                                  "expected %.9g", ih, iw, oh, ow, ac, k, y, xx,
                                  got, want);
                }
        tu_check_guard(out, n);
        free(x), free(out);
    }
}
END_TEST

/* Outputs are convex combinations: within [min, max] of their own plane. */
START_TEST(test_bilinear_convex)
{
    uint64_t rng = 0x1357;
    for (int trial = 0; trial < 100; trial++) {
        const int c = tu_int(&rng, 1, 3), ac = trial & 1;
        const int ih = tu_int(&rng, 1, 12), iw = tu_int(&rng, 1, 12);
        const int oh = tu_int(&rng, 1, 30), ow = tu_int(&rng, 1, 30);
        size_t pi = (size_t)ih * iw, po = (size_t)oh * ow;
        float *x = malloc(c * pi * sizeof *x);
        ck_assert_ptr_nonnull(x);
        tu_fill(&rng, x, c * pi);
        for (int k = 0; k < c; k++)   /* planes far apart: mixing shows */
            for (size_t i = 0; i < pi; i++) x[k * pi + i] += 10.0f * k;
        float *y = tu_alloc_poisoned(c * po);
        ndx_f32_bilinear__ref(c, ih, iw, oh, ow, ac, x, y);
        for (int k = 0; k < c; k++) {
            float lo = x[k * pi], hi = x[k * pi];
            for (size_t i = 0; i < pi; i++) {
                lo = fminf(lo, x[k * pi + i]);
                hi = fmaxf(hi, x[k * pi + i]);
            }
            for (size_t i = 0; i < po; i++) {
                float v = y[k * po + i];
                ck_assert_msg(v >= lo - 1e-5f && v <= hi + 1e-5f,
                              "%dx%d -> %dx%d ac=%d: channel %d value %g "
                              "outside [%g, %g]", ih, iw, oh, ow, ac, k,
                              (double)v, (double)lo, (double)hi);
            }
        }
        tu_check_guard(y, c * po);
        free(x), free(y);
    }
}
END_TEST

/* ---- pooling ----------------------------------------------------------- */

/* A random shape PyTorch accepts: p <= k/2, at least one output. */
static ndx_pool2d_shape random_pool(uint64_t *rng)
{
    for (;;) {
        ndx_pool2d_shape s;
        s.h = tu_int(rng, 1, 14);
        s.w = tu_int(rng, 1, 14);
        s.kh = tu_int(rng, 1, 5);
        s.kw = tu_int(rng, 1, 5);
        s.sh = tu_int(rng, 1, 4);
        s.sw = tu_int(rng, 1, 4);
        s.ph = tu_int(rng, 0, s.kh / 2);
        s.pw = tu_int(rng, 0, s.kw / 2);
        s.ceil_mode = tu_int(rng, 0, 1);
        s.count_include_pad = tu_int(rng, 0, 1);
        if (ndx_pool2d_out_size(s.h, s.kh, s.sh, s.ph, s.ceil_mode) > 0 &&
            ndx_pool2d_out_size(s.w, s.kw, s.sw, s.pw, s.ceil_mode) > 0)
            return s;
    }
}

/* Every output is >= each in-image cell of its window and equals the cell
 * argmax names, which lies in the window; the NULL-argmax call agrees. */
START_TEST(test_maxpool_window)
{
    uint64_t rng = 0x2468;
    for (int trial = 0; trial < 300; trial++) {
        ndx_pool2d_shape s = random_pool(&rng);
        const int c = tu_int(&rng, 1, 3);
        const int oh = ndx_pool2d_out_size(s.h, s.kh, s.sh, s.ph, s.ceil_mode);
        const int ow = ndx_pool2d_out_size(s.w, s.kw, s.sw, s.pw, s.ceil_mode);
        size_t pi = (size_t)s.h * s.w, po = (size_t)oh * ow;
        float *x = malloc(c * pi * sizeof *x);
        int32_t *idx = malloc(c * po * sizeof *idx);
        ck_assert(x && idx);
        tu_fill(&rng, x, c * pi);
        float *y = tu_alloc_poisoned(c * po), *y2 = tu_alloc_poisoned(c * po);
        ndx_f32_maxpool2d__ref(c, &s, x, y, idx);
        ndx_f32_maxpool2d__ref(c, &s, x, y2, NULL);
        ck_assert(memcmp(y, y2, c * po * sizeof *y) == 0);
        for (int k = 0; k < c; k++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    size_t o = k * po + (size_t)oy * ow + ox;
                    const int y0 = oy * s.sh - s.ph, x0 = ox * s.sw - s.pw;
                    int cells = 0;
                    for (int yy = y0; yy < y0 + s.kh; yy++)
                        for (int xx = x0; xx < x0 + s.kw; xx++) {
                            if (yy < 0 || yy >= s.h || xx < 0 || xx >= s.w) continue;
                            cells++;
                            ck_assert_msg(y[o] >= x[k * pi + (size_t)yy * s.w + xx],
                                          "trial %d: output (%d,%d) below cell (%d,%d)",
                                          trial, oy, ox, yy, xx);
                        }
                    ck_assert_int_gt(cells, 0);
                    const int a = idx[o], ay = a / s.w, ax = a % s.w;
                    ck_assert_msg(a >= 0 && (size_t)a < pi && ay >= y0 &&
                                  ay < y0 + s.kh && ax >= x0 && ax < x0 + s.kw,
                                  "trial %d: argmax %d outside window (%d,%d)",
                                  trial, a, oy, ox);
                    ck_assert(y[o] == x[k * pi + a]);
                }
        tu_check_guard(y, c * po);
        tu_check_guard(y2, c * po);
        free(x), free(idx), free(y), free(y2);
    }
}
END_TEST

/* On a constant v: without count_include_pad every output is v exactly; with
 * it (and ceil_mode off, so no window passes the padding) v * cells / (kh*kw),
 * cells counted by brute force. */
START_TEST(test_avgpool_constant)
{
    uint64_t rng = 0x3579;
    const float v = 0.75f;
    for (int trial = 0; trial < 300; trial++) {
        ndx_pool2d_shape s = random_pool(&rng);
        if (s.count_include_pad) s.ceil_mode = 0;
        const int oh = ndx_pool2d_out_size(s.h, s.kh, s.sh, s.ph, s.ceil_mode);
        const int ow = ndx_pool2d_out_size(s.w, s.kw, s.sw, s.pw, s.ceil_mode);
        size_t pi = (size_t)s.h * s.w, po = (size_t)oh * ow;
        float *x = malloc(pi * sizeof *x);
        ck_assert_ptr_nonnull(x);
        for (size_t i = 0; i < pi; i++) x[i] = v;
        float *y = tu_alloc_poisoned(po);
        ndx_f32_avgpool2d__ref(1, &s, x, y);
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double want = v;
                if (s.count_include_pad) {
                    int cells = 0;
                    for (int yy = oy * s.sh - s.ph; yy < oy * s.sh - s.ph + s.kh; yy++)
                        for (int xx = ox * s.sw - s.pw; xx < ox * s.sw - s.pw + s.kw; xx++)
                            cells += yy >= 0 && yy < s.h && xx >= 0 && xx < s.w;
                    want = (double)v * cells / (s.kh * s.kw);
                }
                double got = y[(size_t)oy * ow + ox];
                ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-7,
                              "trial %d (%dx%d k%dx%d s%d,%d p%d,%d ceil %d cip %d) "
                              "at (%d,%d): %.9g, expected %.9g", trial, s.h, s.w,
                              s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.ceil_mode,
                              s.count_include_pad, oy, ox, got, want);
            }
        tu_check_guard(y, po);
        free(x), free(y);
    }
}
END_TEST

/* ---- elementwise ------------------------------------------------------- */

START_TEST(test_relu_inplace)
{
    uint64_t rng = 0x4680;
    for (size_t n = 0; n < 70; n += 3) {
        float *x = tu_alloc_poisoned(n), *y = tu_alloc_poisoned(n);
        tu_fill(&rng, x, n);
        if (n > 2) x[1] = NAN, x[2] = -0.0f;
        ndx_f32_relu__ref(n, x, y);
        ndx_f32_relu__ref(n, x, x);
        for (size_t i = 0; i < n; i++) {
            ck_assert(memcmp(&x[i], &y[i], sizeof *x) == 0);
            ck_assert(isnan(y[i]) || y[i] >= 0.0f);
        }
        if (n > 2) ck_assert(isnan(y[1]) && signbit(y[2]));
        tu_check_guard(x, n);
        tu_check_guard(y, n);
        free(x), free(y);
    }
}
END_TEST

START_TEST(test_bias_add_planes)
{
    uint64_t rng = 0x5791;
    for (int trial = 0; trial < 40; trial++) {
        const int c = tu_int(&rng, 0, 5);
        const size_t hw = (size_t)tu_int(&rng, 0, 37), n = (size_t)c * hw;
        float b[5];
        tu_fill(&rng, b, 5);
        float *x = tu_alloc_poisoned(n), *want = malloc((n + 1) * sizeof *want);
        ck_assert_ptr_nonnull(want);
        tu_fill(&rng, x, n);
        for (size_t i = 0; i < n; i++) want[i] = x[i] + b[i / hw];
        ndx_f32_bias_add__ref(c, hw, b, x);
        ck_assert(memcmp(x, want, n * sizeof *x) == 0);
        tu_check_guard(x, n);
        free(x), free(want);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ref");
    TCase *sizes = tcase_create("sizes");
    tcase_add_test(sizes, test_conv_out_size);
    tcase_add_test(sizes, test_pool_out_size);
    suite_add_tcase(s, sizes);
    TCase *conv = tcase_create("im2col");
    tcase_add_test(conv, test_col2im_adjoint);
    tcase_add_test(conv, test_im2col_conv);
    suite_add_tcase(s, conv);
    TCase *bil = tcase_create("bilinear");
    tcase_add_test(bil, test_bilinear_identity);
    tcase_add_test(bil, test_bilinear_affine);
    tcase_add_test(bil, test_bilinear_convex);
    suite_add_tcase(s, bil);
    TCase *pool = tcase_create("pool");
    tcase_add_test(pool, test_maxpool_window);
    tcase_add_test(pool, test_avgpool_constant);
    suite_add_tcase(s, pool);
    TCase *ew = tcase_create("elementwise");
    tcase_add_test(ew, test_relu_inplace);
    tcase_add_test(ew, test_bias_add_planes);
    suite_add_tcase(s, ew);
    return s;
}

int main(void) { return tu_run(suite()); }
