/* Bilinear resize, scalar reference: F.interpolate(mode="bilinear") with an
 * output size, rounded as PyTorch 1.13's CPU kernel for NCHW tensors does.
 *
 * in: channels planes of IH x IW, out: channels planes of OH x OW, both
 * row-major and contiguous.  Per axis (in -> out sizes), for dst < out:
 *   in == out:  i0 = i1 = dst, l1 = 0, l0 = 1          (PyTorch's copy case)
 *   ac = 1:     scale = (float)(in-1) / (float)(out-1), 0 when out == 1
 *               src = (double)scale * dst
 *   ac = 0:     scale = (float)in / (float)out
 *               src = max(0, (double)scale * (dst + 0.5) - 0.5)
 *   i0 = (int)src (src >= 0, so floor), i1 = i0 + (i0 < in-1),
 *   l1 = (float)(src - i0), l0 = 1.0f - l1.
 * The scale is a float but the source index is a double: PyTorch 1.13's
 * compute_source_index_and_lambda uses acc_type<float> = double there
 * (later releases use opmath_t = float: l1 moves by up to an ulp of src,
 * the output by that times the neighbours' difference, ~1e-6 for src ~ 10).
 * Blend, W first then H (PyTorch's order):
 *   t0 = x[h0][w0]*lw0 + x[h0][w1]*lw1,  t1 = x[h1][w0]*lw0 + x[h1][w1]*lw1
 *   out = t0*lh0 + t1*lh1.
 * Built with -ffp-contract=off.  Indices and weights are recomputed per
 * element (the kernel may not allocate); no alignment assumptions. */
#include "../kernels.h"

ndx_bilinear_tap ndx__bilinear_tap(int dst, int in, int out, int align_corners)
{
    ndx_bilinear_tap t;
    if (in == out) {
        t.i0 = t.i1 = dst;
        t.l0 = 1.0f;
        t.l1 = 0.0f;
        return t;
    }
    double src;
    if (align_corners) {
        const float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
        src = (double)scale * dst;
    } else {
        const float scale = (float)in / (float)out;
        src = (double)scale * (dst + 0.5) - 0.5;
        if (src < 0.0) src = 0.0;
    }
    t.i0 = (int)src;
    if (t.i0 > in - 1) t.i0 = in - 1;   /* defensive; PyTorch cannot get here */
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.l1 = (float)(src - t.i0);
    t.l0 = 1.0f - t.l1;
    return t;
}

void ndx_f32_bilinear__ref(int channels, int ih, int iw, int oh, int ow,
                           int align_corners, const float *restrict in,
                           float *restrict out)
{
    const size_t iplane = (size_t)ih * (size_t)iw;
    const size_t oplane = (size_t)oh * (size_t)ow;

    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int oy = 0; oy < oh; oy++) {
            const ndx_bilinear_tap th = ndx__bilinear_tap(oy, ih, oh, align_corners);
            const float *r0 = x + (size_t)th.i0 * iw;
            const float *r1 = x + (size_t)th.i1 * iw;
            for (int ox = 0; ox < ow; ox++) {
                const ndx_bilinear_tap tw = ndx__bilinear_tap(ox, iw, ow, align_corners);
                const float t0 = r0[tw.i0] * tw.l0 + r0[tw.i1] * tw.l1;
                const float t1 = r1[tw.i0] * tw.l0 + r1[tw.i1] * tw.l1;
                y[(size_t)oy * ow + ox] = t0 * th.l0 + t1 * th.l1;
            }
        }
    }
}
