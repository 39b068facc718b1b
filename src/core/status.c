/* Status codes and the per-thread detail message. */
#include <stdarg.h>
#include <stdio.h>

#include "core.h"

static _Thread_local char last_error[1024];

const char *ndx_status_str(ndx_status s)
{
    switch (s) {
    case NDX_OK: return "ok";
    case NDX_ERR_NOMEM: return "out of memory";
    case NDX_ERR_INVALID: return "invalid argument";
    case NDX_ERR_SHAPE: return "shape mismatch";
    case NDX_ERR_IO: return "input/output error";
    case NDX_ERR_FORMAT: return "malformed input";
    case NDX_ERR_UNSUPPORTED: return "not supported here";
    }
    return "unknown status";
}

const char *ndx_last_error(void) { return last_error; }

ndx_status ndx__fail(ndx_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}
