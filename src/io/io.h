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
    char path[4096], tmp[4112];
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
/* A sealed file of size bytes, open in f: hashes all but its last 8 bytes
 * and compares them with those (NDX_ERR_FORMAT "checksum mismatch" naming
 * path).  Leaves f's position anywhere. */
ndx_status ndx__sealed_check(FILE *f, uint64_t size, const char *path);
/* Creates a directory (and its parents); an existing one is fine. */
ndx_status ndx__mkdirs(const char *path);

/* ---- output folders (dir.c) ------------------------------------------------ */
/* Removes a folder and everything in it (errors ignored). */
void ndx__rm_tree(const char *dir);
/* *exists = 1 when out is a folder; NDX_OK when out may be replaced: absent,
 * empty, or its marker_file holds marker (an earlier output of the kind
 * named `what`); NDX_ERR_INVALID otherwise, saying so. */
ndx_status ndx__dir_check_out(const char *out, const char *marker_file, const char *marker,
                              const char *what, int *exists);
/* Renames tmp to out, moving an existing out aside first and removing it
 * after. */
ndx_status ndx__dir_put_in_place(const char *tmp, const char *out, int exists);
/* from copied to `to` through the safe-write routine; 0 or -1. */
int ndx__copy_file(const char *from, const char *to);

/* ---- JSON (json.c) -------------------------------------------------------------- */
struct cJSON;
/* obj[key] = v, or null when v is not finite; 0 when out of memory. */
int ndx__json_num(struct cJSON *obj, const char *key, double v);
/* The tree, formatted (cJSON_Print) plus a newline, written safely. */
ndx_status ndx__json_write(const char *path, const struct cJSON *root);

/* ---- CSV (csv.c) -------------------------------------------------------------- */
/* Writes s as one CSV field, quoted when it holds a comma, quote or newline. */
void ndx__csv_put(FILE *f, const char *s);
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
