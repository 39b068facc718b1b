/* ndx_sgemm: the BLIS-style driver around the chosen GEMM microkernel.
 *
 *   for jc in n by NC:                 B block KC x NC (L3)
 *     for pc in k by KC:               pack op(B)[pc:+kc, jc:+nc] into NR panels
 *       for ic in m by MC:             pack op(A)[ic:+mc, pc:+kc] into MR panels (L2)
 *         for jr in nc by NR:          one B panel (L1)
 *           for ir in mc by MR:        microkernel MR x NR (C tile in registers)
 *
 * MR, NR, MC, KC, NC, the microkernel and the pack kernel come from the
 * kernel table.  Threads: C is cut into one block of whole MR rows (or NR
 * columns, when C has more NR column panels than MR row panels) per thread,
 * and each thread runs the loops above on its block with its own packing
 * buffers and no barrier; every C element is written by one thread in a fixed
 * order, so the result does not depend on the thread count.  When the
 * transposed problem C^T = op(B)^T op(A)^T fills the tiles better (a narrow
 * C), it is computed instead and stored transposed.  The packing buffers
 * belong to the calling thread and are kept between calls (first-touching
 * fresh pages is slow); they grow when a larger call needs more.
 * ndx__sgemm_many (and _prepacked) runs independent GEMMs side by side
 * instead, one thread each, which is as deterministic.
 */
#define _DEFAULT_SOURCE   /* madvise, MADV_HUGEPAGE */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core.h"
#include "../../kernels/kernels.h"

typedef struct {
    float *b;            /* per thread: KC x NC packed B block */
    size_t b_cap;
    float *a;            /* per thread: MC x KC packed A block */
    size_t a_cap;
    float *t;            /* C^T of a narrow C, before it is stored transposed */
    size_t t_cap;
} gemm_ws;

static _Thread_local gemm_ws ws;

/* Frees a thread's packing buffers when the thread exits. */
static pthread_key_t ws_key;
static pthread_once_t ws_key_once = PTHREAD_ONCE_INIT;
static void ws_release(void *p)
{
    gemm_ws *w = p;
    ndx_free(w->a);
    ndx_free(w->b);
    ndx_free(w->t);
    *w = (gemm_ws){0};
}
static void ws_key_create(void) { pthread_key_create(&ws_key, ws_release); }

#define HUGE_PAGE ((size_t)2 << 20)

/* A packing buffer of at least `bytes`: from 1 MiB up, whole 2 MiB pages
 * the kernel is asked to back with huge pages (THP "madvise" mode), so
 * that the packed blocks take a few TLB entries and leave the rest to C,
 * whose rows are often a page apart each. */
static float *buffer(size_t bytes)
{
    if (bytes < HUGE_PAGE / 2) return ndx_alloc(bytes);
    void *q = NULL;
    bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (posix_memalign(&q, HUGE_PAGE, bytes)) return ndx_alloc(bytes);
#ifdef MADV_HUGEPAGE
    madvise(q, bytes, MADV_HUGEPAGE);   /* advice only: no huge pages is no error */
#endif
    return q;
}

static int grow(float **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    pthread_once(&ws_key_once, ws_key_create);
    pthread_setspecific(ws_key, &ws);
    float *q = buffer(need * sizeof(float));
    if (!q) return -1;
    ndx_free(*p);
    *p = q;
    *cap = need;
    return 0;
}

/* op(A) rows [i0, i0+mc), columns [p0, p0+kc) -> panels of mr rows,
 * dst[r*kc + p*mr + i], through the table's pack kernel. */
static void pack_a(ndx_gemm_pack_fn pack, int trans_a, const float *a, int lda,
                   int i0, int mc, int p0, int kc, int mr, float *dst)
{
    for (int r = 0; r < mc; r += mr) {
        const int rows = mc - r < mr ? mc - r : mr;
        const size_t row = (size_t)(i0 + r);
        const float *src = trans_a ? a + (size_t)p0 * lda + row : a + row * lda + p0;
        pack(trans_a, rows, kc, src, lda, mr, dst + (size_t)r * kc);
    }
}

/* op(B) rows [p0, p0+kc), columns [j0, j0+cols) -> one nr panel. */
static void pack_b_panel(ndx_gemm_pack_fn pack, int trans_b, const float *b, int ldb,
                         int p0, int kc, int j0, int cols, int nr, float *dst)
{
    const float *src = trans_b ? b + (size_t)j0 * ldb + p0 : b + (size_t)p0 * ldb + j0;
    pack(!trans_b, cols, kc, src, ldb, nr, dst);
}

static void scale_c(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
}

/* Fraction of the microkernel tiles' work that is useful for m x n.  With
 * half_edge (the kernel set's gemm_half_edge) an edge tile of at most nr/2
 * columns counts as half a tile, as the kernel runs it; with row_step (its
 * gemm_row_step) an edge tile of r rows costs r rounded up to row_step. */
static double tile_use(int m, int n, int mr, int nr, int half_edge, int row_step)
{
    const int half = nr / 2;
    const int cols = n % nr == 0                   ? n
                     : half_edge && n % nr <= half ? n / nr * nr + half
                                                   : (n / nr + 1) * nr;
    const int step = row_step > 0 ? row_step : mr;
    const int edge = (m % mr + step - 1) / step * step;   /* the edge tile's rows, as run */
    return (double)m / (m / mr * mr + (edge < mr ? edge : mr)) * n / cols;
}

/* Rows [r0, r1) and columns [j0, j1) of t (row stride ldt) added
 * transposed into C: C[j][i] = t[i][j] + beta * C[j][i] (C not read when
 * beta is 0).  8 x 8 blocks, so that both sides stay in few cache lines. */
static void store_transposed(int r0, int r1, int j0, int j1, const float *t, int ldt,
                             float beta, float *c, int ldc)
{
    for (int jb = j0; jb < j1; jb += 8)
        for (int ib = r0; ib < r1; ib += 8)
            for (int j = jb; j < j1 && j < jb + 8; j++) {
                float *cj = c + (size_t)j * ldc;
                for (int i = ib; i < r1 && i < ib + 8; i++)
                    cj[i] = beta == 0.0f ? t[(size_t)i * ldt + j]
                                         : t[(size_t)i * ldt + j] + beta * cj[i];
            }
}

/* k split into equal blocks of at most kc_max (no short last block). */
static int balanced_kc(int k, int kc_max)
{
    const int blocks = (k + kc_max - 1) / kc_max;
    return (k + blocks - 1) / blocks;
}

/* The columns of C and op(B): `count` images of n columns each, image i's
 * at b + i*b_stride and c + i*c_stride; each image's columns are cut into
 * ppi NR-wide panels (the last one partial), numbered image by image. */
typedef struct {
    int n, ppi, count;
    size_t b_stride, c_stride;
} columns;

/* A prepacked by ndx__sgemm_prepack: its base, the first row of a thread's
 * block, and the rows in whole MR panels. */
typedef struct {
    const float *a;
    int row0, full;
} prepacked;

/* The packed A panel of rows ic + ir.. of a thread's block, k block pc
 * (kc deep): in apack, or in the prepacked A (its last, raw rows were
 * packed into apack). */
static inline const float *a_panel(const prepacked *pre, const float *apack, int ic, int ir,
                                   int pc, int kc)
{
    if (!pre) return apack + (size_t)ir * kc;
    const int row = pre->row0 + ic + ir;
    return row < pre->full ? pre->a + (size_t)pc * pre->full + (size_t)row * kc : apack;
}

/* One thread's GEMM on row block [0, m) and column panels [q0, q1), with its
 * own packing buffers.  pre: A prepacked (NULL: A is packed here).  Loop
 * order: a set whose blocking makes the packed B block (KC x NC) at most
 * 1 MiB keeps it in L2 and runs the tiles row panel by row panel, the
 * MR x KC A panel in L1 and C's tiles along its rows (few pages); the
 * others keep the A block in L2 and run column panel by column panel, the
 * KC x NR B panel in L1.  avx512 (NC 1024): 2048^3 +2.6%, 512x196x4608
 * +3.4%, 1024^3 +3.5% (one thread, CPU time, medians of 9-11 interleaved
 * rounds; NC 2048 with this order: -5% at 2048^3). */
static void block(const ndx_kernel_table *ks, int trans_a, int trans_b, int m, int k,
                  float alpha, const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc, const columns *cols,
                  int q0, int q1, float *apack, float *bpack, const prepacked *pre)
{
    const ndx_gemm_ukernel_fn ukernel = ks->gemm_ukernel.fn;
    const ndx_gemm_pack_fn pack = ks->gemm_pack.fn;
    const int MR = ks->gemm_ukernel.mr, NR = ks->gemm_ukernel.nr;
    const int MC = ks->gemm_mc / MR * MR, NCP = ks->gemm_nc / NR;   /* NC in panels */
    /* With one block of rows (and a non-transposed B) each B panel serves
     * one pass of tiles: it is packed just before them into the first
     * panel's space, where it stays in L1 (read in place, rows ldb apart
     * can share a few cache sets), and each tile prefetches its share of
     * the next panel's rows, a stride the hardware prefetcher does not
     * follow.  Neither changes the arithmetic.  64x3136x576: +6% (one
     * thread) and +11% (two) over reading B in place. */
    const int one_block = !trans_b && m <= MC;
    const int KC = balanced_kc(k, ks->gemm_kc);
    const int b_in_l2 = (size_t)ks->gemm_kc * ks->gemm_nc * sizeof(float) <= ((size_t)1 << 20);
    for (int qc = q0; qc < q1; qc += NCP) {
        const int qe = q1 - qc < NCP ? q1 : qc + NCP;
        for (int pc = 0; pc < k; pc += KC) {
            const int kc = k - pc < KC ? k - pc : KC;
            const float beta_eff = pc == 0 ? beta : 1.0f;
            if (!one_block)   /* the whole B block, used by every block of rows */
                for (int q = qc; q < qe; q++) {
                    const int img = q / cols->ppi, j = q % cols->ppi * NR;
                    const int nr = cols->n - j < NR ? cols->n - j : NR;
                    pack_b_panel(pack, trans_b, b + img * cols->b_stride, ldb, pc, kc, j, nr,
                                 NR, bpack + (size_t)(q - qc) * kc * NR);
                }
            for (int ic = 0; ic < m; ic += MC) {
                const int mc = m - ic < MC ? m - ic : MC;
                if (!pre) {
                    pack_a(pack, trans_a, a, lda, ic, mc, pc, kc, MR, apack);
                } else if (pre->row0 + ic + mc > pre->full) {
                    /* the last block holds the rows past the whole panels,
                     * kept raw (row stride k): one panel, packed here */
                    pack(0, pre->row0 + ic + mc - pre->full, kc,
                         pre->a + (size_t)pre->full * k + pc, k, MR, apack);
                }
                if (b_in_l2 && !one_block) {   /* A panel in L1, B panels from L2 */
                    for (int ir = 0; ir < mc; ir += MR) {
                        const int mr = mc - ir < MR ? mc - ir : MR;
                        const float *ap = a_panel(pre, apack, ic, ir, pc, kc);
                        for (int q = qc; q < qe; q++) {
                            const int img = q / cols->ppi, j = q % cols->ppi * NR;
                            const int nr = cols->n - j < NR ? cols->n - j : NR;
                            ukernel(mr, nr, kc, alpha, ap, bpack + (size_t)(q - qc) * kc * NR,
                                    beta_eff, c + img * cols->c_stride + (size_t)(ic + ir) * ldc + j,
                                    ldc);
                        }
                    }
                    continue;
                }
                for (int q = qc; q < qe; q++) {
                    const int img = q / cols->ppi, j = q % cols->ppi * NR;
                    const int nr = cols->n - j < NR ? cols->n - j : NR;
                    const float *bp = bpack + (size_t)(one_block ? 0 : q - qc) * kc * NR;
                    const float *next = NULL;   /* the next panel's rows, in place */
                    int rows = 0;               /* how many of them each tile prefetches */
                    if (one_block) {
                        pack_b_panel(pack, trans_b, b + img * cols->b_stride, ldb, pc, kc, j, nr,
                                     NR, bpack);
                        if (q + 1 < qe) {
                            const int img1 = (q + 1) / cols->ppi, j1 = (q + 1) % cols->ppi * NR;
                            const int tiles = (mc + MR - 1) / MR;
                            next = b + img1 * cols->b_stride + (size_t)pc * ldb + j1;
                            rows = (kc + tiles - 1) / tiles;
                        }
                    }
                    float *cimg = c + img * cols->c_stride;
                    for (int ir = 0; ir < mc; ir += MR) {
                        const int mr = mc - ir < MR ? mc - ir : MR;
                        if (next) {   /* this tile's share of the next panel's rows */
                            const int p0 = ir / MR * rows, p1 = p0 + rows < kc ? p0 + rows : kc;
                            for (int p = p0; p < p1; p++)
                                __builtin_prefetch(next + (size_t)p * ldb, 0, 3);
                        }
                        ukernel(mr, nr, kc, alpha, a_panel(pre, apack, ic, ir, pc, kc), bp,
                                beta_eff, cimg + (size_t)(ic + ir) * ldc + j, ldc);
                    }
                }
            }
        }
    }
}

/* The driver: C is cut into one block of whole MR rows (or NR-column
 * panels) per thread and every thread runs the BLIS loops on its block with
 * its own packing buffers, without barriers: each element of C is written by
 * one thread in a fixed order, so results do not depend on the thread count.
 * Re-packing the shared operand per thread costs O(k*n) (or O(m*k)) per
 * thread beside O(m*n*k / threads) of arithmetic.  All images of `cols`
 * share A: it is packed once per block for all of them.  transposed_c
 * (one image only): C is stored transposed, element (i, j) at c[j*ldc + i];
 * the kernel then writes C^T into a scratch block (row stride ldt) at full
 * speed, every pass over k included, and each thread stores its part of it
 * transposed once at the end (storing each tile transposed on every pass
 * took 12% of 512x49x4608). */
static void gemm(int trans_a, int trans_b, int m, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc,
                 int transposed_c, const columns *cols, int nt, const float *aprep)
{
    const ndx_kernel_table *ks = ndx_kernels();
    const int MR = ks->gemm_ukernel.mr, NR = ks->gemm_ukernel.nr, KC = ks->gemm_kc;
    const int MC = ks->gemm_mc / MR * MR, NCP = ks->gemm_nc / NR;
    const int mpanels = (m + MR - 1) / MR, npanels = cols->ppi * cols->count;

    if ((double)m * cols->n * cols->count * k < 64.0 * 64 * 64) nt = 1;
    const int split_rows = mpanels >= npanels;
    if (nt > (split_rows ? mpanels : npanels)) nt = split_rows ? mpanels : npanels;

    const int kc_max = k < KC ? k : KC, mc_max = m < MC ? m : MC;
    const size_t b_need = (size_t)kc_max * NR * (npanels < NCP ? npanels : NCP);
    const size_t a_need = (size_t)kc_max * ((mc_max + MR - 1) / MR * MR);
    const int ldt = (cols->n + 15) / 16 * 16;
    if (grow(&ws.b, &ws.b_cap, b_need * (size_t)nt) ||
        grow(&ws.a, &ws.a_cap, a_need * (size_t)nt) ||
        (transposed_c && grow(&ws.t, &ws.t_cap, (size_t)m * ldt))) {
        if (aprep) {   /* the reference needs A as it was: unpack it, one image at a time */
            for (int i = 0; i < cols->count; i++)
                for (int r = 0; r < m; r++)
                    for (int j = 0; j < cols->n; j++) {
                        double sum = 0;
                        for (int p = 0; p < k; p++)
                            sum += (double)ndx__sgemm_prepacked_at(aprep, m, k, r, p) *
                                   b[i * cols->b_stride + (size_t)p * ldb + j];
                        float *cij = c + i * cols->c_stride + (size_t)r * ldc + j;
                        *cij = (float)(alpha * sum + (beta == 0.0f ? 0.0 : (double)beta * *cij));
                    }
            return;
        }
        /* No memory for packing: the reference kernel needs none (given
         * the problem as ndx_sgemm received it when C is transposed). */
        for (int i = 0; i < cols->count; i++)
            if (transposed_c)
                ndx_f32_gemm__ref(!trans_b, !trans_a, cols->n, m, k, alpha, b, ldb, a, lda,
                                  beta, c, ldc);
            else
                ndx_f32_gemm__ref(trans_a, trans_b, m, cols->n, k, alpha, a, lda,
                                  b + i * cols->b_stride, ldb, beta, c + i * cols->c_stride, ldc);
        return;
    }
    float *const abuf = ws.a, *const bbuf = ws.b, *const tbuf = ws.t;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
#else
        const int tid = 0, nth = 1;
#endif
        int r0 = 0, r1 = m, q0 = 0, q1 = npanels;
        if (split_rows) {
            r0 = (int)((long)mpanels * tid / nth) * MR;
            r1 = (int)((long)mpanels * (tid + 1) / nth) * MR;
            if (r1 > m) r1 = m;
        } else {
            q0 = (int)((long)npanels * tid / nth);
            q1 = (int)((long)npanels * (tid + 1) / nth);
        }
        if (r0 < r1 && q0 < q1) {
            const float *at = !a ? NULL : trans_a ? a + r0 : a + (size_t)r0 * lda;
            const prepacked pre = {aprep, r0, m / MR * MR};
            float *const ct = transposed_c ? tbuf + (size_t)r0 * ldt : c + (size_t)r0 * ldc;
            block(ks, trans_a, trans_b, r1 - r0, k, alpha, at, lda, b, ldb,
                  transposed_c ? 0.0f : beta, ct, transposed_c ? ldt : ldc, cols, q0, q1,
                  abuf + (size_t)tid * a_need, bbuf + (size_t)tid * b_need,
                  aprep ? &pre : NULL);
            if (transposed_c) {
                const int j1 = q1 * NR < cols->n ? q1 * NR : cols->n;
                store_transposed(r0, r1, q0 * NR, j1, tbuf, ldt, beta, c, ldc);
            }
        }
    }
}

/* ndx_sgemm on at most nt threads. */
static void sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta,
                  float *c, int ldc, int nt)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    const ndx_kernel_table *ks = ndx_kernels();
    const int MR = ks->gemm_ukernel.mr, NR = ks->gemm_ukernel.nr;
    const int he = ks->gemm_half_edge, rs = ks->gemm_row_step;
    if (tile_use(n, m, MR, NR, he, rs) > 1.1 * tile_use(m, n, MR, NR, he, rs)) {
        const columns cols = {m, (m + NR - 1) / NR, 1, 0, 0};
        gemm(!trans_b, !trans_a, n, k, alpha, b, ldb, a, lda, beta, c, ldc, 1, &cols, nt, NULL);
    } else {
        const columns cols = {n, (n + NR - 1) / NR, 1, 0, 0};
        gemm(trans_a, trans_b, m, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, &cols, nt, NULL);
    }
}

void ndx_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc)
{
    ndx__ensure_init();
    sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ndx_get_threads());
}

void ndx__sgemm_batch(int trans_a, int m, int n, int k, float alpha, const float *a,
                      int lda, int count, const float *b, int ldb, size_t b_stride,
                      float beta, float *c, int ldc, size_t c_stride)
{
    if (m <= 0 || n <= 0 || count <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        for (int i = 0; i < count; i++) scale_c(m, n, beta, c + i * c_stride, ldc);
        return;
    }
    ndx__ensure_init();
    if (count == 1) {   /* one image: ndx_sgemm's choice of orientation */
        sgemm(trans_a, 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ndx_get_threads());
        return;
    }
    const int NR = ndx_kernels()->gemm_ukernel.nr;
    const columns cols = {n, (n + NR - 1) / NR, count, b_stride, c_stride};
    gemm(trans_a, 0, m, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, &cols, ndx_get_threads(),
         NULL);
}

void ndx__sgemm_many(int count, int m, int n, int k, const float *a, int lda,
                     size_t a_stride, const float *b, int ldb, size_t b_stride,
                     float *c, int ldc, size_t c_stride)
{
    ndx__ensure_init();
    const int nt = ndx_get_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1 && count > 1) schedule(static)
    for (int i = 0; i < count; i++)
        sgemm(0, 0, m, n, k, 1.0f, a + i * a_stride, lda, b + i * b_stride, ldb, 0.0f,
              c + i * c_stride, ldc, 1);
}

void ndx__sgemm_many_prepacked(int count, int m, int n, int k, const float *ap,
                               size_t a_stride, const float *b, int ldb, size_t b_stride,
                               float *c, int ldc, size_t c_stride)
{
    if (m <= 0 || n <= 0 || count <= 0) return;
    ndx__ensure_init();
    const int nt = ndx_get_threads();
    const columns cols = {n, (n + ndx_kernels()->gemm_ukernel.nr - 1) /
                                 ndx_kernels()->gemm_ukernel.nr, 1, 0, 0};
#pragma omp parallel for num_threads(nt) if (nt > 1 && count > 1) schedule(static)
    for (int i = 0; i < count; i++) {
        if (k <= 0)
            scale_c(m, n, 0.0f, c + i * c_stride, ldc);
        else
            gemm(0, 0, m, k, 1.0f, NULL, k, b + i * b_stride, ldb, 0.0f, c + i * c_stride, ldc,
                 0, &cols, 1, ap + i * a_stride);
    }
}

/* ---- prepacked A ------------------------------------------------------------

 * Layout, for the current set's MR and KC (k cut as the driver cuts it):
 * for each k block [pc, pc + kc), the full = m / MR * MR rows in MR-row
 * panels (panel at pc * full + r * kc, element [p * MR + i]), then the last
 * m - full rows raw, row-major, at full * k.  Exactly m * k floats. */

void ndx__sgemm_prepack_params(int *mr, int *kc)
{
    ndx__ensure_init();
    const ndx_kernel_table *ks = ndx_kernels();
    *mr = ks->gemm_ukernel.mr;
    *kc = ks->gemm_kc;
}

void ndx__sgemm_prepack(int m, int k, const float *a, float *dst)
{
    ndx__ensure_init();
    const ndx_kernel_table *ks = ndx_kernels();
    const int MR = ks->gemm_ukernel.mr, KC = balanced_kc(k, ks->gemm_kc), full = m / MR * MR;
    for (int pc = 0; pc < k; pc += KC) {
        const int kc = k - pc < KC ? k - pc : KC;
        pack_a(ks->gemm_pack.fn, 0, a, k, 0, full, pc, kc, MR, dst + (size_t)pc * full);
    }
    memcpy(dst + (size_t)full * k, a + (size_t)full * k, (size_t)(m - full) * k * sizeof *a);
}

float ndx__sgemm_prepacked_at(const float *ap, int m, int k, int r, int p)
{
    const ndx_kernel_table *ks = ndx_kernels();
    const int MR = ks->gemm_ukernel.mr, KC = balanced_kc(k, ks->gemm_kc), full = m / MR * MR;
    if (r >= full) return ap[(size_t)full * k + (size_t)(r - full) * k + p];
    const int pc = p / KC * KC, kc = k - pc < KC ? k - pc : KC;
    return ap[(size_t)pc * full + (size_t)(r / MR * MR) * kc + (size_t)(p - pc) * MR + r % MR];
}

void ndx__sgemm_batch_prepacked(int m, int n, int k, const float *ap, int count,
                                const float *b, int ldb, size_t b_stride, float *c, int ldc,
                                size_t c_stride)
{
    if (m <= 0 || n <= 0 || count <= 0) return;
    if (k <= 0) {
        for (int i = 0; i < count; i++) scale_c(m, n, 0.0f, c + i * c_stride, ldc);
        return;
    }
    ndx__ensure_init();
    const int NR = ndx_kernels()->gemm_ukernel.nr;
    const columns cols = {n, (n + NR - 1) / NR, count, b_stride, c_stride};
    gemm(0, 0, m, k, 1.0f, NULL, k, b, ldb, 0.0f, c, ldc, 0, &cols, ndx_get_threads(), ap);
}
