/* Private helpers of the library (not installed). */
#ifndef NDX_CORE_H
#define NDX_CORE_H

#include "netdx.h"

/* Records a detail message for the calling thread and returns st. */
ndx_status ndx__fail(ndx_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Lazy ndx_init(): runs once, keeps going on a bad setting. */
void ndx__ensure_init(void);

#endif
