/* 2-D max and average pooling, AVX-512F.  Semantics:
 * kernels/ref/f32-pool-ref.c.
 *
 * The AVX2 kernel's scheme at 16 lanes: output rows whose window lies
 * inside the image, and within them the run of output columns whose window
 * lies inside the image, are computed 16 outputs at a time (the last group
 * of the run under a lane mask, so no scalar tail): for each window cell in
 * row-major order the 16 inputs are one load (stride 1) or one gather (lane
 * * SW).  Max keeps the ref's rule per lane (v > max or v NaN; index of the
 * winner) with compare masks; average sums from 0 in the ref's order and
 * divides by KH*KW (a window inside the image has pool_size = KH*KW), so
 * both equal the ref bit for bit.  Borders and rows whose window leaves the
 * image take the ref's scalar path.  Masked lanes are neither read nor
 * written.  Contiguous planes, no alignment assumptions. */
#include <immintrin.h>
#include <math.h>

#include "../kernels.h"

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

static void max_one(const ndx_pool2d_shape *s, const float *x, int oy, int ox, float *out,
                    int32_t *argmax)
{
    const int y0 = imax(oy * s->sh - s->ph, 0), y1 = imin(oy * s->sh - s->ph + s->kh, s->h);
    const int x0 = imax(ox * s->sw - s->pw, 0), x1 = imin(ox * s->sw - s->pw + s->kw, s->w);
    int best = y0 * s->w + x0;
    float m = -INFINITY;
    for (int y = y0; y < y1; y++)
        for (int xx = x0; xx < x1; xx++) {
            const float v = x[(size_t)y * s->w + xx];
            if (v > m || isnan(v)) {
                m = v;
                best = y * s->w + xx;
            }
        }
    *out = m;
    if (argmax) *argmax = best;
}

static float avg_one(const ndx_pool2d_shape *s, const float *x, int oy, int ox)
{
    int y0 = oy * s->sh - s->ph;
    int y1 = imin(y0 + s->kh, s->h + s->ph);
    const int ph = y1 - y0;
    y0 = imax(y0, 0);
    y1 = imin(y1, s->h);
    int x0 = ox * s->sw - s->pw;
    int x1 = imin(x0 + s->kw, s->w + s->pw);
    const int pool_size = ph * (x1 - x0);
    x0 = imax(x0, 0);
    x1 = imin(x1, s->w);
    if (y0 >= y1 || x0 >= x1) return 0.0f;
    float sum = 0.0f;
    for (int y = y0; y < y1; y++)
        for (int xx = x0; xx < x1; xx++)
            sum += x[(size_t)y * s->w + xx];
    const int div = s->count_include_pad ? pool_size : (y1 - y0) * (x1 - x0);
    return sum / (float)div;
}

/* Output columns [*a, *b) whose window is inside the image columns. */
static void inner_cols(const ndx_pool2d_shape *s, int ow, int *a, int *b)
{
    *a = (s->pw + s->sw - 1) / s->sw;
    *b = s->w >= s->kw ? (s->w - s->kw + s->pw) / s->sw + 1 : 0;
    if (*b > ow) *b = ow;
    if (*a > *b) *a = *b;
}

static inline __mmask16 lanes(int n)   /* the first min(n, 16) lanes */
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}

static inline __m512 load16(const float *p, int sw, __m512i gidx, __mmask16 k)
{
    return sw == 1 ? _mm512_maskz_loadu_ps(k, p)
                   : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, gidx, p, 4);
}

/* Max of the 16 (or, under k, fewer) windows starting at output column ox
 * of row oy, all inside the image. */
static void max16(const ndx_pool2d_shape *s, const float *x, int y0, int ox, __m512i gidx,
                  __mmask16 k, float *o, int32_t *am)
{
    const int x0 = ox * s->sw - s->pw;
    __m512 m = _mm512_set1_ps(-INFINITY);
    const __m512i first = _mm512_add_epi32(_mm512_set1_epi32(y0 * s->w + x0), gidx);
    __m512i idx = first;
    for (int ky = 0; ky < s->kh; ky++) {
        const float *row = x + (size_t)(y0 + ky) * s->w + x0;
        for (int kx = 0; kx < s->kw; kx++) {
            const __m512 v = load16(row + kx, s->sw, gidx, k);
            const __mmask16 win = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) |
                                  _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            m = _mm512_mask_mov_ps(m, win, v);
            idx = _mm512_mask_mov_epi32(idx, win,
                                        _mm512_add_epi32(first, _mm512_set1_epi32(ky * s->w + kx)));
        }
    }
    _mm512_mask_storeu_ps(o, k, m);
    if (am) _mm512_mask_storeu_epi32(am, k, idx);
}

void ndx_f32_maxpool2d__avx512(int channels, const ndx_pool2d_shape *s,
                               const float *restrict in, float *restrict out,
                               int32_t *restrict argmax)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;
    int ca, cb;
    inner_cols(s, ow, &ca, &cb);
    const __m512i gidx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(s->sw));
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *o = out + (size_t)c * oplane;
        int32_t *am = argmax ? argmax + (size_t)c * oplane : NULL;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * s->sh - s->ph;
            const size_t r = (size_t)oy * ow;
            int ox = 0;
            if (y0 >= 0 && y0 + s->kh <= s->h) {
                for (; ox < ca; ox++) max_one(s, x, oy, ox, o + r + ox, am ? am + r + ox : NULL);
                for (; ox < cb; ox += 16)
                    max16(s, x, y0, ox, gidx, lanes(cb - ox), o + r + ox, am ? am + r + ox : NULL);
                ox = cb;
            }
            for (; ox < ow; ox++) max_one(s, x, oy, ox, o + r + ox, am ? am + r + ox : NULL);
        }
    }
}

void ndx_f32_avgpool2d__avx512(int channels, const ndx_pool2d_shape *s,
                               const float *restrict in, float *restrict out)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;
    int ca, cb;
    inner_cols(s, ow, &ca, &cb);
    const __m512i gidx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(s->sw));
    const __m512 div = _mm512_set1_ps((float)(s->kh * s->kw));
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *o = out + (size_t)c * oplane;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * s->sh - s->ph;
            const size_t r = (size_t)oy * ow;
            int ox = 0;
            if (y0 >= 0 && y0 + s->kh <= s->h) {
                for (; ox < ca; ox++) o[r + ox] = avg_one(s, x, oy, ox);
                for (; ox < cb; ox += 16) {
                    const __mmask16 k = lanes(cb - ox);
                    const int x0 = ox * s->sw - s->pw;
                    __m512 sum = _mm512_setzero_ps();
                    for (int ky = 0; ky < s->kh; ky++) {
                        const float *row = x + (size_t)(y0 + ky) * s->w + x0;
                        for (int kx = 0; kx < s->kw; kx++)
                            sum = _mm512_add_ps(sum, load16(row + kx, s->sw, gidx, k));
                    }
                    _mm512_mask_storeu_ps(o + r + ox, k, _mm512_div_ps(sum, div));
                }
                ox = cb;
            }
            for (; ox < ow; ox++) o[r + ox] = avg_one(s, x, oy, ox);
        }
    }
}
