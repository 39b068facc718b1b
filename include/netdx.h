/* netdx — interpretable medical CNNs on the CPU.
 *
 * USAGE
 *
 *     #include <netdx.h>
 *
 *     if (ndx_init() != NDX_OK) {            // reads NETDX_KERNELS, NETDX_THREADS
 *         fprintf(stderr, "netdx: %s\n", ndx_last_error());
 *         return 1;
 *     }
 *     // C[m x n] = A[m x k] * B[k x n], row-major, like cblas_sgemm
 *     ndx_sgemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
 *
 * Link with `pkg-config --cflags --libs netdx`.
 *
 * Conventions: public names start with ndx_.  Every fallible call returns an
 * ndx_status (0 ok, negative error) and leaves a message for the calling
 * thread in ndx_last_error() naming the file, field or shape at fault.  The
 * library never exits and never prints.  Tensors are NCHW float32, 64-byte
 * aligned.  Randomness comes only from explicitly seeded ndx_rng states.
 */
#ifndef NETDX_H
#define NETDX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NDX_VERSION "0.1.0"

/* ---- status and errors --------------------------------------------------- */
typedef enum ndx_status {
    NDX_OK = 0,
    NDX_ERR_NOMEM = -1,       /* allocation failed */
    NDX_ERR_INVALID = -2,     /* a bad argument or setting */
    NDX_ERR_SHAPE = -3,       /* tensor shapes do not fit together */
    NDX_ERR_IO = -4,          /* a file could not be read or written */
    NDX_ERR_FORMAT = -5,      /* a file's content is malformed */
    NDX_ERR_UNSUPPORTED = -6  /* not available on this CPU or build */
} ndx_status;

/* A short fixed description of a status code. */
const char *ndx_status_str(ndx_status s);
/* The calling thread's detail message of its last failure ("" if none). */
const char *ndx_last_error(void);

/* ---- set-up ---------------------------------------------------------------- */
/* Chooses the kernel set and the thread count.  NETDX_KERNELS=ref|avx2|neon
 * forces a set (one this CPU lacks is NDX_ERR_UNSUPPORTED); NETDX_THREADS=N
 * (1..1024) sets the threads.  Calls that need kernels initialise lazily with
 * the same rules, falling back to the automatic choice on a bad setting:
 * call ndx_init() to see such errors. */
ndx_status ndx_init(void);
const char *ndx_version(void);
/* Name of the kernel set in use: "ref", "avx2" or "neon". */
const char *ndx_kernel_set(void);
/* One line naming the CPU features dispatch looked at. */
void ndx_cpu_features(char *buf, size_t n);

/* ---- threads ----------------------------------------------------------- */
/* Threads used by parallel loops, 1..1024 (NDX_ERR_INVALID otherwise). */
ndx_status ndx_set_threads(int n);
int ndx_get_threads(void);

/* ---- memory ------------------------------------------------------------ */
/* 64-byte aligned; NULL (and a message) on failure or bytes == 0. */
void *ndx_alloc(size_t bytes);
void ndx_free(void *p);

/* A bump allocator over one aligned block: size first, allocate once. */
typedef struct ndx_arena {
    unsigned char *base;
    size_t size, used, peak;
} ndx_arena;
ndx_status ndx_arena_init(ndx_arena *a, size_t bytes);
/* 64-byte aligned pieces; NULL with NDX_ERR_NOMEM's message when full. */
void *ndx_arena_alloc(ndx_arena *a, size_t bytes);
/* Frees everything allocated after the mark (a value of a->used). */
void ndx_arena_reset(ndx_arena *a, size_t mark);
void ndx_arena_free(ndx_arena *a);

/* ---- tensors ------------------------------------------------------------ */
#define NDX_MAX_DIMS 4
/* float32, up to 4 dimensions (NCHW), strides in elements.  owned: data was
 * allocated by ndx_tensor_alloc and is freed by ndx_tensor_free. */
typedef struct ndx_tensor {
    float *data;
    int ndim;
    int64_t shape[NDX_MAX_DIMS];
    int64_t stride[NDX_MAX_DIMS];
    int owned;
} ndx_tensor;

/* A new zeroed contiguous tensor. */
ndx_status ndx_tensor_alloc(ndx_tensor *t, int ndim, const int64_t *shape);
/* A contiguous tensor over memory owned elsewhere (e.g. an arena). */
ndx_status ndx_tensor_view(ndx_tensor *t, float *data, int ndim,
                           const int64_t *shape);
/* Items [first, first+count) of dimension 0 of src, sharing its memory. */
ndx_status ndx_tensor_narrow(ndx_tensor *view, const ndx_tensor *src,
                             int64_t first, int64_t count);
void ndx_tensor_free(ndx_tensor *t);
int64_t ndx_tensor_numel(const ndx_tensor *t);
int ndx_tensor_is_contiguous(const ndx_tensor *t);
/* "(2,3,224,224)" into buf, for messages. */
const char *ndx_tensor_shape_str(const ndx_tensor *t, char *buf, size_t n);

/* ---- random numbers ---------------------------------------------------- */
/* xoshiro256** seeded through splitmix64; the state is the caller's. */
typedef struct ndx_rng { uint64_t s[4]; } ndx_rng;
void ndx_rng_seed(ndx_rng *r, uint64_t seed);
uint64_t ndx_rng_u64(ndx_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t ndx_rng_below(ndx_rng *r, uint64_t n);
/* Uniform in [0, 1), 53 random bits. */
double ndx_rng_uniform(ndx_rng *r);
/* Standard normal (Box-Muller, no cached second value). */
double ndx_rng_normal(ndx_rng *r);

/* ---- hashing (XXH3-64) -------------------------------------------------- */
uint64_t ndx_hash64(const void *data, size_t len, uint64_t seed);
uint64_t ndx_hash_str(const char *s, uint64_t seed);
typedef struct ndx_hasher ndx_hasher;   /* streaming; opaque */
ndx_hasher *ndx_hasher_new(uint64_t seed);
void ndx_hasher_update(ndx_hasher *h, const void *data, size_t len);
uint64_t ndx_hasher_digest(const ndx_hasher *h);
void ndx_hasher_free(ndx_hasher *h);

/* ---- GEMM -------------------------------------------------------------- */
/* C = alpha * op(A) * op(B) + beta * C, row-major (cblas_sgemm with
 * CblasRowMajor); op(X) = X, or X^T when trans_x is 1.  op(A) is m x k,
 * op(B) is k x n.  beta == 0: C is not read.  Uses ndx_get_threads(). */
void ndx_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc);

/* ---- convolution -------------------------------------------------------- */
/* 2-D convolution on NCHW float32, as torch.nn.functional.conv2d:
 *   x (N, C, H, W), w (K, C/groups, KH, KW), bias (K) or NULL,
 *   y (N, K, OH, OW), OH = (H + 2*PH - DH*(KH-1) - 1) / SH + 1 (likewise OW).
 * Forward is im2col + GEMM (1x1 stride-1 unpadded convolutions skip im2col)
 * with bias and optional ReLU fused into the epilogue.  ws is caller-owned
 * scratch of ndx_conv2d_workspace() floats (may be NULL when that is 0):
 * nothing is allocated per call.  Threads: ndx_get_threads(). */
typedef struct ndx_conv2d_desc {
    int n, c, h, w;       /* input */
    int k;                /* output channels */
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int groups;           /* C and K divisible by groups */
    int relu;             /* forward: y = max(conv + bias, 0) */
} ndx_conv2d_desc;

/* Checks the description (sizes positive, groups dividing C and K, kernel
 * fitting the padded input); NDX_ERR_SHAPE naming the field otherwise. */
ndx_status ndx_conv2d_check(const ndx_conv2d_desc *d);
int ndx_conv2d_out_h(const ndx_conv2d_desc *d);
int ndx_conv2d_out_w(const ndx_conv2d_desc *d);
/* Floats of scratch the forward and both backward calls need. */
size_t ndx_conv2d_workspace(const ndx_conv2d_desc *d);
ndx_status ndx_conv2d_forward(const ndx_conv2d_desc *d, const float *x,
                              const float *w, const float *bias, float *y,
                              float *ws);
/* dx (N, C, H, W) = gradient of the input from dy (N, K, OH, OW); overwrites dx. */
ndx_status ndx_conv2d_backward_data(const ndx_conv2d_desc *d, const float *dy,
                                    const float *w, float *dx, float *ws);
/* dw (K, C/groups, KH, KW) and dbias (K, or NULL) from x and dy, summed over
 * the batch; accumulate = 1 adds to dw/dbias, 0 overwrites them. */
ndx_status ndx_conv2d_backward_weight(const ndx_conv2d_desc *d, const float *x,
                                      const float *dy, float *dw, float *dbias,
                                      float *ws, int accumulate);

#ifdef __cplusplus
}
#endif
#endif
