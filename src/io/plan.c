/* The io plan: what one run of a stage reads and writes, checked before
 * any work (the public half of it is in include/netdx.h).
 *
 * A path's identity is its device and inode (stat: symlinks followed); an
 * output not there yet is named by its folder's device and inode and its
 * last name.  ndx_ioplan_begin, in this order:
 *   1. every output's location: its folder exists (or, NDX_OUT_MKDIRS, the
 *      nearest existing ancestor) and is a writable folder; a file output is
 *      not a directory, a folder output not a file;
 *   2. conflicts: an output that is an input (unless the input said it may
 *      be that output), a folder output holding an input or another output
 *      (walking up the other's folders by ".."), two outputs that are one;
 *   3. the folders of NDX_OUT_MKDIRS outputs are created;
 *   4. a lock per output: flock(LOCK_EX | LOCK_NB) on "<folder>/.<name>.lock",
 *      "<pid> <stage>" written into it; a held lock fails at once naming
 *      that pid and stage.  After locking, the file at the lock's path must still be
 *      the one locked (a releasing run unlinks it), else it is taken again;
 *   5. temporaries "<name>.tmp.<pid>.*" beside each output whose writer pid
 *      is gone are removed (ndx__stale_clean).
 * ndx_ioplan_free unlinks the lock files and closes them. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "netdx.h"

typedef struct entry {
    char *what, *path, *may_be;  /* may_be: an output this input may be */
    char *dir, *base;            /* path's folder and last name */
    int out, flags;
    int exists, isdir, dir_ok;   /* dir_ok: the folder exists */
    dev_t dev;                   /* path's, or (not there) its folder's */
    ino_t ino;
    char *lock;                  /* the lock file, while held */
    int fd;
} entry;

struct ndx_ioplan {
    char *stage;
    entry *e;
    int n, cap, begun;
};

static char *dup_str(const char *s)
{
    const size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* fmt into a new string (NULL when out of memory). */
static char *str_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

ndx_status ndx__split_path(const char *path, char **dir, char **base)
{
    *dir = *base = NULL;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;   /* "report/" is "report" */
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    if (s == n || (n == 2 && !memcmp(path, "..", 2)) || (n == 1 && path[0] == '.'))
        return ndx__fail(NDX_ERR_INVALID, "'%s' names no file or folder of its own", path);
    *base = malloc(n - s + 1);
    *dir = s == 0 ? dup_str(".") : s == 1 ? dup_str("/") : malloc(s);
    if (!*base || !*dir) {
        free(*base), free(*dir);
        *dir = *base = NULL;
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(*base, path + s, n - s);
    (*base)[n - s] = 0;
    if (s > 1) {
        memcpy(*dir, path, s - 1);
        (*dir)[s - 1] = 0;
    }
    return NDX_OK;
}

ndx_status ndx_ioplan_new(const char *stage, ndx_ioplan **p)
{
    *p = calloc(1, sizeof **p);
    if (*p && !((*p)->stage = dup_str(stage ? stage : "netdx"))) free(*p), *p = NULL;
    return *p ? NDX_OK : ndx__fail(NDX_ERR_NOMEM, "io plan: out of memory");
}

static ndx_status add(ndx_ioplan *p, const char *what, const char *path, const char *may_be,
                      int out, int flags)
{
    if (!p || !what || !path || !*path)
        return ndx__fail(NDX_ERR_INVALID, "io plan: NULL plan, name or an empty path");
    if (p->begun) return ndx__fail(NDX_ERR_INVALID, "io plan: %s added after begin", path);
    if (p->n == p->cap) {
        const int cap = p->cap ? 2 * p->cap : 16;
        entry *e = realloc(p->e, (size_t)cap * sizeof *e);
        if (!e) return ndx__fail(NDX_ERR_NOMEM, "io plan: out of memory");
        p->e = e, p->cap = cap;
    }
    entry *e = &p->e[p->n];
    memset(e, 0, sizeof *e);
    e->fd = -1, e->out = out, e->flags = flags;
    ndx_status st = ndx__split_path(path, &e->dir, &e->base);
    if (st) return st;
    e->what = dup_str(what), e->path = dup_str(path);
    if (may_be) e->may_be = dup_str(may_be);
    p->n++;
    if (!e->what || !e->path || (may_be && !e->may_be))
        return ndx__fail(NDX_ERR_NOMEM, "io plan: out of memory");
    struct stat sb;
    if (stat(path, &sb) == 0) {
        e->exists = e->dir_ok = 1;
        e->isdir = S_ISDIR(sb.st_mode) != 0;
        e->dev = sb.st_dev, e->ino = sb.st_ino;
    } else if (stat(e->dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        e->dir_ok = 1;
        e->dev = sb.st_dev, e->ino = sb.st_ino;
    }
    return NDX_OK;
}

ndx_status ndx_ioplan_input(ndx_ioplan *p, const char *what, const char *path, const char *may_be)
{
    if (!path) return NDX_OK;   /* an optional input not given */
    return add(p, what, path, may_be, 0, 0);
}

ndx_status ndx_ioplan_output(ndx_ioplan *p, const char *what, const char *path, int flags)
{
    if (!path) return NDX_OK;
    return add(p, what, path, NULL, 1, flags);
}

static int same(const entry *a, const entry *b)
{
    if (a->exists != b->exists) return 0;
    if (a->exists || (a->dir_ok && b->dir_ok))
        return a->dev == b->dev && a->ino == b->ino && (a->exists || !strcmp(a->base, b->base));
    return !strcmp(a->path, b->path);   /* both under a folder still to be made */
}

/* Whether e is (or lies inside) the folder d that exists: d's device and
 * inode met walking up from e's folder by "..". */
static int within(const entry *e, const entry *d)
{
    if (!d->exists || !d->isdir || !(e->exists || e->dir_ok)) return 0;
    if (e->exists && e->dev == d->dev && e->ino == d->ino) return 1;
    size_t n = strlen(e->dir);
    char *up = malloc(n + 3 * 256 + 1);
    if (!up) return 0;
    memcpy(up, e->dir, n + 1);
    struct stat sb, prev = {0};
    int found = 0;
    for (int depth = 0; depth < 256 && stat(up, &sb) == 0; depth++) {
        if (sb.st_dev == d->dev && sb.st_ino == d->ino) {
            found = 1;
            break;
        }
        if (depth && sb.st_dev == prev.st_dev && sb.st_ino == prev.st_ino) break;   /* "/" */
        prev = sb;
        memcpy(up + n, "/..", 4);
        n += 3;
    }
    free(up);
    return found;
}

/* 1. e's folder exists and takes files; e is of the kind asked. */
static ndx_status check_location(const entry *e)
{
    if (e->exists && e->isdir && !(e->flags & NDX_OUT_DIR))
        return ndx__fail(NDX_ERR_INVALID, "%s %s is a directory; give a file name",
                         e->what, e->path);
    if (e->exists && !e->isdir && (e->flags & NDX_OUT_DIR))
        return ndx__fail(NDX_ERR_INVALID, "%s %s is a file, not a folder", e->what,
                         e->path);
    char *dir = dup_str(e->dir);
    if (!dir) return ndx__fail(NDX_ERR_NOMEM, "io plan: out of memory");
    struct stat sb;
    int ok;
    while (!(ok = stat(dir, &sb) == 0) && errno == ENOENT && (e->flags & NDX_OUT_MKDIRS) &&
           strcmp(dir, ".") && strcmp(dir, "/")) {
        char *slash = strrchr(dir, '/');
        if (!slash) strcpy(dir, ".");
        else slash[slash == dir] = 0;
    }
    ndx_status st = NDX_OK;
    if (!ok)
        st = ndx__fail(NDX_ERR_IO, "%s %s: the folder %s %s", e->what, e->path, dir,
                       errno == ENOENT ? "does not exist" : strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        st = ndx__fail(NDX_ERR_IO, "%s %s: %s is not a folder", e->what, e->path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        st = ndx__fail(NDX_ERR_IO, "%s %s: cannot write in the folder %s: %s", e->what,
                       e->path, dir, strerror(errno));
    free(dir);
    return st;
}

/* 2. output o against every entry before it and every input. */
static ndx_status check_conflicts(const ndx_ioplan *p, int i)
{
    const entry *o = &p->e[i];
    for (int j = 0; j < p->n; j++) {
        const entry *x = &p->e[j];
        if (j == i || (x->out && j > i)) continue;
        const int is = same(o, x), inside = !is && (o->flags & NDX_OUT_DIR) && within(x, o);
        const int holds = !is && x->out && (x->flags & NDX_OUT_DIR) && within(o, x);
        if (!x->out && is && x->may_be && !strcmp(x->may_be, o->what)) continue;
        if (!x->out && is)
            return ndx__fail(NDX_ERR_INVALID, "%s %s is the input %s (%s): writing it would "
                             "destroy it; choose another output", o->what, o->path, x->what,
                             x->path);
        if (!x->out && inside)
            return ndx__fail(NDX_ERR_INVALID, "%s %s holds the input %s (%s): replacing the "
                             "folder would destroy it; choose another output folder", o->what,
                             o->path, x->what, x->path);
        if (x->out && is)
            return ndx__fail(NDX_ERR_INVALID, "%s %s and %s %s are the same file; give "
                             "them different names", x->what, x->path, o->what, o->path);
        if (x->out && (inside || holds))
            return ndx__fail(NDX_ERR_INVALID, "%s %s lies inside %s %s, which is replaced "
                             "as a whole; give them separate places", inside ? x->what : o->what,
                             inside ? x->path : o->path, inside ? o->what : x->what,
                             inside ? o->path : x->path);
    }
    return NDX_OK;
}

/* "pid N, <stage>" from a held lock file's first line "N <stage>". */
static void lock_holder(int fd, char *buf, size_t n)
{
    char line[96];
    const ssize_t k = pread(fd, line, sizeof line - 1, 0);
    line[k > 0 ? k : 0] = 0;
    line[strcspn(line, "\n")] = 0;
    char *sp = strchr(line, ' ');
    if (sp) *sp++ = 0;
    if (!line[0] || strspn(line, "0123456789") != strlen(line)) snprintf(buf, n, "pid unknown");
    else snprintf(buf, n, "pid %s%s%s", line, sp && *sp ? ", netdx " : "", sp ? sp : "");
}

/* 4. the lock of output e. */
static ndx_status take_lock(const ndx_ioplan *p, entry *e)
{
    char *lock = str_fmt("%s/.%s.lock", e->dir, e->base);
    if (!lock) return ndx__fail(NDX_ERR_NOMEM, "io plan: out of memory");
    for (int tries = 0; tries < 100; tries++) {
        const int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            const int err = errno;
            free(lock);
            return ndx__fail(NDX_ERR_IO, "%s %s: cannot create its lock file: %s",
                             e->what, e->path, strerror(err));
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            char who[160];
            lock_holder(fd, who, sizeof who);
            close(fd);
            ndx_status st = err == EWOULDBLOCK
                ? ndx__fail(NDX_ERR_IO, "%s %s is being written by another run (%s; "
                            "lock %s): wait for it to end, or stop it", e->what,
                            e->path, who, lock)
                : ndx__fail(NDX_ERR_IO, "%s %s: cannot lock %s: %s", e->what,
                            e->path, lock, strerror(err));
            free(lock);
            return st;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lock, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            char pid[96];
            const int n = snprintf(pid, sizeof pid, "%ld %.60s\n", (long)getpid(), p->stage);
            if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
                const int err = errno;
                close(fd);
                free(lock);
                return ndx__fail(NDX_ERR_IO, "%s %s: cannot write its lock file: %s", e->what, e->path, strerror(err));
            }
            e->fd = fd, e->lock = lock;
            return NDX_OK;
        }
        close(fd);   /* unlinked by its last holder meanwhile: take the new one */
    }
    free(lock);
    return ndx__fail(NDX_ERR_IO, "%s %s: its lock file keeps changing", e->what,
                     e->path);
}

ndx_status ndx_ioplan_begin(ndx_ioplan *p)
{
    if (!p || p->begun) return ndx__fail(NDX_ERR_INVALID, "io plan: NULL or begun twice");
    p->begun = 1;
    ndx_status st = NDX_OK;
    for (int i = 0; i < p->n && !st; i++)
        if (p->e[i].out) st = check_location(&p->e[i]);
    for (int i = 0; i < p->n && !st; i++)
        if (p->e[i].out) st = check_conflicts(p, i);
    for (int i = 0; i < p->n && !st; i++) {
        entry *e = &p->e[i];
        if (!e->out) continue;
        if ((e->flags & NDX_OUT_MKDIRS) && !e->dir_ok) st = ndx__mkdirs(e->dir);
        if (!st) st = take_lock(p, e);
        if (!st) st = ndx__stale_clean(e->dir, e->base);
    }
    return st;
}

void ndx_ioplan_free(ndx_ioplan *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        entry *e = &p->e[i];
        if (e->lock) unlink(e->lock);   /* while still holding it */
        if (e->fd >= 0) close(e->fd);
        free(e->lock), free(e->what), free(e->path), free(e->may_be), free(e->dir), free(e->base);
    }
    free(p->e);
    free(p->stage);
    free(p);
}
