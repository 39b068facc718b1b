/* What every libFuzzer harness of netdx shares (fuzz/fuzz_*.c; built and
 * run by `make fuzz`, see docs/reliability.md, "Fuzzing").
 *
 * The loaders take paths: a harness hands them its input as a file, an
 * anonymous memfd rewritten for every input and named /proc/self/fd/N (a
 * regular file, so the loaders' regular-file checks pass as for a real
 * one), or as a file in a scratch folder under /dev/shm removed at exit.
 * Each input starts with the per-thread error message cleared; a loader
 * that fails must leave a message (fuzz_check aborts otherwise). */
#ifndef NDX_FUZZ_H
#define NDX_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* memfd_create */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/core/core.h"

/* The input as a file: its path (valid until the next call). */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("ndx-fuzz", 0);
        if (fd < 0) {
            perror("fuzz: memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz: writing the memfd");
        abort();
    }
    return path;
}

/* Writes n bytes to path (aborts on failure: the harness is broken). */
static inline void fuzz_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static char fuzz_scratch_dir[64];
static inline void fuzz_scratch_rm(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_scratch_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_scratch_dir);
}

/* A scratch folder under /dev/shm (else /tmp), made once, removed at exit. */
static inline const char *fuzz_scratch(void)
{
    if (fuzz_scratch_dir[0]) return fuzz_scratch_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "%s/ndx-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_scratch_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_scratch_rm);
    return fuzz_scratch_dir;
}

/* Clears the per-thread error message before an input. */
static inline void fuzz_reset(void)
{
    ndx__fail(NDX_OK, "%s", "");
}

/* A failing loader must say why: an empty message is a bug.  With
 * FUZZ_VERBOSE set in the environment every outcome is printed (to see
 * what an input does when reproducing a crash). */
static inline void fuzz_check(ndx_status st, const char *what)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "%s: %s: %s\n", what, ndx_status_str(st), ndx_last_error());
    if (st != NDX_OK && !ndx_last_error()[0]) {
        fprintf(stderr, "fuzz: %s failed (%s) with an empty message\n", what,
                ndx_status_str(st));
        abort();
    }
}

#endif
