/* For the survey server's tests and bench: a tiny blocking HTTP/1.1 client
 * over a loopback socket (one request per connection), and a small survey
 * database built through the store's own functions (no dissection needed).
 * Header-only (static functions); include once per program. */
#ifndef NDX_SURVEY_CLIENT_H
#define NDX_SURVEY_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../src/survey/survey.h"

typedef struct sc_resp {
    int status;          /* 0: no answer (connection failed or closed) */
    char *head;          /* the status line and headers, NUL-terminated */
    char *body;          /* NUL-terminated */
    size_t body_len;
} sc_resp;

static inline void sc_free(sc_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* A connected socket to 127.0.0.1:port with a receive timeout; -1 on error. */
static inline int sc_connect(int port, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int sc_send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads a whole response (the server closes after it) into r. */
static inline int sc_read(int fd, sc_resp *r)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (;;) {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); return -1; }
            buf = nb;
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0) break;
        len += (size_t)k;
    }
    buf[len] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        free(buf);
        r->status = 0;
        return -1;
    }
    size_t hl = (size_t)(sep - buf);
    r->head = malloc(hl + 1);
    r->body_len = len - hl - 4;
    r->body = malloc(r->body_len + 1);
    if (!r->head || !r->body) { free(buf); return -1; }
    memcpy(r->head, buf, hl);
    r->head[hl] = 0;
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = 0;
    free(buf);
    return 0;
}

/* One request.  cookie: the session value or NULL; extra: more header lines
 * ("Name: value\r\n"...) or NULL; body may be NULL.  POSTs get the Origin
 * of the server and a JSON type unless extra says otherwise (origin = 0
 * leaves the Origin out). */
static inline int sc_request(int port, const char *method, const char *path, const char *cookie,
                      const char *extra, const char *body, size_t body_len, sc_resp *r)
{
    memset(r, 0, sizeof *r);
    int fd = sc_connect(port, 20);
    if (fd < 0) return -1;
    size_t cap = 1024 + (extra ? strlen(extra) : 0) + (cookie ? strlen(cookie) : 0);
    char *head = malloc(cap);
    if (!head) { close(fd); return -1; }
    int n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                                "%s%s%s%s",
                     method, path, port, cookie ? "Cookie: ndx_session=" : "",
                     cookie ? cookie : "", cookie ? "\r\n" : "", extra ? extra : "");
    if (body) n += snprintf(head + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
    snprintf(head + n, cap - (size_t)n, "\r\n");
    int rc = sc_send_all(fd, head, strlen(head));
    free(head);
    if (!rc && body) rc = sc_send_all(fd, body, body_len);
    if (!rc) rc = sc_read(fd, r);
    close(fd);
    return rc;
}

static inline int sc_get(int port, const char *path, const char *cookie, sc_resp *r)
{
    return sc_request(port, "GET", path, cookie, NULL, NULL, 0, r);
}

/* POST JSON with the server's own Origin. */
static inline int sc_post_json(int port, const char *path, const char *cookie, const char *json,
                        sc_resp *r)
{
    char extra[160];
    snprintf(extra, sizeof extra,
             "Origin: http://127.0.0.1:%d\r\nContent-Type: application/json\r\n", port);
    return sc_request(port, "POST", path, cookie, extra, json, strlen(json), r);
}

/* The value of a header (first one, case-insensitive name) into out. */
static inline int sc_header(const sc_resp *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = r->head; p && (p = strstr(p, "\r\n")); ) {
        p += 2;
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ') p++;
            size_t k = strcspn(p, "\r\n");
            if (k >= n) k = n - 1;
            memcpy(out, p, k);
            out[k] = 0;
            return 1;
        }
    }
    return 0;
}

/* Signs in with a token: the session cookie value into cookie (65 bytes). */
static inline int sc_login(int port, const char *token, char *cookie)
{
    char path[160], sc[256];
    sc_resp r;
    snprintf(path, sizeof path, "/login?token=%.100s", token);
    if (sc_get(port, path, NULL, &r) || r.status != 200 || !sc_header(&r, "Set-Cookie", sc, sizeof sc)) {
        sc_free(&r);
        return -1;
    }
    sc_free(&r);
    if (strncmp(sc, "ndx_session=", 12) || strlen(sc) < 12 + 64) return -1;
    memcpy(cookie, sc + 12, 64);
    cookie[64] = 0;
    return 0;
}

/* ---- a small survey: one set of `units` units with 32 patches each -------- */
static const unsigned char sc_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

typedef struct sc_survey {
    char dir[256], db[300];
    char token[3][NDX__SURVEY_TOKEN_HEX + 1];   /* readers A, B and admin C */
    int64_t reader[3];
    int64_t unit[64];
    int units;
    int64_t image;                               /* an image id */
} sc_survey;

/* Stores the images of unit i's patch k: ids[0..3] get the tile, highlight,
 * outline and mammogram ids; 0 on success.  NULL: four 1x1 images shared
 * by every patch. */
typedef int (*sc_image_fn)(ndx__survey_db *db, int i, int k, int64_t ids[4]);

/* Builds dir/survey.sqlite (dir from mkdtemp, or the given dir when
 * s->dir is set) with hide_ids / hide_labels; 0 on success. */
static inline int sc_make_survey_with(sc_survey *s, int units, int hide_ids, int hide_labels,
                               sc_image_fn images)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", s->dir);
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir[0] ? dir : "/tmp/ndx-survey-XXXXXX");
    if ((!dir[0] && !mkdtemp(s->dir)) || units > 64) return -1;
    snprintf(s->db, sizeof s->db, "%s/survey.sqlite", s->dir);
    ndx__survey_db *db = NULL;
    if (ndx__survey_open(&db, s->db, 1, 0)) return -1;
    ndx__survey_meta m = {0};
    ndx_status st = ndx__survey_get_meta(db, &m);
    m.hide_ids = hide_ids;
    m.hide_labels = hide_labels;
    if (!st) st = ndx__survey_set_meta(db, &m);
    if (!st) st = ndx__survey_begin(db);
    int64_t img[4] = {0};
    for (int i = 0; i < 4 && !st; i++) st = ndx__survey_image_add(db, "test", sc_png, sizeof sc_png, 1, 1, &img[i]);
    s->image = img[0];
    ndx__survey_set set = {0};
    snprintf(set.network, sizeof set.network, "tiny");
    snprintf(set.layer, sizeof set.layer, "features.17");
    snprintf(set.dissection, sizeof set.dissection, "%s", s->dir);
    snprintf(set.hash, sizeof set.hash, "0123456789abcdef");
    set.units = units;
    if (!st) st = ndx__survey_set_add(db, &set);
    static ndx__survey_unit u;
    for (int i = 0; i < units && !st; i++) {
        memset(&u, 0, sizeof u);
        u.set_id = set.id;
        u.unit = 100 + 7 * i;
        u.position = i;
        u.npatches = NDX__SURVEY_PATCHES;
        snprintf(u.best_kind, sizeof u.best_kind, "mass");
        for (int k = 0; k < u.npatches; k++) {
            ndx__survey_patch *p = &u.patches[k];
            p->rank = k;
            p->patch_id = 1000 * i + k;
            p->score = 10.0f - 0.1f * (float)k;
            p->label = (k + i) % 3 == 0;
            u.positives += p->label;
            p->box[0] = 10 * k; p->box[1] = 20; p->box[2] = 224; p->box[3] = 224;
            int64_t own[4];
            if (images && images(db, i, k, own)) st = NDX_ERR_IO;
            const int64_t *use = images ? own : img;
            p->tile = use[0]; p->highlight = use[1]; p->outline = use[2]; p->mammogram = use[3];
            p->mbox[0] = 40 + 9 * k; p->mbox[1] = 120 + 12 * k; p->mbox[2] = 56; p->mbox[3] = 56;
            snprintf(p->source, sizeof p->source, "images/p%03d.png", k);
        }
        if (!st) st = ndx__survey_unit_add(db, &u);
        s->unit[i] = u.id;
    }
    if (!st) st = ndx__survey_commit(db);
    static const char *names[3] = {"reader-a", "reader-b", "admin-c"};
    static const char *roles[3] = {"radiologist", "physicist", "other"};
    for (int i = 0; i < 3 && !st; i++)
        st = ndx__survey_reader_add(db, names[i], roles[i], i == 2, 0, s->token[i], &s->reader[i]);
    ndx__survey_close(db);
    s->units = units;
    return st ? -1 : 0;
}

static inline int sc_make_survey(sc_survey *s, int units, int hide_ids, int hide_labels)
{
    s->dir[0] = 0;
    return sc_make_survey_with(s, units, hide_ids, hide_labels, NULL);
}

static inline void sc_remove_survey(sc_survey *s)
{
    char cmd[400];
    if (!s->dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd)) { /* a leftover temp folder is harmless */ }
}

#endif
