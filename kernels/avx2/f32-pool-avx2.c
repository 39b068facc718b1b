/* 2-D max and average pooling, AVX2.  Semantics: kernels/ref/f32-pool-ref.c.
 *
 * Output rows whose window lies inside the image, and within them the run of
 * output columns whose window lies inside the image, are computed 8 outputs
 * at a time: for each window cell in row-major order, the 8 inputs are one
 * load (stride 1) or one gather (lane * SW).  Max keeps the ref's rule per
 * lane (v > max or v NaN; index of the winner), average sums from 0 in the
 * ref's order and divides by KH*KW (a window inside the image has
 * pool_size = KH*KW = its cell count), so both equal the ref bit for bit.
 * Every other output (borders, short rows) takes the ref's scalar path.
 * Contiguous planes, no alignment assumptions. */
#include <immintrin.h>
#include <math.h>

#include "../kernels.h"

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

static void max_one(const ndx_pool2d_shape *s, const float *x, int oy, int ox,
                    float *out, int32_t *argmax)
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

static inline __m256 load8(const float *p, int sw, __m256i gidx)
{
    return sw == 1 ? _mm256_loadu_ps(p) : _mm256_i32gather_ps(p, gidx, 4);
}

void ndx_f32_maxpool2d__avx2(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out,
                             int32_t *restrict argmax)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;
    int ca, cb;
    inner_cols(s, ow, &ca, &cb);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i gidx = _mm256_mullo_epi32(lane, _mm256_set1_epi32(s->sw));
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *o = out + (size_t)c * oplane;
        int32_t *am = argmax ? argmax + (size_t)c * oplane : NULL;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * s->sh - s->ph;
            const int inside = y0 >= 0 && y0 + s->kh <= s->h;
            int ox = 0;
            if (inside) {
                for (; ox < ca; ox++)
                    max_one(s, x, oy, ox, o + (size_t)oy * ow + ox, am ? am + (size_t)oy * ow + ox : NULL);
                for (; ox + 8 <= cb; ox += 8) {
                    const int x0 = ox * s->sw - s->pw;
                    __m256 m = _mm256_set1_ps(-INFINITY);
                    const __m256i first = _mm256_add_epi32(_mm256_set1_epi32(y0 * s->w + x0), gidx);
                    __m256i idx = first;
                    for (int ky = 0; ky < s->kh; ky++) {
                        const float *row = x + (size_t)(y0 + ky) * s->w + x0;
                        for (int kx = 0; kx < s->kw; kx++) {
                            const __m256 v = load8(row + kx, s->sw, gidx);
                            const __m256 win = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ),
                                                            _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                            m = _mm256_blendv_ps(m, v, win);
                            const __m256i at = _mm256_add_epi32(first, _mm256_set1_epi32(ky * s->w + kx));
                            idx = _mm256_blendv_epi8(idx, at, _mm256_castps_si256(win));
                        }
                    }
                    _mm256_storeu_ps(o + (size_t)oy * ow + ox, m);
                    if (am) _mm256_storeu_si256((__m256i *)(am + (size_t)oy * ow + ox), idx);
                }
            }
            for (; ox < ow; ox++)
                max_one(s, x, oy, ox, o + (size_t)oy * ow + ox, am ? am + (size_t)oy * ow + ox : NULL);
        }
    }
}

void ndx_f32_avgpool2d__avx2(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;
    int ca, cb;
    inner_cols(s, ow, &ca, &cb);
    const __m256i gidx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm256_set1_epi32(s->sw));
    const __m256 div = _mm256_set1_ps((float)(s->kh * s->kw));
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *o = out + (size_t)c * oplane;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * s->sh - s->ph;
            const int inside = y0 >= 0 && y0 + s->kh <= s->h;
            int ox = 0;
            if (inside) {
                for (; ox < ca; ox++)
                    o[(size_t)oy * ow + ox] = avg_one(s, x, oy, ox);
                for (; ox + 8 <= cb; ox += 8) {
                    const int x0 = ox * s->sw - s->pw;
                    __m256 sum = _mm256_setzero_ps();
                    for (int ky = 0; ky < s->kh; ky++) {
                        const float *row = x + (size_t)(y0 + ky) * s->w + x0;
                        for (int kx = 0; kx < s->kw; kx++)
                            sum = _mm256_add_ps(sum, load8(row + kx, s->sw, gidx));
                    }
                    _mm256_storeu_ps(o + (size_t)oy * ow + ox, _mm256_div_ps(sum, div));
                }
            }
            for (; ox < ow; ox++)
                o[(size_t)oy * ow + ox] = avg_one(s, x, oy, ox);
        }
    }
}
