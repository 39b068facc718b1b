/* Private helpers of the DDSM and INbreast imports (not installed):
 * outlines as chain codes and polygons (outline.c), a small Apple plist
 * reader (plist.c) and what the imports share (importutil.c; relative
 * paths: ndx__relpath of data.h). */
#ifndef NDX_IMPORT_H
#define NDX_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "netdx.h"
#include "netdx_import.h"

/* ---- outlines (outline.c) ---------------------------------------------------
 * An outline is a start pixel and a chain of 8-direction steps as DDSM
 * writes them: 0 up (row - 1), then clockwise: 1 up-right, 2 right,
 * 3 down-right, 4 down, 5 down-left, 6 left, 7 up-left.  Its region is the
 * pixels it passes through plus those whose centres lie inside the closed
 * polygon through them (non-zero winding); the last point joins the first.
 * A mask is traced into one outline per 8-connected component (hole = 0)
 * and one per enclosed 4-connected hole (hole = 1, even codes only); the
 * exclusive-or of the outlines' regions gives the mask back exactly. */
typedef struct ndx__outline {
    int x0, y0;       /* start pixel: column, row */
    size_t n;         /* steps */
    uint8_t *code;    /* n codes 0..7 (malloc'd, NULL when n is 0) */
    int hole;
} ndx__outline;
/* The step of code k: column and row offsets. */
extern const int ndx__chain_dx[8], ndx__chain_dy[8];
/* NDX_OK when every pixel of o lies in the w x h image; else
 * NDX_ERR_FORMAT "<where>: the chain leaves the WxH image at step i
 * (column c, row r)". */
ndx_status ndx__chain_check(const ndx__outline *o, int w, int h, const char *where);
/* Sets to value the pixels of o's region in mask (w x h, row-major);
 * checks o first as ndx__chain_check does. */
ndx_status ndx__chain_fill(const ndx__outline *o, uint8_t *mask, int w, int h, uint8_t value,
                           const char *where);
/* The exclusive-or of the regions of o[0..n-1]: mask (w x h) is 0 / 255. */
ndx_status ndx__outlines_fill(const ndx__outline *o, size_t n, uint8_t *mask, int w, int h,
                              const char *where);
/* Sets to value the pixels of the polygon xy (n points x0 y0 x1 y1 ...,
 * columns and rows, pixel centres at integers): the pixels its edges pass
 * through and those whose centres lie inside (non-zero winding), clipped to
 * the w x h image.  n >= 1; points must be finite. */
ndx_status ndx__poly_fill(const double *xy, size_t n, uint8_t *mask, int w, int h,
                          uint8_t value);
/* A filled disc of radius r pixels around (x, y), clipped. */
void ndx__disc_fill(double x, double y, double r, uint8_t *mask, int w, int h, uint8_t value);
/* The outlines of mask (w x h, nonzero = inside), in raster order of their
 * start pixels: *out (free with ndx__outlines_free), *n of them. */
ndx_status ndx__mask_trace(const uint8_t *mask, int w, int h, ndx__outline **out, size_t *n);
void ndx__outlines_free(ndx__outline *o, size_t n);

/* ---- Apple property lists, XML form (plist.c) -------------------------------
 * The subset INbreast's ROI files use: dict, key, array, string, integer,
 * real, true, false, date, data; comments, the XML declaration and the
 * DOCTYPE are skipped.  Errors name the file, line and element. */
enum { NDX__PL_DICT, NDX__PL_ARRAY, NDX__PL_STRING, NDX__PL_INTEGER, NDX__PL_REAL,
       NDX__PL_BOOL, NDX__PL_DATE, NDX__PL_DATA };
typedef struct ndx__plist {
    int type, line;          /* line of the element's start tag */
    char *text;              /* string, date, data: the decoded text */
    double num;              /* integer, real, bool (1 / 0) */
    size_t n;                /* dict: entries; array: items */
    char **keys;             /* dict: n keys */
    struct ndx__plist *kids; /* dict: n values; array: n items */
} ndx__plist;
/* Parses path (at most 64 MB) into *root (free with ndx__plist_free). */
ndx_status ndx__plist_read(const char *path, ndx__plist **root);
/* The same from text (len bytes); name names it in messages. */
ndx_status ndx__plist_parse(const char *text, size_t len, const char *name, ndx__plist **root);
void ndx__plist_free(ndx__plist *p);
/* d[key] when d is a dict holding key, else NULL. */
const ndx__plist *ndx__plist_get(const ndx__plist *d, const char *key);
const char *ndx__plist_type_name(int type);

/* ---- what the imports share (importutil.c) ---------------------------------- */

/* One import's run: its output folder, the manifest it fills, its notes. */
typedef struct ndx__import {
    const char *stage;       /* "import-ddsm", ... */
    const char *out;         /* the output folder as given */
    char *abs_out;           /* the same, absolute */
    ndx_manifest m;
    ndx_import_stats *S;
    void (*note)(void *, const char *);
    void *ctx;
    char *first_skip;        /* the first skipped image's note (malloc'd) */
} ndx__import;
/* Checks and locks out/manifest.csv against the inputs (what/path pairs,
 * NULL-ended; a NULL path is skipped), makes out and out/masks, runs
 * body(im, arg), refuses an empty manifest (naming the first skip, or
 * empty_why when nothing was skipped) and writes out/manifest.csv. */
ndx_status ndx__import_run(const char *stage, const char *out, const char *const *inputs,
                           ndx_import_stats *S, void (*note)(void *, const char *), void *ctx,
                           ndx_status (*body)(ndx__import *im, void *arg), void *arg,
                           const char *empty_why);
/* A note that counts an image skipped (the first one kept for the error). */
void ndx__import_skip(ndx__import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note that counts a lesion or finding left out. */
void ndx__import_drop(ndx__import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* rel (cap bytes) = path (an existing file) relative to the output folder. */
ndx_status ndx__import_rel(const ndx__import *im, const char *path, char *rel, size_t cap);
/* Writes mask (w x h, 0 / 255) as out/masks/<name>; rel = "masks/<name>". */
ndx_status ndx__import_mask(const ndx__import *im, const char *name, const uint8_t *mask, int w,
                            int h, char *rel, size_t cap);

#endif
