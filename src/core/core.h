/* Private helpers of the library (not installed). */
#ifndef NDX_CORE_H
#define NDX_CORE_H

#include "netdx.h"

/* Records a detail message for the calling thread and returns st. */
ndx_status ndx__fail(ndx_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A worker thread's failure reported by another thread: msg =
 * ndx__strf("%s", ndx_last_error()) in the worker, then
 * ndx__fail_take(st, msg) in the reporter, which takes msg over (NULL: a
 * message saying it was lost) and returns st. */
ndx_status ndx__fail_take(ndx_status st, char *msg);
/* printf into a new string (free it): paths and names of any length, no
 * fixed buffer.  NULL (and a message) when out of memory. */
char *ndx__strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Validation of one field read from a file, the check every loader makes
 * before it uses a value: NDX_OK, or NDX_ERR_FORMAT "<path>: <field> is
 * <v>, outside lo..hi" (field: a printf format and its arguments).
 * ndx__field_real also refuses a value that is not finite. */
ndx_status ndx__field_int(const char *path, int64_t v, int64_t lo, int64_t hi, const char *field,
                          ...) __attribute__((format(printf, 5, 6)));
ndx_status ndx__field_real(const char *path, double v, double lo, double hi, const char *field,
                           ...) __attribute__((format(printf, 5, 6)));
/* The limit of decoded pixels per image (NETDX_MAX_PIXELS, read at init;
 * NDX_DEFAULT_MAX_PIXELS when unset). */
int64_t ndx__max_pixels(void);
/* Lazy ndx_init(): runs once, keeps going on a bad setting. */
void ndx__ensure_init(void);

/* count GEMMs sharing A: C_i = alpha * op(A) B_i + beta * C_i for
 * i < count, B_i = b + i*b_stride (k x n, row stride ldb, not transposed),
 * C_i = c + i*c_stride (m x n, row stride ldc).  A is packed once for all. */
void ndx__sgemm_batch(int trans_a, int m, int n, int k, float alpha, const float *a,
                      int lda, int count, const float *b, int ldb, size_t b_stride,
                      float beta, float *c, int ldc, size_t c_stride);

/* count independent GEMMs C_i = A_i B_i (A_i m x k, B_i k x n, C_i m x n,
 * none transposed; X_i = x + i*x_stride), spread over the threads, each
 * computed by one thread: results do not depend on the thread count. */
void ndx__sgemm_many(int count, int m, int n, int k, const float *a, int lda,
                     size_t a_stride, const float *b, int ldb, size_t b_stride,
                     float *c, int ldc, size_t c_stride);

/* The same with each A_i prepacked (ndx__sgemm_prepack, m x k) at
 * ap + i*a_stride: alpha 1, beta 0. */
void ndx__sgemm_many_prepacked(int count, int m, int n, int k, const float *ap,
                               size_t a_stride, const float *b, int ldb, size_t b_stride,
                               float *c, int ldc, size_t c_stride);

/* Forward convolution algorithm: NETDX_CONV=auto|im2col|winograd, read at
 * init (a setting of init.c, which conv.c reads: init.c knows nothing of
 * convolutions); ndx__conv_set_algo() overrides it (tests, benches). */
typedef enum { NDX__CONV_AUTO, NDX__CONV_IM2COL, NDX__CONV_WINOGRAD } ndx__conv_algo;
void ndx__conv_set_algo(ndx__conv_algo a);
ndx__conv_algo ndx__conv_get_algo(void);

/* Winograd F(2x2, 3x3) forward (src/core/winograd.c), for descriptions
 * ndx__winograd_fits() accepts: 3x3, stride 1, dilation 1, one group. */
int ndx__winograd_fits(const ndx_conv2d_desc *d);
/* Whether the auto choice takes it (the shape rule, see winograd.c). */
int ndx__winograd_wins(const ndx_conv2d_desc *d);
size_t ndx__winograd_workspace(const ndx_conv2d_desc *d);
/* u (16 x K x C floats) = the transformed weights w (K, C, 3, 3), each
 * K x C matrix prepacked for the current kernel set (ndx__sgemm_prepack);
 * scratch: K x C floats. */
void ndx__winograd_weights(const ndx_conv2d_desc *d, const float *w, float *u, float *scratch);
/* u: w transformed already, or NULL (w is transformed into ws). */
void ndx__winograd_forward(const ndx_conv2d_desc *d, const float *x, const float *w,
                           const float *u, const float *bias, float *y, float *ws);
/* Whether ndx_conv2d_forward of a checked d takes Winograd now. */
int ndx__conv_uses_winograd(const ndx_conv2d_desc *d);

/* A (m x k, row-major, lda = k) packed once for many GEMMs (constant
 * weights): ndx__sgemm_prepack writes exactly m * k floats to dst (not a)
 * in the current kernel set's panel layout, valid while its MR and KC
 * (ndx__sgemm_prepack_params) stay; ndx__sgemm_batch_prepacked is
 * ndx__sgemm_batch with alpha 1, beta 0, A not transposed, read from there;
 * ndx__sgemm_prepacked_at reads element (r, p) back. */
void ndx__sgemm_prepack_params(int *mr, int *kc);
void ndx__sgemm_prepack(int m, int k, const float *a, float *dst);
float ndx__sgemm_prepacked_at(const float *ap, int m, int k, int r, int p);
void ndx__sgemm_batch_prepacked(int m, int n, int k, const float *ap, int count,
                                const float *b, int ldb, size_t b_stride, float *c, int ldc,
                                size_t c_stride);
/* ndx_conv2d_forward with w's Winograd transform u (ndx__winograd_weights) when that
 * path is taken (u may be NULL: transformed per call; ignored by im2col).
 * w_packed: w is the K x (C kh kw) matrix prepacked (ndx__sgemm_prepack);
 * only for one group and layers that do not take Winograd now. */
ndx_status ndx__conv2d_forward_u(const ndx_conv2d_desc *d, const float *x, const float *w,
                                 int w_packed, const float *u, const float *bias, float *y,
                                 float *ws);

#endif
