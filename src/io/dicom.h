/* The C interface of the DICOM shim (dicom.cc, C++ over DCMTK; built only
 * with DICOM=1).  image.c is its one caller: it turns the stored values into
 * an ndx_image (rescale, inversion) and the error text into ndx__fail. */
#ifndef NDX_IO_DICOM_H
#define NDX_IO_DICOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the header says, checked: one frame, one sample, MONOCHROME1/2,
 * BitsAllocated 8 or 16, 1 <= BitsStored <= BitsAllocated, HighBit inside. */
typedef struct ndx__dicom_info {
    int rows, cols, bits_allocated, bits_stored, high_bit, is_signed, monochrome1;
    double slope, intercept;        /* 1 and 0 when absent */
    double window_center, window_width;   /* modality units (after rescale) */
    int has_window;
    double spacing_row, spacing_col; /* mm; 0 when absent */
    const char *spacing_tag;        /* "PixelSpacing", "ImagerPixelSpacing", "" */
    char laterality[8];             /* "L", "R" or "" as written */
    char view[16];                  /* ViewPosition as written */
    char transfer_syntax[72];       /* its UID */
} ndx__dicom_info;

/* Reads path's header into info and, when px is not NULL, decodes the
 * pixels into *px (malloc'd, rows x cols raw stored words, free() it),
 * refusing first an image of more than max_pixels pixels.  0 on success;
 * else a negative ndx_status with the message in err (naming path and the
 * tag at fault). */
int ndx__dicom_load(const char *path, int64_t max_pixels, ndx__dicom_info *info, uint16_t **px,
                    char *err, size_t err_n);

#ifdef __cplusplus
}
#endif
#endif
