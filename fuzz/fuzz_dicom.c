/* DICOM: ndx_image_read and ndx_image_probe of a .dcm file (the DCMTK shim,
 * src/io/dicom.cc, and image.c's rescale, inversion and window): the
 * header's fields checked before use, the pixel count against a 4 Mpixel
 * limit before decoding, the decoded values inside 0..maxval, the spacing
 * and window finite.  DCMTK itself is Debian's build, not instrumented:
 * the edges counted are netdx's. */
#include "fuzz.h"

#include <math.h>

static char path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (!ndx_image_dicom_available()) {
        fprintf(stderr, "fuzz_dicom: this build has no DICOM reader (build with DICOM=1)\n");
        abort();
    }
    snprintf(path, sizeof path, "%s/x.dcm", fuzz_scratch());
    return 0;
}

static void check_meta(const ndx_image_meta *m)
{
    if (!isfinite(m->pixel_spacing_mm) || m->pixel_spacing_mm < 0 || !isfinite(m->window_center) ||
        !isfinite(m->window_width) || m->window_width < 0 || !memchr(m->warn, 0, sizeof m->warn) ||
        !memchr(m->laterality, 0, sizeof m->laterality) || !memchr(m->view, 0, sizeof m->view))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(path, data, size);
    ndx_image img;
    ndx_image_meta meta;
    fuzz_reset();
    ndx_status st = ndx_image_read(path, 4 << 20, &img, &meta);
    fuzz_check(st, "ndx_image_read");
    if (st == NDX_OK) {
        if (img.w < 1 || img.h < 1 || (int64_t)img.w * img.h > (4 << 20) || !img.px ||
            img.maxval < 1 || img.maxval > 65535 || meta.width != img.w || meta.height != img.h)
            abort();
        for (int64_t i = 0; i < (int64_t)img.w * img.h; i++)
            if (img.px[i] > img.maxval) abort();
        check_meta(&meta);
        ndx_image_free(&img);
    }
    fuzz_reset();
    st = ndx_image_probe(path, &meta);
    fuzz_check(st, "ndx_image_probe");
    if (st == NDX_OK) check_meta(&meta);
    return 0;
}
