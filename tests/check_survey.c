/* The survey's store and init (src/survey); export and the CLI are in
 * check_survey_export.c, the HTTP server in check_survey_http.c.
 *   - SHA-256 against the FIPS 180 vectors;
 *   - the store: round trip of readers, sessions, sets, units, patches and
 *     images; append-only revisions (the latest is current, history keeps
 *     all, UPDATE/DELETE refused); the answer schema's refusals; a newer
 *     schema, a non-survey file, a missing file and a locked database
 *     refused with the reason named; only token hashes in the files;
 *   - init over the crafted dissection (unit counts, the cancer share,
 *     seeded picks, repeats, overview order). */
#include <pthread.h>

#include "survey_fixture.h"
#include "kernels.h"

/* ---- SHA-256 ------------------------------------------------------------------------------ */
START_TEST(test_sha256_fips)
{
    static const struct { const char *msg; const char *digest; } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
         "mnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"}};
    uint8_t h[32];
    char got[65];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ndx__sha256(v[i].msg, strlen(v[i].msg), h);
        hex(h, got);
        ck_assert_str_eq(got, v[i].digest);
    }
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    ndx__sha256(a, 1000000, h);
    hex(h, got);
    ck_assert_str_eq(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* every tail length around the block edges gives a distinct digest */
    char prev[65] = "";
    for (size_t n = 50; n < 70; n++) {
        ndx__sha256(a, n, h);
        hex(h, got);
        ck_assert_str_ne(got, prev);
        strcpy(prev, got);
    }
    free(a);
}
END_TEST

/* ---- the store ---------------------------------------------------------------------------- */
START_TEST(test_store_round_trip)
{
    ndx_survey_init_stats st;
    init_crafted("rt.sqlite", 8, 0.5, 1, 0, &st);
    ndx__survey_db *db = open_db("rt.sqlite");
    ndx__survey_meta m;
    ck_assert_int_eq(ndx__survey_get_meta(db, &m), NDX_OK);
    ck_assert_int_eq((int)strlen(m.id), 32);
    char tok[NDX__SURVEY_TOKEN_HEX + 1], cookie[NDX__SURVEY_TOKEN_HEX + 1];
    int64_t rid;
    ck_assert_int_eq(ndx__survey_reader_add(db, "Dr. A", "radiologist", 1, 0, tok, &rid), NDX_OK);
    ck_assert_int_eq((int)strlen(tok), NDX__SURVEY_TOKEN_HEX);
    ck_assert_int_eq(ndx__survey_reader_add(db, "Dr. A", "other", 0, 0, tok, NULL), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "exists"));
    ck_assert_int_eq(ndx__survey_reader_add(db, "B", "nurse", 0, 0, tok, NULL), NDX_ERR_INVALID);
    ndx__survey_reader r;
    ck_assert_int_eq(ndx__survey_reader_by_token(db, tok, &r), NDX_OK);
    ck_assert_int_eq(r.id, rid);
    ck_assert_str_eq(r.name, "Dr. A");
    ck_assert_int_eq(r.admin, 1);
    char wrong[NDX__SURVEY_TOKEN_HEX + 1];
    memcpy(wrong, tok, sizeof wrong);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    ck_assert_int_eq(ndx__survey_reader_by_token(db, wrong, &r), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx__survey_reader_by_token(db, "../etc", &r), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx__survey_session_new(db, rid, 3600, cookie), NDX_OK);
    ck_assert_int_eq(ndx__survey_session_reader(db, cookie, &r), NDX_OK);
    ck_assert_int_eq(r.id, rid);
    ck_assert_int_eq(ndx__survey_session_end(db, cookie), NDX_OK);
    ck_assert_int_eq(ndx__survey_session_reader(db, cookie, &r), NDX_ERR_INVALID);
    /* sets, units, patches, images */
    ndx__survey_set *sets;
    int ns, nu;
    ck_assert_int_eq(ndx__survey_sets(db, &sets, &ns), NDX_OK);
    ck_assert_int_eq(ns, 1);
    ck_assert_str_eq(sets[0].layer, "crafted.1");
    ck_assert_str_eq(sets[0].network, "unknown");
    ck_assert_int_eq(sets[0].units, 8);
    ndx__survey_unit *u, one;
    ck_assert_int_eq(ndx__survey_units(db, sets[0].id, NDX__SURVEY_OVERVIEW, rid, &u, &nu), NDX_OK);
    ck_assert_int_eq(nu, 8);
    ck_assert_int_eq(ndx__survey_unit_get(db, u[0].id, rid, &one), NDX_OK);
    ck_assert_int_eq(one.npatches, 8);   /* the crafted top-k is 8 */
    for (int j = 0; j < one.npatches; j++) {
        ck_assert_int_eq(one.patches[j].rank, j);
        ck_assert_int_eq(one.patches[j].patch_id, u[0].patches[j].patch_id);
        unsigned char *png;
        size_t n;
        int w, h;
        ck_assert_int_eq(ndx__survey_image(db, one.patches[j].tile, &png, &n, &w, &h), NDX_OK);
        ck_assert(n > 8 && !memcmp(png, "\x89PNG", 4));
        ck_assert_int_ge(w, 192);
        ck_assert_int_eq(w, h);
        free(png);
        ck_assert_int_eq(ndx__survey_image(db, one.patches[j].mammogram, &png, &n, &w, &h), NDX_OK);
        ck_assert_int_le(h, 800);
        const int *mb = one.patches[j].mbox;
        ck_assert(mb[0] >= 0 && mb[1] >= 0 && mb[2] > 0 && mb[3] > 0 && mb[0] + mb[2] <= w && mb[1] + mb[3] <= h);
        free(png);
    }
    ck_assert_int_eq(ndx__survey_unit_get(db, 999999, rid, &one), NDX_ERR_INVALID);
    unsigned char *png;
    size_t n;
    ck_assert_int_eq(ndx__survey_image(db, 999999, &png, &n, NULL, NULL), NDX_ERR_INVALID);
    /* progress: none answered; the first unanswered is the first in order */
    ndx__survey_progress *pr;
    int np;
    ck_assert_int_eq(ndx__survey_progress_get(db, rid, &pr, &np), NDX_OK);
    ck_assert_int_eq(np, 1);
    ck_assert_int_eq(pr[0].answered, 0);
    ck_assert_int_eq(pr[0].total, 8);
    ck_assert_int_eq(pr[0].first_unanswered, u[0].id);
    free(pr), free(u), free(sets);
    ndx__survey_close(db);
}
END_TEST

static int collect(void *ctx, const ndx__survey_answer *a)
{
    int64_t *revs = ctx;
    revs[++revs[0]] = a->revision;
    ck_assert_ptr_nonnull(a->json);
    return 0;
}

START_TEST(test_store_revisions)
{
    ndx_survey_init_stats st;
    init_crafted("rev.sqlite", 4, 0.5, 2, 0, &st);
    ndx__survey_db *db = open_db("rev.sqlite");
    char tok[NDX__SURVEY_TOKEN_HEX + 1];
    int64_t a, b, rev;
    ck_assert_int_eq(ndx__survey_reader_add(db, "a", "radiologist", 0, 0, tok, &a), NDX_OK);
    ck_assert_int_eq(ndx__survey_reader_add(db, "b", "physicist", 0, 0, tok, &b), NDX_OK);
    ndx__survey_set *sets;
    ndx__survey_unit *u;
    int ns, nu;
    ck_assert_int_eq(ndx__survey_sets(db, &sets, &ns), NDX_OK);
    ck_assert_int_eq(ndx__survey_units(db, sets[0].id, 0, 0, &u, &nu), NDX_OK);
    const char *texts[3] = {"{\"recognizable\":\"no\"}", "{\"recognizable\":\"unsure\"}",
                            "{\"recognizable\":\"yes\",\"phenomena\":[{\"descriptors\":[\"finding.mass\"],"
                            "\"text\":\"<script>alert(1)</script>\",\"confidence\":4}]}"};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(ndx__survey_answer_save(db, a, u[0].id, texts[i], strlen(texts[i]), 10.5, &rev) == NDX_OK,
                      "%s", ndx_last_error());
        ck_assert_int_eq(rev, i + 1);
    }
    ck_assert_int_eq(ndx__survey_answer_save(db, b, u[0].id, texts[0], strlen(texts[0]), 1, &rev), NDX_OK);
    ck_assert_int_eq(rev, 1);
    ndx__survey_answer cur;
    ck_assert_int_eq(ndx__survey_answer_current(db, a, u[0].id, &cur), NDX_OK);
    ck_assert_int_eq(cur.revision, 3);
    ck_assert_int_eq(cur.revisions, 3);
    ck_assert(fabs(cur.seconds_total - 31.5) < 1e-9);
    ck_assert_ptr_nonnull(strstr(cur.json, "<script>alert(1)</script>"));   /* stored as given */
    ck_assert_ptr_nonnull(strstr(cur.json, "\"recognizable\":\"yes\""));
    ndx__survey_answer_free(&cur);
    ck_assert_int_eq(ndx__survey_answer_current(db, a, u[1].id, &cur), NDX_OK);
    ck_assert_int_eq(cur.revision, 0);
    ck_assert_ptr_null(cur.json);
    int64_t revs[16] = {0};
    ck_assert_int_eq(ndx__survey_answers(db, a, 1, collect, revs), NDX_OK);
    ck_assert_int_eq(revs[0], 3);
    ck_assert(revs[1] == 1 && revs[2] == 2 && revs[3] == 3);
    memset(revs, 0, sizeof revs);
    ck_assert_int_eq(ndx__survey_answers(db, 0, 0, collect, revs), NDX_OK);
    ck_assert_int_eq(revs[0], 2);   /* current answers: one per reader */
    /* bad saves change nothing */
    ck_assert_int_eq(ndx__survey_answer_save(db, a, 999999, texts[0], strlen(texts[0]), 1, NULL), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "not in the survey"));
    ck_assert_int_eq(ndx__survey_answer_save(db, 999, u[0].id, texts[0], strlen(texts[0]), 1, NULL), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx__survey_answer_save(db, a, u[0].id, texts[0], strlen(texts[0]), -1, NULL), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx__survey_answer_current(db, a, u[0].id, &cur), NDX_OK);
    ck_assert_int_eq(cur.revisions, 3);
    ndx__survey_answer_free(&cur);
    ndx__survey_progress *pr;
    int np;
    ck_assert_int_eq(ndx__survey_progress_get(db, 0, &pr, &np), NDX_OK);
    ck_assert_int_eq(np, 2);
    ck_assert_int_eq(pr[0].answered, 1);
    ck_assert_int_eq(pr[0].revisions, 3);
    ck_assert_int_eq(pr[0].first_unanswered, u[1].id);
    free(pr), free(u), free(sets);
    ndx__survey_close(db);
    /* the log refuses UPDATE and DELETE even from outside */
    char p[400];
    path_of(p, sizeof p, "rev.sqlite");
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(p, &raw), SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(raw, "UPDATE answers SET json = '{}'", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(raw, "DELETE FROM answers", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
}
END_TEST

/* The highlight of a unit's patch: the map from the state, upsampled with the
 * reference bilinear kernel, / top-1: alpha 204 (x0.2) exactly where < 0.2. */
START_TEST(test_highlight_overlay)
{
    ndx_survey_init_stats st;
    init_crafted("hl.sqlite", 8, 0.5, 1, 0, &st);
    char p[400];
    path_of(p, sizeof p, "craft/crafted.1.dstate");
    ndx_dissect *d;
    ck_assert_int_eq(ndx_dissect_load(p, &d), NDX_OK);
    ndx__survey_db *db = open_db("hl.sqlite");
    ndx__survey_unit u;
    ck_assert_int_eq(ndx__survey_unit_get(db, 1, 0, &u), NDX_OK);
    ndx_dissect_top top[8];
    int nt, dimmed = 0, lit = 0;
    ck_assert_int_eq(ndx_dissect_unit_top(d, u.unit, top, &nt), NDX_OK);
    ck_assert_int_eq(nt, u.npatches);
    for (int j = 0; j < nt; j++) {
        ck_assert_int_eq(top[j].id, u.patches[j].patch_id);
        unsigned char *png;
        size_t n;
        int w, h, comp;
        ck_assert_int_eq(ndx__survey_image(db, u.patches[j].highlight, &png, &n, &w, &h), NDX_OK);
        unsigned char *px = stbi_load_from_memory(png, (int)n, &w, &h, &comp, 2);
        free(png);
        ck_assert_ptr_nonnull(px);
        ck_assert_int_eq(comp, 2);
        float *up = malloc((size_t)w * h * sizeof *up);
        ndx_f32_bilinear__ref(1, 4, 4, h, w, 0, top[j].map, up);
        for (int q = 0; q < w * h; q++) {
            const float r = up[q] / top[0].score;
            ck_assert_int_eq(px[2 * q], 0);
            if (fabsf(r - 0.2f) < 1e-4f) continue;   /* rounding of another kernel set */
            ck_assert_int_eq(px[2 * q + 1], r < 0.2f ? 204 : 0);
            dimmed += r < 0.2f, lit += r >= 0.2f;
        }
        free(up);
        stbi_image_free(px);
    }
    ck_assert(dimmed > 0 && lit > 0);
    ndx__survey_close(db);
    ndx_dissect_free(d);
}
END_TEST

/* Concurrent saves (group commit): every save gets its own revision, a bad
 * one fails alone with its own message, nothing is lost. */
#define SAVERS 8
#define SAVES 25
typedef struct saver {
    ndx__survey_db *db;
    int64_t reader, unit;
    int64_t revs[SAVES];
    int bad_ok;
} saver;

static void *save_loop(void *arg)
{
    saver *w = arg;
    const char *j = "{\"recognizable\":\"yes\"}";
    for (int i = 0; i < SAVES; i++) {
        w->revs[i] = 0;
        if (ndx__survey_answer_save(w->db, w->reader, w->unit, j, strlen(j), 1, &w->revs[i]) != NDX_OK) return NULL;
        if (i % 5 == 0)
            w->bad_ok += ndx__survey_answer_save(w->db, w->reader, 999999, j, strlen(j), 1, NULL) == NDX_ERR_INVALID &&
                         strstr(ndx_last_error(), "unit 999999 is not in the survey") != NULL;
    }
    return NULL;
}

START_TEST(test_store_concurrent_saves)
{
    ndx_survey_init_stats st;
    init_crafted("conc.sqlite", 2, 0, 3, 0, &st);
    ndx__survey_db *db = open_db("conc.sqlite");
    char tok[NDX__SURVEY_TOKEN_HEX + 1];
    int64_t r[2];
    ck_assert_int_eq(ndx__survey_reader_add(db, "p", "other", 0, 0, tok, &r[0]), NDX_OK);
    ck_assert_int_eq(ndx__survey_reader_add(db, "q", "other", 0, 0, tok, &r[1]), NDX_OK);
    saver w[SAVERS];
    pthread_t th[SAVERS];
    for (int i = 0; i < SAVERS; i++) {
        w[i] = (saver){.db = db, .reader = r[i % 2], .unit = 1 + i / 2 % 2};
        ck_assert_int_eq(pthread_create(&th[i], NULL, save_loop, &w[i]), 0);
    }
    for (int i = 0; i < SAVERS; i++) pthread_join(th[i], NULL);
    /* per (reader, unit): SAVERS / 4 savers x SAVES revisions numbered 1..n once each */
    const int per = SAVERS / 4 * SAVES;
    for (int k = 0; k < 4; k++) {
        char seen[SAVERS / 4 * SAVES + 1] = {0};
        for (int i = 0; i < SAVERS; i++) {
            if (w[i].reader != r[k / 2] || w[i].unit != 1 + k % 2) continue;
            for (int j = 0; j < SAVES; j++) {
                ck_assert(w[i].revs[j] >= 1 && w[i].revs[j] <= per);
                ck_assert_int_eq(seen[w[i].revs[j]]++, 0);
            }
        }
    }
    for (int i = 0; i < SAVERS; i++) ck_assert_int_eq(w[i].bad_ok, SAVES / 5);
    ndx__survey_answer cur;
    ck_assert_int_eq(ndx__survey_answer_current(db, r[0], 1, &cur), NDX_OK);
    ck_assert_int_eq(cur.revisions, per);
    ck_assert_int_eq(cur.revision, per);
    ndx__survey_answer_free(&cur);
    ndx__survey_close(db);
}
END_TEST

START_TEST(test_answer_schema)
{
    static const struct { const char *json, *culprit; } bad[] = {
        {"{", "malformed"},
        {"[]", "not a JSON object"},
        {"{\"recognizable\":\"maybe\"}", "recognizable"},
        {"{\"color\":\"red\"}", "unknown field 'color'"},
        {"{\"phenomena\":{}}", "phenomena: not an array"},
        {"{\"phenomena\":[{\"descriptors\":[\"finding.bogus\"]}]}", "not in the lexicon"},
        {"{\"phenomena\":[{\"descriptors\":[\"finding_type\"]}]}", "not a lexicon id"},
        {"{\"phenomena\":[{\"descriptors\":[\"finding.mass\",\"finding.mass\"]}]}", "twice"},
        {"{\"phenomena\":[{\"confidence\":6}]}", "confidence"},
        {"{\"phenomena\":[{\"confidence\":2.5}]}", "confidence"},
        {"{\"phenomena\":[{\"association\":\"bad\"}]}", "phenomena[0].association"},
        {"{\"phenomena\":[{\"x\":1}]}", "phenomena[0].unknown field 'x'"},
        {"{\"comment\":5}", "comment: not a string"},
        {"{} x", "text after"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *canon = (char *)1;
        ck_assert_int_eq(ndx__survey_answer_check(bad[i].json, strlen(bad[i].json), &canon), NDX_ERR_FORMAT);
        ck_assert_ptr_null(canon);
        ck_assert_msg(strstr(ndx_last_error(), bad[i].culprit), "%s: message '%s' lacks '%s'", bad[i].json,
                      ndx_last_error(), bad[i].culprit);
    }
    const size_t big = NDX__SURVEY_MAX_ANSWER + 1;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{', huge[big - 1] = '}', huge[big] = 0;
    ck_assert_int_eq(ndx__survey_answer_check(huge, big, NULL), NDX_ERR_FORMAT);
    free(huge);
    /* the canonical form: every key, in order, nulls for absent choices */
    const char *ok = "{\"comment\":\"c\",\"phenomena\":[{\"text\":\"t\",\"descriptors\":[\"anat.texture\"]}]}";
    char *canon;
    ck_assert_int_eq(ndx__survey_answer_check(ok, strlen(ok), &canon), NDX_OK);
    ck_assert_str_eq(canon, "{\"recognizable\":null,\"association\":null,\"multiplicity\":null,\"phenomena\":"
                            "[{\"descriptors\":[\"anat.texture\"],\"text\":\"t\",\"association\":null,"
                            "\"confidence\":null}],\"comment\":\"c\"}");
    free(canon);
}
END_TEST

START_TEST(test_open_refusals)
{
    char p[400];
    ndx__survey_db *db;
    path_of(p, sizeof p, "missing.sqlite");
    ck_assert_int_eq(ndx__survey_open(&db, p, 0, 0), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), p));
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "No such file"));
    /* an SQLite file that is no survey */
    path_of(p, sizeof p, "other.sqlite");
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(p, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(ndx__survey_open(&db, p, 0, 0), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "not a netdx survey"));
    /* a file that is not SQLite at all */
    path_of(p, sizeof p, "text.sqlite");
    FILE *f = fopen(p, "w");
    fputs("hello, this is not a database file, it is long enough to have a header..........", f);
    fclose(f);
    ck_assert_int_ne(ndx__survey_open(&db, p, 0, 0), NDX_OK);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), p));
    /* a newer schema */
    ndx_survey_init_stats st;
    init_crafted("new.sqlite", 2, 0, 1, 0, &st);
    path_of(p, sizeof p, "new.sqlite");
    ck_assert_int_eq(sqlite3_open(p, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(ndx__survey_open(&db, p, 0, 0), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "schema version 2 is newer"));
    ck_assert_int_ne(run("survey export --db %s --out %s/x.jsonl", p, dir), 0);
    ck_assert(output_has("newer"));
    /* create refuses an existing file and leaves it */
    ck_assert_int_eq(ndx__survey_open(&db, p, 1, 0), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "exists already"));
    ck_assert(file_exists(p));
}
END_TEST

START_TEST(test_open_locked)
{
    ndx_survey_init_stats st;
    init_crafted("lock.sqlite", 2, 0, 1, 0, &st);
    char p[400];
    path_of(p, sizeof p, "lock.sqlite");
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(p, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "BEGIN IMMEDIATE; INSERT INTO meta VALUES('x','y')", NULL, NULL, NULL),
                     SQLITE_OK);
    ndx__survey_db *db;
    ck_assert_int_eq(ndx__survey_open(&db, p, 0, 0), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "locked"));
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), p));
    /* read-only opens (export) still work while a writer holds the lock */
    ck_assert_int_eq(ndx__survey_open(&db, p, 0, 1), NDX_OK);
    ndx__survey_close(db);
    ck_assert_int_eq(sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(ndx__survey_open(&db, p, 0, 0), NDX_OK);
    ndx__survey_close(db);
}
END_TEST

/* Whether the file holds the bytes of s. */
static int file_has(const char *path, const char *s)
{
    size_t n;
    char *t = tu_slurp(path, &n);
    if (!t) return 0;
    int found = 0;
    for (size_t i = 0; !found && i + strlen(s) <= n; i++) found = !memcmp(t + i, s, strlen(s));
    free(t);
    return found;
}

START_TEST(test_only_hashes_stored)
{
    ndx_survey_init_stats st;
    init_crafted("tok.sqlite", 2, 0, 1, 0, &st);
    char p[400], wal[420];
    path_of(p, sizeof p, "tok.sqlite");
    snprintf(wal, sizeof wal, "%s-wal", p);
    ck_assert_int_eq(run("survey reader add --db %s carol --role physicist", p), 0);
    char out[400];
    path_of(out, sizeof out, "out");
    char *text = tu_slurp(out, NULL);
    char *t = strstr(text, "login?token=");
    ck_assert_ptr_nonnull(t);
    char token[NDX__SURVEY_TOKEN_HEX + 1];
    memcpy(token, t + 12, NDX__SURVEY_TOKEN_HEX);
    token[NDX__SURVEY_TOKEN_HEX] = 0;
    free(text);
    ndx__survey_db *db = open_db("tok.sqlite");
    ndx__survey_reader r;
    ck_assert_int_eq(ndx__survey_reader_by_token(db, token, &r), NDX_OK);
    ck_assert_str_eq(r.name, "carol");
    char cookie[NDX__SURVEY_TOKEN_HEX + 1];
    ck_assert_int_eq(ndx__survey_session_new(db, r.id, 60, cookie), NDX_OK);
    uint8_t h[32];
    char hash[65];
    ndx__sha256(token, strlen(token), h);
    hex(h, hash);
    ck_assert(file_has(p, hash) || file_has(wal, hash));   /* the hash is there ... */
    ck_assert(!file_has(p, token) && !file_has(wal, token));   /* ... the token is not */
    ck_assert(!file_has(p, cookie) && !file_has(wal, cookie));
    ndx__survey_close(db);
    ck_assert(!file_has(p, token));
    /* a disabled reader's token stops working */
    ck_assert_int_eq(run("survey reader disable --db %s carol", p), 0);
    db = open_db("tok.sqlite");
    ck_assert_int_eq(ndx__survey_reader_by_token(db, token, &r), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx__survey_session_reader(db, cookie, &r), NDX_ERR_INVALID);
    ndx__survey_close(db);
}
END_TEST

/* ---- init ----------------------------------------------------------------------------------- */
START_TEST(test_init_selection)
{
    const uint64_t cancer = (1ull << CRAFT_CANCER) - 1;
    static const struct { int units; double share; int want_cancer; } c[] = {
        {10, 0.6, 6}, {10, 0.3, 3}, {10, 0.8, CRAFT_CANCER}, {10, 0.0, 0}, {50, 0.6, CRAFT_CANCER}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ndx_survey_init_stats st;
        init_crafted("sel.sqlite", c[i].units, c[i].share, 9, 0, &st);
        const int want = c[i].units < CRAFT_UNITS ? c[i].units : CRAFT_UNITS;
        ck_assert_int_eq(st.units, want);
        ck_assert_int_eq(st.cancer_units, c[i].want_cancer);
        ndx__survey_db *db = open_db("sel.sqlite");
        int n, reps;
        const uint64_t bits = picked_units(db, &n, &reps);
        ck_assert_int_eq(n, want);
        ck_assert_int_eq(reps, 0);
        /* the cancer units taken are the highest-fraction ones: units 0.. */
        ck_assert_msg((bits & cancer & ((1ull << c[i].want_cancer) - 1)) == ((1ull << c[i].want_cancer) - 1),
                      "case %zu: cancer units missing", i);
        /* order: fewest negatives first, so every cancer unit precedes the others */
        ndx__survey_unit *u;
        int nu;
        ck_assert_int_eq(ndx__survey_units(db, 1, NDX__SURVEY_PATCHES, 0, &u, &nu), NDX_OK);
        for (int j = 1; j < nu; j++)
            ck_assert_int_le(u[j - 1].npatches - u[j - 1].positives, u[j].npatches - u[j].positives);
        free(u);
        ndx__survey_close(db);
    }
}
END_TEST

START_TEST(test_init_seeded)
{
    ndx_survey_init_stats st;
    int n, reps;
    uint64_t a, b, c;
    init_crafted("s1.sqlite", 10, 0.3, 42, 0, &st);
    ndx__survey_db *db = open_db("s1.sqlite");
    a = picked_units(db, &n, &reps);
    ndx__survey_close(db);
    init_crafted("s2.sqlite", 10, 0.3, 42, 0, &st);
    db = open_db("s2.sqlite");
    b = picked_units(db, &n, &reps);
    ndx__survey_close(db);
    ck_assert_uint_eq(a, b);
    /* other seeds pick other random units (7 of 17 others: 1 in 19448 alike) */
    int differ = 0;
    for (uint64_t s = 1; s <= 3; s++) {
        init_crafted("s3.sqlite", 10, 0.3, s, 0, &st);
        db = open_db("s3.sqlite");
        c = picked_units(db, &n, &reps);
        ndx__survey_close(db);
        differ += c != a;
    }
    ck_assert_int_ge(differ, 2);
    /* repeats: extra survey units pointing at picked ones, after them */
    init_crafted("rep.sqlite", 10, 0.6, 42, 3, &st);
    ck_assert_int_eq(st.repeats, 3);
    ck_assert_int_eq(st.units, 13);
    db = open_db("rep.sqlite");
    ndx__survey_unit *u;
    int nu;
    ck_assert_int_eq(ndx__survey_units(db, 1, 1, 0, &u, &nu), NDX_OK);
    ck_assert_int_eq(nu, 13);
    for (int j = 0; j < nu; j++) {
        if (j < 10) {
            ck_assert_int_eq(u[j].repeat_of, 0);
            continue;
        }
        ck_assert_int_ne(u[j].repeat_of, 0);
        int found = 0;
        for (int k = 0; k < 10; k++)
            if (u[k].id == u[j].repeat_of) {
                found = 1;
                ck_assert_int_eq(u[k].unit, u[j].unit);
            }
        ck_assert(found);
        for (int k = 10; k < j; k++) ck_assert_int_ne(u[k].repeat_of, u[j].repeat_of);
    }
    free(u);
    ndx__survey_close(db);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_sha256_fips);
    tcase_add_test(tc, test_store_round_trip);
    tcase_add_test(tc, test_store_revisions);
    tcase_add_test(tc, test_highlight_overlay);
    tcase_add_test(tc, test_store_concurrent_saves);
    tcase_add_test(tc, test_answer_schema);
    tcase_add_test(tc, test_open_refusals);
    tcase_add_test(tc, test_open_locked);
    tcase_add_test(tc, test_only_hashes_stored);
    tcase_add_test(tc, test_init_selection);
    tcase_add_test(tc, test_init_seeded);
}

int main(int argc, char **argv)
{
    (void)argc;
    return survey_suite(argv, "survey", add_tests);
}
