/* ndx_report: read, check, analyse, then write every file of the report
 * into a temporary folder beside the output and put it in place
 * (ndx__dir, src/io/outdir.c).  An existing output folder is replaced only
 * when it is an earlier report (its provenance.json says "netdx-report/1")
 * or empty. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "../io/io.h"

void ndx_report_defaults(ndx_report_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->resamples = 2000;
    o->figure_rows = 4;
}

/* NDX_OK when out may be replaced whole: absent, empty, or an earlier report
 * (its provenance.json says netdx-report/1, a stricter mark than the file
 * names ndx__dir_replaceable looks for). */
static ndx_status check_out(const char *out)
{
    struct stat sb;
    if (stat(out, &sb) != 0) {
        if (errno == ENOENT) return NDX_OK;
        return ndx__fail(NDX_ERR_IO, "%s: %s", out, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return ndx__fail(NDX_ERR_INVALID, "--out %s exists and is not a folder", out);
    char p[4200];
    snprintf(p, sizeof p, "%s/provenance.json", out);
    FILE *f = NULL;
    if (ndx__open_read(p, &f, NULL) == NDX_OK) {
        char buf[512];
        const size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        if (strstr(buf, "\"netdx-report/1\"")) return NDX_OK;
    }
    DIR *d = opendir(out);
    int empty = 1;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    if (d) closedir(d);
    if (!empty)
        return ndx__fail(NDX_ERR_INVALID, "--out %s is a folder with other files in it (not a netdx "
                         "report): refusing to replace it", out);
    return NDX_OK;
}

static void safe_name(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        const char c = s[i];
        const int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-' || c == '_';
        dst[i] = ok ? c : '_';
    }
    dst[i] = 0;
}

/* Copies each unit's strip (DIR/units/<layer>_<unit>.png, as netdx dissect
 * names it) into tmp/strips/; strips[u] = its path relative to tmp or NULL
 * when the dissection has none. */
static ndx_status copy_strips(const char *tmp, const rp_survey *s, char **strips)
{
    char dir[4216];
    snprintf(dir, sizeof dir, "%s/strips", tmp);
    if (mkdir(dir, 0755) != 0) return ndx__fail(NDX_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    for (int u = 0; u < s->nunits; u++) {
        const rp_drow *d = ndx__rp_unit_row(s, u);
        char layer[RP_NAME], net[RP_NAME], from[4200], rel[300], to[4600];
        safe_name(layer, sizeof layer, d->layer);
        safe_name(net, sizeof net, ndx__rp_unit_network(s, u));
        snprintf(from, sizeof from, "%s/units/%s_%04d.png", s->diss[s->units[u].dissection].dir,
                 layer, d->unit);
        if (access(from, R_OK) != 0) continue;
        if (s->ndiss > 1)
            snprintf(rel, sizeof rel, "strips/d%d_%s_%s_%04d.png", s->units[u].dissection, net,
                     layer, d->unit);
        else
            snprintf(rel, sizeof rel, "strips/%s_%s_%04d.png", net, layer, d->unit);
        snprintf(to, sizeof to, "%s/%s", tmp, rel);
        const ndx_status st = ndx__copy_file(from, to);
        if (st) return st;
        if (!(strips[u] = strdup(rel))) return ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    }
    return NDX_OK;
}

static ndx_status write_all(const char *tmp, const rp_survey *s, const rp_analysis *a,
                            const ndx_report_opts *o, ndx_report_summary *sum)
{
    char **strips = calloc((size_t)s->nunits + 1, sizeof *strips);
    rp_row *rows = NULL;
    int nrows = 0;
    ndx_status st = strips ? NDX_OK : ndx__fail(NDX_ERR_NOMEM, "report: out of memory");
    if (!st) st = copy_strips(tmp, s, strips);
    if (!st) st = ndx__rp_figure_rows(s, a, &rows, &nrows);
    const char *const *sp = (const char *const *)strips;
    if (!st) st = ndx__rp_write_tables(tmp, s, a, rows, nrows, sp);
    if (!st) st = ndx__rp_write_html(tmp, s, a, rows, nrows, sp);
    if (!st) st = ndx__rp_write_figure4(tmp, s, a, rows, nrows, sp, o->figure_rows);
    if (!st) st = ndx__rp_write_coverage_png(tmp, s, a);
    sum->rows = nrows;
    for (int u = 0; strips && u < s->nunits; u++) free(strips[u]);
    free(strips);
    free(rows);
    return st;
}

/* The survey, lexicon and dissections read, --out written (a folder,
 * replaced whole; its parents made): checked and locked before any work. */
static ndx_status plan_report(const ndx_report_opts *o, ndx_ioplan **p)
{
    ndx_status st = ndx_ioplan_new("report", p);
    if (!st) st = ndx_ioplan_input(*p, "--survey", o->survey, NULL);
    if (!st) st = ndx_ioplan_input(*p, "--lexicon", o->lexicon, NULL);
    for (int i = 0; i < o->ndissections && !st; i++)
        st = ndx_ioplan_input(*p, "--dissection", o->dissections[i], NULL);
    if (!st) st = ndx_ioplan_output(*p, "--out", o->out, NDX_OUT_DIR | NDX_OUT_MKDIRS);
    return st ? st : ndx_ioplan_begin(*p);
}

static ndx_status check_opts(const ndx_report_opts *o)
{
    if (!o || !o->survey || !o->out || !*o->out)
        return ndx__fail(NDX_ERR_INVALID, "report: need a survey file and an output folder");
    if (o->resamples < 0 || o->resamples > 1000000 || o->figure_rows < 1 || o->figure_rows > 100)
        return ndx__fail(NDX_ERR_INVALID, "report: resamples %d (0..1000000) or figure_rows %d "
                         "(1..100) out of range", o->resamples, o->figure_rows);
    if (strlen(o->out) > 4000) return ndx__fail(NDX_ERR_INVALID, "report: output path too long");
    return NDX_OK;
}

static void summarise(const rp_survey *s, ndx_report_summary *sum)
{
    sum->readers = s->nreaders;
    for (int r = 0; r < s->nreaders; r++) sum->simulated += s->readers[r].simulated;
    for (long i = 0; i < s->nanswers; i++) {
        sum->repeats += s->answers[i].repeat;
        sum->answers += !s->answers[i].repeat;
    }
    sum->units = s->nunits;
    sum->mapped_phenomena = s->mapped;
    sum->unmatched_words = s->unmatched;
    snprintf(sum->hash, sizeof sum->hash, "%s", s->hex);
    sum->agreement = s->nreaders >= 2;
}

ndx_status ndx_report(const ndx_report_opts *o, ndx_report_summary *sum)
{
    ndx_report_summary dummy;
    if (!sum) sum = &dummy;
    memset(sum, 0, sizeof *sum);
    ndx_status st = check_opts(o);
    if (st) return st;
    rp_survey s = {0};
    rp_analysis a = {0};
    ndx_lexicon *lex = NULL;
    ndx_textmap *tm = NULL;
    ndx_ioplan *plan = NULL;
    ndx__dir d = {0};
    st = plan_report(o, &plan);
    if (!st) st = check_out(o->out);
    if (!st) st = ndx_lexicon_load(o->lexicon, &lex);
    if (!st) st = ndx_textmap_new(lex, &tm);
    s.lex = lex, s.tm = tm;
    if (!st) st = ndx__rp_read_dissections(&s, o->dissections, o->ndissections);
    if (!st) st = ndx__rp_read_answers(&s, o->survey);
    if (!st) st = ndx__rp_analyse(&s, o, &a);
    if (!st) summarise(&s, sum);
    if (!st) st = ndx__dir_open(&d, o->out);
    if (!st) st = write_all(d.tmp, &s, &a, o, sum);
    if (!st) st = ndx__dir_commit(&d);
    ndx__dir_abort(&d);
    ndx_ioplan_free(plan);
    ndx__rp_analysis_free(&a);
    ndx__rp_survey_free(&s);
    ndx_textmap_free(tm);
    ndx_lexicon_free(lex);
    return st;
}
