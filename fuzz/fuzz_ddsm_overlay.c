/* DDSM's .OVERLAY file: ndx_ddsm_import of a case folder whose one case
 * (a 64 x 48 LEFT_CC with its PNG) has the input as its overlay: keywords,
 * LESION_TYPE lines and their codes, counts, chain codes and their bounds,
 * the masks filled and written, manifest.csv. */
#include "fuzz.h"
#include "netdx_import.h"
#include "../src/io/io.h"

static char cases[128], out[128], ovl[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(cases, sizeof cases, "%s/cases", fuzz_scratch());
    snprintf(out, sizeof out, "%s/out", fuzz_scratch());
    snprintf(ovl, sizeof ovl, "%s/A_0001_1.LEFT_CC.OVERLAY", cases);
    if (ndx__mkdirs(cases) || ndx__mkdirs(out)) abort();
    char path[256];
    snprintf(path, sizeof path, "%s/A_0001_1.ics", cases);
    static const char ics[] = "ics_version 1.0\nfilename A-0001-1\nDENSITY 2\n"
                              "LEFT_CC LINES 48 PIXELS_PER_LINE 64 BITS_PER_PIXEL 12 "
                              "RESOLUTION 50 OVERLAY\n";
    fuzz_write(path, ics, sizeof ics - 1);
    uint16_t px[64 * 48];
    for (int i = 0; i < 64 * 48; i++) px[i] = (uint16_t)(i * 977);
    snprintf(path, sizeof path, "%s/A_0001_1.LEFT_CC.png", cases);
    if (ndx_png_write16(path, px, 64, 48) != NDX_OK) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(ovl, data, size);
    ndx_import_stats st;
    fuzz_reset();
    ndx_status s = ndx_ddsm_import(cases, NULL, out, &st, NULL, NULL);
    fuzz_check(s, "ndx_ddsm_import");
    if (s == NDX_OK && (st.images != 1 || st.lesions < 1)) abort();
    return 0;
}
