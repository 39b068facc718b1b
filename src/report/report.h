/* Private to src/report: the survey as read (survey.c), what the report
 * computes from it (analysis.c) and the writers (tables.c, html.c,
 * figure.c, report.c). */
#ifndef NDX_REPORT_INTERNAL_H
#define NDX_REPORT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "../core/core.h"
#include "../io/io.h"
#include "netdx_lexicon.h"
#include "netdx_report.h"

enum { RP_YES, RP_NO, RP_UNSURE, RP_Q1_N };                     /* Q1 */
enum { RP_MALIGNANT, RP_BENIGN, RP_BOTH, RP_NONE, RP_AS_UNSURE, RP_AS_N };  /* Q2 */
enum { RP_SINGLE, RP_MULTIPLE, RP_Q3_N };                        /* Q3 */
extern const char *const ndx__rp_q1_names[RP_Q1_N], *const ndx__rp_as_names[RP_AS_N],
    *const ndx__rp_q3_names[RP_Q3_N];

#define RP_MAX_KINDS 8
#define RP_NAME 64

typedef struct rp_phen {
    int nterms;
    int *terms;                  /* lexicon term indices */
    char *text;
    int from_text;               /* terms mapped from text (no picks given) */
    char *unmatched;             /* then: its unmatched words, space-separated */
    int association, confidence; /* -1 when null */
} rp_phen;

typedef struct rp_answer {
    long line;
    int reader, unit, repeat;
    int q1, q2, q3;              /* -1 when null */
    double seconds;
    int nphen;
    rp_phen *phen;
} rp_answer;

typedef struct rp_reader {
    char name[RP_NAME], role[16];
    long id, line;               /* reader_id, first line */
    int simulated;
} rp_reader;

typedef struct rp_drow {
    char layer[RP_NAME];
    int unit;
    double iou[RP_MAX_KINDS];    /* NaN when empty */
} rp_drow;

typedef struct rp_dissection {
    const char *dir;
    char hex[17];                /* XXH3-64 of units.csv */
    char network[RP_NAME];       /* from the survey; "" while unused */
    long network_line;
    int nkinds;
    char kind[RP_MAX_KINDS][32];
    int nrows;
    rp_drow *rows;
} rp_dissection;

typedef struct rp_unit {
    int dissection, row;         /* its row in that units.csv */
} rp_unit;

typedef struct rp_survey {
    const char *path;
    char hex[17], id[RP_NAME];
    const ndx_lexicon *lex;
    const ndx_textmap *tm;
    int nreaders, nunits, ndiss;
    long nanswers;
    rp_reader *readers;
    rp_unit *units;
    rp_answer *answers;
    rp_dissection *diss;
    int mapped, unmatched;       /* phenomena mapped from text, words left */
} rp_survey;

/* map.c: a function word the mapping ignores ("of", "with", ...). */
int ndx__rp_is_stop_word(const char *w);

/* survey.c: the dissection folders, then the answers file. */
ndx_status ndx__rp_read_dissections(rp_survey *s, const char *const *dirs, int n);
ndx_status ndx__rp_read_answers(rp_survey *s, const char *path);
void ndx__rp_survey_free(rp_survey *s);
const rp_drow *ndx__rp_unit_row(const rp_survey *s, int u);
const char *ndx__rp_unit_network(const rp_survey *s, int u);

/* analysis.c ------------------------------------------------------------- */
#define RP_MAX_CATS 62               /* lexicon categories (+ anatomy, none) */
typedef struct rp_cat {
    const char *id, *name;
    int birads;
} rp_cat;

/* One agreement row: a question, and a pair of readers (a, b), all readers
 * (a = -1, Fleiss) or one reader's repeats (b = -2, self-consistency). */
typedef struct rp_agree {
    int question;                /* 0 Q1, 1 association, 2 category */
    int a, b;
    ndx_agreement r;
    int defined;                 /* 0: too few units (r unset) */
} rp_agree;

typedef struct rp_kind_iou {
    const char *kind;            /* the dissection's mask kind */
    const char *network;         /* "all" or one network */
    int n_pos, n_neg;
    double pos_q[5], neg_q[5];   /* min, q1, median, q3, max (NaN if none) */
    double auc;                  /* NaN unless both groups have units */
} rp_kind_iou;

typedef struct rp_analysis {
    int ncat;                    /* lexicon categories, then "non-BI-RADS", "none" */
    rp_cat cat[RP_MAX_CATS + 2];
    int *term_cat;               /* per lexicon term: its category */
    uint64_t *answer_cats;       /* per answer: categories used */
    int *answer_primary;         /* per answer: the category of its first term */
    /* per unit, non-repeat answers: */
    int *readers, *yes, *no, *multiple, *anatomy, *malignant;
    int *cat_count;              /* nunits x ncat */
    int nagree;
    rp_agree *agree;
    int nkind;
    rp_kind_iou *kinds;
    int anat_cat, none_cat;
} rp_analysis;

ndx_status ndx__rp_analyse(const rp_survey *s, const ndx_report_opts *o, rp_analysis *a);
void ndx__rp_analysis_free(rp_analysis *a);
/* More than half of the unit's readers. */
int ndx__rp_majority(int count, int readers);
extern const char *const ndx__rp_question_names[3];

/* Most common words of a unit's texts for category c (c < 0: all texts):
 * up to n words into buf, "word (count), ...". */
void ndx__rp_common_words(const rp_survey *s, const rp_analysis *a, int unit, int c, int n,
                     char *buf, size_t len);
/* The unit's terms in category c with their reader counts: "Spiculated (3),
 * Irregular (1)". */
void ndx__rp_unit_terms(const rp_survey *s, const rp_analysis *a, int unit, int c, char *buf,
                   size_t len);

/* Figure-4 rows (category, unit), most readers agreeing first. */
typedef struct rp_row {
    int cat, unit, agreeing;
} rp_row;
ndx_status ndx__rp_figure_rows(const rp_survey *s, const rp_analysis *a, rp_row **rows, int *n);

/* The distinct texts mapped to the lexicon (phenomena without picks), most
 * frequent first: the phenomenon of the first answer giving each, and how
 * many phenomena gave it. */
typedef struct rp_mapped {
    const rp_phen *ph;
    int count;
} rp_mapped;
ndx_status ndx__rp_mapped_texts(const rp_survey *s, rp_mapped **out, int *n);
/* A phenomenon's descriptors as "id id ..." into buf. */
void ndx__rp_phen_ids(const rp_survey *s, const rp_phen *ph, char *buf, size_t len);

/* The provenance line every output carries. */
void ndx__rp_provenance(const rp_survey *s, char *buf, size_t len);
int ndx__rp_any_simulated(const rp_survey *s);

/* tables.c, html.c, figure.c: the files of the report, into dir (the
 * temporary folder); strips[u]: unit u's strip relative to dir, or NULL. */
void ndx__rp_agree_who(const rp_survey *s, const rp_agree *g, char *buf, size_t n);
ndx_status ndx__rp_write_tables(const char *dir, const rp_survey *s, const rp_analysis *a,
                           const rp_row *rows, int nrows, const char *const *strips);
ndx_status ndx__rp_write_html(const char *dir, const rp_survey *s, const rp_analysis *a,
                         const rp_row *rows, int nrows, const char *const *strips);
ndx_status ndx__rp_write_figure4(const char *dir, const rp_survey *s, const rp_analysis *a,
                            const rp_row *rows, int nrows, const char *const *strips,
                            int per_cat);
ndx_status ndx__rp_write_coverage_png(const char *dir, const rp_survey *s, const rp_analysis *a);

/* Coverage counts per (network, layer) group g: units, recognizable,
 * spurious, entangled, anatomy, and per category (majority of readers). */
typedef struct rp_cov {
    char network[RP_NAME], layer[RP_NAME];
    int units, recognizable, spurious, entangled, anatomy;
    int cat[RP_MAX_CATS + 2];
} rp_cov;
ndx_status ndx__rp_coverage(const rp_survey *s, const rp_analysis *a, rp_cov **out, int *n);

/* A file opened under dir for writing ("w"); NULL with a message. */
FILE *ndx__rp_open(ndx__out *o, const char *dir, const char *name);
ndx_status ndx__rp_close(ndx__out *o);
void ndx__rp_html_put(FILE *f, const char *s);

#endif
