/* Private helpers of src/train (not installed). */
#ifndef NDX_TRAIN_H
#define NDX_TRAIN_H

#include <stdio.h>

#include "../core/core.h"

/* Atomic output: a temporary file "<path>.tmp.XXXXXX" in path's directory,
 * opened for writing.  what names the caller in messages ("checkpoint"). */
typedef struct ndx__atomic {
    FILE *f;
    const char *path, *what;
    char tmp[4096];
} ndx__atomic;
ndx_status ndx__atomic_open(ndx__atomic *a, const char *path, const char *what);
/* fflush, fsync, fclose, rename over the path, fsync of the directory; on
 * any failure the temporary file is removed and path left as it was. */
ndx_status ndx__atomic_commit(ndx__atomic *a);
/* Closes and removes the temporary file (after a failure). */
void ndx__atomic_abort(ndx__atomic *a);

#endif
