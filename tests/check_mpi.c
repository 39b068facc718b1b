/* netdx under mpirun (tools/mpi.c, docs/mpi.md), on the phantom+tiny
 * fixture of check_dissect_run:
 *   - netdx info names the MPI library, or "none"; a netdx built without
 *     MPI refuses to run as one of several ranks (then the mpirun tests
 *     print a SKIPPED line, counted by tests/run.sh);
 *   - `mpirun -np 1/2/3 netdx dissect` writes units.csv and units.json
 *     byte-identical to the one-process run (two layers, quantile and
 *     relative thresholds);
 *   - `mpirun -np 2/3 netdx train` writes the model of one process running
 *     the batch in 2/3 parts (--parts), byte for byte, with the gradient
 *     sum overlapped with the backward pass (small buckets) or after it;
 *   - a rank killed with SIGKILL mid-run (training, dissection) makes the
 *     whole job exit non-zero, naming the rank and the signal, and leaves
 *     the last checkpoint (the earlier dissection) intact; training
 *     resumed from that checkpoint under mpirun ends with the model of a
 *     run that never stopped;
 *   - bad options under several ranks fail the whole job. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
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

/* Open MPI does not free all it allocates (its own and its plugins'
 * buffers), so under AddressSanitizer LeakSanitizer would fail every rank
 * at exit: leak checks are off for the ranks only.  netdx's own leaks are
 * still caught by the plain runs of this suite and by every other suite. */
#define MPIRUN "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 mpirun"

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
        ck_assert_msg(!strstr(s, "transports"), "%s", s);   /* no MPI started alone */
        free(s);
        /* every rank on this node: its shared-memory transports, unless the
         * user chose (an MCA variable, or NETDX_MPI_TRANSPORTS) */
        ck_assert_int_eq(run(MPIRUN " -np 2 %s info", bin), 0);
        s = out_text();
        int ranks = 0;   /* both ranks' mpi lines say so */
        for (const char *p = s, *e; (p = strstr(p, "\nmpi: Open MPI v")); p++)
            ranks += (e = strchr(p + 1, '\n')) && e - p > 50 &&
                     !strncmp(e - 50, "; transports: one node's (pml ob1, btl self,vader)", 50);
        ck_assert_msg(ranks == 2, "%d ranks said one node's transports:\n%s", ranks, s);
        free(s);
        const char *mine[] = {"OMPI_MCA_pml=ob1", "OMPI_MCA_btl=self,vader,tcp",
                              "OMPI_MCA_osc=pt2pt", "NETDX_MPI_TRANSPORTS=installed"};
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(run("%s " MPIRUN " -np 2 %s info", mine[i], bin), 0);
            s = out_text();
            ck_assert_msg(strstr(s, "; transports: as configured\n") && !strstr(s, "one node's"),
                          "%s: %s", mine[i], s);
            free(s);
        }
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

/* The training runs: the fixture's tiny at 32 px, one epoch unless
 * --epochs follows, batch 6 (2 or 3 parts). */
#define KILL_EPOCHS 3
#define TRAIN "train --arch tiny --input-size 32 --batch 6 --threads 1 --sampler shuffle " \
    "--flips --keep last --seed 7 --epochs 1 --data"

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

static void mkdir_in(const char *sub)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    ck_assert(mkdir(p, 0777) == 0 || errno == EEXIST);
}

/* metrics.json of a and b the same but for the timings (seconds,
 * images_per_s: one line each), and the validation AUC a number. */
static void same_metrics(const char *a, const char *b)
{
    char p[700];
    char *t[2];
    const char *sub[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s/metrics.json", dir, sub[i]);
        size_t n = 0;
        t[i] = tu_slurp(p, &n);
        ck_assert_msg(t[i] && n > 0, "%s", p);
        char *w = t[i];   /* the timing lines dropped */
        for (char *line = t[i]; *line;) {
            char *end = strchr(line, '\n');
            const size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
            const char keep = line[len];
            line[len] = 0;   /* the line alone for strstr */
            const int timing = strstr(line, "\"seconds\"") || strstr(line, "\"images_per_s\"");
            line[len] = keep;
            if (!timing) memmove(w, line, len), w += len;
            line += len;
        }
        *w = 0;
    }
    ck_assert_msg(!strcmp(t[0], t[1]), "metrics.json of %s and %s differ:\n%s\n%s", a, b, t[0],
                  t[1]);
    const char *auc = strstr(t[0], "\"val_auc\":");
    ck_assert_msg(auc && strtod(auc + 10 + strspn(auc + 10, " \t"), NULL) > 0, "%s", t[0]);
    free(t[0]), free(t[1]);
}

START_TEST(test_mpirun_train)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun training (netdx built without MPI: make MPI=1)\n");
        return;
    }
    const int np = 2 + _i;
    char a[32], b[32];
    snprintf(a, sizeof a, "parts%d", np);
    snprintf(b, sizeof b, "np%d", np);
    mkdir_in(a), mkdir_in(b);
    ck_assert_msg(run("%s " TRAIN " %s --parts %d --out %s/%s/m.safetensors", bin, data, np, dir,
                      a) == 0, "--parts %d failed: %.3000s", np, out_text());
    /* the gradient sum overlapped with the backward pass, in small buckets
     * (tiny's 1.3 MB would be one 8 MiB bucket, after the pass) */
    ck_assert_msg(run("NETDX_MPI_BUCKET_KB=%d " MPIRUN " -np %d --oversubscribe %s " TRAIN
                      " %s --out %s/%s/m.safetensors", np == 2 ? 16 : 3, np, bin, data, dir,
                      b) == 0, "mpirun -np %d train failed: %.3000s", np, out_text());
    char *s = out_text(), *said = strstr(s, "last model:");   /* rank 0 only */
    ck_assert_msg(said && !strstr(said + 1, "last model:"), "%s", s);
    const char *sum = strstr(s, "gradient sum over ");
    double per_step = 0;
    ck_assert_msg(sum && sscanf(sum, "gradient sum over %*d ranks: %lf buckets", &per_step) == 1 &&
                  per_step >= 3, "%s", s);   /* a bucket a layer or two */
    free(s);
    ck_assert(same_file(a, b, "m.safetensors"));
    /* validation and test split across the ranks, scores gathered: the
     * losses, accuracies and AUCs of --parts */
    same_metrics(a, b);
    /* the whole batch in one part: other bits (batch norm on parts of 3 or
     * 2 images, sums in another order), a step of nearly the same size
     * and direction: |w_parts - w_whole| a small fraction (0.10 and 0.15
     * measured) of the epoch's change |w_whole - w_init| */
    ck_assert_int_eq(run("%s " TRAIN " %s --out %s/%s/whole.safetensors", bin, data, dir, a), 0);
    char p[400];
    ndx_net *x = NULL, *y = NULL, *z = NULL;
    snprintf(p, sizeof p, "%s/%s/m.safetensors", dir, a);
    ck_assert_int_eq(ndx_net_load(p, &x), NDX_OK);
    snprintf(p, sizeof p, "%s/%s/whole.safetensors", dir, a);
    ck_assert_int_eq(ndx_net_load(p, &y), NDX_OK);
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 7, &z), NDX_OK);   /* train's start */
    size_t n = 0, m = 0, k = 0;
    const float *u = ndx_net_params(x, &n), *v = ndx_net_params(y, &m), *w = ndx_net_params(z, &k);
    ck_assert(u && v && w && n == m && n == k);
    double apart = 0, moved = 0;
    for (size_t i = 0; i < n; i++)
        apart += ((double)u[i] - v[i]) * ((double)u[i] - v[i]),
        moved += ((double)v[i] - w[i]) * ((double)v[i] - w[i]);
    const double ratio = sqrt(apart / moved);
    fprintf(stderr, "--parts %d vs the whole batch: |w_parts - w_whole| / |w_whole - w_init| = "
            "%.3f\n", np, ratio);
    ck_assert_msg(apart > 0 && ratio < 0.3, "ratio %g", ratio);
    ndx_net_free(x), ndx_net_free(y), ndx_net_free(z);
}
END_TEST

/* --keep best over 3 epochs: the ranks but the root keep the best epoch's
 * weights in memory and score the test split with them. */
START_TEST(test_mpirun_train_best)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun training, --keep best (netdx built without MPI: make MPI=1)\n");
        return;
    }
    mkdir_in("best-parts"), mkdir_in("best-np");
    const char *more = "--epochs 3 --keep best --lr 0.01";   /* kept: epoch 1 (measured) */
    ck_assert_msg(run("%s " TRAIN " %s --parts 2 %s --out %s/best-parts/m.safetensors", bin,
                      data, more, dir) == 0, "%.3000s", out_text());
    ck_assert_msg(run(MPIRUN " -np 2 --oversubscribe %s " TRAIN " %s %s --out "
                      "%s/best-np/m.safetensors", bin, data, more, dir) == 0, "%.3000s",
                  out_text());
    ck_assert(same_file("best-parts", "best-np", "m.safetensors"));
    same_metrics("best-parts", "best-np");
    /* the path under test (the ranks restoring the kept weights) runs only
       when the kept epoch is not the last */
    char path[400];
    snprintf(path, sizeof path, "%s/best-np/metrics.json", dir);
    char *m = tu_slurp(path, NULL);
    ck_assert_ptr_nonnull(m);
    const char *k = strstr(m, "\"kept_epoch\":");
    ck_assert_msg(k && strtol(k + 13, NULL, 10) < 3, "%s: the kept epoch is the last", path);
    free(m);
}
END_TEST

/* Ranks started with different options drift apart: the digests of their
 * weights, compared after every epoch, stop the job loudly. */
START_TEST(test_mpirun_train_drift)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun training drift (netdx built without MPI: make MPI=1)\n");
        return;
    }
    mkdir_in("drift");
    ck_assert_int_ne(run(MPIRUN " --oversubscribe -np 1 %s " TRAIN " %s --lr 1e-4 --out "
                         "%s/drift/m.safetensors : -np 1 %s " TRAIN " %s --lr 2e-4 --out "
                         "%s/drift/m.safetensors", bin, data, dir, bin, data, dir), 0);
    char *s = out_text();
    ck_assert_msg(strstr(s, "process 1 holds other weights than process 0") != NULL, "%s", s);
    free(s);
    struct stat st;
    char p[400];
    snprintf(p, sizeof p, "%s/drift/m.safetensors", dir);
    ck_assert(stat(p, &st) != 0);   /* no model of a run that went wrong */
}
END_TEST

/* The exact-threshold second pass under mpirun: the mammograms of the
 * first half of the training split's patches (rank 0's block under -np 2,
 * more than rank 0's under -np 3) made black, so that rank 0's IoU windows
 * sit where the other ranks' do not reach: the merged thresholds fall
 * outside them and every rank dissects its shard again.  units.csv and
 * units.json are still the one process's, byte for byte. */
START_TEST(test_mpirun_second_pass)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun second pass (netdx built without MPI: make MPI=1)\n");
        return;
    }
    char dark[400], cmd[1400];
    snprintf(dark, sizeof dark, "%s/dark", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dark, data, dark);
    ck_assert_int_eq(system(cmd), 0);
    ndx_patch_index ix;
    ck_assert_msg(ndx_patches_read(dark, &ix) == NDX_OK, "%s", ndx_last_error());
    /* per image the position in the training split of its last patch */
    size_t n = 0, *last = calloc(ix.nimages, sizeof *last);
    ck_assert_ptr_nonnull(last);
    for (size_t i = 0; i < ix.n; i++)
        if (ix.patches[i].split == NDX_SPLIT_TRAIN) last[ix.patches[i].image] = ++n;
    int blacked = 0;
    for (size_t m = 0; m < ix.nimages; m++) {
        if (!last[m] || last[m] > n / 2) continue;   /* whole in the first half only */
        char p[1000];
        snprintf(p, sizeof p, "%s/%s", dark, ix.images[m].path);
        int w, h, bits;
        ck_assert_msg(ndx_png_size(p, &w, &h, &bits) == NDX_OK, "%s", ndx_last_error());
        uint16_t *zero = calloc((size_t)w * h, sizeof *zero);
        ck_assert_ptr_nonnull(zero);
        ck_assert_msg(ndx_png_write16(p, zero, w, h) == NDX_OK, "%s", ndx_last_error());
        free(zero);
        blacked++;
    }
    free(last);
    ndx_patches_free(&ix);
    ck_assert_int_gt(blacked, 0);
    char opts[1200];
    snprintf(opts, sizeof opts, "dissect --model %s --data %s --split train --layer features.14 "
             "--layer features.17 --topk 8 --batch 7 --images 0 --threads 1", model, dark);
    ck_assert_int_eq(run("%s %s --out %s/dark-plain", bin, opts, dir), 0);
    for (int np = 2; np <= 3; np++) {
        ck_assert_msg(run(MPIRUN " -np %d --oversubscribe %s %s --out %s/dark-np%d", np, bin,
                          opts, dir, np) == 0, "mpirun -np %d failed: %.3000s", np, out_text());
        char *s = out_text();
        ck_assert_msg(strstr(s, "a second pass gave the IoU") != NULL, "-np %d: %s", np, s);
        free(s);
        char sub[64];
        snprintf(sub, sizeof sub, "dark-np%d", np);
        ck_assert(same_file("dark-plain", sub, "units.csv"));
        ck_assert(same_file("dark-plain", sub, "units.json"));
    }
}
END_TEST

/* ---- a rank killed mid-run ------------------------------------------------ */

/* Starts a command line in the background, its ranks tagged with this
 * suite's folder in their environment; its exit status goes to DIR/rc. */
static void start_bg(const char *fmt, ...)
{
    char args[3000], cmd[6000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "rm -f %s/rc; (NDX_CHECK_MPI_TAG=%s OMPI_ALLOW_RUN_AS_ROOT=1 "
             "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 %s > %s/out 2>&1; echo $? > %s/rc.tmp; "
             "mv %s/rc.tmp %s/rc) &", dir, dir, args, dir, dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void nap(void)
{
    const struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* The background job's exit status, waiting up to 60 s (-1: still running). */
static int wait_bg(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/rc", dir);
    for (int i = 0; i < 6000; i++, nap()) {
        char *s = tu_slurp(p, NULL);
        if (s) {
            const int rc = atoi(s);
            free(s);
            return rc;
        }
    }
    return -1;
}

/* 1 when the NUL-separated environment env (n bytes) holds the entry e. */
static int env_has(const char *env, size_t n, const char *e)
{
    for (size_t i = 0; i < n; i += strlen(env + i) + 1)
        if (!strcmp(env + i, e)) return 1;
    return 0;
}

/* A /proc file (its size reads as 0) into buf (cap bytes, NUL added):
 * its length, 0 when it cannot be read. */
static size_t read_proc(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    if (f) {
        for (size_t got; n < cap - 1 && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0;) n += got;
        fclose(f);
    }
    buf[n] = 0;
    return n;
}

/* The pid of the tagged job's netdx of rank `rank`, 0 while there is none. */
static pid_t rank_pid(int rank)
{
    char tag[400], rk[64];
    snprintf(tag, sizeof tag, "NDX_CHECK_MPI_TAG=%s", dir);
    snprintf(rk, sizeof rk, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    pid_t found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char p[300], comm[64];
        static char env[1 << 17];
        snprintf(p, sizeof p, "/proc/%s/comm", e->d_name);
        if (!read_proc(p, comm, sizeof comm) || strcmp(comm, "netdx\n")) continue;
        snprintf(p, sizeof p, "/proc/%s/environ", e->d_name);
        const size_t n = read_proc(p, env, sizeof env);
        if (env_has(env, n, tag) && env_has(env, n, rk)) found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* 1 when the job's output so far holds s. */
static int out_has(const char *s)
{
    char *t = out_text();
    const int has = t && strstr(t, s);
    free(t);
    return has;
}

/* Kills rank 1 of the background job with SIGKILL once `when` exists and
 * the job has said `said` (NULL: either at once); then the job must fail,
 * saying so. */
static void kill_rank1(const char *when, const char *said)
{
    struct stat st;
    pid_t pid = 0;
    for (int i = 0; i < 6000 && !pid; i++, nap())
        if ((!when || stat(when, &st) == 0) && (!said || out_has(said))) pid = rank_pid(1);
    ck_assert_msg(pid > 0, "rank 1 of the job never ran (or %s never came): %.3000s",
                  when ? when : "-", out_text());
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    const int rc = wait_bg();
    char *s = out_text();
    ck_assert_msg(rc > 0, "the job with a killed rank exited %d: %.3000s", rc, s);
    ck_assert_msg(strstr(s, "signal 9") != NULL || strstr(s, "Killed") != NULL, "%s", s);
    free(s);
}

START_TEST(test_mpirun_train_killed)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun training with a killed rank (netdx built without MPI)\n");
        return;
    }
    mkdir_in("kill"), mkdir_in("whole");
    char ck[400];
    snprintf(ck, sizeof ck, "%s/kill/m.ckpt", dir);
    start_bg(MPIRUN " -np 2 --oversubscribe %s " TRAIN " %s --epochs %d --checkpoint-every 2 "
             "--checkpoint %s --out %s/kill/m.safetensors", bin, data, KILL_EPOCHS, ck, dir);
    kill_rank1(ck, NULL);
    ndx_ckpt_state cs;
    ck_assert_msg(ndx_ckpt_peek(ck, &cs) == NDX_OK, "%s", ndx_last_error());
    ck_assert_msg(cs.step > 0 && cs.epoch < KILL_EPOCHS, "step %lld epoch %lld",
                  (long long)cs.step, (long long)cs.epoch);
    /* resumed under mpirun: the model of a run that never stopped */
    ck_assert_msg(run(MPIRUN " -np 2 --oversubscribe %s " TRAIN " %s --epochs %d --resume %s "
                      "--checkpoint %s --out %s/kill/m.safetensors", bin, data, KILL_EPOCHS, ck,
                      ck, dir) == 0, "resume failed: %.3000s", out_text());
    ck_assert(run(MPIRUN " -np 2 --oversubscribe %s " TRAIN " %s --epochs %d "
                  "--out %s/whole/m.safetensors", bin, data, KILL_EPOCHS, dir) == 0);
    ck_assert(same_file("whole", "kill", "m.safetensors"));
}
END_TEST

START_TEST(test_mpirun_dissect_killed)
{
    if (!mpi_built()) {
        printf("SKIPPED: mpirun dissection with a killed rank (netdx built without MPI)\n");
        return;
    }
    char opts[1200];
    snprintf(opts, sizeof opts, "dissect --model %s --data %s --split train --layer features.14 "
             "--layer features.17 --topk 8 --batch 2 --images 0 --threads 1 --out %s/dk",
             model, data, dir);
    ck_assert_int_eq(run("%s %s", bin, opts), 0);
    char p[400];
    snprintf(p, sizeof p, "%s/dk/units.csv", dir);
    size_t n = 0, m = 0;
    char *before = tu_slurp(p, &n);
    ck_assert_ptr_nonnull(before);
    /* the same folder again under mpirun (a different top-k), a rank killed */
    start_bg(MPIRUN " -np 2 --oversubscribe %s %s --topk 4", bin, opts);
    kill_rank1(NULL, "patch/s");   /* mid-pass: past MPI_Init, its first batches done */
    char *after = tu_slurp(p, &m);
    ck_assert_msg(after && n == m && !memcmp(before, after, n), "%s changed", p);
    free(before), free(after);
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
    /* a batch that the ranks cannot share equally */
    ck_assert_int_ne(run(MPIRUN " -np 2 --oversubscribe %s train --arch tiny --input-size 32 "
                         "--data %s --batch 7 --epochs 1 --out %s/bad.safetensors", bin, data,
                         dir), 0);
    s = out_text();
    ck_assert_msg(strstr(s, "equal parts") != NULL, "%s", s);
    free(s);
    /* one image per part: batch norm has no statistics to normalise with */
    ck_assert_int_ne(run("%s train --arch tiny --input-size 32 --data %s --batch 4 --parts 4 "
                         "--epochs 1 --out %s/bad.safetensors", bin, data, dir), 0);
    s = out_text();
    ck_assert_msg(strstr(s, "one image per part") != NULL, "%s", s);
    free(s);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    /* This suite tests the ranks' orchestration, not the kernels (those
     * suites run under every set): its netdx runs keep the default set, as
     * under ASan the ref set made one training run outlast the timeout. */
    unsetenv("NETDX_KERNELS");
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("mpirun");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_info_or_refusal);
    tcase_add_loop_test(tc, test_mpirun_identical, 0, 2);
    tcase_add_loop_test(tc, test_mpirun_train, 0, 2);
    tcase_add_test(tc, test_mpirun_train_best);
    tcase_add_test(tc, test_mpirun_train_drift);
    tcase_add_test(tc, test_mpirun_second_pass);
    tcase_add_test(tc, test_mpirun_train_killed);
    tcase_add_test(tc, test_mpirun_dissect_killed);
    tcase_add_test(tc, test_mpirun_bad_options);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
