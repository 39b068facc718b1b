/* im2col and col2im, aarch64 NEON (contracts and oracles:
 * ndx_f32_im2col__ref, ndx_f32_col2im__ref).
 *
 * Same output as the references, row by row of col: for every kernel tap
 * (c, i, j) and output row oy, the valid output columns form one range
 * [x0, x1) computed up front (no per-element bounds tests); im2col
 * zero-fills the rest of the row.  The range is copied 4 floats per q
 * register at stride 1 (a loop GCC turns into a call of memcpy, and the
 * zero fills into memset: glibc's aarch64 versions), with LD2 / LD3 (structure loads that de-interleave:
 * the first register holds every second / third float) at strides 2 and 3,
 * element by element at other strides.  A structure load reads 8 or 12
 * floats for 4 kept; it runs only while all of them lie at or before the
 * range's last input float, so nothing outside the image is read.
 * col2im adds in the reference's order (tap, then oy, then ox; a pixel gets
 * at most one term per output row), so its sums are the ref's bit for bit;
 * stride 1 adds 4 at a time, stride 2 loads pairs with LD2, adds to the
 * even lanes and stores the pairs back with ST2 (the odd floats rewritten
 * unchanged, all inside the image).  No alignment assumptions.
 */
#include <arm_neon.h>
#include <string.h>

#include "../kernels.h"

/* first ox with 0 <= ox*s - p + off, and one past the last with
 * ox*s - p + off < n, clamped to [0, out]. */
static void valid_range(int out, int s, int p, int off, int n, int *lo, int *hi)
{
    const int a = p - off;           /* need ox*s >= a */
    int l = a <= 0 ? 0 : (a + s - 1) / s;
    const int b = n + p - off;       /* need ox*s < b */
    int h = b <= 0 ? 0 : (b + s - 1) / s;
    if (l > out) l = out;
    if (h > out) h = out;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* d[i] = row[i*s] for i < n (row[(n-1)*s] is the last float read). */
static void gather_row(float *restrict d, const float *restrict row, int n, int s)
{
    int i = 0;
    if (s == 1) {
        for (; i + 4 <= n; i += 4) vst1q_f32(d + i, vld1q_f32(row + i));
    } else if (s == 2) {   /* reads row[2i .. 2i+7]: 2i+7 <= 2(n-1) */
        for (; i + 4 < n; i += 4) vst1q_f32(d + i, vld2q_f32(row + 2 * i).val[0]);
    } else if (s == 3) {   /* reads row[3i .. 3i+11]: 3i+11 <= 3(n-1) */
        for (; i + 4 < n; i += 4) vst1q_f32(d + i, vld3q_f32(row + 3 * i).val[0]);
    }
    for (; i < n; i++) d[i] = row[(size_t)i * s];
}

void ndx_f32_im2col__neon(const ndx_conv2d_shape *s, const float *restrict im,
                          float *restrict col)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    const size_t plane = (size_t)s->h * s->w, ocols = (size_t)oh * ow;
    const float32x4_t zero = vdupq_n_f32(0.0f);
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
                        int ox = 0;
                        for (; ox + 4 <= ow; ox += 4) vst1q_f32(d + ox, zero);
                        for (; ox < ow; ox++) d[ox] = 0.0f;
                        continue;
                    }
                    /* input index of output column ox: base + ox*sw, >= 0 from x0 on */
                    const long base = (long)y * s->w - s->pw + (long)j * s->dw;
                    for (int ox = 0; ox < x0; ox++) d[ox] = 0.0f;
                    if (x1 > x0)
                        gather_row(d + x0, src + base + (long)x0 * s->sw, x1 - x0, s->sw);
                    for (int ox = x1; ox < ow; ox++) d[ox] = 0.0f;
                }
            }
    }
}

/* d[i*s] += v[i] for i < n, at strides 1 and 2 vectorised. */
static void add_row(float *restrict d, const float *restrict v, int n, int s)
{
    int i = 0;
    if (s == 1) {
        for (; i + 4 <= n; i += 4) vst1q_f32(d + i, vaddq_f32(vld1q_f32(d + i), vld1q_f32(v + i)));
    } else if (s == 2) {   /* touches d[2i .. 2i+7]: 2i+7 <= 2(n-1) */
        for (; i + 4 < n; i += 4) {
            float32x4x2_t p = vld2q_f32(d + 2 * i);
            p.val[0] = vaddq_f32(p.val[0], vld1q_f32(v + i));
            vst2q_f32(d + 2 * i, p);
        }
    }
    for (; i < n; i++) d[(size_t)i * s] += v[i];
}

void ndx_f32_col2im__neon(const ndx_conv2d_shape *s, const float *restrict col,
                          float *restrict im)
{
    const int oh = ndx_conv2d_shape_out_h(s), ow = ndx_conv2d_shape_out_w(s);
    const size_t plane = (size_t)s->h * s->w, ocols = (size_t)oh * ow;
    if (s->c > 0 && plane > 0) memset(im, 0, sizeof(float) * plane * s->c);
    for (int c = 0; c < s->c; c++) {
        float *dst = im + (size_t)c * plane;
        for (int i = 0; i < s->kh; i++)
            for (int j = 0; j < s->kw; j++) {
                const float *src = col + (((size_t)c * s->kh + i) * s->kw + j) * ocols;
                int x0, x1;
                valid_range(ow, s->sw, s->pw, j * s->dw, s->w, &x0, &x1);
                if (x1 <= x0) continue;
                for (int oy = 0; oy < oh; oy++) {
                    const int y = oy * s->sh - s->ph + i * s->dh;
                    if (y < 0 || y >= s->h) continue;
                    const long base = (long)y * s->w - s->pw + (long)j * s->dw;
                    add_row(dst + base + (long)x0 * s->sw, src + (size_t)oy * ow + x0, x1 - x0,
                            s->sw);
                }
            }
    }
}
