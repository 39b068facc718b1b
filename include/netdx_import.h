/* netdx — importing the original DDSM and INbreast as distributed
 * (netdx import-ddsm, netdx import-inbreast; docs/data.md).
 *
 * USAGE
 *
 *     ndx_import_stats st;
 *     if (ndx_ddsm_import("DDSM/cases", NULL, "ddsm", &st, NULL, NULL) != NDX_OK)
 *         fprintf(stderr, "%s\n", ndx_last_error());
 *     // ddsm/manifest.csv and the PNGs of ddsm/masks: ready for ndx_patches_build
 *
 *     ndx_inbreast_opts o;
 *     ndx_inbreast_defaults(&o);
 *     o.images = "INbreast/AllDICOMs", o.xml = "INbreast/AllXML";
 *     o.csv = "INbreast/INbreast.csv", o.out = "inbreast";
 *     ndx_inbreast_import(&o, &st, NULL, NULL);
 *
 * Both write out/manifest.csv (the columns and vocabularies of
 * ndx_manifest_row: CBIS-DDSM's) and one 8-bit mask PNG per lesion under
 * out/masks/ (0 outside, 255 inside).  note (may be NULL) hears of every
 * image skipped and every lesion or finding left out, naming the file and
 * line; the import fails only on a fault of its own outputs or when no image
 * at all could be imported (the message then says why the first was not).
 */
#ifndef NETDX_IMPORT_H
#define NETDX_IMPORT_H

#include "netdx.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)   /* exported: see netdx.h */
#endif

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
