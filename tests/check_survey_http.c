/* The survey's HTTP server, in-process on an ephemeral loopback port,
 * through a socket client: every route, sign-in and sessions, saving and
 * revisions, every bad input of the answer API (each a 4xx that stores
 * nothing), reader isolation, escaping, the security headers, images by id
 * only, slow clients, and the start-up errors. */
#include <check.h>
#include <sqlite3.h>
#include <strings.h>
#include <time.h>

#include "netdx_survey.h"
#include "survey_client.h"
#include "testutil.h"

static sc_survey S;
static ndx_survey_server *srv;
static int port;
static char ck[3][NDX__SURVEY_TOKEN_HEX + 1];   /* session cookies of A, B, C */

static void start(int hide, int shuffle, int timeout)
{
    ck_assert_int_eq(sc_make_survey(&S, 8, hide, hide), 0);
    ndx_survey_server_opts o;
    ndx_survey_server_defaults(&o);
    o.db = S.db;
    o.port = 0;
    o.shuffle = shuffle;
    o.timeout = timeout;
    ck_assert_msg(ndx_survey_server_start(&o, &srv) == NDX_OK, "%s", ndx_last_error());
    port = ndx_survey_server_port(srv);
    ck_assert_int_gt(port, 0);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(sc_login(port, S.token[i], ck[i]), 0);
}
static void setup(void) { start(0, 0, 2); }
static void setup_hidden(void) { start(1, 1, 2); }
static void teardown(void)
{
    ndx_survey_server_stop(srv);
    srv = NULL;
    sc_remove_survey(&S);
}

/* GET path as reader i (-1: no cookie); checks the status; returns body. */
static sc_resp get_as(int i, const char *path, int want)
{
    sc_resp r;
    ck_assert_int_eq(sc_get(port, path, i < 0 ? NULL : ck[i], &r), 0);
    ck_assert_msg(r.status == want, "GET %s: status %d, expected %d: %s", path, r.status, want,
                  r.body);
    return r;
}

/* Whether an HTML page is well-formed: every tag closed in order (void
 * elements aside), every attribute value quoted, no bare '<' in text;
 * why gets the first problem. */
static int html_ok(const char *s, char *why, size_t n)
{
    static const char *const voids[] = {"meta", "link", "img", "input", "br", "hr", NULL};
    char stack[64][16];
    int depth = 0;
    for (const char *p = s; (p = strchr(p, '<'));) {
        if (!strncmp(p, "<!DOCTYPE html>", 15)) {
            p += 15;
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789");
        const char *q = name + len;
        int quoted = 0;
        for (; *q && (quoted || *q != '>'); q++) {
            if (*q == '"') quoted = !quoted;
            else if (*q == '=' && !quoted && q[1] != '"') {
                snprintf(why, n, "unquoted attribute at byte %ld", (long)(q - s));
                return 0;
            }
        }
        if (!len || len > 15 || !*q) {
            snprintf(why, n, "a bare '<' or an unterminated tag at byte %ld", (long)(p - s));
            return 0;
        }
        char tag[16];
        memcpy(tag, name, len);
        tag[len] = 0;
        p = q + 1;
        int is_void = 0;
        for (int k = 0; voids[k]; k++) is_void |= !strcmp(tag, voids[k]);
        if (is_void) continue;
        if (!closing) {
            if (depth == 64) return snprintf(why, n, "nested too deep"), 0;
            snprintf(stack[depth++], 16, "%s", tag);
        } else if (!depth || strcmp(stack[depth - 1], tag)) {
            snprintf(why, n, "</%.15s> at byte %ld closes <%.15s>", tag, (long)(p - s),
                     depth ? stack[depth - 1] : "nothing");
            return 0;
        } else {
            depth--;
        }
    }
    if (depth) snprintf(why, n, "<%.15s> never closed", stack[depth - 1]);
    return depth == 0;
}

/* GET as reader i, status 200, a well-formed page. */
static sc_resp page_as(int i, const char *path)
{
    char why[160];
    sc_resp r = get_as(i, path, 200);
    ck_assert_msg(html_ok(r.body, why, sizeof why), "%s: %s", path, why);
    return r;
}

static sc_resp post_as(int i, const char *json, int want)
{
    sc_resp r;
    ck_assert_int_eq(sc_post_json(port, "/api/answer", ck[i], json, &r), 0);
    ck_assert_msg(r.status == want, "POST %s: status %d, expected %d: %s", json, r.status, want,
                  r.body);
    return r;
}

/* Revisions reader i saved for unit u, read from the store itself. */
static int64_t stored(int i, int64_t unit)
{
    ndx__survey_db *db;
    ndx__survey_answer a = {0};
    ck_assert_int_eq(ndx__survey_open(&db, S.db, 0, 1), NDX_OK);
    ck_assert_int_eq(ndx__survey_answer_current(db, S.reader[i], unit, &a), NDX_OK);
    int64_t n = a.revisions;
    ndx__survey_answer_free(&a);
    ndx__survey_close(db);
    return n;
}

static const char GOOD[] =
    "{\"recognizable\":\"yes\",\"association\":\"malignant\",\"multiplicity\":\"multiple\","
    "\"phenomena\":[{\"descriptors\":[\"finding.mass\",\"mass_margin.spiculated\"],"
    "\"text\":\"spiculated mass\",\"association\":\"malignant\",\"confidence\":4},"
    "{\"descriptors\":[\"anat.pectoral_muscle\"],\"text\":\"\",\"association\":\"none\","
    "\"confidence\":null}],\"comment\":\"ok\"}";

static char *body_for(int64_t unit, const char *answer)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "{\"unit\":%lld,\"answer\":%s,\"seconds\":12.5}",
             (long long)unit, answer);
    return buf;
}

START_TEST(test_security_headers_everywhere)
{
    char path[64], v[512];
    const char *paths[] = {"/", "/set/1", "/admin", "/answers", "/app.js", "/style.css",
                           "/lexicon.json", "/nope", "/api/answer?unit=1"};
    snprintf(path, sizeof path, "/unit/%lld", (long long)S.unit[0]);
    for (int k = 0; k < 10; k++) {
        sc_resp r;
        ck_assert_int_eq(sc_get(port, k < 9 ? paths[k] : path, k == 2 ? ck[0] : ck[2], &r), 0);
        ck_assert_int_gt(r.status, 0);
        ck_assert_msg(sc_header(&r, "Content-Security-Policy", v, sizeof v), "no CSP on %s",
                      k < 9 ? paths[k] : path);
        ck_assert_ptr_nonnull(strstr(v, "script-src 'self'"));
        ck_assert_ptr_null(strstr(v, "unsafe-inline"));
        ck_assert(sc_header(&r, "X-Content-Type-Options", v, sizeof v) && !strcmp(v, "nosniff"));
        sc_free(&r);
    }
}
END_TEST

START_TEST(test_login_sets_strict_cookie)
{
    char path[128], v[256];
    snprintf(path, sizeof path, "/login?token=%s", S.token[0]);
    sc_resp r = get_as(-1, path, 200);
    ck_assert(sc_header(&r, "Set-Cookie", v, sizeof v));
    ck_assert_ptr_nonnull(strstr(v, "HttpOnly"));
    ck_assert_ptr_nonnull(strstr(v, "SameSite=Strict"));
    ck_assert_ptr_nonnull(strstr(r.body, "url=/"));
    sc_free(&r);
    r = get_as(-1, "/login", 400);
    sc_free(&r);
    r = get_as(-1, "/login?token=0000000000000000000000000000000000000000000000000000000000000000",
               403);
    sc_free(&r);
    r = get_as(-1, "/login?token=../../etc/passwd", 403);
    sc_free(&r);
    r = get_as(-1, "/", 401);
    sc_free(&r);
    r = get_as(-1, "/img/1", 401);
    sc_free(&r);
    r = get_as(-1, "/api/answer?unit=1", 401);
    ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
    sc_free(&r);
    ck_assert_int_eq(sc_get(port, "/", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", &r), 0);
    ck_assert_int_eq(r.status, 401);
    sc_free(&r);
}
END_TEST

START_TEST(test_pages)
{
    char path[64];
    sc_resp r = page_as(0, "/");
    ck_assert_ptr_nonnull(strstr(r.body, "reader-a"));
    ck_assert_ptr_nonnull(strstr(r.body, "<progress value=\"0\" max=\"8\""));
    snprintf(path, sizeof path, "href=\"/unit/%lld\">Resume", (long long)S.unit[0]);
    ck_assert_msg(strstr(r.body, path), "home has no resume link to the first unit: %s", r.body);
    ck_assert_ptr_nonnull(strstr(r.body, "tiny / features.17"));
    sc_free(&r);

    r = page_as(0, "/set/1");
    int rows = 0, thumbs = 0;
    for (const char *p = r.body; (p = strstr(p, "class=\"unit-row\"")); p++) rows++;
    for (const char *p = r.body; (p = strstr(p, "class=\"thumb\"")); p++) thumbs++;
    ck_assert_int_eq(rows, 8);
    ck_assert_int_eq(thumbs, 8 * 8);
    ck_assert_ptr_null(strstr(r.body, "[response recorded]"));
    ck_assert_ptr_nonnull(strstr(r.body, "not necessarily"));
    sc_free(&r);

    snprintf(path, sizeof path, "/unit/%lld", (long long)S.unit[1]);
    r = page_as(0, path);
    int patches = 0;
    for (const char *p = r.body; (p = strstr(p, "class=\"patch\"")); p++) patches++;
    ck_assert_int_eq(patches, 32);
    ck_assert_ptr_nonnull(strstr(r.body, "Do these images show recognizable phenomena?"));
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"t-ol\""));
    ck_assert_ptr_nonnull(strstr(r.body, "data-label="));
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"prev\""));
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"next\""));
    ck_assert_ptr_null(strstr(r.body, "<script>"));
    ck_assert_ptr_null(strstr(r.body, "style=\""));
    sc_free(&r);

    r = get_as(0, "/set/99", 404);
    sc_free(&r);
    r = get_as(0, "/unit/99999", 404);
    sc_free(&r);
    r = get_as(0, "/unit/abc", 404);
    sc_free(&r);
    r = get_as(0, "/nothing-here", 404);
    sc_free(&r);
}
END_TEST

START_TEST(test_assets_and_images)
{
    char path[64], v[128];
    sc_resp r = get_as(0, "/app.js", 200);
    ck_assert(sc_header(&r, "Content-Type", v, sizeof v) && strstr(v, "javascript"));
    ck_assert_ptr_nonnull(strstr(r.body, "textContent"));
    sc_free(&r);
    r = get_as(0, "/lexicon.json", 200);
    ck_assert_ptr_nonnull(strstr(r.body, "mass_margin.spiculated"));
    sc_free(&r);
    r = get_as(0, "/style.css", 200);
    sc_free(&r);
    snprintf(path, sizeof path, "/img/%lld", (long long)S.image);
    r = get_as(0, path, 200);
    ck_assert(sc_header(&r, "Content-Type", v, sizeof v) && !strcmp(v, "image/png"));
    ck_assert_uint_eq(r.body_len, sizeof sc_png);
    ck_assert_int_eq(memcmp(r.body, sc_png, sizeof sc_png), 0);
    sc_free(&r);
    const char *bad[] = {"/img/99999", "/img/../survey.sqlite", "/img/..%2fsurvey.sqlite",
                         "/img/1.png", "/img/-1", "/img/", "/img/%2e%2e/%2e%2e/etc/passwd"};
    for (int k = 0; k < 7; k++) {
        ck_assert_int_eq(sc_get(port, bad[k], ck[0], &r), 0);
        ck_assert_msg(r.status == 404, "%s: %d", bad[k], r.status);
        ck_assert_ptr_null(strstr(r.body, "SQLite"));
        sc_free(&r);
    }
}
END_TEST

START_TEST(test_save_revisions_and_prefill)
{
    char path[96];
    sc_resp r = post_as(0, body_for(S.unit[2], GOOD), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"revision\":1"));
    sc_free(&r);
    r = post_as(0, body_for(S.unit[2], "{\"recognizable\":\"no\"}"), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"revision\":2"));
    sc_free(&r);
    ck_assert_int_eq(stored(0, S.unit[2]), 2);
    snprintf(path, sizeof path, "/api/answer?unit=%lld", (long long)S.unit[2]);
    r = get_as(0, path, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"revision\":2"));
    ck_assert_ptr_nonnull(strstr(r.body, "\"recognizable\":\"no\""));
    sc_free(&r);
    r = get_as(0, "/set/1", 200);
    ck_assert_ptr_nonnull(strstr(r.body, "[response recorded]"));
    sc_free(&r);
    r = get_as(0, "/", 200);
    ck_assert_ptr_nonnull(strstr(r.body, "<progress value=\"1\" max=\"8\""));
    ck_assert_ptr_nonnull(strstr(r.body, "2 answers submitted"));
    sc_free(&r);
    /* B has nothing yet: the same unit reads as unanswered for B */
    snprintf(path, sizeof path, "/api/answer?unit=%lld", (long long)S.unit[2]);
    r = get_as(1, path, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"answer\":null"));
    sc_free(&r);
}
END_TEST

/* Each bad body gets its status and stores nothing. */
START_TEST(test_bad_answers_store_nothing)
{
    static char big[70000];
    ck_assert_int_eq(S.unit[0], 1);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "{\"unit\":1,\"answer\":{\"comment\":\"", 31);
    static struct { const char *body, *field; int status; } cases[] = {
        {"{\"unit\":1,", NULL, 400},
        {"[1,2,3]", NULL, 400},
        {"{\"unit\":1,\"answer\":{},\"seconds\":1} trailing", NULL, 400},
        {"{\"unit\":1,\"answer\":{},\"seconds\":1,\"extra\":true}", "extra", 400},
        {"{\"unit\":\"1\",\"answer\":{},\"seconds\":1}", "unit", 400},
        {"{\"unit\":1.5,\"answer\":{},\"seconds\":1}", "unit", 400},
        {"{\"answer\":{},\"seconds\":1}", "unit", 400},
        {"{\"unit\":1,\"answer\":[],\"seconds\":1}", "answer", 400},
        {"{\"unit\":1,\"answer\":{},\"seconds\":-3}", "seconds", 400},
        {"{\"unit\":1,\"answer\":{},\"seconds\":\"5\"}", "seconds", 400},
        {"{\"unit\":1,\"unit\":2,\"answer\":{},\"seconds\":1}", "unit", 400},
        {"{\"unit\":1,\"answer\":{\"mood\":\"happy\"},\"seconds\":1}", "answer", 400},
        {"{\"unit\":1,\"answer\":{\"recognizable\":\"maybe\"},\"seconds\":1}", "answer", 400},
        {"{\"unit\":1,\"answer\":{\"recognizable\":3},\"seconds\":1}", "answer", 400},
        {"{\"unit\":1,\"answer\":{\"phenomena\":[{\"confidence\":7}]},\"seconds\":1}", "answer", 400},
        {"{\"unit\":1,\"answer\":{\"phenomena\":[{\"descriptors\":[\"mass.bogus\"]}]},\"seconds\":1}",
         "answer", 400},
        {"{\"unit\":1,\"answer\":{\"phenomena\":[{\"descriptors\":[\"../x\"]}]},\"seconds\":1}",
         "answer", 400},
        {"{\"unit\":99999,\"answer\":{},\"seconds\":1}", "unit", 404},
        {"{\"unit\":1,\"answer\":{},\"seconds\":1,\"reader\":0}", "reader", 400},
    };
    int64_t before = stored(0, S.unit[0]);
    char want[64];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char body[512];
        snprintf(body, sizeof body, "%s", cases[k].body);
        /* unit 1 in the cases means this survey's first unit */
        sc_resp r = post_as(0, body, cases[k].status);
        ck_assert_msg(strstr(r.body, "\"error\":"), "%s: no JSON error: %s", body, r.body);
        if (cases[k].field) {
            snprintf(want, sizeof want, "\"field\":\"%s\"", cases[k].field);
            ck_assert_msg(strstr(r.body, want), "%s: %s does not name %s", body, r.body,
                          cases[k].field);
        }
        sc_free(&r);
    }
    /* over 64 KiB, announced and not (chunked) */
    sc_resp r;
    ck_assert_int_eq(sc_post_json(port, "/api/answer", ck[0], big, &r), 0);
    ck_assert_int_eq(r.status, 413);
    sc_free(&r);
    int fd = sc_connect(port, 20);
    ck_assert_int_ge(fd, 0);
    char head[512];
    snprintf(head, sizeof head, "POST /api/answer HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: "
             "http://127.0.0.1:%d\r\nContent-Type: application/json\r\nCookie: ndx_session=%s"
             "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n%zx\r\n",
             port, port, ck[0], strlen(big));
    ck_assert_int_eq(sc_send_all(fd, head, strlen(head)), 0);
    ck_assert_int_eq(sc_send_all(fd, big, strlen(big)), 0);
    ck_assert_int_eq(sc_send_all(fd, "\r\n0\r\n\r\n", 7), 0);
    ck_assert_int_eq(sc_read(fd, &r), 0);
    close(fd);
    ck_assert_int_eq(r.status, 413);
    sc_free(&r);
    ck_assert_int_eq(stored(0, S.unit[0]), before);
    ck_assert_int_eq(before, 0);
}
END_TEST

/* Cross-site and malformed requests: refused before anything is read. */
START_TEST(test_cross_site_and_types_refused)
{
    const char *body = body_for(S.unit[0], GOOD);
    char extra[256];
    struct { const char *origin_and_type; int status; } cases[] = {
        {"Content-Type: application/json\r\n", 403},
        {"Origin: http://evil.example\r\nContent-Type: application/json\r\n", 403},
        {"Origin: http://127.0.0.1:1\r\nContent-Type: application/json\r\n", 403},
        {"Origin: null\r\nContent-Type: application/json\r\n", 403},
        {"Origin: http://127.0.0.1:%d\r\nContent-Type: text/plain\r\n", 415},
        {"Origin: http://127.0.0.1:%d\r\n", 415},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sc_resp r;
        snprintf(extra, sizeof extra, cases[k].origin_and_type, port);
        ck_assert_int_eq(sc_request(port, "POST", "/api/answer", ck[0], extra, body,
                                    strlen(body), &r), 0);
        ck_assert_msg(r.status == cases[k].status, "case %zu: %d", k, r.status);
        sc_free(&r);
    }
    /* a NUL inside the body */
    static const char nul[] = "{\"unit\":1,\"answer\":{\"comment\":\"a\0b\"},\"seconds\":1}";
    snprintf(extra, sizeof extra,
             "Origin: http://127.0.0.1:%d\r\nContent-Type: application/json\r\n", port);
    sc_resp r;
    ck_assert_int_eq(sc_request(port, "POST", "/api/answer", ck[0], extra, nul, sizeof nul - 1,
                                &r), 0);
    ck_assert_int_eq(r.status, 400);
    sc_free(&r);
    /* other methods and POSTs to pages */
    ck_assert_int_eq(sc_request(port, "PUT", "/api/answer", ck[0], extra, body, strlen(body), &r), 0);
    ck_assert_int_eq(r.status, 405);
    sc_free(&r);
    ck_assert_int_eq(sc_request(port, "DELETE", "/", ck[0], NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 405);
    sc_free(&r);
    ck_assert_int_eq(sc_post_json(port, "/set/1", ck[0], body, &r), 0);
    ck_assert_int_eq(r.status, 405);
    sc_free(&r);
    ck_assert_int_eq(stored(0, S.unit[0]), 0);
}
END_TEST

/* Reader A cannot read or write B's answers, by URL or by body; the admin
 * reads everyone's. */
START_TEST(test_reader_isolation)
{
    char path[128], body[4096];
    sc_resp r = post_as(1, body_for(S.unit[3], GOOD), 200);
    sc_free(&r);
    snprintf(path, sizeof path, "/api/answer?unit=%lld&reader=%lld", (long long)S.unit[3],
             (long long)S.reader[1]);
    r = get_as(0, path, 403);
    ck_assert_ptr_null(strstr(r.body, "spiculated"));
    sc_free(&r);
    r = get_as(2, path, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "spiculated"));
    sc_free(&r);
    snprintf(path, sizeof path, "/answers?reader=%lld", (long long)S.reader[1]);
    r = get_as(0, path, 403);
    ck_assert_ptr_null(strstr(r.body, "spiculated"));
    sc_free(&r);
    r = get_as(2, path, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "spiculated"));
    ck_assert_ptr_nonnull(strstr(r.body, "Spiculated <code>mass_margin.spiculated</code>"));
    sc_free(&r);
    r = get_as(0, "/answers", 200);
    ck_assert_ptr_null(strstr(r.body, "spiculated"));
    sc_free(&r);
    r = get_as(0, "/admin", 403);
    sc_free(&r);
    r = page_as(2, "/admin");
    ck_assert_ptr_nonnull(strstr(r.body, "reader-b"));
    ck_assert_ptr_nonnull(strstr(r.body, "<progress value=\"1\" max=\"8\""));
    sc_free(&r);
    /* writing as B from A's session */
    snprintf(body, sizeof body, "{\"unit\":%lld,\"answer\":{},\"seconds\":1,\"reader\":%lld}",
             (long long)S.unit[3], (long long)S.reader[1]);
    r = post_as(0, body, 403);
    sc_free(&r);
    ck_assert_int_eq(stored(1, S.unit[3]), 1);
    ck_assert_int_eq(stored(0, S.unit[3]), 0);
    /* naming oneself is fine */
    snprintf(body, sizeof body, "{\"unit\":%lld,\"answer\":{},\"seconds\":1,\"reader\":%lld}",
             (long long)S.unit[3], (long long)S.reader[0]);
    r = post_as(0, body, 200);
    sc_free(&r);
    ck_assert_int_eq(stored(0, S.unit[3]), 1);
}
END_TEST

/* Free text is stored as given and shown escaped in every HTML page. */
START_TEST(test_script_text_escaped)
{
    const char *ans = "{\"phenomena\":[{\"descriptors\":[],\"text\":\"<script>alert(1)</script>\","
                      "\"association\":null,\"confidence\":null}],"
                      "\"comment\":\"<img src=x onerror=alert(2)> \\\"q\\\" & 'a'\"}";
    sc_resp r = post_as(0, body_for(S.unit[4], ans), 200);
    sc_free(&r);
    char path[96];
    snprintf(path, sizeof path, "/answers?reader=%lld", (long long)S.reader[0]);
    for (int who = 0; who < 3; who += 2) {
        r = page_as(who, path);
        ck_assert_ptr_null(strstr(r.body, "<script>alert"));
        ck_assert_ptr_null(strstr(r.body, "<img src=x"));
        ck_assert_ptr_nonnull(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
        ck_assert_ptr_nonnull(strstr(r.body, "&lt;img src=x onerror=alert(2)&gt; &quot;q&quot; "
                                             "&amp; &#39;a&#39;"));
        sc_free(&r);
    }
    /* the API gives the text back as given, as JSON that a browser will not sniff */
    snprintf(path, sizeof path, "/api/answer?unit=%lld", (long long)S.unit[4]);
    r = get_as(0, path, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "<script>alert(1)</script>"));
    char v[128];
    ck_assert(sc_header(&r, "Content-Type", v, sizeof v) && strstr(v, "application/json"));
    sc_free(&r);
}
END_TEST

/* A client that sends half a request and stalls is cut off. */
START_TEST(test_slow_client_cut_off)
{
    int fd = sc_connect(port, 10);
    ck_assert_int_ge(fd, 0);
    const char *part = "POST /api/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{";
    ck_assert_int_eq(sc_send_all(fd, part, strlen(part)), 0);
    time_t t0 = time(NULL);
    char buf[256];
    ssize_t k;
    while ((k = recv(fd, buf, sizeof buf, 0)) > 0) {}
    close(fd);
    ck_assert_int_eq(k, 0);   /* closed by the server, not our 10 s timeout */
    ck_assert_int_le(time(NULL) - t0, 6);
    /* the server still answers others */
    sc_resp r = get_as(0, "/", 200);
    sc_free(&r);
}
END_TEST

/* hide_ids and hide_labels (and the shuffled order) on the pages. */
START_TEST(test_hidden_ids_labels_shuffle)
{
    sc_resp r = get_as(0, "/", 200);
    ck_assert_ptr_null(strstr(r.body, "features.17"));
    ck_assert_ptr_nonnull(strstr(r.body, "Unit set 1"));
    sc_free(&r);
    r = get_as(0, "/set/1", 200);
    ck_assert_ptr_null(strstr(r.body, "features.17"));
    ck_assert_ptr_null(strstr(r.body, "Unit 100<"));
    ck_assert_ptr_null(strstr(r.body, "class=\"pos\""));
    ck_assert_ptr_null(strstr(r.body, "class=\"ol\""));
    /* the order is a permutation, stable for a reader, different between readers */
    char *a1 = strdup(r.body);
    sc_free(&r);
    r = get_as(0, "/set/1", 200);
    ck_assert_str_eq(a1, r.body);
    sc_free(&r);
    char order[3][64] = {{0}};
    for (int who = 0; who < 3; who++) {
        r = get_as(who, "/set/1", 200);
        int n = 0;
        for (const char *p = r.body; (p = strstr(p, "<tr id=\"u")) && n < 60; p += 9)
            order[who][n++] = (char)('0' + atoi(p + 9));
        ck_assert_int_eq(n, 8);
        sc_free(&r);
    }
    ck_assert_msg(strcmp(order[0], order[1]) || strcmp(order[0], order[2]),
                  "three readers got one order: %s", order[0]);
    free(a1);
    char path[64];
    snprintf(path, sizeof path, "/unit/%lld", (long long)S.unit[0]);
    r = get_as(0, path, 200);
    ck_assert_ptr_null(strstr(r.body, "features.17"));
    ck_assert_ptr_null(strstr(r.body, "data-label"));
    ck_assert_ptr_null(strstr(r.body, "t-ol"));
    sc_free(&r);
}
END_TEST

START_TEST(test_start_errors)
{
    ndx_survey_server_opts o;
    ndx_survey_server *s = NULL;
    ndx_survey_server_defaults(&o);
    o.port = 0;
    o.db = "/nonexistent/dir/survey.sqlite";
    ck_assert_int_ne(ndx_survey_server_start(&o, &s), NDX_OK);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "/nonexistent/dir/survey.sqlite"));
    ck_assert_ptr_null(s);
    ck_assert_int_eq(sc_make_survey(&S, 2, 0, 0), 0);
    o.db = S.db;
    o.bind = "not-an-address";
    ck_assert_int_eq(ndx_survey_server_start(&o, &s), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "not-an-address"));
    o.bind = "127.0.0.1";
    o.timeout = 0;
    ck_assert_int_eq(ndx_survey_server_start(&o, &s), NDX_ERR_INVALID);
    o.timeout = 5;
    /* a port in use */
    ck_assert_int_eq(ndx_survey_server_start(&o, &s), NDX_OK);
    o.port = ndx_survey_server_port(s);
    ndx_survey_server *s2 = NULL;
    ck_assert_int_eq(ndx_survey_server_start(&o, &s2), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "in use"));
    ndx_survey_server_stop(s);
    /* a newer schema */
    sqlite3 *q;
    ck_assert_int_eq(sqlite3_open(S.db, &q), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(q, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(q);
    o.port = 0;
    ck_assert_int_ne(ndx_survey_server_start(&o, &s), NDX_OK);
    ck_assert_msg(strstr(ndx_last_error(), "newer") || strstr(ndx_last_error(), "schema"),
                  "%s", ndx_last_error());
    /* not a survey at all */
    FILE *f = fopen(S.db, "w");
    fputs("hello", f);
    fclose(f);
    ck_assert_int_ne(ndx_survey_server_start(&o, &s), NDX_OK);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), S.db));
    sc_remove_survey(&S);
}
END_TEST

/* A database another process holds a write lock on. */
START_TEST(test_locked_db)
{
    ck_assert_int_eq(sc_make_survey(&S, 2, 0, 0), 0);
    sqlite3 *q;
    ck_assert_int_eq(sqlite3_open(S.db, &q), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(q, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE", NULL,
                                  NULL, NULL), SQLITE_OK);
    ndx_survey_server_opts o;
    ndx_survey_server *s = NULL;
    ndx_survey_server_defaults(&o);
    o.port = 0;
    o.db = S.db;
    ck_assert_int_ne(ndx_survey_server_start(&o, &s), NDX_OK);
    ck_assert_msg(strstr(ndx_last_error(), "lock") || strstr(ndx_last_error(), "busy"), "%s",
                  ndx_last_error());
    sqlite3_exec(q, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(q);
    sc_remove_survey(&S);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("survey_http");
    TCase *t = tcase_create("server");
    tcase_set_timeout(t, 60);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_security_headers_everywhere);
    tcase_add_test(t, test_login_sets_strict_cookie);
    tcase_add_test(t, test_pages);
    tcase_add_test(t, test_assets_and_images);
    tcase_add_test(t, test_save_revisions_and_prefill);
    tcase_add_test(t, test_bad_answers_store_nothing);
    tcase_add_test(t, test_cross_site_and_types_refused);
    tcase_add_test(t, test_reader_isolation);
    tcase_add_test(t, test_script_text_escaped);
    tcase_add_test(t, test_slow_client_cut_off);
    suite_add_tcase(s, t);
    TCase *h = tcase_create("hidden");
    tcase_add_checked_fixture(h, setup_hidden, teardown);
    tcase_add_test(h, test_hidden_ids_labels_shuffle);
    suite_add_tcase(s, h);
    TCase *e = tcase_create("startup");
    tcase_set_timeout(e, 60);
    tcase_add_test(e, test_start_errors);
    tcase_add_test(e, test_locked_db);
    suite_add_tcase(s, e);
    return tu_run(s);
}
