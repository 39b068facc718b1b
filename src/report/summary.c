/* Summaries the tables, the page and the figures share: a unit's
 * descriptors and common words, the Figure-4 rows, coverage per network and
 * layer, and the provenance line. */
#include <stdlib.h>
#include <string.h>

#include "report.h"

static int uses_cat(const rp_analysis *a, long i, int c)
{
    return c < 0 || ((a->answer_cats[i] >> c) & 1);
}

typedef struct tally {
    char word[32];
    int n, first;
} tally;

static int by_count(const void *x, const void *y)
{
    const tally *a = x, *b = y;
    return a->n != b->n ? b->n - a->n : a->first - b->first;
}

void ndx__rp_common_words(const rp_survey *s, const rp_analysis *a, int unit, int c, int n,
                     char *buf, size_t len)
{
    tally t[256];
    int nt = 0, order = 0;
    buf[0] = 0;
    for (long i = 0; i < s->nanswers; i++) {
        const rp_answer *ans = &s->answers[i];
        if (ans->unit != unit || ans->repeat || !uses_cat(a, i, c)) continue;
        for (int p = 0; p < ans->nphen; p++) {
            char norm[1024];
            ndx_lexicon_normalise(ans->phen[p].text, norm, sizeof norm);
            for (char *w = strtok(norm, " "); w; w = strtok(NULL, " ")) {
                if (strlen(w) < 3 || strlen(w) >= sizeof t[0].word || ndx__rp_is_stop_word(w)) continue;
                int k = 0;
                while (k < nt && strcmp(t[k].word, w)) k++;
                if (k == nt) {
                    if (nt == 256) continue;
                    snprintf(t[nt].word, sizeof t[0].word, "%s", w);
                    t[nt].n = 0, t[nt].first = order++, nt++;
                }
                t[k].n++;
            }
        }
    }
    qsort(t, (size_t)nt, sizeof *t, by_count);
    for (int k = 0; k < nt && k < n; k++) {
        const size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s (%d)", k ? ", " : "", t[k].word, t[k].n);
    }
}

void ndx__rp_unit_terms(const rp_survey *s, const rp_analysis *a, int unit, int c, char *buf,
                   size_t len)
{
    const int nt = ndx_lexicon_size(s->lex);
    int *count = calloc((size_t)nt + 1, sizeof *count), *seen = calloc((size_t)nt + 1, sizeof *seen);
    buf[0] = 0;
    if (!count || !seen) {
        free(count);
        free(seen);
        return;
    }
    for (long i = 0; i < s->nanswers; i++) {
        const rp_answer *ans = &s->answers[i];
        if (ans->unit != unit || ans->repeat) continue;
        for (int p = 0; p < ans->nphen; p++)
            for (int k = 0; k < ans->phen[p].nterms; k++) {
                const int t = ans->phen[p].terms[k];
                if ((c >= 0 && a->term_cat[t] != c) || seen[t] == i + 1) continue;
                seen[t] = (int)i + 1;   /* one count per reader */
                count[t]++;
            }
    }
    for (int pass = 0, best; pass < nt; pass++) {
        best = -1;
        for (int t = 0; t < nt; t++)
            if (count[t] > 0 && (best < 0 || count[t] > count[best])) best = t;
        if (best < 0) break;
        const size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s (%d)", used ? ", " : "",
                 ndx_lexicon_term_at(s->lex, best)->name, count[best]);
        count[best] = 0;
    }
    free(count);
    free(seen);
}

static int by_row(const void *x, const void *y)
{
    const rp_row *p = x, *q = y;
    if (p->cat != q->cat) return p->cat - q->cat;
    if (p->agreeing != q->agreeing) return q->agreeing - p->agreeing;
    return p->unit - q->unit;
}

ndx_status ndx__rp_figure_rows(const rp_survey *s, const rp_analysis *a, rp_row **rows, int *n)
{
    *n = 0;
    *rows = malloc(((size_t)s->nunits * a->ncat + 1) * sizeof **rows);
    if (!*rows) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int u = 0; u < s->nunits; u++)
        for (int c = 0; c < a->ncat; c++) {
            const int k = a->cat_count[(size_t)u * a->ncat + c];
            if (k > 0 && c != a->none_cat) (*rows)[(*n)++] = (rp_row){c, u, k};
        }
    qsort(*rows, (size_t)*n, sizeof **rows, by_row);
    return NDX_OK;
}

ndx_status ndx__rp_coverage(const rp_survey *s, const rp_analysis *a, rp_cov **out, int *n)
{
    *n = 0;
    rp_cov *cv = calloc((size_t)s->nunits + 1, sizeof *cv);
    if (!cv) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    for (int u = 0; u < s->nunits; u++) {
        const char *net = ndx__rp_unit_network(s, u), *layer = ndx__rp_unit_row(s, u)->layer;
        int g = 0;
        while (g < *n && (strcmp(cv[g].network, net) || strcmp(cv[g].layer, layer))) g++;
        if (g == *n) {
            snprintf(cv[g].network, sizeof cv[g].network, "%s", net);
            snprintf(cv[g].layer, sizeof cv[g].layer, "%s", layer);
            (*n)++;
        }
        rp_cov *c = &cv[g];
        const int r = a->readers[u];
        c->units++;
        c->recognizable += ndx__rp_majority(a->yes[u], r);
        c->spurious += ndx__rp_majority(a->no[u], r);
        c->entangled += ndx__rp_majority(a->multiple[u], r);
        c->anatomy += ndx__rp_majority(a->anatomy[u], r);
        for (int k = 0; k < a->ncat; k++) c->cat[k] += ndx__rp_majority(a->cat_count[(size_t)u * a->ncat + k], r);
    }
    *out = cv;
    return NDX_OK;
}

int ndx__rp_any_simulated(const rp_survey *s)
{
    for (int r = 0; r < s->nreaders; r++)
        if (s->readers[r].simulated) return 1;
    return 0;
}

void ndx__rp_provenance(const rp_survey *s, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s%s (XXH3 %s, survey %s), %d reader%s: ",
                     ndx__rp_any_simulated(s) ? "SIMULATED READERS - " : "", s->path, s->hex, s->id,
                     s->nreaders, s->nreaders == 1 ? "" : "s");
    for (int r = 0; r < s->nreaders && n >= 0 && (size_t)n < len; r++)
        n += snprintf(buf + n, len - (size_t)n, "%s%s (%s%s)", r ? ", " : "", s->readers[r].name,
                      s->readers[r].role, s->readers[r].simulated ? ", simulated" : "");
}

static int by_mapped(const void *x, const void *y)
{
    const rp_mapped *a = x, *b = y;
    return a->count != b->count ? b->count - a->count : strcmp(a->ph->text, b->ph->text);
}

ndx_status ndx__rp_mapped_texts(const rp_survey *s, rp_mapped **out, int *n)
{
    long total = 0;
    for (long i = 0; i < s->nanswers; i++) total += s->answers[i].nphen;
    rp_mapped *m = malloc(((size_t)total + 1) * sizeof *m);
    if (!m) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    *n = 0;
    for (long i = 0; i < s->nanswers; i++)
        for (int p = 0; p < s->answers[i].nphen; p++) {
            const rp_phen *ph = &s->answers[i].phen[p];
            if (!ph->from_text) continue;
            int k = 0;
            while (k < *n && strcmp(m[k].ph->text, ph->text)) k++;
            if (k == *n) m[(*n)++] = (rp_mapped){ph, 0};
            m[k].count++;
        }
    qsort(m, (size_t)*n, sizeof *m, by_mapped);
    *out = m;
    return NDX_OK;
}

void ndx__rp_phen_ids(const rp_survey *s, const rp_phen *ph, char *buf, size_t len)
{
    buf[0] = 0;
    for (int k = 0; k < ph->nterms; k++) {
        const size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", k ? " " : "", ndx_lexicon_term_at(s->lex, ph->terms[k])->id);
    }
}
