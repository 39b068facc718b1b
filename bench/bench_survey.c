/* The survey server on loopback: answer saves per second and their latency
 * (p50 / p99, one connection per request, as a browser's fetch after an
 * idle spell) at 1, 10 and 50 readers saving at once, and the unit page's
 * time (GET /unit/<id>: the 32 patches and the form; loopback round trip
 * included, so an upper bound on the server's time).  The survey is a
 * store-built one (tests/survey_client.h) in a temporary folder; saves are
 * durable (WAL, synchronous=FULL) as in production. */
#include <pthread.h>
#include <stdio.h>

#include "../tests/survey_client.h"
#include "bench_util.h"
#include "netdx_survey.h"

#define MAX_READERS 50
#define UNITS 8

typedef struct reader {
    int port, index, saves, failed;
    char cookie[NDX__SURVEY_TOKEN_HEX + 1];
    double *lat;              /* seconds per save */
} reader;

static void *saver(void *arg)
{
    reader *r = arg;
    for (int s = 0; s < r->saves; s++) {
        char body[400];
        snprintf(body, sizeof body,
                 "{\"unit\":%d,\"answer\":{\"recognizable\":\"yes\",\"association\":\"benign\","
                 "\"phenomena\":[{\"descriptors\":[\"finding.calcifications\","
                 "\"calc_benign.round\"],\"text\":\"round calcifications %d\",\"association\":"
                 "\"benign\",\"confidence\":3}],\"comment\":\"\"},\"seconds\":4.5}",
                 1 + (r->index + s) % UNITS, s);
        sc_resp resp;
        double t0 = bench_now();
        int rc = sc_post_json(r->port, "/api/answer", r->cookie, body, &resp);
        r->lat[s] = bench_now() - t0;
        if (rc || resp.status != 200) r->failed++;
        sc_free(&resp);
    }
    return NULL;
}

static double pct(double *t, int n, double p)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp);
    int i = (int)(p * (n - 1) + 0.5);
    return t[i];
}

static int saves_row(reader *rd, int readers, int per_reader)
{
    pthread_t th[MAX_READERS];
    int n = readers * per_reader, failed = 0;
    double *all = malloc((size_t)n * sizeof *all);
    if (!all) return -1;
    double t0 = bench_now();
    for (int i = 0; i < readers; i++) {
        rd[i].saves = per_reader;
        rd[i].failed = 0;
        pthread_create(&th[i], NULL, saver, &rd[i]);
    }
    for (int i = 0; i < readers; i++) pthread_join(th[i], NULL);
    double wall = bench_now() - t0;
    for (int i = 0; i < readers; i++) {
        memcpy(all + i * per_reader, rd[i].lat, (size_t)per_reader * sizeof *all);
        failed += rd[i].failed;
    }
    double p50 = pct(all, n, 0.5), p99 = pct(all, n, 0.99), max = all[n - 1];
    printf("| %d | %d | %.0f | %.2f | %.2f | %.2f | %d |\n", readers, n, n / wall, 1e3 * p50,
           1e3 * p99, 1e3 * max, failed);
    free(all);
    return failed ? -1 : 0;
}

static int unit_page(int port, const char *cookie, int64_t unit)
{
    enum { N = 200 };
    double t[N];
    char path[48];
    size_t bytes = 0;
    snprintf(path, sizeof path, "/unit/%lld", (long long)unit);
    for (int i = 0; i < N; i++) {
        sc_resp r;
        double t0 = bench_now();
        int rc = sc_get(port, path, cookie, &r);
        t[i] = bench_now() - t0;
        bytes = r.body_len;
        if (rc || r.status != 200) {
            fprintf(stderr, "bench_survey: GET %s: %d\n", path, r.status);
            sc_free(&r);
            return -1;
        }
        sc_free(&r);
    }
    printf("\nUnit page (GET /unit/<id>, %zu bytes of HTML, 32 patches), %d loads one after "
           "another: p50 %.2f ms, p99 %.2f ms (target < 20 ms).\n",
           bytes, N, 1e3 * pct(t, N, 0.5), 1e3 * pct(t, N, 0.99));
    return 0;
}

int main(void)
{
    static sc_survey s;
    static reader rd[MAX_READERS];
    static double lat[MAX_READERS][400];
    if (sc_make_survey(&s, UNITS, 0, 0)) {
        fprintf(stderr, "bench_survey: %s\n", ndx_last_error());
        return 1;
    }
    ndx__survey_db *db;
    char tokens[MAX_READERS][NDX__SURVEY_TOKEN_HEX + 1];
    int ok = ndx__survey_open(&db, s.db, 0, 0) == NDX_OK;
    for (int i = 0; ok && i < MAX_READERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench-%d", i);
        ok = ndx__survey_reader_add(db, name, "other", 0, 0, tokens[i], NULL) == NDX_OK;
    }
    if (ok) ndx__survey_close(db);
    ndx_survey_server_opts o;
    ndx_survey_server *srv = NULL;
    ndx_survey_server_defaults(&o);
    o.db = s.db;
    o.port = 0;
    if (!ok || ndx_survey_server_start(&o, &srv) != NDX_OK) {
        fprintf(stderr, "bench_survey: %s\n", ndx_last_error());
        sc_remove_survey(&s);
        return 1;
    }
    int port = ndx_survey_server_port(srv), status = 0;
    for (int i = 0; i < MAX_READERS && !status; i++) {
        rd[i] = (reader){.port = port, .index = i, .lat = lat[i]};
        status = sc_login(port, tokens[i], rd[i].cookie);
    }
    printf("Answer saves (POST /api/answer, one connection each, WAL + synchronous=FULL) on "
           "loopback, server in-process (a thread per connection).\n\n");
    printf("| readers at once | saves | saves/s | p50 ms | p99 ms | max ms | failed |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    static const int readers[3] = {1, 10, 50}, per[3] = {400, 60, 20};
    for (int k = 0; k < 3 && !status; k++) status = saves_row(rd, readers[k], per[k]);
    if (!status) status = unit_page(port, rd[0].cookie, s.unit[0]);
    ndx_survey_server_stop(srv);
    sc_remove_survey(&s);
    return status ? 1 : 0;
}
