/* Status codes and the per-thread detail message.
 *
 * The message is a heap string per thread, as long as it needs to be (a
 * message may name two long paths): no truncation.  ndx__fail formats the
 * new message before it frees the old one, so the old one may be an
 * argument ("%s: %s", path, ndx_last_error()).  A thread's string is freed
 * when the thread ends (a pthread key's destructor). */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

static _Thread_local char *owned;          /* the message, on the heap */
static _Thread_local const char *shown;    /* owned, or a constant */
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void free_message(void *p) { free(p); }
static void make_key(void) { (void)pthread_key_create(&key, free_message); }

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

const char *ndx_last_error(void) { return shown ? shown : ""; }

/* printf into a new string; NULL when out of memory. */
static char *vstrf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vstrf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    const int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *m = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (m) vsnprintf(m, (size_t)n + 1, fmt, ap);
    return m;
}

/* The calling thread's message := m (owned; NULL: lost to memory). */
static void set_message(char *m)
{
    pthread_once(&key_once, make_key);
    char *old = owned;
    owned = m;
    shown = m ? m : "out of memory (while formatting an error message)";
    (void)pthread_setspecific(key, m);
    free(old);
}

ndx_status ndx__fail_take(ndx_status st, char *msg)
{
    set_message(msg);
    return st;
}

ndx_status ndx__fail(ndx_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = vstrf(fmt, ap);
    va_end(ap);
    set_message(m);
    return st;
}

char *ndx__strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = vstrf(fmt, ap);
    va_end(ap);
    if (!m) ndx__fail(NDX_ERR_NOMEM, "out of memory for a formatted string");
    return m;
}

ndx_status ndx__field_int(const char *path, int64_t v, int64_t lo, int64_t hi, const char *field,
                          ...)
{
    if (v >= lo && v <= hi) return NDX_OK;
    va_list ap;
    va_start(ap, field);
    char *f = vstrf(field, ap);
    va_end(ap);
    ndx__fail(NDX_ERR_FORMAT, "%s: %s is %" PRId64 ", outside %" PRId64 "..%" PRId64, path,
              f ? f : field, v, lo, hi);
    free(f);
    return NDX_ERR_FORMAT;
}

ndx_status ndx__field_real(const char *path, double v, double lo, double hi, const char *field,
                           ...)
{
    if (v >= lo && v <= hi && isfinite(v)) return NDX_OK;
    va_list ap;
    va_start(ap, field);
    char *f = vstrf(field, ap);
    va_end(ap);
    ndx__fail(NDX_ERR_FORMAT, "%s: %s is %g, %s %g..%g", path, f ? f : field, v,
              isfinite(v) ? "outside" : "not a finite number in", lo, hi);
    free(f);
    return NDX_ERR_FORMAT;
}
