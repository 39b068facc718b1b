/* The report's CSV tables and provenance.json, written into the temporary
 * report folder (the folder as a whole is renamed into place). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

FILE *ndx__rp_open(ndx__out *o, const char *dir, const char *name)
{
    char path[4200];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        ndx__fail(NDX_ERR_INVALID, "%s: path too long", dir);
        return NULL;
    }
    return ndx__out_open(o, path, 0) ? NULL : o->f;
}

ndx_status ndx__rp_close(ndx__out *o) { return ndx__out_commit(o); }

void ndx__rp_html_put(FILE *f, const char *s)
{
    for (; *s; s++) switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static void num(FILE *f, double v)
{
    if (isnan(v)) fputs(",", f);
    else fprintf(f, ",%.4f", v);
}

static ndx_status figure4_csv(const char *dir, const rp_survey *s, const rp_analysis *a,
                              const rp_row *rows, int nrows, const char *const *strips)
{
    ndx__out o;
    FILE *f = ndx__rp_open(&o, dir, "figure4.csv");
    if (!f) return NDX_ERR_IO;
    fputs("category_id,category,birads,descriptors,common_words,network,layer,unit,"
          "readers_agreeing,readers,strip\n", f);
    char buf[2048];
    for (int i = 0; i < nrows; i++) {
        const rp_row *r = &rows[i];
        const rp_cat *c = &a->cat[r->cat];
        const rp_drow *d = ndx__rp_unit_row(s, r->unit);
        ndx__csv_put(f, c->id);
        fputc(',', f);
        ndx__csv_put(f, c->name);
        fprintf(f, ",%s,", c->birads ? "yes" : "no");
        ndx__rp_unit_terms(s, a, r->unit, r->cat, buf, sizeof buf);
        ndx__csv_put(f, buf);
        fputc(',', f);
        ndx__rp_common_words(s, a, r->unit, r->cat, 3, buf, sizeof buf);
        ndx__csv_put(f, buf);
        fputc(',', f);
        ndx__csv_put(f, ndx__rp_unit_network(s, r->unit));
        fputc(',', f);
        ndx__csv_put(f, d->layer);
        fprintf(f, ",%d,%d,%d,", d->unit, r->agreeing, a->readers[r->unit]);
        ndx__csv_put(f, strips[r->unit] ? strips[r->unit] : "");
        fputc('\n', f);
    }
    return ndx__rp_close(&o);
}

static ndx_status coverage_csv(const char *dir, const rp_analysis *a, const rp_cov *cv, int n)
{
    ndx__out o;
    FILE *f = ndx__rp_open(&o, dir, "coverage.csv");
    if (!f) return NDX_ERR_IO;
    fputs("network,layer,units,recognizable,spurious,entangled,non_birads_anatomy", f);
    for (int c = 0; c < a->ncat; c++)
        if (a->cat[c].birads) fprintf(f, ",%s", a->cat[c].id);
    fputc('\n', f);
    for (int g = 0; g < n; g++) {
        ndx__csv_put(f, cv[g].network);
        fputc(',', f);
        ndx__csv_put(f, cv[g].layer);
        fprintf(f, ",%d,%d,%d,%d,%d", cv[g].units, cv[g].recognizable, cv[g].spurious,
                cv[g].entangled, cv[g].anatomy);
        for (int c = 0; c < a->ncat; c++)
            if (a->cat[c].birads) fprintf(f, ",%d", cv[g].cat[c]);
        fputc('\n', f);
    }
    return ndx__rp_close(&o);
}

/* "A vs B", "all (Fleiss)" or "A (repeats)". */
void ndx__rp_agree_who(const rp_survey *s, const rp_agree *g, char *buf, size_t n)
{
    if (g->a < 0) snprintf(buf, n, "all %d readers (Fleiss)", s->nreaders);
    else if (g->b == -2) snprintf(buf, n, "%s: repeat vs first", s->readers[g->a].name);
    else snprintf(buf, n, "%s vs %s", s->readers[g->a].name, s->readers[g->b].name);
}

static ndx_status agreement_csv(const char *dir, const rp_survey *s, const rp_analysis *a)
{
    ndx__out o;
    FILE *f = ndx__rp_open(&o, dir, "agreement.csv");
    if (!f) return NDX_ERR_IO;
    fputs("question,kind,readers,units,percent_agreement,kappa,ci_low,ci_high,resamples,"
          "undefined_resamples,note\n", f);
    if (s->nreaders < 2) {
        fputs("all,,", f);
        ndx__csv_put(f, s->nreaders ? s->readers[0].name : "");
        fputs(",,,,,,,,needs two readers\n", f);
    }
    for (int i = 0; i < a->nagree; i++) {
        const rp_agree *g = &a->agree[i];
        char who[200];
        ndx__rp_agree_who(s, g, who, sizeof who);
        fprintf(f, "%s,%s,", ndx__rp_question_names[g->question],
                g->a < 0 ? "fleiss" : g->b == -2 ? "self" : "cohen");
        ndx__csv_put(f, who);
        fprintf(f, ",%zu", g->r.n);
        if (!g->defined) {
            fputs(",,,,,,,fewer than 2 units\n", f);
            continue;
        }
        num(f, 100 * g->r.agreement);
        num(f, g->r.kappa);
        num(f, g->r.lo);
        num(f, g->r.hi);
        fprintf(f, ",%d,%d,%s\n", g->r.resamples, g->r.undefined,
                isnan(g->r.kappa) ? "kappa undefined: one category only" : "");
    }
    return ndx__rp_close(&o);
}

static ndx_status experts_csv(const char *dir, const rp_analysis *a)
{
    ndx__out o;
    FILE *f = ndx__rp_open(&o, dir, "experts_iou.csv");
    if (!f) return NDX_ERR_IO;
    fputs("kind,network,labelled_units,other_units,labelled_min,labelled_q1,labelled_median,"
          "labelled_q3,labelled_max,other_min,other_q1,other_median,other_q3,other_max,auc\n", f);
    for (int i = 0; i < a->nkind; i++) {
        const rp_kind_iou *k = &a->kinds[i];
        ndx__csv_put(f, k->kind);
        fputc(',', f);
        ndx__csv_put(f, k->network);
        fprintf(f, ",%d,%d", k->n_pos, k->n_neg);
        for (int q = 0; q < 5; q++) num(f, k->pos_q[q]);
        for (int q = 0; q < 5; q++) num(f, k->neg_q[q]);
        num(f, k->auc);
        fputc('\n', f);
    }
    return ndx__rp_close(&o);
}

/* mapping.csv: each distinct free text the report mapped, for auditing. */
static ndx_status mapping_csv(const char *dir, const rp_survey *s)
{
    rp_mapped *m;
    int n;
    ndx_status st = ndx__rp_mapped_texts(s, &m, &n);
    if (st) return st;
    ndx__out o;
    FILE *f = ndx__rp_open(&o, dir, "mapping.csv");
    if (!f) {
        free(m);
        return NDX_ERR_IO;
    }
    fputs("text,phenomena,descriptors,unmatched_words\n", f);
    char buf[2048];
    for (int i = 0; i < n; i++) {
        ndx__csv_put(f, m[i].ph->text);
        fprintf(f, ",%d,", m[i].count);
        ndx__rp_phen_ids(s, m[i].ph, buf, sizeof buf);
        ndx__csv_put(f, buf);
        fputc(',', f);
        ndx__csv_put(f, m[i].ph->unmatched ? m[i].ph->unmatched : "");
        fputc('\n', f);
    }
    free(m);
    return ndx__rp_close(&o);
}

static ndx_status provenance_json(const char *dir, const rp_survey *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    cJSON_AddStringToObject(o, "format", "netdx-report/1");
    cJSON_AddStringToObject(o, "survey_file", s->path);
    cJSON_AddStringToObject(o, "survey_xxh3", s->hex);
    cJSON_AddStringToObject(o, "survey", s->id);
    cJSON_AddBoolToObject(o, "simulated", ndx__rp_any_simulated(s));
    cJSON_AddStringToObject(o, "lexicon", ndx_lexicon_version(s->lex));
    cJSON *rd = cJSON_AddArrayToObject(o, "readers");
    for (int r = 0; rd && r < s->nreaders; r++) {
        cJSON *x = cJSON_CreateObject();
        if (!x) break;
        cJSON_AddStringToObject(x, "name", s->readers[r].name);
        cJSON_AddNumberToObject(x, "reader_id", (double)s->readers[r].id);
        cJSON_AddStringToObject(x, "role", s->readers[r].role);
        cJSON_AddBoolToObject(x, "simulated", s->readers[r].simulated);
        cJSON_AddItemToArray(rd, x);
    }
    cJSON *ds = cJSON_AddArrayToObject(o, "dissections");
    for (int d = 0; ds && d < s->ndiss; d++) {
        cJSON *x = cJSON_CreateObject();
        if (!x) break;
        cJSON_AddStringToObject(x, "folder", s->diss[d].dir);
        cJSON_AddStringToObject(x, "units_csv_xxh3", s->diss[d].hex);
        cJSON_AddStringToObject(x, "network", s->diss[d].network);
        cJSON_AddItemToArray(ds, x);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    ndx_status st = ndx__json_write(path, o);   /* formatted, a newline, safely */
    cJSON_Delete(o);
    return st;
}

ndx_status ndx__rp_write_tables(const char *dir, const rp_survey *s, const rp_analysis *a,
                           const rp_row *rows, int nrows, const char *const *strips)
{
    rp_cov *cv;
    int ncv;
    ndx_status st = figure4_csv(dir, s, a, rows, nrows, strips);
    if (!st) st = agreement_csv(dir, s, a);
    if (!st) st = experts_csv(dir, a);
    if (!st) st = mapping_csv(dir, s);
    if (!st) st = provenance_json(dir, s);
    if (!st) st = ndx__rp_coverage(s, a, &cv, &ncv);
    if (st) return st;
    st = coverage_csv(dir, a, cv, ncv);
    free(cv);
    return st;
}
