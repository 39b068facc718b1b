/* Training loop suite: a run killed with SIGKILL mid-epoch and resumed from
 * its last checkpoint ends with the same weights, bit for bit, as a run
 * that never stopped; the outputs (metrics.json, roc.png, loss.png) exist.
 * Data: a few phantom patients at 400 um, a few dozen patches of them. */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xxhash.h>

#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"

static char root[256];

/* Splits s in place at commas (and the final newline): up to max fields. */
static int split_csv(char *s, char **field, int max)
{
    int n = 0;
    s[strcspn(s, "\n")] = 0;
    field[n++] = s;
    for (char *p = s; *p && n < max; p++)
        if (*p == ',') *p = 0, field[n++] = p + 1;
    return n;
}

static void sh(const char *fmt, const char *arg)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, arg);
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* Keeps npos positive and nneg negative patches of patches.csv, every
 * fourth of each class in the validation split, the rest in training. */
static void shrink_patches(const char *dir, int npos, int nneg)
{
    char path[512], tmp[512], line[4096];
    snprintf(path, sizeof path, "%s/patches.csv", dir);
    snprintf(tmp, sizeof tmp, "%s/patches.tmp", dir);
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    ck_assert(in && out);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, in));
    fputs(line, out);
    /* column numbers of label and split in the header */
    char hdr[4096], *hf[64];
    strcpy(hdr, line);
    int nh = split_csv(hdr, hf, 64), lab = -1, spl = -1;
    for (int i = 0; i < nh; i++) {
        if (!strcmp(hf[i], "label")) lab = i;
        if (!strcmp(hf[i], "split")) spl = i;
    }
    ck_assert(lab >= 0 && spl >= 0);
    while (fgets(line, sizeof line, in) && (npos > 0 || nneg > 0)) {
        char *field[64], copy[4096];
        strcpy(copy, line);
        int n = split_csv(copy, field, 64);
        ck_assert_int_gt(n, spl);
        int *left = field[lab][0] == '1' ? &npos : &nneg;
        if (*left == 0) continue;
        field[spl] = (*left)-- % 4 == 0 ? "val" : "train";
        for (int i = 0; i < n; i++) fprintf(out, "%s%s", field[i], i < n - 1 ? "," : "\n");
    }
    ck_assert_int_eq(npos + nneg, 0);
    fclose(in);
    fclose(out);
    ck_assert_int_eq(rename(tmp, path), 0);
}

/* libgomp's threads do not survive fork(): everything that may run an
 * OpenMP loop runs in a child of its own, and this process only forks,
 * waits and compares files.  Returns the child's wait status. */
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
    return status;
}

static void make_data(void *arg)
{
    (void)arg;
    char data[512];
    snprintf(data, sizeof data, "%s/data", root);
    ndx_synth_opts so;
    ndx_synth_defaults(&so);
    so.patients = 20, so.seed = 3, so.pixel_um = 400;
    ck_assert_msg(ndx_synth(data, &so, NULL) == NDX_OK, "%s", ndx_last_error());
    ndx_patch_opts po;
    ndx_patch_defaults(&po);
    po.window = 0.5, po.stride = 1.0, po.min_tissue = 0.3;
    ck_assert_msg(ndx_patches_build(data, &po, NULL) == NDX_OK, "%s", ndx_last_error());
    shrink_patches(data, 4, 12);
}

static void setup(void)
{
    strcpy(root, "/tmp/ndx_check_resume_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    int status = in_child(make_data, NULL);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "making the data failed");
}

static void teardown(void)
{
    if (root[0]) sh("rm -rf '%s'", root);
}

static int kill_epoch = -1, kill_batch = -1;

static void killer(void *ctx, const ndx_train_progress *p)
{
    (void)ctx;
    if (!p->done && p->epoch == kill_epoch && p->batch == kill_batch) raise(SIGKILL);
}

static void opts(ndx_train_opts *o, char *data, char *out, const char *run)
{
    ndx_train_defaults(o);
    snprintf(data, 512, "%s/data", root);
    snprintf(out, 512, "%s/%s", root, run);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    strcat(out, "/model.safetensors");
    o->arch = "tiny", o->data_dir = data, o->out = out;
    o->epochs = 2, o->batch = 4, o->input_size = 32, o->threads = 2;
    o->lr = 0.01, o->seed = 7, o->flips = 1, o->checkpoint_every = 1;
}

/* Every tensor of the checkpoint of a tiny net (weights, running stats,
 * momentum), as one concatenated block. */
static float *ckpt_weights(const char *path, size_t *total)
{
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 1, &net), NDX_OK);
    int nt = ndx_net_num_tensors(net);
    ndx_ckpt_array *a = calloc((size_t)2 * nt + 1, sizeof *a);
    char (*names)[NDX_CKPT_NAME_MAX] = calloc((size_t)2 * nt, sizeof *names);
    size_t n = 0;
    int k = 0;
    for (int i = 0; i < nt; i++) {
        ndx_param_info t;
        ck_assert_int_eq(ndx_net_tensor(net, i, &t), NDX_OK);
        for (int m = 0; m < (t.is_buffer ? 1 : 2); m++) {
            snprintf(names[k], NDX_CKPT_NAME_MAX, "%s%s", m ? "momentum." : "", t.name);
            a[k] = (ndx_ckpt_array){names[k], NULL, t.numel};
            k++;
            n += t.numel;
        }
    }
    float *all = malloc((n + 2 * 9 * 2) * sizeof *all);
    size_t off = 0;
    for (int i = 0; i < k; i++) a[i].data = all + off, off += a[i].count;
    a[k++] = (ndx_ckpt_array){"history", all + off, 2 * 9 * 2};   /* not compared */
    ndx_ckpt_state st;
    ck_assert_msg(ndx_ckpt_load(path, &st, a, k) == NDX_OK, "%s", ndx_last_error());
    ck_assert_int_eq(st.epoch, 2);
    ck_assert_int_eq(st.batch, 0);
    free(a);
    free(names);
    ndx_net_free(net);
    *total = n;
    return all;
}

typedef struct job {
    ndx_train_opts o;
    char auc_file[600];
} job;

/* Trains; a failure exits 1 with the message on stderr; writes the test AUC. */
static void train_job(void *arg)
{
    job *j = arg;
    double auc;
    if (ndx_train(&j->o, &auc) != NDX_OK) {
        fprintf(stderr, "ndx_train: %s\n", ndx_last_error());
        _exit(1);
    }
    FILE *f = fopen(j->auc_file, "w");
    if (!f || fprintf(f, "%.17g\n", auc) < 0 || fclose(f)) _exit(1);
}

static int ran_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

START_TEST(test_sigkill_resume)
{
    char data[512], a[512], b[512], ckpt_a[600], ckpt_b[600], cmd[2048];
    job ja, jb;
    /* uninterrupted */
    opts(&ja.o, data, a, "a");
    snprintf(ja.auc_file, sizeof ja.auc_file, "%s.auc", a);
    ck_assert_msg(ran_ok(in_child(train_job, &ja)), "the uninterrupted run failed");
    /* killed in epoch 2 after its second batch (the checkpoint left: after
     * its first), then resumed */
    opts(&jb.o, data, b, "b");
    snprintf(jb.auc_file, sizeof jb.auc_file, "%s.auc", b);
    kill_epoch = 2, kill_batch = 2;
    jb.o.progress = killer;
    int status = in_child(train_job, &jb);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the training child was not killed (status %d)", status);
    snprintf(ckpt_b, sizeof ckpt_b, "%s.ckpt", b);
    jb.o.progress = NULL;
    jb.o.resume = ckpt_b;
    ck_assert_msg(ran_ok(in_child(train_job, &jb)), "the resumed run failed");
    /* same final weights and momentum, same best model, same test AUC */
    size_t na, nb;
    snprintf(ckpt_a, sizeof ckpt_a, "%s.ckpt", a);
    float *wa = ckpt_weights(ckpt_a, &na), *wb = ckpt_weights(ckpt_b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(wa, wb, na * sizeof *wa) == 0, "weights differ after resume");
    free(wa);
    free(wb);
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    ck_assert_msg(system(cmd) == 0, "the best models differ");
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", ja.auc_file, jb.auc_file);
    ck_assert_msg(system(cmd) == 0, "the test AUCs differ");
    /* the outputs beside the model */
    const char *files[] = {"metrics.json", "roc.png", "loss.png"};
    for (int i = 0; i < 3; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/b/%s", root, files[i]);
        ck_assert_msg(access(p, R_OK) == 0, "%s missing", p);
    }
}
END_TEST

/* Trains; a failure writes its message to err_file and exits 1. */
static void train_or_say(void *arg)
{
    job *j = arg;
    double auc;
    if (ndx_train(&j->o, &auc) == NDX_OK) _exit(0);
    FILE *f = fopen(j->auc_file, "w");
    if (f) fprintf(f, "%s", ndx_last_error()), fclose(f);
    _exit(1);
}

/* A checkpoint whose checksum is valid but whose position does not fit
 * the run (XXH3 is no secret: anyone can re-seal a file) is refused,
 * naming the file and the field, before it indexes anything. */
START_TEST(test_resealed_checkpoint_refused)
{
    char data[512], a[512], ckpt[600], bad[600];
    job j;
    opts(&j.o, data, a, "a");
    j.o.epochs = 1;
    snprintf(j.auc_file, sizeof j.auc_file, "%s.auc", a);
    ck_assert_msg(ran_ok(in_child(train_job, &j)), "the first run failed");
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", a);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", root);
    size_t n;
    unsigned char *b = (unsigned char *)tu_slurp(ckpt, &n);
    ck_assert_ptr_nonnull(b);
    /* epoch at 24, batch at 32, step at 40 (src/train/checkpoint.c) */
    const struct { size_t at; int64_t v; const char *field; } cases[] = {
        {24, 5, "epoch (--epochs 1)"}, {32, 1000, "batch"}, {40, 99999, "step"},
        {32, -3, "batch"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, b, n);
        for (int k = 0; k < 8; k++) c[cases[i].at + k] = (unsigned char)((uint64_t)cases[i].v >> (8 * k));
        const uint64_t d = XXH3_64bits(c, n - 8);
        for (int k = 0; k < 8; k++) c[n - 8 + k] = (unsigned char)(d >> (8 * k));
        FILE *f = fopen(bad, "wb");
        ck_assert(f && fwrite(c, 1, n, f) == n && fclose(f) == 0);
        free(c);
        job r;
        opts(&r.o, data, a, i == 0 ? "r0" : i == 1 ? "r1" : i == 2 ? "r2" : "r3");
        r.o.resume = bad, r.o.epochs = 1;
        snprintf(r.auc_file, sizeof r.auc_file, "%s.err", a);
        ck_assert_msg(!ran_ok(in_child(train_or_say, &r)), "case %zu: resumed", i);
        char *msg = tu_slurp(r.auc_file, NULL);
        ck_assert_ptr_nonnull(msg);
        ck_assert_msg(strstr(msg, bad) && strstr(msg, cases[i].field),
                      "case %zu: the message lacks the file or '%s': %s", i, cases[i].field, msg);
        free(msg);
    }
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train_resume");
    TCase *t = tcase_create("resume");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_sigkill_resume);
    tcase_add_test(t, test_resealed_checkpoint_refused);
    suite_add_tcase(s, t);
    return tu_run(s);
}
