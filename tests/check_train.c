/* Training suite: ROC/AUC, accuracy, running mean, SGD (hand cases and a
 * PyTorch golden trajectory), samplers, checkpoints (every flipped byte and
 * every truncation refused), metrics.json and the PNG plots. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../src/render/font.h"
#include "golden.h"
#include "netdx.h"
#include "testutil.h"

/* ---- a scratch directory per test ---------------------------------------- */
static char tmpdir[256];

static void mk_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/ndx_check_train_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(tmpdir);
}

static int count_files(void)
{
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* ---- ROC and AUC ---------------------------------------------------------- */

/* The definition: pairs (positive, negative), ties counting one half. */
static double brute_auc(const float *s, const int *y, size_t n)
{
    double sum = 0, pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (y[i] == 1 && y[j] == 0) {
                sum += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
                pairs += 1;
            }
    return sum / pairs;
}

START_TEST(test_auc_hand)
{
    /* sklearn's roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75 */
    const float s1[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const int y1[] = {0, 0, 1, 1};
    double auc;
    ck_assert_int_eq(ndx_auc(s1, y1, 4, &auc), NDX_OK);
    ck_assert_double_eq_tol(auc, 0.75, 1e-15);
    double fpr[5], tpr[5];
    float thr[5];
    size_t np;
    ck_assert_int_eq(ndx_roc(s1, y1, 4, fpr, tpr, thr, 5, &np, &auc), NDX_OK);
    const double wf[] = {0, 0, 0.5, 0.5, 1}, wt[] = {0, 0.5, 0.5, 1, 1};
    const float wthr[] = {INFINITY, 0.8f, 0.4f, 0.35f, 0.1f};
    ck_assert_uint_eq(np, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_double_eq(fpr[i], wf[i]);
        ck_assert_double_eq(tpr[i], wt[i]);
        ck_assert_float_eq(thr[i], wthr[i]);
    }
    /* A tie between a positive and a negative counts one half:
     * (0.5 vs 0.5) 0.5 + (0.5 vs 0.2) 1 + (0.8 vs 0.5) 1 + (0.8 vs 0.2) 1 = 3.5/4 */
    const float s2[] = {0.5f, 0.5f, 0.2f, 0.8f};
    const int y2[] = {1, 0, 0, 1};
    ck_assert_int_eq(ndx_roc(s2, y2, 4, fpr, tpr, NULL, 5, &np, &auc), NDX_OK);
    ck_assert_double_eq_tol(auc, 0.875, 1e-15);
    ck_assert_uint_eq(np, 4);                 /* three distinct scores + (0,0) */
    ck_assert_double_eq(fpr[2], 0.5);         /* the tied pair enters together */
    ck_assert_double_eq(tpr[2], 1.0);
    /* perfect, reversed, all tied */
    const float s3[] = {1, 2, 3, 4, 5, 6};
    const int up[] = {0, 0, 0, 1, 1, 1}, down[] = {1, 1, 1, 0, 0, 0};
    ck_assert_int_eq(ndx_auc(s3, up, 6, &auc), NDX_OK);
    ck_assert_double_eq(auc, 1.0);
    ck_assert_int_eq(ndx_auc(s3, down, 6, &auc), NDX_OK);
    ck_assert_double_eq(auc, 0.0);
    const float same[] = {0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f};
    ck_assert_int_eq(ndx_roc(same, up, 6, fpr, tpr, NULL, 7, &np, &auc), NDX_OK);
    ck_assert_double_eq(auc, 0.5);
    ck_assert_uint_eq(np, 2);
    ck_assert(fpr[1] == 1.0 && tpr[1] == 1.0);
}
END_TEST

START_TEST(test_auc_random_ties)
{
    uint64_t seed = 42;
    enum { N = 400 };
    float s[N];
    int y[N];
    double fpr[N + 1], tpr[N + 1];
    for (int rep = 0; rep < 40; rep++) {
        size_t n = (size_t)tu_int(&seed, 2, N);
        int levels = tu_int(&seed, 1, 12);         /* few levels: many ties */
        for (size_t i = 0; i < n; i++) {
            y[i] = tu_int(&seed, 0, 9) < 3;
            s[i] = (float)(tu_int(&seed, 0, levels) + y[i] * tu_int(&seed, 0, 2)) * 0.25f;
        }
        y[0] = 0, y[1] = 1;
        double auc, want = brute_auc(s, y, n);
        size_t np;
        ck_assert_int_eq(ndx_roc(s, y, n, fpr, tpr, NULL, n + 1, &np, &auc), NDX_OK);
        ck_assert_msg(fabs(auc - want) < 1e-12, "rep %d: auc %.15f, pairwise %.15f",
                      rep, auc, want);
        /* sklearn's value: the trapezoid area under the returned curve */
        double area = 0;
        for (size_t i = 1; i < np; i++)
            area += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2;
        ck_assert_msg(fabs(area - want) < 1e-12, "rep %d: trapezoid %.15f", rep, area);
        ck_assert(fpr[np - 1] == 1.0 && tpr[np - 1] == 1.0);
        for (size_t i = 1; i < np; i++) ck_assert(fpr[i] >= fpr[i - 1] && tpr[i] >= tpr[i - 1]);
    }
}
END_TEST

START_TEST(test_auc_errors)
{
    const float s[] = {0.1f, 0.2f, NAN};
    const int one_class[] = {1, 1, 1}, bad[] = {0, 2, 1}, ok[] = {0, 1, 1};
    double auc, fpr[3], tpr[3];
    size_t np;
    ck_assert_int_eq(ndx_auc(s, one_class, 2, &auc), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "both classes"));
    ck_assert_int_eq(ndx_auc(s, bad, 2, &auc), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "label 1 is 2"));
    ck_assert_int_eq(ndx_auc(s, ok, 3, &auc), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "score 2"));
    ck_assert_int_eq(ndx_roc(s, ok, 2, fpr, tpr, NULL, 2, &np, &auc), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "room for 2 points"));
}
END_TEST

START_TEST(test_accuracy_and_mean)
{
    /* rows: argmax 1, 0 (tie -> first), 2, 0 */
    const float logits[] = {0, 2, 1, 5, 5, 0, -1, -2, 0, 3, 2, 1};
    const int y[] = {1, 1, 2, 0};
    double acc;
    ck_assert_int_eq(ndx_accuracy(logits, y, 4, 3, &acc), NDX_OK);
    ck_assert_double_eq(acc, 0.75);
    const int yb[] = {1, 1, 3, 0};
    ck_assert_int_eq(ndx_accuracy(logits, yb, 4, 3, &acc), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "label 2 is 3"));
    ndx_mean m = {0};
    ck_assert(isnan(ndx_mean_value(&m)));
    ndx_mean_add(&m, 1.0, 32);   /* batch losses weighted by batch size */
    ndx_mean_add(&m, 2.5, 32);
    ndx_mean_add(&m, 4.0, 16);
    ck_assert_double_eq_tol(ndx_mean_value(&m), (32 + 80 + 64) / 80.0, 1e-15);
}
END_TEST

/* ---- SGD ------------------------------------------------------------------ */

START_TEST(test_sgd_hand)
{
    /* Three steps on one parameter, in double by hand:
     * p=1, g=0.5, lr=0.1, m=0.9, wd=0.01 */
    float p = 1.0f, g = 0.5f, buf = NAN;
    ndx_sgd opt = {0.1f, 0.9f, 0.01f, 0};
    double wp = 1.0, wb = 0;
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(ndx_sgd_step(&opt, &p, &g, &buf, 1), NDX_OK);
        double d = 0.5 + 0.01 * wp;
        wb = t == 0 ? d : 0.9 * wb + d;
        wp -= 0.1 * wb;
        ck_assert_msg(fabs(p - wp) < 1e-6 && fabs(buf - wb) < 1e-6,
                      "step %d: p %.9g (want %.9g), buf %.9g (want %.9g)", t, p, wp, buf, wb);
    }
    ck_assert_int_eq(opt.step, 3);
    /* momentum 0: plain descent with decay, no buffer needed */
    ndx_sgd plain = {0.5f, 0.0f, 0.1f, 0};
    p = 2.0f;
    ck_assert_int_eq(ndx_sgd_step(&plain, &p, &g, NULL, 1), NDX_OK);
    ck_assert_float_eq_tol(p, 2.0f - 0.5f * (0.5f + 0.1f * 2.0f), 1e-7f);
    ck_assert_int_eq(ndx_sgd_step(&opt, &p, &g, NULL, 1), NDX_ERR_INVALID);
    ndx_sgd bad = {NAN, 0.9f, 0.0f, 0};
    ck_assert_int_eq(ndx_sgd_step(&bad, &p, &g, &buf, 1), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "lr"));
}
END_TEST

START_TEST(test_sgd_threads_identical)
{
    enum { N = 200003 };
    float *p[2], *b[2], *g = malloc(N * sizeof *g);
    uint64_t seed = 7;
    tu_fill(&seed, g, N);
    for (int k = 0; k < 2; k++) {
        tu_threads(k + 1);
        p[k] = malloc(N * sizeof **p);
        b[k] = malloc(N * sizeof **b);
        uint64_t s2 = 9;
        tu_fill(&s2, p[k], N);
        ndx_sgd opt = {0.01f, 0.9f, 1e-4f, 0};
        for (int t = 0; t < 3; t++) ck_assert_int_eq(ndx_sgd_step(&opt, p[k], g, b[k], N), NDX_OK);
    }
    ck_assert(memcmp(p[0], p[1], N * sizeof **p) == 0);
    ck_assert(memcmp(b[0], b[1], N * sizeof **b) == 0);
    for (int k = 0; k < 2; k++) free(p[k]), free(b[k]);
    free(g);
}
END_TEST

/* Forward and backward of the golden's tiny model, by hand:
 * x (B, in) -> [h = relu(x W1^T + b1) (B, hid)] -> z = h W2^T + b2 (B, C),
 * weighted softmax cross-entropy as torch.nn.CrossEntropyLoss.
 * params/grads: [W1 (hid,in), b1 (hid), W2 (C,hid'), b2 (C)], hid' = hid or in. */
static double mlp_step(int in, int hid, int C, int B, const float *x, const float *yf,
                       const float *cw, const float *prm, float *grd, float *h, float *dh,
                       float *z)
{
    const int feat = hid ? hid : in;
    const float *w1 = prm, *b1 = w1 + hid * in, *w2 = b1 + hid, *b2 = w2 + C * feat;
    float *gw1 = grd, *gb1 = gw1 + hid * in, *gw2 = gb1 + hid, *gb2 = gw2 + C * feat;
    size_t np = (size_t)hid * in + hid + (size_t)C * feat + C;
    memset(grd, 0, np * sizeof *grd);
    for (int n = 0; n < B; n++) {
        for (int j = 0; j < hid; j++) {
            double a = b1[j];
            for (int i = 0; i < in; i++) a += (double)w1[j * in + i] * x[n * in + i];
            h[n * hid + j] = a > 0 ? (float)a : 0.0f;
        }
        const float *f = hid ? h + n * hid : x + n * in;
        for (int c = 0; c < C; c++) {
            double a = b2[c];
            for (int j = 0; j < feat; j++) a += (double)w2[c * feat + j] * f[j];
            z[n * C + c] = (float)a;
        }
    }
    double wsum = 0, loss = 0;
    for (int n = 0; n < B; n++) wsum += cw[(int)yf[n]];
    for (int n = 0; n < B; n++) {
        int y = (int)yf[n];
        double m = z[n * C];
        for (int c = 1; c < C; c++) m = fmax(m, z[n * C + c]);
        double s = 0;
        for (int c = 0; c < C; c++) s += exp(z[n * C + c] - m);
        double lse = m + log(s);
        loss += cw[y] * (lse - z[n * C + y]);
        const float *f = hid ? h + n * hid : x + n * in;
        for (int j = 0; j < hid; j++) dh[j] = 0;
        for (int c = 0; c < C; c++) {
            double dz = cw[y] / wsum * (exp(z[n * C + c] - lse) - (c == y));
            gb2[c] += (float)dz;
            for (int j = 0; j < feat; j++) {
                gw2[c * feat + j] += (float)(dz * f[j]);
                if (hid) dh[j] += (float)(dz * w2[c * feat + j]);
            }
        }
        for (int j = 0; j < hid; j++) {
            if (h[n * hid + j] <= 0) continue;
            gb1[j] += dh[j];
            for (int i = 0; i < in; i++) gw1[j * in + i] += dh[j] * x[n * in + i];
        }
    }
    return loss / wsum;
}

START_TEST(test_sgd_golden)
{
    gold_file g;
    gold_record r0, r1, r2;
    gold_open(&g, "sgd_mlp.gold");
    int cases = 0;
    while (gold_next(&g, &r0)) {
        ck_assert_msg(gold_next(&g, &r1) && gold_next(&g, &r2), "case %d incomplete", cases);
        gold_expect(&g, &r0, 6, 4);
        gold_expect(&g, &r1, 0, 4);
        gold_expect(&g, &r2, 0, 5);
        int in = r0.p[0], hid = r0.p[1], C = r0.p[2], B = r0.p[3], steps = r0.p[4],
            nb = r0.p[5];
        int feat = hid ? hid : in;
        size_t sz[4] = {(size_t)hid * in, (size_t)hid, (size_t)C * feat, (size_t)C};
        size_t np = sz[0] + sz[1] + sz[2] + sz[3];
        /* One block each: parameters, gradients, momentum. */
        float *prm = malloc(np * sizeof *prm), *grd = malloc(np * sizeof *grd),
              *mom = tu_alloc_poisoned(np);
        size_t off = 0;
        for (int k = 0; k < 4; k++) {
            gold_expect_n(&g, &r0, k, sz[k]);
            memcpy(prm + off, r0.t[k].data, sz[k] * sizeof *prm);
            off += sz[k];
        }
        float *h = malloc(((size_t)B * (hid + 1)) * sizeof *h),
              *dh = malloc((size_t)(hid + 1) * sizeof *dh), *z = malloc((size_t)B * C * sizeof *z);
        const float *hy = r1.t[3].data;
        ndx_sgd opt = {hy[0], hy[1], hy[2], 0};
        ck_assert(opt.momentum > 0 && opt.weight_decay > 0);
        gold_expect_n(&g, &r2, 0, (size_t)steps);
        for (int t = 0; t < steps; t++) {
            int b = t % nb;
            double loss = mlp_step(in, hid, C, B, r1.t[0].data + (size_t)b * B * in,
                                   r1.t[1].data + (size_t)b * B, r1.t[2].data, prm, grd, h,
                                   dh, z);
            double want = r2.t[0].data[t];
            ck_assert_msg(fabs(loss - want) <= 1e-4 * fabs(want),
                          "case %d step %d: loss %.9g, PyTorch %.9g", cases, t, loss, want);
            ck_assert_int_eq(ndx_sgd_step(&opt, prm, grd, mom, np), NDX_OK);
        }
        tu_check_guard(mom, np);
        off = 0;
        for (int k = 0; k < 4; k++) {
            gold_expect_n(&g, &r2, k + 1, sz[k]);
            tu_assert_close(prm + off, r2.t[k + 1].data, sz[k], 1e-4, 0, "final weights");
            off += sz[k];
        }
        /* the trajectory moved: a no-op optimiser would not pass */
        ck_assert(r2.t[0].data[steps - 1] < 0.9 * r2.t[0].data[0]);
        free(prm), free(grd), free(mom), free(h), free(dh), free(z);
        gold_record_free(&r0), gold_record_free(&r1), gold_record_free(&r2);
        cases++;
    }
    gold_close(&g);
    ck_assert_int_eq(cases, 2);
}
END_TEST

/* ---- samplers ------------------------------------------------------------- */

START_TEST(test_sampler_shuffle)
{
    enum { N = 1000 };
    ndx_sampler *s, *s2;
    ck_assert_int_eq(ndx_sampler_new(NULL, N, 0, 0, 123, &s), NDX_OK);
    ck_assert_int_eq(ndx_sampler_new(NULL, N, 0, 0, 123, &s2), NDX_OK);
    ck_assert_uint_eq(ndx_sampler_len(s), N);
    static uint32_t e0[N], e1[N];
    memcpy(e0, ndx_sampler_epoch(s, 0), sizeof e0);
    memcpy(e1, ndx_sampler_epoch(s, 1), sizeof e1);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        ck_assert_uint_lt(e0[i], N);
        seen[e0[i]]++;
    }
    for (int i = 0; i < N; i++) ck_assert_int_eq(seen[i], 1);
    ck_assert(memcmp(e0, e1, sizeof e0) != 0);
    /* epoch e is the same whatever was asked before (resume) */
    ck_assert(memcmp(ndx_sampler_epoch(s2, 1), e1, sizeof e1) == 0);
    ck_assert(memcmp(ndx_sampler_epoch(s, 0), e0, sizeof e0) == 0);
    ndx_sampler_free(s2);
    ck_assert_int_eq(ndx_sampler_new(NULL, N, 0, 0, 124, &s2), NDX_OK);
    ck_assert(memcmp(ndx_sampler_epoch(s2, 0), e0, sizeof e0) != 0);
    int fixed = 0;
    for (int i = 0; i < N; i++) fixed += e0[i] == (uint32_t)i;
    ck_assert_int_lt(fixed, 10);               /* a shuffle, not the identity */
    ndx_sampler_free(s);
    ndx_sampler_free(s2);
}
END_TEST

START_TEST(test_sampler_balanced)
{
    enum { N = 2000 };
    static int y[N];
    int npos = 0;
    uint64_t seed = 5;
    for (int i = 0; i < N; i++) npos += y[i] = tu_int(&seed, 0, 99) < 4;   /* ~4% */
    ndx_sampler *s, *s2;
    ck_assert_int_eq(ndx_sampler_new(y, N, 2, 1, 77, &s), NDX_OK);
    ck_assert_int_eq(ndx_sampler_new(y, N, 2, 1, 77, &s2), NDX_OK);
    static int count[N];
    for (uint64_t e = 0; e < 3; e++) {
        const uint32_t *o = ndx_sampler_epoch(s, e);
        ck_assert(memcmp(o, ndx_sampler_epoch(s2, e), N * sizeof *o) == 0);
        memset(count, 0, sizeof count);
        int pos = 0;
        for (int i = 0; i < N; i++) {
            ck_assert_uint_lt(o[i], N);
            count[o[i]]++;
            pos += y[o[i]];
        }
        /* half the draws positive, within 5 sigma of a fair coin */
        ck_assert_msg(abs(pos - N / 2) < 5 * 23, "epoch %d: %d positives of %d", (int)e, pos, N);
        for (int c = 0; c < 2; c++) {
            int lo = N, hi = 0;
            for (int i = 0; i < N; i++)
                if (y[i] == c) lo = count[i] < lo ? count[i] : lo, hi = count[i] > hi ? count[i] : hi;
            ck_assert_msg(hi - lo <= 1, "class %d: drawn %d..%d times", c, lo, hi);
        }
    }
    ck_assert(npos > 0 && npos < N / 10);
    ndx_sampler_free(s);
    ndx_sampler_free(s2);
    /* one class present: balanced degenerates to that class */
    int ones[5] = {1, 1, 1, 1, 1};
    ck_assert_int_eq(ndx_sampler_new(ones, 5, 2, 1, 1, &s), NDX_OK);
    const uint32_t *o = ndx_sampler_epoch(s, 0);
    int c5[5] = {0};
    for (int i = 0; i < 5; i++) c5[o[i]]++;
    for (int i = 0; i < 5; i++) ck_assert_int_eq(c5[i], 1);
    ndx_sampler_free(s);
    int bad[3] = {0, 2, 1};
    ck_assert_int_eq(ndx_sampler_new(bad, 3, 2, 1, 1, &s), NDX_ERR_INVALID);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "label 1 is 2"));
    ck_assert_int_eq(ndx_sampler_new(NULL, 0, 2, 0, 1, &s), NDX_ERR_INVALID);
}
END_TEST

/* ---- checkpoints ---------------------------------------------------------- */

static void fill_state(ndx_ckpt_state *st)
{
    memset(st, 0, sizeof *st);
    st->epoch = 3, st->batch = 17, st->step = 12345678901ll;
    ndx_rng_seed(&st->rng, 99);
    ndx_rng_u64(&st->rng);
    ck_assert_int_eq(ndx_ckpt_set(st, "best_auc", 0.8929), NDX_OK);
    ck_assert_int_eq(ndx_ckpt_set(st, "lr", 1e-4), NDX_OK);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    ck_assert(fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert(fwrite(b, 1, n, f) == n);
    fclose(f);
}

START_TEST(test_ckpt_roundtrip)
{
    mk_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/run.ckpt", tmpdir);
    float w[37], m[37], e[1];
    uint64_t seed = 3;
    tu_fill(&seed, w, 37);
    tu_fill(&seed, m, 37);
    ndx_ckpt_array arr[3] = {{"features.0.weight", w, 37}, {"momentum", m, 37}, {"empty", e, 0}};
    ndx_ckpt_state st, got;
    fill_state(&st);
    ck_assert_int_eq(ndx_ckpt_save(path, &st, arr, 3), NDX_OK);
    ck_assert_int_eq(count_files(), 1);          /* no temporary left behind */
    float w2[37], m2[37];
    /* any order of the arrays */
    ndx_ckpt_array back[3] = {{"momentum", m2, 37}, {"empty", NULL, 0}, {"features.0.weight", w2, 37}};
    ck_assert_int_eq(ndx_ckpt_load(path, &got, back, 3), NDX_OK);
    ck_assert(memcmp(w, w2, sizeof w) == 0 && memcmp(m, m2, sizeof m) == 0);
    ck_assert(got.epoch == 3 && got.batch == 17 && got.step == 12345678901ll);
    ck_assert(memcmp(&got.rng, &st.rng, sizeof st.rng) == 0);
    double v;
    ck_assert_int_eq(ndx_ckpt_get(&got, "best_auc", &v), NDX_OK);
    ck_assert_double_eq(v, 0.8929);
    ck_assert_int_eq(ndx_ckpt_get(&got, "lr", &v), NDX_OK);
    ck_assert_double_eq(v, 1e-4);
    ck_assert_int_eq(ndx_ckpt_get(&got, "nope", &v), NDX_ERR_INVALID);
    /* what the caller expects must be what the file holds */
    ndx_ckpt_array missing[3] = {{"momentum", m2, 37}, {"empty", NULL, 0}, {"weights", w2, 37}};
    ck_assert_int_eq(ndx_ckpt_load(path, &got, missing, 3), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "no array 'weights'"));
    ndx_ckpt_array shape[3] = {{"momentum", m2, 36}, {"empty", NULL, 0}, {"features.0.weight", w2, 37}};
    ck_assert_int_eq(ndx_ckpt_load(path, &got, shape, 3), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "'momentum' has 37 floats, expected 36"));
    ck_assert_int_eq(ndx_ckpt_load(path, &got, back, 2), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "unexpected array 'features.0.weight'"));
    ndx_ckpt_array twice[2] = {{"a", w, 1}, {"a", m, 1}};
    ck_assert_int_eq(ndx_ckpt_save(path, &st, twice, 2), NDX_ERR_INVALID);
    ck_assert_int_eq(count_files(), 1);
    snprintf(path, sizeof path, "%s/none.ckpt", tmpdir);
    ck_assert_int_eq(ndx_ckpt_load(path, &got, back, 3), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), path));
    /* an unwritable place: a clear error, nothing left behind */
    snprintf(path, sizeof path, "%s/no/such/dir/x.ckpt", tmpdir);
    ck_assert_int_eq(ndx_ckpt_save(path, &st, arr, 3), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), path));
    ck_assert_int_eq(count_files(), 1);
    /* at most NDX_CKPT_MAX_SCALARS scalars, short names */
    ndx_ckpt_state many;
    memset(&many, 0, sizeof many);
    char nm[40];
    for (int i = 0; i < NDX_CKPT_MAX_SCALARS; i++) {
        snprintf(nm, sizeof nm, "s%d", i);
        ck_assert_int_eq(ndx_ckpt_set(&many, nm, i), NDX_OK);
    }
    ck_assert_int_eq(ndx_ckpt_set(&many, "s3", -1), NDX_OK);      /* replaces */
    ck_assert_int_eq(ndx_ckpt_get(&many, "s3", &v), NDX_OK);
    ck_assert_double_eq(v, -1);
    ck_assert_int_eq(ndx_ckpt_set(&many, "one_more", 1), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_ckpt_set(&many, "a_name_much_longer_than_31_bytes_here", 1),
                     NDX_ERR_INVALID);
    /* overwriting keeps one file and the new content */
    snprintf(path, sizeof path, "%s/run.ckpt", tmpdir);
    st.epoch = 4;
    ck_assert_int_eq(ndx_ckpt_save(path, &st, arr, 3), NDX_OK);
    ck_assert_int_eq(ndx_ckpt_load(path, &got, back, 3), NDX_OK);
    ck_assert_int_eq(got.epoch, 4);
    ck_assert_int_eq(count_files(), 1);
    rm_tmpdir();
}
END_TEST

START_TEST(test_ckpt_corrupt_every_byte)
{
    mk_tmpdir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/a.ckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tmpdir);
    float w[5] = {1, 2, 3, 4, 5}, m[3] = {-1, 0, 1};
    ndx_ckpt_array arr[2] = {{"w", w, 5}, {"m", m, 3}};
    ndx_ckpt_state st, got;
    fill_state(&st);
    ck_assert_int_eq(ndx_ckpt_save(path, &st, arr, 2), NDX_OK);
    size_t n;
    unsigned char *b = slurp(path, &n);
    ck_assert_uint_gt(n, 100);
    float w2[5], m2[3];
    ndx_ckpt_array into[2] = {{"w", w2, 5}, {"m", m2, 3}};
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            b[i] ^= (unsigned char)(1u << bit);
            spit(bad, b, n);
            b[i] ^= (unsigned char)(1u << bit);
            for (int k = 0; k < 5; k++) w2[k] = 42;
            memset(&got, 0x5a, sizeof got);
            ndx_status rc = ndx_ckpt_load(bad, &got, into, 2);
            ck_assert_msg(rc == NDX_ERR_FORMAT, "byte %zu bit %d flipped: status %d", i, bit, rc);
            const char *msg = ndx_last_error();
            ck_assert_msg(strstr(msg, bad) && (strstr(msg, "checksum mismatch") ||
                                               strstr(msg, "bad magic") || strstr(msg, "truncated")),
                          "byte %zu: unclear message: %s", i, msg);
            ck_assert_msg(w2[0] == 42 && got.epoch == 0x5a5a5a5a5a5a5a5all,
                          "byte %zu: the caller's state was touched", i);
        }
    }
    for (size_t len = 0; len < n; len++) {
        spit(bad, b, len);
        ndx_status rc = ndx_ckpt_load(bad, &got, into, 2);
        ck_assert_msg(rc == NDX_ERR_FORMAT, "truncated to %zu: status %d", len, rc);
        ck_assert_msg(strstr(ndx_last_error(), "truncated") && strstr(ndx_last_error(), bad),
                      "truncated to %zu: %s", len, ndx_last_error());
    }
    /* and the intact copy still loads */
    spit(bad, b, n);
    ck_assert_int_eq(ndx_ckpt_load(bad, &got, into, 2), NDX_OK);
    ck_assert(memcmp(w2, w, sizeof w) == 0);
    /* trailing garbage is refused too */
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    spit(bad, longer, n + 1);
    ck_assert_int_eq(ndx_ckpt_load(bad, &got, into, 2), NDX_ERR_FORMAT);
    free(longer);
    free(b);
    rm_tmpdir();
}
END_TEST

/* ---- metrics.json and plots ----------------------------------------------- */

START_TEST(test_metrics_json)
{
    mk_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.json", tmpdir);
    ndx_epoch_metrics ep[3] = {
        {1, 1e-4, 0.69, 0.55, 0.66, 0.6, 0.71, 10.5, 120},
        {2, 1e-4, 0.50, 0.75, 0.52, 0.8, 0.88, 10.0, 125},
        {3, 1e-4, 0.40, 0.80, NAN, NAN, 0.86, 9.5, 130},
    };
    ck_assert_int_eq(ndx_metrics_write_json(path, ep, 3, 0.875, NULL), NDX_OK);
    size_t n;
    unsigned char *b = slurp(path, &n);
    char *text = malloc(n + 1);
    memcpy(text, b, n);
    text[n] = 0;
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    cJSON *arr = cJSON_GetObjectItem(root, "epochs");
    ck_assert_int_eq(cJSON_GetArraySize(arr), 3);
    cJSON *e1 = cJSON_GetArrayItem(arr, 1), *e2 = cJSON_GetArrayItem(arr, 2);
    ck_assert_double_eq(cJSON_GetObjectItem(e1, "val_auc")->valuedouble, 0.88);
    ck_assert_double_eq(cJSON_GetObjectItem(e1, "train_loss")->valuedouble, 0.5);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(e2, "val_loss")));
    ck_assert_int_eq(cJSON_GetObjectItem(root, "best_epoch")->valueint, 2);
    ck_assert_double_eq(cJSON_GetObjectItem(root, "best_val_auc")->valuedouble, 0.88);
    ck_assert_double_eq(cJSON_GetObjectItem(root, "test_auc")->valuedouble, 0.875);
    cJSON_Delete(root);
    free(text);
    free(b);
    ck_assert_int_eq(ndx_metrics_write_json(path, ep, 0, NAN, NULL), NDX_OK);
    b = slurp(path, &n);
    text = malloc(n + 1);
    memcpy(text, b, n);
    text[n] = 0;
    ck_assert_ptr_nonnull(strstr(text, "\"test_auc\":\tnull"));
    free(text);
    free(b);
    ck_assert_int_eq(count_files(), 1);
    ck_assert_int_eq(ndx_metrics_write_json("/nonexistent-dir/m.json", ep, 3, NAN, NULL),
                     NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "/nonexistent-dir/m.json"));
    rm_tmpdir();
}
END_TEST

START_TEST(test_font)
{
    const char *set = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.,:;-+=_()[]/%<>!?";
    for (const char *c = set; *c; c++) {
        ck_assert_msg(ndx__font_has(*c), "no glyph for '%c'", *c);
        int ink = 0;
        for (int y = 0; y < NDX_FONT_CELL_H; y++)
            for (int x = 0; x < NDX_FONT_W; x++) ink += ndx__font_pixel(*c, x, y);
        ck_assert_msg(ink >= 2, "glyph '%c' is empty", *c);
        /* no two glyphs alike */
        for (const char *d = set; d < c; d++) {
            int same = 1;
            for (int y = 0; y < NDX_FONT_CELL_H && same; y++)
                for (int x = 0; x < NDX_FONT_W; x++)
                    same &= ndx__font_pixel(*c, x, y) == ndx__font_pixel(*d, x, y);
            ck_assert_msg(!same, "glyphs '%c' and '%c' are identical", *c, *d);
        }
    }
    ck_assert(!ndx__font_has('\x01'));
    ck_assert(ndx__font_pixel('\x01', 0, 0) && !ndx__font_pixel('\x01', 2, 3));   /* a box */
    ck_assert(!ndx__font_pixel('A', 5, 0) && !ndx__font_pixel('A', 0, 7));
    /* descenders hang below the baseline (row 6), others do not */
    ck_assert(ndx__font_pixel('p', 0, 8) && !ndx__font_pixel('p', 0, 0));
    ck_assert(!ndx__font_pixel('b', 0, 8) && ndx__font_pixel('b', 0, 6));
}
END_TEST

START_TEST(test_plots)
{
    mk_tmpdir();
    char roc[512], loss[512];
    const char *keep = getenv("NDX_KEEP_PLOTS");   /* a directory to look at them */
    snprintf(roc, sizeof roc, "%s/roc.png", keep ? keep : tmpdir);
    snprintf(loss, sizeof loss, "%s/loss.png", keep ? keep : tmpdir);
    enum { N = 300 };
    float s[N];
    int y[N];
    uint64_t seed = 11;
    for (int i = 0; i < N; i++) {
        y[i] = tu_int(&seed, 0, 3) == 0;
        s[i] = tu_uniform(&seed) + 1.2f * y[i];
    }
    double fpr[N + 1], tpr[N + 1], auc;
    size_t np;
    ck_assert_int_eq(ndx_roc(s, y, N, fpr, tpr, NULL, N + 1, &np, &auc), NDX_OK);
    ck_assert_int_eq(ndx_plot_roc(roc, fpr, tpr, np, auc, NULL), NDX_OK);
    int w, h, bits;
    ck_assert_int_eq(ndx_png_size(roc, &w, &h, &bits), NDX_OK);
    ck_assert(w == 600 && h == 600 && bits == 8);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(roc, 0, &img, NULL, 0), NDX_OK);
    /* a perfect-classifier plot has its curve along the left and top edges;
     * here just: ink exists, the corners are white, the diagonal is grey */
    int dark = 0;
    for (int i = 0; i < w * h; i++) dark += img.px[i] < 128;
    ck_assert_int_gt(dark, 2000);
    ck_assert_int_eq(img.px[0], 255);
    ck_assert_int_eq(img.px[w * h - 1], 255);
    ndx_image_free(&img);
    const double tr[] = {0.9, 0.6, 0.45, 0.40, 0.38}, va[] = {0.8, 0.62, NAN, 0.5, 0.52};
    ck_assert_int_eq(ndx_plot_loss(loss, tr, va, 5), NDX_OK);
    ck_assert_int_eq(ndx_png_size(loss, &w, &h, &bits), NDX_OK);
    ck_assert(w == 760 && h == 500);
    char other[512];
    snprintf(other, sizeof other, "%s/loss1.png", tmpdir);
    ck_assert_int_eq(ndx_plot_loss(other, tr, NULL, 1), NDX_OK);
    const double flat[] = {0.5, 0.5};
    ck_assert_int_eq(ndx_plot_loss(other, flat, flat, 2), NDX_OK);
    const double outside[] = {0, 1.5};
    ck_assert_int_eq(ndx_plot_roc(roc, outside, outside, 2, 0.5, NULL), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_plot_loss(loss, tr, va, 0), NDX_ERR_INVALID);
    ck_assert_int_eq(count_files(), keep ? 1 : 3);
    rm_tmpdir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *m = tcase_create("metrics");
    tcase_add_test(m, test_auc_hand);
    tcase_add_test(m, test_auc_random_ties);
    tcase_add_test(m, test_auc_errors);
    tcase_add_test(m, test_accuracy_and_mean);
    suite_add_tcase(s, m);
    TCase *o = tcase_create("sgd");
    tcase_add_test(o, test_sgd_hand);
    tcase_add_test(o, test_sgd_threads_identical);
    tcase_add_test(o, test_sgd_golden);
    suite_add_tcase(s, o);
    TCase *sm = tcase_create("sampler");
    tcase_add_test(sm, test_sampler_shuffle);
    tcase_add_test(sm, test_sampler_balanced);
    suite_add_tcase(s, sm);
    TCase *c = tcase_create("checkpoint");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, test_ckpt_roundtrip);
    tcase_add_test(c, test_ckpt_corrupt_every_byte);
    suite_add_tcase(s, c);
    TCase *p = tcase_create("outputs");
    tcase_add_test(p, test_metrics_json);
    tcase_add_test(p, test_font);
    tcase_add_test(p, test_plots);
    suite_add_tcase(s, p);
    return tu_run(s);
}
