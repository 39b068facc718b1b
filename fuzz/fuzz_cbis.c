/* CBIS-DDSM description CSV: ndx_cbis_import of a folder whose
 * mass_case_description_train_set.csv is the input, against an images
 * folder holding small PNGs at the paths of the fixture CSVs
 * (tests/data/cbis; .dcm read as .png): header names, trimming, codes,
 * ranges, the mask chosen by size, manifest.csv written. */
#include "fuzz.h"
#include "../src/io/io.h"

#ifndef NDX_SRCDIR
#define NDX_SRCDIR "."
#endif

static char csv_dir[128], img_dir[128], out_dir[128], csv[256];

/* Trims as the importer does, .dcm -> .png, and writes a w x h PNG there. */
static void png_at(const char *rel, int w, int h)
{
    char t[600], path[800];
    snprintf(t, sizeof t, "%s", rel);
    char *s = t;
    while (*s && strchr(" \t\r\n\"'", *s)) s++;
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n\"'", s[n - 1])) s[--n] = 0;
    if (!n) return;
    if (n > 4 && !strcmp(s + n - 4, ".dcm")) s[n - 4] = 0;
    snprintf(path, sizeof path, "%s/%s.png", img_dir, s);
    for (char *p = path + strlen(img_dir) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (ndx__mkdirs(path) != NDX_OK) abort();
            *p = '/';
        }
    uint16_t px[64 * 64];
    for (int i = 0; i < w * h; i++) px[i] = (uint16_t)(i * 977);
    if (ndx_png_write16(path, px, w, h) != NDX_OK) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static const char *const files[4] = {
        "mass_case_description_train_set.csv", "mass_case_description_test_set.csv",
        "calc_case_description_train_set.csv", "calc_case_description_test_set.csv"};
    snprintf(csv_dir, sizeof csv_dir, "%s/csv", fuzz_scratch());
    snprintf(img_dir, sizeof img_dir, "%s/img", fuzz_scratch());
    snprintf(out_dir, sizeof out_dir, "%s/out", fuzz_scratch());
    if (ndx__mkdirs(csv_dir) || ndx__mkdirs(img_dir) || ndx__mkdirs(out_dir)) abort();
    snprintf(csv, sizeof csv, "%s/%s", csv_dir, files[0]);
    for (int f = 0; f < 4; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/data/cbis/%s", NDX_SRCDIR, files[f]);
        ndx_csv *c;
        if (ndx_csv_open(path, &c) != NDX_OK || ndx_csv_next(c) != 1) {
            fprintf(stderr, "fuzz_cbis: %s\n", ndx_last_error());
            abort();
        }
        while (ndx_csv_next(c) > 0) {
            png_at(ndx_csv_field(c, 11), 48, 64);   /* image, ROI mask, crop */
            png_at(ndx_csv_field(c, 13), 48, 64);
            png_at(ndx_csv_field(c, 12), 8, 8);
        }
        ndx_csv_close(c);
    }
    return 0;
}

static void note(void *ctx, const char *msg)
{
    (void)ctx;
    if (!msg || !msg[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(csv, data, size);
    ndx_cbis_stats st;
    fuzz_reset();
    fuzz_check(ndx_cbis_import(csv_dir, img_dir, out_dir, &st, note, NULL), "ndx_cbis_import");
    return 0;
}
