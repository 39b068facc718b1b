/* Inputs suite (docs/reliability.md): every loader opens regular files
 * only (a FIFO never hangs, a directory says so), messages carry the whole
 * path and the reason however long, a PNG is bounded in decoded pixels
 * (NETDX_MAX_PIXELS), and a bad NETDX_* setting is refused by every
 * command.  The CLI tests run the netdx beside this suite's directory. */
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_lexicon.h"
#include "netdx_nn.h"
#include "testutil.h"
#include "../src/core/core.h"

static char bin[1024], tmpdir[256];

/* printf into a new string. */
static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void setup(void) { tu_tmpdir_make(tmpdir, "ndx_check_inputs"); }
static void teardown(void) { tu_tmpdir_remove(tmpdir); }
static const char *tmp(const char *name) { return tu_tmppath(tmpdir, name); }

static void assert_msg_has(const char *what, const char *context)
{
    ck_assert_msg(strstr(ndx_last_error(), what), "%s: the message lacks '%s': %s", context,
                  what, ndx_last_error());
}

/* ---- regular files only -------------------------------------------------- */

/* Every loader of the library, on one path: its status. */
static ndx_status load_with(int which, const char *path, const char **name)
{
    static const char *names[] = {"png_read", "png_size", "npy_read", "csv_open",
                                  "manifest_read", "ckpt_load", "dissect_load",
                                  "safetensors_meta", "net_load", "lexicon_load"};
    *name = names[which];
    ndx_status st = NDX_OK;
    switch (which) {
    case 0: {
        ndx_image img;
        st = ndx_png_read(path, 0, &img, NULL, 0);
        if (!st) ndx_image_free(&img);
        break;
    }
    case 1: {
        int w, h, b;
        st = ndx_png_size(path, &w, &h, &b);
        break;
    }
    case 2: {
        ndx_tensor t;
        st = ndx_npy_read(path, &t);
        if (!st) ndx_tensor_free(&t);
        break;
    }
    case 3: {
        ndx_csv *c;
        st = ndx_csv_open(path, &c);
        if (!st) ndx_csv_close(c);
        break;
    }
    case 4: {
        ndx_manifest m = {0};
        st = ndx_manifest_read(path, &m);
        ndx_manifest_free(&m);
        break;
    }
    case 5: {
        ndx_ckpt_state s;
        st = ndx_ckpt_load(path, &s, NULL, 0);
        break;
    }
    case 6: {
        ndx_dissect *d = NULL;
        st = ndx_dissect_load(path, &d);
        ndx_dissect_free(d);
        break;
    }
    case 7: {
        char arch[32];
        int nc, sz;
        st = ndx_safetensors_meta(path, arch, sizeof arch, &nc, &sz);
        break;
    }
    case 8: {
        ndx_net *net = NULL;
        st = ndx_net_load(path, &net);
        ndx_net_free(net);
        break;
    }
    default: {
        ndx_lexicon *lex = NULL;
        st = ndx_lexicon_load(path, &lex);
        ndx_lexicon_free(lex);
    }
    }
    return st;
}
#define NLOADERS 10

/* A FIFO with no writer: opening it for reading the usual way blocks
 * forever (the suite's timeout fails the test then). */
START_TEST(fifo_refused_by_every_loader)
{
    const char *fifo = tmp("image.png");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    for (int i = 0; i < NLOADERS; i++) {
        const char *name;
        ck_assert_int_ne(load_with(i, fifo, &name), NDX_OK);
        assert_msg_has(fifo, name);
        assert_msg_has("is a FIFO, not a regular file", name);
    }
}
END_TEST

START_TEST(directory_refused_by_every_loader)
{
    const char *dir = tmp("scan.png");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    for (int i = 0; i < NLOADERS; i++) {
        const char *name;
        ck_assert_int_ne(load_with(i, dir, &name), NDX_OK);
        assert_msg_has(dir, name);
        assert_msg_has("is a directory", name);
        ck_assert_msg(!strstr(ndx_last_error(), "signature") && !strstr(ndx_last_error(), "magic"),
                      "%s: %s", name, ndx_last_error());
    }
}
END_TEST

/* ---- messages -------------------------------------------------------------- */

/* A path of about n bytes under tmpdir: folders of 200 characters. */
static char *long_path(size_t n, int create)
{
    char *p = malloc(n + 300);
    ck_assert_ptr_nonnull(p);
    strcpy(p, tmpdir);
    for (int k = 0; strlen(p) < n; k++) {
        size_t len = strlen(p);
        p[len] = '/';
        memset(p + len + 1, 'a' + k % 26, 200);
        p[len + 201] = 0;
        if (create) ck_assert_msg(mkdir(p, 0755) == 0, "mkdir: %s", strerror(errno));
    }
    return p;
}

START_TEST(long_paths_named_whole)
{
    char *dir = long_path(2500, 0);
    char *png = malloc(strlen(dir) + 20);
    sprintf(png, "%s/mammogram.png", dir);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(png, 0, &img, NULL, 0), NDX_ERR_IO);
    assert_msg_has(png, "png_read");
    assert_msg_has(strerror(ENOENT), "png_read");
    free(png);
    free(dir);
}
END_TEST

/* ndx_patches_read(dir) opens dir/manifest.csv (and dir/patches.csv): the
 * whole name, however long dir is (a 1200-byte buffer cut it to
 * ".../hhh" once). */
START_TEST(long_data_folder_opened_whole)
{
    char *dir = long_path(1500, 1);
    char *man = malloc(strlen(dir) + 20);
    sprintf(man, "%s/manifest.csv", dir);
    ndx_manifest m = {0};
    ck_assert_msg(ndx_manifest_write(man, &m) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_index ix;
    ck_assert_int_ne(ndx_patches_read(dir, &ix), NDX_OK);
    assert_msg_has(man, "patches_read");   /* read whole, refused for having no rows */
    assert_msg_has("no rows", "patches_read");
    ck_assert_int_eq(unlink(man), 0);
    ck_assert_int_ne(ndx_patches_read(dir, &ix), NDX_OK);
    assert_msg_has(man, "patches_read");
    assert_msg_has(strerror(ENOENT), "patches_read");
    free(man);
    free(dir);
}
END_TEST

/* A message may quote the one before it (no fixed buffer, no aliasing). */
START_TEST(message_quotes_the_last_one)
{
    char *big = malloc(3001);
    memset(big, 'x', 3000);
    big[3000] = 0;
    ndx__fail(NDX_ERR_IO, "inner %s end", big);
    ndx__fail(NDX_ERR_FORMAT, "outer: %s", ndx_last_error());
    char *want = malloc(4000);
    sprintf(want, "outer: inner %s end", big);
    ck_assert_str_eq(ndx_last_error(), want);
    free(want);
    free(big);
}
END_TEST

/* .npy: the shape as written, not the header's padding after it. */
START_TEST(npy_message_without_padding)
{
    unsigned char f[128 + 20];
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    memcpy(f, "\x93NUMPY\x01\x00", 8);
    f[8] = 118, f[9] = 0;
    memset(f + 10, ' ', 117);
    memcpy(f + 10, dict, strlen(dict));
    f[127] = '\n';
    memset(f + 128, 0, 20);   /* 5 floats, the shape needs 6 */
    tu_write_bytes(tmp("short.npy"), f, sizeof f);
    ndx_tensor t;
    ck_assert_int_eq(ndx_npy_read(tmp("short.npy"), &t), NDX_ERR_FORMAT);
    assert_msg_has("shape (2, 3) needs", "npy_read");
    ck_assert_msg(!strstr(ndx_last_error(), "  ") && !strstr(ndx_last_error(), "}"), "%s",
                  ndx_last_error());
}
END_TEST

/* ---- memory bounds ---------------------------------------------------------- */

static void put_be32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* A PNG of w x h 16-bit gray pixels with no image data: its header alone. */
static void png_header_only(const char *path, uint32_t w, uint32_t h)
{
    unsigned char b[8 + 25 + 12];
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    put_be32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    put_be32(b + 16, w);
    put_be32(b + 20, h);
    b[24] = 16, b[25] = 0, b[26] = 0, b[27] = 0, b[28] = 0;
    put_be32(b + 29, (uint32_t)crc32(0, b + 12, 17));
    put_be32(b + 33, 0);
    memcpy(b + 37, "IEND", 4);
    put_be32(b + 41, (uint32_t)crc32(0, b + 37, 4));
    tu_write_bytes(path, b, sizeof b);
}

START_TEST(png_pixels_bounded_by_default)
{
    const char *big = tmp("huge.png");
    png_header_only(big, 16000, 16000);
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(big, 0, &img, NULL, 0), NDX_ERR_FORMAT);
    assert_msg_has(big, "16000x16000");
    assert_msg_has("16000x16000 16-bit", "declared size");
    assert_msg_has("67108864", "the limit");
    assert_msg_has("NETDX_MAX_PIXELS", "how to raise it");
    ck_assert_ptr_null(img.px);
}
END_TEST

START_TEST(png_pixel_limit_from_environment)
{
    const char *big = tmp("large.png");
    png_header_only(big, 9000, 8000);   /* 72 Mpixel: over the default */
    ndx_image img;
    ck_assert_int_eq(ndx_png_read(big, 0, &img, NULL, 0), NDX_ERR_FORMAT);
    assert_msg_has("NETDX_MAX_PIXELS", "default limit");
    ck_assert_int_eq(setenv("NETDX_MAX_PIXELS", "80000000", 1), 0);
    ck_assert_int_eq(ndx_init(), NDX_OK);
    /* now past the limit: refused for its missing data instead */
    ck_assert_int_eq(ndx_png_read(big, 0, &img, NULL, 0), NDX_ERR_FORMAT);
    ck_assert_msg(!strstr(ndx_last_error(), "NETDX_MAX_PIXELS"), "%s", ndx_last_error());
    const char *bad[] = {"lots", "0", "-5", "12x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(setenv("NETDX_MAX_PIXELS", bad[i], 1), 0);
        ck_assert_int_eq(ndx_init(), NDX_ERR_INVALID);
        assert_msg_has("NETDX_MAX_PIXELS", bad[i]);
    }
    ck_assert_int_eq(unsetenv("NETDX_MAX_PIXELS"), 0);
    ck_assert_int_eq(ndx_init(), NDX_OK);
    ck_assert_int_eq(ndx_png_read(big, 0, &img, NULL, 0), NDX_ERR_FORMAT);
    assert_msg_has("NETDX_MAX_PIXELS", "limit back to the default");
}
END_TEST

/* ---- the environment, checked by every command -------------------------------- */

static int run(const char *env, const char *args)
{
    char *cmd = strf("%s %s %s > %s/out 2>&1", env, bin, args, tmpdir);
    ck_assert_ptr_nonnull(cmd);
    const int rc = system(cmd);
    free(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int output_has(const char *what) { return tu_cli_output_has(tmpdir, what); }

START_TEST(bad_environment_refused_by_every_command)
{
    const char *t = tmpdir;
    char *args[7] = {strf("info"), strf("info --model tiny"),
                     strf("dissect --merge %s/a %s/b --out %s/m", t, t, t),
                     strf("survey export --db %s/none.sqlite --out %s/x.jsonl", t, t),
                     strf("report --survey %s/none.jsonl --out %s/r", t, t),
                     strf("eval --model %s/none --data %s", t, t),
                     strf("synth --out %s/s --patients 1", t)};
    const char *envs[] = {"NETDX_KERNELS=bogus", "NETDX_THREADS=0", "NETDX_MAX_PIXELS=many",
                          "NETDX_CONV=fast"};
    for (size_t e = 0; e < sizeof envs / sizeof *envs; e++)
        for (int a = 0; a < 7; a++) {
            ck_assert_msg(run(envs[e], args[a]) == 1, "%s netdx %s: not refused", envs[e],
                          args[a]);
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(envs[e], "="), envs[e]);
            ck_assert_msg(output_has(name), "%s netdx %s", envs[e], args[a]);
        }
    for (int a = 0; a < 7; a++) free(args[a]);
    struct stat sb;
    ck_assert_int_ne(stat(tmp("s"), &sb), 0);   /* nothing was made */
    ck_assert_int_eq(run("NETDX_KERNELS=ref", "info"), 0);
    ck_assert(output_has("kernels: ref"));
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("inputs");
    TCase *t = tcase_create("regular_files");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, fifo_refused_by_every_loader);
    tcase_add_test(t, directory_refused_by_every_loader);
    suite_add_tcase(s, t);
    t = tcase_create("messages");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, long_paths_named_whole);
    tcase_add_test(t, long_data_folder_opened_whole);
    tcase_add_test(t, message_quotes_the_last_one);
    tcase_add_test(t, npy_message_without_padding);
    suite_add_tcase(s, t);
    t = tcase_create("memory");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, png_pixels_bounded_by_default);
    tcase_add_test(t, png_pixel_limit_from_environment);
    suite_add_tcase(s, t);
    t = tcase_create("environment");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, bad_environment_refused_by_every_command);
    suite_add_tcase(s, t);
    return tu_run(s);
}
