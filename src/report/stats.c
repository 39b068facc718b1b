/* Agreement between readers: percent agreement, Cohen's kappa for a pair,
 * Fleiss' kappa for three or more, and 95% intervals by a seeded bootstrap
 * over units.
 *
 * Cohen (1960): two readers label the same n units with one of K nominal
 * categories; p_o = the fraction of units they label alike, p_e = sum over k
 * of (their shares of k multiplied), kappa = (p_o - p_e) / (1 - p_e).
 * Fleiss (1971): n units, each labelled by the same m >= 2 readers, counts
 * n_ik of readers giving unit i category k; P_i = (sum_k n_ik^2 - m) /
 * (m (m - 1)), P = mean P_i, p_k = sum_i n_ik / (n m), P_e = sum_k p_k^2,
 * kappa = (P - P_e) / (1 - P_e).  When 1 - p_e (1 - P_e) is 0 (everyone used
 * one and the same category) kappa is undefined: NaN, as scikit-learn and
 * statsmodels give it.
 *
 * Bootstrap: `resamples` draws of n units with replacement (ndx_rng seeded
 * with `seed`), kappa of each; the interval is the 2.5% and 97.5% quantiles
 * (linear interpolation between order statistics) of the draws where kappa
 * is defined; the undefined draws are counted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static ndx_status check_labels(const int *x, size_t n, int ncat, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] < 0 || x[i] >= ncat)
            return ndx__fail(NDX_ERR_INVALID, "%s: label %zu is %d, outside 0..%d", what, i,
                             x[i], ncat - 1);
    return NDX_OK;
}

/* Cohen's kappa of the units idx[0..n) (all units when idx is NULL); tab:
 * 2 * ncat counters of scratch. */
static double cohen_of(const int *a, const int *b, const size_t *idx, size_t n, int ncat,
                       size_t *tab, double *po)
{
    memset(tab, 0, 2 * (size_t)ncat * sizeof *tab);
    size_t same = 0;
    for (size_t j = 0; j < n; j++) {
        const size_t i = idx ? idx[j] : j;
        tab[a[i]]++;
        tab[ncat + b[i]]++;
        same += a[i] == b[i];
    }
    const double p = (double)same / (double)n;
    double pe = 0;
    for (int k = 0; k < ncat; k++) pe += (double)tab[k] * (double)tab[ncat + k];
    pe /= (double)n * (double)n;
    if (po) *po = p;
    return 1 - pe > 1e-12 ? (p - pe) / (1 - pe) : NAN;
}

/* Fleiss' kappa of the rows idx[0..n) of counts (n x ncat, m readers per
 * row); col: ncat doubles of scratch. */
static double fleiss_of(const int *counts, const size_t *idx, size_t n, int ncat, int m,
                        double *col, double *pbar)
{
    memset(col, 0, (size_t)ncat * sizeof *col);
    double sum_p = 0;
    for (size_t j = 0; j < n; j++) {
        const int *row = counts + (idx ? idx[j] : j) * (size_t)ncat;
        double sq = 0;
        for (int k = 0; k < ncat; k++) {
            sq += (double)row[k] * row[k];
            col[k] += row[k];
        }
        sum_p += (sq - m) / ((double)m * (m - 1));
    }
    const double p = sum_p / (double)n;
    double pe = 0;
    for (int k = 0; k < ncat; k++) {
        const double q = col[k] / ((double)n * m);
        pe += q * q;
    }
    if (pbar) *pbar = p;
    return 1 - pe > 1e-12 ? (p - pe) / (1 - pe) : NAN;
}

ndx_status ndx_cohen_kappa(const int *a, const int *b, size_t n, int ncat, double *kappa,
                           double *agreement)
{
    if (!a || !b || n == 0 || ncat < 1 || ncat > NDX_KAPPA_MAX_CATEGORIES)
        return ndx__fail(NDX_ERR_INVALID, "cohen_kappa: need n >= 1 units (got %zu) and "
                         "1..%d categories (got %d)", n, NDX_KAPPA_MAX_CATEGORIES, ncat);
    ndx_status st = check_labels(a, n, ncat, "cohen_kappa: reader a");
    if (!st) st = check_labels(b, n, ncat, "cohen_kappa: reader b");
    if (st) return st;
    size_t tab[2 * NDX_KAPPA_MAX_CATEGORIES];
    const double k = cohen_of(a, b, NULL, n, ncat, tab, agreement);
    if (kappa) *kappa = k;
    return NDX_OK;
}

/* The common m of the rows, or -1 (message set) when rows differ or m < 2. */
static int fleiss_raters(const int *counts, size_t n, int ncat)
{
    int m = -1;
    for (size_t i = 0; i < n; i++) {
        int s = 0;
        for (int k = 0; k < ncat; k++) {
            const int c = counts[i * (size_t)ncat + k];
            if (c < 0) {
                ndx__fail(NDX_ERR_INVALID, "fleiss_kappa: row %zu category %d count is %d", i, k, c);
                return -1;
            }
            s += c;
        }
        if (m < 0) m = s;
        if (s != m || s < 2) {
            ndx__fail(NDX_ERR_INVALID, "fleiss_kappa: row %zu has %d readers, row 0 has %d "
                      "(every unit needs the same number, at least 2)", i, s, m);
            return -1;
        }
    }
    return m;
}

ndx_status ndx_fleiss_kappa(const int *counts, size_t n, int ncat, double *kappa,
                            double *agreement)
{
    if (!counts || n == 0 || ncat < 1 || ncat > NDX_KAPPA_MAX_CATEGORIES)
        return ndx__fail(NDX_ERR_INVALID, "fleiss_kappa: need n >= 1 units (got %zu) and "
                         "1..%d categories (got %d)", n, NDX_KAPPA_MAX_CATEGORIES, ncat);
    const int m = fleiss_raters(counts, n, ncat);
    if (m < 0) return NDX_ERR_INVALID;
    double col[NDX_KAPPA_MAX_CATEGORIES];
    const double k = fleiss_of(counts, NULL, n, ncat, m, col, agreement);
    if (kappa) *kappa = k;
    return NDX_OK;
}

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Quantile q of sorted v[0..n) (n >= 1), linear between order statistics. */
static double quantile(const double *v, size_t n, double q)
{
    const double h = q * (double)(n - 1);
    const size_t i = (size_t)floor(h);
    return i + 1 < n ? v[i] + (h - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

typedef struct boot {
    const int *a, *b, *counts;
    int ncat, m;
} boot;

static double boot_stat(const boot *bt, const size_t *idx, size_t n, double *po)
{
    if (bt->counts) {
        double col[NDX_KAPPA_MAX_CATEGORIES];
        return fleiss_of(bt->counts, idx, n, bt->ncat, bt->m, col, po);
    }
    size_t tab[2 * NDX_KAPPA_MAX_CATEGORIES];
    return cohen_of(bt->a, bt->b, idx, n, bt->ncat, tab, po);
}

static ndx_status bootstrap(const boot *bt, size_t n, int resamples, uint64_t seed,
                            ndx_agreement *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->kappa = boot_stat(bt, NULL, n, &out->agreement);
    out->lo = out->hi = NAN;
    out->resamples = resamples;
    if (resamples <= 0) return NDX_OK;
    size_t *idx = malloc(n * sizeof *idx);
    double *v = malloc((size_t)resamples * sizeof *v);
    if (!idx || !v) {
        free(idx);
        free(v);
        return ndx__fail(NDX_ERR_NOMEM, "agreement bootstrap: out of memory (%d resamples)",
                         resamples);
    }
    ndx_rng r;
    ndx_rng_seed(&r, seed);
    size_t nv = 0;
    for (int s = 0; s < resamples; s++) {
        for (size_t j = 0; j < n; j++) idx[j] = (size_t)ndx_rng_below(&r, n);
        const double k = boot_stat(bt, idx, n, NULL);
        if (isnan(k))
            out->undefined++;
        else
            v[nv++] = k;
    }
    if (nv) {
        qsort(v, nv, sizeof *v, cmp_double);
        out->lo = quantile(v, nv, 0.025);
        out->hi = quantile(v, nv, 0.975);
    }
    free(idx);
    free(v);
    return NDX_OK;
}

ndx_status ndx_cohen_agreement(const int *a, const int *b, size_t n, int ncat, int resamples,
                               uint64_t seed, ndx_agreement *out)
{
    ndx_status st = ndx_cohen_kappa(a, b, n, ncat, NULL, NULL);
    if (st) return st;
    const boot bt = {a, b, NULL, ncat, 0};
    return bootstrap(&bt, n, resamples, seed, out);
}

ndx_status ndx_fleiss_agreement(const int *counts, size_t n, int ncat, int resamples,
                                uint64_t seed, ndx_agreement *out)
{
    ndx_status st = ndx_fleiss_kappa(counts, n, ncat, NULL, NULL);
    if (st) return st;
    const boot bt = {NULL, NULL, counts, ncat, fleiss_raters(counts, n, ncat)};
    return bootstrap(&bt, n, resamples, seed, out);
}
