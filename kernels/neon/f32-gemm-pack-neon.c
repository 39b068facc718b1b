/* GEMM panel packing, aarch64 NEON (contract: ndx_f32_gemm_pack__ref).
 *
 *   dst[p*w + i] = X(i, p),  X(i, p) = kmajor ? src[p*ld + i] : src[i*ld + p]
 *   for i < rows, p < kc; 0 for rows <= i < w.
 *
 * kmajor (B not transposed: the 12-wide B panels; A transposed: 8-wide A
 * panels): each step copies a row of `rows` floats, 4 per q register, a
 * scalar tail, then zeros up to w.  The full 12- and 8-wide panels are
 * three and two q loads and stores per step.
 * Row-major along k (A not transposed, B transposed): blocks of 4 rows x 4
 * steps are loaded, transposed in registers (TRN1/TRN2 on 32- then 64-bit
 * lanes) and stored as 4 steps of 4 rows.  Steps past the last multiple
 * of 4, a group of 4 places with rows missing (an edge panel: zeros there)
 * and a group of fewer than 4 places left in w go element by element, so
 * nothing outside the source is read.  Only moves: the result is the ref's bit for
 * bit.  No alignment assumptions.
 */
#include <arm_neon.h>

#include "../kernels.h"

static void copy_steps(int rows, int kc, const float *restrict src, int ld, int w,
                       float *restrict dst)
{
    if (w == 12 && rows == 12) {   /* the common full B panel */
        for (int p = 0; p < kc; p++) {
            const float *s = src + (size_t)p * ld;
            float *d = dst + (size_t)p * 12;
            const float32x4_t v0 = vld1q_f32(s), v1 = vld1q_f32(s + 4), v2 = vld1q_f32(s + 8);
            vst1q_f32(d, v0);
            vst1q_f32(d + 4, v1);
            vst1q_f32(d + 8, v2);
        }
        return;
    }
    if (w == 8 && rows == 8) {     /* a full A panel of a transposed A */
        for (int p = 0; p < kc; p++) {
            const float *s = src + (size_t)p * ld;
            float *d = dst + (size_t)p * 8;
            const float32x4_t v0 = vld1q_f32(s), v1 = vld1q_f32(s + 4);
            vst1q_f32(d, v0);
            vst1q_f32(d + 4, v1);
        }
        return;
    }
    for (int p = 0; p < kc; p++) {
        const float *s = src + (size_t)p * ld;
        float *d = dst + (size_t)p * w;
        int i = 0;
        for (; i + 4 <= rows; i += 4) vst1q_f32(d + i, vld1q_f32(s + i));
        for (; i < rows; i++) d[i] = s[i];
        for (; i < w; i++) d[i] = 0.0f;
    }
}

/* Rows i0 .. i0+3 (all present), steps p .. p+3: transposed into the
 * places i0 .. i0+3 of steps p .. p+3.  Named registers (an array of them
 * went through the stack under GCC 12). */
static inline void block4(const float *restrict s, int ld, float *restrict d, int w)
{
    const float32x4_t r0 = vld1q_f32(s), r1 = vld1q_f32(s + ld);
    const float32x4_t r2 = vld1q_f32(s + 2 * (size_t)ld), r3 = vld1q_f32(s + 3 * (size_t)ld);
    const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1));
    const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
    const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));
    const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
    vst1q_f32(d, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
    vst1q_f32(d + w, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
    vst1q_f32(d + 2 * (size_t)w, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
    vst1q_f32(d + 3 * (size_t)w, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
}

static void transpose_rows(int rows, int kc, const float *restrict src, int ld, int w,
                           float *restrict dst)
{
    for (int i0 = 0; i0 < w; i0 += 4) {
        int p = 0;
        if (i0 + 4 <= rows)   /* a whole group of 4 rows */
            for (; p + 4 <= kc; p += 4)
                block4(src + (size_t)i0 * ld + p, ld, dst + (size_t)p * w + i0, w);
        /* the k tail, and groups with rows missing or past w: one by one */
        const int width = w - i0 < 4 ? w - i0 : 4;
        for (; p < kc; p++) {
            float *d = dst + (size_t)p * w + i0;
            for (int i = 0; i < width; i++)
                d[i] = i0 + i < rows ? src[(size_t)(i0 + i) * ld + p] : 0.0f;
        }
    }
}

void ndx_f32_gemm_pack__neon(int kmajor, int rows, int kc, const float *restrict src,
                             int ld, int w, float *restrict dst)
{
    if (kmajor)
        copy_steps(rows, kc, src, ld, w, dst);
    else
        transpose_rows(rows, kc, src, ld, w, dst);
}
