/* Planned bilinear blend, AVX-512F (math and layouts:
 * kernels/ref/f32-bilinear-plan-ref.c; the plan: kernels/bilinear-plan.c).
 *
 * The AVX2 kernel's scheme at twice the width, with the reference's
 * operations in the reference's order (mul, mul, add; no FMA, and -std=c11
 * keeps GCC from contracting), so it equals the ref bit for bit.  Columns
 * go in chunks of CHUNK; within a chunk the horizontal pass of a source row
 * is kept in a two-row cache on the stack, so each source row is
 * interpolated once per chunk when upsampling, and each output row is then
 * 2 loads, 2 mul, 1 add, 1 store per 16 outputs.  The horizontal pass
 * permutes a row held in one register (iw <= 16: the 7x7 and 14x14 maps of
 * dissection) or two (iw <= 32) instead of gathering.  Tails are masked
 * (masked lanes are neither read from the caller's buffers nor written).
 * Outputs larger than NT_BYTES in all are written with non-temporal
 * stores (64-byte aligned, a scalar head), others with plain stores.  No
 * alignment assumptions on inputs or outputs. */
#include <immintrin.h>

#include "../kernels.h"

#define CHUNK 1024
#define NT_BYTES ((size_t)8 << 20)

typedef struct row_cache {
    int tag[2];
    _Alignas(64) float buf[2][CHUNK];
} row_cache;

static inline __mmask16 first(int n)   /* the first n of 16 lanes, n in 0..16 */
{
    return (__mmask16)((1u << n) - 1u);
}

/* row[idx] for 16 indices below iw (lanes outside m: anything). */
static inline __m512 taps(const float *row, int iw, __m512 lo, __m512 hi, __m512i idx,
                          __mmask16 m)
{
    if (iw <= 16) return _mm512_permutexvar_ps(idx, lo);
    if (iw <= 32) return _mm512_permutex2var_ps(lo, idx, hi);
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, row, 4);
}

/* t[j] = row[x0[xs+j]]*lx0[xs+j] + row[x1[xs+j]]*lx1[xs+j], j < n; t is a
 * CHUNK buffer, written up to n rounded up to 16. */
static void hpass(const ndx_bilinear_plan *p, const float *row, int xs, int n, float *t)
{
    const int32_t *x0 = p->x0 + xs, *x1 = p->x1 + xs;
    const float *l0 = p->lx0 + xs, *l1 = p->lx1 + xs;
    const int iw = p->iw;
    __m512 lo = _mm512_setzero_ps(), hi = lo;
    if (iw <= 32) {
        lo = _mm512_maskz_loadu_ps(first(iw < 16 ? iw : 16), row);
        if (iw > 16) hi = _mm512_maskz_loadu_ps(first(iw - 16), row + 16);
    }
    for (int j = 0; j < n; j += 16) {
        const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : first(n - j);
        const __m512 a = taps(row, iw, lo, hi, _mm512_maskz_loadu_epi32(m, x0 + j), m);
        const __m512 b = taps(row, iw, lo, hi, _mm512_maskz_loadu_epi32(m, x1 + j), m);
        const __m512 pa = _mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, l0 + j));
        const __m512 pb = _mm512_mul_ps(b, _mm512_maskz_loadu_ps(m, l1 + j));
        _mm512_store_ps(t + j, _mm512_add_ps(pa, pb));
    }
}

/* The cached horizontal pass of source row r, not evicting row keep. */
static const float *cached_row(row_cache *rc, const ndx_bilinear_plan *p, const float *x,
                               int r, int keep, int xs, int n)
{
    if (rc->tag[0] == r) return rc->buf[0];
    if (rc->tag[1] == r) return rc->buf[1];
    const int s = rc->tag[0] == keep ? 1 : 0;
    hpass(p, x + (size_t)r * p->iw, xs, n, rc->buf[s]);
    rc->tag[s] = r;
    return rc->buf[s];
}

static inline __m512 vblend16(const float *t0, const float *t1, __m512 w0, __m512 w1)
{
    const __m512 a = _mm512_mul_ps(_mm512_load_ps(t0), w0);
    const __m512 b = _mm512_mul_ps(_mm512_load_ps(t1), w1);
    return _mm512_add_ps(a, b);
}

/* o[j] = t0[j]*l0 + t1[j]*l1 for j < n (t0, t1: 64-byte aligned caches). */
static void vblend_row(const float *t0, const float *t1, float l0, float l1, int n,
                       float *o, int nt)
{
    const __m512 w0 = _mm512_set1_ps(l0), w1 = _mm512_set1_ps(l1);
    int j = 0;
    if (nt) {
        const int head = (int)(((64 - ((uintptr_t)o & 63)) & 63) / sizeof *o);
        if (head && ((uintptr_t)o & 3) == 0) {   /* float-aligned: align the stream */
            const int h = head < n ? head : n;
            const __mmask16 m = first(h);
            const __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, t0), w0);
            const __m512 b = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, t1), w1);
            _mm512_mask_storeu_ps(o, m, _mm512_add_ps(a, b));
            j = h;
        }
        if (((uintptr_t)(o + j) & 63) == 0) {
            for (; j + 16 <= n; j += 16) {
                const __m512 a = _mm512_mul_ps(_mm512_loadu_ps(t0 + j), w0);
                const __m512 b = _mm512_mul_ps(_mm512_loadu_ps(t1 + j), w1);
                _mm512_stream_ps(o + j, _mm512_add_ps(a, b));
            }
        }
    }
    if (!j)
        for (; j + 16 <= n; j += 16) _mm512_storeu_ps(o + j, vblend16(t0 + j, t1 + j, w0, w1));
    for (; j < n; j += 16) {
        const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : first(n - j);
        const __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, t0 + j), w0);
        const __m512 b = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, t1 + j), w1);
        _mm512_mask_storeu_ps(o + j, m, _mm512_add_ps(a, b));
    }
}

void ndx_f32_bilinear_blend__avx512(const ndx_bilinear_plan *p, int channels,
                                    const float *restrict in, float *restrict out)
{
    const size_t iplane = (size_t)p->ih * (size_t)p->iw;
    const size_t oplane = (size_t)p->oh * (size_t)p->ow;
    const int nt = (size_t)channels * oplane * sizeof(float) >= NT_BYTES;
    row_cache rc;
    for (int c = 0; c < channels; c++) {
        const float *x = in + (size_t)c * iplane;
        float *y = out + (size_t)c * oplane;
        for (int xs = 0; xs < p->ow; xs += CHUNK) {
            const int n = p->ow - xs < CHUNK ? p->ow - xs : CHUNK;
            rc.tag[0] = rc.tag[1] = -1;
            for (int oy = 0; oy < p->oh; oy++) {
                const int r0 = p->y0[oy], r1 = p->y1[oy];
                const float *t0 = cached_row(&rc, p, x, r0, r1, xs, n);
                const float *t1 = cached_row(&rc, p, x, r1, r0, xs, n);
                vblend_row(t0, t1, p->ly0[oy], p->ly1[oy], n, y + (size_t)oy * p->ow + xs, nt);
            }
        }
    }
    if (nt) _mm_sfence();
}
