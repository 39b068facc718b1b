/* 2-D max and average pooling, aarch64 NEON.  Semantics:
 * kernels/ref/f32-pool-ref.c.
 *
 * Output rows whose window lies inside the image, and within them the run of
 * output columns whose window lies inside the image, are computed 4 outputs
 * at a time: for each window cell in row-major order the 4 inputs are one
 * q load (stride 1), the first register of an LD2 (stride 2, while the 8
 * floats it reads lie inside the image row) or 4 lane loads (otherwise).
 * Max keeps the ref's rule per lane (v > max or v NaN; the index of the
 * winner, selected with BSL), average sums from 0 in the ref's order and
 * divides by KH*KW (a window inside the image has pool_size = KH*KW = its
 * cell count), so both equal the ref bit for bit.  Every other output
 * (borders, short rows) takes the ref's scalar path.
 * Contiguous planes, no alignment assumptions. */
#include <arm_neon.h>
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

/* Output columns [*a, *b) whose window is inside the image columns; *v:
 * the end of the vector runs (4 outputs from ox need ox + 4 <= *v), which
 * at stride 2 also keeps LD2's 8th float, x0 + 2*3 + kw, inside the row. */
static void inner_cols(const ndx_pool2d_shape *s, int ow, int *a, int *b, int *v)
{
    *a = (s->pw + s->sw - 1) / s->sw;
    *b = s->w >= s->kw ? (s->w - s->kw + s->pw) / s->sw + 1 : 0;
    if (*b > ow) *b = ow;
    if (*a > *b) *a = *b;
    *v = *b;
    if (s->sw == 2)   /* ox*2 - pw + 6 + kw <= w - 1 for the run's last ox */
        while (*v > *a && (*v - 4) * 2 - s->pw + 6 + s->kw > s->w - 1) (*v)--;
}

/* p[0], p[s], p[2s], p[3s] */
static inline float32x4_t load4(const float *p, int s)
{
    if (s == 1) return vld1q_f32(p);
    if (s == 2) return vld2q_f32(p).val[0];
    float32x4_t v = vld1q_dup_f32(p);
    v = vld1q_lane_f32(p + s, v, 1);
    v = vld1q_lane_f32(p + 2 * s, v, 2);
    return vld1q_lane_f32(p + 3 * s, v, 3);
}

/* Outputs ox .. ox+3 of the row whose windows start at image row y0, all
 * inside the image; inlined per stride (sw a constant 1, 2 or any). */
static inline __attribute__((always_inline)) void
max4_at(const ndx_pool2d_shape *s, const float *x, int y0, int ox, float *o, int32_t *am,
        int sw)
{
    const int x0 = ox * sw - s->pw;
    const int32x4_t lane = {0, 1, 2, 3};
    const int32x4_t first = vmlaq_n_s32(vdupq_n_s32(y0 * s->w + x0), lane, sw);
    float32x4_t m = vdupq_n_f32(-INFINITY);
    int32x4_t idx = first;
    for (int ky = 0; ky < s->kh; ky++) {
        const float *row = x + (size_t)(y0 + ky) * s->w + x0;
        for (int kx = 0; kx < s->kw; kx++) {
            const float32x4_t v = load4(row + kx, sw);
            const uint32x4_t win = vorrq_u32(vcgtq_f32(v, m), vmvnq_u32(vceqq_f32(v, v)));
            m = vbslq_f32(win, v, m);
            idx = vbslq_s32(win, vaddq_s32(first, vdupq_n_s32(ky * s->w + kx)), idx);
        }
    }
    vst1q_f32(o, m);
    if (am) vst1q_s32(am, idx);
}

static void max4(const ndx_pool2d_shape *s, const float *x, int y0, int ox, float *o,
                 int32_t *am)
{
    if (s->sw == 1) max4_at(s, x, y0, ox, o, am, 1);
    else if (s->sw == 2) max4_at(s, x, y0, ox, o, am, 2);
    else max4_at(s, x, y0, ox, o, am, s->sw);
}

/* The sums of outputs ox .. ox+3 (as max4_at), divided by div. */
static inline __attribute__((always_inline)) void
avg4_at(const ndx_pool2d_shape *s, const float *x, int y0, int ox, float *o,
        float32x4_t div, int sw)
{
    const float *row0 = x + (size_t)y0 * s->w + ox * sw - s->pw;
    float32x4_t sum = vdupq_n_f32(0.0f);
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++)
            sum = vaddq_f32(sum, load4(row0 + (size_t)ky * s->w + kx, sw));
    vst1q_f32(o, vdivq_f32(sum, div));
}

static void avg4(const ndx_pool2d_shape *s, const float *x, int y0, int ox, float *o,
                 float32x4_t div)
{
    if (s->sw == 1) avg4_at(s, x, y0, ox, o, div, 1);
    else if (s->sw == 2) avg4_at(s, x, y0, ox, o, div, 2);
    else avg4_at(s, x, y0, ox, o, div, s->sw);
}

void ndx_f32_maxpool2d__neon(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out,
                             int32_t *restrict argmax)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;
    int ca, cb, cv;
    inner_cols(s, ow, &ca, &cb, &cv);
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
                for (; ox + 4 <= cv; ox += 4) max4(s, x, y0, ox, o + r + ox, am ? am + r + ox : NULL);
            }
            for (; ox < ow; ox++) max_one(s, x, oy, ox, o + r + ox, am ? am + r + ox : NULL);
        }
    }
}

void ndx_f32_avgpool2d__neon(int channels, const ndx_pool2d_shape *s,
                             const float *restrict in, float *restrict out)
{
    const int oh = ndx_pool2d_out_size(s->h, s->kh, s->sh, s->ph, s->ceil_mode);
    const int ow = ndx_pool2d_out_size(s->w, s->kw, s->sw, s->pw, s->ceil_mode);
    const size_t iplane = (size_t)s->h * (size_t)s->w;
    const size_t oplane = (size_t)oh * (size_t)ow;
    int ca, cb, cv;
    inner_cols(s, ow, &ca, &cb, &cv);
    const float32x4_t div = vdupq_n_f32((float)(s->kh * s->kw));
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *o = out + (size_t)c * oplane;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * s->sh - s->ph;
            const size_t r = (size_t)oy * ow;
            int ox = 0;
            if (y0 >= 0 && y0 + s->kh <= s->h) {
                for (; ox < ca; ox++) o[r + ox] = avg_one(s, x, oy, ox);
                for (; ox + 4 <= cv; ox += 4) avg4(s, x, y0, ox, o + r + ox, div);
            }
            for (; ox < ow; ox++) o[r + ox] = avg_one(s, x, oy, ox);
        }
    }
}
