/* Private helpers of src/data (not installed). */
#ifndef NDX_DATA_H
#define NDX_DATA_H

#include "netdx.h"

/* Checks and normalises one manifest row (LUCENT_CENTER -> LUCENT_CENTERED,
 * "N/A" codes -> ""); where and line name it in messages. */
ndx_status ndx__manifest_check(ndx_manifest_row *r, const char *where, long line);
/* dir + "/" + rel into buf; 0 when it does not fit. */
int ndx__join(char *buf, size_t n, const char *dir, const char *rel);

#endif
