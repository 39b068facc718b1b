/* netdx — importing real mammogram data sets as they are distributed
 * (docs/data.md, "Real mammograms as distributed").
 *
 *     #include <netdx_import.h>
 *
 *     ndx_vindr_stats st;
 *     if (ndx_vindr_import("vindr", "vindr/data", &st, NULL, NULL) != NDX_OK)
 *         fprintf(stderr, "netdx: %s\n", ndx_last_error());
 *
 *     ndx_import_stats ds;
 *     ndx_ddsm_import("DDSM/cases", NULL, "ddsm", &ds, NULL, NULL);
 *
 *     ndx_inbreast_opts o;
 *     ndx_inbreast_defaults(&o);
 *     o.images = "INbreast/AllDICOMs", o.xml = "INbreast/AllXML";
 *     o.csv = "INbreast/INbreast.csv", o.out = "inbreast";
 *     ndx_inbreast_import(&o, &ds, NULL, NULL);
 *
 * Each import writes out_dir/manifest.csv (see ndx_manifest_row in
 * netdx.h, with its optional columns) from a data set's own files, so
 * that ndx_patches_build and every later stage run on it.  The CBIS-DDSM
 * import of converted PNGs, ndx_cbis_import, is in netdx.h.  The DDSM,
 * INbreast and VinDr imports also write one 8-bit mask PNG per lesion
 * under out_dir/masks/ (0 outside, 255 inside).  note (may be NULL) hears
 * of every image skipped and every lesion or finding left out, naming the
 * file and line; an import fails only on a fault of its own outputs or
 * when no image at all could be imported (the message then says why the
 * first was not).  What each import does with each field: docs/data.md. */
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

/* ---- DDSM and INbreast (masks drawn from their outlines) ------------------ */
typedef struct ndx_import_stats {
    long cases;      /* DDSM .ics files / INbreast image files seen */
    long images;     /* images in the manifest */
    long lesions;    /* lesion rows (one mask each; a DDSM abnormality both
                        mass and calcification is two rows sharing a mask) */
    long skipped;    /* images left out (no PNG, a bad file): each noted */
    long dropped;    /* lesions or findings left out (DDSM UNPROVEN,
                        INbreast ROI names not mapped): each noted */
    long resized;    /* masks of another size than their PNG (DDSM: the
                        .ics size; netdx patches resamples them) */
} ndx_import_stats;

/* DDSM (the University of South Florida's original): every .ics file under
 * cases_dir (searched recursively) with its .OVERLAY files.  The image of
 * view V of case file C.ics is a PNG converted from C.V.LJPEG by other
 * tools (netdx does not decode LJPEG): C.V.png or C.V.LJPEG.png, beside the
 * .ics or, when images_dir is given, under images_dir at the same path
 * relative to cases_dir or directly in images_dir. */
ndx_status ndx_ddsm_import(const char *cases_dir, const char *images_dir, const char *out_dir,
                           ndx_import_stats *st, void (*note)(void *ctx, const char *msg),
                           void *note_ctx);

typedef struct ndx_inbreast_opts {
    const char *images;      /* AllDICOMs, or the same names as .png */
    const char *xml;         /* AllXML: <File Name>.xml ROI files */
    const char *csv;         /* INbreast.csv (';' or ','), or the XLS saved as CSV */
    const char *out;         /* manifest.csv and masks/ go here */
    int malignant_birads;    /* BI-RADS >= this: pathology MALIGNANT, else
                                BENIGN (INbreast has no pathology); 4 */
    double calc_radius_px;   /* a one-point calcification ROI: a disc this
                                wide (radius, pixels); 3 */
} ndx_inbreast_opts;
void ndx_inbreast_defaults(ndx_inbreast_opts *o);
ndx_status ndx_inbreast_import(const ndx_inbreast_opts *o, ndx_import_stats *st,
                               void (*note)(void *ctx, const char *msg), void *note_ctx);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
