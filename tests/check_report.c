/* netdx report: the text mapping on a table of phrases, Cohen's and Fleiss'
 * kappa against published worked examples and against scikit-learn /
 * statsmodels (tests/data/report_kappa.gold, tools/gen_report_golden.py),
 * the bootstrap, the whole report on a hand-made survey with known counts
 * (tests/data/report/: answers.jsonl over the units.csv beside it), every
 * kind of bad input, one reader, and the CLI. */
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netdx.h"
#include "netdx_report.h"
#include "testutil.h"

static char bin[1024];

static const char *data_dir(void)
{
    const char *d = getenv("NDX_TEST_DATA");
    return d && *d ? d : "tests/data";
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- the text mapping ----------------------------------------------------- */
static const struct {
    const char *text, *ids, *unmatched;
} phrases[] = {
    /* CBIS-DDSM codes, several joined by '-' */
    {"IRREGULAR-ARCHITECTURAL_DISTORTION", "mass_shape.irregular finding.architectural_distortion", ""},
    {"PLEOMORPHIC", "calc_susp.fine_pleomorphic", ""},
    {"FINE_LINEAR_BRANCHING", "calc_susp.fine_linear_branching", ""},
    {"ROUND-OVAL", "mass_shape.round mass_shape.oval", ""},
    {"OVAL-LOBULATED", "mass_shape.oval", ""},
    {"LUCENT_CENTER-PUNCTATE", "calc_benign.rim calc_benign.round", ""},
    {"ROUND_AND_REGULAR-LUCENT_CENTER", "calc_benign.round calc_benign.rim", ""},
    {"AMORPHOUS-PLEOMORPHIC", "calc_susp.amorphous calc_susp.fine_pleomorphic", ""},
    {"PUNCTATE-PLEOMORPHIC", "calc_benign.round calc_susp.fine_pleomorphic", ""},
    {"COARSE", "calc_benign.coarse_popcorn", ""},
    {"VASCULAR", "calc_benign.vascular", ""},
    {"LARGE_RODLIKE", "calc_benign.large_rod_like", ""},
    {"EGGSHELL", "calc_benign.rim", ""},
    {"DYSTROPHIC", "calc_benign.dystrophic", ""},
    {"SKIN", "calc_benign.skin", ""},
    {"CLUSTERED", "calc_dist.grouped", ""},
    {"LINEAR-SEGMENTAL", "calc_dist.linear calc_dist.segmental", ""},
    {"REGIONAL", "calc_dist.regional", ""},
    {"DIFFUSELY_SCATTERED", "calc_dist.diffuse", ""},
    {"CIRCUMSCRIBED", "mass_margin.circumscribed", ""},
    {"MICROLOBULATED", "mass_margin.microlobulated", ""},
    {"OBSCURED", "mass_margin.obscured", ""},
    {"ILL_DEFINED-SPICULATED", "mass_margin.indistinct mass_margin.spiculated", ""},
    {"CIRCUMSCRIBED-OBSCURED", "mass_margin.circumscribed mass_margin.obscured", ""},
    {"LYMPH_NODE", "finding.intramammary_lymph_node", ""},
    {"ASYMMETRIC_BREAST_TISSUE", "asym.global", ""},
    {"ARCHITECTURAL_DISTORTION", "finding.architectural_distortion", ""},
    {"MASS", "finding.mass", ""},
    {"BENIGN_WITHOUT_CALLBACK", "path.benign_without_callback", ""},
    /* "BI-RADS" stays whole: its parts are shorter than 3 */
    {"BI-RADS 4", "assess.4", ""},
    /* radiologists' shorthand */
    {"calcs", "finding.calcifications", ""},
    {"calc", "finding.calcifications", ""},
    {"microcalcs", "finding.calcifications", ""},
    {"micro calcs", "finding.calcifications", ""},
    {"arch distortion", "finding.architectural_distortion", ""},
    {"AD", "finding.architectural_distortion", ""},
    {"spic mass", "mass_margin.spiculated finding.mass", ""},
    {"spics", "mass_margin.spiculated", ""},
    {"fine pleomorphic calcs", "calc_susp.fine_pleomorphic finding.calcifications", ""},
    {"grouped pleo calcs", "calc_dist.grouped calc_susp.fine_pleomorphic finding.calcifications", ""},
    {"FLB", "calc_susp.fine_linear_branching", ""},
    {"vasc calcs", "calc_benign.vascular finding.calcifications", ""},
    {"popcorn calcs", "calc_benign.coarse_popcorn finding.calcifications", ""},
    {"circ mass", "mass_margin.circumscribed finding.mass", ""},
    {"asym", "asym.asymmetry", ""},
    /* free text: several descriptors per phenomenon, implied findings */
    {"spiculated mass", "mass_margin.spiculated finding.mass", ""},
    {"Spiculated-Mass", "mass_margin.spiculated finding.mass", ""},
    {"irregular mass with indistinct margins", "mass_shape.irregular finding.mass mass_margin.indistinct", ""},
    {"oval circumscribed mass", "mass_shape.oval mass_margin.circumscribed finding.mass", ""},
    {"high density mass", "mass_density.high finding.mass", ""},
    {"fat containing mass", "mass_density.fat_containing finding.mass", ""},
    {"clustered microcalcifications", "calc_dist.grouped finding.calcifications", ""},
    {"fine linear branching calcs in a segmental distribution",
     "calc_susp.fine_linear_branching finding.calcifications calc_dist.segmental", ""},
    {"vascular calcifications", "calc_benign.vascular finding.calcifications", ""},
    {"tram track calcs", "calc_benign.vascular finding.calcifications", ""},
    {"rim calcs", "calc_benign.rim finding.calcifications", ""},
    {"milk of calcium", "calc_benign.milk_of_calcium finding.calcifications", ""},
    {"skin calcifications", "calc_benign.skin finding.calcifications", ""},
    {"focal asymmetry", "asym.focal", ""},
    {"developing asymmetry", "asym.developing", ""},
    {"mass with calcifications", "assoc.calcifications finding.mass finding.calcifications", ""},
    {"skin thickening", "assoc.skin_thickening", ""},
    {"nipple retraction", "assoc.nipple_retraction", ""},
    {"stellate lesion", "mass_margin.spiculated finding.mass", ""},
    {"masses", "finding.mass", ""},
    {"Calcification!", "finding.calcifications", ""},
    /* non-lexicon (project extension) terms */
    {"pectoral muscle", "anat.pectoral_muscle", ""},
    {"skin line", "anat.breast_border", ""},
    {"nipple", "anat.nipple", ""},
    {"texture", "anat.texture", ""},
    {"fatty tissue", "anat.fat", ""},
    {"blood vessels", "anat.vessel", ""},
    {"film artifact", "anat.artifact", ""},
    {"biopsy clip", "anat.artifact", ""},
    {"cooper's ligaments", "anat.cooper_ligaments", ""},
    {"pectoral muscle and arch distortion", "anat.pectoral_muscle finding.architectural_distortion", ""},
    {"malignant", "path.malignant", ""},
    /* unmatched words are reported, not guessed */
    {"something weird here", "", "something weird here"},
    {"spiculated blob near the edge", "mass_margin.spiculated anat.texture", "near edge"},
    {"dense tissue zzzword", "breast_composition.unspecified", "zzzword"},
    {"", "", ""},
};

START_TEST(test_map_table)
{
    ndx_lexicon *lex;
    ndx_textmap *tm;
    ck_assert_msg(ndx_lexicon_load(NULL, &lex) == NDX_OK, "%s", ndx_last_error());
    ck_assert_msg(ndx_textmap_new(lex, &tm) == NDX_OK, "%s", ndx_last_error());
    const int n = (int)(sizeof phrases / sizeof *phrases);
    ck_assert_int_ge(n, 60);
    for (int i = 0; i < n; i++) {
        ndx_map_result r;
        ck_assert_int_eq(ndx_map_text(tm, phrases[i].text, &r), NDX_OK);
        char got[1024] = "", un[512] = "";
        for (int k = 0; k < r.nterms; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? " " : "", r.terms[k]->id);
        for (int w = 0; w < r.nwords; w++)
            if (r.word_match[w] == NDX_WORD_UNMATCHED)
                snprintf(un + strlen(un), sizeof un - strlen(un), "%s%s", *un ? " " : "", r.words[w]);
        ck_assert_msg(!strcmp(got, phrases[i].ids), "\"%s\" -> \"%s\", expected \"%s\"",
                      phrases[i].text, got, phrases[i].ids);
        ck_assert_msg(!strcmp(un, phrases[i].unmatched), "\"%s\": unmatched \"%s\", expected \"%s\"",
                      phrases[i].text, un, phrases[i].unmatched);
        int count = 0;
        for (int w = 0; w < r.nwords; w++) count += r.word_match[w] == NDX_WORD_UNMATCHED;
        ck_assert_int_eq(count, r.nunmatched);
        ndx_map_result_free(&r);
    }
    ndx_textmap_free(tm);
    ndx_lexicon_free(lex);
}
END_TEST

/* Which words matched which synonym, implied findings, ignored words. */
START_TEST(test_map_details)
{
    ndx_lexicon *lex;
    ndx_textmap *tm;
    ck_assert_int_eq(ndx_lexicon_load(NULL, &lex), NDX_OK);
    ck_assert_int_eq(ndx_textmap_new(lex, &tm), NDX_OK);
    ndx_map_result r;
    ck_assert_int_eq(ndx_map_text(tm, "a spiculated mass with fine pleomorphic calcs", &r), NDX_OK);
    ck_assert_int_eq(r.nwords, 7);
    ck_assert_int_eq(r.word_match[0], NDX_WORD_IGNORED);   /* a */
    ck_assert_int_eq(r.word_match[3], NDX_WORD_IGNORED);   /* with */
    ck_assert_int_eq(r.nmatches, 4);
    ck_assert_str_eq(r.matches[0].synonym, "spiculated mass");
    ck_assert_int_eq(r.matches[0].first, 1);
    ck_assert_int_eq(r.matches[0].count, 2);
    ck_assert_str_eq(r.matches[1].term->id, "finding.mass");
    ck_assert_int_eq(r.matches[1].implied_by, 0);
    ck_assert_int_eq(r.matches[1].first, 2);
    ck_assert_str_eq(r.matches[2].synonym, "fine pleomorphic");
    ck_assert_int_eq(r.matches[2].implied_by, -1);
    ck_assert_int_eq(r.word_match[6], 3);
    ck_assert_int_eq(r.nunmatched, 0);
    ndx_map_result_free(&r);
    ndx_textmap_free(tm);
    ndx_lexicon_free(lex);
}
END_TEST

/* Any bytes, long tokens, empty codes: a result, never a crash. */
START_TEST(test_map_robust)
{
    ndx_lexicon *lex;
    ndx_textmap *tm;
    ck_assert_int_eq(ndx_lexicon_load(NULL, &lex), NDX_OK);
    ck_assert_int_eq(ndx_textmap_new(lex, &tm), NDX_OK);
    static char text[3000];
    uint64_t seed = 11;
    for (int t = 0; t < 200; t++) {
        const int n = tu_int(&seed, 0, (int)sizeof text - 1);
        for (int i = 0; i < n; i++) text[i] = (char)tu_int(&seed, 1, 255);
        text[n] = 0;
        if (t % 4 == 1) memset(text, 'A', (size_t)n);        /* one long code */
        if (t % 4 == 2) memset(text, '-', (size_t)n);        /* only separators */
        ndx_map_result r;
        ck_assert_int_eq(ndx_map_text(tm, text, &r), NDX_OK);
        ck_assert(r.nunmatched <= r.nwords && r.nterms <= r.nmatches);
        for (int m = 0; m < r.nmatches; m++)
            ck_assert(r.matches[m].first >= 0 && r.matches[m].first + r.matches[m].count <= r.nwords);
        ndx_map_result_free(&r);
    }
    ndx_textmap_free(tm);
    ndx_lexicon_free(lex);
}
END_TEST

/* A lexicon giving one synonym to two terms cannot be mapped. */
START_TEST(test_map_ambiguous)
{
    char path[] = "/tmp/ndx_check_report_lexXXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    spit(path, "{\"version\": \"t\", \"categories\": [{\"id\": \"c\", \"name\": \"C\", \"source\": \"s\", "
               "\"descriptors\": [{\"id\": \"c.a\", \"name\": \"A\", \"synonyms\": [\"Blob\"]}, "
               "{\"id\": \"c.b\", \"name\": \"B\", \"synonyms\": [\"blob\"]}]}]}");
    ndx_lexicon *lex;
    ndx_textmap *tm = NULL;
    ck_assert_msg(ndx_lexicon_load(path, &lex) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(ndx_textmap_new(lex, &tm), NDX_ERR_FORMAT);
    ck_assert_ptr_null(tm);
    ck_assert_msg(strstr(ndx_last_error(), "c.a") && strstr(ndx_last_error(), "c.b"), "%s",
                  ndx_last_error());
    ndx_lexicon_free(lex);
    unlink(path);
}
END_TEST

/* ---- kappa ------------------------------------------------------------------ */
/* Two raters' labels from a 2x2 table (yes-yes, yes-no, no-yes, no-no). */
static size_t from_2x2(const int t[4], int *a, int *b)
{
    size_t n = 0;
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < t[c]; i++, n++) a[n] = c < 2 ? 0 : 1, b[n] = c % 2 ? 1 : 0;
    return n;
}

/* Wikipedia, "Cohen's kappa", worked examples: 50 grant proposals read by
 * two readers (20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no): p_o 0.7, p_e
 * 0.5, kappa 0.4; two tables with the same p_o 0.6 but different kappas,
 * (45, 15, 25, 15) -> 0.1304 and (25, 35, 5, 35) -> 0.2593. */
START_TEST(test_cohen_published)
{
    static const int tables[3][4] = {{20, 5, 10, 15}, {45, 25, 15, 15}, {25, 5, 35, 35}};
    static const double want[3] = {0.4, 0.06 / 0.46, 0.14 / 0.54}, po[3] = {0.7, 0.6, 0.6};
    int a[100], b[100];
    for (int t = 0; t < 3; t++) {
        const size_t n = from_2x2(tables[t], a, b);
        double k, p;
        ck_assert_int_eq(ndx_cohen_kappa(a, b, n, 2, &k, &p), NDX_OK);
        ck_assert_msg(fabs(k - want[t]) < 1e-12, "table %d: kappa %.15g, expected %.15g", t, k, want[t]);
        ck_assert_msg(fabs(p - po[t]) < 1e-12, "table %d: agreement %.15g", t, p);
    }
    ck_assert_double_eq_tol(0.06 / 0.46, 0.1304, 1e-4);
    ck_assert_double_eq_tol(0.14 / 0.54, 0.2593, 1e-4);
    /* one category used by both: undefined */
    int same[5] = {1, 1, 1, 1, 1};
    double k;
    ck_assert_int_eq(ndx_cohen_kappa(same, same, 5, 3, &k, NULL), NDX_OK);
    ck_assert(isnan(k));
    /* a label outside 0..ncat-1 */
    same[2] = 3;
    ck_assert_int_eq(ndx_cohen_kappa(same, same, 5, 3, &k, NULL), NDX_ERR_INVALID);
    ck_assert_msg(strstr(ndx_last_error(), "label 2"), "%s", ndx_last_error());
}
END_TEST

/* Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5
 * categories: P = 0.378, P_e = 0.213, kappa = 0.210.  Fleiss (1971), Table
 * 1: 30 patients, 6 psychiatrists, 5 diagnoses, kappa 0.430 (the data as R's
 * irr::diagnoses, kappam.fleiss = 0.4302445). */
static const int wiki[10][5] = {{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0},
                                {2, 2, 8, 1, 1},  {7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2},
                                {6, 5, 2, 1, 0},  {0, 2, 2, 3, 7}};
static const int diagnoses[30][6] = {
    {4, 4, 4, 4, 4, 4}, {2, 2, 2, 5, 5, 5}, {2, 3, 3, 3, 3, 5}, {5, 5, 5, 5, 5, 5}, {2, 2, 2, 4, 4, 4},
    {1, 1, 3, 3, 3, 3}, {3, 3, 3, 3, 5, 5}, {1, 1, 3, 3, 3, 4}, {1, 1, 4, 4, 4, 4}, {5, 5, 5, 5, 5, 5},
    {1, 4, 4, 4, 4, 4}, {1, 2, 4, 4, 4, 4}, {2, 2, 2, 3, 3, 3}, {1, 4, 4, 4, 4, 4}, {2, 2, 4, 4, 4, 5},
    {3, 3, 3, 3, 3, 5}, {1, 1, 1, 4, 5, 5}, {1, 1, 1, 1, 1, 2}, {2, 2, 4, 4, 4, 4}, {1, 3, 3, 5, 5, 5},
    {5, 5, 5, 5, 5, 5}, {2, 4, 4, 4, 4, 4}, {2, 2, 4, 5, 5, 5}, {1, 1, 4, 4, 4, 4}, {1, 4, 4, 4, 4, 5},
    {2, 2, 2, 2, 2, 4}, {1, 1, 1, 1, 5, 5}, {2, 2, 4, 4, 4, 4}, {1, 3, 3, 3, 3, 3}, {5, 5, 5, 5, 5, 5}};

START_TEST(test_fleiss_published)
{
    double k, p;
    ck_assert_int_eq(ndx_fleiss_kappa(&wiki[0][0], 10, 5, &k, &p), NDX_OK);
    ck_assert_msg(fabs(k - 0.210) < 5e-4, "kappa %.6f, expected 0.210", k);
    ck_assert_msg(fabs(p - 0.378) < 5e-4, "P %.6f, expected 0.378", p);
    int counts[30][5] = {{0}};
    for (int i = 0; i < 30; i++)
        for (int r = 0; r < 6; r++) counts[i][diagnoses[i][r] - 1]++;
    ck_assert_int_eq(ndx_fleiss_kappa(&counts[0][0], 30, 5, &k, NULL), NDX_OK);
    ck_assert_msg(fabs(k - 0.4302445) < 5e-8, "kappa %.9f, expected 0.4302445", k);
    counts[3][0]++;   /* 7 readers on one unit */
    ck_assert_int_eq(ndx_fleiss_kappa(&counts[0][0], 30, 5, &k, NULL), NDX_ERR_INVALID);
    ck_assert_msg(strstr(ndx_last_error(), "row 3"), "%s", ndx_last_error());
}
END_TEST

/* Against scikit-learn and statsmodels (tests/data/report_kappa.gold). */
START_TEST(test_kappa_golden)
{
    char path[600];
    snprintf(path, sizeof path, "%s/report_kappa.gold", data_dir());
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s missing: run /usr/bin/python3 tools/gen_report_golden.py", path);
    char kind[16];
    int cases[2] = {0, 0}, c;
    while ((c = fgetc(f)) != EOF) {
        if (c == '#') {
            while ((c = fgetc(f)) != EOF && c != '\n') continue;
            continue;
        }
        ungetc(c, f);
        int x, y;
        double want, got;
        if (fscanf(f, "%15s %d %d %lf", kind, &x, &y, &want) != 4) break;
        const int cohen = !strcmp(kind, "cohen");
        const size_t n = cohen ? (size_t)2 * y : (size_t)x * y;
        int *v = malloc(n * sizeof *v);
        ck_assert_ptr_nonnull(v);
        for (size_t i = 0; i < n; i++) ck_assert_int_eq(fscanf(f, "%d", &v[i]), 1);
        if (cohen)
            ck_assert_int_eq(ndx_cohen_kappa(v, v + y, (size_t)y, x, &got, NULL), NDX_OK);
        else
            ck_assert_int_eq(ndx_fleiss_kappa(v, (size_t)x, y, &got, NULL), NDX_OK);
        ck_assert_msg(fabs(got - want) < 1e-12, "%s case %d: %.17g, expected %.17g", kind,
                      cases[!cohen], got, want);
        cases[!cohen]++;
        free(v);
    }
    fclose(f);
    ck_assert_int_ge(cases[0], 5);
    ck_assert_int_ge(cases[1], 4);
}
END_TEST

START_TEST(test_bootstrap)
{
    int a[200], b[200];
    uint64_t s = 7;
    for (int i = 0; i < 200; i++) {
        a[i] = tu_int(&s, 0, 2);
        b[i] = tu_int(&s, 0, 9) < 7 ? a[i] : tu_int(&s, 0, 2);
    }
    ndx_agreement r1, r2, r3;
    ck_assert_int_eq(ndx_cohen_agreement(a, b, 200, 3, 1000, 5, &r1), NDX_OK);
    ck_assert_int_eq(ndx_cohen_agreement(a, b, 200, 3, 1000, 5, &r2), NDX_OK);
    ck_assert_int_eq(ndx_cohen_agreement(a, b, 200, 3, 1000, 6, &r3), NDX_OK);
    double k;
    ck_assert_int_eq(ndx_cohen_kappa(a, b, 200, 3, &k, NULL), NDX_OK);
    ck_assert(r1.kappa == k && r1.n == 200 && r1.resamples == 1000 && r1.undefined == 0);
    ck_assert(r1.lo == r2.lo && r1.hi == r2.hi);          /* seeded */
    ck_assert(r1.lo != r3.lo || r1.hi != r3.hi);          /* by the seed */
    ck_assert_msg(r1.lo < k && k < r1.hi && r1.hi - r1.lo < 0.3, "[%g, %g] around %g", r1.lo, r1.hi, k);
    /* Fleiss over the diagnoses table: the interval brackets 0.430 */
    int counts[30][5] = {{0}};
    for (int i = 0; i < 30; i++)
        for (int r = 0; r < 6; r++) counts[i][diagnoses[i][r] - 1]++;
    ck_assert_int_eq(ndx_fleiss_agreement(&counts[0][0], 30, 5, 2000, 1, &r1), NDX_OK);
    ck_assert_msg(r1.lo < 0.43 && 0.43 < r1.hi, "[%g, %g]", r1.lo, r1.hi);
    /* no resamples: no interval */
    ck_assert_int_eq(ndx_cohen_agreement(a, b, 200, 3, 0, 5, &r1), NDX_OK);
    ck_assert(isnan(r1.lo) && isnan(r1.hi));
}
END_TEST

/* ---- the report on the hand-made survey --------------------------------- */
static char tmp[256];   /* per test: dissection/, out/, the survey files */

static void make_tmp(void)
{
    strcpy(tmp, "/tmp/ndx_check_report_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void rm_tmp(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* tmp/dissection: the fixture's units.csv and 16x4-pixel strips for units
 * 0..4 (none for unit 5). */
static void make_dissection(void)
{
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/dissection", tmp);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/dissection/units", tmp);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(q, sizeof q, "%s/report/units.csv", data_dir());
    char *csv = tu_slurp(q, NULL);
    ck_assert_msg(csv != NULL, "%s missing", q);
    snprintf(p, sizeof p, "%s/dissection/units.csv", tmp);
    spit(p, csv);
    free(csv);
    uint8_t px[16 * 4 * 3];
    for (int u = 0; u < 5; u++) {
        for (int i = 0; i < 16 * 4 * 3; i++) px[i] = (uint8_t)(40 * u + i);
        snprintf(p, sizeof p, "%s/dissection/units/features.17_%04d.png", tmp, u);
        ck_assert_int_eq(ndx_png_write8(p, px, 16, 4, 3), NDX_OK);
    }
}

static ndx_status report_of(const char *survey, ndx_report_summary *sum)
{
    char d[300], out[300];
    snprintf(d, sizeof d, "%s/dissection", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    const char *dirs[1] = {d};
    ndx_report_opts o;
    ndx_report_defaults(&o);
    o.survey = survey, o.dissections = dirs, o.ndissections = 1, o.out = out;
    o.resamples = 200;
    return ndx_report(&o, sum);
}

static char *out_file(const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/out/%s", tmp, name);
    char *s = tu_slurp(p, NULL);
    ck_assert_msg(s != NULL, "%s missing", p);
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The hand-made survey (tests/data/report/answers.jsonl): 3 readers (one
 * simulated) x 6 units, two repeats by alice, one older revision.  The
 * expected counts and kappas below were worked out by hand from it. */
START_TEST(test_report_known_counts)
{
    make_tmp();
    make_dissection();
    char survey[600];
    snprintf(survey, sizeof survey, "%s/report/answers.jsonl", data_dir());
    ndx_report_summary sum;
    ck_assert_msg(report_of(survey, &sum) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(sum.readers, 3);
    ck_assert_int_eq(sum.simulated, 1);
    ck_assert_int_eq(sum.units, 6);
    ck_assert_int_eq(sum.answers, 18);     /* the older revision is not counted */
    ck_assert_int_eq(sum.repeats, 2);
    ck_assert_int_eq(sum.mapped_phenomena, 8);
    ck_assert_int_eq(sum.unmatched_words, 1);   /* zzzword */
    ck_assert_int_eq(sum.agreement, 1);
    /* Figure-4 rows: u0 finding+margin, u1 finding+suspicious, u2 finding+
     * benign, u4 anatomy+finding, u5 anatomy+composition */
    ck_assert_int_eq(sum.rows, 10);
    char *f4 = out_file("figure4.csv");
    ck_assert_int_eq(count_lines(f4), 11);
    ck_assert_msg(strstr(f4, "mass_margin,Mass margin,yes,Spiculated (3),") != NULL, "%s", f4);
    ck_assert(strstr(f4, "Fine pleomorphic (3)") && strstr(f4, "Vascular (2)"));
    ck_assert(strstr(f4, "strips/tiny_features.17_0000.png") && strstr(f4, ",tiny,features.17,5,1,3,\n"));
    free(f4);
    /* coverage: 5 recognizable (>= 2 of 3 said yes), 1 spurious (unit 3),
     * 1 entangled (unit 4), 1 anatomy (unit 4), finding types on units 0, 1, 4 */
    char *cov = out_file("coverage.csv");
    ck_assert_msg(strstr(cov, "\ntiny,features.17,6,5,1,1,1,0,3,0,1,0,1,1,0,") != NULL, "%s", cov);
    free(cov);
    /* Q1 alice vs bob: p_o 5/6, p_e 21/36, kappa 0.6; Fleiss over Q1 13/40;
     * alice's repeats (yes/yes, no/unsure): 1/3; primary category alice vs
     * bob: p_o 1/2, p_e 1/6, kappa 0.4 */
    char *ag = out_file("agreement.csv");
    ck_assert_msg(strstr(ag, "recognizable,cohen,alice vs bob,6,83.3333,0.6000,") != NULL, "%s", ag);
    ck_assert(strstr(ag, "recognizable,fleiss,all 3 readers (Fleiss),6,66.6667,0.3250,"));
    ck_assert(strstr(ag, "recognizable,self,alice: repeat vs first,2,50.0000,0.3333,"));
    ck_assert(strstr(ag, "category,cohen,alice vs bob,6,50.0000,0.4000,"));
    free(ag);
    /* mass: unit 0 alone (IoU 0.3, the highest): AUC 1; calcification: units
     * 1 and 2 (0.2, 0.05) against 0.01, 0.08, 0, 0.02: 7/8 */
    char *ex = out_file("experts_iou.csv");
    ck_assert_msg(strstr(ex, "\nmass,all,1,5,") && strstr(ex, ",1.0000\ncalcification,all,2,4,"), "%s", ex);
    ck_assert(strstr(ex, ",0.8750\nvessel,"));
    free(ex);
    char *map = out_file("mapping.csv");
    ck_assert_int_eq(count_lines(map), 9);   /* 8 distinct texts */
    ck_assert_msg(strstr(map, "\ndense tissue zzzword,1,breast_composition.unspecified,zzzword\n") &&
                  strstr(map, "\nspiculated mass,1,mass_margin.spiculated finding.mass,\n"), "%s", map);
    free(map);
    char *html = out_file("index.html");
    ck_assert(strstr(html, "SIMULATED READERS") && strstr(html, "<img src=\"strips/tiny_features.17_0001.png\""));
    ck_assert(strstr(html, "587314a1495d4b2e") && strstr(html, sum.hash) && !strstr(html, "http://") &&
              !strstr(html, "https://"));
    free(html);
    char *prov = out_file("provenance.json");
    ck_assert(strstr(prov, "\"netdx-report/1\"") && strstr(prov, sum.hash));
    free(prov);
    const char *png[3] = {"figure4.png", "coverage.png", "strips/tiny_features.17_0004.png"};
    for (int i = 0; i < 3; i++) {
        char p[600];
        int w, h, bits;
        snprintf(p, sizeof p, "%s/out/%s", tmp, png[i]);
        ck_assert_msg(ndx_png_size(p, &w, &h, &bits) == NDX_OK, "%s", ndx_last_error());
        ck_assert(w >= 16 && h >= 4);
    }
    /* a second run replaces the earlier report */
    ck_assert_msg(report_of(survey, &sum) == NDX_OK, "%s", ndx_last_error());
    rm_tmp();
}
END_TEST

/* The fixture into path with `from` replaced by `to` on line `line`
 * (1-based); chop: the file ends there, without its newline. */
static void write_variant(const char *path, int line, const char *from, const char *to, int chop)
{
    char src[600];
    snprintf(src, sizeof src, "%s/report/answers.jsonl", data_dir());
    char *text = tu_slurp(src, NULL), *out = malloc(strlen(text) + 4096);
    ck_assert(text && out);
    out[0] = 0;
    int n = 1;
    for (char *p = text, *nl; *p; p = nl + 1, n++) {
        nl = strchr(p, '\n');
        *nl = 0;
        char buf[8192];
        snprintf(buf, sizeof buf, "%s", p);
        if (n == line && from) {
            char *at = strstr(buf, from);
            ck_assert_msg(at != NULL, "line %d lacks %s", line, from);
            char rest[8192];
            snprintf(rest, sizeof rest, "%s", at + strlen(from));
            snprintf(at, sizeof buf - (size_t)(at - buf), "%s%s", to, rest);
        }
        strcat(out, buf);
        if (!(chop && n == line)) strcat(out, "\n");
        if (chop && n == line) break;
    }
    spit(path, out);
    free(text);
    free(out);
}

START_TEST(test_bad_input)
{
    static const struct {
        int line;
        const char *from, *to;
        int chop;
        const char *says[2];
    } bad[] = {
        {1, "\"unit\": 0", "\"unit\": 99", 0, {"line 1, field \"unit\"", "unit 99 is not in"}},
        {1, "\"finding.mass\"", "\"finding.masss\"", 0, {"line 1, field \"phenomena[0].descriptors[0]\"", "finding.masss"}},
        {3, "587314a1495d4b2e", "0123456789abcdef", 0, {"line 3, field \"dissection\"", "0123456789abcdef"}},
        {2, "netdx-survey-answers/1", "netdx-survey-answers/2", 0, {"line 2, field \"format\"", "/2"}},
        {5, "\"reader_id\": 2", "\"reader_id\": 1", 0, {"line 5, field \"reader\"", "alice"}},
        {4, "\"recognizable\": \"yes\"", "\"recognizable\": \"maybe\"", 0, {"line 4, field \"recognizable\"", "\"unsure\""}},
        {6, ", \"comment\": \"\"", "", 0, {"line 6, field \"comment\"", "missing"}},
        {7, "{", "{not json", 0, {"line 7", "malformed"}},
        {9, "\"seconds_spent\": 30.5, ", "\"seconds_spent\": 30.5, \"recogniz", 1, {"line 9", "without a newline"}},
        {8, "\"confidence\": null", "\"confidence\": 7", 0, {"line 8, field \"phenomena[0].confidence\"", "1..5"}},
        {2, "\"revision\": 1", "\"revision\": 3", 0, {"line 2, field \"revision\"", "above"}},
        {10, "\"unit\": 3", "\"unit\": 2", 0, {"line 10, field \"unit\"", "already"}},
        {11, "\"first_saved\": \"2026-12-07T10:00:00Z\"", "\"first_saved\": \"2026-12-07 10:00\"", 0,
         {"line 11, field \"first_saved\"", "UTC"}},
        {12, "\"seconds_spent\": 30.5", "\"seconds_spent\": -1", 0, {"line 12, field \"seconds_spent\"", ">= 0"}},
    };
    make_tmp();
    make_dissection();
    char survey[600], good[600];
    snprintf(good, sizeof good, "%s/report/answers.jsonl", data_dir());
    ck_assert_msg(report_of(good, NULL) == NDX_OK, "%s", ndx_last_error());
    char *before = out_file("index.html");
    snprintf(survey, sizeof survey, "%s/bad.jsonl", tmp);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_variant(survey, bad[i].line, bad[i].from, bad[i].to, bad[i].chop);
        const ndx_status st = report_of(survey, NULL);
        ck_assert_msg(st == NDX_ERR_FORMAT, "case %zu: status %d (%s)", i, st, ndx_last_error());
        for (int k = 0; k < 2; k++)
            ck_assert_msg(strstr(ndx_last_error(), bad[i].says[k]), "case %zu: \"%s\" lacks \"%s\"", i,
                          ndx_last_error(), bad[i].says[k]);
        char *after = out_file("index.html");
        ck_assert_msg(!strcmp(before, after), "case %zu: the earlier report changed", i);
        free(after);
    }
    free(before);
    /* upper-case hex and fractions of a second are fine */
    write_variant(survey, 1, "587314a1495d4b2e", "587314A1495D4B2E", 0);
    ck_assert_msg(report_of(survey, NULL) == NDX_OK, "%s", ndx_last_error());
    write_variant(survey, 1, "10:05:00Z", "10:05:00.250Z", 0);
    ck_assert_msg(report_of(survey, NULL) == NDX_OK, "%s", ndx_last_error());
    /* nothing left beside out */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -d '%s'/out.* 2>/dev/null | grep -q .", tmp);
    ck_assert_msg(system(cmd) != 0, "a temporary folder was left beside out");
    /* a non-empty folder that is no report is not replaced */
    char p[600];
    snprintf(p, sizeof p, "%s/out/provenance.json", tmp);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(report_of(good, NULL), NDX_ERR_INVALID);
    ck_assert_msg(strstr(ndx_last_error(), "refusing"), "%s", ndx_last_error());
    rm_tmp();
}
END_TEST

/* One reader: the report is written, agreement says it needs two. */
START_TEST(test_one_reader)
{
    make_tmp();
    make_dissection();
    char src[600], survey[600];
    snprintf(src, sizeof src, "%s/report/answers.jsonl", data_dir());
    snprintf(survey, sizeof survey, "%s/alice.jsonl", tmp);
    char *text = tu_slurp(src, NULL), *out = calloc(strlen(text) + 1, 1);
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1)
        if (strstr(p, "\"reader\": \"alice\"") && strstr(p, "\"reader\": \"alice\"") < nl) strncat(out, p, (size_t)(nl - p) + 1);
    spit(survey, out);
    free(text);
    free(out);
    ndx_report_summary sum;
    ck_assert_msg(report_of(survey, &sum) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(sum.readers, 1);
    ck_assert_int_eq(sum.agreement, 0);
    ck_assert_int_eq(sum.simulated, 0);
    char *ag = out_file("agreement.csv"), *html = out_file("index.html");
    ck_assert_msg(strstr(ag, "needs two readers") != NULL, "%s", ag);
    ck_assert(strstr(ag, "recognizable,self,alice") != NULL);   /* repeats still compared */
    ck_assert(strstr(html, "needs two readers") && !strstr(html, "SIMULATED"));
    free(ag);
    free(html);
    rm_tmp();
}
END_TEST

static int run(const char *fmt, ...)
{
    char args[2000], cmd[2400 + sizeof bin];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s > %s/cli.out 2>&1", bin, args, tmp);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_cli)
{
    make_tmp();
    make_dissection();
    char p[600];
    snprintf(p, sizeof p, "%s/cli.out", tmp);
    ck_assert_int_eq(run("report --explain 'fine pleomorphic calcs'"), 0);
    char *o = tu_slurp(p, NULL);
    ck_assert_msg(strstr(o, "calc_susp.fine_pleomorphic") && strstr(o, "\"calcs\""), "%s", o);
    free(o);
    ck_assert_int_eq(run("report --survey x.jsonl"), 2);
    ck_assert_int_eq(run("report --explain x --resamples -1"), 2);
    char survey[600];
    snprintf(survey, sizeof survey, "%s/bad.jsonl", tmp);
    write_variant(survey, 2, "\"unit\": 0", "\"unit\": 77", 0);
    ck_assert_int_eq(run("report --survey %s --dissection %s/dissection --out %s/out", survey, tmp, tmp), 1);
    o = tu_slurp(p, NULL);
    ck_assert_msg(strstr(o, "line 2, field \"unit\""), "%s", o);
    free(o);
    ck_assert_int_eq(access(strcat(strcpy(p, tmp), "/out"), F_OK), -1);
    snprintf(survey, sizeof survey, "%s/report/answers.jsonl", data_dir());
    ck_assert_int_eq(run("report --survey %s --dissection %s/dissection/ --out %s/out/ --seed 3", survey, tmp, tmp), 0);
    snprintf(p, sizeof p, "%s/cli.out", tmp);
    o = tu_slurp(p, NULL);
    ck_assert_msg(strstr(o, "SIMULATED READERS") && strstr(o, "10 Figure-4 rows"), "%s", o);
    free(o);
    snprintf(p, sizeof p, "%s/out/index.html", tmp);   /* "out/" is the folder out */
    ck_assert_int_eq(access(p, R_OK), 0);
    ck_assert_int_eq(run("report --survey %s --dissection %s/dissection --out %s/a/b/out", survey, tmp, tmp), 0);
    snprintf(p, sizeof p, "%s/a/b/out/figure4.png", tmp);   /* parents made */
    ck_assert_int_eq(access(p, R_OK), 0);
    rm_tmp();
}
END_TEST

static void add_report_tests(TCase *tc)
{
    tcase_add_test(tc, test_report_known_counts);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_one_reader);
    tcase_add_test(tc, test_cli);
}

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_map_table);
    tcase_add_test(tc, test_map_details);
    tcase_add_test(tc, test_map_robust);
    tcase_add_test(tc, test_map_ambiguous);
    tcase_add_test(tc, test_cohen_published);
    tcase_add_test(tc, test_fleiss_published);
    tcase_add_test(tc, test_kappa_golden);
    tcase_add_test(tc, test_bootstrap);
    add_report_tests(tc);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
