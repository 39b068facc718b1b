/* NumPy .npy files, float32 little-endian in C order, 1 to 4 dimensions:
 * "\x93NUMPY", version (1.0, 2.0 or 3.0), header length (2 or 4 bytes LE),
 * a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), } padded with spaces to a multiple of 64 and '\n', then
 * the data.  Other dtypes, Fortran order or a short file are clear errors. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* The value text after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *h, const char *key)
{
    char k[32];
    snprintf(k, sizeof k, "'%s'", key);
    const char *p = strstr(h, k);
    if (!p) return NULL;
    p += strlen(k);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

/* Characters of the shape's text "(2, 3)" at sh: up to its ')', at most
 * 80, never the header's padding. */
static int shape_len(const char *sh)
{
    int n = 0;
    while (n < 80 && sh[n] && sh[n] != ')' && sh[n] != '\n') n++;
    return sh[n] == ')' ? n + 1 : n;
}

ndx_status ndx_npy_read(const char *path, ndx_tensor *t)
{
    memset(t, 0, sizeof *t);
    FILE *f;
    uint64_t fsize;
    ndx_status st = ndx__open_read(path, &f, &fsize);
    if (st) return st;
    unsigned char pre[12];
    char *h = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto out;
    }
    uint32_t hl;
    if (pre[6] == 1) {
        hl = pre[8] | pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: truncated .npy header", path);
            goto out;
        }
        hl = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
             (uint32_t)pre[11] << 24;
    } else {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: .npy version %d.%d", path, pre[6], pre[7]);
        goto out;
    }
    if (hl > 1 << 20 || !(h = malloc(hl + 1)) || fread(h, 1, hl, f) != hl) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: truncated or oversized .npy header", path);
        goto out;
    }
    h[hl] = 0;
    const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order");
    const char *sh = dict_value(h, "shape");
    if (!d || !fo || !sh) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape", path);
        goto out;
    }
    if (strncmp(d, "'<f4'", 5) != 0 && strncmp(d, "'float32'", 9) != 0) {
        const char *e = *d ? strchr(d + 1, '\'') : NULL;   /* d may end the header */
        st = ndx__fail(NDX_ERR_FORMAT, "%s: dtype %.*s, only little-endian float32 ('<f4') is "
                       "read", path, e ? (int)(e - d + 1) : 8, d);
        goto out;
    }
    if (strncmp(fo, "False", 5) != 0) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: Fortran order, only C order is read", path);
        goto out;
    }
    if (*sh != '(') {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: bad shape in the .npy header", path);
        goto out;
    }
    int64_t shape[NDX_MAX_DIMS];
    int nd = 0;
    const char *p = sh + 1;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 1 || nd == NDX_MAX_DIMS) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: shape %.*s: 1 to %d positive dimensions are "
                           "read", path, shape_len(sh), sh, NDX_MAX_DIMS);
            goto out;
        }
        shape[nd++] = v;
        p = end;
    }
    if (nd == 0) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: a 0-dimensional array", path);
        goto out;
    }
    /* the data must be exactly the shape's floats: checked before allocating */
    off_t pos = ftello(f);
    if (pos < 0 || fsize < (uint64_t)pos) {
        st = ndx__fail(NDX_ERR_IO, "%s: cannot tell its position: %s", path, strerror(errno));
        goto out;
    }
    uint64_t left = fsize - (uint64_t)pos, need = 4;
    for (int i = 0; i < nd && need <= left; i++)
        need = (uint64_t)shape[i] > left / need ? left + 1 : need * (uint64_t)shape[i];
    if (need != left) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: %s: shape %.*s needs %s%" PRIu64 " bytes of data, "
                       "the file holds %" PRIu64, path, need > left ? "truncated" : "data past "
                       "its shape", shape_len(sh), sh, need > left ? "more than " : "", need > left ? left : need,
                       left);
        goto out;
    }
    st = ndx_tensor_alloc(t, nd, shape);
    if (st) {
        st = ndx__fail(st, "%s: %s", path, ndx_last_error());
        goto out;
    }
    size_t n = (size_t)ndx_tensor_numel(t);
    if (fread(t->data, 4, n, f) != n) {
        ndx_tensor_free(t);
        st = ndx__fail(NDX_ERR_IO, "%s: read error in its %zu floats", path, n);
    }
out:
    free(h);
    fclose(f);
    return st;
}

ndx_status ndx_npy_write(const char *path, const ndx_tensor *t)
{
    if (!t || !t->data || !ndx_tensor_is_contiguous(t))
        return ndx__fail(NDX_ERR_INVALID, "%s: npy write needs a contiguous tensor", path);
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < t->ndim; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%" PRId64 "%s", t->shape[i],
                        t->ndim == 1 || i < t->ndim - 1 ? ", " : "");
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t total = 10 + (size_t)len + 1, pad = (64 - total % 64) % 64;
    char hdr[400];
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    size_t hl = (size_t)len + pad + 1;
    hdr[8] = (char)(hl & 255), hdr[9] = (char)(hl >> 8);
    memcpy(hdr + 10, dict, (size_t)len);
    memset(hdr + 10 + len, ' ', pad);
    hdr[10 + len + pad] = '\n';
    ndx__out o;
    ndx_status st = ndx__out_open(&o, path, 0);
    if (st) return st;
    ndx__out_put(&o, hdr, 10 + hl);
    ndx__out_put(&o, t->data, 4 * (size_t)ndx_tensor_numel(t));
    return ndx__out_commit(&o);
}
