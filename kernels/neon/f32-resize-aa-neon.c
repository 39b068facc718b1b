/* Antialiased resize (triangle filter), aarch64 NEON.  Math, plan and order
 * of the sums: kernels/ref/f32-resize-aa-ref.c; same operations, same order
 * (no FMA), so the result equals the ref bit for bit.  The vertical pass runs
 * 4 columns per step; the horizontal pass (gathers, which NEON lacks) is
 * scalar.  No alignment assumptions. */
#include <arm_neon.h>

#include "../kernels.h"

void ndx_f32_resize_aa__neon(const ndx_resize_aa_plan *p, int channels,
                             const float *restrict in, float *restrict out,
                             float *restrict work)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    const int iw = p->iw;
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int oy = 0; oy < p->oh; oy++) {
            const float *wy = p->wy + (size_t)oy * p->ky;
            const float *r0 = x + (size_t)p->y0[oy] * iw;
            const int ny = p->ny[oy];
            int ix = 0;
            for (; ix + 4 <= iw; ix += 4) {
                float32x4_t acc = vmulq_n_f32(vld1q_f32(r0 + ix), wy[0]);
                for (int j = 1; j < ny; j++)
                    acc = vaddq_f32(acc, vmulq_n_f32(vld1q_f32(r0 + (size_t)j * iw + ix), wy[j]));
                vst1q_f32(work + ix, acc);
            }
            for (; ix < iw; ix++) {
                float acc = r0[ix] * wy[0];
                for (int j = 1; j < ny; j++) {
                    const float t = r0[(size_t)j * iw + ix] * wy[j];
                    acc += t;
                }
                work[ix] = acc;
            }
            float *o = y + (size_t)oy * p->ow;
            for (int ox = 0; ox < p->ow; ox++) {
                const float *wx = p->wx + (size_t)ox * p->kx;
                const float *s = work + p->x0[ox];
                float acc = s[0] * wx[0];
                for (int j = 1; j < p->nx[ox]; j++) {
                    const float t = s[j] * wx[j];
                    acc += t;
                }
                o[ox] = acc;
            }
        }
    }
}
