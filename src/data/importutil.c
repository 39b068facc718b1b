/* What the imports share: notes, file tests, relative paths, the
 * run around an import (outputs locked, masks folder, manifest written). */
#define _XOPEN_SOURCE 700   /* realpath */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/core.h"
#include "data.h"
#include "../io/io.h"
#include "import.h"

void ndx__say(void (*note)(void *, const char *), void *ctx, const char *fmt, ...)
{
    if (!note) return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!msg) return;   /* a note lost to a full memory, not a failure */
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    note(ctx, msg);
    free(msg);
}

int ndx__is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void vnote(ndx__import *im, char **keep, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    const int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!msg) return;   /* a note lost to a full memory, not a failure */
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    if (im->note) im->note(im->ctx, msg);
    if (keep && !*keep) *keep = msg;
    else free(msg);
}

void ndx__import_skip(ndx__import *im, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    im->S->skipped++;
    vnote(im, &im->first_skip, fmt, ap);
    va_end(ap);
}

void ndx__import_drop(ndx__import *im, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    im->S->dropped++;
    vnote(im, NULL, fmt, ap);
    va_end(ap);
}

ndx_status ndx__import_rel(const ndx__import *im, const char *path, char *rel, size_t cap)
{
    char *abs = realpath(path, NULL);
    if (!abs) return ndx__fail(NDX_ERR_IO, "%s: %s", path, strerror(errno));
    const int cut = ndx__relpath(im->abs_out, abs, rel, cap);
    free(abs);
    return cut ? ndx__fail(NDX_ERR_INVALID, "%s: its path from %s is longer than %zu characters",
                           path, im->out, cap - 1)
               : NDX_OK;
}

ndx_status ndx__import_mask(const ndx__import *im, const char *name, const uint8_t *mask, int w,
                            int h, char *rel, size_t cap)
{
    const int k = snprintf(rel, cap, "masks/%s", name);
    if (k < 0 || (size_t)k >= cap)
        return ndx__fail(NDX_ERR_INVALID, "masks/%s: longer than %zu characters", name, cap - 1);
    char *path = ndx__join(im->out, rel);
    ndx_status st = path ? ndx_png_write8(path, mask, w, h, 1) : NDX_ERR_NOMEM;
    free(path);
    return st;
}

/* The run once the outputs are locked: folders, body, manifest. */
static ndx_status run_locked(ndx__import *im, ndx_status (*body)(ndx__import *, void *), void *arg,
                             const char *empty_why)
{
    char *masks = ndx__join(im->out, "masks");
    ndx_status st = masks ? ndx__mkdirs(masks) : NDX_ERR_NOMEM;
    free(masks);
    if (!st && !(im->abs_out = realpath(im->out, NULL)))
        st = ndx__fail(NDX_ERR_IO, "%s: %s", im->out, strerror(errno));
    if (!st) st = body(im, arg);
    if (!st && im->m.n == 0)
        st = ndx__fail(NDX_ERR_FORMAT, "%s: no image imported: %s", im->stage,
                       im->first_skip ? im->first_skip : empty_why);
    char *man = st ? NULL : ndx__join(im->out, "manifest.csv");
    if (!st) st = man ? ndx_manifest_write(man, &im->m) : NDX_ERR_NOMEM;
    free(man);
    return st;
}

ndx_status ndx__import_run(const char *stage, const char *out, const char *const *inputs,
                           ndx_import_stats *S, void (*note)(void *, const char *), void *ctx,
                           ndx_status (*body)(ndx__import *im, void *arg), void *arg,
                           const char *empty_why)
{
    ndx_import_stats local;
    ndx__import im = {stage, out, NULL, {0}, S ? S : &local, note, ctx, NULL};
    memset(im.S, 0, sizeof *im.S);
    ndx_ioplan *p = NULL;
    ndx_status st = ndx_ioplan_new(stage, &p);
    for (size_t i = 0; !st && inputs[i]; i += 2)
        if (inputs[i + 1]) st = ndx_ioplan_input(p, inputs[i], inputs[i + 1], NULL);
    char *man = st ? NULL : ndx__join(out, "manifest.csv");
    if (!st && !man) st = NDX_ERR_NOMEM;
    if (!st) st = ndx_ioplan_output(p, "manifest.csv", man, NDX_OUT_MKDIRS);
    free(man);
    if (!st) st = ndx_ioplan_begin(p);
    if (!st) st = run_locked(&im, body, arg, empty_why);
    ndx_ioplan_free(p);
    ndx_manifest_free(&im.m);
    free(im.abs_out), free(im.first_skip);
    return st;
}
