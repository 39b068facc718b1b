/* Private helpers of the library (not installed). */
#ifndef NDX_CORE_H
#define NDX_CORE_H

#include "netdx.h"

/* Records a detail message for the calling thread and returns st. */
ndx_status ndx__fail(ndx_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Lazy ndx_init(): runs once, keeps going on a bad setting. */
void ndx__ensure_init(void);

/* count GEMMs sharing A: C_i = alpha * op(A) B_i + beta * C_i for
 * i < count, B_i = b + i*b_stride (k x n, row stride ldb, not transposed),
 * C_i = c + i*c_stride (m x n, row stride ldc).  A is packed once for all. */
void ndx__sgemm_batch(int trans_a, int m, int n, int k, float alpha, const float *a,
                      int lda, int count, const float *b, int ldb, size_t b_stride,
                      float beta, float *c, int ldc, size_t c_stride);

#endif
