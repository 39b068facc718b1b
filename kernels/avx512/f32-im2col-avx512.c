/* im2col and col2im for the AVX-512 set (contracts and oracles:
 * ndx_f32_im2col__ref, ndx_f32_col2im__ref).
 *
 * Stride 1 on maps 9 to 16 wide (ResNet's and VGG's 14x14 layers; 512
 * channels, 3x3: 0.43 -> 0.16 ms, CPU time): each input row is
 * loaded whole under a mask, its floats moved to their output columns by
 * one vpermps (zero where the tap falls in the padding) and stored 16 wide.
 * A store spills into the next output row, which is written after it; only
 * a store that would pass the end of col is masked.  Strides of 3 and more
 * gather each row's valid run 16 at a time (strided_rows).  Other shapes,
 * and col2im, are the AVX2 kernels' (a CPU that runs this set runs AVX2):
 * maps at most 8 wide keep its 8-wide rows (7x7: 0.046 ms, against 0.058
 * 16 wide).
 */
#include <immintrin.h>
#include <string.h>

#include "../kernels.h"

static void narrow_maps(const ndx_conv2d_shape *s, int oh, int ow, const float *restrict im,
                        float *restrict col)
{
    const __m512i lanes =
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __mmask16 in_row = (__mmask16)((1u << s->w) - 1);
    const size_t plane = (size_t)s->h * s->w;
    const size_t total = (size_t)s->c * s->kh * s->kw * oh * ow;
    size_t pos = 0;
    for (int c = 0; c < s->c; c++)
        for (int i = 0; i < s->kh; i++)
            for (int j = 0; j < s->kw; j++) {
                /* output column ox reads input column ox - pw + j*dw, if in [0, w) */
                const __m512i idx = _mm512_add_epi32(lanes, _mm512_set1_epi32(j * s->dw - s->pw));
                const __mmask16 ok =
                    _mm512_cmpgt_epi32_mask(idx, _mm512_set1_epi32(-1)) &
                    _mm512_cmpgt_epi32_mask(_mm512_set1_epi32(s->w), idx);
                for (int oy = 0; oy < oh; oy++, pos += ow) {
                    const int y = oy * s->sh - s->ph + i * s->dh;
                    __m512 v = _mm512_setzero_ps();
                    if (y >= 0 && y < s->h) {
                        const __m512 row =
                            _mm512_maskz_loadu_ps(in_row, im + c * plane + (size_t)y * s->w);
                        v = _mm512_maskz_permutexvar_ps(ok, idx, row);
                    }
                    const size_t left = total - pos;
                    if (left >= 16)
                        _mm512_storeu_ps(col + pos, v);
                    else
                        _mm512_mask_storeu_ps(col + pos, (__mmask16)((1u << left) - 1), v);
                }
            }
}

/* first ox with 0 <= ox*s - p + off, and one past the last with
 * ox*s - p + off < n, clamped to [0, out] (as the AVX2 kernel's). */
static void valid_range(int out, int s, int p, int off, int n, int *lo, int *hi)
{
    const int a = p - off, b = n + p - off;
    int l = a <= 0 ? 0 : (a + s - 1) / s, h = b <= 0 ? 0 : (b + s - 1) / s;
    if (l > out) l = out;
    if (h > out) h = out;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* Strides of 3 and more (AlexNet's 11x11 stride-4 stem: 1.1 M col floats
 * an image): each row's valid run [x0, x1) gathered 16 at a time (indices
 * base + ox*sw, all inside the plane; the last group masked), the rest
 * zeroed; the AVX2 kernel copies these one float at a time. */
static void strided_rows(const ndx_conv2d_shape *s, int oh, int ow, const float *restrict im,
                         float *restrict col)
{
    const size_t plane = (size_t)s->h * s->w, ocols = (size_t)oh * ow;
    const __m512i step = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(s->sw));
    for (int c = 0; c < s->c; c++) {
        const float *src = im + (size_t)c * plane;
        for (int i = 0; i < s->kh; i++)
            for (int j = 0; j < s->kw; j++) {
                float *dst = col + (((size_t)c * s->kh + i) * s->kw + j) * ocols;
                int x0, x1;
                valid_range(ow, s->sw, s->pw, j * s->dw, s->w, &x0, &x1);
                for (int oy = 0; oy < oh; oy++) {
                    float *d = dst + (size_t)oy * ow;
                    const int y = oy * s->sh - s->ph + i * s->dh;
                    if (y < 0 || y >= s->h) {
                        memset(d, 0, sizeof(float) * (size_t)ow);
                        continue;
                    }
                    /* output column ox reads src[row + ox*sw], row + x0*sw >= 0 */
                    const float *row = src + (long)y * s->w - s->pw + (long)j * s->dw;
                    for (int ox = 0; ox < x0; ox++) d[ox] = 0.0f;
                    for (int ox = x0; ox < x1; ox += 16) {
                        const int n = x1 - ox < 16 ? x1 - ox : 16;
                        const __mmask16 k = (__mmask16)((1u << n) - 1u);
                        const __m512 v = _mm512_mask_i32gather_ps(
                            _mm512_setzero_ps(), k, step, row + (long)ox * s->sw, 4);
                        _mm512_mask_storeu_ps(d + ox, k, v);
                    }
                    for (int ox = x1; ox < ow; ox++) d[ox] = 0.0f;
                }
            }
    }
}

void ndx_f32_im2col__avx512(const ndx_conv2d_shape *s, const float *restrict im,
                            float *restrict col)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    if (s->sw == 1 && s->w <= 16 && ow <= 16 && (s->w > 8 || ow > 8) && oh > 0)
        narrow_maps(s, oh, ow, im, col);
    else if (s->sw >= 3 && oh > 0 && ow > 0)
        strided_rows(s, oh, ow, im, col);
    else
        ndx_f32_im2col__avx2(s, im, col);
}
