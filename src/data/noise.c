/* Noise for the phantom generator (synth.c): a radix-2 FFT, fields whose
 * power spectrum falls as 1/f^beta, the image's last step (blur, quantum
 * noise, quantisation), the lesion layers' primitives and the visibility
 * rule. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "data.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* In-place radix-2 complex FFT of length n (a power of two), stride s. */
static void fft(float *re, float *im, int n, int s)
{
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            float t = re[i * s]; re[i * s] = re[j * s]; re[j * s] = t;
            t = im[i * s]; im[i * s] = im[j * s]; im[j * s] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        double ang = 2 * M_PI / len;
        float wr = (float)cos(ang), wi = (float)sin(ang);
        for (int i = 0; i < n; i += len) {
            float cr = 1, ci = 0;
            for (int k = 0; k < len / 2; k++) {
                int a = (i + k) * s, b = (i + k + len / 2) * s;
                float xr = re[b] * cr - im[b] * ci, xi = re[b] * ci + im[b] * cr;
                re[b] = re[a] - xr; im[b] = im[a] - xi;
                re[a] += xr; im[a] += xi;
                float t = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = t;
            }
        }
    }
}

/* re (gh x gw) = zero-mean unit-variance noise with power spectrum 1/f^beta. */
void ndx__powerlaw_noise(float *re, float *im, int gw, int gh, double beta, ndx_rng *r)
{
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            double fx = (x <= gw / 2 ? x : x - gw) / (double)gw;
            double fy = (y <= gh / 2 ? y : y - gh) / (double)gh;
            double f = sqrt(fx * fx + fy * fy);
            double amp = f > 0 ? pow(f, -beta / 2) : 0;
            re[y * gw + x] = (float)(amp * ndx__fast_normal(r));
            im[y * gw + x] = (float)(amp * ndx__fast_normal(r));
        }
    for (int y = 0; y < gh; y++) fft(re + y * gw, im + y * gw, gw, 1);
    for (int x = 0; x < gw; x++) fft(re + x, im + x, gh, gw);
    /* real and imaginary parts are two independent fields: normalise both */
    size_t n = (size_t)gw * gh;
    for (int part = 0; part < 2; part++) {
        float *v = part ? im : re;
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) s += v[i], s2 += (double)v[i] * v[i];
        double mean = s / n, sd = sqrt(fmax(s2 / n - mean * mean, 1e-20));
        for (size_t i = 0; i < n; i++) v[i] = (float)((v[i] - mean) / sd);
    }
}

int ndx__pow2_at_least(int n)
{
    int p = 1;
    while (p < n) p <<= 1;
    return p;
}

void ndx__finish_image(float *img, int w, int h, float *tmp, uint16_t *out, int mirror,
                       ndx_rng *r)
{
    for (int y = 0; y < h; y++) {
        float *row = img + (size_t)y * w, prev = row[0];
        for (int x = 1; x + 1 < w; x++) {
            float cur = row[x];
            if (cur > 0 && prev > 0 && row[x + 1] > 0) row[x] = 0.25f * (prev + row[x + 1]) + 0.5f * cur;
            prev = cur;
        }
    }
    /* vertical pass from the unblurred previous row, kept in tmp */
    float *prev = tmp, *cur = tmp + w;
    memcpy(prev, img, sizeof *prev * w);
    for (int y = 1; y + 1 < h; y++) {
        float *row = img + (size_t)y * w, *dn = row + w;
        memcpy(cur, row, sizeof *cur * w);
        for (int x = 0; x < w; x++)
            if (cur[x] > 0 && prev[x] > 0 && dn[x] > 0) row[x] = 0.5f * cur[x] + 0.25f * (prev[x] + dn[x]);
        float *t = prev;
        prev = cur;
        cur = t;
    }
    for (int y = 0; y < h; y++) {
        const float *row = img + (size_t)y * w;
        uint16_t *o = out + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float v = row[x];
            if (v > 0) v += (0.006f + 0.012f * sqrtf(v)) * ndx__fast_normal(r);
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            o[mirror ? w - 1 - x : x] = (uint16_t)(v * 65535.0f + 0.5f);
        }
    }
}

/* Max-blends a disc (radius rad px, antialiased) of value v; mask too if m. */
void ndx__stamp(ndx__layer *L, double x, double y, double rad, float v, int m)
{
    if (rad < 0.6) rad = 0.6;
    int xa = (int)floor(x - rad - 1) - L->x0, xb = (int)ceil(x + rad + 1) - L->x0;
    int ya = (int)floor(y - rad - 1) - L->y0, yb = (int)ceil(y + rad + 1) - L->y0;
    if (xa < 0) xa = 0;
    if (ya < 0) ya = 0;
    if (xb > L->w) xb = L->w;
    if (yb > L->h) yb = L->h;
    for (int j = ya; j < yb; j++)
        for (int i = xa; i < xb; i++) {
            double dx = i + L->x0 + 0.5 - x, dy = j + L->y0 + 0.5 - y;
            double d = sqrt(dx * dx + dy * dy), cov = rad + 0.5 - d;
            if (cov <= 0) continue;
            if (cov > 1) cov = 1;
            size_t k = (size_t)j * L->w + i;
            if (v > 0 && (float)(v * cov) > L->val[k]) L->val[k] = (float)(v * cov);
            if (m && cov >= 0.5) L->mask[k] = 255;
        }
}

/* A tapered line from (x, y) along angle ang, length len px, width w0 px at
 * the start tapering to w1; value v; bends by curve rad over its length. */
void ndx__line(ndx__layer *L, double x, double y, double ang, double len, double w0, double w1,
                 float v, double curve, int m)
{
    int steps = (int)ceil(len / 0.5) + 1;
    for (int s = 0; s <= steps; s++) {
        double t = (double)s / steps;
        double a = ang + curve * t;
        ndx__stamp(L, x, y, 0.5 * (w0 + (w1 - w0) * t), (float)(v * (1 - 0.4 * t)), m);
        x += cos(a) * len / steps;
        y += sin(a) * len / steps;
    }
}

double ndx__visibility(double contrast, double blur_mm, double size_mm, double dense_frac)
{
    double size = size_mm / (size_mm + 5), blur = 1 / (1 + blur_mm), dense = 1 - 0.6 * dense_frac;
    return contrast * size * blur * dense / 0.1;
}

int ndx__subtlety(double v)
{
    return v < 0.3 ? 1 : v < 0.45 ? 2 : v < 0.65 ? 3 : v < 0.95 ? 4 : 5;
}
