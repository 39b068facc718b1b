/* Private helpers of src/data (not installed). */
#ifndef NDX_DATA_H
#define NDX_DATA_H

#include <math.h>

#include "netdx.h"

/* Checks and normalises one manifest row (LUCENT_CENTER -> LUCENT_CENTERED,
 * "N/A" codes -> ""); where and line name it in messages. */
ndx_status ndx__manifest_check(ndx_manifest_row *r, const char *where, long line);
/* dir + "/" + rel (rel itself when absolute), allocated (free it): no
 * length limit.  NULL (and a message) when out of memory. */
char *ndx__join(const char *dir, const char *rel);

/* rel = the path of `to` relative to folder `from` (both absolute, as
 * realpath gives them): 0, or -1 when it does not fit in cap (cbis.c). */
int ndx__relpath(const char *from, const char *to, char *rel, size_t cap);

/* ---- a TCIA download's files (tcia.c) ---- */
typedef struct ndx__tcia ndx__tcia;
/* dir/metadata.csv (the NBIA Data Retriever's) read when it is there. */
ndx_status ndx__tcia_open(const char *dir, ndx__tcia **t);
/* Series listed in metadata.csv (0 without one). */
size_t ndx__tcia_series(const ndx__tcia *t);
/* The file of a CBIS CSV path p under dir, relative to dir (malloc'd), or
 * NULL when missing: p itself, CBIS-DDSM/p, or through metadata.csv. */
char *ndx__tcia_find(const ndx__tcia *t, const char *dir, const char *p);
void ndx__tcia_free(ndx__tcia *t);

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

/* ---- the phantom's lesion layers (noise.c) ---- */
/* A lesion's layer over its box: intensity added to the image, mask bytes. */
typedef struct ndx__layer {
    int x0, y0, w, h;
    float *val;
    uint8_t *mask;
} ndx__layer;
/* Max-blends a disc (radius rad px, antialiased) of value v; mask too if m. */
void ndx__stamp(ndx__layer *L, double x, double y, double rad, float v, int m);
/* A tapered line from (x, y) along angle ang, length len px, width w0 px at
 * the start tapering to w1; value v; bends by curve rad over its length. */
void ndx__line(ndx__layer *L, double x, double y, double ang, double len, double w0, double w1,
               float v, double curve, int m);

/* ---- lesion visibility (noise.c) ---- */
/* How visible a lesion is: contrast (added intensity, 0..1 of the range)
 * scaled by its size (s / (s + 5 mm)), its edge blur (1 / (1 + blur mm))
 * and the breast's dense fraction around it (1 - 0.6 dense), over 0.1.
 * Rises with contrast and size, falls with blur and density. */
double ndx__visibility(double contrast, double blur_mm, double size_mm, double dense_frac);
/* Lesions are drawn at least this visible (contrast raised to it). */
#define NDX__VIS_FLOOR 0.2
/* DDSM subtlety 1 (subtle) .. 5 (obvious) from a visibility. */
int ndx__subtlety(double visibility);
/* Test hooks (synth.c): the smallest visibility of the malignant lesions
 * planned for patients 0..n-1 of seed (*count: how many), and the pixels
 * of a distortion of size_mm drawn at pxmm outside its mask (*on: its
 * pixels with a value). */
double ndx__synth_min_malignant_visibility(uint64_t seed, int n, long *count);
long ndx__synth_distortion_outside(double size_mm, double pxmm, uint64_t seed, long *on);

/* ---- what every import shares (importutil.c) ---- */
/* note(ctx, printf(fmt, ...)) when note is not NULL. */
void ndx__say(void (*note)(void *, const char *), void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when path is a regular file. */
int ndx__is_file(const char *path);

#endif
