/* Planned bilinear resize and the fused dissection kernels, scalar reference.
 *
 * Plan: kernels/bilinear-plan.c (the taps of kernels/ref/f32-bilinear-ref.c
 * tabulated once per size pair; its layout is written there).
 *
 * blend: channels planes of IH x IW -> OH x OW, contiguous, with exactly the
 * reference's operations and order (W first, then H):
 *   t0 = r0[x0]*lx0 + r0[x1]*lx1,  t1 = r1[x0]*lx0 + r1[x1]*lx1,
 *   out = t0*ly0 + t1*ly1           (r0 = row y0, r1 = row y1)
 * so it equals ndx_f32_bilinear__ref bit for bit (built -ffp-contract=off).
 *
 * iou: one map of IH x IW, upsampled as blend does (never stored), each
 * value v compared with the threshold (active when v > T; NaN is inactive)
 * and counted against nmasks uint8 masks of OH x OW (row-major, mask k at
 * masks + k*mask_stride, in-mask when nonzero):
 *   inter[k] += #(active and in mask k),  uni[k] += #(active or in mask k).
 *
 * select: one map of IH x IW, upsampled as blend does (never stored); every
 * value v >= lo (NaN never selected) is written in row-major order,
 *   idx[n] = oy*OW + ox,  val[n] = v,  n = 0, 1, ...
 * and n is returned.  idx and val have room for OH*OW entries; only
 * idx[0 .. n) and val[0 .. n) are written.
 * No alignment assumptions. */
#include "../kernels.h"

static float blend_at(const ndx_bilinear_plan *p, const float *x, int oy, int ox)
{
    const float *r0 = x + (size_t)p->y0[oy] * p->iw;
    const float *r1 = x + (size_t)p->y1[oy] * p->iw;
    const int a = p->x0[ox], b = p->x1[ox];
    const float t0 = r0[a] * p->lx0[ox] + r0[b] * p->lx1[ox];
    const float t1 = r1[a] * p->lx0[ox] + r1[b] * p->lx1[ox];
    return t0 * p->ly0[oy] + t1 * p->ly1[oy];
}

void ndx_f32_bilinear_blend__ref(const ndx_bilinear_plan *p, int channels,
                                 const float *restrict in, float *restrict out)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++)
                y[(size_t)oy * p->ow + ox] = blend_at(p, x, oy, ox);
    }
}

void ndx_f32_bilinear_iou__ref(const ndx_bilinear_plan *p,
                               const float *restrict map, float threshold,
                               int nmasks, const uint8_t *restrict masks,
                               size_t mask_stride, uint64_t *restrict inter,
                               uint64_t *restrict uni)
{
    for (int k = 0; k < nmasks; k++) {
        const uint8_t *m = masks + (size_t)k * mask_stride;
        uint64_t i_n = 0, u_n = 0;
        for (int oy = 0; oy < p->oh; oy++)
            for (int ox = 0; ox < p->ow; ox++) {
                const int act = blend_at(p, map, oy, ox) > threshold;
                const int in = m[(size_t)oy * p->ow + ox] != 0;
                i_n += (uint64_t)(act & in);
                u_n += (uint64_t)(act | in);
            }
        inter[k] += i_n;
        uni[k] += u_n;
    }
}

size_t ndx_f32_bilinear_select__ref(const ndx_bilinear_plan *p,
                                    const float *restrict map, float lo,
                                    int32_t *restrict idx, float *restrict val)
{
    size_t n = 0;
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
            const float v = blend_at(p, map, oy, ox);
            if (v >= lo) {
                idx[n] = oy * p->ow + ox;
                val[n] = v;
                n++;
            }
        }
    return n;
}
