/* The survey's private API: the SQLite store shared by `netdx survey init`,
 * the readers, simulate, export (src/survey/{store,init,simulate,export}.c)
 * and the HTTP server (src/survey/server.c).  Not installed.
 *
 * One ndx__survey_db is one SQLite connection guarded by a mutex: every
 * function below may be called from any thread (libmicrohttpd's thread
 * pool) and each runs as one transaction.  The database is in WAL mode with
 * synchronous=FULL and a busy timeout, so a save that returned NDX_OK is on
 * disk.  Every function returns an ndx_status and sets ndx_last_error() on
 * failure: NDX_ERR_INVALID for a bad argument or a thing not found (unknown
 * token, unit, reader, image: the message says which), NDX_ERR_FORMAT for an
 * answer that breaks the answer schema (the message names the field),
 * NDX_ERR_IO for SQLite failures (locked, missing, corrupt, newer schema).
 *
 * Times are Unix seconds (UTC).  Strings in the structs are NUL-terminated
 * and truncated to their arrays only where the store itself limits them
 * (names <= 63 bytes, paths <= 511 bytes): nothing is silently cut.
 */
#ifndef NDX_SURVEY_H
#define NDX_SURVEY_H

#include <stddef.h>
#include <stdint.h>

#include "netdx.h"

#define NDX__SURVEY_SCHEMA 1        /* PRAGMA user_version of a survey db */
#define NDX__SURVEY_PATCHES 32      /* top patches kept per unit */
#define NDX__SURVEY_OVERVIEW 8      /* patches shown per unit on the overview */
#define NDX__SURVEY_TOKEN_HEX 64    /* a token / cookie: 32 random bytes as hex */
#define NDX__SURVEY_MAX_ANSWER 65536 /* bytes of an answer's JSON */

typedef struct ndx__survey_db ndx__survey_db;

/* ---- open / close ---------------------------------------------------------
 * create 0: path must exist and be a survey of schema <= NDX__SURVEY_SCHEMA
 * (a missing file, a non-survey file, a newer schema or a database locked by
 * another writer for more than the busy timeout are NDX_ERR_IO with a
 * message naming the path and the reason).  create 1: a new empty survey at
 * path (which must not exist yet).  readonly 1: no writes (export). */
ndx_status ndx__survey_open(ndx__survey_db **out, const char *path, int create,
                            int readonly);
void ndx__survey_close(ndx__survey_db *db);
const char *ndx__survey_path(const ndx__survey_db *db);

/* The survey's settings (fixed at init). */
typedef struct ndx__survey_meta {
    char id[33];            /* random hex, "survey" in the export */
    int hide_ids;           /* hide network/layer/unit ids from readers */
    int hide_labels;        /* hide the +/- patch labels from readers */
    int64_t created;
} ndx__survey_meta;
ndx_status ndx__survey_get_meta(ndx__survey_db *db, ndx__survey_meta *out);

/* ---- readers -------------------------------------------------------------- */
typedef struct ndx__survey_reader {
    int64_t id;             /* >= 1 */
    char name[64];
    char role[16];          /* "radiologist" | "physicist" | "other" */
    int admin, disabled, simulated;
    int64_t created;
} ndx__survey_reader;

/* Adds a reader (name 1..63 printable bytes, unique; role one of the three).
 * token (NDX__SURVEY_TOKEN_HEX + 1 bytes) receives the secret, 32 bytes from
 * /dev/urandom as lowercase hex: only its SHA-256 is stored.  id may be NULL. */
ndx_status ndx__survey_reader_add(ndx__survey_db *db, const char *name,
                                  const char *role, int admin, int simulated,
                                  char *token, int64_t *id);
/* The enabled reader whose token this is; NDX_ERR_INVALID when none. */
ndx_status ndx__survey_reader_by_token(ndx__survey_db *db, const char *token,
                                       ndx__survey_reader *out);
ndx_status ndx__survey_reader_get(ndx__survey_db *db, int64_t id,
                                  ndx__survey_reader *out);
/* All readers by id; *out is malloc'ed (free()), *n entries. */
ndx_status ndx__survey_reader_list(ndx__survey_db *db, ndx__survey_reader **out,
                                   int *n);
/* Disables a reader by name: tokens and sessions stop working at once. */
ndx_status ndx__survey_reader_disable(ndx__survey_db *db, const char *name);

/* ---- sessions ---------------------------------------------------------------
 * A cookie value is 32 random bytes as hex (cookie: NDX__SURVEY_TOKEN_HEX + 1
 * bytes); only its SHA-256 is stored, with an expiry of now + ttl seconds. */
ndx_status ndx__survey_session_new(ndx__survey_db *db, int64_t reader_id,
                                   int64_t ttl, char *cookie);
/* The enabled reader of an unexpired session; NDX_ERR_INVALID otherwise. */
ndx_status ndx__survey_session_reader(ndx__survey_db *db, const char *cookie,
                                      ndx__survey_reader *out);
ndx_status ndx__survey_session_end(ndx__survey_db *db, const char *cookie);

/* ---- unit sets (one per dissected layer) ---------------------------------- */
typedef struct ndx__survey_set {
    int64_t id;             /* >= 1 */
    char network[64];       /* e.g. "tiny", "alexnet"; "unknown" if untold */
    char layer[64];         /* e.g. "features.17" */
    char dissection[512];   /* the dissection folder, as given to init */
    char hash[17];          /* XXH3-64 of its units.csv, 16 hex digits */
    int units;              /* survey units in the set, repeats included */
} ndx__survey_set;
/* All sets by id; *out malloc'ed. */
ndx_status ndx__survey_sets(ndx__survey_db *db, ndx__survey_set **out, int *n);
ndx_status ndx__survey_set_get(ndx__survey_db *db, int64_t id, ndx__survey_set *out);

/* ---- units and patches ---------------------------------------------------- */
typedef struct ndx__survey_patch {
    int rank;               /* 0 = the unit's best patch */
    int64_t patch_id;       /* row of the data dir's patches.csv */
    float score;            /* the unit's max activation on the patch */
    int label;              /* 1 malignant (cancer-positive), 0 not */
    int box[4];             /* x, y, w, h in the source mammogram's pixels */
    int64_t tile;           /* image id: the patch at source resolution, gray PNG */
    int64_t highlight;      /* image id: overlay PNG (gray+alpha) of the tile size */
    int64_t outline;        /* image id: lesion outline overlay (RGBA), 0 = none */
    int64_t mammogram;      /* image id: the whole mammogram, <= 800 px tall */
    int mbox[4];            /* the box in the mammogram PNG's pixels */
    char source[512];       /* the source image path (data dir relative) */
} ndx__survey_patch;

typedef struct ndx__survey_unit {
    int64_t id;             /* survey unit id, >= 1 (used in URLs) */
    int64_t set_id;
    int unit;               /* channel index in the layer */
    int64_t repeat_of;      /* 0, or the survey unit this is a repeat of */
    int position;           /* 0.. in the set's default order: fewest
                               negatives among the first 8 first */
    int positives;          /* positive patches among the 32 */
    double iou;             /* best IoU over the lesion kinds */
    char best_kind[32];     /* lesion kind of that IoU ("mass", ...) */
    int answered;           /* revisions by the reader asked about (0 = none) */
    int npatches;           /* entries filled in patches[] */
    ndx__survey_patch patches[NDX__SURVEY_PATCHES];
} ndx__survey_unit;

/* The units of a set in `position` order with their first `npatches`
 * (0..NDX__SURVEY_PATCHES) patches; answered is filled for reader_id (0: left
 * 0).  *out malloc'ed. */
ndx_status ndx__survey_units(ndx__survey_db *db, int64_t set_id, int npatches,
                             int64_t reader_id, ndx__survey_unit **out, int *n);
/* One unit with all its patches; NDX_ERR_INVALID when the id is not a unit. */
ndx_status ndx__survey_unit_get(ndx__survey_db *db, int64_t unit_id,
                                int64_t reader_id, ndx__survey_unit *out);

/* ---- images ---------------------------------------------------------------- */
/* The PNG bytes of image id (malloc'ed into *png, *n bytes; free()), its
 * size in pixels (w, h may be NULL).  NDX_ERR_INVALID for an unknown id. */
ndx_status ndx__survey_image(ndx__survey_db *db, int64_t id, unsigned char **png,
                             size_t *n, int *w, int *h);

/* ---- answers (append-only) ---------------------------------------------------
 * An answer is one JSON object, every key optional, nothing else allowed:
 *   {"recognizable": "yes"|"no"|"unsure"|null,
 *    "association": "malignant"|"benign"|"both"|"none"|"unsure"|null,
 *    "multiplicity": "single"|"multiple"|null,
 *    "phenomena": [{"descriptors": [lexicon ids], "text": "...",
 *                   "association": as above, "confidence": 1..5|null}, ...],
 *    "comment": "..."}
 * ndx__survey_answer_check validates one (unknown keys, bad values, lexicon
 * ids not in the built-in lexicon, more than 16 phenomena or 16 descriptors
 * each, text over 4000 bytes: NDX_ERR_FORMAT naming the field) and, when
 * canon is not NULL, gives its canonical form (malloc'ed, every key present,
 * the order above).  Text is stored as given, never escaped here. */
ndx_status ndx__survey_answer_check(const char *json, size_t len, char **canon);

/* Saves a new revision of reader_id's answer to unit_id (validated as
 * above; stored canonical), seconds >= 0 spent on the page since the last
 * save.  *revision (may be NULL) gets its number, 1.. per reader and unit.
 * Never overwrites: the latest revision is the current answer. */
ndx_status ndx__survey_answer_save(ndx__survey_db *db, int64_t reader_id,
                                   int64_t unit_id, const char *json, size_t len,
                                   double seconds, int64_t *revision);

typedef struct ndx__survey_answer {
    int64_t reader_id, unit_id;
    int64_t revision;       /* this revision's number; 0 = no answer yet */
    int64_t revisions;      /* revisions saved by the reader for the unit */
    int64_t first_saved, saved;   /* first revision's time, this one's */
    double seconds;         /* this revision's seconds */
    double seconds_total;   /* summed over revisions 1..revision */
    char *json;             /* canonical answer, malloc'ed; NULL when none */
} ndx__survey_answer;
void ndx__survey_answer_free(ndx__survey_answer *a);

/* The current (latest) answer of a reader for a unit; revision 0 and json
 * NULL when the reader has not answered it (still NDX_OK). */
ndx_status ndx__survey_answer_current(ndx__survey_db *db, int64_t reader_id,
                                      int64_t unit_id, ndx__survey_answer *out);

/* Calls fn for every current answer (history 0) or every revision (history
 * 1), ordered by reader, set, unit position, revision; reader_id 0 = all
 * readers.  fn returns 0 to go on, else the walk stops and its value is
 * returned as an NDX_ERR_* (fn sets the message).  The answer passed is
 * valid during the call only. */
typedef int (*ndx__survey_answer_fn)(void *ctx, const ndx__survey_answer *a);
ndx_status ndx__survey_answers(ndx__survey_db *db, int64_t reader_id, int history,
                               ndx__survey_answer_fn fn, void *ctx);

/* ---- progress ---------------------------------------------------------------- */
typedef struct ndx__survey_progress {
    int64_t reader_id;
    int64_t set_id;
    int answered;           /* units of the set with a current answer */
    int total;              /* units in the set */
    int64_t revisions;      /* revisions the reader saved in the set */
    int64_t last_saved;     /* 0 when none */
    int64_t first_unanswered; /* unit id in position order, 0 when all done */
} ndx__survey_progress;
/* One row per set for reader_id (> 0), or per (reader, set) for every
 * reader when reader_id is 0 (the admin's completion table), ordered by
 * reader then set; *out malloc'ed. */
ndx_status ndx__survey_progress_get(ndx__survey_db *db, int64_t reader_id,
                                    ndx__survey_progress **out, int *n);

/* ---- building a survey (init) ---------------------------------------------- */
ndx_status ndx__survey_set_meta(ndx__survey_db *db, const ndx__survey_meta *m);
/* Stores a PNG blob; *id gets its id. */
ndx_status ndx__survey_image_add(ndx__survey_db *db, const char *kind,
                                 const unsigned char *png, size_t n, int w, int h,
                                 int64_t *id);
ndx_status ndx__survey_set_add(ndx__survey_db *db, ndx__survey_set *s);  /* sets s->id */
/* Adds u (u->set_id, unit, repeat_of, position, positives, iou, best_kind,
 * npatches patches) and sets u->id. */
ndx_status ndx__survey_unit_add(ndx__survey_db *db, ndx__survey_unit *u);
/* Groups the calls between begin and commit in one transaction (init). */
ndx_status ndx__survey_begin(ndx__survey_db *db);
ndx_status ndx__survey_commit(ndx__survey_db *db);
void ndx__survey_rollback(ndx__survey_db *db);

/* The images of one data dir's patches (src/survey/images.c): each source
 * mammogram and each patch's tile and lesion outline are made once and
 * stored; highlights per unit and patch.  Calls come from the thread that
 * holds the build's transaction; the work inside runs on ndx_get_threads(). */
typedef struct ndx__survey_imgs ndx__survey_imgs;
ndx_status ndx__survey_imgs_new(ndx__survey_imgs **out, ndx__survey_db *db,
                                const ndx_patch_index *ix);
void ndx__survey_imgs_free(ndx__survey_imgs *im);
void ndx__survey_imgs_stats(const ndx__survey_imgs *im, long *images, int64_t *bytes);
/* Makes and stores the tiles, outlines and mammograms of patches ids[0..n)
 * not made yet (duplicates allowed), one decode per source image, images
 * in parallel.  An id outside the index is NDX_ERR_FORMAT. */
ndx_status ndx__survey_imgs_prepare(ndx__survey_imgs *im, const int64_t *ids, int n);
/* Fills p's patch_id, box, tile, outline, mammogram, mbox and source for
 * patch id of the index (prepared first if need be); *size gets the
 * tile's side S (192..320). */
ndx_status ndx__survey_imgs_patch(ndx__survey_imgs *im, int64_t id, ndx__survey_patch *p,
                                  int *size);
/* The highlight overlays of n patches of one unit: maps[i] (h x w) over a
 * sizes[i] x sizes[i] tile, normalised by top1; ids[i] get their ids. */
ndx_status ndx__survey_imgs_highlights(ndx__survey_imgs *im, int n, const float *const *maps,
                                       int h, int w, int align_corners, float top1,
                                       const int *sizes, int64_t *ids);

/* ---- helpers ------------------------------------------------------------------ */
/* SHA-256 (FIPS 180-4) of len bytes. */
void ndx__sha256(const void *data, size_t len, uint8_t out[32]);
/* nbytes from /dev/urandom as lowercase hex into hex (2 * nbytes + 1). */
ndx_status ndx__random_hex(char *hex, int nbytes);
/* "2026-12-07T13:45:00Z" into buf (>= 21 bytes). */
void ndx__iso_time(int64_t t, char *buf);

#endif
