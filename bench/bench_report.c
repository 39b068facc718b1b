/* netdx report on a synthetic survey of the size the issue sets: 3 simulated
 * readers x 200 units (+ 20 repeated units each), a dissection folder with a
 * units.csv and a 526 x 64 RGB strip per unit (8 patches of 64 px, as netdx
 * dissect draws them for the demo).  Prints the median of 5 reports.
 *   bench_report [DIR [DISSECTION]]
 * Without DIR: a temporary folder, removed at the end.  With DIR the inputs
 * are kept there (DIR/dissection, DIR/answers.jsonl, DIR/report) for `time
 * netdx report ...`.  With DISSECTION (a netdx dissect folder) the answers
 * are about its units instead, each unit's "true" phenomenon drawn from its
 * best lesion kind in units.csv (a mass unit gets mass phrases, ...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "netdx.h"
#include "netdx_report.h"

#define UNITS 200
#define READERS 3
#define REPEATS 20
#define SW (8 * 64 + 7 * 2)
#define SH 64

static const struct {
    const char *picks, *text, *q1, *assoc, *lesion;
} kinds[] = {
    {"\"finding.mass\",\"mass_margin.spiculated\"", "", "yes", "malignant", "mass"},
    {"", "spiculated mass", "yes", "malignant", "mass"},
    {"", "fine pleomorphic calcs", "yes", "malignant", "calcification"},
    {"\"calc_benign.vascular\"", "vessel", "yes", "benign", "vessel"},
    {"", "vascular calcifications", "yes", "benign", "vessel"},
    {"\"anat.pectoral_muscle\"", "", "yes", "none", ""},
    {"", "skin line", "yes", "none", ""},
    {"", "dense tissue", "yes", "none", ""},
    {"\"finding.architectural_distortion\"", "", "yes", "malignant", "distortion"},
    {"", "round circumscribed mass", "yes", "benign", "mass"},
    {"", "clustered microcalcs", "yes", "unsure", "calcification"},
    {"\"anat.texture\"", "texture", "unsure", "none", ""},
    {"", "", "no", "none", ""},
};
#define NKINDS (int)(sizeof kinds / sizeof *kinds)

static void die(const char *what)
{
    fprintf(stderr, "bench_report: %s: %s\n", what, ndx_last_error());
    exit(1);
}

/* dir/dissection/units.csv and strips; returns the units.csv hash. */
static uint64_t make_dissection(const char *dir, ndx_rng *r)
{
    char p[600];
    snprintf(p, sizeof p, "%s/dissection", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/dissection/units", dir);
    mkdir(p, 0755);
    static char csv[UNITS * 200 + 400];
    int n = snprintf(csv, sizeof csv, "layer,unit,max_score,mean_score,threshold,iou_mass,"
                     "iou_calcification,iou_vessel,iou_distortion,iou_malignant,iou_all,best_lesion,"
                     "best_iou,positive_fraction,topk\n");
    unsigned char *px = malloc((size_t)SW * SH * 3);
    if (!px) die("malloc");
    for (int u = 0; u < UNITS; u++) {
        n += snprintf(csv + n, sizeof csv - (size_t)n, "features.17,%d,5,1,2", u);
        for (int k = 0; k < 6; k++)
            n += snprintf(csv + n, sizeof csv - (size_t)n, ",%.4f", 0.3 * ndx_rng_uniform(r));
        n += snprintf(csv + n, sizeof csv - (size_t)n, ",mass,0.1,0.5,1:5\n");
        for (size_t i = 0; i < (size_t)SW * SH * 3; i++) px[i] = (unsigned char)(ndx_rng_u64(r) & 0xff);
        snprintf(p, sizeof p, "%s/dissection/units/features.17_%04d.png", dir, u);
        if (ndx_png_write8(p, px, SW, SH, 3)) die(p);
    }
    free(px);
    snprintf(p, sizeof p, "%s/dissection/units.csv", dir);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(csv, 1, (size_t)n, f) != (size_t)n || fclose(f)) die(p);
    return ndx_hash64(csv, (size_t)n, 0);
}

/* An existing dissection's units: layer, unit, best lesion kind. */
typedef struct unit_ref {
    char layer[64], best[32];
    int unit;
} unit_ref;

static int read_units(const char *dir, unit_ref *u, int cap, uint64_t *hash)
{
    char p[700];
    snprintf(p, sizeof p, "%s/units.csv", dir);
    FILE *f = fopen(p, "rb");
    static char buf[1 << 22];
    const size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    if (!n) die(p);
    *hash = ndx_hash64(buf, n, 0);
    ndx_csv *c;
    if (ndx_csv_open(p, &c) || ndx_csv_next(c) != 1) die(p);
    int best = -1, k = 0;
    for (int i = 0; i < ndx_csv_nfields(c); i++)
        if (!strcmp(ndx_csv_field(c, i), "best_lesion")) best = i;
    while (k < cap && ndx_csv_next(c) == 1) {
        snprintf(u[k].layer, sizeof u[k].layer, "%s", ndx_csv_field(c, 0));
        snprintf(u[k].best, sizeof u[k].best, "%s", best >= 0 ? ndx_csv_field(c, best) : "");
        u[k].unit = atoi(ndx_csv_field(c, 1));
        k++;
    }
    ndx_csv_close(c);
    return k;
}

/* A kind for a unit whose best lesion is `best`: one of its lesion's
 * phrases when there is one, else any. */
static int kind_for(const char *best, ndx_rng *r)
{
    int match[NKINDS], n = 0;
    for (int k = 0; k < NKINDS; k++)
        if (*kinds[k].lesion && !strcmp(kinds[k].lesion, best)) match[n++] = k;
    return n && ndx_rng_uniform(r) < 0.8 ? match[ndx_rng_below(r, (uint64_t)n)]
                                         : (int)ndx_rng_below(r, NKINDS);
}

static void answer(FILE *f, int reader, const char *layer, int unit, int repeat, int kind,
                   uint64_t hash)
{
    static const char *const names[READERS] = {"sim-a", "sim-b", "sim-c"};
    fprintf(f, "{\"format\": \"netdx-survey-answers/1\", \"survey\": \"bench0001\", \"simulated\": true, "
               "\"reader\": \"%s\", \"reader_id\": %d, \"role\": \"other\", \"network\": \"tiny\", "
               "\"layer\": \"%s\", \"unit\": %d, \"dissection\": \"%016llx\", \"repeat\": %s, "
               "\"revision\": 1, \"revisions\": 1, \"first_saved\": \"2026-12-07T10:00:00Z\", "
               "\"last_saved\": \"2026-12-07T10:01:00Z\", \"seconds_spent\": 42, \"recognizable\": \"%s\", "
               "\"association\": \"%s\", \"multiplicity\": \"single\", \"phenomena\": [",
            names[reader], reader + 1, layer, unit, (unsigned long long)hash, repeat ? "true" : "false",
            kinds[kind].q1, kinds[kind].assoc);
    if (strcmp(kinds[kind].q1, "no"))
        fprintf(f, "{\"descriptors\": [%s], \"text\": \"%s\", \"association\": null, \"confidence\": 3}",
                kinds[kind].picks, kinds[kind].text);
    fputs("], \"comment\": \"\"}\n", f);
}

int main(int argc, char **argv)
{
    char dir[512];
    const int keep = argc > 1;
    if (keep) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
        mkdir(dir, 0755);
    } else {
        strcpy(dir, "/tmp/ndx_bench_report_XXXXXX");
        if (!mkdtemp(dir)) die("mkdtemp");
    }
    ndx_rng r;
    ndx_rng_seed(&r, 1);
    static unit_ref units[4096];
    uint64_t hash;
    char survey[600], out[600], diss[600];
    int nunits = UNITS;
    if (argc > 2) {
        snprintf(diss, sizeof diss, "%s", argv[2]);
        nunits = read_units(diss, units, 4096, &hash);
    } else {
        hash = make_dissection(dir, &r);
        snprintf(diss, sizeof diss, "%s/dissection", dir);
        for (int u = 0; u < nunits; u++) {
            snprintf(units[u].layer, sizeof units[u].layer, "features.17");
            units[u].unit = u;
            units[u].best[0] = 0;
        }
    }
    snprintf(survey, sizeof survey, "%s/answers.jsonl", dir);
    snprintf(out, sizeof out, "%s/report", dir);
    FILE *f = fopen(survey, "w");
    if (!f) die(survey);
    for (int u = 0; u < nunits; u++) {
        const int truth = kind_for(units[u].best, &r);
        for (int k = 0; k < READERS; k++) {
            const int kind = ndx_rng_uniform(&r) < 0.7 ? truth : (int)ndx_rng_below(&r, NKINDS);
            answer(f, k, units[u].layer, units[u].unit, 0, kind, hash);
            if (u < REPEATS)
                answer(f, k, units[u].layer, units[u].unit, 1,
                       ndx_rng_uniform(&r) < 0.8 ? kind : truth, hash);
        }
    }
    if (fclose(f)) die(survey);
    const char *dirs[1] = {diss};
    ndx_report_opts o;
    ndx_report_defaults(&o);
    o.survey = survey, o.dissections = dirs, o.ndissections = 1, o.out = out;
    double t[5];
    ndx_report_summary s;
    for (int i = 0; i < 5; i++) {
        const double t0 = bench_now();
        if (ndx_report(&o, &s)) die("report");
        t[i] = bench_now() - t0;
    }
    printf("report over %d readers x %d units (+%d repeats each, %d strips): %.3f s "
           "(median of 5), %d Figure-4 rows\n", READERS, nunits, REPEATS, nunits,
           bench_median(t, 5), s.rows);
    if (!keep) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd)) fprintf(stderr, "bench_report: cannot remove %s\n", dir);
    }
    return 0;
}
