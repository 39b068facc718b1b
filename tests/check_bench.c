/* netdx bench and ndx_fma_peak: the shape of the output, not the speed.
 *   - ndx_fma_peak: bad arguments refused with a message naming them; a
 *     peak that is positive and finite on 1 and 2 threads;
 *   - `netdx bench --quick --json --threads 2 --net tiny`: one JSON object
 *     naming the kernel set in use, rows in order (per thread count 1, 2:
 *     peak, three sgemm shapes, conv, net), each number finite and
 *     positive, shares equal to GFLOP/s over that thread count's peak,
 *     images/s equal to 1000 / ms, a peak RSS;
 *   - the markdown table: its header and one row per benchmark;
 *   - bad usage (exit 2) and an unknown network (exit 1, named).
 * The binary is the netdx beside this suite's directory (BUILD/netdx). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "netdx.h"
#include "testutil.h"

static char bin[1024], dir[256];

/* Runs netdx with the arguments: stdout into dir/out, stderr into dir/err;
 * its exit status, -1 when it did not exit. */
static int run(const char *args)
{
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "%s %s > %s/out 2> %s/err", bin, args, dir, dir);
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *name)
{
    char *s = tu_slurp(tu_tmppath(dir, name), NULL);
    ck_assert_msg(s, "no %s", name);
    return s;
}

START_TEST(test_fma_peak)
{
    double g = -1;
    ck_assert_int_eq(ndx_fma_peak(0, 0.01, &g), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "threads 0"));
    ck_assert_int_eq(ndx_fma_peak(1, 0, &g), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "seconds"));
    ck_assert_int_eq(ndx_fma_peak(1, 0.01, NULL), NDX_ERR_INVALID);
    for (int th = 1; th <= 2; th++) {
        ck_assert_msg(ndx_fma_peak(th, 0.01, &g) == NDX_OK, "%s", ndx_last_error());
        ck_assert_msg(isfinite(g) && g > 0, "%d threads: %g GFLOP/s", th, g);
    }
}
END_TEST

static double num(const cJSON *o, const char *key, int row)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "row %d: %s is not a number", row, key);
    ck_assert_msg(isfinite(v->valuedouble) && v->valuedouble > 0, "row %d: %s = %g", row, key,
                  v->valuedouble);
    return v->valuedouble;
}

static void is_null(const cJSON *o, const char *key, int row)
{
    ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key)),
                  "row %d: %s should be null", row, key);
}

START_TEST(test_bench_json)
{
    ck_assert_int_eq(run("bench --quick --json --threads 2 --net tiny"), 0);
    char *out = slurp("out");
    cJSON *o = cJSON_Parse(out);
    ck_assert_msg(o, "not JSON:\n%s", out);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kernels");
    ck_assert(cJSON_IsString(k));
    ck_assert_str_eq(k->valuestring, ndx_kernel_set());
    ck_assert_int_eq((int)num(o, "threads", -1), 2);
    num(o, "peak_rss_mib", -1);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "quick")));
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
    ck_assert_int_eq(cJSON_GetArraySize(rows), 12);
    static const char *const kinds[6] = {"peak", "sgemm", "sgemm", "sgemm", "conv", "net"};
    double peak = 0;
    for (int i = 0; i < 12; i++) {
        const cJSON *r = cJSON_GetArrayItem(rows, i);
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(r, "kind");
        ck_assert_msg(cJSON_IsString(kind) && !strcmp(kind->valuestring, kinds[i % 6]),
                      "row %d is not %s", i, kinds[i % 6]);
        ck_assert_int_eq((int)num(r, "threads", i), 1 + i / 6);
        ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "shape")));
        if (i % 6 == 0) {
            peak = num(r, "gflops", i);
            ck_assert_double_eq(num(r, "share_of_peak", i), 1.0);
            is_null(r, "ms", i), is_null(r, "images_per_s", i);
        } else if (i % 6 == 5) {
            const double ms = num(r, "ms", i);
            ck_assert_double_eq_tol(num(r, "images_per_s", i), 1e3 / ms, 1e-9 * 1e3 / ms);
            is_null(r, "gflops", i), is_null(r, "share_of_peak", i);
        } else {
            num(r, "ms", i);
            const double g = num(r, "gflops", i);
            ck_assert_double_eq_tol(num(r, "share_of_peak", i), g / peak, 1e-9 * g / peak);
            is_null(r, "images_per_s", i);
        }
    }
    cJSON_Delete(o);
    free(out);
}
END_TEST

START_TEST(test_bench_table)
{
    ck_assert_int_eq(run("bench --quick --threads 1 --net tiny"), 0);
    char *out = slurp("out");
    ck_assert_msg(strstr(out, "| benchmark | shape | threads | ms | GFLOP/s | share of FMA "
                              "peak | images/s |"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, ndx_kernel_set()));
    int rows = 0;
    for (const char *p = out; (p = strstr(p, "\n| ")); p++)
        rows += strncmp(p, "\n| benchmark", 12) && strncmp(p, "\n| ---", 6);
    ck_assert_msg(rows == 6, "%d rows:\n%s", rows, out);
    ck_assert_ptr_nonnull(strstr(out, "| net | tiny 3x"));
    ck_assert_ptr_nonnull(strstr(out, "peak RSS: "));
    free(out);
}
END_TEST

START_TEST(test_bench_bad_usage)
{
    ck_assert_int_eq(run("bench --threads 0"), 2);
    char *err = slurp("err");
    ck_assert_msg(strstr(err, "--threads"), "%s", err);
    free(err);
    ck_assert_int_eq(run("bench --quick --what"), 2);
    ck_assert_int_eq(run("bench --quick extra"), 2);
    ck_assert_int_eq(run("bench --quick --threads 1 --net nosuchnet"), 1);
    err = slurp("err");
    ck_assert_msg(strstr(err, "nosuchnet"), "%s", err);
    free(err);
    ck_assert_int_eq(run("bench --help"), 0);
}
END_TEST

static void setup(void) { tu_tmpdir_make(dir, "ndx_check_bench"); }
static void teardown(void) { tu_tmpdir_remove(dir); }

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fma_peak);
    tcase_add_test(tc, test_bench_json);
    tcase_add_test(tc, test_bench_table);
    tcase_add_test(tc, test_bench_bad_usage);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
