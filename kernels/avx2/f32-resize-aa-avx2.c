/* Antialiased resize (triangle filter), AVX2.  Math, plan and order of the
 * sums: kernels/ref/f32-resize-aa-ref.c; the same operations in the same
 * order (mul then add, no FMA), so the result equals the ref bit for bit.
 *
 * Vertical pass: 8 columns per step, the rows' weighted sum into work.
 * Horizontal pass: 8 outputs per step; tap j gathers work[x0 + j] and the
 * weight, for the lanes whose tap count exceeds j (masked gather, so no read
 * past the row, and the other lanes keep their sum unchanged).  Scalar tails;
 * no alignment assumptions. */
#include <immintrin.h>

#include "../kernels.h"

void ndx_f32_resize_aa__avx2(const ndx_resize_aa_plan *p, int channels,
                             const float *restrict in, float *restrict out,
                             float *restrict work)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    const int iw = p->iw, kx = p->kx;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i wstride = _mm256_mullo_epi32(lane, _mm256_set1_epi32(kx));
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int oy = 0; oy < p->oh; oy++) {
            const float *wy = p->wy + (size_t)oy * p->ky;
            const float *r0 = x + (size_t)p->y0[oy] * iw;
            const int ny = p->ny[oy];
            int ix = 0;
            for (; ix + 8 <= iw; ix += 8) {
                __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(r0 + ix), _mm256_set1_ps(wy[0]));
                for (int j = 1; j < ny; j++)
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(r0 + (size_t)j * iw + ix),
                                                           _mm256_set1_ps(wy[j])));
                _mm256_storeu_ps(work + ix, acc);
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
            int ox = 0;
            for (; ox + 8 <= p->ow; ox += 8) {
                const __m256i base = _mm256_loadu_si256((const __m256i *)(p->x0 + ox));
                const __m256i cnt = _mm256_loadu_si256((const __m256i *)(p->nx + ox));
                const float *wx = p->wx + (size_t)ox * kx;
                __m256 acc = _mm256_mul_ps(_mm256_i32gather_ps(work, base, 4),
                                           _mm256_i32gather_ps(wx, wstride, 4));
                for (int j = 1; j < kx; j++) {
                    const __m256i jv = _mm256_set1_epi32(j);
                    const __m256 m = _mm256_castsi256_ps(_mm256_cmpgt_epi32(cnt, jv));
                    if (_mm256_testz_ps(m, m)) break;   /* counts are >= j for none */
                    const __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), work,
                                                              _mm256_add_epi32(base, jv), m, 4);
                    const __m256 w = _mm256_i32gather_ps(wx + j, wstride, 4);
                    acc = _mm256_blendv_ps(acc, _mm256_add_ps(acc, _mm256_mul_ps(v, w)), m);
                }
                _mm256_storeu_ps(o + ox, acc);
            }
            for (; ox < p->ow; ox++) {
                const float *wx = p->wx + (size_t)ox * kx;
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
