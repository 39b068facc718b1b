/* Validation suite (docs/reliability.md): a checksum proves integrity, not
 * validity.  Each test writes a good file, changes one field, re-seals it
 * (the XXH3-64 the writer appends, recomputed here as src/io/file.c does)
 * and asserts that the loader refuses it with a message naming the file
 * and the field.  Also the safetensors rules of the Hugging Face reference
 * (safetensors/src/tensor.rs, Metadata::validate and read_metadata). */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_nn.h"
#include "testutil.h"

static char tmpdir[256];

static void setup(void) { tu_tmpdir_make(tmpdir, "ndx_check_validate"); }
static void teardown(void) { tu_tmpdir_remove(tmpdir); }
static const char *tmp(const char *name) { return tu_tmppath(tmpdir, name); }

/* The file whole; *n its bytes. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    unsigned char *b = (unsigned char *)tu_slurp(path, n);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* The last 8 bytes := XXH3-64 (seed 0) of all before them, little-endian. */
static void reseal(unsigned char *b, size_t n)
{
    const uint64_t d = XXH3_64bits(b, n - 8);
    for (int i = 0; i < 8; i++) b[n - 8 + i] = (unsigned char)(d >> (8 * i));
}

static void assert_refused(ndx_status st, const char *path, const char *field)
{
    ck_assert_msg(st == NDX_ERR_FORMAT, "%s: status %d (%s)", field, st, ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), path), "%s: the message lacks the path: %s", field,
                  ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), field), "the message lacks '%s': %s", field,
                  ndx_last_error());
}

/* ---- checkpoints --------------------------------------------------------------- */

static void put_i64(unsigned char *b, int64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (8 * i));
}

START_TEST(checkpoint_fields_validated)
{
    const char *good = tmp("good.ckpt"), *bad = tmp("bad.ckpt");
    float w[5] = {1, 2, 3, 4, 5};
    ndx_ckpt_array arr[1] = {{"w", w, 5}};
    ndx_ckpt_state st = {.epoch = 3, .batch = 2, .step = 17};
    ndx_rng_seed(&st.rng, 9);
    ck_assert_int_eq(ndx_ckpt_set(&st, "aa", 0.5), NDX_OK);
    ck_assert_int_eq(ndx_ckpt_set(&st, "ab", 0.25), NDX_OK);
    ck_assert_int_eq(ndx_ckpt_save(good, &st, arr, 1), NDX_OK);
    size_t n;
    unsigned char *b = read_bytes(good, &n);
    ndx_ckpt_state got;
    ck_assert_int_eq(ndx_ckpt_load(good, &got, arr, 1), NDX_OK);
    /* header: epoch at 24, batch at 32, step at 40, rng at 48..79 */
    const struct { size_t at; int64_t v; const char *field; } cases[] = {
        {24, -1, "epoch"}, {24, INT64_MIN, "epoch"}, {24, (int64_t)1 << 40, "epoch"},
        {32, -7, "batch"}, {40, -1, "step"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, b, n);
        put_i64(c + cases[i].at, cases[i].v);
        reseal(c, n);
        tu_write_bytes(bad, c, n);
        free(c);
        assert_refused(ndx_ckpt_load(bad, &got, arr, 1), bad, cases[i].field);
    }
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    memset(c + 48, 0, 32);
    reseal(c, n);
    tu_write_bytes(bad, c, n);
    assert_refused(ndx_ckpt_load(bad, &got, arr, 1), bad, "RNG");
    /* the second scalar renamed as the first: meta at 88, u16 len, name, f64 */
    memcpy(c, b, n);
    ck_assert(!memcmp(c + 88 + 2 + 2 + 8 + 2, "ab", 2));
    c[88 + 2 + 2 + 8 + 2 + 1] = 'a';
    reseal(c, n);
    tu_write_bytes(bad, c, n);
    ck_assert_int_eq(ndx_ckpt_load(bad, &got, arr, 1), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), "'aa' is given twice"), "%s", ndx_last_error());
    free(c);
    free(b);
}
END_TEST

/* ---- dissection states ------------------------------------------------------------ */
enum { U = 2, H = 2, W = 2, K = 3, NP = 6, NMASKS = 6, SK_BINS = 2561, HEADER = 520 };

/* Offsets of the state file's arrays (src/dissect/stateio.c's layout). */
enum {
    OFF_MAXS = HEADER + 4 * U,
    OFF_SUMS = OFF_MAXS + 4 * U,
    OFF_HSIZE = OFF_SUMS + 8 * U + 8 * U * SK_BINS + 2 * 8 * U * NMASKS,
    OFF_HEAP = OFF_HSIZE + 4 * U,
    OFF_SCORE = OFF_HEAP + 4 * U * K,
    OFF_ID = OFF_SCORE + 4 * U * K,
};

/* A state of NP patches (statistics only) saved to path; its bytes. */
static unsigned char *good_state(const char *path, size_t *n)
{
    ndx_dissect_config c = {.layer = "conv5", .units = U, .h = H, .w = W, .topk = K,
                            .mode = NDX_THRESHOLD_RELATIVE};
    ndx_dissect *d = NULL;
    ck_assert_msg(ndx_dissect_new(&c, &d) == NDX_OK, "%s", ndx_last_error());
    float maps[NP * U * H * W];
    int64_t ids[NP];
    uint8_t labels[NP];
    uint64_t s = 5;
    for (int i = 0; i < NP * U * H * W; i++) maps[i] = (float)i + tu_uniform(&s) / 4;
    for (int i = 0; i < NP; i++) ids[i] = 100 + i, labels[i] = i % 2;
    ndx_dissect_batch bt = {NP, maps, ids, labels, 0, 0, NULL};
    ck_assert_msg(ndx_dissect_add(d, &bt, NDX_DISSECT_STATS) == NDX_OK, "%s", ndx_last_error());
    ck_assert_msg(ndx_dissect_save(d, path) == NDX_OK, "%s", ndx_last_error());
    ndx_dissect_free(d);
    unsigned char *b = read_bytes(path, n);
    ck_assert_uint_eq(*n, OFF_ID + 8 * U * K + 4 * U * K + U * K + 4 * U * K * H * W + 8);
    return b;
}

static ndx_status load_changed(const unsigned char *b, size_t n, size_t at, const void *v,
                               size_t len, const char *bad)
{
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    memcpy(c + at, v, len);
    reseal(c, n);
    tu_write_bytes(bad, c, n);
    free(c);
    ndx_dissect *d = NULL;
    ndx_status st = ndx_dissect_load(bad, &d);
    ndx_dissect_free(d);
    return st;
}

START_TEST(dissection_state_values_validated)
{
    const char *good = tmp("conv5.dstate"), *bad = tmp("bad.dstate");
    size_t n;
    unsigned char *b = good_state(good, &n);
    ndx_dissect *d = NULL;
    ck_assert_msg(ndx_dissect_load(good, &d) == NDX_OK, "%s", ndx_last_error());
    ndx_dissect_free(d);
    const float inf = INFINITY, nanf = NAN;
    const double nand = NAN;
    assert_refused(load_changed(b, n, OFF_MAXS, &inf, 4, bad), bad, "max score");
    assert_refused(load_changed(b, n, OFF_MAXS + 4, &nanf, 4, bad), bad, "max score");
    assert_refused(load_changed(b, n, OFF_SUMS, &nand, 8, bad), bad, "score sum");
    const int64_t neg = -5, huge = INT64_MAX;
    assert_refused(load_changed(b, n, OFF_ID, &neg, 8, bad), bad, "patch id");
    assert_refused(load_changed(b, n, OFF_ID + 8 * K + 16, &huge, 8, bad), bad, "patch id");
    /* a top-k entry's id given to another entry of the unit, both with
     * distinct scores (the heap's order holds) */
    float sc[K];
    int64_t id[K];
    memcpy(sc, b + OFF_SCORE, sizeof sc);
    memcpy(id, b + OFF_ID, sizeof id);
    ck_assert(sc[0] != sc[1]);
    assert_refused(load_changed(b, n, OFF_ID + 8, &id[0], 8, bad), bad, "twice");
    free(b);
}
END_TEST

/* ---- safetensors --------------------------------------------------------------- */

/* A file: the 8-byte length, header (padded with pad spaces), data bytes. */
static void st_file(const char *path, const char *header, size_t pad, size_t data)
{
    const size_t hl = strlen(header) + pad;
    unsigned char *b = calloc(8 + hl + data + 1, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, strlen(header));
    memset(b + 8 + strlen(header), ' ', pad);
    tu_write_bytes(path, b, 8 + hl + data);
    free(b);
}

static ndx_status st_open(const char *path)
{
    char arch[32];
    int nc, sz;
    return ndx_safetensors_meta(path, arch, sizeof arch, &nc, &sz);
}

#define META "\"__metadata__\":{\"arch\":\"tiny\",\"num_classes\":\"2\"}"

START_TEST(safetensors_strict)
{
    const char *p = tmp("m.safetensors");
    /* the good file */
    st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}," META "}", 3, 11);
    ck_assert_msg(st_open(p) == NDX_OK, "%s", ndx_last_error());
    const struct { const char *header; size_t pad, data; const char *why; } bad[] = {
        /* duplicate keys: cJSON keeps both */
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
         "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}," META "}", 0, 2, "twice"},
        {"{" META "," META "}", 0, 0, "__metadata__"},
        {"{\"__metadata__\":{\"arch\":\"tiny\",\"arch\":\"alexnet\",\"num_classes\":\"2\"}}", 0, 0,
         "twice"},
        /* __metadata__ values only strings */
        {"{\"__metadata__\":{\"arch\":\"tiny\",\"num_classes\":2}}", 0, 0, "not a string"},
        /* a dtype the format does not define */
        {"{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,2]}," META "}", 0, 2,
         "dtype"},
        /* 4-bit values that do not fill whole bytes */
        {"{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}," META "}", 0, 2,
         "whole bytes"},
        /* overlap, gap, bytes past the last tensor */
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}," META "}", 0, 3,
         "overlapping"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}," META "}", 0, 2, "gap"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}," META "}", 0, 2,
         "after the last tensor"},
        /* shape product overflowing */
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,8]}," META "}", 0, 8, "data_offsets"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}," META "}", 0, 1,
         "dimension 0"},
        /* the header: an object, padded with spaces only, valid UTF-8 */
        {"[1,2]", 0, 0, "not a JSON object"},
        {"{" META "}\n", 0, 0, "padded with spaces"},
        {"{" META "}\t", 0, 0, "padded with spaces"},
        {"{\"__metadata__\":{\"arch\":\"tiny\",\"x\":\"\xff\xfe\",\"num_classes\":\"2\"}}", 0, 0,
         "UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        st_file(p, bad[i].header, bad[i].pad, bad[i].data);
        ck_assert_msg(st_open(p) == NDX_ERR_FORMAT, "case %zu (%s) accepted", i, bad[i].why);
        ck_assert_msg(strstr(ndx_last_error(), bad[i].why) && strstr(ndx_last_error(), p),
                      "case %zu: the message lacks '%s': %s", i, bad[i].why, ndx_last_error());
    }
}
END_TEST

/* A header length beyond the reference's 100,000,000 bytes is refused from
 * the length alone (a sparse file: nothing that large is read). */
START_TEST(safetensors_header_length_bounded)
{
    const char *p = tmp("big.safetensors");
    const uint64_t hl = 150000000;
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(hl >> (8 * i));
    ck_assert_uint_eq(fwrite(lb, 1, 8, f), 8);
    ck_assert_uint_eq(fwrite("{", 1, 1, f), 1);
    fclose(f);
    ck_assert_int_eq(truncate(p, (off_t)(8 + hl)), 0);
    ck_assert_int_eq(st_open(p), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), "100000000"), "%s", ndx_last_error());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("validate");
    TCase *t = tcase_create("sealed");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, checkpoint_fields_validated);
    tcase_add_test(t, dissection_state_values_validated);
    suite_add_tcase(s, t);
    t = tcase_create("safetensors");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, safetensors_strict);
    tcase_add_test(t, safetensors_header_length_bounded);
    suite_add_tcase(s, t);
    return tu_run(s);
}
