/* The survey's HTTP answer bodies: ndx__api_answer_post, the handler of
 * POST /api/answer, on the input as the body (NUL-terminated, at most
 * NDX__WEB_MAX_BODY bytes, as the server hands it over), signed in as a
 * reader of a small survey (tests/survey_client.h: six units) in a scratch
 * folder.  Parsing, duplicate keys, the envelope's fields, then the answer
 * itself (ndx__survey_answer_check: vocabularies, lexicon ids, sizes)
 * and, for a valid one, the save.  The database is put back to its first
 * state every 1000 saves so that it stays small. */
#include "fuzz.h"
#include "survey_client.h"
#include "../src/survey/web.h"

static sc_survey sv;
static char pristine[320];
static ndx__web web;
static ndx__survey_reader me;
static long saves;

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) abort();
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, in) : 0;
    if (!buf || !feof(in)) abort();
    fclose(in);
    fuzz_write(to, buf, n);
    free(buf);
}

static void open_db(void)
{
    char p[340];
    copy_file(pristine, sv.db);
    snprintf(p, sizeof p, "%s-wal", sv.db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", sv.db);
    unlink(p);
    if (ndx__survey_open(&web.db, sv.db, 0, 0) != NDX_OK ||
        ndx__survey_reader_get(web.db, sv.reader[0], &me) != NDX_OK) {
        fprintf(stderr, "fuzz_survey_answer: %s\n", ndx_last_error());
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(sv.dir, sizeof sv.dir, "%s", fuzz_scratch());
    if (sc_make_survey_with(&sv, 6, 0, 0, NULL) != 0) {
        fprintf(stderr, "fuzz_survey_answer: making the survey: %s\n", ndx_last_error());
        abort();
    }
    snprintf(pristine, sizeof pristine, "%s/pristine.sqlite", sv.dir);
    copy_file(sv.db, pristine);
    open_db();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > NDX__WEB_MAX_BODY) return 0;   /* the server answers 413 first */
    char *body = malloc(size + 1);
    if (!body) abort();
    if (size) memcpy(body, data, size);
    body[size] = 0;
    const ndx__req q = {.method = "POST", .url = "/api/answer", .body = body,
                        .body_len = size, .me = &me};
    ndx__reply r = {0};
    fuzz_reset();
    ndx__api_answer_post(&web, &q, &r);
    free(body);
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "%d %.*s", r.status, (int)r.len, r.body);
    if (r.status != 200 && r.status != 400 && r.status != 403 && r.status != 404) {
        fprintf(stderr, "fuzz_survey_answer: status %d: %.*s\n", r.status, (int)r.len,
                r.body ? r.body : "");
        abort();
    }
    if (!r.body || !r.len) abort();
    free(r.body);
    if (r.status == 200 && ++saves % 1000 == 0) {
        ndx__survey_close(web.db);
        open_db();
    }
    return 0;
}
