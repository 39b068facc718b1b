/* netdx under mpirun (tools/mpi.c, docs/mpi.md), on the phantom+tiny
 * fixture of check_dissect_run:
 *   - netdx info names the MPI library, or "none"; a netdx built without
 *     MPI refuses to run as one of several ranks (then the mpirun tests
 *     print a SKIPPED line, counted by tests/run.sh);
 *   - `mpirun -np 1/2/3 netdx dissect` writes units.csv and units.json
 *     byte-identical to the one-process run (two layers, quantile and
 *     relative thresholds);
 *   - bad options under several ranks fail the whole job. */
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netdx.h"
#include "testutil.h"

static char bin[1024], dir[256], data[320], model[320];

static void setup(void)
{
    strcpy(dir, "/tmp/ndx_check_mpi_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(model, sizeof model, "%s/tiny.safetensors", dir);
    tu_phantom_tiny(data, model);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* Runs a shell command line (env and launcher in front of netdx allowed);
 * returns its exit status, output in DIR/out. */
static int run(const char *fmt, ...)
{
    char args[3000], cmd[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "OMPI_MCA_rmaps_base_oversubscribe=1 %s > %s/out 2>&1", args, dir);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *out_text(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/out", dir);
    return tu_slurp(p, NULL);
}

/* 1 when netdx info says MPI is built in. */
static int mpi_built(void)
{
    ck_assert_int_eq(run("%s info", bin), 0);
    char *s = out_text();
    ck_assert_ptr_nonnull(s);
    const char *m = strstr(s, "\nmpi: ");
    ck_assert_msg(m != NULL, "netdx info has no mpi line:\n%s", s);
    const int built = strncmp(m + 6, "none", 4) != 0;
    free(s);
    return built;
}

START_TEST(test_info_or_refusal)
{
    if (mpi_built()) {
        char *s = out_text();
        ck_assert_ptr_nonnull(strstr(s, "\nmpi: Open MPI"));
        free(s);
        return;
    }
    /* as rank 0 of 2 of a launcher: refused, the reason said */
    ck_assert_int_eq(run("OMPI_COMM_WORLD_SIZE=2 %s info", bin), 1);
    char *s = out_text();
    ck_assert_msg(strstr(s, "built without MPI") != NULL, "%s", s);
    free(s);
    ck_assert_int_eq(run("PMI_SIZE=3 %s info", bin), 1);
    ck_assert_int_eq(run("OMPI_COMM_WORLD_SIZE=1 %s info", bin), 0);
}
END_TEST

/* Open MPI does not free all it allocates (its own and its plugins'
 * buffers), so under AddressSanitizer LeakSanitizer would fail every rank
 * at exit: leak checks are off for the ranks only.  netdx's own leaks are
 * still caught by the plain runs of this suite and by every other suite. */
#define MPIRUN "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 mpirun"

static int same_file(const char *a, const char *b, const char *name)
{
    char p[700], q[700];
    snprintf(p, sizeof p, "%s/%s/%s", dir, a, name);
    snprintf(q, sizeof q, "%s/%s/%s", dir, b, name);
    size_t n = 0, m = 0;
    char *x = tu_slurp(p, &n), *y = tu_slurp(q, &m);
    const int same = x && y && n == m && n > 0 && !memcmp(x, y, n);
    if (!same) fprintf(stderr, "%s differs from %s\n", q, p);
    free(x), free(y);
    return same;
}

START_TEST(test_mpirun_identical)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun dissection (netdx built without MPI: make MPI=1)\n");
        return;
    }
    static const char *const modes[2] = {"quantile", "relative"};
    const char *mode = modes[_i];
    char opts[1200];
    snprintf(opts, sizeof opts, "dissect --model %s --data %s --split train --layer features.14 "
             "--layer features.17 --topk 8 --batch 7 --images 0 --threads 1 --threshold %s",
             model, data, mode);
    ck_assert_int_eq(run("%s %s --out %s/plain-%s", bin, opts, dir, mode), 0);
    for (int np = 1; np <= 3; np++) {
        ck_assert_msg(run(MPIRUN " -np %d --oversubscribe %s %s --out %s/np%d-%s", np, bin, opts,
                          dir, np, mode) == 0, "mpirun -np %d failed: %.3000s", np, out_text());
        char sub[64], plain[64];
        snprintf(sub, sizeof sub, "np%d-%s", np, mode);
        snprintf(plain, sizeof plain, "plain-%s", mode);
        ck_assert(same_file(plain, sub, "units.csv"));
        ck_assert(same_file(plain, sub, "units.json"));
    }
}
END_TEST

START_TEST(test_mpirun_bad_options)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun bad options (netdx built without MPI: make MPI=1)\n");
        return;
    }
    ck_assert_int_ne(run(MPIRUN " -np 2 --oversubscribe %s dissect --model %s --data %s "
                         "--layer features.17 --shard 0/2 --out %s/bad", bin, model, data, dir), 0);
    char *s = out_text();
    ck_assert_msg(strstr(s, "the ranks are the shards") != NULL, "%s", s);
    free(s);
    /* a layer the model lacks: every rank fails, the job exits non-zero */
    ck_assert_int_ne(run(MPIRUN " -np 2 --oversubscribe %s dissect --model %s --data %s "
                         "--layer nope --out %s/bad", bin, model, data, dir), 0);
    struct stat st;
    char p[400];
    snprintf(p, sizeof p, "%s/bad", dir);
    ck_assert(stat(p, &st) != 0);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("mpirun");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_info_or_refusal);
    tcase_add_loop_test(tc, test_mpirun_identical, 0, 2);
    tcase_add_test(tc, test_mpirun_bad_options);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
