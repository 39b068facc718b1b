/* Helpers shared by the Check suites: a seeded RNG for test data, NaN
 * poisoning, guard bytes, tolerant comparison and the suite runner. */
#ifndef NDX_TESTUTIL_H
#define NDX_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "netdx.h"
#include "netdx_nn.h"

/* splitmix64: the tests' own generator, independent of the library's RNG. */
static inline uint64_t tu_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* uniform in [-1, 1) */
static inline float tu_uniform(uint64_t *s)
{
    return (float)((tu_next(s) >> 40) * (1.0 / 8388608.0) - 1.0);
}
/* integer in [lo, hi] */
static inline int tu_int(uint64_t *s, int lo, int hi)
{
    return lo + (int)(tu_next(s) % (uint64_t)(hi - lo + 1));
}
static inline void tu_fill(uint64_t *s, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = tu_uniform(s);
}

#define TU_GUARD 16   /* floats of guard after every output buffer */
#define TU_GUARD_VALUE 12345.678f

/* n floats followed by TU_GUARD guard floats; the n are poisoned with NaN. */
static inline float *tu_alloc_poisoned(size_t n)
{
    float *p = malloc((n + TU_GUARD) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    for (size_t i = 0; i < TU_GUARD; i++) p[n + i] = TU_GUARD_VALUE;
    return p;
}
static inline void tu_check_guard(const float *p, size_t n)
{
    for (size_t i = 0; i < TU_GUARD; i++)
        ck_assert_msg(p[n + i] == TU_GUARD_VALUE,
                      "guard float %zu after a buffer of %zu was overwritten", i, n);
}

/* |got - want| <= atol + rtol * |want| for all i; NaN in got always fails.
 * Returns the index of the first mismatch, or -1. */
static inline long tu_mismatch(const float *got, const float *want, size_t n,
                               double atol, double rtol)
{
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (isnan(g) != isnan(w)) return (long)i;
        if (isnan(g)) continue;
        if (fabs(g - w) > atol + rtol * fabs(w)) return (long)i;
    }
    return -1;
}
#define tu_assert_close(got, want, n, atol, rtol, what)                        \
    do {                                                                       \
        long i_ = tu_mismatch((got), (want), (n), (atol), (rtol));             \
        ck_assert_msg(i_ < 0, "%s: element %ld is %.9g, expected %.9g", (what), \
                      i_, i_ < 0 ? 0.0 : (double)(got)[i_],                    \
                      i_ < 0 ? 0.0 : (double)(want)[i_]);                      \
    } while (0)

/* max |got - want| <= tol * max(max |want|, 1e-3): the error relative to the
 * tensor's scale; NaN in got always fails. */
static inline void tu_assert_close_rel(const float *got, const float *want, size_t n,
                                       double tol, const char *what)
{
    double scale = 1e-3, err = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (isnan(got[i]) || e > err) err = isnan(got[i]) ? INFINITY : e, worst = i;
    }
    ck_assert_msg(err <= tol * scale, "%s: element %zu is %.9g, expected %.9g (error %.3g of "
                  "scale %.3g)", what, worst, n ? got[worst] : 0.0, n ? want[worst] : 0.0,
                  err / scale, scale);
}

/* Sets the thread count for a test of results at several thread counts.
 * Built without OpenMP (NO_OMP=1) the library runs one thread whatever it
 * is told, and such a test would pass without testing anything: it fails
 * instead, saying why. */
static inline void tu_threads(int n)
{
#ifndef _OPENMP
    ck_assert_msg(n <= 1, "built without OpenMP (NO_OMP=1): a test of results at %d "
                  "threads cannot run", n);
#endif
    ck_assert_msg(ndx_set_threads(n) == NDX_OK, "threads %d: %s", n, ndx_last_error());
}

/* The netdx binary beside the suite's folder (BUILD/netdx for
 * BUILD/tests/check_x), from the suite's argv[0], into bin (n bytes). */
static inline void tu_netdx_path(const char *argv0, char *bin, size_t n)
{
    char self[1000];
    snprintf(self, sizeof self, "%s", argv0);
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(bin, n, "%s/../netdx", slash ? self : ".");
}

/* The whole file, NUL-terminated (malloc'd; NULL when it cannot be read);
 * *len, when len is not NULL, gets its size. */
static inline char *tu_slurp(const char *path, size_t *len)
{
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    if (len) *len = s ? (size_t)n : 0;
    fclose(f);
    return s;
}

/* Writes n bytes to path (a crafted file for a test of bad input). */
static inline void tu_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Runs the netdx at bin with the arguments (printf-style; NETDX_THREADS=2),
 * its output into dir/out; its exit status, -1 when it did not exit. */
static inline int tu_cli_vrun(const char *bin, const char *dir, const char *fmt, va_list ap)
{
    char args[3000], cmd[4400];
    vsnprintf(args, sizeof args, fmt, ap);
    snprintf(cmd, sizeof cmd, "NETDX_THREADS=2 %s %s > %s/out 2>&1", bin, args, dir);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Whether dir/out (the last run's output) holds what; printed when not. */
static inline int tu_cli_output_has(const char *dir, const char *what)
{
    char p[400];
    snprintf(p, sizeof p, "%s/out", dir);
    char *s = tu_slurp(p, NULL);
    const int has = s && strstr(s, what);
    if (!has) fprintf(stderr, "output lacks '%s':\n%s\n", what, s ? s : "(none)");
    free(s);
    return has;
}

/* A suite's scratch folder: tu_tmpdir_make fills dir (256 bytes) with a
 * fresh /tmp/<prefix>_XXXXXX, tu_tmpdir_remove deletes it and all in it,
 * tu_tmppath gives dir/name (one of four rotating buffers, so a call may
 * take two or three paths). */
static inline void tu_tmpdir_make(char dir[256], const char *prefix)
{
    snprintf(dir, 256, "/tmp/%s_XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void tu_tmpdir_remove(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static inline const char *tu_tmppath(const char *dir, const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Phantom mammograms in data (n patients at 400 um, every one with
 * lesions, seed 3) and their patches.csv; *ps gets the patch counts. */
static inline void tu_phantom(const char *data, int patients, ndx_patch_stats *ps)
{
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = patients, so.seed = 3, so.pixel_um = 400, so.normal_frac = 0;
    ndx_synth_stats ss;
    ck_assert_msg(ndx_synth(data, &so, &ss) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    ck_assert_msg(ndx_patches_build(data, &po, ps) == NDX_OK, "%s", ndx_last_error());
}

/* The phantom fixture of the end-to-end suites: in data, 3 patients (one
 * per split, ~500 patches); at model, a random-init `tiny` (2 classes,
 * 32 px, seed 5).  Nothing when model exists already. */
static inline void tu_phantom_tiny(const char *data, const char *model)
{
    struct stat st;
    if (stat(model, &st) == 0) return;
    ndx_patch_stats ps;
    tu_phantom(data, 3, &ps);
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 5, &net), NDX_OK);
    ck_assert_msg(ndx_safetensors_save(net, model) == NDX_OK, "%s", ndx_last_error());
    ndx_net_free(net);
}

/* Runs one suite with Check's usual summary line; the exit status of main. */
static inline int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
