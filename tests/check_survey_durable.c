/* Durability of the survey's saves: 20 readers x 100 saves at once against
 * `netdx survey serve` (the netdx beside this suite's directory), killed
 * with SIGKILL after a random number of acknowledged saves, restarted: every
 * save that got a 2xx is in the store with the exact answer sent and its
 * revision number, PRAGMA integrity_check says ok, and the restarted server
 * takes new saves with the next revision. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "survey_client.h"
#include "testutil.h"

#define READERS 20
#define SAVES 100
#define UNITS 8

static char bin[1024];

typedef struct ack { int64_t unit, revision; int save; } ack;

typedef struct worker {
    int port;
    char cookie[NDX__SURVEY_TOKEN_HEX + 1];
    int64_t reader;
    int index;
    ack acks[SAVES];
    int nacks;
    atomic_int *total;
} worker;

static void comment_of(char *buf, size_t n, int reader, int save)
{
    snprintf(buf, n, "reader %d save %d", reader, save);
}

static void *work(void *arg)
{
    worker *w = arg;
    for (int s = 0; s < SAVES; s++) {
        char body[512], comment[64];
        int64_t unit = 1 + (w->index + s) % UNITS;
        comment_of(comment, sizeof comment, w->index, s);
        snprintf(body, sizeof body,
                 "{\"unit\":%lld,\"answer\":{\"recognizable\":\"%s\",\"phenomena\":[{\"descriptors\":"
                 "[\"finding.mass\"],\"text\":\"t%d\",\"association\":null,\"confidence\":%d}],"
                 "\"comment\":\"%s\"},\"seconds\":%d}",
                 (long long)unit, s % 2 ? "yes" : "no", s, 1 + s % 5, comment, s);
        sc_resp r;
        if (sc_post_json(w->port, "/api/answer", w->cookie, body, &r)) break;   /* server gone */
        long long rev = 0;
        const char *at = r.status == 200 ? strstr(r.body, "\"revision\":") : NULL;
        if (at && sscanf(at + 11, "%lld", &rev) == 1) {
            w->acks[w->nacks++] = (ack){unit, rev, s};
            atomic_fetch_add(w->total, 1);
        }
        sc_free(&r);
    }
    return NULL;
}

/* Starts `netdx survey serve` on a free port; its pid, and the port. */
static pid_t serve(const char *db, int *port)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        execl(bin, bin, "survey", "serve", "--db", db, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[512] = "";
    ck_assert_msg(fgets(line, sizeof line, f) != NULL, "%s printed nothing", bin);
    fclose(f);
    const char *p = strstr(line, "127.0.0.1:");
    ck_assert_msg(p && sscanf(p + 10, "%d", port) == 1, "no port in: %s", line);
    return pid;
}

/* The revision's answer as stored, for reader / unit / revision. */
typedef struct want { int64_t reader, unit, revision; const char *comment; int found, same; } want;

static int find(void *ctx, const ndx__survey_answer *a)
{
    want *w = ctx;
    if (a->reader_id != w->reader || a->unit_id != w->unit || a->revision != w->revision) return 0;
    w->found = 1;
    char needle[80];
    snprintf(needle, sizeof needle, "\"comment\":\"%s\"", w->comment);
    w->same = a->json && strstr(a->json, needle) != NULL;
    return 1;
}

START_TEST(test_kill9_keeps_every_acknowledged_save)
{
    static sc_survey s;
    static worker w[READERS];
    ck_assert_int_eq(sc_make_survey(&s, UNITS, 0, 0), 0);
    ndx__survey_db *db;
    ck_assert_int_eq(ndx__survey_open(&db, s.db, 0, 0), NDX_OK);
    char tokens[READERS][NDX__SURVEY_TOKEN_HEX + 1];
    for (int i = 0; i < READERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "durable-%d", i);
        ck_assert_int_eq(ndx__survey_reader_add(db, name, "other", 0, 0, tokens[i], &w[i].reader),
                         NDX_OK);
    }
    ndx__survey_close(db);

    int port;
    pid_t pid = serve(s.db, &port);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    int kill_after = tu_int(&seed, READERS * SAVES / 10, READERS * SAVES * 9 / 10);
    atomic_int total = 0;
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++) {
        w[i].port = port;
        w[i].index = i;
        w[i].total = &total;
        ck_assert_int_eq(sc_login(port, tokens[i], w[i].cookie), 0);
    }
    for (int i = 0; i < READERS; i++) pthread_create(&th[i], NULL, work, &w[i]);
    while (atomic_load(&total) < kill_after) usleep(200);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (int i = 0; i < READERS; i++) pthread_join(th[i], NULL);
    int acked = atomic_load(&total);
    printf("durable: SIGKILL after %d acknowledged saves (target %d) of %d\n", acked, kill_after,
           READERS * SAVES);
    ck_assert_msg(acked < READERS * SAVES, "the kill after %d saves came too late", kill_after);

    /* restart: every acknowledged save is there, with its content */
    pid = serve(s.db, &port);
    ck_assert_int_eq(ndx__survey_open(&db, s.db, 0, 1), NDX_OK);
    for (int i = 0; i < READERS; i++)
        for (int k = 0; k < w[i].nacks; k++) {
            char comment[64];
            comment_of(comment, sizeof comment, i, w[i].acks[k].save);
            want q = {w[i].reader, w[i].acks[k].unit, w[i].acks[k].revision, comment, 0, 0};
            ndx__survey_answers(db, w[i].reader, 1, find, &q);
            ck_assert_msg(q.found && q.same, "reader %d save %d (unit %lld revision %lld, "
                          "acknowledged before a kill after %d saves) is %s", i,
                          w[i].acks[k].save, (long long)q.unit, (long long)q.revision, kill_after,
                          q.found ? "different" : "missing");
        }
    ndx__survey_close(db);
    sqlite3 *sq;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open_v2(s.db, &sq, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(sq, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(sq, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(sq);

    /* the restarted server goes on: the session survived, the next revision follows */
    const ack *last = w[0].nacks ? &w[0].acks[w[0].nacks - 1] : NULL;
    int64_t unit = last ? last->unit : 1;
    ndx__survey_answer cur = {0};
    ck_assert_int_eq(ndx__survey_open(&db, s.db, 0, 1), NDX_OK);
    ck_assert_int_eq(ndx__survey_answer_current(db, w[0].reader, unit, &cur), NDX_OK);
    ndx__survey_close(db);
    char body[128], want_rev[48];
    snprintf(body, sizeof body, "{\"unit\":%lld,\"answer\":{},\"seconds\":1}", (long long)unit);
    snprintf(want_rev, sizeof want_rev, "\"revision\":%lld", (long long)cur.revisions + 1);
    ndx__survey_answer_free(&cur);
    sc_resp r;
    ck_assert_int_eq(sc_post_json(port, "/api/answer", w[0].cookie, body, &r), 0);
    ck_assert_msg(r.status == 200 && strstr(r.body, want_rev), "%d %s", r.status, r.body);
    sc_free(&r);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sc_remove_survey(&s);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("survey_durable");
    TCase *t = tcase_create("kill9");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_kill9_keeps_every_acknowledged_save);
    suite_add_tcase(s, t);
    return tu_run(s);
}
