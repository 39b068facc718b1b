/* The readers' labels of the explained units: answers.jsonl read and
 * checked by the report's reader (src/report/survey.c) against its
 * dissection, or the answers and dissections a report folder names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "explain_int.h"
#include "netdx_report.h"
#include "../dissect/dissect.h"
#include "../report/report.h"

#define MAX_DISS 16

typedef struct src {
    char survey[600];
    char dirs[MAX_DISS][600];
    int ndirs;
} src;

/* report/provenance.json: the survey file and the dissection folders. */
static ndx_status from_report(const char *dir, src *s)
{
    char path[700];
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return ndx__fail(NDX_ERR_IO, "explain: %s: cannot open (is %s a netdx report "
                             "folder?)", path, dir);
    char *text = malloc(1 << 20);
    const size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!text) return ndx__fail(NDX_ERR_NOMEM, "explain: out of memory");
    text[n] = 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    ndx_status st = NDX_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "survey_file");
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(root, "dissections");
    if (!root || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "netdx-report/1"))
        st = ndx__fail(NDX_ERR_FORMAT, "explain: %s: not a netdx-report/1 provenance file",
                       path);
    else if (!cJSON_IsString(sv) || !cJSON_IsArray(ds) || !cJSON_GetArraySize(ds) ||
             cJSON_GetArraySize(ds) > MAX_DISS)
        st = ndx__fail(NDX_ERR_FORMAT, "explain: %s: field survey_file (a string) or "
                       "dissections (1..%d) missing or wrong", path, MAX_DISS);
    if (!st) snprintf(s->survey, sizeof s->survey, "%s", sv->valuestring);
    const cJSON *d, *list = st ? NULL : ds;
    cJSON_ArrayForEach(d, list) {
        const cJSON *folder = cJSON_GetObjectItemCaseSensitive(d, "folder");
        if (!cJSON_IsString(folder)) {
            st = ndx__fail(NDX_ERR_FORMAT, "explain: %s: dissections[%d].folder is not a "
                           "string", path, s->ndirs);
            break;
        }
        snprintf(s->dirs[s->ndirs++], sizeof s->dirs[0], "%s", folder->valuestring);
    }
    cJSON_Delete(root);
    return st;
}

static int cmp_count(const void *a, const void *b)
{
    const ndx_explain_term *x = a, *y = b;
    return x->readers != y->readers ? y->readers - x->readers : strcmp(x->id, y->id);
}

/* One unit's label from the answers to survey unit su. */
static void label_of(const rp_survey *s, int su, ndx_explain_label *l)
{
    const int nt = ndx_lexicon_size(s->lex);
    int *used = calloc((size_t)nt, sizeof *used);    /* readers per term */
    long *stamp = calloc((size_t)nt, sizeof *stamp);  /* the last answer using it, + 1 */
    int as[RP_AS_N] = {0};
    int best_text = -1, best_text_n = 0;
    enum { MAXC = 64 };
    const char *cat[MAXC];
    int catn[MAXC], ncat = 0;
    if (!used || !stamp) {
        free(used), free(stamp);
        return;
    }
    for (long i = 0; i < s->nanswers; i++) {
        const rp_answer *a = &s->answers[i];
        if (a->unit != su || a->repeat) continue;
        l->readers++;
        l->recognizable += a->q1 == RP_YES;
        if (a->q2 >= 0) as[a->q2]++;
        const char *primary = NULL;
        for (int p = 0; p < a->nphen; p++) {
            const rp_phen *ph = &a->phen[p];
            for (int k = 0; k < ph->nterms; k++) {
                const ndx_lexicon_term *t = ndx_lexicon_term_at(s->lex, ph->terms[k]);
                if (!primary) primary = t->category_name;
                if (stamp[ph->terms[k]] != i + 1) used[ph->terms[k]]++;
                stamp[ph->terms[k]] = i + 1;
            }
            if (ph->text && ph->text[0] && best_text < 0) best_text = (int)i;
        }
        int c = 0;
        while (primary && c < ncat && strcmp(cat[c], primary)) c++;
        if (primary && c == ncat && ncat < MAXC) cat[ncat] = primary, catn[ncat++] = 0;
        if (primary && c < ncat) catn[c]++;
    }
    for (int c = 0; c < ncat; c++)
        if (catn[c] > l->agreeing) {
            l->agreeing = catn[c];
            snprintf(l->category, sizeof l->category, "%s", cat[c]);
        }
    /* the most common text among the unit's phenomena */
    for (long i = 0; i < s->nanswers && best_text >= 0; i++) {
        const rp_answer *a = &s->answers[i];
        for (int p = 0; a->unit == su && !a->repeat && p < a->nphen; p++) {
            const char *t = a->phen[p].text;
            if (!t || !t[0]) continue;
            int count = 0;
            for (long j = 0; j < s->nanswers; j++)
                for (int q = 0; s->answers[j].unit == su && !s->answers[j].repeat &&
                                q < s->answers[j].nphen; q++)
                    count += s->answers[j].phen[q].text && !strcmp(s->answers[j].phen[q].text, t);
            if (count > best_text_n) {
                best_text_n = count;
                snprintf(l->description, sizeof l->description, "%s", t);
            }
        }
    }
    int best_as = -1;
    for (int k = 0; k < RP_AS_N; k++)
        if (as[k] * 2 > l->readers) best_as = k;
    if (best_as >= 0) snprintf(l->association, sizeof l->association, "%s",
                               ndx__rp_as_names[best_as]);
    ndx_explain_term all[256];
    int n = 0;
    for (int t = 0; t < nt && n < 256; t++) {
        if (!used[t]) continue;
        const ndx_lexicon_term *lt = ndx_lexicon_term_at(s->lex, t);
        ndx_explain_term *e = &all[n++];
        snprintf(e->id, sizeof e->id, "%s", lt->id);
        snprintf(e->name, sizeof e->name, "%s", lt->name);
        snprintf(e->category, sizeof e->category, "%s", lt->category_name);
        e->birads = lt->birads, e->readers = used[t];
    }
    qsort(all, (size_t)n, sizeof *all, cmp_count);
    l->nterms = n < NDX_EXPLAIN_MAX_TERMS ? n : NDX_EXPLAIN_MAX_TERMS;
    memcpy(l->terms, all, (size_t)l->nterms * sizeof *all);
    free(used), free(stamp);
}

/* The strip of a unit's top patches in dir, "" when absent. */
static void strip_of(const char *dir, const char *layer, int unit, char *out, size_t n)
{
    char safe[128];
    ndx__safe_name(safe, sizeof safe, layer);
    snprintf(out, n, "%s/units/%s_%04d.png", dir, safe, unit);
    if (access(out, R_OK) != 0) out[0] = 0;
}

void ndx__explain_strips(ndx_explain_result *r, const char *dir)
{
    snprintf(r->dissection, sizeof r->dissection, "%s", dir);
    for (int i = 0; i < r->nunits; i++)
        strip_of(dir, r->layer, r->unit[i].unit, r->unit[i].strip, sizeof r->unit[i].strip);
}

static void apply(const rp_survey *s, ndx_explain_result *r)
{
    r->readers = s->nreaders;
    r->simulated = 0;
    for (int i = 0; i < s->nreaders; i++) r->simulated += s->readers[i].simulated;
    snprintf(r->labels_hash, sizeof r->labels_hash, "%s", s->hex);
    for (int i = 0; i < r->nunits; i++) {
        ndx_explain_unit *e = &r->unit[i];
        for (int u = 0; u < s->nunits; u++) {
            const rp_drow *d = ndx__rp_unit_row(s, u);
            if (d->unit != e->unit || strcmp(d->layer, r->layer) ||
                strcmp(ndx__rp_unit_network(s, u), r->network))
                continue;
            label_of(s, u, &e->label);
            if (!e->strip[0])
                strip_of(s->diss[s->units[u].dissection].dir, r->layer, e->unit, e->strip,
                         sizeof e->strip);
        }
    }
}

ndx_status ndx__explain_labels(const ndx_explain_opts *o, ndx_explain_result *r)
{
    src in = {0};
    ndx_status st = NDX_OK;
    if (o->report) st = from_report(o->report, &in);
    else snprintf(in.survey, sizeof in.survey, "%s", o->labels);
    if (!st && o->dissection) {
        in.ndirs = 1;
        snprintf(in.dirs[0], sizeof in.dirs[0], "%s", o->dissection);
    }
    if (!st && !in.ndirs)
        return ndx__fail(NDX_ERR_INVALID, "explain: the labels %s need the dissection folder "
                         "they were given for (--dissection DIR): its units.csv is what "
                         "their \"dissection\" hash names", in.survey);
    if (st) return st;
    const char *dirs[MAX_DISS];
    for (int i = 0; i < in.ndirs; i++) dirs[i] = in.dirs[i];
    rp_survey s = {0};
    ndx_lexicon *lex = NULL;
    ndx_textmap *tm = NULL;
    st = ndx_lexicon_load(NULL, &lex);
    if (!st) st = ndx_textmap_new(lex, &tm);
    s.lex = lex, s.tm = tm;
    if (!st) st = ndx__rp_read_dissections(&s, dirs, in.ndirs);
    if (!st) st = ndx__rp_read_answers(&s, in.survey);
    if (!st) {
        r->labelled = 1;
        snprintf(r->labels_path, sizeof r->labels_path, "%s", in.survey);
        snprintf(r->dissection, sizeof r->dissection, "%s", in.dirs[0]);
        apply(&s, r);
    }
    ndx__rp_survey_free(&s);
    ndx_textmap_free(tm);
    ndx_lexicon_free(lex);
    return st;
}
