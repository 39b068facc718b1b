/* 2-D max and average pooling, AVX-512F.  Semantics:
 * kernels/ref/f32-pool-ref.c.
 *
 * The AVX2 kernel's scheme at 16 lanes: output rows whose window lies
 * inside the image, and within them the run of output columns whose window
 * lies inside the image, are computed 16 outputs at a time (the last group
 * of the run under a lane mask, so no scalar tail): for each window cell in
 * row-major order the 16 inputs are one load (stride 1), the even floats of
 * two loads (stride 2, a permute) or one gather (lane * SW).  Max keeps the ref's rule per lane (v > max or v NaN; index of the
 * winner) with compare masks; average sums from 0 in the ref's order and
 * divides by KH*KW (a window inside the image has pool_size = KH*KW), so
 * both equal the ref bit for bit.  For max pooling, borders and rows whose
 * window leaves the image take the ref's scalar path; average pooling runs
 * every output 16 at a time, borders included (avg16), stride-1 rows
 * through zero-padded copies (avg_plane_s1).  Masked lanes are
 * neither read nor written.  Contiguous planes, no alignment assumptions. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

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

/* p[i * sw] for the lanes i of k (the first n lanes), zero elsewhere.
 * Stride 2: two loads of the 2n - 1 floats spanned and the even ones
 * picked by a permute (a gather of 16 cost ~3x as much); other strides
 * gather. */
static inline __m512 load16(const float *p, int sw, __m512i gidx, __mmask16 k)
{
    if (sw == 1) return _mm512_maskz_loadu_ps(k, p);
    if (sw == 2) {
        const int n = __builtin_popcount(k), span = 2 * n - 1;
        const __m512 lo = _mm512_maskz_loadu_ps(lanes(span), p);
        const __m512 hi = span > 16 ? _mm512_maskz_loadu_ps(lanes(span - 16), p + 16)
                                    : _mm512_setzero_ps();
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
        return _mm512_maskz_permutex2var_ps(k, lo, even, hi);
    }
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, gidx, p, 4);
}

/* Max of the 16 (or, under k, fewer) windows starting at output column ox
 * of row oy, all inside the image; the winners' indices into am when
 * with_idx (a constant at each call: inference asks for none, and skips
 * their bookkeeping). */
static inline __attribute__((always_inline)) void
max16(int with_idx, const ndx_pool2d_shape *s, const float *x, int y0, int ox, __m512i gidx,
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
            if (with_idx)
                idx = _mm512_mask_mov_epi32(
                    idx, win, _mm512_add_epi32(first, _mm512_set1_epi32(ky * s->w + kx)));
        }
    }
    _mm512_mask_storeu_ps(o, k, m);
    if (with_idx) _mm512_mask_storeu_epi32(am, k, idx);
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
                for (; ox < cb; ox += 16) {
                    if (am) max16(1, s, x, y0, ox, gidx, lanes(cb - ox), o + r + ox, am + r + ox);
                    else max16(0, s, x, y0, ox, gidx, lanes(cb - ox), o + r + ox, NULL);
                }
                ox = cb;
            }
            for (; ox < ow; ox++) max_one(s, x, oy, ox, o + r + ox, am ? am + r + ox : NULL);
        }
    }
}

/* Average of the 16 (or, under k, fewer) windows of output row oy starting
 * at output column ox, wherever they lie: cells outside the image add
 * zero (a masked load: expand-loaded when the row's first lanes fall left
 * of the image, so that no address outside the plane is formed), rows
 * outside it are skipped.  Zeros added to a sum that starts at +0 leave
 * it as the ref's sum over the image's cells in the same order, bit for
 * bit; each lane's divisor is the ref's (pool_size or the image cells),
 * and a window with no image cell gives 0 as in the ref. */
/* The windows of the 16 output columns from ox: their first input
 * columns (the return), their ends in the padded row (*xp) and how many
 * image columns each holds (*cols, 0 or more). */
static __m512i win_cols(const ndx_pool2d_shape *s, int ox, __m512i *xp, __m512i *cols)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i xs = _mm512_sub_epi32(
        _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(ox)), _mm512_set1_epi32(s->sw)),
        _mm512_set1_epi32(s->pw));
    *xp = _mm512_min_epi32(_mm512_add_epi32(xs, _mm512_set1_epi32(s->kw)),
                           _mm512_set1_epi32(s->w + s->pw));
    *cols = _mm512_max_epi32(_mm512_sub_epi32(_mm512_min_epi32(*xp, _mm512_set1_epi32(s->w)),
                                              _mm512_max_epi32(xs, _mm512_setzero_si512())),
                             _mm512_setzero_si512());
    return xs;
}

/* Output row oy's windows down the plane: from ys to yp in the padded
 * plane, the image's rows y0 .. y1 - 1. */
static void win_rows(const ndx_pool2d_shape *s, int oy, int *ys, int *yp, int *y0, int *y1)
{
    *ys = oy * s->sh - s->ph, *yp = imin(*ys + s->kh, s->h + s->ph);
    *y0 = imax(*ys, 0), *y1 = imin(*yp, s->h);
}

static void avg16(const ndx_pool2d_shape *s, const float *x, int oy, int ox, __mmask16 k,
                  float *o)
{
    int ys, yp, y0, y1;
    win_rows(s, oy, &ys, &yp, &y0, &y1);
    __m512i xp, cols;
    const __m512i xs = win_cols(s, ox, &xp, &cols);
    const int rows = y1 > y0 ? y1 - y0 : 0;
    const __m512i cnt = s->count_include_pad
                            ? _mm512_mullo_epi32(_mm512_sub_epi32(xp, xs), _mm512_set1_epi32(yp - ys))
                            : _mm512_mullo_epi32(cols, _mm512_set1_epi32(rows));
    const __mmask16 some = rows ? _mm512_cmpgt_epi32_mask(cols, _mm512_setzero_si512()) & k : 0;
    __m512 sum = _mm512_setzero_ps();
    for (int y = y0; y < y1; y++) {
        const float *row = x + (size_t)y * s->w;
        for (int kx = 0; kx < s->kw; kx++) {
            const __m512i col = _mm512_add_epi32(xs, _mm512_set1_epi32(kx));
            const __mmask16 in = k & _mm512_cmpge_epi32_mask(col, _mm512_setzero_si512()) &
                                 _mm512_cmplt_epi32_mask(col, _mm512_set1_epi32(s->w));
            __m512 v;
            if (s->sw != 1)
                v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, col, row, 4);
            else if (ox - s->pw + kx >= 0)
                v = _mm512_maskz_loadu_ps(in, row + ox - s->pw + kx);
            else if (in)   /* lanes left of the image: the rest start at column 0 */
                v = _mm512_maskz_expandloadu_ps(in, row);
            else
                v = _mm512_setzero_ps();
            sum = _mm512_add_ps(sum, v);
        }
    }
    const __m512 r = _mm512_maskz_div_ps(some, sum, _mm512_cvtepi32_ps(cnt));
    _mm512_mask_storeu_ps(o, k, r);
}

#define PB_W 1024   /* a padded input row: PB_L zeros, the row, zeros */
#define PB_L 16
#define PB_KH 8

/* Stride-1 rows (Inception's 3x3 average pools): each input row a
 * window needs is copied between zeros (pb), so that every 16 outputs are
 * KH*KW plain loads and adds, whatever the border; the divisors and the
 * lanes with an image cell are set up once per call, for every plane.
 * The sums are avg16's (zeros added in the ref's order), so the ref's bit
 * for bit.  Used when the shape fits the buffers (s1_fits). */
typedef struct s1_setup {
    float pb[PB_KH][PB_W];
    __m512 poolw[PB_W / 16], cols[PB_W / 16];
    __mmask16 any[PB_W / 16];
    int groups;
} s1_setup;

static int s1_fits(const ndx_pool2d_shape *s)
{
    return s->sw == 1 && s->kh <= PB_KH && s->pw <= PB_L &&
           s->w + PB_L + s->pw + s->kw + 17 <= PB_W;
}

static void s1_prepare(const ndx_pool2d_shape *s, int ow, s1_setup *u)
{
    u->groups = (ow + 15) / 16;
    for (int g = 0; g < u->groups; g++) {
        __m512i xp, c;
        const __m512i xs = win_cols(s, 16 * g, &xp, &c);
        u->poolw[g] = _mm512_cvtepi32_ps(_mm512_sub_epi32(xp, xs));
        u->cols[g] = _mm512_cvtepi32_ps(c);
        u->any[g] = _mm512_cmpgt_epi32_mask(c, _mm512_setzero_si512()) & lanes(ow - 16 * g);
    }
    for (int r = 0; r < s->kh; r++) {   /* the zeros around every row, once */
        memset(u->pb[r], 0, sizeof(float) * PB_L);
        memset(u->pb[r] + PB_L + s->w, 0, sizeof(float) * (size_t)(s->pw + s->kw + 17));
    }
}

static void avg_plane_s1(const ndx_pool2d_shape *s, s1_setup *u, const float *x, float *o,
                         int oh, int ow)
{
    for (int oy = 0; oy < oh; oy++) {
        int ys, yp, y0, y1;
        win_rows(s, oy, &ys, &yp, &y0, &y1);
        const int rows = y1 > y0 ? y1 - y0 : 0;
        for (int y = y0; y < y1; y++)
            memcpy(u->pb[y - y0] + PB_L, x + (size_t)y * s->w, sizeof(float) * (size_t)s->w);
        const __m512 rf = _mm512_set1_ps((float)(s->count_include_pad ? yp - ys : rows));
        for (int g = 0; g < u->groups; g++) {
            __m512 sum = _mm512_setzero_ps();
            for (int r = 0; r < rows; r++) {
                const float *p = u->pb[r] + PB_L + 16 * g - s->pw;
                for (int kx = 0; kx < s->kw; kx++) sum = _mm512_add_ps(sum, _mm512_loadu_ps(p + kx));
            }
            const __m512 cnt = _mm512_mul_ps(s->count_include_pad ? u->poolw[g] : u->cols[g], rf);
            const __mmask16 some = rows ? u->any[g] : 0;
            _mm512_mask_storeu_ps(o + (size_t)oy * ow + 16 * g, lanes(ow - 16 * g),
                                  _mm512_maskz_div_ps(some, sum, cnt));
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
    if (oh <= 0 || ow <= 0) return;
    s1_setup u;   /* 40 KB of stack, once a call */
    const int s1 = s1_fits(s);
    if (s1) s1_prepare(s, ow, &u);
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *o = out + (size_t)c * oplane;
        if (s1) {
            avg_plane_s1(s, &u, x, o, oh, ow);
            continue;
        }
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox += 16)
                avg16(s, x, oy, ox, lanes(ow - ox), o + (size_t)oy * ow + ox);
    }
}
