/* Atomic file output: write a temporary file next to the target, fsync it,
 * rename it over the target, fsync the directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train.h"

ndx_status ndx__atomic_open(ndx__atomic *a, const char *path, const char *what)
{
    a->f = NULL;
    a->path = path;
    a->what = what;
    a->tmp[0] = 0;
    if (!path || !*path)
        return ndx__fail(NDX_ERR_INVALID, "%s: empty output path", what);
    int len = snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path);
    if (len < 0 || (size_t)len >= sizeof a->tmp) {
        a->tmp[0] = 0;
        return ndx__fail(NDX_ERR_INVALID, "%s %s: path too long", what, path);
    }
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int e = errno;
        a->tmp[0] = 0;
        return ndx__fail(NDX_ERR_IO, "%s %s: cannot create a temporary file beside it: %s",
                         what, path, strerror(e));
    }
    (void)fchmod(fd, 0644);   /* mkstemp makes 0600; outputs are for reading */
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        a->tmp[0] = 0;
        return ndx__fail(NDX_ERR_IO, "%s %s: %s", what, path, strerror(e));
    }
    return NDX_OK;
}

void ndx__atomic_abort(ndx__atomic *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) unlink(a->tmp);
    a->tmp[0] = 0;
}

/* fsync of the directory holding path, so the rename itself is durable.
 * File systems that cannot sync a directory (EINVAL) are let through. */
static int sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return EINVAL;
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return errno;
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
    close(fd);
    return rc;
}

ndx_status ndx__atomic_commit(ndx__atomic *a)
{
    int e = 0;
    if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
    if (!e && fsync(fileno(a->f)) != 0) e = errno;
    int closed = fclose(a->f);
    a->f = NULL;
    if (!e && closed != 0) e = errno;
    if (e) {
        ndx__atomic_abort(a);
        return ndx__fail(NDX_ERR_IO, "%s %s: writing failed: %s", a->what, a->path,
                         strerror(e));
    }
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        ndx__atomic_abort(a);
        return ndx__fail(NDX_ERR_IO, "%s %s: cannot rename the temporary file over it: %s",
                         a->what, a->path, strerror(e));
    }
    a->tmp[0] = 0;
    e = sync_dir(a->path);
    if (e)
        return ndx__fail(NDX_ERR_IO, "%s %s: written, but syncing its directory failed: %s",
                         a->what, a->path, strerror(e));
    return NDX_OK;
}
