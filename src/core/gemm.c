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
 */
#include <string.h>

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
} gemm_ws;

static _Thread_local gemm_ws ws;

static int grow(float **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    float *q = ndx_alloc(need * sizeof(float));
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

/* Fraction of the microkernel tiles' area that is useful for m x n. */
static double tile_use(int m, int n, int mr, int nr)
{
    return (double)m / ((m + mr - 1) / mr * mr) * n / ((n + nr - 1) / nr * nr);
}

/* Adds the mr x nr tile t (row stride nr) transposed into C:
 * C[j][i] = t[i][j] + beta * C[j][i] (C not read when beta is 0). */
static void store_transposed(int mr, int nr, int NR, const float *t, float beta,
                             float *c, int ldc)
{
    for (int j = 0; j < nr; j++) {
        float *cj = c + (size_t)j * ldc;
        for (int i = 0; i < mr; i++)
            cj[i] = beta == 0.0f ? t[i * NR + j] : t[i * NR + j] + beta * cj[i];
    }
}

#define TILE_MAX 1024   /* floats: the largest MR x NR of any kernel set */

/* k split into equal blocks of at most kc_max (no short last block). */
static int balanced_kc(int k, int kc_max)
{
    const int blocks = (k + kc_max - 1) / kc_max;
    return (k + blocks - 1) / blocks;
}

/* One thread's GEMM on its block of C, with its own packing buffers.
 * transposed_c: C is stored transposed, element (i, j) at c[j*ldc + i]. */
static void block(const ndx_kernel_table *ks, int trans_a, int trans_b, int m, int n,
                  int k, float alpha, const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc, int transposed_c, float *apack,
                  float *bpack)
{
    const ndx_gemm_ukernel_fn ukernel = ks->gemm_ukernel.fn;
    const ndx_gemm_pack_fn pack = ks->gemm_pack.fn;
    const int MR = ks->gemm_ukernel.mr, NR = ks->gemm_ukernel.nr;
    const int MC = ks->gemm_mc / MR * MR, NC = ks->gemm_nc / NR * NR;
    const int KC = balanced_kc(k, ks->gemm_kc);
    const int direct_b = !trans_b && m <= MC;
    for (int jc = 0; jc < n; jc += NC) {
        const int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            const int kc = k - pc < KC ? k - pc : KC;
            const float beta_eff = pc == 0 ? beta : 1.0f;
            /* With one block of rows, each B panel is used once: full panels
             * of a non-transposed B are read in place, only a partial last
             * panel is packed. */
            for (int jr = 0; jr < nc; jr += NR)
                if (!direct_b || nc - jr < NR)
                    pack_b_panel(pack, trans_b, b, ldb, pc, kc, jc + jr,
                                 nc - jr < NR ? nc - jr : NR, NR, bpack + (size_t)jr * kc);
            for (int ic = 0; ic < m; ic += MC) {
                const int mc = m - ic < MC ? m - ic : MC;
                pack_a(pack, trans_a, a, lda, ic, mc, pc, kc, MR, apack);
                for (int jr = 0; jr < nc; jr += NR) {
                    const int nr = nc - jr < NR ? nc - jr : NR;
                    const int in_place = direct_b && nr == NR;
                    const float *bp = in_place ? b + (size_t)pc * ldb + jc + jr
                                               : bpack + (size_t)jr * kc;
                    const int bstride = in_place ? ldb : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        const int mr = mc - ir < MR ? mc - ir : MR;
                        const float *ap = apack + (size_t)ir * kc;
                        const size_t i = (size_t)(ic + ir), j = (size_t)(jc + jr);
                        if (!transposed_c) {
                            ukernel(mr, nr, kc, alpha, ap, bp, bstride, beta_eff, c + i * ldc + j, ldc);
                        } else {
                            float tile[TILE_MAX];
                            ukernel(mr, nr, kc, alpha, ap, bp, bstride, 0.0f, tile, NR);
                            store_transposed(mr, nr, NR, tile, beta_eff, c + j * ldc + i, ldc);
                        }
                    }
                }
            }
        }
    }
}

/* The driver: C is cut into one block of whole MR rows (or NR columns) per
 * thread and every thread runs the BLIS loops on its block with its own
 * packing buffers, without barriers: each element of C is written by one
 * thread in a fixed order, so results do not depend on the thread count.
 * Re-packing the shared operand per thread costs O(k*n) (or O(m*k)) per
 * thread beside O(m*n*k / threads) of arithmetic. */
static void gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc, int transposed_c)
{
    const ndx_kernel_table *ks = ndx_kernels();
    const int MR = ks->gemm_ukernel.mr, NR = ks->gemm_ukernel.nr, KC = ks->gemm_kc;
    const int MC = ks->gemm_mc / MR * MR, NC = ks->gemm_nc / NR * NR;

    int nt = ndx_get_threads();
    if ((double)m * n * k < 64.0 * 64 * 64) nt = 1;
    const int mpanels = (m + MR - 1) / MR, npanels = (n + NR - 1) / NR;
    const int split_rows = mpanels >= npanels;
    if (nt > (split_rows ? mpanels : npanels)) nt = split_rows ? mpanels : npanels;

    const int kc_max = k < KC ? k : KC;
    const int nc_max = n < NC ? n : NC, mc_max = m < MC ? m : MC;
    const size_t b_need = (size_t)kc_max * ((nc_max + NR - 1) / NR * NR);
    const size_t a_need = (size_t)kc_max * ((mc_max + MR - 1) / MR * MR);
    if (grow(&ws.b, &ws.b_cap, b_need * (size_t)nt) ||
        grow(&ws.a, &ws.a_cap, a_need * (size_t)nt)) {
        /* No memory for packing: the reference kernel needs none. */
        ndx_f32_gemm__ref(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    float *const abuf = ws.a, *const bbuf = ws.b;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
#else
        const int tid = 0, nth = 1;
#endif
        int r0 = 0, r1 = m, c0 = 0, c1 = n;
        if (split_rows) {
            r0 = (int)((long)mpanels * tid / nth) * MR;
            r1 = (int)((long)mpanels * (tid + 1) / nth) * MR;
            if (r1 > m) r1 = m;
        } else {
            c0 = (int)((long)npanels * tid / nth) * NR;
            c1 = (int)((long)npanels * (tid + 1) / nth) * NR;
            if (c1 > n) c1 = n;
        }
        if (r0 < r1 && c0 < c1) {
            const float *at = trans_a ? a + r0 : a + (size_t)r0 * lda;
            const float *bt = trans_b ? b + (size_t)c0 * ldb : b + c0;
            float *ct = transposed_c ? c + (size_t)c0 * ldc + r0 : c + (size_t)r0 * ldc + c0;
            block(ks, trans_a, trans_b, r1 - r0, c1 - c0, k, alpha, at, lda, bt, ldb, beta,
                  ct, ldc, transposed_c, abuf + (size_t)tid * a_need,
                  bbuf + (size_t)tid * b_need);
        }
    }
}

void ndx_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    ndx__ensure_init();
    const ndx_kernel_table *ks = ndx_kernels();
    const int MR = ks->gemm_ukernel.mr, NR = ks->gemm_ukernel.nr;
    if (MR * NR <= TILE_MAX && tile_use(n, m, MR, NR) > 1.1 * tile_use(m, n, MR, NR))
        gemm(!trans_b, !trans_a, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc, 1);
    else
        gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0);
}
