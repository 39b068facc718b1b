/* The survey's HTTP server on libmicrohttpd: one thread per connection,
 * a connection timeout against slow clients, bodies capped at 64 KiB, a
 * session cookie from a reader's secret link, the security headers on every
 * response, and the routes:
 *
 *   GET  /login?token=T      sets the session cookie, then goes home
 *   GET  /                   home: the reader's unit sets and progress
 *   GET  /set/<id>           overview of a set, one row per unit
 *   GET  /unit/<id>          a unit's 32 top patches and the form
 *   GET  /admin              completion per reader (admins)
 *   GET  /answers[?reader=R] a reader's current answers (own, or admin)
 *   GET  /img/<id>           a stored PNG, by id only
 *   GET  /app.js /style.css /lexicon.json   embedded files
 *   GET  /api/answer?unit=U[&reader=R]      the current answer, JSON
 *   POST /api/answer         {unit, answer, seconds} -> {revision}
 *
 * The store (store.c) serializes its calls; each request is a few of them. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/core.h"
#include "web.h"

const unsigned char *ndx__asset(const char *name, size_t *len);

struct ndx_survey_server {
    struct MHD_Daemon *daemon;
    ndx__web web;
    int port;
};

/* Per connection: the body read so far. */
typedef struct body_state {
    ndx__sb body;
    size_t seen;
    int too_big;
} body_state;

static const char CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

void ndx_survey_server_defaults(ndx_survey_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->bind = "127.0.0.1";
    o->port = 8080;
    o->timeout = 15;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, ndx__reply *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    r->body = NULL;
    MHD_add_response_header(resp, "Content-Type", r->type ? r->type : "text/plain");
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control",
                            r->cache ? "private, max-age=3600" : "no-store");
    if (r->location) MHD_add_response_header(resp, "Location", r->location);
    if (r->set_cookie[0]) MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void reply_bytes(ndx__reply *r, int status, const char *type, const void *data,
                        size_t n)
{
    r->body = malloc(n ? n : 1);
    if (!r->body) {
        ndx__reply_error(r, 500, NULL, "out of memory");
        return;
    }
    memcpy(r->body, data, n);
    r->status = status;
    r->type = type;
    r->len = n;
}

/* The embedded files, by URL. */
static int serve_asset(const char *url, ndx__reply *r)
{
    static const struct { const char *url, *asset, *type; } files[] = {
        {"/app.js", "src/survey/assets/app.js", "text/javascript; charset=utf-8"},
        {"/style.css", "src/survey/assets/style.css", "text/css; charset=utf-8"},
        {"/lexicon.json", "data/birads-lexicon.json", "application/json; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (strcmp(url, files[i].url)) continue;
        size_t n = 0;
        const unsigned char *a = ndx__asset(files[i].asset, &n);
        if (!a) {
            ndx__reply_error(r, 500, NULL, "%s is not built into this netdx", files[i].asset);
            return 1;
        }
        reply_bytes(r, 200, files[i].type, a, n);
        r->cache = 1;
        return 1;
    }
    return 0;
}

static void serve_image(ndx__web *w, const char *idtext, ndx__reply *r)
{
    int64_t id = ndx__web_id(idtext);
    unsigned char *png = NULL;
    size_t n = 0;
    if (!id) {
        ndx__reply_error(r, 404, NULL, "images are served by numeric id only");
        return;
    }
    ndx_status st = ndx__survey_image(ndx__web_rd(w), id, &png, &n, NULL, NULL);
    if (st == NDX_ERR_INVALID) {
        ndx__reply_error(r, 404, NULL, "no image %lld", (long long)id);
        return;
    }
    if (st != NDX_OK) {
        ndx__reply_error(r, 500, NULL, "%s", ndx_last_error());
        return;
    }
    r->status = 200;
    r->type = "image/png";
    r->body = (char *)png;
    r->len = n;
    r->cache = 1;
}

/* GET /login?token=T: a 200 page that moves on to home rather than a 3xx,
 * so the SameSite=Strict cookie is sent when the link was opened from
 * another site (a mail client's web page). */
static void login(ndx__web *w, const char *token, ndx__reply *r)
{
    ndx__survey_reader me;
    if (!token || !*token) {
        ndx__reply_page_error(r, 400, "No token", "Open the personal link you were given.");
        return;
    }
    if (strlen(token) != NDX__SURVEY_TOKEN_HEX ||
        ndx__survey_reader_by_token(ndx__web_rd(w), token, &me) != NDX_OK) {
        ndx__reply_page_error(r, 403, "This link is not valid",
                              "The link is wrong, or its reader was disabled. Ask the "
                              "survey's organiser for a new one.");
        return;
    }
    char cookie[NDX__SURVEY_TOKEN_HEX + 1];
    if (ndx__survey_session_new(w->db, me.id, NDX__WEB_SESSION_TTL, cookie) != NDX_OK) {
        ndx__reply_error(r, 500, NULL, "%s", ndx_last_error());
        return;
    }
    snprintf(r->set_cookie, sizeof r->set_cookie,
             NDX__WEB_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", cookie,
             NDX__WEB_SESSION_TTL);
    ndx__sb b = {0};
    ndx__sb_put(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta http-equiv=\"refresh\" content=\"0; url=/\">"
                    "<title>Signed in</title><link rel=\"stylesheet\" href=\"/style.css\">"
                    "</head><body><main><p>Signed in as ");
    ndx__sb_html(&b, me.name);
    ndx__sb_put(&b, ". <a href=\"/\">Continue to the survey</a>.</p></main></body></html>\n");
    ndx__reply_sb(r, 200, "text/html; charset=utf-8", &b);
}

/* A POST must come from a page of this server: its Origin names the Host. */
static int same_origin(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!origin || !host) return 0;
    const char *rest = !strncmp(origin, "http://", 7) ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8 : NULL;
    return rest && !strcmp(rest, host);
}

static void route_api(ndx__web *w, struct MHD_Connection *c, const ndx__req *q, int post,
                      ndx__reply *r)
{
    if (strcmp(q->url, "/api/answer")) {
        ndx__reply_error(r, 404, NULL, "no such API route");
        return;
    }
    if (!post) {
        ndx__api_answer_get(w, q, r);
        return;
    }
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!same_origin(c))
        ndx__reply_error(r, 403, NULL, "cross-site request refused (Origin must match Host)");
    else if (!type || strncmp(type, "application/json", 16))
        ndx__reply_error(r, 415, NULL, "the body must be application/json");
    else
        ndx__api_answer_post(w, q, r);
}

static void route(ndx__web *w, struct MHD_Connection *c, const char *url, int post,
                  const char *body, size_t body_len, ndx__reply *r)
{
    if (!post && serve_asset(url, r)) return;
    if (!post && !strcmp(url, "/favicon.ico")) {
        r->status = 204;
        r->type = "image/x-icon";
        r->cache = 1;
        return;
    }
    if (!post && !strcmp(url, "/login")) {
        login(w, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"), r);
        return;
    }
    int api = !strncmp(url, "/api/", 5);
    ndx__survey_reader me;
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, NDX__WEB_COOKIE);
    int signed_in = cookie && strlen(cookie) == NDX__SURVEY_TOKEN_HEX &&
                    ndx__survey_session_reader(ndx__web_rd(w), cookie, &me) == NDX_OK;
    if (!signed_in) {
        if (api) ndx__reply_error(r, 401, NULL, "not signed in: open your personal link");
        else ndx__reply_page_error(r, 401, "Not signed in",
                                   "Open the personal link you were given to take part.");
        return;
    }
    ndx__req q = {.method = post ? "POST" : "GET", .url = url, .body = body,
                  .body_len = body_len, .me = &me};
    q.query_unit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "unit");
    q.query_reader = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "reader");
    if (api) {
        route_api(w, c, &q, post, r);
        return;
    }
    if (post) ndx__reply_error(r, 405, NULL, "only GET here");
    else if (!strcmp(url, "/")) ndx__page_home(w, &q, r);
    else if (!strncmp(url, "/set/", 5)) ndx__page_set(w, &q, ndx__web_id(url + 5), r);
    else if (!strncmp(url, "/unit/", 6)) ndx__page_unit(w, &q, ndx__web_id(url + 6), r);
    else if (!strncmp(url, "/img/", 5)) serve_image(w, url + 5, r);
    else if (!strcmp(url, "/admin")) ndx__page_admin(w, &q, r);
    else if (!strcmp(url, "/answers")) ndx__page_answers(w, &q, r);
    else ndx__reply_page_error(r, 404, "Not found", "There is no such page.");
}

/* Reads the body (dropping what passes the cap), then routes. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    (void)version;
    ndx_survey_server *s = cls;
    body_state *bs = *state;
    ndx__reply r = {0};
    int post = !strcmp(method, "POST");
    if (!bs) {
        if (!(bs = calloc(1, sizeof *bs))) return MHD_NO;
        *state = bs;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > NDX__WEB_MAX_BODY) {
            bs->too_big = 1;
            ndx__reply_error(&r, 413, NULL, "the body is over %d bytes", NDX__WEB_MAX_BODY);
            return send_reply(c, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        bs->seen += *upload_size;
        if (bs->seen > NDX__WEB_MAX_BODY) bs->too_big = 1;
        else ndx__sb_putn(&bs->body, upload, *upload_size);
        *upload_size = 0;
        return bs->seen > 4 * (size_t)NDX__WEB_MAX_BODY ? MHD_NO : MHD_YES;
    }
    if (bs->too_big)
        ndx__reply_error(&r, 413, NULL, "the body is over %d bytes", NDX__WEB_MAX_BODY);
    else if (!post && strcmp(method, "GET") && strcmp(method, "HEAD"))
        ndx__reply_error(&r, 405, NULL, "method %s is not allowed", method);
    else if (bs->body.oom)
        ndx__reply_error(&r, 500, NULL, "out of memory");
    else
        route(&s->web, c, url, post, bs->body.s ? bs->body.s : "", bs->body.len, &r);
    return send_reply(c, &r);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    body_state *bs = *state;
    if (!bs) return;
    ndx__sb_free(&bs->body);
    free(bs);
    *state = NULL;
}

/* A listening socket on bind:port (an IPv4 or IPv6 literal). */
static ndx_status listen_on(const char *bind_addr, int port, int *fd_out, int *port_out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, bind_addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof *a4;
    } else if (inet_pton(AF_INET6, bind_addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof *a6;
    } else {
        return ndx__fail(NDX_ERR_INVALID, "survey server: --bind '%s' is not an IPv4 or IPv6 "
                         "address", bind_addr);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) return ndx__fail(NDX_ERR_IO, "survey server: socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
        int e = errno;
        close(fd);
        return ndx__fail(NDX_ERR_IO, "survey server: cannot listen on %s port %d: %s",
                         bind_addr, port, strerror(e));
    }
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port_out = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    *fd_out = fd;
    return NDX_OK;
}

static void close_stores(ndx__web *w)
{
    if (w->db) ndx__survey_close(w->db);
    for (int i = 0; i < NDX__WEB_READERS; i++)
        if (w->rd[i]) ndx__survey_close(w->rd[i]);
    ndx_lexicon_free(w->lex);
}

ndx_status ndx_survey_server_start(const ndx_survey_server_opts *o, ndx_survey_server **out)
{
    *out = NULL;
    if (!o || !o->db || !*o->db)
        return ndx__fail(NDX_ERR_INVALID, "survey server: no database given");
    if (o->port < 0 || o->port > 65535)
        return ndx__fail(NDX_ERR_INVALID, "survey server: port %d is not 0..65535", o->port);
    if (o->timeout < 1 || o->timeout > 3600)
        return ndx__fail(NDX_ERR_INVALID, "survey server: timeout %d s is not 1..3600",
                         o->timeout);
    ndx_survey_server *s = calloc(1, sizeof *s);
    if (!s) return ndx__fail(NDX_ERR_NOMEM, "survey server: out of memory");
    s->web.shuffle = o->shuffle;
    ndx_status st = ndx__survey_open(&s->web.db, o->db, 0, 0);
    for (int i = 0; i < NDX__WEB_READERS && st == NDX_OK; i++)
        st = ndx__survey_open(&s->web.rd[i], o->db, 0, 1);
    if (st == NDX_OK) st = ndx__survey_get_meta(s->web.db, &s->web.meta);
    if (st == NDX_OK) st = ndx_lexicon_load(NULL, &s->web.lex);
    int fd = -1;
    if (st == NDX_OK)
        st = listen_on(o->bind ? o->bind : "127.0.0.1", o->port, &fd, &s->port);
    if (st != NDX_OK) {
        close_stores(&s->web);
        free(s);
        return st;
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
        NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)256, MHD_OPTION_NOTIFY_COMPLETED, on_done, (void *)NULL, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        close_stores(&s->web);
        free(s);
        return ndx__fail(NDX_ERR_IO, "survey server: libmicrohttpd could not start");
    }
    *out = s;
    return NDX_OK;
}

int ndx_survey_server_port(const ndx_survey_server *s) { return s ? s->port : 0; }

void ndx_survey_server_stop(ndx_survey_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    close_stores(&s->web);
    free(s);
}
