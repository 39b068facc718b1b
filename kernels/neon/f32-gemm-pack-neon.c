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
 * lanes) and stored as 4 steps of 4 rows; rows past `rows` are zero
 * registers, never loaded, so nothing outside the source is read.  Steps
 * past the last multiple of 4, and a group of fewer than 4 places left in
 * w, go element by element.  Only moves: the result is the ref's bit for
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

/* 4 rows x 4 steps -> 4 steps x 4 rows. */
static inline void transpose4(float32x4_t r[4])
{
    const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    const float64x2_t u0 = vreinterpretq_f64_f32(t0), u1 = vreinterpretq_f64_f32(t1);
    const float64x2_t u2 = vreinterpretq_f64_f32(t2), u3 = vreinterpretq_f64_f32(t3);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(u0, u2));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(u1, u3));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(u0, u2));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(u1, u3));
}

static void transpose_rows(int rows, int kc, const float *restrict src, int ld, int w,
                           float *restrict dst)
{
    int i0 = 0;
    for (; i0 + 4 <= w; i0 += 4) {
        const int nrow = rows - i0 > 4 ? 4 : rows - i0 > 0 ? rows - i0 : 0;
        int p = 0;
        for (; p + 4 <= kc; p += 4) {
            float32x4_t r[4];
            for (int i = 0; i < 4; i++)
                r[i] = i < nrow ? vld1q_f32(src + (size_t)(i0 + i) * ld + p)
                                : vdupq_n_f32(0.0f);
            transpose4(r);
            for (int q = 0; q < 4; q++) vst1q_f32(dst + (size_t)(p + q) * w + i0, r[q]);
        }
        for (; p < kc; p++) {
            float *d = dst + (size_t)p * w + i0;
            for (int i = 0; i < 4; i++) d[i] = i < nrow ? src[(size_t)(i0 + i) * ld + p] : 0.0f;
        }
    }
    for (; i0 < w; i0++)   /* w not a multiple of 4: the last places one by one */
        for (int p = 0; p < kc; p++)
            dst[(size_t)p * w + i0] = i0 < rows ? src[(size_t)i0 * ld + p] : 0.0f;
}

void ndx_f32_gemm_pack__neon(int kmajor, int rows, int kc, const float *restrict src,
                             int ld, int w, float *restrict dst)
{
    if (kmajor)
        copy_steps(rows, kc, src, ld, w, dst);
    else
        transpose_rows(rows, kc, src, ld, w, dst);
}
