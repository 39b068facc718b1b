/* The survey's SQLite store: opening (schema, locks), the survey's settings,
 * readers and sessions, and the calls `netdx survey init` builds with.
 * Units, answers and progress are read and written in query.c.
 *
 * Schema 1 (PRAGMA user_version 1, application_id 'NDXS'):
 *   meta(key, value)            id, hide_ids, hide_labels, created
 *   readers(id, name, role, admin, disabled, simulated, token_hash, created)
 *   sessions(hash, reader_id, created, expires)
 *   sets(id, network, layer, dissection, hash)
 *   units(id, set_id, unit, repeat_of, position, positives, iou, best_kind)
 *   patches(unit_id, rank, patch_id, score, label, x, y, w, h, tile,
 *           highlight, outline, mammogram, mx, my, mw, mh, source)
 *   images(id, kind, width, height, png)
 *   answers(id, reader_id, unit_id, revision, saved, seconds, json):
 *           append-only (triggers refuse UPDATE and DELETE)
 * Tokens and cookies are stored as the hex SHA-256 of their hex text. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

#define APP_ID 0x4e445853    /* "NDXS" */
#define BUSY_MS 5000
#define OPEN_BUSY_MS 2000    /* the lock check at open */

static const char *const SCHEMA =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE readers(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL CHECK(role IN ('radiologist','physicist','other')),"
    " admin INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, simulated INTEGER NOT NULL,"
    " token_hash TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
    "CREATE TABLE sessions(hash TEXT PRIMARY KEY, reader_id INTEGER NOT NULL REFERENCES readers(id),"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL);"
    "CREATE TABLE sets(id INTEGER PRIMARY KEY, network TEXT NOT NULL, layer TEXT NOT NULL,"
    " dissection TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TABLE units(id INTEGER PRIMARY KEY, set_id INTEGER NOT NULL REFERENCES sets(id),"
    " unit INTEGER NOT NULL, repeat_of INTEGER NOT NULL, position INTEGER NOT NULL,"
    " positives INTEGER NOT NULL, iou REAL NOT NULL, best_kind TEXT NOT NULL);"
    "CREATE INDEX units_set ON units(set_id, position);"
    "CREATE TABLE images(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, width INTEGER NOT NULL,"
    " height INTEGER NOT NULL, png BLOB NOT NULL);"
    "CREATE TABLE patches(unit_id INTEGER NOT NULL REFERENCES units(id), rank INTEGER NOT NULL,"
    " patch_id INTEGER NOT NULL, score REAL NOT NULL, label INTEGER NOT NULL,"
    " x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,"
    " tile INTEGER NOT NULL, highlight INTEGER NOT NULL, outline INTEGER NOT NULL,"
    " mammogram INTEGER NOT NULL, mx INTEGER NOT NULL, my INTEGER NOT NULL, mw INTEGER NOT NULL,"
    " mh INTEGER NOT NULL, source TEXT NOT NULL, PRIMARY KEY(unit_id, rank)) WITHOUT ROWID;"
    "CREATE TABLE answers(id INTEGER PRIMARY KEY, reader_id INTEGER NOT NULL REFERENCES readers(id),"
    " unit_id INTEGER NOT NULL REFERENCES units(id), revision INTEGER NOT NULL,"
    " saved INTEGER NOT NULL, seconds REAL NOT NULL, json TEXT NOT NULL,"
    " UNIQUE(reader_id, unit_id, revision));"
    "CREATE TRIGGER answers_no_update BEFORE UPDATE ON answers"
    " BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END;"
    "CREATE TRIGGER answers_no_delete BEFORE DELETE ON answers"
    " BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END;";

/* ---- helpers shared with query.c ------------------------------------------ */
ndx_status ndx__sq_fail(ndx__survey_db *db, const char *what)
{
    const int code = sqlite3_errcode(db->db);
    const char *why = code == SQLITE_BUSY || code == SQLITE_LOCKED
                          ? "the database is locked by another process (a running `netdx survey "
                            "serve`, or an unfinished write)"
                          : sqlite3_errmsg(db->db);
    return ndx__fail(NDX_ERR_IO, "%s: %s: %s", db->path, what, why);
}

ndx_status ndx__sq_prepare(ndx__survey_db *db, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v2(db->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return ndx__sq_fail(db, "preparing a query");
    }
    return NDX_OK;
}

ndx_status ndx__sq_exec(ndx__survey_db *db, const char *sql)
{
    if (sqlite3_exec(db->db, sql, NULL, NULL, NULL) != SQLITE_OK) return ndx__sq_fail(db, sql);
    return NDX_OK;
}

void ndx__sq_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", s ? (const char *)s : "");
}

void ndx__sq_rollback(ndx__survey_db *db)
{
    if (!sqlite3_get_autocommit(db->db)) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

int64_t ndx__now(void) { return (int64_t)time(NULL); }

/* ---- open / close --------------------------------------------------------- */
static ndx_status pragma_int(ndx__survey_db *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, sql);
    if (s) return s;
    const int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? NDX_OK : ndx__sq_fail(db, "reading the schema version");
}

/* An existing file: a survey of a schema this code reads, not locked. */
static ndx_status check_existing(ndx__survey_db *db)
{
    int64_t app, ver;
    ndx_status s = pragma_int(db, "PRAGMA application_id", &app);
    if (s) return s;
    if ((s = pragma_int(db, "PRAGMA user_version", &ver))) return s;
    if (app != APP_ID)
        return ndx__fail(NDX_ERR_FORMAT, "%s: not a netdx survey (make one with `netdx survey init`)",
                         db->path);
    if (ver > NDX__SURVEY_SCHEMA)
        return ndx__fail(NDX_ERR_FORMAT,
                         "%s: survey schema version %lld is newer than this netdx reads (%d): "
                         "use the netdx that made it",
                         db->path, (long long)ver, NDX__SURVEY_SCHEMA);
    if (ver < 1) return ndx__fail(NDX_ERR_FORMAT, "%s: survey schema version %lld unknown", db->path, (long long)ver);
    if (db->readonly) return NDX_OK;
    sqlite3_busy_timeout(db->db, OPEN_BUSY_MS);
    if (sqlite3_exec(db->db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return ndx__sq_fail(db, "opening for writing");
    return NDX_OK;
}

static ndx_status create_schema(ndx__survey_db *db)
{
    char id[33], sql[160];
    ndx_status s = ndx__random_hex(id, 16);
    if (s) return s;
    if ((s = ndx__sq_exec(db, "BEGIN IMMEDIATE"))) return s;
    if ((s = ndx__sq_exec(db, SCHEMA))) goto fail;
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d", APP_ID,
             NDX__SURVEY_SCHEMA);
    if ((s = ndx__sq_exec(db, sql))) goto fail;
    snprintf(sql, sizeof sql,
             "INSERT INTO meta VALUES('id','%s'),('hide_ids','0'),('hide_labels','0'),"
             "('created','%lld')",
             id, (long long)ndx__now());
    if ((s = ndx__sq_exec(db, sql))) goto fail;
    return ndx__sq_exec(db, "COMMIT");
fail:
    ndx__sq_rollback(db);
    return s;
}

static ndx_status open_file(ndx__survey_db *db, int create)
{
    struct stat sb;
    if (create) {
        const int fd = open(db->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            return ndx__fail(NDX_ERR_IO, "%s: cannot create: %s", db->path,
                             errno == EEXIST ? "it exists already (a survey is never overwritten)"
                                             : strerror(errno));
        close(fd);
        db->created = 1;
    } else if (stat(db->path, &sb) != 0) {
        return ndx__fail(NDX_ERR_IO, "%s: %s (make a survey with `netdx survey init`)", db->path,
                         strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        return ndx__fail(NDX_ERR_IO, "%s: not a regular file", db->path);
    }
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(db->path, &db->db, flags, NULL) != SQLITE_OK) {
        if (!db->db) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory opening", db->path);
        return ndx__sq_fail(db, "cannot open");
    }
    sqlite3_extended_result_codes(db->db, 0);
    ndx_status s = create ? NDX_OK : check_existing(db);
    if (s) return s;
    sqlite3_busy_timeout(db->db, BUSY_MS);
    if (!db->readonly || create) {
        if ((s = ndx__sq_exec(db, "PRAGMA journal_mode=WAL"))) return s;
    }
    if ((s = ndx__sq_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"))) return s;
    if (create && (s = create_schema(db))) return s;
    if (db->readonly) return ndx__sq_exec(db, "PRAGMA query_only=1");
    return NDX_OK;
}

ndx_status ndx__survey_open(ndx__survey_db **out, const char *path, int create, int readonly)
{
    *out = NULL;
    if (!path || !*path) return ndx__fail(NDX_ERR_INVALID, "survey: no database path given");
    ndx__survey_db *db = calloc(1, sizeof *db);
    if (!db) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    if ((size_t)snprintf(db->path, sizeof db->path, "%s", path) >= sizeof db->path) {
        free(db);
        return ndx__fail(NDX_ERR_INVALID, "%s: path too long", path);
    }
    db->readonly = readonly && !create;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&db->mu, &a);
    pthread_mutexattr_destroy(&a);
    pthread_mutex_init(&db->qmu, NULL);
    pthread_cond_init(&db->qcv, NULL);
    ndx_status s = open_file(db, create);
    if (s) {
        const int made = db->created;
        ndx__survey_close(db);
        if (made) remove(path);   /* only a file this call created */
        return s;
    }
    *out = db;
    return NDX_OK;
}

void ndx__survey_close(ndx__survey_db *db)
{
    if (!db) return;
    sqlite3_close_v2(db->db);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->qmu);
    pthread_cond_destroy(&db->qcv);
    free(db);
}

const char *ndx__survey_path(const ndx__survey_db *db) { return db->path; }

/* ---- meta ------------------------------------------------------------------ */
ndx_status ndx__survey_get_meta(ndx__survey_db *db, ndx__survey_meta *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, "SELECT key, value FROM meta");
    int rc = SQLITE_DONE;
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        if (!k || !v) continue;
        if (!strcmp(k, "id")) snprintf(out->id, sizeof out->id, "%s", v);
        else if (!strcmp(k, "hide_ids")) out->hide_ids = atoi(v) != 0;
        else if (!strcmp(k, "hide_labels")) out->hide_labels = atoi(v) != 0;
        else if (!strcmp(k, "created")) out->created = strtoll(v, NULL, 10);
    }
    if (!s && rc != SQLITE_DONE) s = ndx__sq_fail(db, "reading the survey settings");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    if (!s && !out->id[0]) s = ndx__fail(NDX_ERR_FORMAT, "%s: the survey has no id", db->path);
    return s;
}

ndx_status ndx__survey_set_meta(ndx__survey_db *db, const ndx__survey_meta *m)
{
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, "INSERT OR REPLACE INTO meta VALUES(?, ?)");
    const char *keys[2] = {"hide_ids", "hide_labels"};
    const int vals[2] = {m->hide_ids != 0, m->hide_labels != 0};
    for (int i = 0; i < 2 && !s; i++) {
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, vals[i]);
        if (sqlite3_step(st) != SQLITE_DONE) s = ndx__sq_fail(db, "saving the survey settings");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return s;
}

/* ---- readers ------------------------------------------------------------------ */
static void hash_hex(const char *secret, char out[65])
{
    uint8_t h[32];
    ndx__sha256(secret, strlen(secret), h);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int is_token(const char *t)
{
    if (!t) return 0;
    size_t n = 0;
    for (; t[n]; n++)
        if (!((t[n] >= '0' && t[n] <= '9') || (t[n] >= 'a' && t[n] <= 'f'))) return 0;
    return n == NDX__SURVEY_TOKEN_HEX;
}

static ndx_status check_name(const char *name, const char *role)
{
    const size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 63) return ndx__fail(NDX_ERR_INVALID, "reader name: 1..63 bytes, got %zu", n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return ndx__fail(NDX_ERR_INVALID, "reader name: control character at byte %zu", i);
    if (!role || (strcmp(role, "radiologist") && strcmp(role, "physicist") && strcmp(role, "other")))
        return ndx__fail(NDX_ERR_INVALID, "reader role '%s': radiologist, physicist or other",
                         role ? role : "");
    return NDX_OK;
}

ndx_status ndx__survey_reader_add(ndx__survey_db *db, const char *name, const char *role, int admin,
                                  int simulated, char *token, int64_t *id)
{
    ndx_status s = check_name(name, role);
    if (s) return s;
    char tok[NDX__SURVEY_TOKEN_HEX + 1], hash[65];
    if ((s = ndx__random_hex(tok, NDX__SURVEY_TOKEN_HEX / 2))) return s;
    hash_hex(tok, hash);
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    if (!(s = ndx__sq_prepare(db, &st, "INSERT INTO readers(name, role, admin, simulated, "
                                       "token_hash, created) VALUES(?, ?, ?, ?, ?, ?)"))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, admin != 0);
        sqlite3_bind_int(st, 4, simulated != 0);
        sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, ndx__now());
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT)
            s = ndx__fail(NDX_ERR_INVALID, "%s: a reader named '%s' exists already", db->path, name);
        else if (rc != SQLITE_DONE)
            s = ndx__sq_fail(db, "adding a reader");
        else if (id)
            *id = sqlite3_last_insert_rowid(db->db);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->mu);
    if (!s) memcpy(token, tok, sizeof tok);
    return s;
}

#define READER_COLS "r.id, r.name, r.role, r.admin, r.disabled, r.simulated, r.created"
static void reader_row(sqlite3_stmt *st, ndx__survey_reader *r)
{
    r->id = sqlite3_column_int64(st, 0);
    ndx__sq_text(st, 1, r->name, sizeof r->name);
    ndx__sq_text(st, 2, r->role, sizeof r->role);
    r->admin = sqlite3_column_int(st, 3);
    r->disabled = sqlite3_column_int(st, 4);
    r->simulated = sqlite3_column_int(st, 5);
    r->created = sqlite3_column_int64(st, 6);
}

/* One reader from sql with ?1 = text (or ?1 = int64 when text is NULL) and
 * ?2 = now; NDX_ERR_INVALID with `missing` when no row. */
static ndx_status reader_one(ndx__survey_db *db, const char *sql, const char *text, int64_t num,
                             ndx__survey_reader *out, const char *missing)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, sql);
    if (!s) {
        if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        else sqlite3_bind_int64(st, 1, num);
        if (sqlite3_bind_parameter_count(st) > 1) sqlite3_bind_int64(st, 2, ndx__now());
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) reader_row(st, out);
        else if (rc == SQLITE_DONE) s = ndx__fail(NDX_ERR_INVALID, "%s", missing);
        else s = ndx__sq_fail(db, "looking up a reader");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->mu);
    return s;
}

ndx_status ndx__survey_reader_by_token(ndx__survey_db *db, const char *token, ndx__survey_reader *out)
{
    if (!is_token(token)) {
        memset(out, 0, sizeof *out);
        return ndx__fail(NDX_ERR_INVALID, "not a reader token (64 hex digits)");
    }
    char hash[65];
    hash_hex(token, hash);
    return reader_one(db, "SELECT " READER_COLS " FROM readers r WHERE token_hash = ? AND disabled = 0",
                      hash, 0, out, "unknown or disabled reader token");
}

ndx_status ndx__survey_reader_get(ndx__survey_db *db, int64_t id, ndx__survey_reader *out)
{
    char msg[64];
    snprintf(msg, sizeof msg, "no reader with id %lld", (long long)id);
    return reader_one(db, "SELECT " READER_COLS " FROM readers r WHERE id = ?", NULL, id, out, msg);
}

ndx_status ndx__survey_reader_list(ndx__survey_db *db, ndx__survey_reader **out, int *n)
{
    *out = NULL, *n = 0;
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, "SELECT " READER_COLS " FROM readers r ORDER BY id");
    int cap = 0, rc = SQLITE_DONE;
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            ndx__survey_reader *p = realloc(*out, (size_t)cap * sizeof *p);
            if (!p) {
                s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory listing readers", db->path);
                break;
            }
            *out = p;
        }
        reader_row(st, &(*out)[(*n)++]);
    }
    if (!s && rc != SQLITE_DONE) s = ndx__sq_fail(db, "listing readers");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    if (s) free(*out), *out = NULL, *n = 0;
    return s;
}

/* Runs one statement binding ?1 = text, ?2 = int64; *changes = rows changed. */
static ndx_status exec_bound(ndx__survey_db *db, const char *sql, const char *text, int64_t num,
                             int *changes, const char *what)
{
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, sql);
    if (!s) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(st) > 1) sqlite3_bind_int64(st, 2, num);
        if (sqlite3_step(st) != SQLITE_DONE) s = ndx__sq_fail(db, what);
        else if (changes) *changes = sqlite3_changes(db->db);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->mu);
    return s;
}

ndx_status ndx__survey_reader_disable(ndx__survey_db *db, const char *name)
{
    int changed = 0;
    ndx_status s = exec_bound(db, "UPDATE readers SET disabled = 1 WHERE name = ?", name, 0, &changed,
                              "disabling a reader");
    if (!s && !changed) s = ndx__fail(NDX_ERR_INVALID, "%s: no reader named '%s'", db->path, name);
    return s;
}

/* ---- sessions ---------------------------------------------------------------- */
ndx_status ndx__survey_session_new(ndx__survey_db *db, int64_t reader_id, int64_t ttl, char *cookie)
{
    if (ttl < 1) return ndx__fail(NDX_ERR_INVALID, "session lifetime %lld s: must be >= 1", (long long)ttl);
    char c[NDX__SURVEY_TOKEN_HEX + 1], hash[65];
    ndx_status s = ndx__random_hex(c, NDX__SURVEY_TOKEN_HEX / 2);
    if (s) return s;
    hash_hex(c, hash);
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    if (!(s = ndx__sq_prepare(db, &st, "INSERT INTO sessions SELECT ?1, id, ?3, ?3 + ?4 "
                                       "FROM readers WHERE id = ?2 AND disabled = 0"))) {
        sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, reader_id);
        sqlite3_bind_int64(st, 3, ndx__now());
        sqlite3_bind_int64(st, 4, ttl);
        if (sqlite3_step(st) != SQLITE_DONE) s = ndx__sq_fail(db, "starting a session");
        else if (sqlite3_changes(db->db) != 1)
            s = ndx__fail(NDX_ERR_INVALID, "no enabled reader with id %lld", (long long)reader_id);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->mu);
    if (!s) memcpy(cookie, c, sizeof c);
    return s;
}

ndx_status ndx__survey_session_reader(ndx__survey_db *db, const char *cookie, ndx__survey_reader *out)
{
    if (!is_token(cookie)) {
        memset(out, 0, sizeof *out);
        return ndx__fail(NDX_ERR_INVALID, "not a session cookie (64 hex digits)");
    }
    char hash[65];
    hash_hex(cookie, hash);
    return reader_one(db,
                      "SELECT " READER_COLS " FROM sessions s JOIN readers r ON r.id = s.reader_id "
                      "WHERE s.hash = ?1 AND s.expires > ?2 AND r.disabled = 0",
                      hash, 0, out, "unknown or expired session");
}

ndx_status ndx__survey_session_end(ndx__survey_db *db, const char *cookie)
{
    if (!is_token(cookie)) return ndx__fail(NDX_ERR_INVALID, "not a session cookie (64 hex digits)");
    char hash[65];
    hash_hex(cookie, hash);
    return exec_bound(db, "DELETE FROM sessions WHERE hash = ?", hash, 0, NULL, "ending a session");
}

/* ---- building (init) ---------------------------------------------------------- */
ndx_status ndx__survey_begin(ndx__survey_db *db)
{
    pthread_mutex_lock(&db->mu);
    ndx_status s = ndx__sq_exec(db, "BEGIN IMMEDIATE");
    if (s) pthread_mutex_unlock(&db->mu);
    return s;   /* the lock is held until commit */
}

ndx_status ndx__survey_commit(ndx__survey_db *db)
{
    ndx_status s = ndx__sq_exec(db, "COMMIT");
    if (s) ndx__sq_rollback(db);
    pthread_mutex_unlock(&db->mu);
    return s;
}

void ndx__survey_rollback(ndx__survey_db *db)
{
    ndx__sq_rollback(db);
    pthread_mutex_unlock(&db->mu);
}

ndx_status ndx__survey_image_add(ndx__survey_db *db, const char *kind, const unsigned char *png, size_t n,
                                 int w, int h, int64_t *id)
{
    if (!png || n < 8 || n > 64u << 20 || w < 1 || h < 1)
        return ndx__fail(NDX_ERR_INVALID, "%s: bad %s image (%zu bytes, %dx%d)", db->path, kind, n, w, h);
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, "INSERT INTO images(kind, width, height, png) VALUES(?,?,?,?)");
    if (!s) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, w);
        sqlite3_bind_int(st, 3, h);
        sqlite3_bind_blob64(st, 4, png, n, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) s = ndx__sq_fail(db, "storing an image");
        else *id = sqlite3_last_insert_rowid(db->db);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->mu);
    return s;
}
