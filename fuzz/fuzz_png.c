/* PNG: ndx_png_read (libpng; the IHDR size checked against the limit
 * before any allocation) and ndx_png_size, on any bytes.  The limit is
 * lowered to 4 Mpixels so that a header libFuzzer invents cannot make one
 * input allocate gigabytes (the loader's own bound is what is tested). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    fuzz_reset();
    ndx_image img;
    char warn[256];
    ndx_status st = ndx_png_read(path, 4 << 20, &img, warn, sizeof warn);
    fuzz_check(st, "ndx_png_read");
    if (st == NDX_OK) {
        if (img.w < 1 || img.h < 1 || (int64_t)img.w * img.h > (4 << 20) || !img.px ||
            (img.maxval != 255 && img.maxval != 65535))
            abort();
        for (int64_t i = 0; i < (int64_t)img.w * img.h; i++)
            if (img.px[i] > img.maxval) abort();
        ndx_image_free(&img);
    }
    int w, h, bits;
    fuzz_reset();
    fuzz_check(ndx_png_size(path, &w, &h, &bits), "ndx_png_size");
    return 0;
}
