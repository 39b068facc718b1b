/* The safetensors format alone (src/io/safetensors.c; private, not
 * installed): what a file holds, checked field by field, with no idea of
 * networks.  Models to and from these files: src/nn/weights.c.
 *
 * A file: u64 little-endian N, N bytes of a JSON object (padded with
 * spaces), then the data:
 *   {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 *    ..., "__metadata__": {"key": "value", ...}}
 * offsets are relative to the start of the data. */
#ifndef NDX_IO_SAFETENSORS_H
#define NDX_IO_SAFETENSORS_H

#include <stdio.h>

#include "../core/core.h"

/* One tensor of an open file. */
typedef struct ndx__st_entry {
    const char *name;        /* points into the parsed header */
    const char *dtype;       /* "F32", "F16", "BF16", "I64", ... */
    int esize;               /* bytes per element (0: F4, F6_* pack bits) */
    int ndim;
    int64_t shape[NDX_MAX_DIMS];
    uint64_t numel, begin, end;
} ndx__st_entry;

typedef struct ndx__st {
    FILE *f;
    const char *path;        /* the caller's, for messages */
    struct cJSON *root;
    ndx__st_entry *e;        /* the tensors, in the header's order */
    int n;
    uint64_t hlen, data_size;   /* bytes of the header, of the data after it */
} ndx__st;

/* Opens path (a regular file: ndx__open_read) and validates all of it that
 * can be checked without reading the data, as the Hugging Face reference
 * does: the header length (at most 100,000,000 bytes) against the file,
 * the JSON (UTF-8, an object and nothing but spaces after it), every entry
 * (a known dtype, at most NDX_MAX_DIMS integer dimensions whose product
 * times the dtype's bits is whole bytes, without overflow, integer offsets
 * holding exactly those bytes, no more keys), every key given once (the
 * tensors', __metadata__ and its keys), __metadata__ a map of strings, and
 * the tensors tiling the data exactly: no overlap, no gap, no byte past
 * the last (a short file is "truncated", naming the tensor).
 * Errors are NDX_ERR_FORMAT (NDX_ERR_SHAPE for too many dimensions,
 * NDX_ERR_IO for an unreadable file) naming path and the field. */
ndx_status ndx__st_open(ndx__st *s, const char *path);
void ndx__st_close(ndx__st *s);
/* __metadata__[key] or NULL. */
const char *ndx__st_meta(const ndx__st *s, const char *key);
/* 1 when ndx__st_read converts the entry's dtype (F32, F16, BF16). */
int ndx__st_is_float(const ndx__st_entry *e);
/* The entry's numel values as float32 into dst; dst NULL: only checks
 * them.  A value that is not finite is NDX_ERR_FORMAT naming the tensor
 * and the index. */
ndx_status ndx__st_read(ndx__st *s, const ndx__st_entry *e, float *dst);

/* One tensor to write: nbytes of data (NULL: zeros), little-endian. */
typedef struct ndx__st_put {
    const char *name, *dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
    uint64_t nbytes;
} ndx__st_put;
/* Writes the n tensors in this order (header keys shape, data_offsets,
 * dtype), then __metadata__ from meta (key, value, ..., NULL), through the
 * safe-write routine (file.c). */
ndx_status ndx__st_write(const char *path, const ndx__st_put *t, int n,
                         const char *const *meta);

#endif
