/* netdx survey: the expert readers' web survey over a dissection.
 *
 * USAGE
 *
 *     #include <netdx_survey.h>
 *
 *     ndx_survey_init_opts o;
 *     ndx_survey_init_defaults(&o);
 *     const char *dirs[] = {"dissection"};
 *     o.db = "survey.sqlite"; o.dissections = dirs; o.ndissections = 1;
 *     if (ndx_survey_init(&o, NULL) != NDX_OK)
 *         fprintf(stderr, "netdx: %s\n", ndx_last_error());
 *
 * The store is one SQLite file (WAL, synchronous=FULL, append-only answer
 * revisions).  What other programs read is the export (answers.jsonl or
 * answers.csv, fields in docs/survey.md), never the schema.
 */
#ifndef NETDX_SURVEY_H
#define NETDX_SURVEY_H

#include <stdint.h>

#include "netdx.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)   /* exported: see netdx.h */
#endif

/* ---- building a survey ---------------------------------------------------- */
typedef struct ndx_survey_init_opts {
    const char *db;                   /* the survey file to create (must not exist) */
    const char *const *dissections;   /* dissection folders (netdx dissect --out) */
    int ndissections;                 /* 1..64 */
    const char *data_dir;             /* the patches' data dir; NULL: each
                                         dissection's units.json "data_dir" */
    const char *network;              /* NULL: units.json "network", else the
                                         model's arch, else "unknown" */
    const char *model;                /* the dissected model (for its arch);
                                         NULL: units.json "model" */
    int units;                        /* per layer, 1..4096; 0 = 45 */
    double cancer_share;              /* [0, 1]; < 0 = 0.6 */
    uint64_t seed;
    int hide_ids, hide_labels;
    int repeats;                      /* units shown twice per layer, 0..64 */
    /* per unit set: (0, total) when it starts, then after each unit is
       stored (done = 1..total); or NULL */
    void (*progress)(void *ctx, long done, long total);
    void *progress_ctx;
} ndx_survey_init_opts;
void ndx_survey_init_defaults(ndx_survey_init_opts *o);

typedef struct ndx_survey_init_stats {
    int sets, units, repeats, cancer_units;
    long images;
    int64_t image_bytes;
} ndx_survey_init_stats;
/* Builds the survey into a temporary file beside o->db and renames it into
 * place: a failure leaves nothing behind.  st may be NULL. */
ndx_status ndx_survey_init(const ndx_survey_init_opts *o, ndx_survey_init_stats *st);

/* ---- readers ---------------------------------------------------------------- */
#define NDX_SURVEY_TOKEN_LEN 64      /* hex characters of a reader's token */
/* role: "radiologist", "physicist" or "other".  token (NDX_SURVEY_TOKEN_LEN
 * + 1 bytes) gets the secret (only its hash is stored); id may be NULL. */
ndx_status ndx_survey_reader_add(const char *db, const char *name, const char *role,
                                 int admin, char *token, int64_t *id);
ndx_status ndx_survey_reader_disable(const char *db, const char *name);
typedef struct ndx_survey_reader_info {
    int64_t id;
    char name[64], role[16];
    int admin, disabled, simulated;
    int answered, total;              /* units with a current answer / in the survey */
} ndx_survey_reader_info;
/* *out malloc'ed (free()), *n entries, by id. */
ndx_status ndx_survey_reader_list(const char *db, ndx_survey_reader_info **out, int *n);

/* ---- simulated readers and export -------------------------------------------- */
/* Adds `readers` simulated readers (1..100) named sim-1, sim-2, ... (after any
 * existing ones) and has each answer every unit from the dissection's ground
 * truth with seeded disagreement, through the server's own save path. */
ndx_status ndx_survey_simulate(const char *db, int readers, uint64_t seed);

/* Writes the answers as `out` ends: .jsonl or .csv (docs/survey.md), every
 * current answer, or every revision with history 1; to a temporary file
 * renamed into place.  *records (may be NULL) gets the lines written. */
ndx_status ndx_survey_export(const char *db, const char *out, int history,
                             long *records);

/* ---- the web server (src/survey/server.c) ------------------------------------ */
/* Serves the survey to its readers (pages, images, the answer API) from
 * threads of its own until ndx_survey_server_stop.  The database must exist
 * (ndx_survey_init): a missing, locked or newer-schema file is an error
 * here, naming the path and the reason, as is an address that cannot be
 * listened on. */
typedef struct ndx_survey_server_opts {
    const char *db;           /* the survey file */
    const char *bind;         /* IPv4 or IPv6 literal; default "127.0.0.1" */
    int port;                 /* 0..65535, 0 = any free port; default 8080 */
    int shuffle;              /* per-reader random unit order (else fewest
                                 negative patches first) */
    int timeout;              /* seconds a connection may idle, 1..3600; 15 */
} ndx_survey_server_opts;
void ndx_survey_server_defaults(ndx_survey_server_opts *o);

typedef struct ndx_survey_server ndx_survey_server;
ndx_status ndx_survey_server_start(const ndx_survey_server_opts *o,
                                   ndx_survey_server **out);
/* The port listened on (the one chosen when opts.port was 0). */
int ndx_survey_server_port(const ndx_survey_server *s);
/* Stops serving (open connections are closed) and frees s; NULL is fine. */
void ndx_survey_server_stop(ndx_survey_server *s);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
