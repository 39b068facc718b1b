/* netdx — the BI-RADS comparison: expert labels mapped to the lexicon, the
 * study's Figure 4, reader agreement (netdx report).
 *
 * USAGE
 *
 *     ndx_lexicon *lex;  ndx_textmap *tm;  ndx_map_result r;
 *     ndx_lexicon_load(NULL, &lex);
 *     ndx_textmap_new(lex, &tm);
 *     ndx_map_text(tm, "fine pleomorphic calcs", &r);
 *     // r.terms: calc_susp.fine_pleomorphic, finding.calcifications
 *     ndx_map_result_free(&r);
 *
 *     const char *dirs[] = {"demo/dissection"};
 *     ndx_report_opts o;
 *     ndx_report_defaults(&o);
 *     o.survey = "answers.jsonl", o.dissections = dirs, o.ndissections = 1;
 *     o.out = "report";
 *     ndx_report(&o, NULL);        // report/index.html, figure4.csv, ...
 *
 * The survey file follows the export contract of `netdx survey export`
 * (docs/report.md): one JSON object per line, format
 * "netdx-survey-answers/1".
 */
#ifndef NETDX_REPORT_H
#define NETDX_REPORT_H

#include "netdx.h"
#include "netdx_lexicon.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)   /* exported: see netdx.h */
#endif

/* ---- free text to lexicon descriptors ------------------------------------ */
/* The lexicon's synonyms indexed for matching.  Refuses (NDX_ERR_FORMAT) a
 * lexicon where two terms share a normalised synonym: the mapping would be
 * ambiguous. */
typedef struct ndx_textmap ndx_textmap;
ndx_status ndx_textmap_new(const ndx_lexicon *lex, ndx_textmap **out);
void ndx_textmap_free(ndx_textmap *m);

/* What became of each word of the normalised text. */
enum { NDX_WORD_UNMATCHED = -1, NDX_WORD_IGNORED = -2 };
typedef struct ndx_map_match {
    const ndx_lexicon_term *term;
    const char *synonym;         /* the synonym matched, normalised */
    int first, count;            /* the words it covers */
    int implied_by;              /* -1, or the match whose synonym contains
                                    this finding ("mass" in "spiculated mass") */
} ndx_map_match;
typedef struct ndx_map_result {
    int nwords;
    char **words;                /* the normalised words */
    int *word_match;             /* per word: its match, or NDX_WORD_* */
    int nmatches;
    ndx_map_match *matches;      /* in text order, implied findings after
                                    the match that implies them */
    int nterms;
    const ndx_lexicon_term **terms;  /* distinct terms, in match order */
    int nunmatched;              /* words NDX_WORD_UNMATCHED */
} ndx_map_result;
/* Maps text to descriptors.  The text is split into segments at CBIS-style
 * codes joined by '-' (an upper-case token such as
 * IRREGULAR-ARCHITECTURAL_DISTORTION) and normalised
 * (ndx_lexicon_normalise); within a segment the words are matched greedily
 * from the left, the synonym with the most words first (a word also matches
 * a synonym's word followed by "s" or "es": "margins").  A BI-RADS term
 * outside the finding types whose synonym contains a synonym of one of the
 * four principal findings (mass, calcifications, architectural distortion,
 * asymmetry) implies that finding too: "spiculated mass" gives
 * mass_margin.spiculated and finding.mass.  A few function words ("of",
 * "with", ...) are ignored; every other word that no synonym covers is
 * reported unmatched, never guessed.  r is the caller's; free it with
 * ndx_map_result_free (also after a failure). */
ndx_status ndx_map_text(const ndx_textmap *m, const char *text, ndx_map_result *r);
void ndx_map_result_free(ndx_map_result *r);

/* ---- agreement between readers ------------------------------------------- */
#define NDX_KAPPA_MAX_CATEGORIES 64
/* Cohen's kappa of two readers' labels a, b (n units, labels 0..ncat-1) and
 * their proportion of agreement; kappa is NaN when undefined (both readers
 * used one and the same category).  Either output may be NULL. */
ndx_status ndx_cohen_kappa(const int *a, const int *b, size_t n, int ncat, double *kappa,
                           double *agreement);
/* Fleiss' kappa of counts (n units x ncat categories: readers giving unit i
 * category k; every row sums to the same m >= 2) and the mean pairwise
 * agreement P; kappa NaN when undefined. */
ndx_status ndx_fleiss_kappa(const int *counts, size_t n, int ncat, double *kappa,
                            double *agreement);
/* The statistic with a 95% interval from `resamples` bootstrap draws of the
 * units (seeded: the same seed gives the same interval). */
typedef struct ndx_agreement {
    size_t n;                    /* units */
    double agreement, kappa;     /* kappa NaN when undefined */
    double lo, hi;               /* 2.5% and 97.5% quantiles of the draws
                                    with a defined kappa; NaN if none */
    int resamples, undefined;    /* draws, and those with kappa undefined */
} ndx_agreement;
ndx_status ndx_cohen_agreement(const int *a, const int *b, size_t n, int ncat, int resamples,
                               uint64_t seed, ndx_agreement *out);
ndx_status ndx_fleiss_agreement(const int *counts, size_t n, int ncat, int resamples,
                                uint64_t seed, ndx_agreement *out);

/* ---- the report ----------------------------------------------------------- */
typedef struct ndx_report_opts {
    const char *survey;          /* answers.jsonl */
    const char *const *dissections;  /* the dissection folders the survey used */
    int ndissections;            /* 1..16 */
    const char *out;             /* the report folder */
    const char *lexicon;         /* NULL: the built-in lexicon */
    uint64_t seed;               /* bootstrap seed; default 1 */
    int resamples;               /* bootstrap draws; default 2000 */
    int figure_rows;             /* figure4.png: units per category; default 4 */
} ndx_report_opts;
void ndx_report_defaults(ndx_report_opts *o);

typedef struct ndx_report_summary {
    int readers, simulated;      /* readers, and how many are simulated */
    long answers, repeats;       /* current answers, repeated-unit answers */
    int units;                   /* survey units */
    int rows;                    /* Figure-4 rows (category, unit) */
    int mapped_phenomena;        /* phenomena whose descriptors came from text */
    int unmatched_words;         /* words of those texts left unmatched */
    char hash[17];               /* XXH3-64 of the survey file, hex */
    int agreement;               /* 0: fewer than two readers, not computed */
} ndx_report_summary;
/* Reads the survey file and the dissection folders, checks every line and
 * field (a unit missing from its dissection, an unknown lexicon id, a
 * malformed or truncated line, a "dissection" hash that is none of the given
 * folders' units.csv: NDX_ERR_FORMAT naming the file, line and field), then
 * builds the report in a temporary folder beside o->out and renames it into
 * place: index.html (self-contained but for strips/), figure4.csv,
 * figure4.png, coverage.csv, coverage.png, agreement.csv, experts_iou.csv,
 * mapping.csv (each free text mapped, its descriptors and unmatched words),
 * provenance.json and strips/ (the units' image strips).  An existing
 * o->out is replaced only when it is an earlier report (holds a netdx
 * provenance.json) or empty; nothing is written on failure.  s may be NULL. */
ndx_status ndx_report(const ndx_report_opts *o, ndx_report_summary *s);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
