/* Private to the survey store (store.c, query.c): the connection and the
 * SQLite helpers both use. */
#ifndef NDX_SURVEY_STORE_INT_H
#define NDX_SURVEY_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "survey.h"
#include "../core/core.h"

/* A save waiting in the group-commit queue (query.c). */
typedef struct ndx__save_req {
    int64_t reader_id, unit_id;
    char *json;             /* canonical */
    double seconds;
    int64_t revision;       /* set by the commit */
    ndx_status status;
    char msg[300];          /* the failure's message (made on the committing thread) */
    int done;
    struct ndx__save_req *next;
} ndx__save_req;

/* One connection; mu (recursive) makes each call one critical section, so
 * a multi-statement transaction never interleaves with another thread's. */
struct ndx__survey_db {
    sqlite3 *db;
    pthread_mutex_t mu;
    char path[1024];
    int readonly;
    int created;            /* open created the file (removed on failure) */
    /* group commit of answer saves: qmu guards the queue and committing */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    ndx__save_req *qhead, *qtail;
    int committing;
};

/* NDX_ERR_IO naming the db file, what failed and SQLite's message. */
ndx_status ndx__sq_fail(ndx__survey_db *db, const char *what);
ndx_status ndx__sq_prepare(ndx__survey_db *db, sqlite3_stmt **st, const char *sql);
ndx_status ndx__sq_exec(ndx__survey_db *db, const char *sql);
/* Text column i copied into dst (n bytes), "" for NULL. */
void ndx__sq_text(sqlite3_stmt *st, int i, char *dst, size_t n);
/* Rolls back an open transaction (after a failure). */
void ndx__sq_rollback(ndx__survey_db *db);
int64_t ndx__now(void);

#endif
