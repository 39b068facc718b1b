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

/* The version of these headers; ndx_version() gives the library's.
 * NDX_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH, for #if. */
#define NDX_VERSION_MAJOR 0
#define NDX_VERSION_MINOR 1
#define NDX_VERSION_PATCH 0
#define NDX_VERSION_NUMBER \
    (NDX_VERSION_MAJOR * 10000 + NDX_VERSION_MINOR * 100 + NDX_VERSION_PATCH)
#define NDX_VERSION "0.1.0"

/* The library is built with -fvisibility=hidden: what the public headers
 * declare between the visibility push and pop is exported, nothing else
 * (docs/api.md).  NDX_API marks a public declaration made elsewhere. */
#if defined(__GNUC__)
#ifndef NDX_API
#define NDX_API __attribute__((visibility("default")))
#endif
#pragma GCC visibility push(default)
#else
#define NDX_API
#endif

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
/* The calling thread's detail message of its last failure ("" if none),
 * whole however long (no fixed buffer); valid until that thread's next
 * failure, and may itself be an argument of the next message. */
const char *ndx_last_error(void);

/* ---- set-up ---------------------------------------------------------------- */
/* Chooses the kernel set and the thread count.  NETDX_KERNELS=ref|avx2|avx512|neon
 * forces a set (one this CPU lacks is NDX_ERR_UNSUPPORTED); NETDX_THREADS=N
 * (1..1024) sets the threads; NETDX_MAX_PIXELS=N the largest image decoded
 * (see ndx_png_read); NETDX_CONV=auto|im2col|winograd the convolution.  A
 * bad value of any is refused.  Calls that need kernels initialise lazily with
 * the same rules, falling back to the automatic choice on a bad setting:
 * call ndx_init() to see such errors. */
ndx_status ndx_init(void);
const char *ndx_version(void);
/* Name of the kernel set in use: "ref", "avx2", "avx512" or "neon". */
const char *ndx_kernel_set(void);
/* Why that set: chosen as the best this CPU runs or forced by
 * NETDX_KERNELS, the CPUID / XCR0 facts behind it, and the slots it takes
 * from its parent set (avx512 runs avx2's kernels where it has none). */
void ndx_kernel_set_why(char *buf, size_t n);
/* The i-th kernel set this build knows (0, 1, ...): its name in *name and
 * why it runs here or not in why; 1 runs, 0 does not, -1 past the last. */
int ndx_kernel_set_at(int i, const char **name, char *why, size_t n);
/* One line naming the CPU features dispatch looked at. */
void ndx_cpu_features(char *buf, size_t n);

/* ---- threads ----------------------------------------------------------- */
/* Threads used by parallel loops, 1..1024 (NDX_ERR_INVALID otherwise). */
ndx_status ndx_set_threads(int n);
int ndx_get_threads(void);
/* The FMA peak of the kernel set in use (ndx_kernel_set()), GFLOP/s, on
 * `threads` threads at once (1..1024): each runs the set's probe (enough
 * independent FMA chains in registers to fill the FMA ports) for about
 * `seconds` (0.001..60) per try; the best of five tries (a shared machine
 * only ever slows a try down).  The yardstick
 * of `netdx bench`'s "share of peak".  NDX_ERR_INVALID on a bad argument. */
ndx_status ndx_fma_peak(int threads, double seconds, double *gflops);

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
/* XXH3-64 of a file's bytes (the digest provenance records: the data a
 * checkpoint was trained on, the model and data of a dissection). */
ndx_status ndx_hash_file(const char *path, uint64_t seed, uint64_t *out);

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
 * Forward is im2col + GEMM (1x1 stride-1 unpadded convolutions skip im2col),
 * or Winograd F(2x2, 3x3) for 3x3 stride-1 ungrouped layers where it is
 * faster (NETDX_CONV=im2col|winograd forces one), with bias and optional
 * ReLU fused into the epilogue.  ws is caller-owned
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
/* The forward algorithm d gets: "winograd", "im2col", "gemm" (1x1 without
 * im2col) or "invalid" (d fails ndx_conv2d_check). */
const char *ndx_conv2d_algo(const ndx_conv2d_desc *d);
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

/* ---- images (PNG) ------------------------------------------------------- */
/* A grayscale image, row-major, one uint16_t per pixel, values 0..maxval
 * (255 for an 8-bit source, 65535 for 16-bit). */
typedef struct ndx_image {
    int w, h, maxval;
    uint16_t *px;
} ndx_image;
/* The default limit of decoded pixels per image: 64 Mpixel (a full-field
 * DDSM scan is at most about 6000 x 5000; decoding one costs 2 bytes per
 * pixel).  NETDX_MAX_PIXELS=N (1..2^40, read by ndx_init) changes it. */
#define NDX_PNG_MAX_PIXELS (64LL * 1024 * 1024)
/* Reads a PNG with libpng: 8- and 16-bit grayscale as they are; palette and
 * low-bit gray expanded, alpha dropped; RGB converted to gray (luma) with a
 * warning copied into warn (warn_n bytes; "" when none; warn may be NULL).
 * Images of more than max_pixels pixels (<= 0: NETDX_MAX_PIXELS, else
 * NDX_PNG_MAX_PIXELS) are refused from the header, before any allocation,
 * naming the file, its size and the limit.  Memory: 2 bytes per pixel.
 * Corrupt, truncated or non-PNG files are NDX_ERR_FORMAT naming the file;
 * only regular files are opened (a directory or FIFO is NDX_ERR_IO). */
ndx_status ndx_png_read(const char *path, int64_t max_pixels, ndx_image *img,
                        char *warn, size_t warn_n);
/* Width, height and bit depth from the header only. */
ndx_status ndx_png_size(const char *path, int *w, int *h, int *bits);
void ndx_image_free(ndx_image *img);
/* 16-bit grayscale (libpng) / 8-bit with 1 or 3 channels (stb_image_write),
 * written to a temporary file renamed into place. */
ndx_status ndx_png_write16(const char *path, const uint16_t *px, int w, int h);
ndx_status ndx_png_write8(const char *path, const uint8_t *px, int w, int h,
                          int channels);

/* ---- images: PNG or DICOM ------------------------------------------------ */
/* What a file says about its image besides the pixels; a PNG leaves the
 * DICOM fields unknown (0 or "").  DICOM tags named as (group,element). */
typedef struct ndx_image_meta {
    char format[8];            /* "png" or "dicom" */
    int width, height;
    int bits;                  /* PNG: bit depth; DICOM: (0028,0101) BitsStored */
    char photometric[16];      /* (0028,0004): MONOCHROME1 (inverted on reading
                                  to MONOCHROME2) or MONOCHROME2; PNG: "" */
    /* mm per pixel: (0028,0030) PixelSpacing, else (0018,1164)
     * ImagerPixelSpacing; 0: unknown (PNG, no tag, or rows and columns
     * spaced more than 1% apart: then warn says so) */
    double pixel_spacing_mm;
    char laterality[8];        /* LEFT or RIGHT from (0020,0062) ImageLaterality,
                                  else (0020,0060) Laterality; "" unknown */
    char view[16];             /* (0018,5101) ViewPosition as written: CC, MLO,
                                  ML, XCCL, ...; "" unknown */
    /* (0028,1050) WindowCenter and (0028,1051) WindowWidth, first values,
     * converted to the decoded pixel values (0..maxval, after rescale and
     * inversion) for display; width 0: none given */
    double window_center, window_width;
    char warn[256];            /* what was converted or ignored; "" none */
} ndx_image_meta;
/* Reads a mammogram or mask: a .dcm or .dicom file (or any file with
 * "DICM" at byte 128) as DICOM, anything else as PNG (ndx_png_read).
 * DICOM, through DCMTK: one frame, 1 sample per pixel, MONOCHROME1 or
 * MONOCHROME2, 1-16 bits stored, native or a transfer syntax this DCMTK
 * decodes (JPEG lossless and baseline, JPEG-LS, RLE; JPEG 2000 is not in
 * Debian's DCMTK); the stored values through (0028,1052/1053) rescale
 * intercept and slope are mapped linearly from the range they can take to
 * 0..65535 (maxval 65535; 16 unsigned bits with slope 1 and intercept 0
 * are kept as they are), MONOCHROME1 inverted so that bright is dense.
 * max_pixels as for ndx_png_read, checked from the header before any
 * pixel is decoded.  meta may be NULL.  A bad file is NDX_ERR_FORMAT
 * naming the file and the tag at fault (not DICOM, truncated pixel data,
 * colour, several frames, an undecodable transfer syntax); a build without
 * DICOM (make DICOM=0) gives NDX_ERR_UNSUPPORTED for DICOM files. */
ndx_status ndx_image_read(const char *path, int64_t max_pixels, ndx_image *img,
                          ndx_image_meta *meta);
/* Size and bits of a PNG or DICOM file from its header (no pixels decoded). */
ndx_status ndx_image_size(const char *path, int *w, int *h, int *bits);
/* Everything of ndx_image_meta from the header alone. */
ndx_status ndx_image_probe(const char *path, ndx_image_meta *meta);
/* 1 when this build reads DICOM (DCMTK), 0 when built with DICOM=0. */
int ndx_image_dicom_available(void);

/* ---- .npy ------------------------------------------------------------------
 * NumPy arrays: float32 little-endian, C order, 1 to 4 dimensions. */
ndx_status ndx_npy_read(const char *path, ndx_tensor *t);   /* t owned */
ndx_status ndx_npy_write(const char *path, const ndx_tensor *t);

/* ---- CSV ------------------------------------------------------------------ */
/* RFC 4180 reader: comma-separated, "quoted" fields with "" escapes and
 * newlines inside quotes, LF or CRLF line ends, a missing final newline. */
typedef struct ndx_csv ndx_csv;
ndx_status ndx_csv_open(const char *path, ndx_csv **out);
/* Over text in memory (copied); name is used in messages. */
ndx_status ndx_csv_open_mem(const char *text, size_t len, const char *name,
                            ndx_csv **out);
/* 1: a record was read; 0: end of input; < 0: an ndx_status (an unterminated
 * quote names the line it opened on). */
int ndx_csv_next(ndx_csv *c);
int ndx_csv_nfields(const ndx_csv *c);
/* Field i of the current record ("" past its end). */
const char *ndx_csv_field(const ndx_csv *c, int i);
/* Line (1-based) where the current record starts. */
long ndx_csv_line(const ndx_csv *c);
const char *ndx_csv_name(const ndx_csv *c);
void ndx_csv_close(ndx_csv *c);

/* ---- the io plan: outputs that destroy nothing, one run per output ------
 * Every stage lists what it reads and writes, then calls ndx_ioplan_begin
 * before any work.  It fails (naming both paths) when an output is an input
 * or another output (device and inode compared, symlinks followed; an
 * output not there yet by its folder's device and inode and its name) or a
 * folder output holds one; when an output's folder is missing or not
 * writable, a file output is a directory or a folder output a file.  Then
 * it locks every output (flock on "<folder>/.<name>.lock", which holds the
 * pid): a second run into the same output fails at once naming the first's
 * pid.  Last it removes temporaries "<name>.tmp.<pid>.*" left beside the
 * outputs by runs that died.  ndx_ioplan_free releases the locks. */
typedef struct ndx_ioplan ndx_ioplan;
enum {
    NDX_OUT_FILE = 0,     /* a file, replaced whole */
    NDX_OUT_DIR = 1,      /* a folder, replaced whole */
    NDX_OUT_MKDIRS = 2    /* the output's missing folders are created */
};
/* stage, e.g. "train": written into the lock files with the pid, so that
 * another run finding them held can say who holds them. */
ndx_status ndx_ioplan_new(const char *stage, ndx_ioplan **p);
/* what: how the user gave it ("--model", "patches.csv"); path NULL: none.
 * may_be: the `what` of an output this input may be (read whole before
 * that output replaces it, as train's --resume and --checkpoint), or NULL. */
ndx_status ndx_ioplan_input(ndx_ioplan *p, const char *what, const char *path,
                            const char *may_be);
/* flags: NDX_OUT_* or'ed. */
ndx_status ndx_ioplan_output(ndx_ioplan *p, const char *what, const char *path,
                             int flags);
ndx_status ndx_ioplan_begin(ndx_ioplan *p);
void ndx_ioplan_free(ndx_ioplan *p);

/* ---- plots (PNG, drawn by netdx: src/render) --------------------------- */
/* roc.png: the curve (fpr, tpr) of npoints points, the chance diagonal, axes
 * with ticks and "AUC = 0.xxxx"; title may be NULL. */
ndx_status ndx_plot_roc(const char *path, const double *fpr, const double *tpr,
                        size_t npoints, double auc, const char *title);
/* loss.png: training and validation loss per epoch (1..n), two colours and a
 * legend; val_loss may be NULL; NAN entries are skipped. */
ndx_status ndx_plot_loss(const char *path, const double *train_loss,
                         const double *val_loss, int n_epochs);

/* ---- manifest (one row per lesion, one per image without lesions) -------- */
/* Columns, in this order, with CBIS-DDSM's vocabularies:
 * patient_id, breast_density (1-4), left_or_right_breast (LEFT|RIGHT),
 * image_view (CC|MLO), abnormality_id, abnormality_type (mass|calcification|
 * distortion|asymmetry|other, empty without lesion), mass_shape,
 * mass_margins, calc_type, calc_distribution (codes joined by '-'),
 * assessment (0-5: the lesion's BI-RADS assessment, or the breast's for a
 * row without lesion), pathology (MALIGNANT|BENIGN|BENIGN_WITHOUT_CALLBACK),
 * subtlety (1-5, empty: unknown), image_path, mask_path (paths relative to
 * the manifest; PNG or DICOM, see ndx_image_read).
 * Then optional columns, by name, in any order (a manifest without them,
 * as older netdx wrote, reads with their defaults; the writer writes all):
 * pixel_spacing_mm (mm per pixel of the image, 0 or empty: unknown),
 * mask_kind (outline: the lesion's drawn outline; box: a bounding box, as
 * VinDr-Mammo gives; none: no lesion; empty: outline for a lesion, else
 * none), finding (the data set's own name of the finding, free text, e.g.
 * "Focal Asymmetry"), pathology_source (empty: the data set's pathology;
 * birads: derived from the assessment, 4-5 MALIGNANT and 2-3 BENIGN, where
 * the data set has no pathology). */
#define NDX_MANIFEST_COLUMNS 15
extern const char *const ndx_manifest_columns[NDX_MANIFEST_COLUMNS];
#define NDX_MANIFEST_EXTRA_COLUMNS 4
extern const char *const ndx_manifest_extra_columns[NDX_MANIFEST_EXTRA_COLUMNS];
enum { NDX_MASK_NONE = 0, NDX_MASK_OUTLINE = 1, NDX_MASK_BOX = 2 };
typedef struct ndx_manifest_row {
    char patient_id[64];
    int breast_density;        /* 1..4 */
    char side[8];              /* LEFT, RIGHT */
    char view[4];              /* CC, MLO */
    int abnormality_id;        /* >= 1; 0 without lesion */
    char abnormality_type[16]; /* mass, calcification, distortion, asymmetry,
                                  other, "" */
    char mass_shape[96], mass_margins[96], calc_type[96], calc_distribution[96];
    int assessment;            /* 0..5 */
    char pathology[32];        /* "" without lesion */
    int subtlety;              /* 1..5; 0 without lesion or unknown */
    char image_path[512], mask_path[512];
    double pixel_spacing_mm;   /* 0: unknown */
    int mask_kind;             /* NDX_MASK_*; 0 is made OUTLINE for a lesion */
    char finding[64];          /* the data set's name of the finding; "" */
    char pathology_source[16]; /* "" (the data set's) or "birads" */
} ndx_manifest_row;
typedef struct ndx_manifest {
    ndx_manifest_row *rows;
    size_t n, cap;
} ndx_manifest;
/* Reads and validates every row; NDX_ERR_FORMAT names file, line, column. */
ndx_status ndx_manifest_read(const char *path, ndx_manifest *m);
ndx_status ndx_manifest_write(const char *path, const ndx_manifest *m);
/* Appends a copy of r (checked like a read row). */
ndx_status ndx_manifest_add(ndx_manifest *m, const ndx_manifest_row *r);
void ndx_manifest_free(ndx_manifest *m);

/* Lesion kinds: mass (also abnormality_type asymmetry); calcification;
 * vessel (calc_type with VASCULAR); distortion (abnormality_type distortion,
 * or mass_shape exactly ARCHITECTURAL_DISTORTION).  abnormality_type other
 * (skin thickening, a lymph node, ...) has no kind: kept in the manifest,
 * left out of patches. */
enum { NDX_LESION_MASS, NDX_LESION_CALC, NDX_LESION_VESSEL,
       NDX_LESION_DISTORTION, NDX_LESION_KINDS };
/* Kind of a row's lesion, -1 when the row has none. */
int ndx_lesion_kind(const ndx_manifest_row *r);
const char *ndx_lesion_kind_name(int kind);   /* "mass", "calcification", ... */

/* ---- phantom generator ---------------------------------------------------- */
typedef struct ndx_synth_opts {
    int patients;         /* >= 1 */
    uint64_t seed;
    double pixel_um;      /* 50..400, default 100 (images ~1000 x 1600) */
    double normal_frac;   /* patients without lesions, default 0.5 */
    int dry_run;          /* 1: render but write nothing (benchmarks) */
    /* called from one thread at a time with images done so far, or NULL */
    void (*progress)(void *ctx, long done, long total);
    void *progress_ctx;
} ndx_synth_opts;
void ndx_synth_defaults(ndx_synth_opts *o);
typedef struct ndx_synth_stats {
    long patients, normal_patients, images, lesions;
    long density[4];                      /* patients per grade a..d */
    long kind[NDX_LESION_KINDS][2];       /* lesion rows: [kind][malignant] */
    int width, height;
} ndx_synth_stats;
/* Writes out_dir/images/, out_dir/masks/ (one PNG per lesion per view) and
 * out_dir/manifest.csv: per patient left and right, CC and MLO.  The same
 * seed gives the same files whatever the thread count. */
ndx_status ndx_synth(const char *out_dir, const ndx_synth_opts *o,
                     ndx_synth_stats *st);

/* ---- patches ----------------------------------------------------------- */
enum { NDX_SPLIT_TRAIN, NDX_SPLIT_VAL, NDX_SPLIT_TEST };
const char *ndx_split_name(int split);
/* The split of n patients (split[i] = NDX_SPLIT_* of ids[i]): ordered by
 * XXH3 of the id (ndx_hash_str with seed), cut exactly by count: val and
 * test round(n/10) each, at least one each from 3 patients on, train the
 * rest.  stratify (malignant[i] = 1 when patient i has a malignant lesion):
 * the malignant patients are cut by the same rule first (two: train and
 * val), the others fill the sizes.  Stable: a patient added moves at most a
 * few others across a cut.  ids must be distinct. */
ndx_status ndx_split_assign(const char *const *ids, const int *malignant, size_t n,
                            uint64_t seed, int stratify, int *split);
/* Breast/background threshold of an image (values <= it are background),
 * from its own histogram (all pixels, 0..maxval): Otsu's threshold splits
 * background from breast, then within the class below it the triangle rule
 * cuts at the foot of the background's peak (Otsu alone cuts into the
 * faint band inside the skin).  Works for 12-bit data in a 16-bit PNG and
 * for a background of exact zeros or of low noise.  An image without any
 * background (a crop inside the breast) loses its faintest tissue. */
ndx_status ndx_breast_threshold(const uint16_t *px, size_t n, int maxval, int *thr);

/* One lesion's mask over a w x h image (nonzero = lesion), for the rule. */
typedef struct ndx_lesion_mask {
    const uint8_t *mask;
    int kind, malignant;
} ndx_lesion_mask;
/* The label rule on box (x, y, bw, bh): 1 when >= label_frac of some
 * malignant lesion lies inside, or >= label_frac of the box is malignant
 * lesion (exact integer comparison at per-mille resolution).  overlap[k][m]
 * (may be NULL) gets the fraction of the box covered by lesions of kind k,
 * benign (m = 0) or malignant (m = 1). */
int ndx_patch_label_box(const ndx_lesion_mask *les, int n, int w, int h, int x,
                        int y, int bw, int bh, double label_frac,
                        float overlap[NDX_LESION_KINDS][2]);

typedef struct ndx_patch_opts {
    double window;        /* side, fraction of min(width, height); 0.25 */
    double window_mm;     /* > 0: the side in mm instead, through each image's
                             pixel_spacing_mm (refused when one is unknown) */
    double stride;        /* fraction of the window; 0.5 */
    double min_tissue;    /* drop patches with less breast; 0.5 */
    double label_frac;    /* 0.3 */
    uint64_t split_seed;  /* ndx_split_assign's seed; 0 */
    int stratify;         /* spread malignant patients over the splits; 0 */
    void (*progress)(void *ctx, long done, long total);
    void *progress_ctx;
} ndx_patch_opts;
void ndx_patch_defaults(ndx_patch_opts *o);

typedef struct ndx_patch {
    int image;            /* index into ndx_patch_index.images */
    int x, y, w, h;       /* box in pixels */
    int label;            /* 1 malignant */
    int split;            /* NDX_SPLIT_* */
    float tissue;         /* breast fraction of the box */
    float overlap[NDX_LESION_KINDS][2];   /* [kind][0 benign, 1 malignant] */
} ndx_patch;
typedef struct ndx_patch_image {
    char path[512];       /* relative to dir */
    char patient_id[64];
    int width, height;
    size_t first_row, nrows;   /* its rows in the manifest */
} ndx_patch_image;
typedef struct ndx_patch_index {
    char *dir;            /* the data folder, as given (owned) */
    ndx_manifest manifest;
    ndx_patch_image *images;
    size_t nimages;
    ndx_patch *patches;
    size_t n;
    uint64_t digest;      /* XXH3-64 (seed 0) of patches.csv as read */
} ndx_patch_index;
typedef struct ndx_patch_stats {
    long images, patches, positive, dropped, resampled_masks;
    long split_patients[3], split_patches[3], split_positive[3];
    long split_malignant_patients[3];
    double breast_frac_mean, breast_frac_min;   /* of the image above its threshold */
} ndx_patch_stats;
/* Reads dir/manifest.csv and every image and mask, writes dir/patches.csv.
 * Masks whose size differs from their image are resampled (nearest) and
 * counted in st->resampled_masks. */
ndx_status ndx_patches_build(const char *dir, const ndx_patch_opts *o,
                             ndx_patch_stats *st);
/* Reads dir/patches.csv and dir/manifest.csv; ix->digest: patches.csv's. */
ndx_status ndx_patches_read(const char *dir, ndx_patch_index *ix);
/* The class of a patch for a classes-way head.  2: the label (1 =
 * malignant).  3: 2 = malignant (label 1, the study's rule), 1 = benign (not
 * malignant, and some benign lesion of any kind overlaps the box), 0 = no
 * cancer (the rest, also a box grazing a malignant lesion below the rule).
 * -1 for another class count. */
int ndx_patch_class(const ndx_patch *p, int classes);
/* The class whose logit means cancer: 1 for 2 classes, 2 for 3 (-1 else). */
int ndx_cancer_class(int classes);
void ndx_patches_free(ndx_patch_index *ix);
/* The index's files as inputs of an io plan: patches.csv (which only an
 * output named "patches.csv" may replace), manifest.csv, every mammogram
 * and lesion mask. */
ndx_status ndx_ioplan_patches(ndx_ioplan *p, const ndx_patch_index *ix);

/* A bounded LRU cache of decoded images and masks, safe to share between
 * threads. */
typedef struct ndx_patch_cache ndx_patch_cache;
ndx_patch_cache *ndx_patch_cache_new(size_t max_bytes);
void ndx_patch_cache_free(ndx_patch_cache *c);
/* Patch i cut from its image and resized (area filter) to s x s floats in
 * [0, 1], out row-major. */
ndx_status ndx_patch_load(ndx_patch_cache *c, const ndx_patch_index *ix,
                          size_t i, int s, float *out);
/* Patch i's lesion masks resampled (area) to h x w: out is
 * [NDX_LESION_KINDS][2][h][w], [k][0] malignant lesions of kind k, [k][1]
 * all lesions of kind k, each value the covered fraction in [0, 1] (the max
 * over the kind's lesions where several overlap). */
ndx_status ndx_patch_masks(ndx_patch_cache *c, const ndx_patch_index *ix,
                           size_t i, int h, int w, float *out);
/* Area-filter resize of box (x, y, bw, bh) of a w-wide uint16 image to
 * oh x ow floats, scaled by 1/maxval. */
void ndx_resize_area_u16(const uint16_t *src, int w, int x, int y, int bw,
                         int bh, int maxval, int oh, int ow, float *out);

/* ---- CBIS-DDSM import ---------------------------------------------------- */
typedef struct ndx_cbis_stats {
    long csv_rows, rows, images, missing, invalid, resampled_masks;
    char first_missing[512];
} ndx_cbis_stats;
/* Reads the four description CSVs in csv_dir and writes out_dir/manifest.csv
 * pointing into images_dir, where each CSV path's .dcm is a .png (see the
 * README).  note (may be NULL) hears of every skipped row (PNG missing:
 * st->missing; a value outside the vocabulary: st->invalid) and every mask
 * whose size differs from its image (kept: patches resamples it). */
ndx_status ndx_cbis_import(const char *csv_dir, const char *images_dir,
                           const char *out_dir, ndx_cbis_stats *st,
                           void (*note)(void *ctx, const char *msg),
                           void *note_ctx);
/* CBIS-DDSM from its DICOM files and the other data sets: netdx_import.h. */

/* ---- training: metrics ------------------------------------------------- */
/* Binary labels are ints, 1 = positive (malignant), 0 = negative; scores are
 * any monotone score of the positive class (probability or logit), finite.
 * A ROC curve has one point per distinct score plus (0,0): point i holds
 * the false/true positive rates when every sample scoring >= thr[i] is called
 * positive (thr[0] = +inf), so npoints <= n + 1.  Both classes must occur. */
/* AUC = P(score of a random positive > that of a random negative) + 1/2 P(tie)
 * (the Mann-Whitney U statistic over npos*nneg), equal to the trapezoid area
 * under the ROC curve.  O(n log n); allocates n indices while it runs. */
ndx_status ndx_auc(const float *scores, const int *labels, size_t n, double *auc);
/* The ROC curve into caller arrays of cap >= n + 1 entries (any may be NULL
 * except npoints); *auc (may be NULL) as ndx_auc. */
ndx_status ndx_roc(const float *scores, const int *labels, size_t n, double *fpr,
                   double *tpr, float *thr, size_t cap, size_t *npoints,
                   double *auc);
/* Fraction of rows of logits (n, classes) whose argmax (first on ties) is
 * the label. */
ndx_status ndx_accuracy(const float *logits, const int *labels, size_t n,
                        int classes, double *acc);
/* A weighted running mean, e.g. of batch losses weighted by batch size:
 * start from {0}; ndx_mean_value is NAN while the weight is 0. */
typedef struct ndx_mean { double sum, weight; } ndx_mean;
void ndx_mean_add(ndx_mean *m, double value, double weight);
double ndx_mean_value(const ndx_mean *m);

/* One epoch's numbers, as metrics.json stores them (NAN = not measured). */
typedef struct ndx_epoch_metrics {
    int epoch;                          /* 1-based */
    double lr;
    double train_loss, train_accuracy;  /* means over the epoch's batches */
    double val_loss, val_accuracy, val_auc;
    double seconds, images_per_s;
} ndx_epoch_metrics;
/* How a run was trained and which model it kept, for metrics.json. */
typedef struct ndx_metrics_info {
    int classes;          /* 2 or 3 */
    int sampler;          /* NDX_SAMPLER_* */
    int lr_step;          /* 0: constant rate */
    double lr_gamma;
    int keep;             /* NDX_KEEP_* */
    int kept_epoch;       /* 1-based, the epoch of the saved model; 0: none */
} ndx_metrics_info;
/* metrics.json: {"epochs": [...], "best_epoch", "best_val_auc", "test_auc"};
 * NAN values are written as null.  test_auc: NAN if not measured.  With
 * info (may be NULL) also "classes", "auc_of" (which classes the AUC
 * separates), "sampler", "lr_step", "lr_gamma", "kept" ("best" or
 * "last"), "kept_epoch" and "selection_note" (for "best": choosing by
 * validation AUC makes the validation AUC, and a dissection of the
 * validation split, optimistic; null for "last").
 * Written to a temporary file, then renamed. */
ndx_status ndx_metrics_write_json(const char *path, const ndx_epoch_metrics *ep,
                                  int n_epochs, double test_auc,
                                  const ndx_metrics_info *info);

/* ---- training: SGD ------------------------------------------------------ */
/* torch.optim.SGD with dampening 0 and nesterov off, over flat arrays:
 *   d = g + weight_decay * p
 *   buf = d on the first step (step == 0), else momentum * buf + d
 *   p -= lr * buf
 * (momentum 0: p -= lr * d, buf untouched).  step counts the steps taken
 * and is incremented by ndx_sgd_step; keep it in checkpoints. */
typedef struct ndx_sgd {
    float lr, momentum, weight_decay;
    int64_t step;
} ndx_sgd;
/* params, grads, buf: n floats each (buf may be NULL when momentum is 0). */
ndx_status ndx_sgd_step(ndx_sgd *opt, float *params, const float *grads,
                        float *buf, size_t n);

/* ---- training: samplers ------------------------------------------------- */
/* The order of samples in epoch e (0-based) is a pure function of (labels,
 * seed, e), so a run resumes from (epoch, batch) alone.  Shuffled: a
 * permutation of 0..n-1.  Balanced: n draws, each picking a class uniformly
 * among the classes present, then the next sample of that class from the
 * class's own shuffled cycle (so within an epoch the draws of any two samples
 * of one class differ by at most one). */
typedef struct ndx_sampler ndx_sampler;   /* opaque */
/* labels (n) in 0..classes-1, copied; balanced 0 = plain shuffle. */
ndx_status ndx_sampler_new(const int *labels, size_t n, int classes, int balanced,
                           uint64_t seed, ndx_sampler **out);
size_t ndx_sampler_len(const ndx_sampler *s);
/* The order of epoch e: ndx_sampler_len() indices, valid until the next call. */
const uint32_t *ndx_sampler_epoch(ndx_sampler *s, uint64_t epoch);
void ndx_sampler_free(ndx_sampler *s);

/* ---- training: checkpoints ---------------------------------------------- */
/* A checkpoint holds named float arrays (weights, momentum buffers), the
 * position (epoch, batch, optimiser step), an ndx_rng state and a few named
 * scalars (e.g. "best_auc"), with an XXH3-64 checksum of all of it that is
 * verified on load.  Saving writes a temporary file in the same directory,
 * fsyncs it, renames it over path and fsyncs the directory.  Loading refuses
 * a corrupt or truncated file (NDX_ERR_FORMAT naming the file and the fault)
 * before touching the caller's arrays, and a sealed file whose fields make
 * no sense (a negative epoch, batch or step, an all-zero RNG state, a
 * scalar named twice): the checksum proves the bytes, not the values.  The
 * caller checks the values against its run (ndx_train does). */
#define NDX_CKPT_MAX_SCALARS 32
#define NDX_CKPT_NAME_MAX 128   /* bytes of an array or scalar name, with NUL */
typedef struct ndx_ckpt_state {
    int64_t epoch;     /* epochs completed */
    int64_t batch;     /* batches completed in the current epoch */
    int64_t step;      /* optimiser steps taken in all */
    ndx_rng rng;
    uint32_t version;  /* set by ndx_ckpt_load: the file's format version (1 or
                          2; 2 adds the training options as scalars, see
                          src/train/loop.c); ignored by ndx_ckpt_save */
    int n_scalars;
    struct { char name[32]; double value; } scalars[NDX_CKPT_MAX_SCALARS];
} ndx_ckpt_state;
/* Sets (adds or replaces) a named scalar; names up to 31 bytes. */
ndx_status ndx_ckpt_set(ndx_ckpt_state *st, const char *name, double value);
/* NDX_ERR_INVALID (naming it) when the scalar is absent. */
ndx_status ndx_ckpt_get(const ndx_ckpt_state *st, const char *name, double *value);
typedef struct ndx_ckpt_array {
    const char *name;
    float *data;
    size_t count;
} ndx_ckpt_array;
ndx_status ndx_ckpt_save(const char *path, const ndx_ckpt_state *st,
                         const ndx_ckpt_array *arrays, int n_arrays);
/* The file must hold exactly these arrays (any order) with these counts;
 * missing, extra or misshaped arrays are errors naming the array. */
ndx_status ndx_ckpt_load(const char *path, ndx_ckpt_state *st,
                         const ndx_ckpt_array *arrays, int n_arrays);
/* The position and scalars alone (the file checked whole as by load), to
 * compare what a checkpoint was made from before loading its arrays. */
ndx_status ndx_ckpt_peek(const char *path, ndx_ckpt_state *st);

/* ---- training: the loop (netdx train / netdx eval) ----------------------- */
/* Fine-tunes a zoo network on the training patches of data_dir (patches.csv),
 * readable top to bottom in src/train/loop.c: class-balanced sampling, SGD,
 * every epoch the validation loss, accuracy and AUC, the best-AUC model kept
 * in out (safetensors); checkpoints every epoch and every checkpoint_every
 * batches; at the end metrics.json, roc.png and loss.png beside out and the
 * test-split AUC.  The same seed and thread count give the same weights, bit
 * for bit, with or without an interruption and --resume. */
/* progress is called when an epoch starts (or resumes), after every batch,
 * and once the epoch is validated (done non-NULL). */
typedef struct ndx_train_progress {
    int epoch, epochs;          /* 1-based */
    long batch, batches;        /* batches done in this epoch / per epoch */
    double loss;                /* running mean training loss of the epoch */
    const ndx_epoch_metrics *done;   /* non-NULL once an epoch is validated */
} ndx_train_progress;
/* --sampler: plain shuffle (each training patch once per epoch, in a seeded
 * order; the study's) or class-balanced draws (ndx_sampler). */
enum { NDX_SAMPLER_SHUFFLE = 0, NDX_SAMPLER_BALANCED = 1 };
/* --keep: the model of the best validation AUC, or the last epoch's. */
enum { NDX_KEEP_BEST = 0, NDX_KEEP_LAST = 1 };
typedef struct ndx_train_opts {
    const char *arch, *data_dir, *out;
    const char *weights;        /* backbone to fine-tune from, or NULL */
    const char *resume;         /* checkpoint to continue from, or NULL */
    const char *checkpoint;     /* NULL: "<out>.ckpt" */
    int epochs, batch;
    int input_size;             /* 0: the architecture's (ndx_zoo_find) */
    int threads;                /* 0: leave ndx_get_threads() as it is */
    int checkpoint_every;       /* batches; 0: at the end of epochs only */
    int flips;                  /* random horizontal flips */
    double lr, momentum, weight_decay;
    int lr_step;                /* epochs between drops of the rate; 0: constant */
    double lr_gamma;            /* the factor of each drop (0, 1]; 0.1 */
    int sampler;                /* NDX_SAMPLER_*; NDX_SAMPLER_BALANCED */
    int keep;                   /* NDX_KEEP_*; NDX_KEEP_BEST */
    int classes;                /* 2 (malignant or not) or 3 (ndx_patch_class) */
    uint64_t seed;
    void (*progress)(void *ctx, const ndx_train_progress *p);
    void *progress_ctx;
    /* Warnings about the data (e.g. no malignant patch in the training
     * split: both samplers then show one class only), once each; may be NULL. */
    void (*note)(void *ctx, const char *msg);
    void *note_ctx;
    /* Data-parallel training (docs/mpi.md).  parts > 1 cuts every batch
     * into parts equal sub-batches of 2 or more, each run forward and
     * backward alone (batch norm on its own statistics); their gradients
     * and running statistics are summed in part order and divided by
     * parts.  0 or 1: the whole batch.  Alone, one process runs every part
     * in turn.  With allreduce (tools/mpi.c), process `rank` runs part
     * rank only; allreduce replaces f (nf floats) and d (nd doubles) on
     * every process by their sums over the processes, added in rank order
     * (the one process's bits).  gather (required with allreduce): buf
     * holds counts[0] + .. + counts[parts - 1] items of size bytes,
     * process q filled its counts[q] (after those of 0 .. q-1); on return
     * every process holds all (each preloads and validates 1/parts).
     * Both return an ndx_status.  Only rank 0 writes.  NULL: one process. */
    int parts, rank;
    int (*allreduce)(void *ctx, float *f, size_t nf, double *d, size_t nd);
    /* optional: ndx_net_on_grads's fn; allreduce leaves the tail it summed */
    void (*grads_ready)(void *ctx, float *g, size_t from, size_t G);
    int (*gather)(void *ctx, void *buf, size_t size, const size_t *counts);
    void *allreduce_ctx;        /* of both */
} ndx_train_opts;
/* The paper's settings: lr 1e-4, momentum 0.9, weight decay 1e-4, batch 32,
 * 2 classes; balanced sampling (the study shuffled: NDX_SAMPLER_SHUFFLE),
 * no step decay (lr_gamma 0.1 once lr_step is set), the best-AUC model
 * kept; tiny, 10 epochs, seed 1. */
void ndx_train_defaults(ndx_train_opts *o);
/* The learning rate of epoch e (0-based): lr x lr_gamma^floor(e / lr_step)
 * (lr when lr_step is 0), as torch.optim.lr_scheduler.StepLR stepped once
 * per epoch. */
double ndx_train_lr(const ndx_train_opts *o, int epoch);
ndx_status ndx_train(const ndx_train_opts *o, double *test_auc);
/* Scores one split (NDX_SPLIT_*) of data_dir with the model: AUC and
 * accuracy; roc_png and scores_csv (patch,image,x,y,w,h,label,score) may
 * be NULL.  A split with patches of one class only: *auc = NAN and no ROC
 * (roc_png not written); the accuracy and the scores are. */
ndx_status ndx_eval(const char *model, const char *data_dir, int split, int batch,
                    const char *roc_png, const char *scores_csv, double *auc,
                    double *accuracy);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
