/* im2col and col2im for the AVX2 set (contracts and oracles:
 * ndx_f32_im2col__ref, ndx_f32_col2im__ref).
 *
 * Same output as the references, row by row of col: for every kernel tap
 * (c, i, j) and output row oy, the valid output columns form one range
 * [x0, x1) computed up front; im2col zero-fills the rest.  With stride 1 the
 * range is a contiguous copy (memcpy) or sum (a loop the compiler vectorises
 * under -mavx2); stride 2 keeps the even floats of 16 loaded at a time;
 * maps at most 8 wide at stride 1 go a whole row per vector;
 * otherwise strided, without per-element bounds tests.
 * col2im adds in the reference's order (tap, then oy, then ox), so its sums
 * are the reference's bit for bit.
 */
#include <immintrin.h>
#include <string.h>

#include "../kernels.h"

/* first ox with 0 <= ox*s - p + off, and one past the last with
 * ox*s - p + off < n, clamped to [0, out]. */
static void valid_range(int out, int s, int p, int off, int n, int *lo, int *hi)
{
    int a = p - off;                 /* need ox*s >= a */
    int l = a <= 0 ? 0 : (a + s - 1) / s;
    int b = n + p - off;             /* need ox*s < b */
    int h = b <= 0 ? 0 : (b + s - 1) / s;
    if (l > out) l = out;
    if (h > out) h = out;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* d[i] = row[2*i] for i < n: 16 floats loaded, the even ones kept, while
 * all 16 lie at or before row[2*(n-1)] (inside the input). */
static void even_floats(float *restrict d, const float *row, int n)
{
    int i = 0;
    for (; i + 8 < n; i += 8) {
        const __m256 a = _mm256_loadu_ps(row + 2 * i);
        const __m256 b = _mm256_loadu_ps(row + 2 * i + 8);
        /* per 128-bit lane: a0 a2 b0 b2, then the 64-bit pairs reordered */
        const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        _mm256_storeu_ps(d + i, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                    _mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
    }
    for (; i < n; i++) d[i] = row[2 * i];
}

/* Stride 1 on maps at most 8 wide (ResNet's 7x7 layers: 32K rows of 7
 * floats per image, where a row's bookkeeping cost more than its copy):
 * each input row is loaded whole (masked to its w floats), its floats moved
 * to their output columns in registers (zero where the tap falls in the
 * padding) and stored 8 wide.  A store spills into the next output row,
 * which is written after it; only the last one of col is masked. */
static void narrow_maps(const ndx_conv2d_shape *s, int oh, int ow, const float *restrict im,
                        float *restrict col)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i in_row = _mm256_cmpgt_epi32(_mm256_set1_epi32(s->w), lanes);
    const __m256i out_row = _mm256_cmpgt_epi32(_mm256_set1_epi32(ow), lanes);
    const size_t plane = (size_t)s->h * s->w;
    const size_t total = (size_t)s->c * s->kh * s->kw * oh * ow;
    size_t pos = 0;
    for (int c = 0; c < s->c; c++)
        for (int i = 0; i < s->kh; i++)
            for (int j = 0; j < s->kw; j++) {
                /* output column ox reads input column ox - pw + j*dw, if in [0, w) */
                const __m256i idx = _mm256_add_epi32(lanes, _mm256_set1_epi32(j * s->dw - s->pw));
                const __m256 ok = _mm256_castsi256_ps(
                    _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)),
                                     _mm256_cmpgt_epi32(_mm256_set1_epi32(s->w), idx)));
                for (int oy = 0; oy < oh; oy++, pos += ow) {
                    const int y = oy * s->sh - s->ph + i * s->dh;
                    __m256 v = _mm256_setzero_ps();
                    if (y >= 0 && y < s->h) {
                        const __m256 row =
                            _mm256_maskload_ps(im + c * plane + (size_t)y * s->w, in_row);
                        v = _mm256_and_ps(_mm256_permutevar8x32_ps(row, idx), ok);
                    }
                    if (pos + 8 <= total)
                        _mm256_storeu_ps(col + pos, v);
                    else
                        _mm256_maskstore_ps(col + pos, out_row, v);
                }
            }
}

void ndx_f32_im2col__avx2(const ndx_conv2d_shape *s, const float *restrict im,
                          float *restrict col)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    const size_t plane = (size_t)s->h * s->w, ocols = (size_t)oh * ow;
    if (s->sw == 1 && s->w <= 8 && ow <= 8 && oh > 0 && ow > 0) {
        narrow_maps(s, oh, ow, im, col);
        return;
    }
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
                        memset(d, 0, sizeof(float) * ow);
                        continue;
                    }
                    /* input index of output column ox: base + ox*sw, >= 0 from x0 on */
                    const long base = (long)y * s->w - s->pw + (long)j * s->dw;
                    for (int ox = 0; ox < x0; ox++) d[ox] = 0.0f;
                    if (s->sw == 1 && x1 > x0)
                        memcpy(d + x0, src + base + x0, sizeof(float) * (x1 - x0));
                    else if (s->sw == 2)
                        even_floats(d + x0, src + base + 2 * (long)x0, x1 - x0);
                    else
                        for (int ox = x0; ox < x1; ox++) d[ox] = src[base + (long)ox * s->sw];
                    for (int ox = x1; ox < ow; ox++) d[ox] = 0.0f;
                }
            }
    }
}

void ndx_f32_col2im__avx2(const ndx_conv2d_shape *s, const float *restrict col,
                          float *restrict im)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    const size_t plane = (size_t)s->h * s->w, ocols = (size_t)oh * ow;
    memset(im, 0, sizeof(float) * plane * s->c);
    for (int c = 0; c < s->c; c++) {
        float *dst = im + (size_t)c * plane;
        for (int i = 0; i < s->kh; i++)
            for (int j = 0; j < s->kw; j++) {
                const float *src = col + (((size_t)c * s->kh + i) * s->kw + j) * ocols;
                int x0, x1;
                valid_range(ow, s->sw, s->pw, j * s->dw, s->w, &x0, &x1);
                for (int oy = 0; oy < oh; oy++) {
                    const int y = oy * s->sh - s->ph + i * s->dh;
                    if (y < 0 || y >= s->h) continue;
                    const long base = (long)y * s->w - s->pw + (long)j * s->dw;
                    const float *srow = src + (size_t)oy * ow;
                    if (s->sw == 1) {
                        float *d = dst + base;
                        for (int ox = x0; ox < x1; ox++) d[ox] += srow[ox];
                    } else {
                        for (int ox = x0; ox < x1; ox++) dst[base + (long)ox * s->sw] += srow[ox];
                    }
                }
            }
    }
}
