/* Winograd F(2x2, 3x3) forward convolution (Lavin & Gray, 2016) for 3x3
 * kernels with stride 1, dilation 1 and one group.  Each 2x2 output tile is
 *
 *   Y = A^T [ (G g G^T) . (B^T d B) ] A        (. elementwise, 4x4)
 *
 *   B^T = | 1  0 -1  0 |   G = | 1    0    0  |   A^T = | 1  1  1  0 |
 *         | 0  1  1  0 |       | 1/2  1/2  1/2|         | 0  1 -1 -1 |
 *         | 0 -1  1  0 |       | 1/2 -1/2  1/2|
 *         | 0  1  0 -1 |       | 0    0    1  |
 *
 * with g a 3x3 filter and d the 4x4 input patch at (2*ty - PH, 2*tx - PW),
 * zero outside the image.  Summing over input channels happens in the
 * transformed domain, so one layer becomes 16 independent GEMMs:
 *
 *   U[xi][k][c] = (G w[k][c] G^T)[xi]             (16, K, C)  per call
 *   V[xi][c][t] = (B^T d[c][t] B)[xi]             (16, C, T)  input tiles
 *   M[xi][k][t] = sum_c U[xi][k][c] V[xi][c][t]   16 GEMMs K x T x C
 *   y[k][tile t] = A^T M[.][k][t] A + bias[k], then ReLU if asked
 *
 * 16 multiplies per 2x2 outputs instead of 36: 2.25x fewer GEMM flops.
 * Tiles t are numbered over the batch (image, tile row, tile column); an
 * odd OH or OW leaves partial tiles on the last row or column, whose extra
 * outputs are computed from zero padding and not stored.  The tiles are
 * processed in chunks of at most Tc, sized so that V and M of a chunk stay
 * near 16 MB.  ws: U (16*K*C floats), then V (16*C*Tc), then M (16*K*Tc),
 * then K*C of scratch for packing U.
 *
 * Threads: the transforms run over channels in parallel (each output
 * element written by one thread, same arithmetic whatever the split); the
 * 16 GEMMs run side by side, one thread each (ndx__sgemm_many_prepacked),
 * so results do not depend on the thread count.  Each U[xi] is kept in the
 * GEMM's prepacked panel layout (ndx__sgemm_prepack), so that a forward
 * streams it in order and packs nothing of it: at 14x14 and batch 1 (49
 * tiles), packing U[xi] on every call with register transposes and C
 * stored transposed made ResNet-152's 3x3 layers 146 GFLOP/s as counted
 * directly, less than ONNX Runtime's direct convolution (181).  The transforms are plain C, built
 * without contraction (ISO C mode), that the compiler vectorizes.
 */
#include <string.h>

#include "core.h"

/* Tiles of one row segment a transform handles at once (stack buffers). */
#define SEG 64
/* V and M of one chunk: about 16 MB, as the im2col chunks of conv.c. */
#define WINO_CHUNK_FLOATS ((size_t)4 << 20)

int ndx__winograd_fits(const ndx_conv2d_desc *d)
{
    return d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1 && d->dh == 1 &&
           d->dw == 1 && d->groups == 1;
}

/* The auto rule, from bench/bench_conv.c (one thread, im2col and Winograd
 * interleaved): Winograd wins once both channel counts reach 32 and the
 * batch has at least 40 output tiles (2x2 outputs each).  The weights are
 * transformed on every call (16 K C floats written and read again), which
 * few tiles do not repay: ResNet's 7x7 layers (16 tiles per image) lose at
 * batch 1 (0.89x) and win at batch 8 (1.5x); 14x14 (49 tiles) wins at
 * batch 1. */
int ndx__winograd_wins(const ndx_conv2d_desc *d)
{
    if (!ndx__winograd_fits(d) || d->c < 32 || d->k < 32) return 0;
    const double tiles = (double)d->n * ((ndx_conv2d_out_h(d) + 1) / 2) *
                         ((ndx_conv2d_out_w(d) + 1) / 2);
    return tiles >= 40;
}

typedef struct {
    int oh, ow, th, tw;   /* output size; tile rows and columns per image */
    size_t per_image;     /* th * tw */
    size_t total;         /* tiles of the batch */
    size_t tc;            /* tiles per chunk */
} tiling;

static tiling plan(const ndx_conv2d_desc *d)
{
    tiling p;
    p.oh = ndx_conv2d_out_h(d);
    p.ow = ndx_conv2d_out_w(d);
    p.th = (p.oh + 1) / 2;
    p.tw = (p.ow + 1) / 2;
    p.per_image = (size_t)p.th * p.tw;
    p.total = p.per_image * (size_t)d->n;
    size_t max = WINO_CHUNK_FLOATS / (16 * ((size_t)d->c + d->k));
    if (max < 64) max = 64;
    const size_t chunks = (p.total + max - 1) / max;
    p.tc = (p.total + chunks - 1) / chunks;   /* balanced, no short last chunk */
    return p;
}

size_t ndx__winograd_workspace(const ndx_conv2d_desc *d)
{
    const tiling p = plan(d);
    return 17 * (size_t)d->k * d->c + 16 * ((size_t)d->c + d->k) * p.tc;
}

/* U (16, K, C) = G w G^T for every filter of w (K, C, 3, 3), SEG input
 * channels at a time: their taps are gathered into g[tap][c] so that the
 * transform runs along c and each U row is written contiguously. */
static void weight_transform(int K, int C, const float *w, float *u)
{
    const size_t step = (size_t)K * C;
    const int nt = ndx_get_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1 && K > 1) schedule(static)
    for (int k = 0; k < K; k++)
        for (int c0 = 0; c0 < C; c0 += SEG) {
            const int cn = C - c0 < SEG ? C - c0 : SEG;
            const float *wk = w + ((size_t)k * C + c0) * 9;
            float g[9][SEG], gg[4][3][SEG];   /* gg = G g */
            for (int c = 0; c < cn; c++)
                for (int j = 0; j < 9; j++) g[j][c] = wk[(size_t)c * 9 + j];
            for (int j = 0; j < 3; j++)
                for (int c = 0; c < cn; c++) {
                    gg[0][j][c] = g[j][c];
                    gg[1][j][c] = 0.5f * (g[j][c] + g[3 + j][c] + g[6 + j][c]);
                    gg[2][j][c] = 0.5f * (g[j][c] - g[3 + j][c] + g[6 + j][c]);
                    gg[3][j][c] = g[6 + j][c];
                }
            float *o = u + (size_t)k * C + c0;
            for (int r = 0; r < 4; r++) {   /* (G g) G^T */
                float *o0 = o + (size_t)(4 * r) * step, *o1 = o0 + step;
                float *o2 = o1 + step, *o3 = o2 + step;
                const float *a = gg[r][0], *b = gg[r][1], *e = gg[r][2];
                for (int c = 0; c < cn; c++) {
                    o0[c] = a[c];
                    o1[c] = 0.5f * (a[c] + b[c] + e[c]);
                    o2[c] = 0.5f * (a[c] - b[c] + e[c]);
                    o3[c] = e[c];
                }
            }
        }
}

/* B^T d B of nt <= SEG tiles along one tile row of one channel plane
 * xc (H, W): tile i reads rows iy0..iy0+3, columns ix0+2i..ix0+2i+3 (zero
 * outside) and writes v[xi*vstep + i]. */
static void input_segment(const float *xc, int H, int W, int iy0, int ix0, int nt,
                          float *v, size_t vstep)
{
    float d[4][2 * SEG + 2], bt[4][2 * SEG + 2];
    const int cols = 2 * nt + 2;
    for (int r = 0; r < 4; r++) {
        const int iy = iy0 + r;
        if (iy < 0 || iy >= H) {
            memset(d[r], 0, sizeof(float) * (size_t)cols);
            continue;
        }
        /* columns [lo, hi) lie in the image, the rest is padding (the
         * first and last segment of every padded row: a test per element
         * there cost ~9% of a 64-channel 56x56 layer) */
        const int lo = ix0 < 0 ? (-ix0 < cols ? -ix0 : cols) : 0;
        const int hi = W - ix0 < cols ? (W - ix0 > lo ? W - ix0 : lo) : cols;
        const float *row = xc + (size_t)iy * W;
        for (int j = 0; j < lo; j++) d[r][j] = 0.0f;
        for (int j = lo; j < hi; j++) d[r][j] = row[ix0 + j];
        for (int j = hi; j < cols; j++) d[r][j] = 0.0f;
    }
    for (int j = 0; j < cols; j++) {   /* B^T d, along columns */
        bt[0][j] = d[0][j] - d[2][j];
        bt[1][j] = d[1][j] + d[2][j];
        bt[2][j] = d[2][j] - d[1][j];
        bt[3][j] = d[1][j] - d[3][j];
    }
    for (int r = 0; r < 4; r++) {       /* (B^T d) B, along rows */
        float *v0 = v + (size_t)(4 * r) * vstep, *v1 = v0 + vstep;
        float *v2 = v1 + vstep, *v3 = v2 + vstep;
        const float *b = bt[r];
        for (int i = 0; i < nt; i++) {
            v0[i] = b[2 * i] - b[2 * i + 2];
            v1[i] = b[2 * i + 1] + b[2 * i + 2];
            v2[i] = b[2 * i + 2] - b[2 * i + 1];
            v3[i] = b[2 * i + 1] - b[2 * i + 3];
        }
    }
}

/* A^T m A + bias (ReLU if asked) of nt <= SEG tiles along one tile row of
 * one output channel: m[xi*mstep + i] is tile i's M; the 2x2 results go to
 * y rows oy0, oy0+1 (those below OH skipped), columns ox0 + 2i (those past
 * OW skipped); y is the channel plane (OH, OW). */
static void output_segment(const float *m, size_t mstep, int nt, float bias, int relu,
                           float *y, int OH, int OW, int oy0, int ox0)
{
    float s[2][4][SEG], e[SEG], od[SEG], o[2][2 * SEG];
    for (int j = 0; j < 4; j++) {   /* A^T m, along the tiles (contiguous in m) */
        const float *m0 = m + (size_t)j * mstep, *m1 = m0 + 4 * mstep;
        const float *m2 = m1 + 4 * mstep, *m3 = m2 + 4 * mstep;
        for (int i = 0; i < nt; i++) {
            s[0][j][i] = m0[i] + m1[i] + m2[i];
            s[1][j][i] = m1[i] - m2[i] - m3[i];
        }
    }
    for (int r = 0; r < 2; r++) {   /* (A^T m) A + bias: even and odd columns */
        for (int i = 0; i < nt; i++) {
            e[i] = s[r][0][i] + s[r][1][i] + s[r][2][i] + bias;
            od[i] = s[r][1][i] - s[r][2][i] - s[r][3][i] + bias;
        }
        for (int i = 0; i < nt; i++) {
            o[r][2 * i] = e[i];
            o[r][2 * i + 1] = od[i];
        }
    }
    const int cols = ox0 + 2 * nt <= OW ? 2 * nt : OW - ox0;
    for (int r = 0; r < 2 && oy0 + r < OH; r++) {
        float *row = y + (size_t)(oy0 + r) * OW + ox0;
        if (relu)
            for (int j = 0; j < cols; j++) row[j] = o[r][j] > 0.0f ? o[r][j] : 0.0f;
        else
            memcpy(row, o[r], sizeof(float) * (size_t)cols);
    }
}

/* Tiles [t0, t1) of the batch cut into row segments of at most SEG tiles:
 * image n, tile row ty, first tile column tx, cnt tiles, the first one
 * off tiles into the chunk. */
typedef struct {
    int n, ty, tx, cnt;
    size_t off;
} segment;

/* The segment starting at tile *t (advanced past it); 0 when *t reached t1. */
static int next_segment(const tiling *p, size_t t0, size_t t1, size_t *t, segment *s)
{
    if (*t >= t1) return 0;
    const size_t r = *t % p->per_image;
    s->n = (int)(*t / p->per_image);
    s->ty = (int)(r / (size_t)p->tw);
    s->tx = (int)(r % (size_t)p->tw);
    size_t cnt = (size_t)(p->tw - s->tx);
    if (cnt > t1 - *t) cnt = t1 - *t;
    if (cnt > SEG) cnt = SEG;
    s->cnt = (int)cnt;
    s->off = *t - t0;
    *t += cnt;
    return 1;
}

void ndx__winograd_weights(const ndx_conv2d_desc *d, const float *w, float *u, float *scratch)
{
    const size_t kc = (size_t)d->k * d->c;
    weight_transform(d->k, d->c, w, u);
    for (int xi = 0; xi < 16; xi++) {   /* each U[xi] into the GEMM's panels, in place */
        memcpy(scratch, u + xi * kc, kc * sizeof *u);
        ndx__sgemm_prepack(d->k, d->c, scratch, u + xi * kc);
    }
}

/* x (N, C, H, W), w (K, C, 3, 3), bias (K) or NULL -> y (N, K, OH, OW);
 * ws of ndx__winograd_workspace(d) floats; u: w already transformed
 * (ndx__winograd_weights), or NULL to transform w into ws. */
void ndx__winograd_forward(const ndx_conv2d_desc *d, const float *x, const float *w,
                           const float *u, const float *bias, float *y, float *ws)
{
    const int K = d->k, C = d->c, H = d->h, W = d->w;
    const tiling p = plan(d);
    const size_t tc = p.tc, vstep = (size_t)C * tc, mstep = (size_t)K * tc;
    const size_t plane_in = (size_t)H * W, plane_out = (size_t)p.oh * p.ow;
    float *v = ws + 16 * (size_t)K * C, *m = v + 16 * vstep;
    const int nt = ndx_get_threads();
    if (!u) {
        ndx__winograd_weights(d, w, ws, m + 16 * mstep);
        u = ws;
    }
    for (size_t t0 = 0; t0 < p.total; t0 += tc) {
        const size_t t1 = p.total - t0 < tc ? p.total : t0 + tc;
#pragma omp parallel for num_threads(nt) if (nt > 1 && C > 1) schedule(static)
        for (int c = 0; c < C; c++) {
            segment s;
            for (size_t t = t0; next_segment(&p, t0, t1, &t, &s);)
                input_segment(x + ((size_t)s.n * C + c) * plane_in, H, W, 2 * s.ty - d->ph,
                              2 * s.tx - d->pw, s.cnt, v + (size_t)c * tc + s.off, vstep);
        }
        ndx__sgemm_many_prepacked(16, K, (int)(t1 - t0), C, u, (size_t)K * C, v, (int)tc, vstep,
                                  m, (int)tc, mstep);
#pragma omp parallel for num_threads(nt) if (nt > 1 && K > 1) schedule(static)
        for (int k = 0; k < K; k++) {
            const float b = bias ? bias[k] : 0.0f;
            segment s;
            for (size_t t = t0; next_segment(&p, t0, t1, &t, &s);)
                output_segment(m + (size_t)k * tc + s.off, mstep, s.cnt, b, d->relu,
                               y + ((size_t)s.n * K + k) * plane_out, p.oh, p.ow, 2 * s.ty,
                               2 * s.tx);
        }
    }
}
