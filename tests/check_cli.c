/* The netdx dissect command end to end: phantom data (netdx synth, netdx
 * patches), a random-init `tiny` saved as safetensors, then
 *   - one run: exit status, units.csv (a row per unit, IoU in [0, 1], finite
 *     thresholds), units.json (the same units, top-k ids and scores in
 *     order), index.html, unit strips and the state file;
 *   - two shards (--shard 0/2, 1/2) merged with --merge: units.csv equal to
 *     the one run's (numbers within 1e-6 relative: the mean's sum order);
 *   - bad input: a missing layer or model, a bad --shard, merging a
 *     directory without states: non-zero exit, the culprit named, and an
 *     existing output left as it was.
 * The binary is the netdx beside this suite's directory (BUILD/netdx). */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"

static char bin[1024], dir[256];

/* Runs a shell command line; returns its exit status, output in DIR/out. */
static int run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int rc = tu_cli_vrun(bin, dir, fmt, ap);
    va_end(ap);
    return rc;
}

static int output_has(const char *what) { return tu_cli_output_has(dir, what); }

static int exists(const char *fmt, const char *a)
{
    char p[600];
    snprintf(p, sizeof p, fmt, dir, a);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* Phantom data (6 patients: 4 train, 1 val, 1 test at 400 um) and the
 * model, once. */
static void setup(void)
{
    strcpy(dir, "/tmp/ndx_check_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(run("synth --out %s/data --patients 6 --seed 3 --pixel-um 400 --normal-frac 0",
                         dir), 0);
    ck_assert_int_eq(run("patches --data %s/data", dir), 0);
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 5, &net), NDX_OK);
    char p[400];
    snprintf(p, sizeof p, "%s/tiny.safetensors", dir);
    ck_assert_msg(ndx_safetensors_save(net, p) == NDX_OK, "%s", ndx_last_error());
    ndx_net_free(net);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* units.csv as rows of fields. */
typedef struct table {
    int rows, cols;
    char *text;
    char *cell[200][64];
} table;

static void read_table(table *t, const char *sub)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/units.csv", dir, sub);
    t->text = tu_slurp(p, NULL);
    ck_assert_msg(t->text != NULL, "no %s", p);
    t->rows = 0;
    for (char *line = strtok(t->text, "\n"); line && t->rows < 200; line = strtok(NULL, "\n")) {
        int c = 0;
        for (char *f = line;; f++) {
            t->cell[t->rows][c++] = f;
            f = strchr(f, ',');
            if (!f || c == 64) break;
            *f = 0;
        }
        if (t->rows == 0) t->cols = c;
        ck_assert_int_eq(c, t->cols);
        t->rows++;
    }
}

static int col(const table *t, const char *name)
{
    for (int c = 0; c < t->cols; c++)
        if (!strcmp(t->cell[0][c], name)) return c;
    ck_abort_msg("units.csv has no column %s", name);
    return -1;
}

START_TEST(test_dissect_run)
{
    ck_assert_int_eq(run("dissect --model %s/tiny.safetensors --data %s/data --split train "
                         "--layer features.17 --topk 8 --images 2 --out %s/one", dir, dir, dir), 0);
    ck_assert(output_has("index: "));
    table t;
    read_table(&t, "one");
    ck_assert_int_eq(t.rows, 1 + 128);   /* tiny's last block: 128 units */
    const int cu = col(&t, "unit"), ct = col(&t, "threshold"), cm = col(&t, "iou_mass");
    const int cc = col(&t, "iou_calcification"), cl = col(&t, "layer");
    double iou_sum = 0;
    for (int r = 1; r < t.rows; r++) {
        ck_assert_str_eq(t.cell[r][cl], "features.17");
        ck_assert_int_eq(atoi(t.cell[r][cu]), r - 1);
        ck_assert(isfinite(atof(t.cell[r][ct])));
        for (int c = cm; c <= cc; c++) {
            const double v = atof(t.cell[r][c]);
            ck_assert(v >= 0 && v <= 1);
            iou_sum += v;
        }
    }
    ck_assert(iou_sum > 0);   /* some unit overlaps some lesion */
    free(t.text);

    char p[600];
    snprintf(p, sizeof p, "%s/one/units.json", dir);
    char *js = tu_slurp(p, NULL);
    cJSON *root = cJSON_Parse(js);
    ck_assert_ptr_nonnull(root);
    const cJSON *units = cJSON_GetObjectItem(root, "units");
    ck_assert_int_eq(cJSON_GetArraySize(units), 128);
    const cJSON *u0 = cJSON_GetArrayItem(units, 0);
    const cJSON *top = cJSON_GetObjectItem(u0, "top");
    ck_assert_int_eq(cJSON_GetArraySize(top), 8);
    double prev = INFINITY;
    const cJSON *e;
    cJSON_ArrayForEach(e, top)
    {
        const double sc = cJSON_GetObjectItem(e, "score")->valuedouble;
        ck_assert(sc <= prev);
        prev = sc;
        ck_assert(cJSON_GetObjectItem(e, "id")->valuedouble >= 0);
    }
    cJSON_Delete(root);
    free(js);
    ck_assert(exists("%s/one/%s", "index.html"));
    ck_assert(exists("%s/one/%s", "features.17.dstate"));
    ck_assert(exists("%s/one/units/%s", "features.17_0000.png"));    /* the strip (report) */
    ck_assert(exists("%s/one/units/%s", "features.17_0000.html"));   /* the unit page */
    ck_assert(exists("%s/one/units/%s", "features.17_0000_00.png"));  /* its first tile */
}
END_TEST

START_TEST(test_dissect_shards_merge)
{
    const char *common = "--split train --layer features.17 --topk 8 --images 0";
    ck_assert_int_eq(run("dissect --model %s/tiny.safetensors --data %s/data %s --out %s/one", dir,
                         dir, common, dir), 0);
    for (int s = 0; s < 2; s++)
        ck_assert_int_eq(run("dissect --model %s/tiny.safetensors --data %s/data %s --shard %d/2 "
                             "--out %s/s%d", dir, dir, common, s, dir, s), 0);
    ck_assert_int_eq(run("dissect --merge %s/s0 %s/s1 --model %s/tiny.safetensors --out %s/m",
                         dir, dir, dir, dir), 0);
    table a, b;
    read_table(&a, "one");
    read_table(&b, "m");
    ck_assert_int_eq(a.rows, b.rows);
    ck_assert_int_eq(a.cols, b.cols);
    for (int r = 0; r < a.rows; r++)
        for (int c = 0; c < a.cols; c++) {
            const char *x = a.cell[r][c], *y = b.cell[r][c];
            char *ex, *ey;
            const double vx = strtod(x, &ex), vy = strtod(y, &ey);
            if (ex != x && !*ex && ey != y && !*ey)
                ck_assert_msg(vx == vy || fabs(vx - vy) <= 1e-6 * fmax(fabs(vx), fabs(vy)),
                              "row %d column %s: %s vs %s", r, a.cell[0][c], x, y);
            else
                ck_assert_msg(!strcmp(x, y), "row %d column %s: %s vs %s", r, a.cell[0][c], x, y);
        }
    free(a.text);
    free(b.text);
}
END_TEST

START_TEST(test_dissect_bad_input)
{
    char model[400];
    snprintf(model, sizeof model, "%s/tiny.safetensors", dir);
    ck_assert_int_ne(run("dissect --model %s --data %s/data --split train --layer features.99 "
                         "--out %s/bad", model, dir, dir), 0);
    ck_assert(output_has("features.99"));
    ck_assert_int_ne(run("dissect --model %s/none.safetensors --data %s/data --layer features.17 "
                         "--out %s/bad", dir, dir, dir), 0);
    ck_assert(output_has("none.safetensors"));
    ck_assert_int_ne(run("dissect --model %s --data %s/data --layer features.17 --shard 2/2 "
                         "--out %s/bad", model, dir, dir), 0);
    ck_assert(output_has("--shard"));
    /* a merge of directories without states fails and leaves --out as it was */
    char p[600];
    snprintf(p, sizeof p, "%s/keep", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/keep/units.csv", dir);
    FILE *f = fopen(p, "w");
    fputs("precious\n", f);
    fclose(f);
    ck_assert_int_ne(run("dissect --merge %s/data %s/data --out %s/keep", dir, dir, dir), 0);
    ck_assert(output_has("no .dstate"));
    char *s = tu_slurp(p, NULL);
    ck_assert_str_eq(s, "precious\n");
    free(s);
    /* a corrupt state file is named */
    snprintf(p, sizeof p, "%s/c0", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/c0/features.17.dstate", dir);
    f = fopen(p, "w");
    fputs("NDXDISS", f);
    fclose(f);
    ck_assert_int_ne(run("dissect --merge %s/c0 %s/c0 --out %s/c1", dir, dir, dir), 0);
    ck_assert(output_has("features.17.dstate"));
}
END_TEST

/* Two patients: both in train; patches warns, dissect --split val says
 * what to do. */
START_TEST(test_split_warnings)
{
    ck_assert_int_eq(run("synth --out %s/two --patients 2 --seed 3 --pixel-um 400 --normal-frac 0",
                         dir), 0);
    ck_assert_int_eq(run("patches --data %s/two --stratify", dir), 0);
    ck_assert(output_has("warning: the val split has no patients"));
    ck_assert(output_has("warning: the test split has no patients"));
    ck_assert_int_ne(run("dissect --model %s/tiny.safetensors --data %s/two --split val "
                         "--layer features.17 --out %s/bad", dir, dir, dir), 0);
    ck_assert(output_has("no val patches: choose another split"));
    /* six patients: every split has some (4/1/1), the counts printed */
    ck_assert_int_eq(run("patches --data %s/data", dir), 0);
    ck_assert(!output_has("has no patients"));
    ck_assert(output_has("split    patients  malignant"));
    ck_assert(output_has("breast fraction"));
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("dissect");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_dissect_run);
    tcase_add_test(tc, test_dissect_shards_merge);
    tcase_add_test(tc, test_dissect_bad_input);
    tcase_add_test(tc, test_split_warnings);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
