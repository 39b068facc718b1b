/* INbreast's ROI file (an OsiriX property list): ndx_inbreast_import of a
 * folder whose one image (80 x 60 PNG) has the input as its XML: the
 * plist reader (tags, entities, nesting, numbers), the Images / ROIs /
 * Point_px walk, the polygon and disc fills, masks and manifest.csv. */
#include "fuzz.h"
#include "netdx_import.h"
#include "../src/io/io.h"

static char imgs[128], xmls[128], csv[128], out[128], xml[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(imgs, sizeof imgs, "%s/png", fuzz_scratch());
    snprintf(xmls, sizeof xmls, "%s/xml", fuzz_scratch());
    snprintf(csv, sizeof csv, "%s/INbreast.csv", fuzz_scratch());
    snprintf(out, sizeof out, "%s/out", fuzz_scratch());
    snprintf(xml, sizeof xml, "%s/20586908.xml", xmls);
    if (ndx__mkdirs(imgs) || ndx__mkdirs(xmls) || ndx__mkdirs(out)) abort();
    static const char table[] = "File Name;ACR;Bi-Rads\n20586908;2;4c\n";
    fuzz_write(csv, table, sizeof table - 1);
    uint16_t px[80 * 60];
    for (int i = 0; i < 80 * 60; i++) px[i] = (uint16_t)(i * 977);
    char path[256];
    snprintf(path, sizeof path, "%s/20586908_6c613a14b80a8591_MG_R_CC_ANON.png", imgs);
    if (ndx_png_write16(path, px, 80, 60) != NDX_OK) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(xml, data, size);
    ndx_inbreast_opts o;
    ndx_inbreast_defaults(&o);
    o.images = imgs, o.xml = xmls, o.csv = csv, o.out = out;
    ndx_import_stats st;
    fuzz_reset();
    ndx_status s = ndx_inbreast_import(&o, &st, NULL, NULL);
    fuzz_check(s, "ndx_inbreast_import");
    if (s == NDX_OK && st.images + st.skipped != 1) abort();
    return 0;
}
