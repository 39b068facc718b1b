/* Planned bilinear blend and the fused dissection kernel, AVX2.
 *
 * Math and layouts: kernels/ref/f32-bilinear-plan-ref.c; the plan:
 * kernels/bilinear-plan.c.  Both kernels use the reference's operations in
 * the reference's order (mul, mul, add; no FMA, and -std=c11 keeps GCC from
 * contracting), so they equal the ref bit for bit.
 *
 * Columns are processed in chunks of CHUNK.  Within a chunk, the horizontal
 * pass of a source row (two gathers per 8 outputs) is kept in a two-row
 * cache on the stack, so each source row is interpolated once per chunk when
 * upsampling; each output row is then 2 loads, 2 mul, 1 add, 1 store per 8.
 * blend writes with non-temporal stores (32-byte aligned, scalar head and
 * tail) when the whole output is larger than NT_BYTES, plain stores
 * otherwise.
 * iou turns each output row into a byte mask (0xff where value > T) on the
 * stack, then counts, for every mask, 32 pixels per step:
 * in = act & (m != 0), neither = ~act & (m == 0), byte counters summed per
 * row with vpsadbw; union = pixels - neither.  It skips work it can prove
 * useless: each cached horizontal pass keeps the min, max and max |t| of
 * its 32-column blocks; the blend of a block lies between the blends of
 * those bounds (weights >= 0) up to rounding, covered by a margin eps, so a
 * block surely below (above) T is filled with 0 (0xff) without blending, and
 * a row surely below T everywhere only adds its mask pixels to the union (a
 * run of such rows is counted in one pass).  The bounds are linear in the
 * row weight, so they are evaluated at the two ends of each run of output
 * rows sharing their source rows.  Skips never change a count: the result
 * equals the ref's exactly.
 * select returns at once when the whole map is surely below lo, then, per
 * output row, works on the output columns that can reach lo
 * (ndx__select_row: the output columns with a tap among the source columns
 * not surely below lo in the row's two source rows; all other pixels blend
 * values surely below lo).  Only that range is passed horizontally (kept
 * while the pair of source rows lasts), blended 8 columns at a time,
 * compared (>= lo), and the set bits of the movemask taken with ctz.
 * Output stays in row-major order.  No alignment assumptions on inputs,
 * masks or outputs. */
#include <immintrin.h>
#include <math.h>

#include "../kernels.h"

#define CHUNK 1024
#define NT_BYTES ((size_t)8 << 20)

typedef struct row_cache {
    int tag[2];
    _Alignas(32) float buf[2][CHUNK];
} row_cache;

/* row[idx] for 8 indices below iw: a permute of the row held in one or two
 * registers when iw <= 16 (lo: row[0..8), hi: row[8..16)), a gather else. */
static inline __m256 taps(const float *row, int iw, __m256 lo, __m256 hi, __m256i idx)
{
    if (iw <= 8) return _mm256_permutevar8x32_ps(lo, idx);
    if (iw <= 16)
        return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx),
                                _mm256_permutevar8x32_ps(hi, idx),
                                _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7))));
    return _mm256_i32gather_ps(row, idx, 4);
}

static __m256i lanes(int n)   /* the first n of 8 lanes, n in 0..8 */
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* t[j] = row[x0[xs+j]]*lx0[xs+j] + row[x1[xs+j]]*lx1[xs+j], j < n.  A row
 * of at most 16 floats (the 7x7 and 14x14 maps of dissection) is held in
 * registers and permuted: a gather costs ~8x a permute, and this pass sits
 * between the blend's streams of stores. */
static void hpass(const ndx_bilinear_plan *p, const float *row, int xs, int n,
                  float *t)
{
    const int32_t *x0 = p->x0 + xs, *x1 = p->x1 + xs;
    const float *l0 = p->lx0 + xs, *l1 = p->lx1 + xs;
    const int iw = p->iw;
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    if (iw <= 16) {
        lo = _mm256_maskload_ps(row, lanes(iw < 8 ? iw : 8));
        if (iw > 8) hi = _mm256_maskload_ps(row + 8, lanes(iw - 8));
    }
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 a = taps(row, iw, lo, hi, _mm256_loadu_si256((const __m256i *)(x0 + j)));
        const __m256 b = taps(row, iw, lo, hi, _mm256_loadu_si256((const __m256i *)(x1 + j)));
        const __m256 pa = _mm256_mul_ps(a, _mm256_loadu_ps(l0 + j));
        const __m256 pb = _mm256_mul_ps(b, _mm256_loadu_ps(l1 + j));
        _mm256_store_ps(t + j, _mm256_add_ps(pa, pb));
    }
    for (; j < n; j++) {
        const float pa = row[x0[j]] * l0[j];
        const float pb = row[x1[j]] * l1[j];
        t[j] = pa + pb;
    }
}

/* The cached horizontal pass of source row r, not evicting row keep. */
static const float *cached_row(row_cache *rc, const ndx_bilinear_plan *p,
                               const float *x, int r, int keep, int xs, int n)
{
    if (rc->tag[0] == r) return rc->buf[0];
    if (rc->tag[1] == r) return rc->buf[1];
    const int s = rc->tag[0] == keep ? 1 : 0;
    hpass(p, x + (size_t)r * p->iw, xs, n, rc->buf[s]);
    rc->tag[s] = r;
    return rc->buf[s];
}

static inline float vblend1(float t0, float t1, float l0, float l1)
{
    const float a = t0 * l0;
    const float b = t1 * l1;
    return a + b;
}

static void vblend_row(const float *t0, const float *t1, float l0, float l1,
                       int n, float *o, int nt)
{
    const __m256 w0 = _mm256_set1_ps(l0), w1 = _mm256_set1_ps(l1);
    int j = 0;
    if (nt) {
        for (; j < n && ((uintptr_t)(o + j) & 31); j++)
            o[j] = vblend1(t0[j], t1[j], l0, l1);
        for (; j + 8 <= n; j += 8) {
            const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(t0 + j), w0);
            const __m256 b = _mm256_mul_ps(_mm256_loadu_ps(t1 + j), w1);
            _mm256_stream_ps(o + j, _mm256_add_ps(a, b));
        }
    } else {
        for (; j + 8 <= n; j += 8) {
            const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(t0 + j), w0);
            const __m256 b = _mm256_mul_ps(_mm256_loadu_ps(t1 + j), w1);
            _mm256_storeu_ps(o + j, _mm256_add_ps(a, b));
        }
    }
    for (; j < n; j++)
        o[j] = vblend1(t0[j], t1[j], l0, l1);
}

void ndx_f32_bilinear_blend__avx2(const ndx_bilinear_plan *p, int channels,
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
                vblend_row(t0, t1, p->ly0[oy], p->ly1[oy], n,
                           y + (size_t)oy * p->ow + xs, nt);
            }
        }
    }
    if (nt) _mm_sfence();
}

/* Sum of the 32 byte counters of v. */
static inline uint64_t sum_bytes(__m256i v)
{
    const __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s),
                                    _mm256_extracti128_si256(s, 1));
    return (uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1);
}

#define NBLK (CHUNK / 32)

/* t0*w0 + t1*w1 for 8 columns of two cached rows (the ref's blend). */
static inline __m256 blend8(const float *t0, const float *t1, __m256 w0, __m256 w1)
{
    const __m256 a = _mm256_mul_ps(_mm256_load_ps(t0), w0);
    const __m256 b = _mm256_mul_ps(_mm256_load_ps(t1), w1);
    return _mm256_add_ps(a, b);
}

/* -1 in the lanes where t0*w0 + t1*w1 > thr, else 0. */
static inline __m256i above8(const float *t0, const float *t1, __m256 w0, __m256 w1,
                             __m256 thr)
{
    return _mm256_castps_si256(_mm256_cmp_ps(blend8(t0, t1, w0, w1), thr, _CMP_GT_OQ));
}

/* Two cached horizontal passes, each with the min, max and max |t| of every
 * 32-column block (max |t| is NaN when the block holds a NaN). */
typedef struct iou_cache {
    int tag[2];
    _Alignas(32) float buf[2][CHUNK];
    _Alignas(32) float bmin[2][NBLK], bmax[2][NBLK], babs[2][NBLK];
    float rmax[2], rabs[2];   /* the same over the whole row (NaN if any) */
} iou_cache;

/* Zero bytes among m[0 .. len). */
static uint64_t count_zero_bytes(const uint8_t *m, size_t len)
{
    const __m256i zero = _mm256_setzero_si256();
    uint64_t zeros = 0;
    size_t i = 0;
    while (i + 32 <= len) {
        __m256i cn = zero;   /* byte counters: at most 255 steps */
        for (int k = 0; k < 255 && i + 32 <= len; k++, i += 32)
            cn = _mm256_sub_epi8(cn, _mm256_cmpeq_epi8(
                     _mm256_loadu_si256((const __m256i *)(m + i)), zero));
        zeros += sum_bytes(cn);
    }
    for (; i < len; i++) zeros += (uint64_t)(m[i] == 0);
    return zeros;
}

static float hmin8(__m256 v)
{
    __m128 h = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_min_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_min_ss(h, _mm_shuffle_ps(h, h, 1)));
}
static float hmax8(__m256 v)
{
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_shuffle_ps(h, h, 1)));
}

static const float *iou_row(iou_cache *ic, int *slot, const ndx_bilinear_plan *p,
                            const float *x, int r, int keep, int xs, int n)
{
    for (int s = 0; s < 2; s++)
        if (ic->tag[s] == r) {
            *slot = s;
            return ic->buf[s];
        }
    const int s = ic->tag[0] == keep ? 1 : 0;
    float *t = ic->buf[s];
    hpass(p, x + (size_t)r * p->iw, xs, n, t);
    ic->tag[s] = r;
    *slot = s;
    /* maxps/minps return the second operand when one is NaN: NaN is skipped */
    for (int b = 0; b * 32 < n; b++) {
        const int j0 = 32 * b, j1 = j0 + 32 < n ? j0 + 32 : n;
        __m256 mn = _mm256_set1_ps(INFINITY), mx = _mm256_set1_ps(-INFINITY);
        __m256 nan = _mm256_setzero_ps();
        int j = j0;
        for (; j + 8 <= j1; j += 8) {
            const __m256 v = _mm256_load_ps(t + j);
            mn = _mm256_min_ps(v, mn);
            mx = _mm256_max_ps(v, mx);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        }
        float lo = hmin8(mn), hi = hmax8(mx);
        int any_nan = !_mm256_testz_ps(nan, nan);
        for (; j < j1; j++) {
            if (t[j] < lo) lo = t[j];
            if (t[j] > hi) hi = t[j];
            any_nan |= isnan(t[j]);
        }
        ic->bmin[s][b] = lo;
        ic->bmax[s][b] = hi;
        /* a NaN pixel is inactive whatever its neighbours: such a block is
         * never "all active"; a NaN eps makes it pixel by pixel */
        ic->babs[s][b] = any_nan ? NAN : -lo > hi ? -lo : hi;
    }
    float rmax = -INFINITY, rabs = 0.0f;
    for (int b = 0; b * 32 < n; b++) {
        if (ic->bmax[s][b] > rmax) rmax = ic->bmax[s][b];
        if (!(ic->babs[s][b] <= rabs)) rabs = isnan(rabs) ? rabs : ic->babs[s][b];
    }
    ic->rmax[s] = rmax;
    ic->rabs[s] = rabs;
    return t;
}

/* Empties the cache; block bounds past the chunk's blocks (up to the next
 * 8, read by block_status) must be defined. */
static void iou_cache_reset(iou_cache *ic)
{
    ic->tag[0] = ic->tag[1] = -1;
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < NBLK; b++)
            ic->bmin[s][b] = ic->bmax[s][b] = ic->babs[s][b] = 0.0f;
}

/* Every value of the output row blended from slots s0, s1 with weights l0,
 * l1 is surely < thr (the bounds of block_status, over the whole row). */
static inline int row_below(const iou_cache *ic, int s0, int s1, float l0, float l1,
                            float thr)
{
    const float hi = ic->rmax[s0] * l0 + ic->rmax[s1] * l1;
    const float eps = (ic->rabs[s0] + ic->rabs[s1]) * 0x1p-19f + 0x1p-126f;
    return hi + eps < thr;
}

/* Per-block status of one output row: bit b of *none when every value of
 * block b is surely <= T, of *all when every value is surely > T.  The
 * value t0*l0 + t1*l1 (l0, l1 >= 0) lies between l0*min0 + l1*min1 and
 * l0*max0 + l1*max1 up to rounding, which eps = 2^-19 * (max|t0| + max|t1|)
 * covers with room to spare (the two products and the sum round by at most
 * 2^-24 of that each); infinities make eps infinite, so such blocks are
 * computed pixel by pixel. */
static inline void block_status(const iou_cache *ic, int s0, int s1, float l0, float l1,
                         float thr, int nblk, uint32_t *none, uint32_t *all)
{
    const __m256 w0 = _mm256_set1_ps(l0), w1 = _mm256_set1_ps(l1);
    const __m256 t = _mm256_set1_ps(thr), k = _mm256_set1_ps(0x1p-19f);
    const __m256 tiny = _mm256_set1_ps(0x1p-126f);
    *none = *all = 0;
    for (int b = 0; b < nblk; b += 8) {
        const __m256 hi = _mm256_add_ps(_mm256_mul_ps(_mm256_load_ps(ic->bmax[s0] + b), w0),
                                        _mm256_mul_ps(_mm256_load_ps(ic->bmax[s1] + b), w1));
        const __m256 lo = _mm256_add_ps(_mm256_mul_ps(_mm256_load_ps(ic->bmin[s0] + b), w0),
                                        _mm256_mul_ps(_mm256_load_ps(ic->bmin[s1] + b), w1));
        const __m256 eps = _mm256_add_ps(
            _mm256_mul_ps(_mm256_add_ps(_mm256_load_ps(ic->babs[s0] + b),
                                        _mm256_load_ps(ic->babs[s1] + b)), k), tiny);
        *none |= (uint32_t)_mm256_movemask_ps(
                     _mm256_cmp_ps(_mm256_add_ps(hi, eps), t, _CMP_LT_OQ)) << b;
        *all |= (uint32_t)_mm256_movemask_ps(
                    _mm256_cmp_ps(_mm256_sub_ps(lo, eps), t, _CMP_GT_OQ)) << b;
    }
    const uint32_t valid = nblk >= 32 ? 0xffffffffu : (1u << nblk) - 1;
    *none &= valid;
    *all &= valid;
}

void ndx_f32_bilinear_iou__avx2(const ndx_bilinear_plan *p,
                                const float *restrict map, float threshold,
                                int nmasks, const uint8_t *restrict masks,
                                size_t mask_stride, uint64_t *restrict inter,
                                uint64_t *restrict uni)
{
    iou_cache ic;
    _Alignas(32) uint8_t act[CHUNK];
    const __m256 thr = _mm256_set1_ps(threshold);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi8(-1);
    for (int xs = 0; xs < p->ow; xs += CHUNK) {
        const int n = p->ow - xs < CHUNK ? p->ow - xs : CHUNK;
        const int nblk = (n + 31) / 32;
        iou_cache_reset(&ic);
        /* Rows with nothing active only add their mask pixels to the union;
         * a run of such rows [run0, run1) is counted in one pass (one span
         * of memory when the chunk is the whole width). */
        /* The bounds are linear in the row weight (l0 = 1 - l1), so along a
         * pair run (output rows sharing source rows y0, y1) a block that is
         * surely inactive (active) at the run's first and last rows is so
         * at every row between: statuses are computed twice per run. */
        const uint32_t valid = nblk >= 32 ? 0xffffffffu : (1u << nblk) - 1;
        int run0 = 0, run1 = 0, pair_end = 0, none_row = 0;
        uint32_t none = 0, all = 0;
        for (int oy = 0; oy <= p->oh; oy++) {
            int s0 = 0, s1 = 0;
            const float *t0 = NULL, *t1 = NULL;
            float l0 = 0.0f, l1 = 0.0f;
            if (oy < p->oh) {
                const int r0 = p->y0[oy], r1 = p->y1[oy];
                t0 = iou_row(&ic, &s0, p, map, r0, r1, xs, n);
                t1 = iou_row(&ic, &s1, p, map, r1, r0, xs, n);
                l0 = p->ly0[oy];
                l1 = p->ly1[oy];
                if (oy >= pair_end) {   /* a new pair run [oy, pair_end) */
                    pair_end = oy + 1;
                    while (pair_end < p->oh && p->y0[pair_end] == r0 && p->y1[pair_end] == r1)
                        pair_end++;
                    const int ends[2] = {oy, pair_end - 1};
                    none_row = 1;
                    none = all = valid;
                    for (int e = 0; e < 2; e++)   /* the whole row first */
                        none_row &= row_below(&ic, s0, s1, p->ly0[ends[e]],
                                              p->ly1[ends[e]], threshold);
                    if (!none_row) {
                        for (int e = 0; e < 2; e++) {
                            uint32_t ne, al;
                            block_status(&ic, s0, s1, p->ly0[ends[e]], p->ly1[ends[e]],
                                         threshold, nblk, &ne, &al);
                            none &= ne;
                            all &= al;
                        }
                        none_row = none == valid;
                    }
                }
                if (none_row) {   /* the pending run always ends at oy */
                    if (run0 == run1) run0 = oy;
                    run1 = oy + 1;
                    continue;
                }
            }
            if (run1 > run0) {   /* a row with candidates, or the end: flush */
                for (int k = 0; k < nmasks; k++) {
                    const uint8_t *m = masks + (size_t)k * mask_stride;
                    if (n == p->ow) {
                        const size_t len = (size_t)(run1 - run0) * n;
                        uni[k] += len - count_zero_bytes(m + (size_t)run0 * n, len);
                    } else {
                        for (int y = run0; y < run1; y++)
                            uni[k] += (uint64_t)n -
                                      count_zero_bytes(m + (size_t)y * p->ow + xs, (size_t)n);
                    }
                }
                run0 = run1 = 0;
            }
            if (oy == p->oh) break;
            const size_t row_off = (size_t)oy * p->ow + xs;

            const __m256 w0 = _mm256_set1_ps(l0), w1 = _mm256_set1_ps(l1);
            for (int b = 0; b < nblk; b++) {
                const int j = 32 * b;
                if ((none >> b) & 1) {
                    _mm256_store_si256((__m256i *)(act + j), zero);
                } else if ((all >> b) & 1) {
                    _mm256_store_si256((__m256i *)(act + j), ones);
                } else if (j + 32 <= n) {
                    const __m256i c0 = above8(t0 + j, t1 + j, w0, w1, thr);
                    const __m256i c1 = above8(t0 + j + 8, t1 + j + 8, w0, w1, thr);
                    const __m256i c2 = above8(t0 + j + 16, t1 + j + 16, w0, w1, thr);
                    const __m256i c3 = above8(t0 + j + 24, t1 + j + 24, w0, w1, thr);
                    const __m256i b16 = _mm256_packs_epi16(_mm256_packs_epi32(c0, c1),
                                                           _mm256_packs_epi32(c2, c3));
                    _mm256_store_si256((__m256i *)(act + j),
                                       _mm256_permutevar8x32_epi32(b16, order));
                } else {
                    for (int i = j; i < n; i++)
                        act[i] = vblend1(t0[i], t1[i], l0, l1) > threshold ? 0xff : 0;
                }
            }

            for (int k = 0; k < nmasks; k++) {
                const uint8_t *m = masks + (size_t)k * mask_stride + row_off;
                __m256i ci = zero, cn = zero;
                int i = 0;
                for (; i + 32 <= n; i += 32) {
                    const __m256i a = _mm256_load_si256((const __m256i *)(act + i));
                    const __m256i e = _mm256_cmpeq_epi8(
                        _mm256_loadu_si256((const __m256i *)(m + i)), zero);
                    ci = _mm256_sub_epi8(ci, _mm256_andnot_si256(e, a));
                    cn = _mm256_sub_epi8(cn, _mm256_andnot_si256(a, e));
                }
                uint64_t in_n = sum_bytes(ci), neither = sum_bytes(cn);
                for (; i < n; i++) {
                    const int a = act[i] != 0, bm = m[i] != 0;
                    in_n += (uint64_t)(a & bm);
                    neither += (uint64_t)!(a | bm);
                }
                inter[k] += in_n;
                uni[k] += (uint64_t)n - neither;
            }
        }
    }
}

/* ndx__select_map_below, 8 floats at a time. */
static int map_below(const float *map, size_t n, float lo)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_set1_ps(-INFINITY), ab = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(map + i);
        mx = _mm256_max_ps(v, mx);   /* the second operand when v is NaN */
        ab = _mm256_max_ps(_mm256_andnot_ps(sign, v), ab);
    }
    float hi = hmax8(mx), a = hmax8(ab);
    for (; i < n; i++) {
        hi = map[i] > hi ? map[i] : hi;
        a = fabsf(map[i]) > a ? fabsf(map[i]) : a;
    }
    return ndx__surely_below(hi, a, lo);
}

size_t ndx_f32_bilinear_select__avx2(const ndx_bilinear_plan *p,
                                     const float *restrict map, float lo,
                                     int32_t *restrict idx, float *restrict val)
{
    _Alignas(32) float t0[CHUNK], t1[CHUNK];
    const __m256 lov = _mm256_set1_ps(lo);
    size_t cnt = 0;
    if (map_below(map, (size_t)p->ih * p->iw, lo)) return 0;
    ndx_select_row sr = {-1, -1, 0, -1};
    int cached = 0;   /* the horizontal passes of the current pair in t0, t1 */
    for (int oy = 0; oy < p->oh; oy++) {
        if (ndx__select_row(p, map, lo, oy, &sr)) cached = 0;
        const int xa = sr.xa, xb = sr.xb;
        if (xb < xa) continue;
        const float *m0 = map + (size_t)sr.r0 * p->iw, *m1 = map + (size_t)sr.r1 * p->iw;
        const float l0 = p->ly0[oy], l1 = p->ly1[oy];
        const __m256 w0 = _mm256_set1_ps(l0), w1 = _mm256_set1_ps(l1);
        for (int xs = xa; xs <= xb; xs += CHUNK) {
            const int n = xb + 1 - xs < CHUNK ? xb + 1 - xs : CHUNK;
            /* the horizontal passes are kept while the pair lasts, when the
             * range fits one chunk */
            if (!cached || n < xb + 1 - xa) {
                hpass(p, m0, xs, n, t0);
                hpass(p, m1, xs, n, t1);
                cached = n == xb + 1 - xa;
            }
            const int32_t base = oy * p->ow + xs;
            int j = 0;
            for (; j + 8 <= n; j += 8) {
                const __m256 v = blend8(t0 + j, t1 + j, w0, w1);
                unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, lov, _CMP_GE_OQ));
                if (!m) continue;
                _Alignas(32) float tmp[8];
                _mm256_store_ps(tmp, v);
                do {
                    const int l = __builtin_ctz(m);
                    idx[cnt] = base + j + l;
                    val[cnt++] = tmp[l];
                    m &= m - 1;
                } while (m);
            }
            for (; j < n; j++) {
                const float v = vblend1(t0[j], t1[j], l0, l1);
                if (v >= lo) {
                    idx[cnt] = base + j;
                    val[cnt++] = v;
                }
            }
        }
    }
    return cnt;
}
