/* ndx_tensor: NCHW float32, up to four dimensions, owned or a view. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static ndx_status set_shape(ndx_tensor *t, int ndim, const int64_t *shape,
                            int64_t *numel)
{
    if (ndim < 1 || ndim > NDX_MAX_DIMS)
        return ndx__fail(NDX_ERR_SHAPE, "tensor: %d dimensions (1..%d allowed)",
                         ndim, NDX_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || shape[i] > INT32_MAX)
            return ndx__fail(NDX_ERR_SHAPE, "tensor: dimension %d is %" PRId64
                             " (1..%d allowed)", i, shape[i], INT32_MAX);
        if (n > INT64_MAX / 4 / shape[i])
            return ndx__fail(NDX_ERR_SHAPE, "tensor: too many elements");
        n *= shape[i];
    }
    t->ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = s;
        s *= shape[i];
    }
    for (int i = ndim; i < NDX_MAX_DIMS; i++) t->shape[i] = 1, t->stride[i] = 1;
    *numel = n;
    return NDX_OK;
}

ndx_status ndx_tensor_alloc(ndx_tensor *t, int ndim, const int64_t *shape)
{
    int64_t n;
    *t = (ndx_tensor){0};
    ndx_status st = set_shape(t, ndim, shape, &n);
    if (st) return st;
    if ((uint64_t)n > SIZE_MAX / sizeof(float))
        return ndx__fail(NDX_ERR_NOMEM, "tensor: %" PRId64 " elements", n);
    t->data = ndx_alloc((size_t)n * sizeof(float));
    if (!t->data) return NDX_ERR_NOMEM;
    memset(t->data, 0, (size_t)n * sizeof(float));
    t->owned = 1;
    return NDX_OK;
}

ndx_status ndx_tensor_view(ndx_tensor *t, float *data, int ndim,
                           const int64_t *shape)
{
    int64_t n;
    *t = (ndx_tensor){0};
    if (!data) return ndx__fail(NDX_ERR_INVALID, "tensor view: NULL data");
    ndx_status st = set_shape(t, ndim, shape, &n);
    if (st) return st;
    t->data = data;
    return NDX_OK;
}

ndx_status ndx_tensor_narrow(ndx_tensor *view, const ndx_tensor *src,
                             int64_t first, int64_t count)
{
    if (first < 0 || count <= 0 || first > src->shape[0] - count) {
        char buf[96];
        return ndx__fail(NDX_ERR_SHAPE, "tensor narrow: items %" PRId64 "..%" PRId64
                         " of a tensor of shape %s", first, first + count - 1,
                         ndx_tensor_shape_str(src, buf, sizeof buf));
    }
    *view = *src;
    view->owned = 0;
    view->data = src->data + first * src->stride[0];
    view->shape[0] = count;
    return NDX_OK;
}

void ndx_tensor_free(ndx_tensor *t)
{
    if (t->owned) ndx_free(t->data);
    *t = (ndx_tensor){0};
}

int64_t ndx_tensor_numel(const ndx_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return t->ndim ? n : 0;
}

int ndx_tensor_is_contiguous(const ndx_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

const char *ndx_tensor_shape_str(const ndx_tensor *t, char *buf, size_t n)
{
    size_t used = 0;
    int w = snprintf(buf, n, "(");
    for (int i = 0; i < t->ndim && w >= 0 && (used += (size_t)w) < n; i++)
        w = snprintf(buf + used, n - used, i ? ",%" PRId64 : "%" PRId64, t->shape[i]);
    if (w >= 0 && (used += (size_t)w) < n) snprintf(buf + used, n - used, ")");
    return buf;
}
