/* Private helpers of src/io and src/data (not installed). */
#ifndef NDX_IO_H
#define NDX_IO_H

#include <stdio.h>

#include "netdx.h"

/* "<path>.tmp.<pid>" into buf; 0 when it does not fit. */
int ndx__tmp_path(char *buf, size_t n, const char *path);
/* Renames tmp to path (removing tmp on failure). */
ndx_status ndx__commit(const char *tmp, const char *path);
/* Writes s as one CSV field, quoted when it holds a comma, quote or newline. */
void ndx__csv_put(FILE *f, const char *s);
/* A decimal integer in lo..hi, the whole of s, into *out: 0; -1 otherwise. */
int ndx__parse_int(const char *s, long lo, long hi, int *out);
/* Creates a directory (and its parents); an existing one is fine. */
ndx_status ndx__mkdirs(const char *path);

#endif
