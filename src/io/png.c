/* PNG reading (libpng) and writing (16-bit: libpng; 8-bit: stb_image_write).
 *
 * Images are held as uint16_t per pixel, row-major (h, w), values 0..maxval.
 * Reading checks the header's size against a limit before allocating and
 * turns every libpng error (corrupt chunk, bad CRC, truncation) into
 * NDX_ERR_FORMAT naming the file.  Writes go through ndx__out (file.c). */
#include <errno.h>
#include <png.h>
#include <zlib.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/core.h"
#include "../io/io.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop
/* stb declares every writer static; only the PNG one is used */
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct png_err {
    jmp_buf jb;
    char msg[256];
} png_err;

static void on_error(png_structp p, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(p);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jb, 1);
}

static void on_warning(png_structp p, png_const_charp msg)
{
    (void)p;
    (void)msg;
}

void ndx_image_free(ndx_image *img)
{
    if (!img) return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}

/* The state that must survive a longjmp lives in this struct, not in locals. */
typedef struct png_reader {
    FILE *f;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    uint16_t *px;
    int64_t limit;
    png_err err;
} png_reader;

static void reader_close(png_reader *r)
{
    if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
    if (r->f) fclose(r->f);
    free(r->rows);
    free(r->px);
}

/* A w x h image of depth bits beyond limit pixels: the error, naming what
 * raises the limit (given: the caller's max_pixels, else NETDX_MAX_PIXELS). */
static ndx_status too_large(const char *path, uint32_t w, uint32_t h, int depth, int64_t limit,
                            int given)
{
    if ((uint64_t)w * h <= (uint64_t)limit) return NDX_OK;   /* 2^32 x 2^32 fits */
    return ndx__fail(NDX_ERR_FORMAT, "%s: the PNG declares %ux%u %d-bit pixels (%.1f Mpixel), more "
                     "than the limit of %lld pixels (%.1f Mpixel); %s", path, (unsigned)w,
                     (unsigned)h, depth, (double)w * h / 1048576.0, (long long)limit,
                     (double)limit / 1048576.0, given ? "the caller set that limit"
                     : "set NETDX_MAX_PIXELS to raise it");
}

static ndx_status reader_open(png_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    ndx_status st = ndx__open_read(path, &r->f, NULL);
    if (st) return st;
    unsigned char sig[8];
    size_t got = fread(sig, 1, 8, r->f);
    if (got < 8 || png_sig_cmp(sig, 0, 8))
        return ndx__fail(NDX_ERR_FORMAT, "%s: not a PNG file (bad signature)", path);
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->err, on_error, on_warning);
    if (!r->png) return ndx__fail(NDX_ERR_NOMEM, "%s: libpng: out of memory", path);
    r->info = png_create_info_struct(r->png);
    if (!r->info) return ndx__fail(NDX_ERR_NOMEM, "%s: libpng: out of memory", path);
    /* Refuse absurd headers early; the caller's limit is checked below. */
    png_set_user_limits(r->png, 1u << 20, 1u << 20);
    /* Ancillary chunks libpng reads whole into memory (text, ICC profile,
     * ...) are skipped unread: their length, up to 2 GiB, would be
     * allocated for a 100-byte file (fuzz/crashes/fuzz_png/text-chunk-1gib). */
    static const png_byte skip[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0eXIf\0pCAL\0sCAL";
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, skip, 8);
    png_init_io(r->png, r->f);
    png_set_sig_bytes(r->png, 8);
    return NDX_OK;
}

ndx_status ndx_png_size(const char *path, int *w, int *h, int *bits)
{
    png_reader r;
    ndx_status st = reader_open(&r, path);
    if (st == NDX_OK) {
        if (setjmp(r.err.jb)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: corrupt PNG: %s", path, r.err.msg);
        } else {
            png_read_info(r.png, r.info);
            *w = (int)png_get_image_width(r.png, r.info);
            *h = (int)png_get_image_height(r.png, r.info);
            if (bits) *bits = png_get_bit_depth(r.png, r.info);
        }
    }
    reader_close(&r);
    return st;
}

ndx_status ndx_png_read(const char *path, int64_t max_pixels, ndx_image *img,
                        char *warn, size_t warn_n)
{
    if (warn && warn_n) warn[0] = 0;
    memset(img, 0, sizeof *img);
    png_reader r;
    ndx_status st = reader_open(&r, path);
    r.limit = max_pixels > 0 ? max_pixels : ndx__max_pixels();
    if (st == NDX_OK) {
        /* the size from IHDR, read by hand: refused before libpng allocates */
        unsigned char ih[17];
        if (fread(ih, 1, 17, r.f) != 17 || memcmp(ih + 4, "IHDR", 4)) {
            st = ndx__fail(NDX_ERR_FORMAT, "%s: corrupt or truncated PNG: no IHDR chunk", path);
        } else {
            uint32_t hw = (uint32_t)ih[8] << 24 | (uint32_t)ih[9] << 16 | (uint32_t)ih[10] << 8 | ih[11];
            uint32_t hh = (uint32_t)ih[12] << 24 | (uint32_t)ih[13] << 16 | (uint32_t)ih[14] << 8 | ih[15];
            st = too_large(path, hw, hh, ih[16], r.limit, max_pixels > 0);
            if (!st && fseek(r.f, 8, SEEK_SET) != 0)
                st = ndx__fail(NDX_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
        }
    }
    if (st != NDX_OK) {
        reader_close(&r);
        return st;
    }
    if (setjmp(r.err.jb)) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: corrupt or truncated PNG: %s", path, r.err.msg);
        reader_close(&r);
        return st;
    }
    png_read_info(r.png, r.info);
    png_uint_32 w = png_get_image_width(r.png, r.info);
    png_uint_32 h = png_get_image_height(r.png, r.info);
    int depth = png_get_bit_depth(r.png, r.info);
    int ctype = png_get_color_type(r.png, r.info);
    if ((st = too_large(path, w, h, depth, r.limit, max_pixels > 0))) {
        reader_close(&r);
        return st;
    }
    int rgb = 0;
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(r.png);
        rgb = 1;
    }
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r.png);
    if (png_get_valid(r.png, r.info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r.png);
    if (ctype & PNG_COLOR_MASK_COLOR) rgb = 1;
    if (rgb) png_set_rgb_to_gray_fixed(r.png, 1, -1, -1);   /* ITU-R 709 luma */
    png_set_strip_alpha(r.png);
    if (depth == 16) png_set_swap(r.png);    /* host order (little-endian) */
    png_read_update_info(r.png, r.info);
    int odepth = png_get_bit_depth(r.png, r.info);
    int bpp = odepth == 16 ? 2 : 1;
    size_t rowbytes = png_get_rowbytes(r.png, r.info);
    if (rowbytes != (size_t)w * bpp) {
        st = ndx__fail(NDX_ERR_FORMAT, "%s: unexpected row size %zu after conversion", path, rowbytes);
        reader_close(&r);
        return st;
    }
    /* one buffer of 2 bytes per pixel: libpng decodes into its first
     * rowbytes * h bytes, 8-bit samples are widened in place after */
    r.rows = malloc(sizeof *r.rows * h);
    r.px = malloc(sizeof *r.px * (size_t)w * h);
    if (!r.rows || !r.px) {
        st = ndx__fail(NDX_ERR_NOMEM, "%s: out of memory for %ux%u pixels", path, (unsigned)w, (unsigned)h);
        reader_close(&r);
        return st;
    }
    unsigned char *bytes = (unsigned char *)r.px;
    for (png_uint_32 y = 0; y < h; y++) r.rows[y] = bytes + rowbytes * y;
    png_read_image(r.png, r.rows);
    png_read_end(r.png, NULL);
    size_t n = (size_t)w * h;
    if (bpp == 2) {
        /* png_set_swap gave little-endian; fix up on a big-endian host */
        const uint16_t one = 1;
        if (!*(const unsigned char *)&one)
            for (size_t i = 0; i < n; i++) r.px[i] = (uint16_t)((r.px[i] >> 8) | (r.px[i] << 8));
    } else {
        for (size_t i = n; i-- > 0;) r.px[i] = bytes[i];   /* backwards: 2i >= i */
    }
    img->w = (int)w;
    img->h = (int)h;
    img->maxval = bpp == 2 ? 65535 : 255;
    img->px = r.px;
    r.px = NULL;
    if (rgb && warn && warn_n)
        snprintf(warn, warn_n, "%s: color PNG converted to grayscale", path);
    reader_close(&r);
    return NDX_OK;
}

typedef struct png_writer {
    png_structp png;
    png_infop info;
    unsigned char *row;
    png_err err;
} png_writer;

/* libpng's part of write16: errors come back through longjmp. */
static ndx_status write16_rows(png_writer *wr, FILE *f, const char *path, const uint16_t *px,
                               int w, int h)
{
    if (setjmp(wr->err.jb)) return ndx__fail(NDX_ERR_IO, "%s: writing PNG failed: %s", path,
                                             wr->err.msg);
    png_init_io(wr->png, f);
    png_set_compression_level(wr->png, 1);
    png_set_compression_strategy(wr->png, Z_RLE);   /* fast, and small on noisy 16-bit data */
    png_set_filter(wr->png, 0, PNG_FILTER_SUB);
    png_set_IHDR(wr->png, wr->info, (png_uint_32)w, (png_uint_32)h, 16, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(wr->png, wr->info);
    for (int y = 0; y < h; y++) {
        const uint16_t *s = px + (size_t)y * w;
        for (int x = 0; x < w; x++) {   /* PNG is big-endian */
            wr->row[2 * x] = (unsigned char)(s[x] >> 8);
            wr->row[2 * x + 1] = (unsigned char)(s[x] & 255);
        }
        png_write_row(wr->png, wr->row);
    }
    png_write_end(wr->png, NULL);
    return NDX_OK;
}

/* The image as 16-bit gray PNG into f (libpng). */
static ndx_status write16(FILE *f, const char *path, const uint16_t *px, int w, int h)
{
    png_writer wr;
    memset(&wr, 0, sizeof wr);
    wr.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &wr.err, on_error, on_warning);
    if (wr.png) wr.info = png_create_info_struct(wr.png);
    wr.row = malloc((size_t)w * 2);
    ndx_status st = !wr.png || !wr.info || !wr.row
                        ? ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path)
                        : write16_rows(&wr, f, path, px, w, h);
    if (wr.png) png_destroy_write_struct(&wr.png, wr.info ? &wr.info : NULL);
    free(wr.row);
    return st;
}

ndx_status ndx_png_write16(const char *path, const uint16_t *px, int w, int h)
{
    if (w <= 0 || h <= 0 || !px)
        return ndx__fail(NDX_ERR_INVALID, "%s: cannot write a %dx%d image", path, w, h);
    ndx__out o;
    ndx_status st = ndx__out_open(&o, path, 0);
    if (st) return st;
    if ((st = write16(o.f, path, px, w, h))) {
        ndx__out_abort(&o);
        return st;
    }
    return ndx__out_commit(&o);
}

static void stb_sink(void *ctx, void *data, int size)
{
    ndx__out_put(ctx, data, (size_t)size);
}

/* Faster settings for stb's own deflate (masks are mostly zeros): set once. */
static pthread_once_t stb_once = PTHREAD_ONCE_INIT;
static void stb_settings(void)
{
    stbi_write_png_compression_level = 2;
    stbi_write_force_png_filter = 1;   /* SUB */
}

static void mem_sink(void *ctx, void *data, int size)
{
    ndx__png_mem *m = ctx;
    if (m->failed || size <= 0) return;
    if (m->n + (size_t)size > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 65536;
        while (cap < m->n + (size_t)size) cap *= 2;
        unsigned char *p = realloc(m->p, cap);
        if (!p) {
            m->failed = 1;
            return;
        }
        m->p = p, m->cap = cap;
    }
    memcpy(m->p + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

ndx_status ndx__png_encode(const char *kind, const uint8_t *px, int w, int h, int comp,
                           ndx__png_mem *o)
{
    pthread_once(&stb_once, stb_settings);
    *o = (ndx__png_mem){.w = w, .h = h};
    const int ok = stbi_write_png_to_func(mem_sink, o, w, h, comp, px, w * comp);
    if (ok && !o->failed) return NDX_OK;
    free(o->p);
    o->p = NULL;
    return ndx__fail(NDX_ERR_NOMEM, "encoding a %dx%d %s PNG failed", w, h, kind);
}

ndx_status ndx_png_write8(const char *path, const uint8_t *px, int w, int h, int channels)
{
    pthread_once(&stb_once, stb_settings);
    if (w <= 0 || h <= 0 || !px || (channels != 1 && channels != 3 && channels != 4))
        return ndx__fail(NDX_ERR_INVALID, "%s: cannot write a %dx%dx%d image", path, w, h, channels);
    ndx__out o;
    ndx_status st = ndx__out_open(&o, path, 0);
    if (st) return st;
    if (!stbi_write_png_to_func(stb_sink, &o, w, h, channels, px, w * channels)) {
        ndx__out_abort(&o);   /* the sink's write errors come at commit: this is memory */
        return ndx__fail(NDX_ERR_NOMEM, "%s: encoding the %dx%d PNG failed: out of memory",
                         path, w, h);
    }
    return ndx__out_commit(&o);
}
