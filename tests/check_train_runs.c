/* Training runs with the options of issue 19, on a few phantom patients:
 * the step-decayed rate continues exactly across a SIGKILL and --resume,
 * a checkpoint of another schedule or sampler is refused, naming both
 * settings, and resumed with its own; --keep best and last
 * keep the right epoch's weights; a three-class run reports malignant vs
 * rest, and eval and rank work on its model; the CLI warns when the
 * training split has no malignant patch. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netdx.h"
#include "netdx_dissect.h"
#include "netdx_nn.h"
#include "testutil.h"

static char root[256], netdx_bin[1024];

static void sh(const char *cmd)
{
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* libgomp's threads do not survive fork(): everything that may run an
 * OpenMP loop runs in a child, and this process compares files after the
 * last child.  Returns 1 when the child exited 0. */
static int in_child(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1
           : WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? -1 : 0;
}

/* Rewrites dir/patches.csv keeping, of each class of the 3-class rule, the
 * first want[c] patches, every third of them in val, the rest in train. */
static void select_patches(const char *dir, const int want[3])
{
    ndx_patch_index ix;
    ck_assert_msg(ndx_patches_read(dir, &ix) == NDX_OK, "%s", ndx_last_error());
    char path[600], tmp[600], line[4096];
    snprintf(path, sizeof path, "%s/patches.csv", dir);
    snprintf(tmp, sizeof tmp, "%s/patches.tmp", dir);
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    ck_assert(in && out);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, in));
    fputs(line, out);
    int got[3] = {0, 0, 0};
    for (size_t i = 0; i < ix.n && fgets(line, sizeof line, in); i++) {
        const int c = ndx_patch_class(&ix.patches[i], 3);
        if (got[c] >= want[c]) continue;
        const int val = got[c]++ % 3 == 2;
        /* the split is column 9: patch_id,patient_id,image_path,x,y,w,h,label,split */
        char *f = line;
        for (int k = 0; k < 8; k++) f = strchr(f, ',') + 1;
        char *end = strchr(f, ',');
        fprintf(out, "%.*s%s%s", (int)(f - line), line, val ? "val" : "train", end);
    }
    for (int c = 0; c < 3; c++)
        ck_assert_msg(got[c] == want[c], "class %d: %d patches of %d wanted", c, got[c], want[c]);
    fclose(in);
    fclose(out);
    ck_assert_int_eq(rename(tmp, path), 0);
    ndx_patches_free(&ix);
}

static void make_data(void *arg)
{
    (void)arg;
    char data[512];
    snprintf(data, sizeof data, "%s/data", root);
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 24, so.seed = 3, so.pixel_um = 400;
    ck_assert_msg(ndx_synth(data, &so, NULL) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    po.window = 0.5, po.stride = 1.0, po.min_tissue = 0.3;
    ck_assert_msg(ndx_patches_build(data, &po, NULL) == NDX_OK, "%s", ndx_last_error());
    const int want[3] = {16, 8, 8};
    select_patches(data, want);
}

static void setup(void)
{
    strcpy(root, "/tmp/ndx_check_runs_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_msg(in_child(make_data, NULL) == 1, "making the data failed");
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (root[0]) sh(cmd);
}

/* ---- a training job in a child -------------------------------------------- */

typedef struct job {
    ndx_train_opts o;
    char data[512], out[512], err[600];
    int kill_epoch, kill_batch;   /* SIGKILL after this batch (0: never) */
    int copy_ckpts;               /* copy <out>.ckpt to <out>.ckpt.<epoch> */
} job;

static void on_progress(void *ctx, const ndx_train_progress *p)
{
    job *j = ctx;
    char cmd[1400];
    if (!p->done && p->epoch == j->kill_epoch && p->batch == j->kill_batch) raise(SIGKILL);
    if (p->done && j->copy_ckpts) {
        snprintf(cmd, sizeof cmd, "cp '%s.ckpt' '%s.ckpt.%d'", j->out, j->out, p->epoch);
        if (system(cmd)) _exit(3);
    }
}

static void job_init(job *j, const char *run)
{
    memset(j, 0, sizeof *j);
    ndx_train_defaults(&j->o);
    snprintf(j->data, sizeof j->data, "%s/data", root);
    snprintf(j->out, sizeof j->out, "%s/%s", root, run);
    mkdir(j->out, 0755);
    strcat(j->out, "/model.safetensors");
    snprintf(j->err, sizeof j->err, "%s.err", j->out);
    j->o.arch = "tiny", j->o.data_dir = j->data, j->o.out = j->out;
    j->o.epochs = 3, j->o.batch = 4, j->o.input_size = 32, j->o.threads = 2;
    j->o.lr = 0.02, j->o.seed = 7, j->o.flips = 1, j->o.checkpoint_every = 1;
    j->o.sampler = NDX_SAMPLER_SHUFFLE;   /* the study's; tests ask for balanced */
    j->o.progress = on_progress, j->o.progress_ctx = j;
}

/* Trains; a failure exits 1 with the message in j->err. */
static void train_job(void *arg)
{
    job *j = arg;
    if (ndx_train(&j->o, NULL) == NDX_OK) return;
    FILE *f = fopen(j->err, "w");
    if (f) fprintf(f, "%s\n", ndx_last_error()), fclose(f);
    _exit(1);
}

static char *slurp(const char *path)
{
    char *s = tu_slurp(path, NULL);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

static cJSON *metrics_of(const job *j)
{
    char path[700];
    snprintf(path, sizeof path, "%.*s/metrics.json", (int)(strrchr(j->out, '/') - j->out), j->out);
    char *text = slurp(path);
    cJSON *m = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(m);
    return m;
}

static double epoch_field(cJSON *m, int e, const char *key)
{
    cJSON *ep = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "epochs"), e);
    ck_assert_ptr_nonnull(ep);
    cJSON *v = cJSON_GetObjectItem(ep, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Every weight and buffer of a tiny checkpoint (not the momentum) into a
 * net built for it; the net is returned. */
static ndx_net *net_of_ckpt(const char *path, int classes, int epochs)
{
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("tiny", classes, 32, 1, &net), NDX_OK);
    ndx_net_momentum(net, NULL);
    const int nt = ndx_net_num_tensors(net);
    ndx_ckpt_array *a = calloc((size_t)2 * nt + 1, sizeof *a);
    char (*names)[NDX_CKPT_NAME_MAX] = calloc((size_t)nt, sizeof *names);
    float *hist = calloc((size_t)epochs * 9 * 2, sizeof *hist);
    int k = 0;
    for (int i = 0; i < nt; i++) {
        ndx_param_info t;
        ck_assert_int_eq(ndx_net_tensor(net, i, &t), NDX_OK);
        a[k++] = (ndx_ckpt_array){t.name, t.data, t.numel};
        if (t.is_buffer) continue;
        snprintf(names[i], NDX_CKPT_NAME_MAX, "momentum.%s", t.name);
        a[k++] = (ndx_ckpt_array){names[i], t.momentum, t.numel};
    }
    a[k++] = (ndx_ckpt_array){"history", hist, (size_t)epochs * 9 * 2};
    ndx_ckpt_state st;
    ck_assert_msg(ndx_ckpt_load(path, &st, a, k) == NDX_OK, "%s", ndx_last_error());
    free(a), free(names), free(hist);
    return net;
}

/* 1 when two checkpoints hold the same weights, buffers and momentum. */
static int ckpts_equal(const char *a, const char *b, int epochs)
{
    ndx_net *x = net_of_ckpt(a, 2, epochs), *y = net_of_ckpt(b, 2, epochs);
    int same = 1;
    for (int i = 0; i < ndx_net_num_tensors(x); i++) {
        ndx_param_info p, q;
        ck_assert_int_eq(ndx_net_tensor(x, i, &p), NDX_OK);
        ck_assert_int_eq(ndx_net_tensor(y, i, &q), NDX_OK);
        same &= memcmp(p.data, q.data, p.numel * sizeof *p.data) == 0;
        if (!p.is_buffer) same &= memcmp(p.momentum, q.momentum, p.numel * sizeof *p.data) == 0;
    }
    ndx_net_free(x);
    ndx_net_free(y);
    return same;
}

/* 1 when the model file holds exactly the weights of the checkpoint. */
static int model_is_ckpt(const char *model, const char *ckpt, int classes, int epochs)
{
    ndx_net *m, *c = net_of_ckpt(ckpt, classes, epochs);
    ck_assert_msg(ndx_net_load(model, &m) == NDX_OK, "%s", ndx_last_error());
    int same = 1;
    for (int i = 0; i < ndx_net_num_tensors(m); i++) {
        ndx_param_info a, b;
        ck_assert_int_eq(ndx_net_tensor(m, i, &a), NDX_OK);
        ck_assert_int_eq(ndx_net_tensor(c, i, &b), NDX_OK);
        ck_assert_str_eq(a.name, b.name);
        same &= memcmp(a.data, b.data, a.numel * sizeof *a.data) == 0;
    }
    ndx_net_free(m);
    ndx_net_free(c);
    return same;
}

/* ---- the schedule across a resume ---------------------------------------- */

START_TEST(test_resume_schedule)
{
    job a, b, c, v;
    job_init(&a, "a");
    a.o.lr_step = 1, a.o.lr_gamma = 0.5;
    ck_assert_msg(in_child(train_job, &a) == 1, "the uninterrupted run failed");
    job_init(&b, "b");
    b.o.lr_step = 1, b.o.lr_gamma = 0.5;
    b.kill_epoch = 2, b.kill_batch = 2;
    ck_assert_msg(in_child(train_job, &b) == -1, "the run was not killed");
    char ckpt[700], v1[700], cmd[2000];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", b.out);
    snprintf(cmd, sizeof cmd, "cp -r '%s/b' '%s/v'", root, root);   /* the run so far */
    sh(cmd);
    snprintf(v1, sizeof v1, "%s/v/copy.ckpt", root);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", ckpt, v1);
    sh(cmd);
    /* another gamma: refused, naming both */
    job_init(&c, "b");
    c.o.lr_step = 1, c.o.lr_gamma = 0.25, c.o.resume = ckpt;
    ck_assert_int_eq(in_child(train_job, &c), 0);
    char *msg = slurp(c.err);
    ck_assert_msg(strstr(msg, "--lr-gamma 0.5; this run has --lr-gamma 0.25"), "%s", msg);
    free(msg);
    /* the same options: resumed */
    b.kill_epoch = 0, b.o.resume = ckpt;
    ck_assert_msg(in_child(train_job, &b) == 1, "the resumed run failed");
    /* another sampler: refused naming both; its own: resumed */
    job_init(&v, "v");
    v.o.lr_step = 1, v.o.lr_gamma = 0.5;
    v.o.resume = v1, v.o.sampler = NDX_SAMPLER_BALANCED;
    ck_assert_int_eq(in_child(train_job, &v), 0);
    msg = slurp(v.err);
    ck_assert_msg(strstr(msg, "--sampler shuffle") && strstr(msg, "--sampler balanced"), "%s", msg);
    free(msg);
    v.o.sampler = NDX_SAMPLER_SHUFFLE;
    if (in_child(train_job, &v) != 1) ck_abort_msg("resuming the copy failed: %s", slurp(v.err));
    /* the same weights, bit for bit, and the rates 0.02, 0.01, 0.005 */
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a.out, b.out);
    sh(cmd);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", a.out);
    snprintf(v1, sizeof v1, "%s.ckpt", b.out);
    ck_assert_msg(ckpts_equal(ckpt, v1, 3), "the final checkpoints' weights differ");
    cJSON *ma = metrics_of(&a), *mb = metrics_of(&b);
    double lr = 0.02;
    for (int e = 0; e < 3; e++, lr *= 0.5) {
        ck_assert_double_eq_tol(epoch_field(ma, e, "lr"), lr, 1e-15);
        ck_assert_double_eq(epoch_field(mb, e, "lr"), epoch_field(ma, e, "lr"));
        ck_assert_double_eq(epoch_field(mb, e, "val_loss"), epoch_field(ma, e, "val_loss"));
    }
    ck_assert_int_eq(cJSON_GetObjectItem(ma, "lr_step")->valueint, 1);
    ck_assert_double_eq(cJSON_GetObjectItem(ma, "lr_gamma")->valuedouble, 0.5);
    ck_assert_str_eq(cJSON_GetObjectItem(ma, "sampler")->valuestring, "shuffle");
    cJSON_Delete(ma);
    cJSON_Delete(mb);
}
END_TEST

/* ---- which model is kept -------------------------------------------------- */

START_TEST(test_keep_best_last)
{
    job best, last;
    job_init(&best, "best");
    best.o.epochs = 4, best.o.lr = 0.05, best.copy_ckpts = 1;
    ck_assert_msg(in_child(train_job, &best) == 1, "keep best failed");
    job_init(&last, "last");
    last.o.epochs = 4, last.o.lr = 0.05, last.copy_ckpts = 1, last.o.keep = NDX_KEEP_LAST;
    ck_assert_msg(in_child(train_job, &last) == 1, "keep last failed");
    cJSON *mb = metrics_of(&best), *ml = metrics_of(&last);
    /* the same run both times: the same validation AUCs */
    int arg = 0;
    for (int e = 0; e < 4; e++) {
        ck_assert_double_eq(epoch_field(mb, e, "val_auc"), epoch_field(ml, e, "val_auc"));
        if (epoch_field(mb, e, "val_auc") > epoch_field(mb, arg, "val_auc")) arg = e;
    }
    ck_assert_msg(arg != 3, "the best epoch is the last: this run cannot tell best from last");
    ck_assert_str_eq(cJSON_GetObjectItem(mb, "kept")->valuestring, "best");
    ck_assert_int_eq(cJSON_GetObjectItem(mb, "kept_epoch")->valueint, arg + 1);
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(mb, "selection_note")->valuestring,
                                 "optimistic"));
    ck_assert_str_eq(cJSON_GetObjectItem(ml, "kept")->valuestring, "last");
    ck_assert_int_eq(cJSON_GetObjectItem(ml, "kept_epoch")->valueint, 4);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(ml, "selection_note")));
    char ck[700];
    snprintf(ck, sizeof ck, "%s.ckpt.%d", best.out, arg + 1);
    ck_assert_msg(model_is_ckpt(best.out, ck, 2, 4), "keep best: not epoch %d's weights", arg + 1);
    snprintf(ck, sizeof ck, "%s.ckpt.4", best.out);
    ck_assert(!model_is_ckpt(best.out, ck, 2, 4));
    ck_assert_msg(model_is_ckpt(last.out, ck, 2, 4), "keep last: not the last epoch's weights");
    cJSON_Delete(mb);
    cJSON_Delete(ml);
}
END_TEST

/* ---- three classes: train, eval, rank ------------------------------------- */

typedef struct eval_job {
    const job *j;
    char scores[700], auc[700];
} eval_job;

/* eval on val (scores CSV, AUC into a file), then gradxact ranking: its
 * decision row must be z2 - (z0 + z1) / 2 of the class rows. */
static void eval_rank_job(void *arg)
{
    eval_job *e = arg;
    double auc, acc;
    if (ndx_eval(e->j->out, e->j->data, NDX_SPLIT_VAL, 4, NULL, e->scores, &auc, &acc)) _exit(2);
    FILE *f = fopen(e->auc, "w");
    if (!f || fprintf(f, "%.17g\n", auc) < 0 || fclose(f)) _exit(2);
    ndx_rank_opts ro;
    ndx_rank_defaults(&ro);
    ro.model = e->j->out, ro.data = e->j->data, ro.method = NDX_RANK_GRADXACT, ro.batch = 4;
    ndx_rank_result rr;
    if (ndx_rank_run(&ro, &rr) || rr.nrows != 4 || strcmp(rr.row_name[3], "decision")) _exit(3);
    double mean[4][128];
    for (int row = 0; row < 4; row++)
        for (int k = 0; k < rr.units; k++) {
            const ndx_rank_unit *u = &rr.ranking[(size_t)row * rr.units + k];
            mean[row][u->unit] = u->mean;
        }
    for (int u = 0; u < rr.units; u++) {
        const double want = mean[2][u] - 0.5 * (mean[0][u] + mean[1][u]);
        if (fabs(mean[3][u] - want) > 1e-5 * (fabs(want) + fabs(mean[2][u]) + 1e-6)) _exit(4);
    }
    ndx_rank_free(&rr);
}

/* netdx dissect and infer on the 3-class model: every unit's max score is
 * finite (the ranking by class is netdx rank's, tested above); infer
 * prints 3 probabilities. */
static void dissect_and_infer_three(const job *j)
{
    char cmd[3000], dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/three/dissection", root);
    snprintf(cmd, sizeof cmd, "'%s' dissect --model '%s' --data '%s' --split val --layer "
             "features.17 --topk 4 --images 0 --threads 1 --out '%s' >/dev/null", netdx_bin,
             j->out, j->data, dir);
    sh(cmd);
    snprintf(path, sizeof path, "%s/infer.txt", dir);
    snprintf(cmd, sizeof cmd, "'%s' infer --model '%s' --image '%s/data/%s' > '%s'", netdx_bin,
             j->out, root, "images/P_00001_LEFT_CC.png", path);
    sh(cmd);
    char *text = slurp(path);
    const char *pr = strstr(text, "probabilities");
    double p0 = 0, p1 = 0, p2 = 0;
    ck_assert_msg(pr && sscanf(pr, "probabilities %lf %lf %lf", &p0, &p1, &p2) == 3, "%s", text);
    ck_assert_msg(fabs(p0 + p1 + p2 - 1) < 1e-5, "3 probabilities: %s", text);
    free(text);
    ndx_net *net;
    ck_assert_int_eq(ndx_net_load(j->out, &net), NDX_OK);
    ck_assert_int_eq(ndx_net_num_classes(net), 3);
    const float *w = NULL;
    for (int i = 0; i < ndx_net_num_tensors(net); i++) {
        ndx_param_info p;
        ck_assert_int_eq(ndx_net_tensor(net, i, &p), NDX_OK);
        if (!strcmp(p.name, "fc.weight")) w = p.data;
    }
    ck_assert_ptr_nonnull(w);
    snprintf(path, sizeof path, "%s/units.json", dir);
    text = slurp(path);
    cJSON *root_j = cJSON_Parse(text), *units = cJSON_GetObjectItem(root_j, "units");
    ck_assert_int_eq(cJSON_GetArraySize(units), 128);
    for (int k = 0; k < 128; k++) {
        cJSON *u = cJSON_GetArrayItem(units, k);
        const int id = cJSON_GetObjectItem(u, "unit")->valueint;
        const double mx = cJSON_GetObjectItem(u, "max_score")->valuedouble;
        ck_assert_msg(isfinite(mx) && id >= 0 && id < 128, "unit %d: max %g", id, mx);
    }
    cJSON_Delete(root_j);
    free(text);
    ndx_net_free(net);
}

START_TEST(test_three_class_run)
{
    job j;
    job_init(&j, "three");
    j.o.classes = 3, j.o.epochs = 2, j.o.keep = NDX_KEEP_LAST, j.o.sampler = NDX_SAMPLER_BALANCED;
    ck_assert_msg(in_child(train_job, &j) == 1, "the 3-class run failed");
    eval_job e = {&j, "", ""};
    snprintf(e.scores, sizeof e.scores, "%s.scores.csv", j.out);
    snprintf(e.auc, sizeof e.auc, "%s.auc", j.out);
    ck_assert_msg(in_child(eval_rank_job, &e) == 1, "eval or rank of the 3-class model failed");
    cJSON *m = metrics_of(&j);
    ck_assert_int_eq(cJSON_GetObjectItem(m, "classes")->valueint, 3);
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(m, "auc_of")->valuestring,
                                 "malignant (class 2) vs"));
    /* the AUC by hand from eval's scores: positives = malignant patches */
    char *csv = slurp(e.scores), *line = strchr(csv, '\n') + 1;
    float s[64];
    int y[64], n = 0;
    for (char *next; *line && n < 64; line = next) {
        next = strchr(line, '\n') + 1;
        char *f = line;
        for (int k = 0; k < 6; k++) f = strchr(f, ',') + 1;
        y[n] = atoi(f);
        s[n++] = strtof(strchr(f, ',') + 1, NULL);
    }
    double sum = 0, pairs = 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            if (y[a] == 1 && y[b] == 0) sum += s[a] > s[b] ? 1 : s[a] == s[b] ? 0.5 : 0, pairs++;
    ck_assert_int_gt(pairs, 0);
    char *auc = slurp(e.auc);
    ck_assert_double_eq_tol(sum / pairs, strtod(auc, NULL), 1e-12);
    ck_assert_double_eq_tol(epoch_field(m, 1, "val_auc"), strtod(auc, NULL), 1e-12);
    free(auc);
    free(csv);
    cJSON_Delete(m);
    dissect_and_infer_three(&j);
}
END_TEST

/* ---- the CLI warns when training has no malignant patch -------------------- */

START_TEST(test_no_positive_warning)
{
    char cmd[3000], data2[600], err[700];
    snprintf(data2, sizeof data2, "%s/data2", root);
    snprintf(cmd, sizeof cmd, "cp -r '%s/data' '%s'", root, data2);
    sh(cmd);
    /* every malignant patch in val */
    char path[700], *text;
    snprintf(path, sizeof path, "%s/patches.csv", data2);
    text = slurp(path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (char *line = text, *next; *line; line = next) {
        next = strchr(line, '\n') + 1;
        int col = 0;
        char *p = line;
        for (; col < 7; col++) p = strchr(p, ',') + 1;   /* the label, column 8 */
        if (*p == '1') {
            char *q = strchr(p, ',') + 1, *r = strchr(q, ',');
            fprintf(f, "%.*sval%.*s", (int)(q - line), line, (int)(next - r), r);
        } else {
            fprintf(f, "%.*s", (int)(next - line), line);
        }
    }
    fclose(f);
    free(text);
    snprintf(err, sizeof err, "%s/warn.err", root);
    snprintf(cmd, sizeof cmd, "'%s' train --arch tiny --data '%s' --input-size 32 --epochs 1 "
             "--batch 4 --threads 1 --out '%s/warn.safetensors' >/dev/null 2>'%s'", netdx_bin,
             data2, root, err);
    sh(cmd);
    text = slurp(err);
    ck_assert_msg(strstr(text, "warning: the training split") && strstr(text, "no malignant"),
                  "no warning: %s", text);
    free(text);
    /* with malignant patches in training: none */
    snprintf(cmd, sizeof cmd, "'%s' train --arch tiny --data '%s/data' --input-size 32 "
             "--epochs 1 --batch 4 --threads 1 --sampler shuffle --out '%s/ok.safetensors' "
             ">/dev/null 2>'%s'", netdx_bin, root, root, err);
    sh(cmd);
    text = slurp(err);
    ck_assert_msg(!strstr(text, "warning"), "unexpected: %s", text);
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' train --arch tiny --data '%s/data' --out x --sampler "
             "weighted 2>'%s'", netdx_bin, root, err);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    text = slurp(err);
    ck_assert_ptr_nonnull(strstr(text, "--sampler: 'weighted' is not shuffle or balanced"));
    free(text);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], netdx_bin, sizeof netdx_bin);
    Suite *s = suite_create("train_runs");
    const struct { const char *name; const TTest *test; } cases[] = {
        {"resume", test_resume_schedule}, {"keep", test_keep_best_last},
        {"three", test_three_class_run}, {"warn", test_no_positive_warning}};
    for (int i = 0; i < 4; i++) {   /* one case each: CK_RUN_CASE=keep runs one */
        TCase *t = tcase_create(cases[i].name);
        tcase_add_checked_fixture(t, setup, teardown);
        tcase_set_timeout(t, 600);
        tcase_add_test(t, cases[i].test);
        suite_add_tcase(s, t);
    }
    return tu_run(s);
}
