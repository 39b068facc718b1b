/* The one way netdx writes a file (every PNG, .npy, safetensors, CSV, JSON,
 * HTML, checkpoint and dissection state goes through here), and the
 * checksum both sealed formats (checkpoints, dissection states) end with.
 *
 * A write: mkstemp "<path>.tmp.<pid>.XXXXXX" in path's own folder (so the rename
 * stays on one file system), mode 0644; the caller writes; then fflush,
 * fsync, fclose, rename over path, fsync of the folder.  Any failure
 * removes the temporary file and leaves whatever was at path untouched;
 * its message names path (never the temporary) and the reason (strerror;
 * a missing folder by name).  The pid lets ndx__stale_clean (outdir.c)
 * remove the temporaries of runs killed before their rename.
 *
 * A sealed file ends with the XXH3-64 (seed 0) of every byte before it,
 * little-endian: ndx__out_open(.., sealed = 1) hashes what is put and
 * appends the digest at commit; ndx__sealed_check verifies one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

ndx_status ndx__out_open(ndx__out *o, const char *path, int sealed)
{
    memset(o, 0, sizeof *o);
    if (!path || !*path) return ndx__fail(NDX_ERR_INVALID, "empty output path");
    ndx_status st = ndx__tmp_name(path, &o->tmp, NULL);
    if (st) return st;
    const size_t n = strlen(path) + 1;
    if (!(o->path = malloc(n)) || (sealed && !(o->h = ndx_hasher_new(0)))) {
        ndx__out_abort(o);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(o->path, path, n);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        const int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        ndx__out_abort(o);
        return ndx__tmp_fail(path, e, "temporary file");
    }
    (void)fchmod(fd, 0644);   /* mkstemp makes 0600; outputs are for reading */
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int e = errno;
        close(fd);
        ndx__out_abort(o);
        return ndx__fail(NDX_ERR_IO, "%s: %s", path, strerror(e));
    }
    return NDX_OK;
}

void ndx__out_put(ndx__out *o, const void *p, size_t n)
{
    if (o->failed || n == 0) return;
    if (o->h) ndx_hasher_update(o->h, p, n);
    errno = 0;
    if (fwrite(p, 1, n, o->f) != n) o->failed = errno ? errno : EIO;
}

void ndx__out_abort(ndx__out *o)
{
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp) unlink(o->tmp);
    free(o->tmp), free(o->path);
    o->tmp = o->path = NULL;
    ndx_hasher_free(o->h);
    o->h = NULL;
}

/* fsync of the folder holding path, so the rename itself is durable.  File
 * systems that cannot sync a folder (EINVAL) are let through. */
static int sync_dir(const char *path)
{
    char *dir, *base;
    if (ndx__split_path(path, &dir, &base)) return EINVAL;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = fd < 0 ? errno : fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
    if (fd >= 0) close(fd);
    free(dir), free(base);
    return rc;
}

ndx_status ndx__out_commit(ndx__out *o)
{
    if (o->h && !o->failed) {
        const uint64_t d = ndx_hasher_digest(o->h);
        unsigned char b[8];
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)(d >> (8 * i));
        ndx_hasher_free(o->h);
        o->h = NULL;
        ndx__out_put(o, b, 8);
    }
    int e = o->failed;
    errno = 0;
    if (!e && (fflush(o->f) != 0 || ferror(o->f))) e = errno ? errno : EIO;
    if (!e && fsync(fileno(o->f)) != 0) e = errno;
    const int closed = fclose(o->f);
    o->f = NULL;
    if (!e && closed != 0) e = errno;
    if (e) {
        const ndx_status st = ndx__fail(NDX_ERR_IO, "%s: write failed: %s", o->path,
                                        strerror(e));
        ndx__out_abort(o);
        return st;
    }
    if (rename(o->tmp, o->path) != 0) {
        e = errno;
        const ndx_status st = ndx__fail(NDX_ERR_IO, "%s: cannot put the new file in place: %s",
                                        o->path, strerror(e));
        ndx__out_abort(o);
        return st;
    }
    free(o->tmp);
    o->tmp = NULL;
    ndx_status st = (e = sync_dir(o->path))
        ? ndx__fail(NDX_ERR_IO, "%s: written, but syncing its folder failed: %s", o->path,
                    strerror(e))
        : NDX_OK;
    ndx__out_abort(o);
    return st;
}

ndx_status ndx__write_file(const char *path, ndx_status (*fill)(FILE *f, void *ctx), void *ctx)
{
    ndx__out o;
    ndx_status st = ndx__out_open(&o, path, 0);
    if (st) return st;
    st = fill(o.f, ctx);
    if (st) {
        ndx__out_abort(&o);
        return st;
    }
    return ndx__out_commit(&o);
}

/* What st_mode is, for "not a regular file (a FIFO)". */
static const char *file_kind(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : "not a file";
}

ndx_status ndx__open_read(const char *path, FILE **out, uint64_t *size)
{
    *out = NULL;
    if (!path || !*path) return ndx__fail(NDX_ERR_INVALID, "empty input path");
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return ndx__fail(NDX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    ndx_status st = NDX_OK;
    if (fstat(fd, &sb) != 0) {
        st = ndx__fail(NDX_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        st = ndx__fail(NDX_ERR_IO, "%s: is a directory, not a regular file", path);
    } else if (!S_ISREG(sb.st_mode)) {
        st = ndx__fail(NDX_ERR_IO, "%s: is %s, not a regular file", path, file_kind(sb.st_mode));
    } else {
        const int fl = fcntl(fd, F_GETFL);
        FILE *f = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ? NULL : fdopen(fd, "rb");
        if (!f) {
            st = ndx__fail(NDX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        } else {
            if (size) *size = (uint64_t)sb.st_size;
            *out = f;
            return NDX_OK;
        }
    }
    close(fd);
    return st;
}

ndx_status ndx__read_all(const char *path, uint64_t max, char **text, size_t *len)
{
    *text = NULL;
    if (len) *len = 0;
    FILE *f;
    uint64_t size;
    ndx_status st = ndx__open_read(path, &f, &size);
    if (st) return st;
    char *buf = NULL;
    if (size > max || size > SIZE_MAX - 1)
        st = ndx__fail(NDX_ERR_FORMAT, "%s: %llu bytes, larger than the %llu this file may "
                       "have", path, (unsigned long long)size, (unsigned long long)max);
    else if (!(buf = malloc((size_t)size + 1)))
        st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for %llu bytes", path,
                       (unsigned long long)size);
    else if (fread(buf, 1, (size_t)size, f) != (size_t)size || ferror(f))
        st = ndx__fail(NDX_ERR_IO, "%s: read error: %s", path,
                       ferror(f) && errno ? strerror(errno) : "shorter than its size");
    fclose(f);
    if (st) {
        free(buf);
        return st;
    }
    buf[size] = 0;
    *text = buf;
    if (len) *len = (size_t)size;
    return NDX_OK;
}

ndx_status ndx__sealed_check(FILE *f, uint64_t size, const char *path)
{
    enum { CHUNK = 1 << 20 };
    if (size < 8)
        return ndx__fail(NDX_ERR_FORMAT, "%s: truncated: %llu bytes, no checksum", path,
                         (unsigned long long)size);
    unsigned char *buf = malloc(CHUNK);
    ndx_hasher *h = buf ? ndx_hasher_new(0) : NULL;
    if (!h) {
        free(buf);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    uint64_t left = size - 8;
    int ok = fseeko(f, 0, SEEK_SET) == 0;
    while (ok && left) {
        const size_t n = left < CHUNK ? (size_t)left : CHUNK;
        ok = fread(buf, 1, n, f) == n;
        ndx_hasher_update(h, buf, n);
        left -= n;
    }
    unsigned char sum[8];
    ok = ok && fread(sum, 1, 8, f) == 8;
    const uint64_t want = ndx_hasher_digest(h);
    ndx_hasher_free(h);
    free(buf);
    if (!ok) return ndx__fail(NDX_ERR_IO, "%s: read error", path);
    uint64_t got = 0;
    for (int i = 7; i >= 0; i--) got = got << 8 | sum[i];
    if (got != want)
        return ndx__fail(NDX_ERR_FORMAT, "%s: checksum mismatch (stored %016llx, computed "
                         "%016llx): the file is corrupt", path, (unsigned long long)got,
                         (unsigned long long)want);
    return NDX_OK;
}

ndx_status ndx__mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return ndx__fail(NDX_ERR_INVALID, "bad directory name '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char keep = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ndx__fail(NDX_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        buf[i] = keep;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ndx__fail(NDX_ERR_IO, "%s: not a directory", path);
    return NDX_OK;
}
