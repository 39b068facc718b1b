/* 64-byte aligned allocation and the arena (a bump allocator over one
 * block, sized before use: no allocation in hot loops). */
#include <stdlib.h>

#include "core.h"

#define NDX_ALIGN 64

void *ndx_alloc(size_t bytes)
{
    if (bytes == 0) {
        ndx__fail(NDX_ERR_INVALID, "ndx_alloc: size 0");
        return NULL;
    }
    if (bytes > SIZE_MAX - NDX_ALIGN) {
        ndx__fail(NDX_ERR_NOMEM, "ndx_alloc: %zu bytes is too large", bytes);
        return NULL;
    }
    size_t rounded = (bytes + NDX_ALIGN - 1) / NDX_ALIGN * NDX_ALIGN;
    void *p = aligned_alloc(NDX_ALIGN, rounded);
    if (!p) ndx__fail(NDX_ERR_NOMEM, "ndx_alloc: cannot allocate %zu bytes", bytes);
    return p;
}

void ndx_free(void *p) { free(p); }

ndx_status ndx_arena_init(ndx_arena *a, size_t bytes)
{
    *a = (ndx_arena){0};
    a->base = ndx_alloc(bytes);
    if (!a->base) return NDX_ERR_NOMEM;
    a->size = bytes;
    return NDX_OK;
}

void *ndx_arena_alloc(ndx_arena *a, size_t bytes)
{
    size_t start = (a->used + NDX_ALIGN - 1) / NDX_ALIGN * NDX_ALIGN;
    if (start > a->size || bytes > a->size - start) {
        ndx__fail(NDX_ERR_NOMEM, "arena of %zu bytes is full: %zu used, %zu more asked",
                  a->size, a->used, bytes);
        return NULL;
    }
    a->used = start + bytes;
    if (a->used > a->peak) a->peak = a->used;
    return a->base + start;
}

void ndx_arena_reset(ndx_arena *a, size_t mark)
{
    if (mark <= a->used) a->used = mark;
}

void ndx_arena_free(ndx_arena *a)
{
    ndx_free(a->base);
    *a = (ndx_arena){0};
}
