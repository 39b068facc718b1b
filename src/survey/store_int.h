/* Private to the survey store (store.c, query.c): the connection and the
 * SQLite helpers both use. */
#ifndef NDX_SURVEY_STORE_INT_H
#define NDX_SURVEY_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "survey.h"
#include "../core/core.h"

/* One connection; mu (recursive) makes each call one critical section, so
 * a multi-statement transaction never interleaves with another thread's. */
struct ndx__survey_db {
    sqlite3 *db;
    pthread_mutex_t mu;
    char path[1024];
    int readonly;
    int created;            /* open created the file (removed on failure) */
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
