/* im2col / col2im, scalar reference (torch.nn.functional.unfold / fold).
 *
 * One image im: C x H x W, row-major.  Kernel KH x KW, stride SH x SW, zero
 * padding PH x PW, dilation DH x DW.
 *   OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1, likewise OW.
 * col: (C*KH*KW) x (OH*OW), row-major, row r = (c*KH + i)*KW + j, column
 * oy*OW + ox:
 *   col[r][oy*OW + ox] = im[c][y][x],  y = oy*SH - PH + i*DH,
 *                                      x = ox*SW - PW + j*DW,
 * and 0 where (y, x) falls in the padding.
 * col2im is the adjoint (fold): im is overwritten with, for every pixel, the
 * sum of the col entries that im2col would have copied from it, added in
 * increasing row r, the order of PyTorch's CPU col2im.
 * No alignment assumptions; every output element is written once (im2col)
 * or cleared and then accumulated (col2im); nothing else is touched. */
#include "../kernels.h"

#include <string.h>

/* floor(num / s) + 1 for s > 0; 0 when the kernel does not fit. */
static int out_size(int in, int k, int s, int p, int d)
{
    /* in 64 bits: no overflow for any int arguments */
    const long long num = (long long)in + 2LL * p - (long long)d * (k - 1) - 1;
    if (num < 0 || s <= 0) return 0;
    const long long out = num / s + 1;
    return out > 0x7fffffff ? 0 : (int)out;
}

int ndx_conv2d_shape_out_h(const ndx_conv2d_shape *s)
{
    return out_size(s->h, s->kh, s->sh, s->ph, s->dh);
}

int ndx_conv2d_shape_out_w(const ndx_conv2d_shape *s)
{
    return out_size(s->w, s->kw, s->sw, s->pw, s->dw);
}

void ndx_f32_im2col__ref(const ndx_conv2d_shape *s, const float *restrict im,
                         float *restrict col)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    const size_t plane = (size_t)s->h * (size_t)s->w;
    const size_t ocols = (size_t)oh * (size_t)ow;

    for (int c = 0; c < s->c; c++) {
        const float *src = im + (size_t)c * plane;
        for (int i = 0; i < s->kh; i++) {
            for (int j = 0; j < s->kw; j++) {
                const size_t r = ((size_t)c * s->kh + i) * s->kw + j;
                float *dst = col + r * ocols;
                for (int oy = 0; oy < oh; oy++) {
                    const int y = oy * s->sh - s->ph + i * s->dh;
                    for (int ox = 0; ox < ow; ox++) {
                        const int x = ox * s->sw - s->pw + j * s->dw;
                        const int inside = y >= 0 && y < s->h && x >= 0 && x < s->w;
                        dst[(size_t)oy * ow + ox] =
                            inside ? src[(size_t)y * s->w + x] : 0.0f;
                    }
                }
            }
        }
    }
}

void ndx_f32_col2im__ref(const ndx_conv2d_shape *s, const float *restrict col,
                         float *restrict im)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    const size_t plane = (size_t)s->h * (size_t)s->w;
    const size_t ocols = (size_t)oh * (size_t)ow;

    if (s->c > 0 && plane > 0)
        memset(im, 0, (size_t)s->c * plane * sizeof *im);
    for (int c = 0; c < s->c; c++) {
        float *dst = im + (size_t)c * plane;
        for (int i = 0; i < s->kh; i++) {
            for (int j = 0; j < s->kw; j++) {
                const size_t r = ((size_t)c * s->kh + i) * s->kw + j;
                const float *src = col + r * ocols;
                for (int oy = 0; oy < oh; oy++) {
                    const int y = oy * s->sh - s->ph + i * s->dh;
                    if (y < 0 || y >= s->h) continue;
                    for (int ox = 0; ox < ow; ox++) {
                        const int x = ox * s->sw - s->pw + j * s->dw;
                        if (x < 0 || x >= s->w) continue;
                        dst[(size_t)y * s->w + x] += src[(size_t)oy * ow + ox];
                    }
                }
            }
        }
    }
}
