/* Outputs: nothing lost, nothing mixed (docs/reliability.md).  The netdx
 * binary beside this suite's folder on phantom data (6 patients at 400 um)
 * and a random-init `tiny`:
 *   - outputs that would destroy inputs are refused, the inputs unchanged
 *     (train --out patches.csv, eval --scores/--roc naming patches.csv, a
 *     mammogram or a symlink to one, infer --out the model, --checkpoint X
 *     --out X, dissect/rank --out the data folder);
 *   - a run into an output another run holds (its lock taken here with
 *     flock) fails at once, naming the holder's pid;
 *   - a dissection killed mid-run leaves the previous folder whole, and the
 *     next run removes the killed run's temporary (and a dead pid's
 *     leftover) but not a live one's;
 *   - CSV fields holding a comma, a quote and a newline (an image folder so
 *     named) round-trip through manifest, patches.csv and eval --scores;
 *   - output locations are checked before any work (a missing folder, a
 *     directory given as a file, a file given as a folder);
 *   - a write's message names the user's path and the reason;
 *   - the library's pieces alone: the CSV writer against the reader, and
 *     the io plan on hard links, symlinked folders, outputs not there yet,
 *     a lock held in this process, a stale ".old" folder put back. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"
#include "../src/io/io.h"

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

static char *path_of(const char *fmt, ...)
{
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

static void setup(void)
{
    strcpy(dir, "/tmp/ndx_check_outputs_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(run("synth --out %s/data --patients 6 --seed 3 --pixel-um 400 "
                         "--normal-frac 0", dir), 0);
    ck_assert_int_eq(run("patches --data %s/data", dir), 0);
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 5, &net), NDX_OK);
    ck_assert_msg(ndx_safetensors_save(net, path_of("%s/m.safetensors", dir)) == NDX_OK, "%s",
                  ndx_last_error());
    ndx_net_free(net);
    float x[32 * 32];
    for (int i = 0; i < 32 * 32; i++) x[i] = (float)(i % 7) / 7.0f;
    const int64_t shape[2] = {32, 32};
    ndx_tensor t;
    ck_assert_int_eq(ndx_tensor_view(&t, x, 2, shape), NDX_OK);
    ck_assert_int_eq(ndx_npy_write(path_of("%s/x.npy", dir), &t), NDX_OK);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* The first image of the data's patch index (a mammogram). */
static void first_image(char *buf, size_t n)
{
    ndx_patch_index ix;
    ck_assert_msg(ndx_patches_read(path_of("%s/data", dir), &ix) == NDX_OK, "%s", ndx_last_error());
    snprintf(buf, n, "%s/data/%s", dir, ix.images[0].path);
    ndx_patches_free(&ix);
}

/* path's bytes are still `was` (freed). */
static void assert_same(const char *path, char *was, size_t n)
{
    size_t m;
    char *now = tu_slurp(path, &m);
    ck_assert_msg(now && m == n && !memcmp(now, was, n), "%s changed", path);
    free(now);
    free(was);
}

#define TRAIN "train --arch tiny --data %s/data --input-size 32 --epochs 1 --batch 8"

START_TEST(test_outputs_not_inputs)
{
    size_t np, nm, ni;
    const char *patches = path_of("%s/data/patches.csv", dir);
    char *pbytes = tu_slurp(patches, &np);
    char *mbytes = tu_slurp(path_of("%s/m.safetensors", dir), &nm);
    char img[1024];
    first_image(img, sizeof img);
    char *ibytes = tu_slurp(img, &ni);
    ck_assert(pbytes && mbytes && ibytes);

    ck_assert_int_eq(run(TRAIN " --out %s", dir, patches), 1);
    ck_assert(output_has("is the input patches.csv"));
    ck_assert(!output_has("epoch 1/"));
    ck_assert_int_eq(run("eval --model %s/m.safetensors --data %s/data --scores %s "
                         "--roc %s/r.png", dir, dir, patches, dir), 1);
    ck_assert(output_has("is the input patches.csv"));
    ck_assert_int_eq(run("eval --model %s/m.safetensors --data %s/data --roc %s "
                         "--scores %s/s.csv", dir, dir, img, dir), 1);
    ck_assert(output_has("is the input"));
    ck_assert(output_has(img));
    ck_assert_int_eq(symlink(patches, path_of("%s/link.csv", dir)), 0);
    ck_assert_int_eq(run("eval --model %s/m.safetensors --data %s/data --scores %s/link.csv "
                         "--roc %s/r.png", dir, dir, dir, dir), 1);
    ck_assert(output_has("is the input patches.csv"));
    ck_assert_int_eq(run("infer --model %s/m.safetensors --input %s/x.npy --out "
                         "%s/m.safetensors", dir, dir, dir), 1);
    ck_assert(output_has("is the input --model"));
    ck_assert_int_eq(run(TRAIN " --checkpoint %s/same --out %s/same", dir, dir, dir), 1);
    ck_assert(output_has("are the same file"));
    ck_assert_int_eq(run("eval --model %s/m.safetensors --data %s/data --roc %s/two "
                         "--scores %s/./two", dir, dir, dir, dir), 1);
    ck_assert(output_has("are the same file"));
    ck_assert_int_eq(run("dissect --model %s/m.safetensors --data %s/data --layer features.17 "
                         "--out %s/data", dir, dir, dir), 1);
    ck_assert(output_has("holds the input"));
    ck_assert_int_eq(run("rank --model %s/m.safetensors --data %s/data --out %s", dir, dir,
                         patches), 1);
    ck_assert(output_has("is not a folder"));
    assert_same(patches, pbytes, np);
    assert_same(path_of("%s/m.safetensors", dir), mbytes, nm);
    assert_same(img, ibytes, ni);
    struct stat sb;
    ck_assert(stat(path_of("%s/same", dir), &sb) != 0);
    ck_assert(stat(path_of("%s/two", dir), &sb) != 0);
}
END_TEST

/* Holds the lock of output `name` in DIR as another run would: its fd. */
static int hold_lock(const char *name)
{
    const int fd = open(path_of("%s/.%s.lock", dir, name), O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    char pid[32];
    const int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    ck_assert_int_eq(write(fd, pid, (size_t)n), n);
    return fd;
}

START_TEST(test_lock)
{
    char pid[48];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    int fd = hold_lock("busy.safetensors");
    ck_assert_int_eq(run(TRAIN " --out %s/busy.safetensors", dir, dir), 1);
    ck_assert(output_has("is being written by another run"));
    ck_assert(output_has(pid));
    ck_assert(!output_has("epoch 1/"));
    close(fd);
    fd = hold_lock("busy");
    const char *dissect = "dissect --model %s/m.safetensors --data %s/data --split val "
                          "--layer features.17 --topk 4 --images 0 --out %s/busy";
    ck_assert_int_eq(run(dissect, dir, dir, dir), 1);
    ck_assert(output_has(pid));
    struct stat sb;
    ck_assert(stat(path_of("%s/busy", dir), &sb) != 0);
    close(fd);   /* released: the same run now goes through, its lock file removed */
    ck_assert_int_eq(run(dissect, dir, dir, dir), 0);
    ck_assert(stat(path_of("%s/busy/units.csv", dir), &sb) == 0);
    ck_assert(stat(path_of("%s/.busy.lock", dir), &sb) != 0);
}
END_TEST

/* Entries of DIR named "<name>.tmp.<pid>." (pid 0: "<name>.tmp."). */
static int tmp_of(const char *name, long pid)
{
    char prefix[300];
    if (pid) snprintf(prefix, sizeof prefix, "%s.tmp.%ld.", name, pid);
    else snprintf(prefix, sizeof prefix, "%s.tmp.", name);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

/* A pid that is gone: a child that has exited and been reaped. */
static long dead_pid(void)
{
    const pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0) _exit(0);
    ck_assert_int_eq(waitpid(p, NULL, 0), p);
    return (long)p;
}

START_TEST(test_dissect_crash)
{
    const char *common = "--model %s/m.safetensors --data %s/data --split val "
                         "--layer features.17 --images 0 --out %s/diss";
    char args[1200];
    snprintf(args, sizeof args, common, dir, dir, dir);
    ck_assert_int_eq(run("dissect --topk 8 %s", args), 0);
    size_t n0;
    char *units0 = tu_slurp(path_of("%s/diss/units.csv", dir), &n0);
    char *before = tu_slurp(path_of("%s/diss/units.csv", dir), NULL);
    ck_assert(units0 && before);
    /* a dead run's leftovers and a live one's temporary */
    const long dead = dead_pid();
    ck_assert_int_eq(mkdir(path_of("%s/diss.tmp.%ld.aaaaaa", dir, dead), 0755), 0);
    FILE *f = fopen(path_of("%s/diss.tmp.%ld.aaaaaa/units.csv", dir, dead), "w");
    fputs("half", f);
    fclose(f);
    ck_assert_int_eq(mkdir(path_of("%s/diss.tmp.%ld.bbbbbb", dir, (long)getpid()), 0755), 0);

    /* a run killed while it works */
    const pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "exec env NETDX_THREADS=1 %s dissect --topk 4 %s "
                 ">/dev/null 2>&1", bin, args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int seen = 0, status;
    for (int i = 0; i < 60000 && !seen; i++) {
        seen = tmp_of("diss", (long)child) > 0;
        if (!seen && waitpid(child, &status, WNOHANG) == child) break;
        if (!seen) nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    ck_assert_msg(seen, "the dissection never built its folder under a temporary name");
    ck_assert_int_eq(kill(child, SIGKILL), 0);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    assert_same(path_of("%s/diss/units.csv", dir), units0, n0);
    struct stat sb;
    ck_assert(stat(path_of("%s/diss/features.17.dstate", dir), &sb) == 0);
    ck_assert(stat(path_of("%s/diss/index.html", dir), &sb) == 0);
    ck_assert_int_ge(tmp_of("diss", (long)child), 1);

    /* the next run: the new folder in place, the dead runs' temporaries gone */
    ck_assert_int_eq(run("dissect --topk 4 %s", args), 0);
    char *after = tu_slurp(path_of("%s/diss/units.csv", dir), NULL);
    ck_assert(after && strcmp(after, before) != 0);   /* top-4 lists now */
    ck_assert_int_eq(tmp_of("diss", (long)child), 0);
    ck_assert_int_eq(tmp_of("diss", dead), 0);
    ck_assert_int_eq(tmp_of("diss", (long)getpid()), 1);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_csv_quoting)
{
    static const char weird[] = "im,a\"b\nc";
    ck_assert_int_eq(run("synth --out %s/q --patients 6 --seed 3 --pixel-um 400 --normal-frac 0",
                         dir), 0);
    ck_assert_int_eq(rename(path_of("%s/q/images", dir), path_of("%s/q/%s", dir, weird)), 0);
    ndx_manifest m = {0};
    const char *man = path_of("%s/q/manifest.csv", dir);
    ck_assert_msg(ndx_manifest_read(man, &m) == NDX_OK, "%s", ndx_last_error());
    for (size_t i = 0; i < m.n; i++) {
        char *p = m.rows[i].image_path;
        ck_assert(!strncmp(p, "images/", 7));
        char now[1100];
        snprintf(now, sizeof now, "%s/%s", weird, p + 7);
        ck_assert_uint_lt(strlen(now), sizeof m.rows[i].image_path);
        memcpy(p, now, strlen(now) + 1);
    }
    ck_assert_msg(ndx_manifest_write(man, &m) == NDX_OK, "%s", ndx_last_error());
    ndx_manifest_free(&m);
    ck_assert_int_eq(run("patches --data %s/q", dir), 0);
    ck_assert_int_eq(run("eval --model %s/m.safetensors --data %s/q --split val "
                         "--scores %s/s.csv --roc %s/roc.png", dir, dir, dir, dir), 0);
    ndx_csv *c;
    ck_assert_int_eq(ndx_csv_open(path_of("%s/s.csv", dir), &c), NDX_OK);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_str_eq(ndx_csv_field(c, 1), "image");
    long rows = 0;
    while (ndx_csv_next(c) == 1) {
        ck_assert_int_eq(ndx_csv_nfields(c), 8);
        const char *image = ndx_csv_field(c, 1);
        ck_assert_msg(!strncmp(image, weird, strlen(weird)), "row %ld: image '%s'", rows, image);
        struct stat sb;
        ck_assert(stat(path_of("%s/q/%s", dir, image), &sb) == 0);
        rows++;
    }
    ndx_csv_close(c);
    ck_assert_int_gt(rows, 0);
}
END_TEST

START_TEST(test_output_location)
{
    ck_assert_int_eq(run(TRAIN " --out %s/none/m.safetensors", dir, dir), 1);
    ck_assert(output_has(path_of("the folder %s/none does not exist", dir)));
    ck_assert(!output_has("epoch 1/"));
    ck_assert_int_eq(run(TRAIN " --out %s/data", dir, dir), 1);
    ck_assert(output_has("is a directory"));
    ck_assert(!output_has("epoch 1/"));
    ck_assert_int_eq(run("eval --model %s/m.safetensors --data %s/data --scores %s/none/s.csv",
                         dir, dir, dir), 1);
    ck_assert(output_has("does not exist"));
    ck_assert(!output_has("AUC"));
    ck_assert_int_eq(run("dissect --model %s/m.safetensors --data %s/data --layer features.17 "
                         "--out %s/x.npy", dir, dir, dir), 1);
    ck_assert(output_has("is a file, not a folder"));
    ck_assert_int_eq(run("infer --model %s/m.safetensors --input %s/x.npy --out %s/none/y.npy",
                         dir, dir, dir), 1);
    ck_assert(output_has(path_of("the folder %s/none does not exist", dir)));
}
END_TEST

START_TEST(test_write_messages)
{
    float x[4] = {1, 2, 3, 4};
    const int64_t shape[1] = {4};
    ndx_tensor t;
    ck_assert_int_eq(ndx_tensor_view(&t, x, 1, shape), NDX_OK);
    const char *p = path_of("%s/none/y.npy", dir);
    ck_assert_int_ne(ndx_npy_write(p, &t), NDX_OK);
    const char *msg = ndx_last_error();
    ck_assert_msg(strstr(msg, p) && strstr(msg, path_of("the folder %s/none does not exist", dir))
                  && !strstr(msg, ".tmp."), "message: %s", msg);
    /* a write that fails midway (the file size limit): the reason given, nothing left */
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    const pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(pfd[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        static float big[1 << 16];
        const int64_t s1[1] = {1 << 16};
        ndx_tensor b;
        ndx_tensor_view(&b, big, 1, s1);
        const ndx_status st = ndx_npy_write(path_of("%s/big.npy", dir), &b);
        const char *m = st ? ndx_last_error() : "written";
        if (write(pfd[1], m, strlen(m)) < 0) _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    char got[2048] = {0};
    ssize_t k, n = 0;
    while ((k = read(pfd[0], got + n, sizeof got - 1 - (size_t)n)) > 0) n += k;
    close(pfd[0]);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    ck_assert_msg(strstr(got, "big.npy") && strstr(got, "File too large"), "message: %s", got);
    struct stat sb;
    ck_assert(stat(path_of("%s/big.npy", dir), &sb) != 0);
    ck_assert_int_eq(tmp_of("big.npy", 0), 0);
}
END_TEST


START_TEST(test_csv_writer_roundtrip)
{
    static const char *const fields[] = {"plain", "", "a,b", "say \"hi\"", "line1\nline2",
                                         "cr\rx", "crlf\r\nx", " lead", "\"", ",", "images/P1.png"};
    const int nf = (int)(sizeof fields / sizeof *fields);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < nf; i++) {
            if (i) fputc(',', f);
            ndx__csv_put(f, fields[(i + r) % nf]);
        }
        fputc('\n', f);
    }
    fclose(f);
    ndx_csv *c;
    ck_assert_int_eq(ndx_csv_open_mem(text, len, "mem", &c), NDX_OK);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(ndx_csv_next(c), 1);
        ck_assert_int_eq(ndx_csv_nfields(c), nf);
        for (int i = 0; i < nf; i++) ck_assert_str_eq(ndx_csv_field(c, i), fields[(i + r) % nf]);
    }
    ck_assert_int_eq(ndx_csv_next(c), 0);
    ndx_csv_close(c);
    /* ordinary values stay as they are; quotes doubled inside quotes */
    ck_assert(!strncmp(text, "plain,,\"a,b\",\"say \"\"hi\"\"\",", 26));
    ck_assert_ptr_nonnull(strstr(text, ",images/P1.png\n"));
    free(text);
}
END_TEST

static void touch(const char *p)
{
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("input\n", f);
    fclose(f);
}

/* The message of a plan of one input and one output that fails begin. */
static const char *refused(const char *in, const char *in_may_be, const char *out_what,
                           const char *out, int flags)
{
    ndx_ioplan *p;
    ck_assert_int_eq(ndx_ioplan_new("test", &p), NDX_OK);
    ck_assert_int_eq(ndx_ioplan_input(p, "IN", in, in_may_be), NDX_OK);
    ck_assert_int_eq(ndx_ioplan_output(p, out_what, out, flags), NDX_OK);
    const ndx_status st = ndx_ioplan_begin(p);
    ndx_ioplan_free(p);
    return st ? ndx_last_error() : NULL;
}

START_TEST(test_plan_library)
{
    const char *real = path_of("%s/real", dir), *alias = path_of("%s/alias", dir);
    ck_assert_int_eq(mkdir(real, 0755), 0);
    ck_assert_int_eq(symlink("real", alias), 0);
    const char *in = path_of("%s/real/in.csv", dir);
    touch(in);
    ck_assert_int_eq(link(in, path_of("%s/hard.csv", dir)), 0);
    const char *m = refused(in, NULL, "--out", path_of("%s/hard.csv", dir), 0);
    ck_assert_msg(m && strstr(m, "is the input IN"), "hard link: %s", m ? m : "accepted");
    m = refused(in, NULL, "--out", path_of("%s/alias/in.csv", dir), 0);
    ck_assert_msg(m && strstr(m, "is the input IN"), "symlinked folder: %s", m ? m : "accepted");
    m = refused(in, NULL, "--out", alias, NDX_OUT_DIR);
    ck_assert_msg(m && strstr(m, "holds the input IN"), "folder: %s", m ? m : "accepted");
    ck_assert_ptr_null(refused(in, "--checkpoint", "--checkpoint", in, 0));
    ck_assert_ptr_nonnull(refused(in, "--checkpoint", "--out", in, 0));
    ck_assert_ptr_null(refused(in, NULL, "--out", path_of("%s/real/new.csv", dir), 0));

    /* two outputs not there yet, named through the link and directly */
    ndx_ioplan *p, *q;
    ck_assert_int_eq(ndx_ioplan_new("test", &p), NDX_OK);
    ck_assert_int_eq(ndx_ioplan_output(p, "A", path_of("%s/real/new", dir), 0), NDX_OK);
    ck_assert_int_eq(ndx_ioplan_output(p, "B", path_of("%s/alias/./new", dir), 0), NDX_OK);
    ck_assert_int_ne(ndx_ioplan_begin(p), NDX_OK);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "are the same file"));
    ndx_ioplan_free(p);

    /* a lock is a lock within one process too; freed, it is gone */
    char pid[64];
    snprintf(pid, sizeof pid, "pid %ld, netdx first", (long)getpid());
    ck_assert_int_eq(ndx_ioplan_new("first", &p), NDX_OK);
    ck_assert_int_eq(ndx_ioplan_output(p, "--out", path_of("%s/deep/a/b/o.bin", dir),
                                       NDX_OUT_MKDIRS), NDX_OK);
    ck_assert_msg(ndx_ioplan_begin(p) == NDX_OK, "%s", ndx_last_error());
    struct stat sb;
    ck_assert(stat(path_of("%s/deep/a/b", dir), &sb) == 0 && S_ISDIR(sb.st_mode));
    ck_assert_int_eq(ndx_ioplan_new("second", &q), NDX_OK);
    ck_assert_int_eq(ndx_ioplan_output(q, "--out", path_of("%s/deep/a/b/o.bin", dir), 0), NDX_OK);
    ck_assert_int_ne(ndx_ioplan_begin(q), NDX_OK);
    ck_assert_msg(strstr(ndx_last_error(), pid), "%s", ndx_last_error());
    ndx_ioplan_free(q);
    ndx_ioplan_free(p);
    ck_assert(stat(path_of("%s/deep/a/b/.o.bin.lock", dir), &sb) != 0);

    /* a crash between the two renames of a folder without RENAME_EXCHANGE:
     * the old folder, aside under a dead pid, is put back */
    const long dead = dead_pid();
    ck_assert_int_eq(mkdir(path_of("%s/kept.tmp.%ld.old", dir, dead), 0755), 0);
    touch(path_of("%s/kept.tmp.%ld.old/units.csv", dir, dead));
    ck_assert_int_eq(mkdir(path_of("%s/kept.tmp.%ld.Q1w2e3", dir, dead), 0755), 0);
    ck_assert_int_eq(ndx_ioplan_new("test", &p), NDX_OK);
    ck_assert_int_eq(ndx_ioplan_output(p, "--out", path_of("%s/kept", dir), NDX_OUT_DIR), NDX_OK);
    ck_assert_msg(ndx_ioplan_begin(p) == NDX_OK, "%s", ndx_last_error());
    ndx_ioplan_free(p);
    ck_assert(stat(path_of("%s/kept/units.csv", dir), &sb) == 0);
    ck_assert_int_eq(tmp_of("kept", dead), 0);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    tu_netdx_path(argv[0], bin, sizeof bin);
    Suite *s = suite_create("outputs");
    TCase *tc = tcase_create("outputs");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_outputs_not_inputs);
    tcase_add_test(tc, test_lock);
    tcase_add_test(tc, test_dissect_crash);
    tcase_add_test(tc, test_csv_quoting);
    tcase_add_test(tc, test_output_location);
    tcase_add_test(tc, test_write_messages);
    tcase_add_test(tc, test_csv_writer_roundtrip);
    tcase_add_test(tc, test_plan_library);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
