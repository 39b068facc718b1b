/* Stale and inconsistent inputs (issue 18, classes 5 and 11): what a file
 * was made from is recorded and checked where it is used.
 *   - patches.csv made for other images (re-synthesised at another pixel
 *     size): eval refuses, naming the image and both sizes;
 *   - eval on a split of one class: scores and accuracy written, AUC n/a;
 *   - train --resume with other settings or another data set: refused,
 *     naming the field and both values;
 *   - a manifest giving one image two patients, two sides, or one lesion
 *     twice: refused with the lines of both rows; import-cbis skips such
 *     rows with a note;
 *   - dissect --merge of one shard twice, of shards of another count, of
 *     another model or data: refused.
 * Runs the netdx beside this suite's directory (BUILD/netdx); phantom data
 * of 6 patients at 400 um, a tiny model at 32 px. */
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_nn.h"
#include "testutil.h"

static char bin[1024], dir[256];

/* Runs netdx with the arguments; returns its exit status, output in DIR/out. */
static int run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int rc = tu_cli_vrun(bin, dir, fmt, ap);
    va_end(ap);
    return rc;
}

static int output_has(const char *what) { return tu_cli_output_has(dir, what); }

static int exists(const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void synth(const char *name, int seed, const char *more)
{
    ck_assert_int_eq(run("synth --out %s/%s --patients 6 --seed %d --pixel-um 400 %s", dir, name,
                         seed, more), 0);
    ck_assert_int_eq(run("patches --data %s/%s", dir, name), 0);
}

static void save_tiny(const char *name, uint64_t seed)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, seed, &net), NDX_OK);
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_msg(ndx_safetensors_save(net, p) == NDX_OK, "%s", ndx_last_error());
    ndx_net_free(net);
}

static void make_dir(void)
{
    strcpy(dir, "/tmp/ndx_check_provenance_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void setup(void)
{
    make_dir();
    synth("data", 3, "--normal-frac 0");
    save_tiny("tiny.safetensors", 5);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* Images re-made at another pixel size under an old patches.csv: eval
 * refused (today: a wrong AUC, exit 0); after netdx patches it runs. */
START_TEST(test_stale_patches)
{
    synth("stale", 3, "--normal-frac 0");
    int w0, h0, w1, h1, bits;
    char img[600];
    snprintf(img, sizeof img, "%s/stale/images/P_00001_LEFT_CC.png", dir);
    ck_assert_msg(ndx_png_size(img, &w0, &h0, &bits) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(run("synth --out %s/stale --patients 6 --seed 3 --pixel-um 300 "
                         "--normal-frac 0", dir), 0);
    ck_assert_int_eq(ndx_png_size(img, &w1, &h1, &bits), NDX_OK);
    ck_assert(w1 != w0 && h1 != h0);
    ck_assert_int_ne(run("eval --model %s/tiny.safetensors --data %s/stale --scores %s/s.csv "
                         "--roc %s/r.png", dir, dir, dir, dir), 0);
    ck_assert(output_has("patches.csv was made for a"));
    ck_assert(output_has("run it again (netdx patches --data"));
    ck_assert(!exists("s.csv"));
    /* the library names the image, the actual and the recorded size */
    ndx_patch_index ix;
    char d[400], want[1600];
    snprintf(d, sizeof d, "%s/stale", dir);
    ck_assert_int_eq(ndx_patches_read(d, &ix), NDX_OK);
    ndx_patch_cache *c = ndx_patch_cache_new(64 << 20);
    size_t i = 0;
    while (i < ix.n && strcmp(ix.images[ix.patches[i].image].path, "images/P_00001_LEFT_CC.png")) i++;
    ck_assert_uint_lt(i, ix.n);
    float *px = malloc(32 * 32 * sizeof *px);
    ck_assert_int_eq(ndx_patch_load(c, &ix, i, 32, px), NDX_ERR_FORMAT);
    snprintf(want, sizeof want, "%s is %dx%d but %s/patches.csv was made for a %dx%d image", img,
             w1, h1, d, w0, h0);
    ck_assert_msg(strstr(ndx_last_error(), want), "'%s' lacks '%s'", ndx_last_error(), want);
    free(px);
    ndx_patch_cache_free(c);
    ndx_patches_free(&ix);
    ck_assert_int_eq(run("patches --data %s/stale", dir), 0);
    ck_assert_int_eq(run("eval --model %s/tiny.safetensors --data %s/stale --scores %s/s.csv "
                         "--roc %s/r.png", dir, dir, dir, dir), 0);
}
END_TEST

/* Rows of one image disagreeing in patches.csv's image_size: refused. */
START_TEST(test_patches_size_rows)
{
    char p[600];
    ck_assert_int_eq(run("synth --out %s/rows --patients 3 --seed 3 --pixel-um 400 "
                         "--normal-frac 0", dir), 0);
    ck_assert_int_eq(run("patches --data %s/rows", dir), 0);
    snprintf(p, sizeof p, "%s/rows/patches.csv", dir);
    char *s = tu_slurp(p, NULL);
    ck_assert_ptr_nonnull(s);
    /* the second data row (line 3): its image_size's width + 1 */
    char *l3 = strchr(strchr(s, '\n') + 1, '\n') + 1, *x = strstr(l3, "x");
    while (x[-1] >= '0' && x[-1] <= '9') x--;
    char *end;
    long w = strtol(x, &end, 10);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%.*s%ld%s", (int)(x - s), s, w + 1, end);
    ck_assert_int_eq(fclose(f), 0);
    free(s);
    ndx_patch_index ix;
    snprintf(p, sizeof p, "%s/rows", dir);
    ck_assert_int_eq(ndx_patches_read(p, &ix), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), "patches.csv:3: column 11 (image_size)") &&
                  strstr(ndx_last_error(), "an earlier row gives"), "%s", ndx_last_error());
}
END_TEST

/* A split of one class: accuracy and scores, AUC n/a, no ROC (today: the
 * AUC error and nothing written); netdx patches warns of it. */
START_TEST(test_eval_one_class)
{
    ck_assert_int_eq(run("synth --out %s/normal --patients 6 --seed 3 --pixel-um 400 "
                         "--normal-frac 1", dir), 0);
    ck_assert_int_eq(run("patches --data %s/normal", dir), 0);
    ck_assert(output_has("warning: the train split has no positive patch"));
    ck_assert(output_has("warning: the val split has no positive patch"));
    ck_assert_int_eq(run("eval --model %s/tiny.safetensors --data %s/normal --split val "
                         "--scores %s/one.csv --roc %s/one.png", dir, dir, dir, dir), 0);
    ck_assert(output_has("AUC: n/a (the val split has patches of one class only)"));
    ck_assert(output_has("accuracy: "));
    ck_assert(!exists("one.png"));
    char p[600];
    snprintf(p, sizeof p, "%s/one.csv", dir);
    char *s = tu_slurp(p, NULL);
    ck_assert_ptr_nonnull(s);
    int rows = 0;
    for (char *q = s; (q = strchr(q, '\n')); q++) rows++;
    ck_assert_int_gt(rows, 1);
    ck_assert(!strncmp(s, "patch,image,x,y,w,h,label,score\n", 32));
    free(s);
}
END_TEST

#define TRAIN "train --arch tiny --input-size 32 --epochs 1 --batch 4 --lr 0.01 --seed 7"

/* --resume with other settings or data: refused naming the field and both
 * values (today: taken, or one message for four options). */
START_TEST(test_resume_provenance)
{
    ck_assert_int_eq(run(TRAIN " --data %s/data --out %s/m.safetensors", dir, dir), 0);
#define RESUME(extra) run(TRAIN " --data %s/data " extra " --resume %s/m.safetensors.ckpt " \
                          "--out %s/r.safetensors", dir, dir, dir)
    ck_assert_int_eq(run(TRAIN " --data %s/data --resume %s/m.safetensors.ckpt "
                         "--out %s/m.safetensors", dir, dir, dir), 0);
    ck_assert_int_ne(run("train --arch tiny --input-size 32 --epochs 1 --batch 4 --lr 0.02 "
                         "--seed 7 --data %s/data --resume %s/m.safetensors.ckpt "
                         "--out %s/r.safetensors", dir, dir, dir), 0);
    ck_assert(output_has("was written with --lr 0.01"));
    ck_assert(output_has("this run has --lr 0.02"));
    ck_assert(output_has("start a new run without --resume"));
    ck_assert_int_ne(RESUME("--momentum 0.5"), 0);
    ck_assert(output_has("--momentum 0.9"));
    ck_assert(output_has("--momentum 0.5"));
    ck_assert_int_ne(RESUME("--weight-decay 0.001"), 0);
    ck_assert(output_has("this run has --weight-decay 0.001"));
    ck_assert_int_ne(run("train --arch tiny --input-size 32 --epochs 1 --batch 8 --lr 0.01 "
                         "--seed 7 --data %s/data --resume %s/m.safetensors.ckpt "
                         "--out %s/r.safetensors", dir, dir, dir), 0);
    ck_assert(output_has("was written with --batch 4; this run has --batch 8"));
    ck_assert_int_ne(run("train --arch tiny --input-size 40 --epochs 1 --batch 4 --lr 0.01 "
                         "--seed 7 --data %s/data --resume %s/m.safetensors.ckpt "
                         "--out %s/r.safetensors", dir, dir, dir), 0);
    ck_assert(output_has("--input-size 32; this run has --input-size 40"));
    ck_assert_int_ne(run("train --arch resnet18 --input-size 32 --epochs 1 --batch 4 --lr 0.01 "
                         "--seed 7 --data %s/data --resume %s/m.safetensors.ckpt "
                         "--out %s/r.safetensors", dir, dir, dir), 0);
    ck_assert(output_has("was written by --arch tiny; this run has --arch resnet18"));
    ck_assert_int_ne(RESUME("--flips"), 0);
    ck_assert(output_has("was written without --flips; this run is with it"));
    ck_assert_int_ne(run("train --arch tiny --input-size 32 --epochs 1 --batch 4 --lr 0.01 "
                         "--seed 8 --data %s/data --resume %s/m.safetensors.ckpt "
                         "--out %s/r.safetensors", dir, dir, dir), 0);
    ck_assert(output_has("--seed 7; this run has --seed 8"));
    /* another data set */
    synth("other", 4, "--normal-frac 0");
    ck_assert_int_ne(run(TRAIN " --data %s/other --resume %s/m.safetensors.ckpt "
                         "--out %s/r.safetensors", dir, dir, dir), 0);
    ck_assert(output_has("was trained on a patches.csv of XXH3 "));
    ck_assert(output_has("other/patches.csv is "));
    ck_assert(!exists("r.safetensors"));
    /* a checkpoint recording none of it (an older netdx) */
    ndx_ckpt_state st;
    memset(&st, 0, sizeof st);
    st.rng.s[0] = 1;   /* a valid generator: only the records are missing */
    char p[600];
    snprintf(p, sizeof p, "%s/old.ckpt", dir);
    ck_assert_int_eq(ndx_ckpt_save(p, &st, NULL, 0), NDX_OK);
    ck_assert_int_ne(run(TRAIN " --data %s/data --resume %s/old.ckpt --out %s/r.safetensors",
                         dir, dir, dir), 0);
    ck_assert(output_has("does not record 'arch'"));
#undef RESUME
}
END_TEST

/* Writes DIR/name: the manifest header, then the rows given. */
static void manifest(const char *name, const char *rows)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < NDX_MANIFEST_COLUMNS; i++)
        fprintf(f, "%s%s", ndx_manifest_columns[i], i + 1 < NDX_MANIFEST_COLUMNS ? "," : "\n");
    fputs(rows, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Reads DIR/name: NDX_ERR_FORMAT with a message holding every string of
 * the NULL-ended list. */
static void refused(const char *name, ...)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ndx_manifest m;
    ck_assert_int_eq(ndx_manifest_read(p, &m), NDX_ERR_FORMAT);
    va_list ap;
    va_start(ap, name);
    for (const char *s; (s = va_arg(ap, const char *));)
        ck_assert_msg(strstr(ndx_last_error(), s), "'%s' lacks '%s'", ndx_last_error(), s);
    va_end(ap);
}

#define MASS(pid, side, id, img, mask) \
    pid ",2," side ",CC," #id ",mass,OVAL,CIRCUMSCRIBED,,,3,BENIGN,3," img "," mask "\n"
#define NONE(pid, side, img) pid ",2," side ",CC,,,,,,,1,,," img ",\n"

/* One image under two patients, on both sides, a lesion twice: refused
 * with both lines (today: read without a word). */
START_TEST(test_manifest_consistency)
{
    char p[600];
    ndx_manifest m;
    manifest("ok.csv", MASS("P_1", "LEFT", 1, "a.png", "m1.png") MASS("P_1", "LEFT", 2, "a.png", "m2.png")
                       NONE("P_1", "RIGHT", "b.png") NONE("P_2", "LEFT", "c.png"));
    snprintf(p, sizeof p, "%s/ok.csv", dir);
    ck_assert_msg(ndx_manifest_read(p, &m) == NDX_OK, "%s", ndx_last_error());
    ck_assert_uint_eq(m.n, 4);
    ndx_manifest_free(&m);
    manifest("pid.csv", NONE("P_1", "LEFT", "a.png") NONE("P_2", "RIGHT", "b.png")
                        NONE("P_3", "LEFT", "a.png"));
    refused("pid.csv", "pid.csv:4: image a.png has patient_id P_3 here but P_1 on line 2", NULL);
    manifest("side.csv", MASS("P_1", "LEFT", 1, "a.png", "m1.png")
                         MASS("P_1", "RIGHT", 2, "a.png", "m2.png"));
    refused("side.csv", "side.csv:3: image a.png has left_or_right_breast RIGHT here but LEFT on "
            "line 2", NULL);
    manifest("dup.csv", MASS("P_1", "LEFT", 1, "a.png", "m1.png") NONE("P_1", "LEFT", "b.png")
                        MASS("P_1", "LEFT", 1, "a.png", "m1.png"));
    refused("dup.csv", "dup.csv:4: image a.png: mass 1 repeats line 2", NULL);
    manifest("none.csv", NONE("P_1", "LEFT", "b.png") NONE("P_1", "LEFT", "b.png"));
    refused("none.csv", "none.csv:3: image b.png: a second row without a lesion, as on line 2",
            NULL);
}
END_TEST

/* A PNG at DIR/cbis/img/<rel with .dcm as .png>: w x h, 16-bit image or
 * 8-bit mask. */
static void cbis_png(const char *rel, int w, int h, int mask)
{
    char p[900], cmd[1000];
    snprintf(p, sizeof p, "%s/cbis/img/%.*s.png", dir, (int)(strlen(rel) - 4), rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    ck_assert_int_eq(system(cmd), 0);
    uint16_t *im = calloc((size_t)w * h, sizeof *im);
    uint8_t *m = calloc((size_t)w * h, 1);
    for (int i = 0; i < w * h; i++) im[i] = 30000, m[i] = (i % w) < w / 2 ? 255 : 0;
    ck_assert_int_eq(mask ? ndx_png_write8(p, m, w, h, 1) : ndx_png_write16(p, im, w, h), NDX_OK);
    free(im);
    free(m);
}

static void collect(void *ctx, const char *msg)
{
    char *log = ctx;
    const size_t n = strlen(log);
    snprintf(log + n, 4096 - n, "%s\n", msg);
}

/* import-cbis: a lesion row given twice and a row of the same image under
 * another side are skipped with a note, so the manifest it writes reads. */
START_TEST(test_cbis_conflicts)
{
    char p[1000], log[4096] = "";
    snprintf(p, sizeof p, "mkdir -p %s/cbis/csv", dir);
    ck_assert_int_eq(system(p), 0);
    const char *img1 = "Mass-Training_P_00001_LEFT_CC/1/1/000000.dcm";
    const char *img2 = "Mass-Training_P_00002_LEFT_CC/1/1/000000.dcm";
    const char *crop = "Mass-Training_P_0000%d_LEFT_CC_%d/1/1/000000.dcm";
    const char *roi = "Mass-Training_P_0000%d_LEFT_CC_%d/1/1/000001.dcm";
    char rows[3000] = "patient_id,breast_density,left or right breast,image view,abnormality id,"
                      "abnormality type,mass shape,mass margins,assessment,pathology,subtlety,"
                      "image file path,cropped image file path,ROI mask file path\n";
    const struct { int pid, id; const char *side, *img; } r[4] = {
        {1, 1, "LEFT", img1}, {1, 1, "LEFT", img1}, {1, 2, "RIGHT", img1}, {2, 1, "LEFT", img2}};
    for (int i = 0; i < 4; i++) {
        char c[200], m[200];
        snprintf(c, sizeof c, crop, r[i].pid, r[i].id);
        snprintf(m, sizeof m, roi, r[i].pid, r[i].id);
        snprintf(rows + strlen(rows), sizeof rows - strlen(rows),
                 "P_0000%d,2,%s,CC,%d,mass,OVAL,CIRCUMSCRIBED,3,BENIGN,3,%s,%s,%s\n", r[i].pid,
                 r[i].side, r[i].id, r[i].img, c, m);
        cbis_png(r[i].img, 48, 64, 0);
        cbis_png(c, 8, 8, 1);
        cbis_png(m, 48, 64, 1);
    }
    snprintf(p, sizeof p, "%s/cbis/csv/mass_case_description_train_set.csv", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(rows, f);
    ck_assert_int_eq(fclose(f), 0);
    char csv[600], img[600], out[600];
    snprintf(csv, sizeof csv, "%s/cbis/csv", dir);
    snprintf(img, sizeof img, "%s/cbis/img", dir);
    snprintf(out, sizeof out, "%s/cbis/out", dir);
    ndx_cbis_stats st;
    ck_assert_msg(ndx_cbis_import(csv, img, out, &st, collect, log) == NDX_OK, "%s",
                  ndx_last_error());
    ck_assert_int_eq(st.rows, 2);
    ck_assert_int_eq(st.invalid, 2);
    ck_assert_msg(strstr(log, "mass 1: a lesion given twice, row skipped"), "%s", log);
    ck_assert_msg(strstr(log, "mass 2: another patient, side or view than an earlier row"), "%s",
                  log);
    ndx_manifest m;
    snprintf(p, sizeof p, "%s/manifest.csv", out);
    ck_assert_msg(ndx_manifest_read(p, &m) == NDX_OK, "%s", ndx_last_error());
    ck_assert_uint_eq(m.n, 2);
    ndx_manifest_free(&m);
}
END_TEST

#define DISSECT "dissect --split train --layer features.17 --topk 8 --images 0"

/* Merging one shard twice, shards of other counts, of another model or
 * data: refused (today: every patch counted twice, or a mixture). */
START_TEST(test_merge_provenance)
{
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(run(DISSECT " --model %s/tiny.safetensors --data %s/data --shard %d/2 "
                             "--out %s/s%d", dir, dir, k, dir, k), 0);
    ck_assert_int_eq(run(DISSECT " --model %s/tiny.safetensors --data %s/data --out %s/all", dir,
                         dir, dir), 0);
    /* the same folder twice, and a merged pair with one of its shards */
    ck_assert_int_ne(run("dissect --merge %s/s0 %s/s0 --out %s/x", dir, dir, dir), 0);
    ck_assert(output_has("both states hold shard 0 of 2: its patches would count twice"));
    ck_assert_int_eq(run("dissect --merge %s/s0 %s/s1 --out %s/m01", dir, dir, dir), 0);
    ck_assert_int_ne(run("dissect --merge %s/m01 %s/s1 --out %s/x", dir, dir, dir), 0);
    ck_assert(output_has("both states hold shard 1 of 2"));
    ck_assert_int_ne(run("dissect --merge %s/all %s/all --out %s/x", dir, dir, dir), 0);
    ck_assert(output_has("both states hold shard 0 of 1"));
    /* shards of another count */
    ck_assert_int_ne(run("dissect --merge %s/all %s/s1 --out %s/x", dir, dir, dir), 0);
    ck_assert(output_has("shards of 1 vs shards of 2"));
    ck_assert(!exists("x"));
    /* another model */
    save_tiny("tiny2.safetensors", 6);
    ck_assert_int_eq(run(DISSECT " --model %s/tiny2.safetensors --data %s/data --shard 1/2 "
                         "--out %s/t1", dir, dir, dir), 0);
    ck_assert_int_ne(run("dissect --merge %s/s0 %s/t1 --out %s/x", dir, dir, dir), 0);
    ck_assert(output_has("the states were made by different models"));
    /* other data (same images, patches cut another way) */
    ck_assert_int_eq(run("synth --out %s/d2 --patients 6 --seed 3 --pixel-um 400 --normal-frac 0",
                         dir), 0);
    ck_assert_int_eq(run("patches --data %s/d2 --stride 0.75", dir), 0);
    ck_assert_int_eq(run(DISSECT " --model %s/tiny.safetensors --data %s/d2 --shard 1/2 "
                         "--out %s/u1", dir, dir, dir), 0);
    ck_assert_int_ne(run("dissect --merge %s/s0 %s/u1 --out %s/x", dir, dir, dir), 0);
    ck_assert(output_has("the states were made over different patches.csv"));
    /* --model / --data that are not the states' */
    ck_assert_int_ne(run("dissect --merge %s/s0 %s/s1 --model %s/tiny2.safetensors --out %s/x",
                         dir, dir, dir, dir), 0);
    ck_assert(output_has("is not the model the states were made from"));
    ck_assert_int_ne(run("dissect --merge %s/s0 %s/s1 --data %s/d2 --out %s/x", dir, dir, dir,
                         dir), 0);
    ck_assert(output_has("is not the patches.csv the states were made from"));
    /* thresholds from another model's states */
    ck_assert_int_ne(run(DISSECT " --model %s/tiny2.safetensors --data %s/data --shard 0/2 "
                         "--thresholds-from %s/m01 --out %s/x", dir, dir, dir, dir), 0);
    ck_assert(output_has("--thresholds-from features.17: the states were made by different"));
    ck_assert(!exists("x"));
    /* the library: a state's record survives its file */
    char p[600];
    snprintf(p, sizeof p, "%s/m01/features.17.dstate", dir);
    ndx_dissect *d = NULL;
    ck_assert_msg(ndx_dissect_load(p, &d) == NDX_OK, "%s", ndx_last_error());
    ndx_dissect_source src;
    int covered = 0;
    ck_assert_int_eq(ndx_dissect_get_source(d, &src, &covered), 1);
    ck_assert_int_eq(covered, 2);
    ck_assert_int_eq(src.nshards, 2);
    ck_assert_int_eq(src.split, NDX_SPLIT_TRAIN);
    uint64_t h;
    snprintf(p, sizeof p, "%s/tiny.safetensors", dir);
    ck_assert_int_eq(ndx_hash_file(p, 0, &h), NDX_OK);
    ck_assert(src.model == h);
    snprintf(p, sizeof p, "%s/data/patches.csv", dir);
    ck_assert_int_eq(ndx_hash_file(p, 0, &h), NDX_OK);
    ck_assert(src.data == h);
    ndx_dissect_free(d);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("provenance");
    TCase *tc = tcase_create("runs");   /* phantom data, the netdx command */
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stale_patches);
    tcase_add_test(tc, test_patches_size_rows);
    tcase_add_test(tc, test_eval_one_class);
    tcase_add_test(tc, test_resume_provenance);
    tcase_add_test(tc, test_merge_provenance);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("files");  /* hand-written manifests and CBIS CSVs */
    tcase_add_unchecked_fixture(tf, make_dir, teardown);
    tcase_add_test(tf, test_manifest_consistency);
    tcase_add_test(tf, test_cbis_conflicts);
    suite_add_tcase(s, tf);
    return tu_run(s);
}
