/* netdx — importing real mammogram data sets as they are distributed.
 *
 *     #include <netdx_import.h>
 *
 *     ndx_vindr_stats st;
 *     if (ndx_vindr_import("vindr", "vindr/data", &st, NULL, NULL) != NDX_OK)
 *         fprintf(stderr, "netdx: %s\n", ndx_last_error());
 *
 * Each import writes out_dir/manifest.csv (see ndx_manifest_row in
 * netdx.h, with its optional columns) from a data set's own files, so
 * that ndx_patches_build and every later stage run on it.  The CBIS-DDSM
 * import of converted PNGs, ndx_cbis_import, is in netdx.h.  What each
 * import does with each field: docs/data.md. */
#ifndef NETDX_IMPORT_H
#define NETDX_IMPORT_H

#include "netdx.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* ---- CBIS-DDSM from its DICOM files ---------------------------------------- */
/* The same from the DICOM files as TCIA distributes them: dicom_dir holds
 * the CSVs' paths as they are (the "classic" folder names), or the NBIA
 * retriever's descriptive tree with its metadata.csv (found by the series
 * UID of each CSV path).  The manifest points at the .dcm files and takes
 * pixel_spacing_mm from each image's header (side and view from the CSV,
 * from the header when the CSV has none).  The mask is the larger of the ROI
 * and crop files (CBIS swaps them in some rows). */
ndx_status ndx_cbis_import_dicom(const char *csv_dir, const char *dicom_dir,
                                 const char *out_dir, ndx_cbis_stats *st,
                                 void (*note)(void *ctx, const char *msg),
                                 void *note_ctx);

/* ---- VinDr-Mammo ------------------------------------------------------------ */
typedef struct ndx_vindr_stats {
    long images, findings, boxes_clipped, skipped;
} ndx_vindr_stats;
/* Reads vindr_dir/breast-level_annotations.csv and
 * vindr_dir/finding_annotations.csv, images under vindr_dir/images/
 * <study_id>/<image_id>.dicom, and writes out_dir/manifest.csv with one
 * box mask per finding (8-bit PNGs under out_dir/masks/, mask_kind box):
 * Mass -> mass, Suspicious Calcification -> calcification, Architectural
 * Distortion -> distortion, Asymmetry / Focal / Global Asymmetry ->
 * asymmetry, the rest -> other (the words kept in finding); assessment the
 * finding's BI-RADS (the breast's for images without finding), pathology
 * from it (pathology_source birads), density A-D -> 1-4, pixel spacing from
 * the DICOM header.  note hears of every skipped row. */
ndx_status ndx_vindr_import(const char *vindr_dir, const char *out_dir,
                            ndx_vindr_stats *st,
                            void (*note)(void *ctx, const char *msg),
                            void *note_ctx);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
