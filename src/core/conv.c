/* 2-D convolution driver: im2col + GEMM, per image and group; 3x3 stride-1
 * layers may take Winograd F(2x2, 3x3) forward instead (winograd.c).
 *
 *   forward:   y_g (Kg, OH*OW) = W_g (Kg, Cg*KH*KW) . col_g (Cg*KH*KW, OH*OW)
 *              then y += bias, y = max(y, 0) if relu, row by row while hot
 *   data grad: dcol_g = W_g^T . dy_g, dx_g = col2im(dcol_g)
 *   weight:    dW_g += dy_g . col_g^T,  dbias[k] += sum(dy[k])
 *
 * A 1x1 kernel with stride 1, no padding uses x (C, H*W) as col directly.
 * The forward pass builds the cols of several images (up to ~16 MB) and
 * runs their GEMMs together, so the weights are packed once for all of them.
 * im2col and col2im run over channels in parallel; the GEMMs thread
 * themselves.  ws holds that many image-groups' cols (Cg*KH*KW*OH*OW floats
 * each); the backward passes use one.
 *
 * Forward algorithm: NETDX_CONV=im2col|winograd forces one (winograd only
 * where it applies: 3x3, stride 1, dilation 1, one group); auto (default)
 * takes Winograd where ndx__winograd_wins().  Backward is always im2col.
 */
#include <string.h>

#include "core.h"
#include "../../kernels/kernels.h"

/* Sizes, kernel, stride, padding and dilation above this are refused, so
 * that no index arithmetic can overflow. */
#define NDX_CONV_MAX_SIZE (1 << 15)

static ndx_conv2d_shape kernel_shape(const ndx_conv2d_desc *d, int channels)
{
    return (ndx_conv2d_shape){channels, d->h, d->w, d->kh, d->kw, d->sh, d->sw,
                            d->ph, d->pw, d->dh, d->dw};
}

ndx_status ndx_conv2d_check(const ndx_conv2d_desc *d)
{
    const struct { const char *name; int v, min; } f[] = {
        {"n", d->n, 1}, {"c", d->c, 1}, {"h", d->h, 1}, {"w", d->w, 1},
        {"k", d->k, 1}, {"kh", d->kh, 1}, {"kw", d->kw, 1}, {"sh", d->sh, 1},
        {"sw", d->sw, 1}, {"ph", d->ph, 0}, {"pw", d->pw, 0}, {"dh", d->dh, 1},
        {"dw", d->dw, 1}, {"groups", d->groups, 1}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (f[i].v < f[i].min)
            return ndx__fail(NDX_ERR_SHAPE, "conv2d: %s = %d (at least %d)", f[i].name,
                             f[i].v, f[i].min);
    const struct { const char *name; int v; } big[] = {
        {"h", d->h}, {"w", d->w}, {"kh", d->kh}, {"kw", d->kw}, {"sh", d->sh},
        {"sw", d->sw}, {"ph", d->ph}, {"pw", d->pw}, {"dh", d->dh}, {"dw", d->dw}};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        if (big[i].v > NDX_CONV_MAX_SIZE)
            return ndx__fail(NDX_ERR_SHAPE, "conv2d: %s = %d (at most %d)", big[i].name,
                             big[i].v, NDX_CONV_MAX_SIZE);
    if (d->c % d->groups || d->k % d->groups)
        return ndx__fail(NDX_ERR_SHAPE, "conv2d: groups = %d divides neither c = %d nor k = %d",
                         d->groups, d->c, d->k);
    if (ndx_conv2d_out_h(d) < 1 || ndx_conv2d_out_w(d) < 1)
        return ndx__fail(NDX_ERR_SHAPE, "conv2d: kernel %dx%d (dilation %dx%d) does not fit "
                         "input %dx%d with padding %dx%d", d->kh, d->kw, d->dh, d->dw,
                         d->h, d->w, d->ph, d->pw);
    if ((double)d->c / d->groups * d->kh * d->kw * ndx_conv2d_out_h(d) * ndx_conv2d_out_w(d) > 1e9)
        return ndx__fail(NDX_ERR_SHAPE, "conv2d: im2col buffer of more than 1e9 floats");
    return NDX_OK;
}

int ndx_conv2d_out_h(const ndx_conv2d_desc *d)
{
    ndx_conv2d_shape s = kernel_shape(d, d->c);
    return ndx_conv2d_shape_out_h(&s);
}

int ndx_conv2d_out_w(const ndx_conv2d_desc *d)
{
    ndx_conv2d_shape s = kernel_shape(d, d->c);
    return ndx_conv2d_shape_out_w(&s);
}

static int is_pointwise(const ndx_conv2d_desc *d)
{
    return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

/* Floats of one image-group's col. */
static size_t col_size(const ndx_conv2d_desc *d)
{
    return (size_t)(d->c / d->groups) * d->kh * d->kw * ndx_conv2d_out_h(d) * ndx_conv2d_out_w(d);
}

/* Images whose cols the forward pass builds at once, so that one packing of
 * the weights serves them all: as many as fit in about 16 MB, at least 1. */
#define CHUNK_FLOATS ((size_t)4 << 20)
static int batch_chunk(const ndx_conv2d_desc *d)
{
    const size_t per = col_size(d);
    size_t chunk = per ? CHUNK_FLOATS / per : (size_t)d->n;
    if (chunk < 1) chunk = 1;
    return chunk < (size_t)d->n ? (int)chunk : d->n;
}

/* Whether the forward pass of a checked d takes Winograd. */
int ndx__conv_uses_winograd(const ndx_conv2d_desc *d)
{
    switch (ndx__conv_get_algo()) {
    case NDX__CONV_IM2COL: return 0;
    case NDX__CONV_WINOGRAD: return ndx__winograd_fits(d);
    default: return ndx__winograd_wins(d);
    }
}

const char *ndx_conv2d_algo(const ndx_conv2d_desc *d)
{
    if (ndx_conv2d_check(d)) return "invalid";
    if (ndx__conv_uses_winograd(d)) return "winograd";
    return is_pointwise(d) ? "gemm" : "im2col";
}

size_t ndx_conv2d_workspace(const ndx_conv2d_desc *d)
{
    if (is_pointwise(d)) return 0;
    const size_t im2col = col_size(d) * (size_t)batch_chunk(d);
    if (ndx_conv2d_check(d) || !ndx__conv_uses_winograd(d)) return im2col;
    const size_t wino = ndx__winograd_workspace(d);
    return wino > im2col ? wino : im2col;
}

/* fn (the table's im2col or col2im) on each of cg channels, in parallel:
 * channel ch reads src + ch*src_step and writes dst + ch*dst_step. */
static void per_channel(ndx_im2col_fn fn, const ndx_conv2d_desc *d, int cg,
                        const float *src, size_t src_step, float *dst, size_t dst_step)
{
    const ndx_conv2d_shape s = kernel_shape(d, 1);
    const int nt = ndx_get_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1 && cg > 1) schedule(static)
    for (int ch = 0; ch < cg; ch++) fn(&s, src + ch * src_step, dst + ch * dst_step);
}

/* What the three passes share, from a checked description. */
typedef struct {
    const ndx_kernel_table *t;
    int G, cg, kg;       /* groups; input and output channels per group */
    int ohw, kdim;       /* GEMM sizes: OH*OW, Cg*KH*KW */
    size_t plane, taps;  /* H*W; KH*KW*OH*OW (one channel's col rows) */
    int pointwise;
} geom;

static ndx_status prepare(const ndx_conv2d_desc *d, const float *ws, geom *g)
{
    ndx_status st = ndx_conv2d_check(d);
    if (st) return st;
    ndx__ensure_init();
    g->t = ndx_kernels();
    g->G = d->groups;
    g->cg = d->c / d->groups;
    g->kg = d->k / d->groups;
    g->ohw = ndx_conv2d_out_h(d) * ndx_conv2d_out_w(d);
    g->kdim = g->cg * d->kh * d->kw;
    g->plane = (size_t)d->h * d->w;
    g->taps = (size_t)d->kh * d->kw * g->ohw;
    g->pointwise = is_pointwise(d);
    if (!g->pointwise && !ws) return ndx__fail(NDX_ERR_INVALID, "conv2d: workspace is NULL");
    return NDX_OK;
}

ndx_status ndx_conv2d_forward(const ndx_conv2d_desc *d, const float *x,
                              const float *w, const float *bias, float *y,
                              float *ws)
{
    return ndx__conv2d_forward_u(d, x, w, 0, NULL, bias, y, ws);
}

ndx_status ndx__conv2d_forward_u(const ndx_conv2d_desc *d, const float *x, const float *w,
                                 int w_packed, const float *u, const float *bias, float *y,
                                 float *ws)
{
    geom gm;
    ndx_status st = prepare(d, ws, &gm);
    if (st) return st;
    if (w_packed && (d->groups != 1 || ndx__conv_uses_winograd(d)))
        return ndx__fail(NDX_ERR_INVALID, "conv2d: prepacked weights with %d groups or a "
                         "layer that takes Winograd", d->groups);
    if (ndx__conv_uses_winograd(d)) {
        ndx__winograd_forward(d, x, w, u, bias, y, ws);
        return NDX_OK;
    }
    const ndx_kernel_table *t = gm.t;
    const int G = gm.G, cg = gm.cg, kg = gm.kg, ohw = gm.ohw, kdim = gm.kdim;
    const size_t plane = gm.plane;
    const int pointwise = gm.pointwise;
    const size_t col1 = col_size(d);
    const int chunk = pointwise ? d->n : batch_chunk(d);
    for (int g = 0; g < G; g++)
        for (int n0 = 0; n0 < d->n; n0 += chunk) {
            const int cnt = d->n - n0 < chunk ? d->n - n0 : chunk;
            const float *xg = x + ((size_t)n0 * d->c + (size_t)g * cg) * plane;
            float *yg = y + ((size_t)n0 * d->k + (size_t)g * kg) * ohw;
            const float *col = xg;
            size_t col_stride = (size_t)d->c * plane;
            if (!pointwise) {
                for (int i = 0; i < cnt; i++)
                    per_channel(t->im2col.fn, d, cg, xg + (size_t)i * d->c * plane, plane,
                                ws + i * col1, gm.taps);
                col = ws;
                col_stride = col1;
            }
            /* one packing of W_g for the cnt images, or none */
            if (w_packed)
                ndx__sgemm_batch_prepacked(kg, ohw, kdim, w, cnt, col, ohw, col_stride, yg, ohw,
                                           (size_t)d->k * ohw);
            else
                ndx__sgemm_batch(0, kg, ohw, kdim, 1.0f, w + (size_t)g * kg * kdim, kdim, cnt,
                                 col, ohw, col_stride, 0.0f, yg, ohw, (size_t)d->k * ohw);
            if (bias || d->relu) {
                const int nt = ndx_get_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1 && (size_t)cnt * kg * ohw > 16384) schedule(static)
                for (int r = 0; r < cnt * kg; r++) {
                    const int i = r / kg, k = r % kg;
                    float *row = yg + (size_t)i * d->k * ohw + (size_t)k * ohw;
                    if (bias) t->bias_add.fn(1, (size_t)ohw, bias + g * kg + k, row);
                    if (d->relu) t->relu.fn((size_t)ohw, row, row);
                }
            }
        }
    return NDX_OK;
}

ndx_status ndx_conv2d_backward_data(const ndx_conv2d_desc *d, const float *dy,
                                    const float *w, float *dx, float *ws)
{
    geom gm;
    ndx_status st = prepare(d, ws, &gm);
    if (st) return st;
    const ndx_kernel_table *t = gm.t;
    const int G = gm.G, cg = gm.cg, kg = gm.kg, ohw = gm.ohw, kdim = gm.kdim;
    const size_t plane = gm.plane;
    const int pointwise = gm.pointwise;
    for (int n = 0; n < d->n; n++)
        for (int g = 0; g < G; g++) {
            const float *dyg = dy + ((size_t)n * d->k + (size_t)g * kg) * ohw;
            float *dxg = dx + ((size_t)n * d->c + (size_t)g * cg) * plane;
            const float *wg = w + (size_t)g * kg * kdim;
            if (pointwise) {
                ndx_sgemm(1, 0, kdim, ohw, kg, 1.0f, wg, kdim, dyg, ohw, 0.0f, dxg, ohw);
            } else {
                ndx_sgemm(1, 0, kdim, ohw, kg, 1.0f, wg, kdim, dyg, ohw, 0.0f, ws, ohw);
                per_channel(t->col2im.fn, d, cg, ws, gm.taps, dxg, plane);
            }
        }
    return NDX_OK;
}

ndx_status ndx_conv2d_backward_weight(const ndx_conv2d_desc *d, const float *x,
                                      const float *dy, float *dw, float *dbias,
                                      float *ws, int accumulate)
{
    geom gm;
    ndx_status st = prepare(d, ws, &gm);
    if (st) return st;
    const ndx_kernel_table *t = gm.t;
    const int G = gm.G, cg = gm.cg, kg = gm.kg, ohw = gm.ohw, kdim = gm.kdim;
    const size_t plane = gm.plane;
    const int pointwise = gm.pointwise;
    if (!accumulate) {
        memset(dw, 0, sizeof(float) * (size_t)d->k * kdim);
        if (dbias) memset(dbias, 0, sizeof(float) * (size_t)d->k);
    }
    for (int n = 0; n < d->n; n++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * d->c + (size_t)g * cg) * plane;
            const float *dyg = dy + ((size_t)n * d->k + (size_t)g * kg) * ohw;
            const float *col = xg;
            if (!pointwise) {
                per_channel(t->im2col.fn, d, cg, xg, plane, ws, gm.taps);
                col = ws;
            }
            ndx_sgemm(0, 1, kg, kdim, ohw, 1.0f, dyg, ohw, col, ohw, 1.0f,
                      dw + (size_t)g * kg * kdim, kdim);
            if (dbias)
                for (int k = 0; k < kg; k++) {
                    const float *row = dyg + (size_t)k * ohw;
                    double s = 0;
                    for (int i = 0; i < ohw; i++) s += row[i];
                    dbias[g * kg + k] += (float)s;
                }
        }
    return NDX_OK;
}
