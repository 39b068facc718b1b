/* Folder outputs built whole, then put in place; temporaries of dead runs.
 *
 * A folder output P (a dissection, a report, a ranking, phantom data) is
 * built as "P.tmp.<pid>.XXXXXX" beside P (mkdtemp: one file system, so the
 * renames below are atomic) and put in place at the end:
 *   - P absent: rename(tmp, P);
 *   - P there: renameat2(tmp, P, RENAME_EXCHANGE) swaps the two in one
 *     step, then the old folder (now at the temporary name) is removed.  A
 *     crash at any point leaves P either the old folder or the new one,
 *     whole, and at most a temporary of a dead pid beside it;
 *   - a file system without RENAME_EXCHANGE: P is renamed to
 *     "P.tmp.<pid>.old", the new folder to P, then the old one removed.  A
 *     crash between the two renames leaves no P: the next run finds the
 *     ".old" of a dead pid and renames it back to P before anything else.
 * Temporaries (files of ndx__out and these folders) carry their writer's
 * pid; ndx__stale_clean removes those whose pid is gone. */
#define _GNU_SOURCE   /* renameat2, RENAME_EXCHANGE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int ndx__rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode)) return unlink(path);
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

ndx_status ndx__stale_clean(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return NDX_OK;   /* nothing to clean (a folder still to be made) */
    const size_t nb = strlen(base), nd = strlen(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (strncmp(name, base, nb) || strncmp(name + nb, ".tmp.", 5)) continue;
        char *end;
        const long pid = strtol(name + nb + 5, &end, 10);
        if (end == name + nb + 5 || *end != '.' || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* alive, or not ours */
        char *full = malloc(nd + strlen(name) + 2), *final = malloc(nd + nb + 2);
        if (!full || !final) {
            free(full), free(final);
            break;
        }
        sprintf(full, "%s/%s", dir, name);
        sprintf(final, "%s/%s", dir, base);
        struct stat sb;
        if (!strcmp(end, ".old") && lstat(final, &sb) != 0 && errno == ENOENT)
            (void)rename(full, final);   /* the old folder back: see above */
        else
            (void)ndx__rm_tree(full);    /* best effort: a leftover is only clutter */
        free(full), free(final);
    }
    closedir(d);
    return NDX_OK;
}

/* Why a temporary beside path could not be made, in the user's terms. */
static ndx_status tmp_fail(const char *path, const char *dir, int err, const char *kind)
{
    if (err == ENOENT || err == ENOTDIR)
        return ndx__fail(NDX_ERR_IO, "%s: cannot write it: the folder %s does not exist", path,
                         dir);
    return ndx__fail(NDX_ERR_IO, "%s: cannot create a %s in the folder %s: %s", path, kind, dir,
                     strerror(err));
}

ndx_status ndx__tmp_name(const char *path, char **tmp, const char *kind)
{
    char *dir, *base;
    ndx_status st = ndx__split_path(path, &dir, &base);
    if (st) return st;
    const size_t n = strlen(dir) + strlen(base) + 48;
    *tmp = malloc(n);
    if (!*tmp) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    else snprintf(*tmp, n, "%s/%s.tmp.%ld.XXXXXX", dir, base, (long)getpid());
    if (!st && kind) {   /* kind: check the folder, for the message of a failure */
        struct stat sb;
        if (stat(dir, &sb) != 0) st = tmp_fail(path, dir, errno, kind);
        else if (!S_ISDIR(sb.st_mode)) st = tmp_fail(path, dir, ENOTDIR, kind);
        if (st) free(*tmp), *tmp = NULL;
    }
    free(dir), free(base);
    return st;
}

ndx_status ndx__tmp_fail(const char *path, int err, const char *kind)
{
    char *dir, *base;
    if (ndx__split_path(path, &dir, &base)) return NDX_ERR_INVALID;
    const ndx_status st = tmp_fail(path, dir, err, kind);
    free(dir), free(base);
    return st;
}

ndx_status ndx__dir_replaceable(const char *path, const char *stage, const char *const *marks)
{
    DIR *d = opendir(path);
    if (!d) return NDX_OK;   /* absent (a file there is the io plan's to refuse) */
    int empty = 1, ours = 0;
    const size_t n = strlen(path);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        empty = 0;
        for (int i = 0; marks[i] && !ours; i++) ours = !strcmp(e->d_name, marks[i]);
    }
    closedir(d);
    if (empty || ours) return NDX_OK;
    return ndx__fail(NDX_ERR_INVALID, "%s: --out %.*s is a folder with other files in it (no %s: "
                     "not an earlier %s output); it would be replaced whole: refusing", stage,
                     (int)n, path, marks[0], stage);
}

ndx_status ndx__dir_open(ndx__dir *d, const char *path)
{
    memset(d, 0, sizeof *d);
    char *dir, *base;
    ndx_status st = ndx__split_path(path, &dir, &base);
    if (st) return st;
    const size_t n = strlen(dir) + strlen(base) + 2;
    d->path = malloc(n);
    if (!d->path) st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    else snprintf(d->path, n, "%s%s%s", strcmp(dir, ".") ? dir : "",
                  strcmp(dir, ".") ? (strcmp(dir, "/") ? "/" : "") : "", base);
    free(dir), free(base);
    if (!st) st = ndx__tmp_name(d->path, &d->tmp, "temporary folder");
    if (!st && !mkdtemp(d->tmp)) {
        st = ndx__tmp_fail(d->path, errno, "temporary folder");
        free(d->tmp);
        d->tmp = NULL;
    }
    if (!st && chmod(d->tmp, 0755) != 0)
        st = ndx__fail(NDX_ERR_IO, "%s: %s", d->tmp, strerror(errno));
    if (st) ndx__dir_abort(d);
    return st;
}

void ndx__dir_abort(ndx__dir *d)
{
    if (d->tmp) (void)ndx__rm_tree(d->tmp);
    free(d->tmp), free(d->path);
    d->tmp = d->path = NULL;
}

/* fsync of the folder holding path (EINVAL: a file system that cannot). */
static int sync_parent(const char *path)
{
    char *dir, *base;
    if (ndx__split_path(path, &dir, &base)) return EINVAL;
    const int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = fd < 0 ? errno : fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
    if (fd >= 0) close(fd);
    free(dir), free(base);
    return rc;
}

ndx_status ndx__dir_commit(ndx__dir *d)
{
    struct stat sb;
    int e = 0;
    if (lstat(d->path, &sb) != 0 && errno == ENOENT) {
        if (rename(d->tmp, d->path) != 0) e = errno;
    } else if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, d->path, RENAME_EXCHANGE) != 0) {
        if (errno != EINVAL && errno != ENOSYS) {
            e = errno;
        } else {   /* no exchange here: the old folder aside, the new in, the old removed */
            const size_t n = strlen(d->path) + 48;
            char *aside = malloc(n);
            if (!aside) return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", d->path);
            snprintf(aside, n, "%s.tmp.%ld.old", d->path, (long)getpid());
            if (rename(d->path, aside) != 0) e = errno;
            else if (rename(d->tmp, d->path) != 0) e = errno, (void)rename(aside, d->path);
            if (!e) (void)ndx__rm_tree(aside);
            free(aside);
        }
    }
    if (e) {
        const ndx_status st = ndx__fail(NDX_ERR_IO, "%s: cannot put the new folder in place: "
                                        "%s", d->path, strerror(e));
        ndx__dir_abort(d);
        return st;
    }
    /* after an exchange, the temporary name holds the old folder */
    const ndx_status st = (e = sync_parent(d->path))
        ? ndx__fail(NDX_ERR_IO, "%s: written, but syncing its folder failed: %s", d->path,
                    strerror(e))
        : NDX_OK;
    ndx__dir_abort(d);
    return st;
}

ndx_status ndx__copy_file(const char *from, const char *to)
{
    FILE *in;
    ndx_status st = ndx__open_read(from, &in, NULL);
    if (st) return st;
    ndx__out o;
    st = ndx__out_open(&o, to, 0);
    if (st) {
        fclose(in);
        return st;
    }
    char buf[1 << 15];
    for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;) ndx__out_put(&o, buf, n);
    const int bad = ferror(in) ? (errno ? errno : EIO) : 0;
    fclose(in);
    if (bad) {
        ndx__out_abort(&o);
        return ndx__fail(NDX_ERR_IO, "%s: read failed: %s", from, strerror(bad));
    }
    return ndx__out_commit(&o);
}
