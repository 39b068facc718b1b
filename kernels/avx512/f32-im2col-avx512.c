/* im2col and col2im for the AVX-512 set (contracts and oracles:
 * ndx_f32_im2col__ref, ndx_f32_col2im__ref).
 *
 * Stride 1 on maps 9 to 16 wide (ResNet's and VGG's 14x14 layers; 512
 * channels, 3x3: 0.43 -> 0.16 ms, CPU time): each input row is
 * loaded whole under a mask, its floats moved to their output columns by
 * one vpermps (zero where the tap falls in the padding) and stored 16 wide.
 * A store spills into the next output row, which is written after it; only
 * a store that would pass the end of col is masked.  Other shapes, and
 * col2im, are the AVX2 kernels' (a CPU that runs this set runs AVX2):
 * maps at most 8 wide keep its 8-wide rows (7x7: 0.046 ms, against 0.058
 * 16 wide).
 */
#include <immintrin.h>

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

void ndx_f32_im2col__avx512(const ndx_conv2d_shape *s, const float *restrict im,
                            float *restrict col)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    if (s->sw == 1 && s->w <= 16 && ow <= 16 && (s->w > 8 || ow > 8) && oh > 0)
        narrow_maps(s, oh, ow, im, col);
    else
        ndx_f32_im2col__avx2(s, im, col);
}
