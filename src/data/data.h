/* Private helpers of src/data (not installed). */
#ifndef NDX_DATA_H
#define NDX_DATA_H

#include <math.h>

#include "netdx.h"

/* Checks and normalises one manifest row (LUCENT_CENTER -> LUCENT_CENTERED,
 * "N/A" codes -> ""); where and line name it in messages. */
ndx_status ndx__manifest_check(ndx_manifest_row *r, const char *where, long line);
/* dir + "/" + rel into buf; 0 when it does not fit. */
int ndx__join(char *buf, size_t n, const char *dir, const char *rel);

/* ---- the phantom's noise and finish (noise.c) ---- */
/* Fast approximate standard normal: sum of four 16-bit uniforms. */
static inline float ndx__fast_normal(ndx_rng *r)
{
    uint64_t u = ndx_rng_u64(r);
    float s = (float)(u & 0xffff) + (float)((u >> 16) & 0xffff) + (float)((u >> 32) & 0xffff) +
              (float)(u >> 48);
    return (s - 2.0f * 65535.0f) * (1.0f / 37837.0f);   /* var of 4 U(0,65535) = 4 * 65536^2/12 */
}

/* Bilinear sample of a periodic gw x gh field at grid coordinates (gx, gy). */
static inline float ndx__grid_sample(const float *g, int gw, int gh, double gx, double gy)
{
    double fx0 = floor(gx), fy0 = floor(gy);
    float fx = (float)(gx - fx0), fy = (float)(gy - fy0);
    int i0 = (int)((long)fx0 & (gw - 1)), j0 = (int)((long)fy0 & (gh - 1));
    int i1 = (i0 + 1) & (gw - 1), j1 = (j0 + 1) & (gh - 1);
    return (1 - fy) * ((1 - fx) * g[j0 * gw + i0] + fx * g[j0 * gw + i1]) +
           fy * ((1 - fx) * g[j1 * gw + i0] + fx * g[j1 * gw + i1]);
}

/* The smallest power of two >= n. */
int ndx__pow2_at_least(int n);
/* The phantom's last step on img (h x w, 0 outside the breast): light blur
 * [1 2 1]/4 both ways inside the breast, quantum noise from r, quantised to
 * 16 bits into out, mirrored when mirror is 1; tmp: 2 rows of scratch. */
void ndx__finish_image(float *img, int w, int h, float *tmp, uint16_t *out, int mirror,
                       ndx_rng *r);
/* re (gh x gw) = zero-mean unit-variance noise with power spectrum 1/f^beta;
 * im another, independent (both from fast normals of r, then FFT). */
void ndx__powerlaw_noise(float *re, float *im, int gw, int gh, double beta, ndx_rng *r);

#endif
