/* The inputs the fuzzers found (fuzz/crashes/NAME/..., docs/reliability.md)
 * replayed through the ordinary build, so that `make check` and `make
 * check-asan` catch a regression without clang: each loader must return,
 * and name what it refuses (a non-empty ndx_last_error()).  `make
 * fuzz-regress` replays the same files through the harnesses themselves.  Harnesses whose loader
 * needs a prepared folder (patches, cbis, survey, report) are replayed by
 * fuzz-regress only. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_lexicon.h"
#include "testutil.h"
#include "../src/io/safetensors.h"

/* The bytes of path + their XXH3-64 (as the checkpoint and state
 * harnesses seal their inputs) into a new temporary file out; 0 on
 * success. */
static int sealed_copy(const char *path, char out[64])
{
    snprintf(out, 64, "/tmp/check_fuzz.XXXXXX");
    int fd = mkstemp(out);
    if (fd < 0) return -1;
    close(fd);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 8, f);
    fclose(f);
    uint64_t h = ndx_hash64(buf, n, 0);
    for (int i = 0; i < 8; i++) buf[n + (size_t)i] = (unsigned char)(h >> (8 * i));
    f = fopen(out, "wb");
    if (!f) return -1;
    int bad = fwrite(buf, 1, n + 8, f) != n + 8;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* One input through the loader its harness names; the loader's status. */
static ndx_status replay(const char *harness, const char *path)
{
    if (!strcmp(harness, "fuzz_png")) {
        ndx_image img;
        int w, h, bits;
        ndx_status st = ndx_png_read(path, 4 << 20, &img, NULL, 0);
        if (st == NDX_OK) ndx_image_free(&img);
        return st ? st : ndx_png_size(path, &w, &h, &bits);
    }
    if (!strcmp(harness, "fuzz_dicom")) {   /* "DICM" at byte 128 makes it DICOM */
        ndx_image img;
        ndx_status st = ndx_image_read(path, 4 << 20, &img, NULL);
        if (st == NDX_OK) ndx_image_free(&img);
        return st;
    }
    if (!strcmp(harness, "fuzz_npy")) {
        ndx_tensor t;
        ndx_status st = ndx_npy_read(path, &t);
        if (st == NDX_OK) ndx_tensor_free(&t);
        return st;
    }
    if (!strcmp(harness, "fuzz_safetensors")) {
        ndx__st s;
        ndx_status st = ndx__st_open(&s, path);
        for (int i = 0; st == NDX_OK && i < s.n; i++)
            if (ndx__st_is_float(&s.e[i])) st = ndx__st_read(&s, &s.e[i], NULL);
        if (s.f) ndx__st_close(&s);
        return st;
    }
    if (!strcmp(harness, "fuzz_manifest")) {
        ndx_manifest m;
        ndx_status st = ndx_manifest_read(path, &m);
        if (st == NDX_OK) ndx_manifest_free(&m);
        return st;
    }
    if (!strcmp(harness, "fuzz_lexicon")) {
        ndx_lexicon *lex = NULL;
        ndx_status st = ndx_lexicon_load(path, &lex);
        ndx_lexicon_free(lex);
        return st;
    }
    char sealed[64];
    if (!strcmp(harness, "fuzz_checkpoint")) {
        ck_assert_int_eq(sealed_copy(path, sealed), 0);
        float w[6], b[2];
        const ndx_ckpt_array a[2] = {{"w", w, 6}, {"b", b, 2}};
        ndx_ckpt_state s;
        ndx_status st = ndx_ckpt_load(sealed, &s, a, 2);
        remove(sealed);
        return st;
    }
    if (!strcmp(harness, "fuzz_dissect_state")) {
        ck_assert_int_eq(sealed_copy(path, sealed), 0);
        ndx_dissect *d = NULL;
        ndx_status st = ndx_dissect_load(sealed, &d);
        ndx_dissect_free(d);
        remove(sealed);
        return st;
    }
    return NDX_OK;   /* replayed by make fuzz-regress only */
}

START_TEST(crash_inputs_are_refused)
{
    DIR *top = opendir("fuzz/crashes");
    ck_assert_msg(top != NULL, "fuzz/crashes: run the suite from the source tree");
    int n = 0;
    for (struct dirent *h; (h = readdir(top));) {
        if (h->d_name[0] == '.') continue;
        char dir[512];
        snprintf(dir, sizeof dir, "fuzz/crashes/%s", h->d_name);
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "%s: not a folder", dir);
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            ndx__fail(NDX_OK, "%s", "");
            const ndx_status st = replay(h->d_name, path);
            if (st != NDX_OK) ck_assert_msg(ndx_last_error()[0], "%s: no message", path);
            n++;
        }
        closedir(d);
    }
    closedir(top);
    ck_assert_int_gt(n, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuzz");
    TCase *t = tcase_create("crashes");
    tcase_add_test(t, crash_inputs_are_refused);
    suite_add_tcase(s, t);
    return tu_run(s);
}
