/* Multi-file outputs (a report, an explanation): built in a temporary
 * folder beside the output and renamed into place.  An existing output
 * folder is replaced only when it is an earlier output of the same kind
 * (its marker file holds the marker string) or empty; it is moved aside
 * first and removed once the new folder is in place. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
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

void ndx__rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

ndx_status ndx__dir_check_out(const char *out, const char *marker_file, const char *marker,
                              const char *what, int *exists)
{
    struct stat sb;
    *exists = 0;
    if (stat(out, &sb) != 0) {
        if (errno == ENOENT) return NDX_OK;
        return ndx__fail(NDX_ERR_IO, "%s: %s", out, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return ndx__fail(NDX_ERR_INVALID, "--out %s exists and is not a folder", out);
    *exists = 1;
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", out, marker_file);
    FILE *f = fopen(p, "r");
    if (f) {
        char buf[512];
        const size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        if (strstr(buf, marker)) return NDX_OK;
    }
    DIR *d = opendir(out);
    int empty = 1;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    if (d) closedir(d);
    if (!empty)
        return ndx__fail(NDX_ERR_INVALID, "--out %s is a folder with other files in it (not a netdx "
                         "%s): refusing to replace it", out, what);
    return NDX_OK;
}

int ndx__copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) return -1;
    ndx__out o;
    if (ndx__out_open(&o, to, 0)) {
        fclose(in);
        return -1;
    }
    char buf[1 << 15];
    for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;) ndx__out_put(&o, buf, n);
    const int bad = ferror(in);
    fclose(in);
    if (bad) {
        ndx__out_abort(&o);
        return -1;
    }
    return ndx__out_commit(&o) ? -1 : 0;
}

ndx_status ndx__dir_put_in_place(const char *tmp, const char *out, int exists)
{
    char old[4200];
    if (exists) {
        snprintf(old, sizeof old, "%s.old.XXXXXX", out);
        if (!mkdtemp(old) || rmdir(old) != 0 || rename(out, old) != 0)
            return ndx__fail(NDX_ERR_IO, "%s: cannot move the earlier output aside: %s", out,
                             strerror(errno));
    }
    if (rename(tmp, out) != 0) {
        const int e = errno;
        if (exists) rename(old, out);
        return ndx__fail(NDX_ERR_IO, "%s: cannot rename %s into place: %s", out, tmp, strerror(e));
    }
    if (exists) ndx__rm_tree(old);
    return NDX_OK;
}
