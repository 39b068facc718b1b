/* Images from PNG or DICOM: the one reader every stage uses for mammograms
 * and lesion masks.
 *
 * DICOM goes through the C++ shim (dicom.cc, DCMTK), which checks the header
 * and hands over the raw stored words; here they become 0..65535 values:
 * s = the BitsStored bits ending at HighBit (two's complement when
 * PixelRepresentation is 1), m = s * slope + intercept, out = (m - lo) *
 * 65535 / (hi - lo) rounded, where [lo, hi] is the range m can take for
 * BitsStored bits; MONOCHROME1 then becomes 65535 - out.  One table of
 * 2^BitsStored entries does it.  Built with DICOM=0 there is no shim and a
 * DICOM file is NDX_ERR_UNSUPPORTED. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/core.h"
#include "dicom.h"
#include "io.h"

int ndx_image_dicom_available(void)
{
#ifdef NDX_DICOM
    return 1;
#else
    return 0;
#endif
}

/* A .dcm or .dicom name, or "DICM" at byte 128 of the file. */
static int is_dicom(const char *path)
{
    size_t n = strlen(path);
    if ((n > 4 && !strcasecmp(path + n - 4, ".dcm")) || (n > 6 && !strcasecmp(path + n - 6, ".dicom")))
        return 1;
    if (n > 4 && !strcasecmp(path + n - 4, ".png")) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;   /* the PNG reader says why */
    unsigned char b[132];
    int yes = fread(b, 1, sizeof b, f) == sizeof b && !memcmp(b + 128, "DICM", 4);
    fclose(f);
    return yes;
}

static void meta_png(ndx_image_meta *meta, int w, int h, int bits)
{
    memset(meta, 0, sizeof *meta);
    snprintf(meta->format, sizeof meta->format, "png");
    meta->width = w, meta->height = h, meta->bits = bits;
}

#ifdef NDX_DICOM
/* The linear map of modality values to 0..65535: out = (m - lo) * k. */
typedef struct value_map {
    double lo, k;
} value_map;

static value_map map_of(const ndx__dicom_info *d)
{
    const double smin = d->is_signed ? -ldexp(1, d->bits_stored - 1) : 0;
    const double smax = d->is_signed ? ldexp(1, d->bits_stored - 1) - 1 : ldexp(1, d->bits_stored) - 1;
    double a = smin * d->slope + d->intercept, b = smax * d->slope + d->intercept;
    if (a > b) {
        double t = a;
        a = b, b = t;
    }
    return (value_map){a, b > a ? 65535.0 / (b - a) : 0};
}

static void meta_dicom(ndx_image_meta *meta, const ndx__dicom_info *d)
{
    memset(meta, 0, sizeof *meta);
    snprintf(meta->format, sizeof meta->format, "dicom");
    meta->width = d->cols, meta->height = d->rows, meta->bits = d->bits_stored;
    snprintf(meta->photometric, sizeof meta->photometric, "%s",
             d->monochrome1 ? "MONOCHROME1" : "MONOCHROME2");
    if (d->spacing_row > 0 && d->spacing_col > 0) {
        if (fabs(d->spacing_row - d->spacing_col) <= 0.01 * d->spacing_row)
            meta->pixel_spacing_mm = d->spacing_row;
        else
            snprintf(meta->warn, sizeof meta->warn, "%s is %g mm (rows) by %g mm (columns): pixels "
                     "not square, spacing left unknown", d->spacing_tag, d->spacing_row,
                     d->spacing_col);
    }
    snprintf(meta->laterality, sizeof meta->laterality, "%s",
             !strcmp(d->laterality, "L") ? "LEFT" : !strcmp(d->laterality, "R") ? "RIGHT" : "");
    snprintf(meta->view, sizeof meta->view, "%s", d->view);
    if (d->has_window && d->window_width > 0) {
        const value_map m = map_of(d);
        double c = (d->window_center - m.lo) * m.k;   /* the window is in modality units */
        meta->window_center = d->monochrome1 ? 65535 - c : c;
        meta->window_width = d->window_width * m.k;
    }
}

/* The stored words raw (rows x cols) to 0..65535 in img, through a table. */
static ndx_status to_image(const ndx__dicom_info *d, uint16_t *raw, ndx_image *img,
                           const char *path)
{
    const int b = d->bits_stored, shift = d->high_bit + 1 - b;
    const uint32_t n = 1u << b, mask = n - 1;
    const value_map m = map_of(d);
    if (!(isfinite(m.lo) && isfinite(m.k) && m.k > 0 && isfinite(m.lo + 65535.0 / m.k))) {
        free(raw);
        return ndx__fail(NDX_ERR_FORMAT, "%s: (0028,1053) RescaleSlope %g and (0028,1052) "
                         "RescaleIntercept %g take the stored values out of range", path,
                         d->slope, d->intercept);
    }
    uint16_t *lut = malloc(sizeof *lut * n);
    if (!lut) {
        free(raw);
        return ndx__fail(NDX_ERR_NOMEM, "%s: out of memory", path);
    }
    for (uint32_t v = 0; v < n; v++) {
        double s = d->is_signed && (v >> (b - 1)) ? (double)v - (double)n : (double)v;
        double o = floor((s * d->slope + d->intercept - m.lo) * m.k + 0.5);
        o = !(o > 0) ? 0 : o > 65535 ? 65535 : o;   /* NaN to 0 */
        lut[v] = (uint16_t)(d->monochrome1 ? 65535 - o : o);
    }
    const size_t np = (size_t)d->rows * d->cols;
    for (size_t i = 0; i < np; i++) raw[i] = lut[(raw[i] >> shift) & mask];
    free(lut);
    img->w = d->cols, img->h = d->rows, img->maxval = 65535, img->px = raw;
    return NDX_OK;
}
#endif

/* The DICOM path of ndx_image_read / ndx_image_probe (img NULL: header). */
static ndx_status dicom_read(const char *path, int64_t max_pixels, ndx_image *img,
                             ndx_image_meta *meta)
{
#ifdef NDX_DICOM
    ndx__dicom_info d;
    uint16_t *raw = NULL;
    char err[2048];
    const int64_t limit = max_pixels > 0 ? max_pixels : ndx__max_pixels();
    int rc = ndx__dicom_load(path, limit, &d, img ? &raw : NULL, err, sizeof err);
    if (rc) return ndx__fail((ndx_status)rc, "%s", err);
    if (meta) meta_dicom(meta, &d);
    return img ? to_image(&d, raw, img, path) : NDX_OK;
#else
    (void)max_pixels, (void)img, (void)meta;
    return ndx__fail(NDX_ERR_UNSUPPORTED, "%s: a DICOM file, and this netdx was built without "
                     "DICOM (make DICOM=0, or DCMTK's libdcmtk-dev missing when it was built): "
                     "install libdcmtk-dev (tools/install-deps.sh build) and rebuild, or convert "
                     "the file to PNG (dcmj2pnm +on2)", path);
#endif
}

ndx_status ndx_image_read(const char *path, int64_t max_pixels, ndx_image *img,
                          ndx_image_meta *meta)
{
    memset(img, 0, sizeof *img);
    if (is_dicom(path)) return dicom_read(path, max_pixels, img, meta);
    char warn[256];
    ndx_status st = ndx_png_read(path, max_pixels, img, warn, sizeof warn);
    if (st == NDX_OK && meta) {
        meta_png(meta, img->w, img->h, img->maxval > 255 ? 16 : 8);
        snprintf(meta->warn, sizeof meta->warn, "%s", warn);
    }
    return st;
}

ndx_status ndx_image_probe(const char *path, ndx_image_meta *meta)
{
    ndx_status st;
    if (is_dicom(path)) {
        st = dicom_read(path, 0, NULL, meta);
    } else {
        int w, h, bits;
        st = ndx_png_size(path, &w, &h, &bits);
        if (st == NDX_OK) meta_png(meta, w, h, bits);
    }
    /* the header's size is what callers allocate masks by: the read limit */
    if (st == NDX_OK && (int64_t)meta->width * meta->height > ndx__max_pixels())
        st = ndx__fail(NDX_ERR_FORMAT, "%s: %d x %d pixels, over the limit of %lld (NETDX_MAX_PIXELS)",
                       path, meta->width, meta->height, (long long)ndx__max_pixels());
    return st;
}

ndx_status ndx_image_size(const char *path, int *w, int *h, int *bits)
{
    ndx_image_meta m;
    ndx_status st = ndx_image_probe(path, &m);
    if (st != NDX_OK) return st;
    *w = m.width, *h = m.height;
    if (bits) *bits = m.bits;
    return NDX_OK;
}
