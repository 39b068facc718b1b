/* SIMD suite: every bilinear, pooling, elementwise and reduction line of
 * kernels/kernels.inc (tests/kernel_list.h: one test per line whose set
 * runs here, SKIPPED lines for the others) against its ref twin on random
 * shapes with odd sizes and tails, NaN-poisoned outputs and guard floats;
 * IoU, select and dot_rows of every set, ref included, against yardsticks
 * of their own; the planned bilinear ref against ndx_f32_bilinear__ref and
 * PyTorch's bilinear.gold; the resize_aa, global_avgpool and channel_max
 * refs against PyTorch golden files.  Cross-built for check-neon. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "kernel_list.h"

static const ndx_kernel_table *ref_set(void) { return ndx_kernels_for("ref"); }

/* Floats equal bit for bit, any NaN matching any NaN. */
static long bits_mismatch(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i]) && isnan(want[i])) continue;
        if (memcmp(&got[i], &want[i], sizeof(float))) return (long)i;
    }
    return -1;
}

/* ---- bilinear ------------------------------------------------------------ */

typedef struct planned {
    ndx_bilinear_plan p;
    void *buf;
} planned;

static void plan_make(planned *pl, int ih, int iw, int oh, int ow, int ac)
{
    const size_t bytes = ndx_bilinear_plan_size(oh, ow);
    ck_assert_uint_gt(bytes, 0);
    pl->buf = malloc(bytes);
    ck_assert_ptr_nonnull(pl->buf);
    ndx_bilinear_plan_init(&pl->p, ih, iw, oh, ow, ac, pl->buf);
    /* every tap inside the input, weights in [0, 1] summing to 1 */
    for (int i = 0; i < oh; i++) {
        ck_assert(pl->p.y0[i] >= 0 && pl->p.y0[i] <= pl->p.y1[i] && pl->p.y1[i] < ih);
        ck_assert(pl->p.ly1[i] >= 0.0f && pl->p.ly1[i] <= 1.0f);
        ck_assert(pl->p.ly0[i] + pl->p.ly1[i] == 1.0f);
    }
    for (int i = 0; i < ow; i++) {
        ck_assert(pl->p.x0[i] >= 0 && pl->p.x0[i] <= pl->p.x1[i] && pl->p.x1[i] < iw);
        ck_assert(pl->p.lx1[i] >= 0.0f && pl->p.lx1[i] <= 1.0f);
    }
}

/* Random size pair: small inputs, outputs up and down, sometimes past the
 * SIMD kernels' 1024-column chunk. */
static void random_sizes(uint64_t *s, int t, int *ih, int *iw, int *oh, int *ow)
{
    *ih = tu_int(s, 1, 17);
    *iw = tu_int(s, 1, 17);
    *oh = tu_int(s, 1, 70);
    *ow = t % 7 == 3 ? tu_int(s, 1020, 1100) : tu_int(s, 1, 90);
    if (t % 5 == 1) *oh = *ih;      /* same size on one axis: the copy taps */
    if (t % 9 == 2) *ow = *iw;
}

START_TEST(test_blend_ref_equals_bilinear_ref)
{
    uint64_t s = 101;
    for (int t = 0; t < 60; t++) {
        int ih, iw, oh, ow, ac = t & 1, ch = tu_int(&s, 1, 3);
        random_sizes(&s, t, &ih, &iw, &oh, &ow);
        planned pl;
        plan_make(&pl, ih, iw, oh, ow, ac);
        const size_t ni = (size_t)ch * ih * iw, no = (size_t)ch * oh * ow;
        float *in = malloc(ni * sizeof *in);
        tu_fill(&s, in, ni);
        float *got = tu_alloc_poisoned(no), *want = tu_alloc_poisoned(no);
        ndx_f32_bilinear_blend__ref(&pl.p, ch, in, got);
        ndx_f32_bilinear__ref(ch, ih, iw, oh, ow, ac, in, want);
        long i = bits_mismatch(got, want, no);
        ck_assert_msg(i < 0, "blend ref %dx%d->%dx%d ac=%d: element %ld %.9g vs %.9g",
                      ih, iw, oh, ow, ac, i, i < 0 ? 0 : got[i], i < 0 ? 0 : want[i]);
        tu_check_guard(got, no);
        free(in); free(got); free(want); free(pl.buf);
    }
}
END_TEST

START_TEST(test_blend_ref_golden)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "bilinear.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 6, 2);
        const int *p = r.p;
        const size_t n = (size_t)p[0] * p[3] * p[4];
        gold_expect_n(&g, &r, 1, n);
        planned pl;
        plan_make(&pl, p[1], p[2], p[3], p[4], p[5]);
        float *out = tu_alloc_poisoned(n);
        ndx_f32_bilinear_blend__ref(&pl.p, p[0], r.t[0].data, out);
        tu_assert_close(out, r.t[1].data, n, 1e-6, 1e-5, "bilinear.gold via the plan");
        tu_check_guard(out, n);
        free(out); free(pl.buf);
        gold_record_free(&r);
    }
    ck_assert_int_ge(g.index, 0);
    gold_close(&g);
}
END_TEST

static void blend_case(const ndx_kernel_table *t, uint64_t *s, int ch, int ih,
                       int iw, int oh, int ow, int ac, size_t offset)
{
    planned pl;
    plan_make(&pl, ih, iw, oh, ow, ac);
    const size_t ni = (size_t)ch * ih * iw, no = (size_t)ch * oh * ow;
    float *in = malloc(ni * sizeof *in);
    tu_fill(s, in, ni);
    /* offset shifts the output off 32-byte alignment (non-temporal head) */
    float *gotb = tu_alloc_poisoned(no + offset), *want = tu_alloc_poisoned(no);
    float *got = gotb + offset;
    t->bilinear_blend.fn(&pl.p, ch, in, got);
    ref_set()->bilinear_blend.fn(&pl.p, ch, in, want);
    long i = tu_mismatch(got, want, no, 1e-6, 1e-6);
    ck_assert_msg(i < 0, "%s blend %d x %dx%d->%dx%d ac=%d: element %ld %.9g vs %.9g",
                  t->isa, ch, ih, iw, oh, ow, ac, i, i < 0 ? 0 : got[i], i < 0 ? 0 : want[i]);
    /* documented: the same operations in the same order, so bit for bit */
    ck_assert_msg(bits_mismatch(got, want, no) < 0, "%s blend not bitwise equal", t->isa);
    for (size_t k = 0; k < offset; k++) ck_assert(isnan(gotb[k]));
    tu_check_guard(got, no);
    free(in); free(gotb); free(want); free(pl.buf);
}

static void blend_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    uint64_t s = 202;
    tu_kernel_is(t->bilinear_blend.name, line);
    for (int c = 0; c < 80; c++) {
        int ih, iw, oh, ow;
        random_sizes(&s, c, &ih, &iw, &oh, &ow);
        blend_case(t, &s, tu_int(&s, 1, 3), ih, iw, oh, ow, c & 1, (size_t)(c % 3));
    }
    /* past the non-temporal threshold, misaligned, odd width */
    blend_case(t, &s, 48, 7, 7, 223, 221, 0, 1);
    blend_case(t, &s, 40, 14, 14, 224, 224, 1, 0);
    /* a row in one, two or no registers (permute vs gather), tails of 1..15 */
    blend_case(t, &s, 2, 5, 16, 9, 17, 0, 1);
    blend_case(t, &s, 2, 6, 17, 11, 47, 1, 2);
    blend_case(t, &s, 2, 7, 32, 13, 33, 0, 0);
    blend_case(t, &s, 2, 3, 33, 5, 1031, 1, 1);
}

/* Upsample with the ref blend, then compare and count: the yardstick. */
static void iou_by_upsampling(const ndx_bilinear_plan *p, const float *map, float thr,
                              int nmasks, const uint8_t *masks, size_t stride,
                              uint64_t *inter, uint64_t *uni, long *ambiguous)
{
    const size_t n = (size_t)p->oh * p->ow;
    float *up = malloc(n * sizeof *up);
    ndx_f32_bilinear_blend__ref(p, 1, map, up);
    *ambiguous = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)up[i] - thr) <= 1e-6 * (1.0 + fabs(thr))) ++*ambiguous;
    for (int k = 0; k < nmasks; k++)
        for (size_t i = 0; i < n; i++) {
            const int a = up[i] > thr, b = masks[k * stride + i] != 0;
            inter[k] += (uint64_t)(a && b);
            uni[k] += (uint64_t)(a || b);
        }
    free(up);
}

static uint64_t absdiff(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

/* The fused IoU of set t (ref included) against upsampling with the ref
 * blend, then counting: equal but for pixels within rounding of T. */
static void iou_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    tu_kernel_is(t->bilinear_iou.name, line);
    uint64_t s = 303;
    for (int c = 0; c < 150; c++) {
        int ih, iw, oh, ow;
        random_sizes(&s, c, &ih, &iw, &oh, &ow);
        if (c == 0) { ih = 7; iw = 7; oh = 224; ow = 224; }
        const int nmasks = tu_int(&s, 1, 4), ac = c & 1;
        planned pl;
        plan_make(&pl, ih, iw, oh, ow, ac);
        const size_t plane = (size_t)oh * ow, stride = plane + (size_t)tu_int(&s, 0, 5);
        float *map = malloc((size_t)ih * iw * sizeof *map);
        tu_fill(&s, map, (size_t)ih * iw);
        float thr = c % 3 == 0 ? 0.0f : tu_uniform(&s) * 0.8f;
        if (c % 5 == 4) {   /* nearly flat maps: whole rows and blocks on one side */
            for (int i = 0; i < ih * iw; i++) map[i] = 0.5f + 0.01f * map[i];
            const float ts[4] = {0.49f, 0.5f, 0.505f, 0.52f};
            thr = ts[tu_int(&s, 0, 3)];
        } else if (c % 5 == 1) {   /* sparse, as after ReLU, high threshold */
            for (int i = 0; i < ih * iw; i++) map[i] = map[i] > 0.0f ? map[i] : 0.0f;
            thr = 0.9f;
        }
        if (c % 4 == 2) map[0] = NAN;    /* NaN spreads to inactive pixels */
        if (c % 7 == 5 && ih * iw > 2) { map[1] = INFINITY; map[2] = -INFINITY; }
        uint8_t *masks = malloc(stride * nmasks);
        const uint8_t vals[] = {0, 0, 0, 1, 255, 7};
        /* blobby masks: runs of one value */
        uint8_t v = 0;
        for (size_t i = 0; i < stride * nmasks; i++) {
            if (tu_int(&s, 0, 9) == 0) v = vals[tu_int(&s, 0, 5)];
            masks[i] = v;
        }
        uint64_t wi[4] = {5, 6, 7, 8}, wu[4] = {9, 10, 11, 12};
        long amb;
        iou_by_upsampling(&pl.p, map, thr, nmasks, masks, stride, wi, wu, &amb);
        uint64_t gi[5] = {5, 6, 7, 8, 77}, gu[5] = {9, 10, 11, 12, 77};
        t->bilinear_iou.fn(&pl.p, map, thr, nmasks, masks, stride, gi, gu);
        for (int m = 0; m < nmasks; m++) {
            ck_assert_msg(absdiff(gi[m], wi[m]) <= (uint64_t)amb &&
                          absdiff(gu[m], wu[m]) <= (uint64_t)amb,
                          "%s iou case %d (%d masks) %dx%d->%dx%d ac=%d T=%g mask %d: inter %llu union %llu, "
                          "expected %llu %llu (%ld ambiguous)",
                          t->isa, c, nmasks, ih, iw, oh, ow, ac, thr, m,
                          (unsigned long long)gi[m], (unsigned long long)gu[m],
                          (unsigned long long)wi[m], (unsigned long long)wu[m], amb);
            ck_assert(gi[m] <= gu[m]);
        }
        ck_assert(gi[4] == 77 && gu[4] == 77);   /* nothing past nmasks */
        free(map); free(masks); free(pl.buf);
    }
}

/* Upsample with the ref blend (up), then keep v >= lo: the yardstick of select. */
static size_t select_by_filter(const float *up, size_t np, float lo, int32_t *idx,
                               float *val)
{
    size_t n = 0;
    for (size_t i = 0; i < np; i++)
        if (up[i] >= lo) {
            idx[n] = (int32_t)i;
            val[n++] = up[i];
        }
    return n;
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

#define SELECT_SENTINEL (-7)

/* select of set t (ref included) against upsampling with the ref blend,
 * then filtering: the same entries, bit for bit. */
static void select_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    tu_kernel_is(t->bilinear_select.name, line);
    uint64_t s = 404;
    int nan_cases = 0;
    for (int c = 0; c < 120; c++) {
        int ih = tu_int(&s, 1, 17), iw = tu_int(&s, 1, 17);
        int oh = tu_int(&s, 1, 230), ow = tu_int(&s, 1, 230);
        if (c % 6 == 2) ih = 1;
        if (c % 6 == 3) iw = 1;
        if (c % 8 == 5) ow = 8 * tu_int(&s, 1, 28) + tu_int(&s, 1, 7);   /* SIMD tails */
        if (c == 0) { ih = 7; iw = 7; oh = 224; ow = 224; }
        if (c == 1) { ih = 16; iw = 16; oh = 56; ow = 56; }
        if (c == 2) { ih = 1; iw = 1; oh = 1; ow = 1; }
        if (c == 3) { ih = 9; iw = 5; oh = 3; ow = 1100; }   /* past the 1024-column chunk */
        const int ac = c & 1;
        planned pl;
        plan_make(&pl, ih, iw, oh, ow, ac);
        const size_t np = (size_t)oh * ow;
        float *map = malloc((size_t)ih * iw * sizeof *map);
        tu_fill(&s, map, (size_t)ih * iw);
        if (c % 3 == 1)   /* sparse, as after ReLU */
            for (int i = 0; i < ih * iw; i++) map[i] = map[i] > 0.0f ? map[i] : 0.0f;
        if (c % 4 == 2) map[tu_int(&s, 0, ih * iw - 1)] = NAN;
        const int has_inf = c % 7 == 5 && ih * iw > 2;
        if (has_inf) { map[1] = INFINITY; map[2] = -INFINITY; }
        float *up = tu_alloc_poisoned(np);
        ndx_f32_bilinear_blend__ref(&pl.p, 1, map, up);
        /* thresholds: upsampled values (ties are selected) at quantiles, just
         * above one, and everything / nothing */
        float *sorted = malloc(np * sizeof *sorted);
        size_t ns = 0;
        for (size_t i = 0; i < np; i++)
            if (!isnan(up[i])) sorted[ns++] = up[i];
        qsort(sorted, ns, sizeof *sorted, cmp_float);
        float los[9] = {-INFINITY, -FLT_MAX, INFINITY, 2.0f, NAN, NAN, NAN, NAN, NAN};
        if (ns) {
            los[4] = sorted[0];
            los[5] = sorted[(size_t)(0.5 * (double)(ns - 1))];
            los[6] = sorted[(size_t)(0.97 * (double)(ns - 1))];
            los[7] = sorted[ns - 1];
            los[8] = nextafterf(los[6], INFINITY);
        }
        int32_t *widx = malloc(np * sizeof *widx);
        int32_t *gidx = malloc((np + TU_GUARD) * sizeof *gidx);
        float *wval = malloc(np * sizeof *wval), *gval = malloc((np + TU_GUARD) * sizeof *gval);
        for (size_t q = 0; q < sizeof los / sizeof *los; q++) {
            const float lo = los[q];
            const size_t want = select_by_filter(up, np, lo, widx, wval);
            if (q == 0) ck_assert_uint_eq(want, ns);   /* all but NaN */
            if (q == 2 && !has_inf) ck_assert_uint_eq(want, 0);
            for (size_t i = 0; i < np + TU_GUARD; i++) {
                gidx[i] = SELECT_SENTINEL;
                gval[i] = TU_GUARD_VALUE;
            }
            const size_t got = t->bilinear_select.fn(&pl.p, map, lo, gidx, gval);
            ck_assert_msg(got == want,
                          "%s select case %d %dx%d->%dx%d ac=%d lo=%.9g: %zu selected, "
                          "expected %zu", t->isa, c, ih, iw, oh, ow, ac, lo, got, want);
            ck_assert_msg(!memcmp(gidx, widx, want * sizeof *gidx),
                          "%s select case %d lo=%.9g: indices differ", t->isa, c, lo);
            ck_assert_msg(!memcmp(gval, wval, want * sizeof *gval),
                          "%s select case %d lo=%.9g: values not bitwise equal",
                          t->isa, c, lo);
            size_t bad = 0;
            while (bad < got && !isnan(gval[bad])) bad++;
            ck_assert_msg(bad == got, "%s select case %d: NaN selected", t->isa, c);
            while (bad < np + TU_GUARD && gidx[bad] == SELECT_SENTINEL &&
                   gval[bad] == TU_GUARD_VALUE)
                bad++;
            ck_assert_msg(bad == np + TU_GUARD,
                          "%s select case %d: entry %zu written past n = %zu",
                          t->isa, c, bad, got);
        }
        nan_cases += ns < np;
        free(map); free(up); free(sorted); free(widx); free(gidx); free(wval); free(gval);
        free(pl.buf);
    }
    ck_assert_int_gt(nan_cases, 10);   /* NaN reached the output, and was never selected */
}

/* ---- antialiased resize ------------------------------------------------------ */

typedef struct aa_planned {
    ndx_resize_aa_plan p;
    void *buf;
} aa_planned;

static void aa_make(aa_planned *pl, int ih, int iw, int oh, int ow)
{
    const size_t bytes = ndx_resize_aa_plan_size(ih, iw, oh, ow);
    ck_assert_uint_gt(bytes, 0);
    pl->buf = malloc(bytes);
    ck_assert_ptr_nonnull(pl->buf);
    ndx_resize_aa_plan_init(&pl->p, ih, iw, oh, ow, pl->buf);
    const ndx_resize_aa_plan *p = &pl->p;
    for (int axis = 0; axis < 2; axis++) {
        const int out = axis ? ow : oh, in = axis ? iw : ih, k = axis ? p->kx : p->ky;
        const int32_t *first = axis ? p->x0 : p->y0, *cnt = axis ? p->nx : p->ny;
        const float *w = axis ? p->wx : p->wy;
        for (int i = 0; i < out; i++) {
            ck_assert(cnt[i] >= 1 && cnt[i] <= k && first[i] >= 0 && first[i] + cnt[i] <= in);
            double sum = 0;
            for (int j = 0; j < k; j++) {
                ck_assert(j < cnt[i] ? w[i * k + j] >= 0.0f : w[i * k + j] == 0.0f);
                sum += w[i * k + j];
            }
            ck_assert_msg(fabs(sum - 1.0) < 1e-5, "resize_aa weights of %d sum to %g", i, sum);
        }
    }
    ck_assert_uint_eq(ndx_resize_aa_plan_size(0, iw, oh, ow), 0);
}

START_TEST(test_resize_aa_golden)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "resize_aa.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 5, 2);
        const int *q = r.p;
        const size_t n = (size_t)q[0] * q[3] * q[4];
        gold_expect_n(&g, &r, 0, (size_t)q[0] * q[1] * q[2]);
        gold_expect_n(&g, &r, 1, n);
        aa_planned pl;
        aa_make(&pl, q[1], q[2], q[3], q[4]);
        float *out = tu_alloc_poisoned(n), *work = tu_alloc_poisoned((size_t)q[2]);
        ndx_f32_resize_aa__ref(&pl.p, q[0], r.t[0].data, out, work);
        tu_assert_close(out, r.t[1].data, n, 1e-6, 1e-5, g.path);
        tu_check_guard(out, n);
        tu_check_guard(work, (size_t)q[2]);
        free(out); free(work); free(pl.buf);
        gold_record_free(&r);
    }
    ck_assert_int_ge(g.index, 0);
    gold_close(&g);
}
END_TEST

static void resize_aa_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    uint64_t s = 808;
    tu_kernel_is(t->resize_aa.name, line);
    for (int c = 0; c < 60; c++) {
        int ih = tu_int(&s, 1, 130), iw = tu_int(&s, 1, 130);
        int oh = tu_int(&s, 1, 60), ow = tu_int(&s, 1, 60);
        if (c == 0) { ih = iw = 400; oh = ow = 227; }
        const int ch = tu_int(&s, 1, 2);
        aa_planned pl;
        aa_make(&pl, ih, iw, oh, ow);
        const size_t ni = (size_t)ch * ih * iw, no = (size_t)ch * oh * ow;
        float *in = malloc(ni * sizeof *in);
        tu_fill(&s, in, ni);
        float *got = tu_alloc_poisoned(no), *want = tu_alloc_poisoned(no);
        float *work = tu_alloc_poisoned((size_t)iw);
        t->resize_aa.fn(&pl.p, ch, in, got, work);
        tu_check_guard(work, (size_t)iw);
        ndx_f32_resize_aa__ref(&pl.p, ch, in, want, work);
        long i = tu_mismatch(got, want, no, 1e-6, 1e-6);
        ck_assert_msg(i < 0, "%s resize_aa %dx%d->%dx%d: element %ld %.9g vs %.9g", t->isa,
                      ih, iw, oh, ow, i, i < 0 ? 0 : got[i], i < 0 ? 0 : want[i]);
        ck_assert_msg(bits_mismatch(got, want, no) < 0, "%s resize_aa not bitwise", t->isa);
        tu_check_guard(got, no);
        free(in); free(got); free(want); free(work); free(pl.buf);
    }
}

/* ---- elementwise and reductions -------------------------------------------- */

static const float specials[] = {-0.0f, 0.0f, NAN, INFINITY, -INFINITY, 1e-40f,
                                 -1e-40f, -1.0f, 1.0f, -3.5f, 2.25f, -NAN, 3e38f};
#define N_SPECIALS (sizeof specials / sizeof *specials)

static void fill_special(uint64_t *s, float *x, size_t n)
{
    tu_fill(s, x, n);
    for (size_t i = 0; i < n; i++)
        if (tu_int(s, 0, 3) == 0) x[i] = specials[tu_int(s, 0, N_SPECIALS - 1)];
}

/* relu, add and bias_add of set t against the ref on n = 0..69 with NaN,
 * infinities, -0 and denormals, in place too; bit for bit. */
static void elementwise_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    const int op = !strcmp(line->op, "relu") ? 0 : !strcmp(line->op, "add") ? 1 : 2;
    tu_kernel_is(op == 0 ? t->relu.name : op == 1 ? t->add.name : t->bias_add.name, line);
    uint64_t s = 404;
    for (size_t n = 0; n < 70; n += 1 + n / 8) {
        float *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
        fill_special(&s, a, n);
        fill_special(&s, b, n);
        float *got = tu_alloc_poisoned(n), *want = tu_alloc_poisoned(n);
        if (op == 0) {
            t->relu.fn(n, a, got);
            ndx_f32_relu__ref(n, a, want);
            ck_assert_msg(bits_mismatch(got, want, n) < 0, "%s relu n=%zu", t->isa, n);
            tu_check_guard(got, n);
            memcpy(got, a, n * sizeof *a);      /* in place */
            t->relu.fn(n, got, got);
            ck_assert_msg(bits_mismatch(got, want, n) < 0, "%s relu in place n=%zu", t->isa, n);
        } else if (op == 1) {
            t->add.fn(n, a, b, got);
            ndx_f32_add__ref(n, a, b, want);
            ck_assert_msg(bits_mismatch(got, want, n) < 0, "%s add n=%zu", t->isa, n);
            tu_check_guard(got, n);
            memcpy(got, a, n * sizeof *a);
            t->add.fn(n, got, b, got);
            ck_assert_msg(bits_mismatch(got, want, n) < 0, "%s add in place n=%zu", t->isa, n);
        } else {   /* bias_add over 1..3 planes of n / channels floats */
            const int ch = n >= 3 ? 1 + (int)(n % 3) : 1;
            const size_t hw = n / (size_t)ch;
            memcpy(got, a, n * sizeof *a);
            memcpy(want, a, n * sizeof *a);
            t->bias_add.fn(ch, hw, b, got);
            ndx_f32_bias_add__ref(ch, hw, b, want);
            ck_assert_msg(bits_mismatch(got, want, n) < 0, "%s bias_add %d x %zu", t->isa, ch,
                          hw);
        }
        tu_check_guard(got, n);
        free(a); free(b); free(got); free(want);
    }
}

/* The ref relu itself: -0 and NaN kept, as torch.relu. */
START_TEST(test_relu_ref)
{
    float x[3] = {-0.0f, NAN, -2.0f}, y[3];
    ndx_f32_relu__ref(3, x, y);
    ck_assert(signbit(y[0]) && y[0] == 0.0f && isnan(y[1]) && y[2] == 0.0f && !signbit(y[2]));
}
END_TEST

static void global_avgpool_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    uint64_t s = 505;
    tu_kernel_is(t->global_avgpool.name, line);
    for (int c = 0; c < 40; c++) {
        const int ch = tu_int(&s, 1, 5);
        const size_t hw = (size_t)tu_int(&s, 1, c < 30 ? 60 : 3000);
        float *in = malloc(ch * hw * sizeof *in);
        tu_fill(&s, in, ch * hw);
        float *got = tu_alloc_poisoned((size_t)ch), *want = tu_alloc_poisoned((size_t)ch);
        t->global_avgpool.fn(ch, hw, in, got);
        ndx_f32_global_avgpool__ref(ch, hw, in, want);
        tu_assert_close(got, want, (size_t)ch, 1e-6, 1e-5, "global_avgpool");
        tu_check_guard(got, (size_t)ch);
        free(in); free(got); free(want);
    }
}

static void channel_max_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    uint64_t s = 606;
    tu_kernel_is(t->channel_max.name, line);
    for (int c = 0; c < 120; c++) {
        const int ch = tu_int(&s, 1, 4);
        const size_t hw = (size_t)tu_int(&s, 1, 200);
        const size_t n = ch * hw;
        float *in = malloc(n * sizeof *in);
        switch (c % 4) {
        case 0: tu_fill(&s, in, n); break;
        case 1:   /* ties */
            for (size_t i = 0; i < n; i++) in[i] = (float)tu_int(&s, -1, 1);
            break;
        case 2:   /* NaN, inf, -0 */
            fill_special(&s, in, n);
            break;
        default:  /* mostly -inf, a few NaN */
            for (size_t i = 0; i < n; i++)
                in[i] = tu_int(&s, 0, 30) == 0 ? NAN : -INFINITY;
        }
        float *got = tu_alloc_poisoned((size_t)ch), *want = tu_alloc_poisoned((size_t)ch);
        int32_t gi[8], wi[8];
        t->channel_max.fn(ch, hw, in, got, gi);
        ndx_f32_channel_max__ref(ch, hw, in, want, wi);
        ck_assert_msg(bits_mismatch(got, want, (size_t)ch) < 0, "%s channel_max values", t->isa);
        for (int i = 0; i < ch; i++)
            ck_assert_msg(gi[i] == wi[i], "%s channel_max case %d hw=%zu channel %d: "
                          "argmax %d, expected %d", t->isa, c, hw, i, gi[i], wi[i]);
        t->channel_max.fn(ch, hw, in, got, NULL);
        ck_assert(bits_mismatch(got, want, (size_t)ch) < 0);
        tu_check_guard(got, (size_t)ch);
        free(in); free(got); free(want);
    }
}

/* The ref channel_max's own rules. */
START_TEST(test_channel_max_ref)
{
    const float x[6] = {1.0f, 3.0f, 3.0f, NAN, 2.0f, NAN};
    float m;
    int32_t i;
    ndx_f32_channel_max__ref(1, 3, x, &m, &i);
    ck_assert(m == 3.0f && i == 1);                 /* first of the ties */
    ndx_f32_channel_max__ref(1, 6, x, &m, &i);
    ck_assert(isnan(m) && i == 5);                  /* the last NaN */
}
END_TEST

/* dot_rows of set t (ref included) against a naive sum in double. */
static void dot_rows_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    tu_kernel_is(t->dot_rows.name, line);
    uint64_t s = 717;
    for (int c = 0; c < 150; c++) {
        const int n = tu_int(&s, 1, 6), rows = tu_int(&s, 1, 37);
        const int k = c % 10 == 0 ? tu_int(&s, 0, 7) : c % 10 == 1 ? tu_int(&s, 1000, 1100)
                                                                    : tu_int(&s, 1, 300);
        const int ldy = rows + tu_int(&s, 0, 3);
        float *x = malloc(sizeof(float) * ((size_t)n * k + 1));
        float *w = malloc(sizeof(float) * ((size_t)rows * k + 1));
        tu_fill(&s, x, (size_t)n * k);
        tu_fill(&s, w, (size_t)rows * k);
        const size_t len = (size_t)(n - 1) * ldy + rows;
        double *want = malloc(sizeof(double) * len), *bound = malloc(sizeof(double) * len);
        for (int i = 0; i < n; i++)       /* naive, in double */
            for (int r = 0; r < rows; r++) {
                double d = 0, a = 0;
                for (int p = 0; p < k; p++) {
                    d += (double)x[(size_t)i * k + p] * w[(size_t)r * k + p];
                    a += fabs((double)x[(size_t)i * k + p] * w[(size_t)r * k + p]);
                }
                want[(size_t)i * ldy + r] = d;
                bound[(size_t)i * ldy + r] = 2e-7 * (k + 8) * a;
            }
        float *y = tu_alloc_poisoned(len);
        t->dot_rows.fn(n, rows, k, x, w, y, ldy);
        for (size_t e = 0; e < len; e++) {
            if ((int)(e % ldy) >= rows) {    /* between the output rows */
                ck_assert_msg(isnan(y[e]), "%s dot_rows wrote outside the rows", t->isa);
                continue;
            }
            ck_assert_msg(fabs(y[e] - want[e]) <= bound[e],
                          "%s dot_rows n=%d rows=%d k=%d: y[%zu] %.9g, expected %.9g",
                          t->isa, n, rows, k, e, y[e], want[e]);
        }
        tu_check_guard(y, len);
        free(y);
        free(x); free(w); free(want); free(bound);
    }
}

static void pool_slot(const ndx_kernel_table *t, const tu_kernel_line *line)
{
    const int max = !strcmp(line->op, "maxpool2d");
    tu_kernel_is(max ? t->maxpool2d.name : t->avgpool2d.name, line);
    uint64_t s = 707;
    int tested = 0;
    for (int c = 0; c < 300; c++) {
        ndx_pool2d_shape ps;
        ps.kh = tu_int(&s, 1, 5);
        ps.kw = tu_int(&s, 1, 5);
        ps.h = tu_int(&s, 1, 40);
        ps.w = tu_int(&s, 1, c % 5 == 0 ? 90 : 40);
        ps.sh = tu_int(&s, 1, 3);
        ps.sw = tu_int(&s, 1, 3);
        ps.ph = tu_int(&s, 0, ps.kh / 2);
        ps.pw = tu_int(&s, 0, ps.kw / 2);
        ps.ceil_mode = tu_int(&s, 0, 1);
        ps.count_include_pad = tu_int(&s, 0, 1);
        if (c % 10 == 7) {   /* past a stride-1 fast path's limits: tall windows, long rows */
            ps.kh = tu_int(&s, 9, 11), ps.h = tu_int(&s, 9, 20), ps.ph = tu_int(&s, 0, ps.kh / 2);
            ps.sw = 1;
        } else if (c % 10 == 8) {
            ps.w = tu_int(&s, 980, 1010), ps.h = tu_int(&s, ps.kh, 6 + ps.kh), ps.sw = 1;
        }
        const int oh = ndx_pool2d_out_size(ps.h, ps.kh, ps.sh, ps.ph, ps.ceil_mode);
        const int ow = ndx_pool2d_out_size(ps.w, ps.kw, ps.sw, ps.pw, ps.ceil_mode);
        if (oh <= 0 || ow <= 0) continue;
        tested++;
        const int ch = tu_int(&s, 1, 3);
        const size_t ni = (size_t)ch * ps.h * ps.w, no = (size_t)ch * oh * ow;
        float *in = malloc(ni * sizeof *in);
        if (c % 3 == 0) fill_special(&s, in, ni);
        else if (c % 3 == 1)
            for (size_t i = 0; i < ni; i++) in[i] = (float)tu_int(&s, -1, 1);
        else tu_fill(&s, in, ni);
        float *got = tu_alloc_poisoned(no), *want = tu_alloc_poisoned(no);
        int32_t *gi = malloc((no + 1) * sizeof *gi), *wi = malloc((no + 1) * sizeof *wi);
        gi[no] = -7;
        if (max) {
            t->maxpool2d.fn(ch, &ps, in, got, gi);
            ndx_f32_maxpool2d__ref(ch, &ps, in, want, wi);
            long e = bits_mismatch(got, want, no);
            ck_assert_msg(e < 0, "%s maxpool %dx%d k%dx%d s%dx%d p%dx%d ceil %d: element %ld",
                          t->isa, ps.h, ps.w, ps.kh, ps.kw, ps.sh, ps.sw, ps.ph, ps.pw,
                          ps.ceil_mode, e);
            for (size_t i = 0; i < no; i++)
                ck_assert_msg(gi[i] == wi[i], "%s maxpool argmax %zu: %d vs %d", t->isa, i,
                              gi[i], wi[i]);
            ck_assert_int_eq(gi[no], -7);
            tu_check_guard(got, no);
            t->maxpool2d.fn(ch, &ps, in, got, NULL);
            ck_assert(bits_mismatch(got, want, no) < 0);
        }
        if (c % 3 == 0) tu_fill(&s, in, ni);   /* average: finite inputs */
        if (!max) {
            t->avgpool2d.fn(ch, &ps, in, got);
            ndx_f32_avgpool2d__ref(ch, &ps, in, want);
            long e = bits_mismatch(got, want, no);
            ck_assert_msg(e < 0, "%s avgpool %dx%d k%dx%d s%dx%d p%dx%d ceil %d cip %d: "
                          "element %ld", t->isa, ps.h, ps.w, ps.kh, ps.kw, ps.sh, ps.sw,
                          ps.ph, ps.pw, ps.ceil_mode, ps.count_include_pad, e);
        }
        tu_check_guard(got, no);
        free(in); free(got); free(want); free(gi); free(wi);
    }
    ck_assert_int_gt(tested, 100);
}

/* ---- golden files of the new ref kernels ------------------------------------ */

START_TEST(test_golden_global_avgpool)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "global_avgpool.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 2, 2);
        const int ch = r.p[0], hw = r.p[1];
        gold_expect_n(&g, &r, 0, (size_t)ch * hw);
        gold_expect_n(&g, &r, 1, (size_t)ch);
        float *out = tu_alloc_poisoned((size_t)ch);
        ndx_f32_global_avgpool__ref(ch, (size_t)hw, r.t[0].data, out);
        tu_assert_close(out, r.t[1].data, (size_t)ch, 1e-6, 1e-5, g.path);
        tu_check_guard(out, (size_t)ch);
        free(out);
        gold_record_free(&r);
    }
    ck_assert_int_ge(g.index, 0);
    gold_close(&g);
}
END_TEST

START_TEST(test_golden_channel_max)
{
    gold_file g;
    gold_record r;
    gold_open(&g, "channel_max.gold");
    while (gold_next(&g, &r)) {
        gold_expect(&g, &r, 2, 3);
        const int ch = r.p[0], hw = r.p[1];
        gold_expect_n(&g, &r, 0, (size_t)ch * hw);
        gold_expect_n(&g, &r, 1, (size_t)ch);
        gold_expect_n(&g, &r, 2, (size_t)ch);
        float *out = tu_alloc_poisoned((size_t)ch);
        int32_t *idx = malloc((size_t)ch * sizeof *idx);
        ndx_f32_channel_max__ref(ch, (size_t)hw, r.t[0].data, out, idx);
        ck_assert_msg(bits_mismatch(out, r.t[1].data, (size_t)ch) < 0, "%s values", g.path);
        for (int i = 0; i < ch; i++)
            ck_assert_msg(idx[i] == (int32_t)r.t[2].data[i], "%s record %d channel %d: "
                          "argmax %d, torch %g", g.path, g.index, i, idx[i], r.t[2].data[i]);
        free(out); free(idx);
        gold_record_free(&r);
    }
    ck_assert_int_ge(g.index, 0);
    gold_close(&g);
}
END_TEST

int main(void)
{
    static const tu_kernel_test slots[] = {
        {"bilinear_blend", blend_slot, 0},   {"bilinear_iou", iou_slot, 1},
        {"bilinear_select", select_slot, 1}, {"resize_aa", resize_aa_slot, 0},
        {"maxpool2d", pool_slot, 0},         {"avgpool2d", pool_slot, 0},
        {"relu", elementwise_slot, 0},       {"add", elementwise_slot, 0},
        {"bias_add", elementwise_slot, 0},   {"global_avgpool", global_avgpool_slot, 0},
        {"channel_max", channel_max_slot, 0}, {"dot_rows", dot_rows_slot, 1},
    };
    Suite *s = suite_create("simd");
    TCase *tc = tcase_create("simd");
    tcase_set_timeout(tc, 120);
    tu_kernel_list_add(tc, "simd", slots, sizeof slots / sizeof *slots);
    tcase_add_test(tc, test_blend_ref_equals_bilinear_ref);
    tcase_add_test(tc, test_blend_ref_golden);
    tcase_add_test(tc, test_resize_aa_golden);
    tcase_add_test(tc, test_relu_ref);
    tcase_add_test(tc, test_channel_max_ref);
    tcase_add_test(tc, test_golden_global_avgpool);
    tcase_add_test(tc, test_golden_channel_max);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
