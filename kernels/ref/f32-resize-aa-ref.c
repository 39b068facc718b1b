/* Antialiased resize (triangle filter), scalar reference: the semantics of
 * PyTorch's F.interpolate(mode="bilinear", antialias=True,
 * align_corners=False), the filter PIL uses, for downscaling an image patch
 * to the network input (e.g. 400x400 -> 227x227) without aliasing.
 *
 * Plan (built by kernels/resize-aa-plan.c for every kernel set), per axis
 * (in -> out), computed once into a caller buffer of
 * ndx_resize_aa_plan_size() bytes (4-byte aligned), in float as PyTorch:
 *   scale = (float)in / (float)out
 *   support = scale >= 1 ? scale : 1,  inv = scale >= 1 ? 1/scale : 1
 *   center = scale * (i + 0.5)
 *   first = max((int)(center - support + 0.5), 0)
 *   n = min((int)(center + support + 0.5), in) - first
 *   w[j] = tri((first + j - center + 0.5) * inv), tri(x) = max(0, 1 - |x|),
 *   normalised by their sum (when nonzero); weights past n are 0.
 * Taps per output: at most k (ky, kx in the plan), found when sizing.
 *
 * Kernel: channels planes of IH x IW -> OH x OW, contiguous.  Vertical pass
 * first (PyTorch does the horizontal one first: results differ by float
 * rounding, ~1e-7 relative), into work (IW floats, caller-provided):
 *   row[x] = in[first_y][x]*wy[0] + in[first_y+1][x]*wy[1] + ...  (in order)
 * then out[ox] = row[first_x]*wx[0] + row[first_x+1]*wx[1] + ...  (in order),
 * each sum starting from its first product, over the n taps only.
 * Built with -ffp-contract=off; no alignment assumptions. */
#include "../kernels.h"

void ndx_f32_resize_aa__ref(const ndx_resize_aa_plan *p, int channels,
                            const float *restrict in, float *restrict out,
                            float *restrict work)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int oy = 0; oy < p->oh; oy++) {
            const float *wy = p->wy + (size_t)oy * p->ky;
            const float *r = x + (size_t)p->y0[oy] * p->iw;
            for (int ix = 0; ix < p->iw; ix++) work[ix] = r[ix] * wy[0];
            for (int j = 1; j < p->ny[oy]; j++) {
                r += p->iw;
                for (int ix = 0; ix < p->iw; ix++) work[ix] += r[ix] * wy[j];
            }
            for (int ox = 0; ox < p->ow; ox++) {
                const float *wx = p->wx + (size_t)ox * p->kx;
                const float *s = work + p->x0[ox];
                float acc = s[0] * wx[0];
                for (int j = 1; j < p->nx[ox]; j++) acc += s[j] * wx[j];
                y[(size_t)oy * p->ow + ox] = acc;
            }
        }
    }
}
