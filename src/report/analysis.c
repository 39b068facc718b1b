/* What the report computes from the survey: each answer's lexicon
 * categories, per-unit counts, reader agreement, the IoU of units the
 * readers labelled with a lesion kind against the rest.
 *
 * Only current, non-repeated answers count towards units; the repeated
 * copies serve self-consistency alone.  A unit "is" something (recognizable,
 * a category, anatomy, spurious, entangled) when more than half of the
 * readers who answered it say so.  An answer's primary category (the label
 * the category agreement compares) is the category of the first descriptor
 * of its first phenomenon that has one, or "none". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

const char *const ndx__rp_question_names[3] = {"recognizable", "association", "category"};

int ndx__rp_majority(int count, int readers) { return readers > 0 && 2 * count > readers; }

static ndx_status categories(const rp_survey *s, rp_analysis *a)
{
    const int nt = ndx_lexicon_size(s->lex);
    a->term_cat = malloc(((size_t)nt + 1) * sizeof *a->term_cat);
    if (!a->term_cat) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int i = 0; i < nt; i++) {
        const ndx_lexicon_term *t = ndx_lexicon_term_at(s->lex, i);
        int c = 0;
        while (c < a->ncat && strcmp(a->cat[c].id, t->category)) c++;
        if (c == a->ncat) {
            if (a->ncat == RP_MAX_CATS)
                return ndx__fail(NDX_ERR_UNSUPPORTED, "report: the lexicon has more than %d "
                                 "categories", RP_MAX_CATS);
            a->cat[c] = (rp_cat){t->category, t->category_name, t->birads};
            a->ncat++;
        }
        a->term_cat[i] = c;
    }
    a->none_cat = a->ncat;
    a->cat[a->ncat++] = (rp_cat){"none", "No descriptor", 0};
    return NDX_OK;
}

static int is_anatomy(const rp_survey *s, int term)
{
    return !strncmp(ndx_lexicon_term_at(s->lex, term)->id, "anat.", 5);
}

static void per_answer(const rp_survey *s, rp_analysis *a)
{
    for (long i = 0; i < s->nanswers; i++) {
        const rp_answer *ans = &s->answers[i];
        uint64_t mask = 0;
        int primary = a->none_cat, anat = 0;
        for (int p = 0; p < ans->nphen; p++)
            for (int k = 0; k < ans->phen[p].nterms; k++) {
                const int t = ans->phen[p].terms[k], c = a->term_cat[t];
                if (primary == a->none_cat) primary = c;
                mask |= 1ull << c;
                anat |= is_anatomy(s, t);
            }
        a->answer_cats[i] = mask;
        a->answer_primary[i] = primary;
        if (ans->repeat) continue;
        const int u = ans->unit;
        a->readers[u]++;
        a->yes[u] += ans->q1 == RP_YES;
        a->no[u] += ans->q1 == RP_NO;
        a->multiple[u] += ans->q3 == RP_MULTIPLE;
        a->anatomy[u] += anat;
        a->malignant[u] += ans->q2 == RP_MALIGNANT || ans->q2 == RP_BOTH;
        for (int c = 0; c < a->ncat; c++) a->cat_count[(size_t)u * a->ncat + c] += (mask >> c) & 1;
    }
}

/* The label of answer i for question q, -1 when null; ncat per question. */
static int label_of(const rp_survey *s, const rp_analysis *a, long i, int q)
{
    const rp_answer *ans = &s->answers[i];
    return q == 0 ? ans->q1 : q == 1 ? ans->q2 : a->answer_primary[i];
}
static int ncat_of(const rp_analysis *a, int q) { return q == 0 ? RP_Q1_N : q == 1 ? RP_AS_N : a->ncat; }

/* answer index of (reader, unit, repeat), or -1; idx: nreaders x nunits x 2. */
static long *answer_index(const rp_survey *s)
{
    const size_t n = (size_t)s->nreaders * s->nunits * 2;
    long *idx = malloc((n + 1) * sizeof *idx);
    if (!idx) return NULL;
    for (size_t i = 0; i < n; i++) idx[i] = -1;
    for (long i = 0; i < s->nanswers; i++) {
        const rp_answer *ans = &s->answers[i];
        idx[((size_t)ans->reader * s->nunits + ans->unit) * 2 + ans->repeat] = i;
    }
    return idx;
}

static ndx_status add_agree(rp_analysis *a, const rp_agree *g)
{
    rp_agree *n = realloc(a->agree, ((size_t)a->nagree + 1) * sizeof *n);
    if (!n) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    a->agree = n;
    a->agree[a->nagree++] = *g;
    return NDX_OK;
}

/* Cohen's kappa of readers ra, rb (rb == -2: ra's repeats against ra). */
static ndx_status pair(const rp_survey *s, rp_analysis *a, const long *idx, int q, int ra,
                       int rb, const ndx_report_opts *o, int *x, int *y)
{
    size_t n = 0;
    for (int u = 0; u < s->nunits; u++) {
        const long i = idx[((size_t)ra * s->nunits + u) * 2];
        const long j = rb == -2 ? idx[((size_t)ra * s->nunits + u) * 2 + 1]
                                : idx[((size_t)rb * s->nunits + u) * 2];
        if (i < 0 || j < 0) continue;
        const int li = label_of(s, a, i, q), lj = label_of(s, a, j, q);
        if (li < 0 || lj < 0) continue;
        x[n] = li, y[n] = lj, n++;
    }
    rp_agree g = {q, ra, rb, {0}, n >= 2};
    if (g.defined) {
        ndx_status st = ndx_cohen_agreement(x, y, n, ncat_of(a, q), o->resamples,
                                            o->seed + (uint64_t)a->nagree, &g.r);
        if (st) return st;
    } else {
        g.r.n = n;
    }
    return add_agree(a, &g);
}

/* Fleiss' kappa over the units every reader answered (non-null). */
static ndx_status fleiss(const rp_survey *s, rp_analysis *a, const long *idx, int q,
                         const ndx_report_opts *o, int *counts)
{
    const int k = ncat_of(a, q);
    size_t n = 0;
    for (int u = 0; u < s->nunits; u++) {
        int *row = counts + n * k, all = 1;
        memset(row, 0, (size_t)k * sizeof *row);
        for (int r = 0; r < s->nreaders && all; r++) {
            const long i = idx[((size_t)r * s->nunits + u) * 2];
            const int l = i < 0 ? -1 : label_of(s, a, i, q);
            if (l < 0) all = 0;
            else row[l]++;
        }
        n += all;
    }
    rp_agree g = {q, -1, -1, {0}, n >= 2};
    if (g.defined) {
        ndx_status st = ndx_fleiss_agreement(counts, n, k, o->resamples,
                                             o->seed + (uint64_t)a->nagree, &g.r);
        if (st) return st;
    } else {
        g.r.n = n;
    }
    return add_agree(a, &g);
}

static ndx_status agreement(const rp_survey *s, rp_analysis *a, const ndx_report_opts *o)
{
    long *idx = answer_index(s);
    const size_t nu = (size_t)s->nunits + 1;
    int *x = malloc(nu * sizeof *x), *y = malloc(nu * sizeof *y);
    int *counts = malloc(nu * (RP_MAX_CATS + 2) * sizeof *counts);
    ndx_status st = idx && x && y && counts ? NDX_OK : ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int q = 0; !st && q < 3; q++) {
        for (int ra = 0; !st && s->nreaders >= 2 && ra < s->nreaders; ra++)
            for (int rb = ra + 1; !st && rb < s->nreaders; rb++) st = pair(s, a, idx, q, ra, rb, o, x, y);
        if (!st && s->nreaders >= 3) st = fleiss(s, a, idx, q, o, counts);
        for (int r = 0; !st && r < s->nreaders; r++) {
            int repeats = 0;
            for (int u = 0; u < s->nunits; u++) repeats += idx[((size_t)r * s->nunits + u) * 2 + 1] >= 0;
            if (repeats) st = pair(s, a, idx, q, r, -2, o, x, y);
        }
    }
    free(idx);
    free(x);
    free(y);
    free(counts);
    return st;
}

/* Whether a term belongs to a dissection mask kind. */
static int kind_has_term(const char *kind, const ndx_lexicon_term *t)
{
    if (!strcmp(kind, "mass"))
        return !strcmp(t->id, "finding.mass") || !strncmp(t->category, "mass_", 5);
    if (!strcmp(kind, "calcification"))
        return !strcmp(t->id, "finding.calcifications") || !strncmp(t->category, "calcification_", 14);
    if (!strcmp(kind, "vessel")) return !strcmp(t->id, "calc_benign.vascular");
    if (!strcmp(kind, "distortion"))
        return !strcmp(t->id, "finding.architectural_distortion") ||
               !strcmp(t->id, "assoc.architectural_distortion");
    if (!strcmp(kind, "all")) return t->birads && strcmp(t->category, "breast_composition");
    return 0;
}
static int kind_known(const char *kind)
{
    static const char *const k[] = {"mass", "calcification", "vessel", "distortion", "malignant", "all"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(kind, k[i])) return 1;
    return 0;
}

/* Whether unit u is labelled with kind by a majority of its readers. */
static int unit_has_kind(const rp_survey *s, const rp_analysis *a, int u, const char *kind)
{
    if (!strcmp(kind, "malignant")) return ndx__rp_majority(a->malignant[u], a->readers[u]);
    int votes = 0;
    for (long i = 0; i < s->nanswers; i++) {
        const rp_answer *ans = &s->answers[i];
        if (ans->unit != u || ans->repeat) continue;
        int has = 0;
        for (int p = 0; p < ans->nphen && !has; p++)
            for (int k = 0; k < ans->phen[p].nterms && !has; k++)
                has = kind_has_term(kind, ndx_lexicon_term_at(s->lex, ans->phen[p].terms[k]));
        votes += has;
    }
    return ndx__rp_majority(votes, a->readers[u]);
}

static void quartiles(double *v, int n, double q[5])
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            const double t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    for (int k = 0; k < 5; k++) {
        if (n == 0) {
            q[k] = NAN;
            continue;
        }
        const double h = k * 0.25 * (n - 1);
        const int i = (int)h;
        q[k] = i + 1 < n ? v[i] + (h - i) * (v[i + 1] - v[i]) : v[n - 1];
    }
}

/* One (kind, network) row: the IoU of the labelled units against the rest. */
static ndx_status kind_row(const rp_survey *s, const rp_analysis *a, const char *kind,
                           const char *network, rp_kind_iou *row, double *pos, double *neg,
                           float *score, int *label)
{
    memset(row, 0, sizeof *row);
    row->kind = kind, row->network = network;
    int n = 0;
    for (int u = 0; u < s->nunits; u++) {
        const rp_dissection *d = &s->diss[s->units[u].dissection];
        if (strcmp(network, "all") && strcmp(network, d->network)) continue;
        int k = 0;
        while (k < d->nkinds && strcmp(d->kind[k], kind)) k++;
        if (k == d->nkinds || a->readers[u] == 0) continue;
        const double iou = ndx__rp_unit_row(s, u)->iou[k];
        if (isnan(iou)) continue;
        const int has = unit_has_kind(s, a, u, kind);
        if (has) pos[row->n_pos++] = iou;
        else neg[row->n_neg++] = iou;
        score[n] = (float)iou, label[n] = has, n++;
    }
    quartiles(pos, row->n_pos, row->pos_q);
    quartiles(neg, row->n_neg, row->neg_q);
    row->auc = NAN;
    if (row->n_pos && row->n_neg) return ndx_auc(score, label, (size_t)n, &row->auc);
    return NDX_OK;
}

static ndx_status kinds(const rp_survey *s, rp_analysis *a)
{
    const char *names[RP_MAX_KINDS * 16], *nets[17] = {"all"};
    int nk = 0, nn = 1;
    for (int d = 0; d < s->ndiss; d++) {
        for (int k = 0; k < s->diss[d].nkinds; k++) {
            int seen = !kind_known(s->diss[d].kind[k]);
            for (int j = 0; j < nk; j++) seen |= !strcmp(names[j], s->diss[d].kind[k]);
            if (!seen) names[nk++] = s->diss[d].kind[k];
        }
        int seen = !s->diss[d].network[0];
        for (int j = 1; j < nn; j++) seen |= !strcmp(nets[j], s->diss[d].network);
        if (!seen) nets[nn++] = s->diss[d].network;
    }
    if (nn == 2) nn = 1;   /* one network: "all" is it */
    const size_t nu = (size_t)s->nunits + 1;
    a->kinds = calloc((size_t)(nk * nn) + 1, sizeof *a->kinds);
    double *pos = malloc(nu * sizeof *pos), *neg = malloc(nu * sizeof *neg);
    float *score = malloc(nu * sizeof *score);
    int *label = malloc(nu * sizeof *label);
    ndx_status st = a->kinds && pos && neg && score && label ? NDX_OK
                    : ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int j = 0; !st && j < nn; j++)
        for (int k = 0; !st && k < nk; k++)
            st = kind_row(s, a, names[k], nets[j], &a->kinds[a->nkind++], pos, neg, score, label);
    free(pos);
    free(neg);
    free(score);
    free(label);
    return st;
}

ndx_status ndx__rp_analyse(const rp_survey *s, const ndx_report_opts *o, rp_analysis *a)
{
    memset(a, 0, sizeof *a);
    ndx_status st = categories(s, a);
    if (st) return st;
    const size_t na = (size_t)s->nanswers + 1, nu = (size_t)s->nunits + 1;
    a->answer_cats = calloc(na, sizeof *a->answer_cats);
    a->answer_primary = calloc(na, sizeof *a->answer_primary);
    int **per_unit[] = {&a->readers, &a->yes, &a->no, &a->multiple, &a->anatomy, &a->malignant};
    int ok = a->answer_cats && a->answer_primary;
    for (int i = 0; i < 6; i++) ok &= (*per_unit[i] = calloc(nu, sizeof(int))) != NULL;
    ok &= (a->cat_count = calloc(nu * a->ncat, sizeof *a->cat_count)) != NULL;
    if (!ok) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    per_answer(s, a);
    st = agreement(s, a, o);
    return st ? st : kinds(s, a);
}

void ndx__rp_analysis_free(rp_analysis *a)
{
    free(a->term_cat);
    free(a->answer_cats);
    free(a->answer_primary);
    free(a->readers);
    free(a->yes);
    free(a->no);
    free(a->multiple);
    free(a->anatomy);
    free(a->malignant);
    free(a->cat_count);
    free(a->agree);
    free(a->kinds);
    memset(a, 0, sizeof *a);
}
