/* The survey store's reads and the answer log: unit sets, units and their
 * patches, images, append-only answer revisions, progress.  Each call holds
 * the connection's mutex for its whole work (store_int.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define LOCK pthread_mutex_lock(&db->mu)
#define UNLOCK pthread_mutex_unlock(&db->mu)

/* Grows *arr (elements of size sz) to hold n + 1; 0 on failure. */
static int grow(void **arr, int n, int *cap, size_t sz)
{
    if (n < *cap) return 1;
    const int c = *cap ? 2 * *cap : 16;
    void *p = realloc(*arr, (size_t)c * sz);
    if (!p) return 0;
    *arr = p, *cap = c;
    return 1;
}

/* ---- sets ----------------------------------------------------------------------- */
#define SET_SQL "SELECT s.id, s.network, s.layer, s.dissection, s.hash, " \
                "(SELECT COUNT(*) FROM units u WHERE u.set_id = s.id) FROM sets s"
static void set_row(sqlite3_stmt *st, ndx__survey_set *s)
{
    s->id = sqlite3_column_int64(st, 0);
    ndx__sq_text(st, 1, s->network, sizeof s->network);
    ndx__sq_text(st, 2, s->layer, sizeof s->layer);
    ndx__sq_text(st, 3, s->dissection, sizeof s->dissection);
    ndx__sq_text(st, 4, s->hash, sizeof s->hash);
    s->units = sqlite3_column_int(st, 5);
}

ndx_status ndx__survey_sets(ndx__survey_db *db, ndx__survey_set **out, int *n)
{
    *out = NULL, *n = 0;
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, SET_SQL " ORDER BY s.id");
    int cap = 0, rc = SQLITE_DONE;
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!grow((void **)out, *n, &cap, sizeof **out)) {
            s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory listing unit sets", db->path);
            break;
        }
        set_row(st, &(*out)[(*n)++]);
    }
    if (!s && rc != SQLITE_DONE) s = ndx__sq_fail(db, "listing unit sets");
    sqlite3_finalize(st);
    UNLOCK;
    if (s) free(*out), *out = NULL, *n = 0;
    return s;
}

ndx_status ndx__survey_set_get(ndx__survey_db *db, int64_t id, ndx__survey_set *out)
{
    memset(out, 0, sizeof *out);
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, SET_SQL " WHERE s.id = ?");
    if (!s) {
        sqlite3_bind_int64(st, 1, id);
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) set_row(st, out);
        else if (rc == SQLITE_DONE) s = ndx__fail(NDX_ERR_INVALID, "no unit set with id %lld", (long long)id);
        else s = ndx__sq_fail(db, "reading a unit set");
        sqlite3_finalize(st);
    }
    UNLOCK;
    return s;
}

ndx_status ndx__survey_set_add(ndx__survey_db *db, ndx__survey_set *set)
{
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, "INSERT INTO sets(network, layer, dissection, hash) VALUES(?,?,?,?)");
    if (!s) {
        sqlite3_bind_text(st, 1, set->network, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, set->layer, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, set->dissection, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, set->hash, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) s = ndx__sq_fail(db, "storing a unit set");
        else set->id = sqlite3_last_insert_rowid(db->db);
        sqlite3_finalize(st);
    }
    UNLOCK;
    return s;
}

/* ---- units and patches -------------------------------------------------------------- */
#define UNIT_SQL "SELECT u.id, u.set_id, u.unit, u.repeat_of, u.position, u.positives, u.iou, " \
                 "u.best_kind, (SELECT COUNT(*) FROM answers a WHERE a.reader_id = ?1 AND "  \
                 "a.unit_id = u.id) FROM units u "
#define PATCH_SQL "SELECT p.unit_id, p.rank, p.patch_id, p.score, p.label, p.x, p.y, p.w, p.h, " \
                  "p.tile, p.highlight, p.outline, p.mammogram, p.mx, p.my, p.mw, p.mh, p.source " \
                  "FROM patches p JOIN units u ON u.id = p.unit_id "

static void unit_row(sqlite3_stmt *st, ndx__survey_unit *u)
{
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    u->set_id = sqlite3_column_int64(st, 1);
    u->unit = sqlite3_column_int(st, 2);
    u->repeat_of = sqlite3_column_int64(st, 3);
    u->position = sqlite3_column_int(st, 4);
    u->positives = sqlite3_column_int(st, 5);
    u->iou = sqlite3_column_double(st, 6);
    ndx__sq_text(st, 7, u->best_kind, sizeof u->best_kind);
    u->answered = sqlite3_column_int(st, 8);
}

static void patch_row(sqlite3_stmt *st, ndx__survey_patch *p)
{
    p->rank = sqlite3_column_int(st, 1);
    p->patch_id = sqlite3_column_int64(st, 2);
    p->score = (float)sqlite3_column_double(st, 3);
    p->label = sqlite3_column_int(st, 4);
    for (int i = 0; i < 4; i++) p->box[i] = sqlite3_column_int(st, 5 + i);
    p->tile = sqlite3_column_int64(st, 9);
    p->highlight = sqlite3_column_int64(st, 10);
    p->outline = sqlite3_column_int64(st, 11);
    p->mammogram = sqlite3_column_int64(st, 12);
    for (int i = 0; i < 4; i++) p->mbox[i] = sqlite3_column_int(st, 13 + i);
    ndx__sq_text(st, 17, p->source, sizeof p->source);
}

/* Fills the patches (rank < np) of units[0..n) from a query ordered like
 * them, bound with ?1 = the set or unit id and ?2 = np. */
static ndx_status fill_patches(ndx__survey_db *db, const char *sql, int64_t key, int np,
                               ndx__survey_unit *units, int n)
{
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, sql);
    if (s) return s;
    sqlite3_bind_int64(st, 1, key);
    sqlite3_bind_int(st, 2, np);
    int i = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const int64_t uid = sqlite3_column_int64(st, 0);
        while (i < n && units[i].id != uid) i++;
        if (i == n || units[i].npatches >= NDX__SURVEY_PATCHES) break;
        patch_row(st, &units[i].patches[units[i].npatches++]);
    }
    if (rc != SQLITE_DONE)
        s = rc == SQLITE_ROW ? ndx__fail(NDX_ERR_FORMAT, "%s: patches out of order", db->path)
                             : ndx__sq_fail(db, "reading patches");
    sqlite3_finalize(st);
    return s;
}

ndx_status ndx__survey_units(ndx__survey_db *db, int64_t set_id, int npatches, int64_t reader_id,
                             ndx__survey_unit **out, int *n)
{
    *out = NULL, *n = 0;
    if (npatches < 0 || npatches > NDX__SURVEY_PATCHES)
        return ndx__fail(NDX_ERR_INVALID, "patches per unit %d: 0..%d", npatches, NDX__SURVEY_PATCHES);
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, UNIT_SQL "WHERE u.set_id = ?2 ORDER BY u.position, u.id");
    int cap = 0, rc = SQLITE_DONE;
    if (!s) {
        sqlite3_bind_int64(st, 1, reader_id);
        sqlite3_bind_int64(st, 2, set_id);
    }
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!grow((void **)out, *n, &cap, sizeof **out)) {
            s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory listing units", db->path);
            break;
        }
        unit_row(st, &(*out)[(*n)++]);
    }
    if (!s && rc != SQLITE_DONE) s = ndx__sq_fail(db, "listing units");
    sqlite3_finalize(st);
    if (!s && npatches > 0)
        s = fill_patches(db, PATCH_SQL "WHERE u.set_id = ?1 AND p.rank < ?2 ORDER BY u.position, u.id, p.rank",
                         set_id, npatches, *out, *n);
    UNLOCK;
    if (s) free(*out), *out = NULL, *n = 0;
    return s;
}

ndx_status ndx__survey_unit_get(ndx__survey_db *db, int64_t unit_id, int64_t reader_id,
                                ndx__survey_unit *out)
{
    memset(out, 0, sizeof *out);
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, UNIT_SQL "WHERE u.id = ?2");
    if (!s) {
        sqlite3_bind_int64(st, 1, reader_id);
        sqlite3_bind_int64(st, 2, unit_id);
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) unit_row(st, out);
        else if (rc == SQLITE_DONE) s = ndx__fail(NDX_ERR_INVALID, "unit %lld is not in the survey", (long long)unit_id);
        else s = ndx__sq_fail(db, "reading a unit");
        sqlite3_finalize(st);
    }
    if (!s)
        s = fill_patches(db, PATCH_SQL "WHERE u.id = ?1 AND p.rank < ?2 ORDER BY p.rank", unit_id,
                         NDX__SURVEY_PATCHES, out, 1);
    UNLOCK;
    return s;
}

ndx_status ndx__survey_unit_add(ndx__survey_db *db, ndx__survey_unit *u)
{
    if (u->npatches < 0 || u->npatches > NDX__SURVEY_PATCHES)
        return ndx__fail(NDX_ERR_INVALID, "unit %d: %d patches", u->unit, u->npatches);
    LOCK;
    sqlite3_stmt *st, *sp = NULL;
    ndx_status s = ndx__sq_prepare(db, &st, "INSERT INTO units(set_id, unit, repeat_of, position, "
                                            "positives, iou, best_kind) VALUES(?,?,?,?,?,?,?)");
    if (!s) {
        sqlite3_bind_int64(st, 1, u->set_id);
        sqlite3_bind_int(st, 2, u->unit);
        sqlite3_bind_int64(st, 3, u->repeat_of);
        sqlite3_bind_int(st, 4, u->position);
        sqlite3_bind_int(st, 5, u->positives);
        sqlite3_bind_double(st, 6, isfinite(u->iou) ? u->iou : 0.0);
        sqlite3_bind_text(st, 7, u->best_kind, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) s = ndx__sq_fail(db, "storing a unit");
        else u->id = sqlite3_last_insert_rowid(db->db);
        sqlite3_finalize(st);
    }
    if (!s) s = ndx__sq_prepare(db, &sp, "INSERT INTO patches VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    for (int j = 0; !s && j < u->npatches; j++) {
        const ndx__survey_patch *p = &u->patches[j];
        sqlite3_bind_int64(sp, 1, u->id);
        sqlite3_bind_int(sp, 2, j);
        sqlite3_bind_int64(sp, 3, p->patch_id);
        sqlite3_bind_double(sp, 4, isfinite(p->score) ? p->score : 0.0);
        sqlite3_bind_int(sp, 5, p->label != 0);
        for (int i = 0; i < 4; i++) sqlite3_bind_int(sp, 6 + i, p->box[i]);
        sqlite3_bind_int64(sp, 10, p->tile);
        sqlite3_bind_int64(sp, 11, p->highlight);
        sqlite3_bind_int64(sp, 12, p->outline);
        sqlite3_bind_int64(sp, 13, p->mammogram);
        for (int i = 0; i < 4; i++) sqlite3_bind_int(sp, 14 + i, p->mbox[i]);
        sqlite3_bind_text(sp, 18, p->source, -1, SQLITE_STATIC);
        if (sqlite3_step(sp) != SQLITE_DONE) s = ndx__sq_fail(db, "storing a patch");
        sqlite3_reset(sp);
    }
    sqlite3_finalize(sp);
    UNLOCK;
    return s;
}

/* ---- images ---------------------------------------------------------------------------- */
ndx_status ndx__survey_image(ndx__survey_db *db, int64_t id, unsigned char **png, size_t *n, int *w,
                             int *h)
{
    *png = NULL, *n = 0;
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, "SELECT png, width, height FROM images WHERE id = ?");
    if (!s) {
        sqlite3_bind_int64(st, 1, id);
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const int len = sqlite3_column_bytes(st, 0);
            const void *b = sqlite3_column_blob(st, 0);
            *png = malloc(len > 0 ? (size_t)len : 1);
            if (!*png) s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for image %lld", db->path, (long long)id);
            else if (b) memcpy(*png, b, (size_t)len), *n = (size_t)len;
            if (w) *w = sqlite3_column_int(st, 1);
            if (h) *h = sqlite3_column_int(st, 2);
        } else if (rc == SQLITE_DONE) {
            s = ndx__fail(NDX_ERR_INVALID, "no image with id %lld", (long long)id);
        } else {
            s = ndx__sq_fail(db, "reading an image");
        }
        sqlite3_finalize(st);
    }
    UNLOCK;
    return s;
}

/* ---- answers ------------------------------------------------------------------------------ */
void ndx__survey_answer_free(ndx__survey_answer *a)
{
    free(a->json);
    a->json = NULL;
}

/* ?1 reader, ?2 unit: checks both exist (reader enabled) in the open transaction. */
static ndx_status check_owner(ndx__survey_db *db, int64_t reader_id, int64_t unit_id)
{
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, "SELECT (SELECT disabled FROM readers WHERE id = ?1), "
                                            "(SELECT COUNT(*) FROM units WHERE id = ?2)");
    if (s) return s;
    sqlite3_bind_int64(st, 1, reader_id);
    sqlite3_bind_int64(st, 2, unit_id);
    if (sqlite3_step(st) != SQLITE_ROW) s = ndx__sq_fail(db, "checking a reader and unit");
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        s = ndx__fail(NDX_ERR_INVALID, "no reader with id %lld", (long long)reader_id);
    else if (sqlite3_column_int(st, 0))
        s = ndx__fail(NDX_ERR_INVALID, "reader %lld is disabled", (long long)reader_id);
    else if (!sqlite3_column_int(st, 1))
        s = ndx__fail(NDX_ERR_INVALID, "unit %lld is not in the survey", (long long)unit_id);
    sqlite3_finalize(st);
    return s;
}

/* One save in the insert of a batch, in its own savepoint: a failure
 * (unknown unit, disabled reader) undoes that save alone. */
static ndx_status insert_one(ndx__survey_db *db, ndx__save_req *r, int64_t now)
{
    ndx_status s = ndx__sq_exec(db, "SAVEPOINT one");
    if (s) return s;
    if ((s = check_owner(db, r->reader_id, r->unit_id))) goto out;
    sqlite3_stmt *st;
    if ((s = ndx__sq_prepare(db, &st, "INSERT INTO answers(reader_id, unit_id, revision, saved, seconds, json) "
                                      "SELECT ?1, ?2, COALESCE(MAX(revision), 0) + 1, ?3, ?4, ?5 FROM answers "
                                      "WHERE reader_id = ?1 AND unit_id = ?2 RETURNING revision")))
        goto out;
    sqlite3_bind_int64(st, 1, r->reader_id);
    sqlite3_bind_int64(st, 2, r->unit_id);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_double(st, 4, r->seconds);
    sqlite3_bind_text(st, 5, r->json, -1, SQLITE_STATIC);
    r->revision = 0;
    if (sqlite3_step(st) == SQLITE_ROW) r->revision = sqlite3_column_int64(st, 0);
    if (sqlite3_step(st) != SQLITE_DONE || r->revision < 1) s = ndx__sq_fail(db, "saving an answer");
    sqlite3_finalize(st);
out:
    if (s) sqlite3_exec(db->db, "ROLLBACK TO one", NULL, NULL, NULL);
    sqlite3_exec(db->db, "RELEASE one", NULL, NULL, NULL);
    return s;
}

/* Commits a batch of saves in one transaction (one fsync for all). */
static void commit_batch(ndx__survey_db *db, ndx__save_req *batch)
{
    LOCK;
    ndx_status s = ndx__sq_exec(db, "BEGIN IMMEDIATE");
    const int64_t now = ndx__now();
    for (ndx__save_req *r = batch; r && !s; r = r->next) {
        r->status = insert_one(db, r, now);
        if (r->status) snprintf(r->msg, sizeof r->msg, "%s", ndx_last_error());
    }
    if (!s) s = ndx__sq_exec(db, "COMMIT");
    if (s) {   /* nothing of the batch is stored */
        ndx__sq_rollback(db);
        for (ndx__save_req *r = batch; r; r = r->next) {
            r->status = s, r->revision = 0;
            snprintf(r->msg, sizeof r->msg, "%s", ndx_last_error());
        }
    }
    UNLOCK;
}

/* Group commit: a save joins the queue; the first thread to find no batch
 * being committed takes the whole queue and commits it, while later saves
 * queue for the next batch.  Under many concurrent readers a save waits for
 * one batch and its own, not for every save before it. */
ndx_status ndx__survey_answer_save(ndx__survey_db *db, int64_t reader_id, int64_t unit_id, const char *json,
                                   size_t len, double seconds, int64_t *revision)
{
    if (!(seconds >= 0 && seconds < 1e9))
        return ndx__fail(NDX_ERR_INVALID, "seconds spent %g: must be >= 0", seconds);
    ndx__save_req req = {.reader_id = reader_id, .unit_id = unit_id, .seconds = seconds};
    ndx_status s = ndx__survey_answer_check(json, len, &req.json);
    if (s) return s;
    pthread_mutex_lock(&db->qmu);
    if (db->qtail) db->qtail->next = &req;
    else db->qhead = &req;
    db->qtail = &req;
    while (!req.done) {
        if (db->committing) {
            pthread_cond_wait(&db->qcv, &db->qmu);
            continue;
        }
        ndx__save_req *batch = db->qhead;
        db->qhead = db->qtail = NULL;
        db->committing = 1;
        pthread_mutex_unlock(&db->qmu);
        commit_batch(db, batch);
        pthread_mutex_lock(&db->qmu);
        for (ndx__save_req *r = batch; r; r = r->next) r->done = 1;
        db->committing = 0;
        pthread_cond_broadcast(&db->qcv);
    }
    pthread_mutex_unlock(&db->qmu);
    free(req.json);
    if (req.status) return ndx__fail(req.status, "%s", req.msg);
    if (revision) *revision = req.revision;
    return NDX_OK;
}

/* Columns: reader, unit, revision, saved, seconds, json, revisions,
 * first_saved, seconds summed up to this revision. */
#define ANSWER_SQL                                                                          \
    "SELECT a.reader_id, a.unit_id, a.revision, a.saved, a.seconds, a.json, "               \
    "(SELECT COUNT(*) FROM answers b WHERE b.reader_id = a.reader_id AND b.unit_id = a.unit_id), " \
    "(SELECT MIN(saved) FROM answers b WHERE b.reader_id = a.reader_id AND b.unit_id = a.unit_id), " \
    "(SELECT SUM(seconds) FROM answers b WHERE b.reader_id = a.reader_id AND b.unit_id = a.unit_id " \
    "AND b.revision <= a.revision) FROM answers a "

static void answer_row(sqlite3_stmt *st, ndx__survey_answer *a)
{
    a->reader_id = sqlite3_column_int64(st, 0);
    a->unit_id = sqlite3_column_int64(st, 1);
    a->revision = sqlite3_column_int64(st, 2);
    a->saved = sqlite3_column_int64(st, 3);
    a->seconds = sqlite3_column_double(st, 4);
    a->json = (char *)sqlite3_column_text(st, 5);
    a->revisions = sqlite3_column_int64(st, 6);
    a->first_saved = sqlite3_column_int64(st, 7);
    a->seconds_total = sqlite3_column_double(st, 8);
}

ndx_status ndx__survey_answer_current(ndx__survey_db *db, int64_t reader_id, int64_t unit_id,
                                      ndx__survey_answer *out)
{
    memset(out, 0, sizeof *out);
    out->reader_id = reader_id, out->unit_id = unit_id;
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, ANSWER_SQL "WHERE a.reader_id = ? AND a.unit_id = ? "
                                                       "ORDER BY a.revision DESC LIMIT 1");
    if (!s) {
        sqlite3_bind_int64(st, 1, reader_id);
        sqlite3_bind_int64(st, 2, unit_id);
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            answer_row(st, out);
            const char *j = out->json ? out->json : "{}";
            if (!(out->json = strdup(j))) s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", db->path);
        } else if (rc != SQLITE_DONE) {
            s = ndx__sq_fail(db, "reading an answer");
        }
        sqlite3_finalize(st);
    }
    UNLOCK;
    return s;
}

ndx_status ndx__survey_answers(ndx__survey_db *db, int64_t reader_id, int history, ndx__survey_answer_fn fn,
                               void *ctx)
{
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(db, &st, ANSWER_SQL
                                   "JOIN units u ON u.id = a.unit_id WHERE (?1 = 0 OR a.reader_id = ?1) AND "
                                   "(?2 OR a.revision = (SELECT MAX(revision) FROM answers c WHERE "
                                   "c.reader_id = a.reader_id AND c.unit_id = a.unit_id)) "
                                   "ORDER BY a.reader_id, u.set_id, u.position, u.id, a.revision");
    int rc = SQLITE_DONE;
    if (!s) {
        sqlite3_bind_int64(st, 1, reader_id);
        sqlite3_bind_int(st, 2, history != 0);
    }
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ndx__survey_answer a;
        answer_row(st, &a);
        const int r = fn(ctx, &a);
        if (r) s = r < 0 ? (ndx_status)r : NDX_ERR_INVALID;
    }
    if (!s && rc != SQLITE_DONE) s = ndx__sq_fail(db, "reading answers");
    sqlite3_finalize(st);
    UNLOCK;
    return s;
}

/* ---- progress ------------------------------------------------------------------------------ */
ndx_status ndx__survey_progress_get(ndx__survey_db *db, int64_t reader_id, ndx__survey_progress **out, int *n)
{
    *out = NULL, *n = 0;
    LOCK;
    sqlite3_stmt *st;
    ndx_status s = ndx__sq_prepare(
        db, &st,
        "SELECT r.id, s.id, (SELECT COUNT(*) FROM units u WHERE u.set_id = s.id), "
        "(SELECT COUNT(DISTINCT a.unit_id) FROM answers a JOIN units u ON u.id = a.unit_id "
        " WHERE a.reader_id = r.id AND u.set_id = s.id), "
        "(SELECT COUNT(*) FROM answers a JOIN units u ON u.id = a.unit_id "
        " WHERE a.reader_id = r.id AND u.set_id = s.id), "
        "(SELECT COALESCE(MAX(a.saved), 0) FROM answers a JOIN units u ON u.id = a.unit_id "
        " WHERE a.reader_id = r.id AND u.set_id = s.id), "
        "COALESCE((SELECT u.id FROM units u WHERE u.set_id = s.id AND NOT EXISTS (SELECT 1 FROM "
        " answers a WHERE a.reader_id = r.id AND a.unit_id = u.id) ORDER BY u.position, u.id LIMIT 1), 0) "
        "FROM readers r, sets s WHERE (?1 = 0 OR r.id = ?1) ORDER BY r.id, s.id");
    int cap = 0, rc = SQLITE_DONE;
    if (!s) sqlite3_bind_int64(st, 1, reader_id);
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!grow((void **)out, *n, &cap, sizeof **out)) {
            s = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory reading progress", db->path);
            break;
        }
        ndx__survey_progress *p = &(*out)[(*n)++];
        p->reader_id = sqlite3_column_int64(st, 0);
        p->set_id = sqlite3_column_int64(st, 1);
        p->total = sqlite3_column_int(st, 2);
        p->answered = sqlite3_column_int(st, 3);
        p->revisions = sqlite3_column_int64(st, 4);
        p->last_saved = sqlite3_column_int64(st, 5);
        p->first_unanswered = sqlite3_column_int64(st, 6);
    }
    if (!s && rc != SQLITE_DONE) s = ndx__sq_fail(db, "reading progress");
    sqlite3_finalize(st);
    UNLOCK;
    if (s) free(*out), *out = NULL, *n = 0;
    return s;
}
