/* Private helpers of src/io, used by every layer that writes files (not
 * installed). */
#ifndef NDX_IO_H
#define NDX_IO_H

#include <stdio.h>

#include "../core/core.h"

/* ---- safe writes (file.c) ----------------------------------------------------
 * The one routine every writer uses: a temporary file "<path>.tmp.XXXXXX"
 * beside path, fsync, rename over path, fsync of the folder.  A failure at
 * any point removes the temporary file and leaves path as it was. */
typedef struct ndx__out {
    FILE *f;                 /* write here (or with ndx__out_put) */
    ndx_hasher *h;           /* sealed outputs: the running checksum */
    int failed;              /* errno of the first failed ndx__out_put */
    char *path, *tmp;        /* malloc'd; tmp "<path>.tmp.<pid>.XXXXXX" */
} ndx__out;
/* sealed 1: every byte given to ndx__out_put is hashed and the XXH3-64 of
 * them all is appended at commit. */
ndx_status ndx__out_open(ndx__out *o, const char *path, int sealed);
/* fwrite that remembers a failure (and hashes, when sealed). */
void ndx__out_put(ndx__out *o, const void *p, size_t n);
/* Checks every write (ndx__out_put's and the FILE's), syncs, renames. */
ndx_status ndx__out_commit(ndx__out *o);
/* Closes and removes the temporary file (after a failure). */
void ndx__out_abort(ndx__out *o);
/* The whole cycle around fill(f, ctx): an error from fill aborts. */
ndx_status ndx__write_file(const char *path, ndx_status (*fill)(FILE *f, void *ctx), void *ctx);
/* ---- reading (file.c) -----------------------------------------------------
 * The one way netdx opens a file it reads: regular files only.  A
 * directory is "<path>: is a directory, not a regular file", a FIFO, socket or
 * device "<path>: is a FIFO, not a regular file" (opened without blocking,
 * so a FIFO never hangs), an OS error names strerror.  *size (may be NULL):
 * its bytes.  NDX_ERR_IO naming path. */
ndx_status ndx__open_read(const char *path, FILE **f, uint64_t *size);
/* The whole file, NUL-terminated, into *text (free it); *len (may be
 * NULL) its bytes.  A file over max bytes is NDX_ERR_FORMAT, before any
 * allocation. */
ndx_status ndx__read_all(const char *path, uint64_t max, char **text, size_t *len);
/* A sealed file of size bytes, open in f: hashes all but its last 8 bytes
 * and compares them with those (NDX_ERR_FORMAT "checksum mismatch" naming
 * path).  Leaves f's position anywhere. */
ndx_status ndx__sealed_check(FILE *f, uint64_t size, const char *path);
/* Creates a directory (and its parents); an existing one is fine. */
ndx_status ndx__mkdirs(const char *path);

/* ---- paths, folder outputs, temporaries (plan.c, outdir.c) ------------------ */
/* path's folder ("." when none) and last name, trailing '/' ignored; both
 * malloc'd.  NDX_ERR_INVALID for "/", "." or "..". */
ndx_status ndx__split_path(const char *path, char **dir, char **base);
/* *tmp = "<dir>/<base>.tmp.<pid>.XXXXXX" (malloc'd) for a mkstemp/mkdtemp
 * beside path; kind (e.g. "temporary file") also checks that the folder is
 * there, failing as ndx__tmp_fail does. */
ndx_status ndx__tmp_name(const char *path, char **tmp, const char *kind);
/* The message of a temporary beside path not made (errno err): "the folder
 * D does not exist", or the reason. */
ndx_status ndx__tmp_fail(const char *path, int err, const char *kind);
/* Removes "<dir>/<base>.tmp.<pid>.*" of writers whose pid is gone (a
 * ".old" folder is renamed back to base when base is missing). */
ndx_status ndx__stale_clean(const char *dir, const char *base);
/* rm -r (symlinks not followed); 0 or -1. */
int ndx__rm_tree(const char *path);
/* A folder output built under a temporary name beside it (outdir.c). */
typedef struct ndx__dir {
    char *path;              /* the folder asked for, trailing '/' dropped */
    char *tmp;               /* write the files here */
} ndx__dir;
ndx_status ndx__dir_open(ndx__dir *d, const char *path);
/* NDX_OK when the folder at path may be replaced whole: absent, empty, or
 * holding one of the names marks (NULL-ended: an earlier output of stage);
 * NDX_ERR_INVALID naming it otherwise. */
ndx_status ndx__dir_replaceable(const char *path, const char *stage, const char *const *marks);
/* Swaps tmp into place (the old folder removed); frees d, success or not. */
ndx_status ndx__dir_commit(ndx__dir *d);
/* Removes tmp and frees d. */
void ndx__dir_abort(ndx__dir *d);
/* from copied to `to` through the safe-write routine; a failure names the
 * file and the reason. */
ndx_status ndx__copy_file(const char *from, const char *to);

/* ---- JSON (json.c) -------------------------------------------------------------- */
struct cJSON;
/* obj[key] = v, or null when v is not finite; 0 when out of memory. */
int ndx__json_num(struct cJSON *obj, const char *key, double v);
/* The tree, formatted (cJSON_Print) plus a newline, written safely. */
ndx_status ndx__json_write(const char *path, const struct cJSON *root);

/* ---- CSV (csv.c) -------------------------------------------------------------- */
/* Writes s as one CSV field, quoted when it holds a comma, quote or newline. */
void ndx__csv_put(FILE *f, const char *s);
/* XXH3-64 (seed 0) of the whole text the reader parses (read once, so the
 * digest is that of the rows returned, whatever happens to the file). */
uint64_t ndx__csv_digest(const ndx_csv *c);
/* A decimal integer in lo..hi, the whole of s, into *out: 0; -1 otherwise. */
int ndx__parse_int(const char *s, long lo, long hi, int *out);

/* A PNG in memory (p NULL: none); free(p) when done. */
typedef struct ndx__png_mem {
    unsigned char *p;
    size_t n, cap;
    int w, h, failed;
} ndx__png_mem;
/* Encodes w x h pixels of comp channels (1 gray, 2 gray+alpha, 3 RGB,
 * 4 RGBA) into o; kind names the image in the error. */
ndx_status ndx__png_encode(const char *kind, const uint8_t *px, int w, int h, int comp,
                           ndx__png_mem *o);

#endif
