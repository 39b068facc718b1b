/* Check suite: DICOM reading (ndx_image_read through DCMTK) on files the
 * suite writes itself (tests/dicom_fixture.h): 16-bit and 12-bit-in-16,
 * MONOCHROME1, rescale, signed, 8-bit masks, spacing and laterality tags,
 * JPEG lossless / JPEG-LS / RLE made by DCMTK's own tools, and every bad
 * file with its message.  Built with DICOM=0 only the refusal is tested
 * (and the suite says the rest did not run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicom_fixture.h"
#include "netdx.h"
#include "testutil.h"

static char dir[256];
static void setup(void) { tu_tmpdir_make(dir, "netdx_dicom"); }
static void teardown(void) { tu_tmpdir_remove(dir); }
static const char *tmp(const char *name) { return tu_tmppath(dir, name); }

/* w x h stored words: a gradient plus noise within bits bits, and garbage
 * in the bits above (overlay bits old files carry) when junk is set. */
static uint16_t *pattern(int w, int h, int bits, int junk, uint64_t seed)
{
    uint16_t *p = malloc(sizeof *p * (size_t)w * h);
    ck_assert_ptr_nonnull(p);
    const uint32_t max = (1u << bits) - 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t v = (uint32_t)(((uint64_t)(x + y * w) * max) / ((uint64_t)w * h - 1));
            v = (v + (uint32_t)(tu_next(&seed) % 7)) & max;
            if (x == 0 && y == 0) v = 0;
            if (x == w - 1 && y == h - 1) v = max;
            if (junk) v |= (uint32_t)(tu_next(&seed) << bits) & 0xffffu;
            p[(size_t)y * w + x] = (uint16_t)v;
        }
    return p;
}

static void read_ok(const char *path, ndx_image *img, ndx_image_meta *meta)
{
    ndx_status st = ndx_image_read(path, 0, img, meta);
    ck_assert_msg(st == NDX_OK, "%s: %s", path, ndx_last_error());
}

START_TEST(reads_16bit_as_stored_with_its_tags)
{
    const int w = 37, h = 23;
    uint16_t *px = pattern(w, h, 16, 0, 1);
    dcm_fx x = {.w = w, .h = h, .px = px, .spacing = "0.07\\0.07", .imager_spacing = "0.1\\0.1",
                .image_laterality = "L", .laterality = "R", .view = "MLO", .center = "2000",
                .width = "1000"};
    dcm_write(tmp("a.dcm"), &x);
    ndx_image img;
    ndx_image_meta m;
    read_ok(tmp("a.dcm"), &img, &m);
    ck_assert_int_eq(img.w, w);
    ck_assert_int_eq(img.h, h);
    ck_assert_int_eq(img.maxval, 65535);
    ck_assert_mem_eq(img.px, px, sizeof *px * (size_t)w * h);
    ck_assert_str_eq(m.format, "dicom");
    ck_assert_str_eq(m.photometric, "MONOCHROME2");
    ck_assert_int_eq(m.bits, 16);
    ck_assert_double_eq_tol(m.pixel_spacing_mm, 0.07, 1e-12);   /* PixelSpacing first */
    ck_assert_str_eq(m.laterality, "LEFT");                      /* ImageLaterality first */
    ck_assert_str_eq(m.view, "MLO");
    ck_assert_double_eq_tol(m.window_center, 2000, 1e-9);
    ck_assert_double_eq_tol(m.window_width, 1000, 1e-9);
    ndx_image_free(&img);
    /* the size and the tags from the header alone */
    int iw, ih, bits;
    ck_assert_int_eq(ndx_image_size(tmp("a.dcm"), &iw, &ih, &bits), NDX_OK);
    ck_assert_int_eq(iw, w);
    ck_assert_int_eq(ih, h);
    ck_assert_int_eq(bits, 16);
    /* a PNG through the same call: its pixels, the DICOM fields unknown */
    ck_assert_int_eq(ndx_png_write16(tmp("a.png"), px, w, h), NDX_OK);
    read_ok(tmp("a.png"), &img, &m);
    ck_assert_mem_eq(img.px, px, sizeof *px * (size_t)w * h);
    ck_assert_str_eq(m.format, "png");
    ck_assert_double_eq(m.pixel_spacing_mm, 0);
    ck_assert_str_eq(m.laterality, "");
    ndx_image_free(&img);
    /* the DICOM limit of pixels, from the header */
    ck_assert_int_eq(ndx_image_read(tmp("a.dcm"), 100, &img, NULL), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "limit"));
    ck_assert_ptr_null(img.px);
    free(px);
}
END_TEST

START_TEST(monochrome1_is_inverted_and_its_window_too)
{
    const int w = 16, h = 9;
    uint16_t *px = pattern(w, h, 16, 0, 2);
    dcm_fx x = {.w = w, .h = h, .px = px, .photometric = "MONOCHROME1", .center = "1000",
                .width = "500", .laterality = "R", .view = "CC"};
    dcm_write(tmp("m1.dcm"), &x);
    ndx_image img;
    ndx_image_meta m;
    read_ok(tmp("m1.dcm"), &img, &m);
    for (int i = 0; i < w * h; i++) ck_assert_uint_eq(img.px[i], 65535u - px[i]);
    ck_assert_str_eq(m.photometric, "MONOCHROME1");
    ck_assert_double_eq_tol(m.window_center, 65535 - 1000, 1e-9);
    ck_assert_double_eq_tol(m.window_width, 500, 1e-9);
    ck_assert_str_eq(m.laterality, "RIGHT");   /* Laterality when ImageLaterality is absent */
    ck_assert_double_eq(m.pixel_spacing_mm, 0);
    ndx_image_free(&img);
    free(px);
}
END_TEST

START_TEST(bits12_in_16_scaled_to_full_range)
{
    const int w = 64, h = 64;
    uint16_t *px = pattern(w, h, 12, 1, 3);   /* junk above bit 11 */
    dcm_fx x = {.w = w, .h = h, .px = px, .bits_stored = 12, .center = "2047.5", .width = "4095",
                .imager_spacing = "0.085\\0.085"};
    dcm_write(tmp("b12.dcm"), &x);
    ndx_image img;
    ndx_image_meta m;
    read_ok(tmp("b12.dcm"), &img, &m);
    ck_assert_int_eq(m.bits, 12);
    ck_assert_double_eq_tol(m.pixel_spacing_mm, 0.085, 1e-12);   /* ImagerPixelSpacing */
    for (int i = 0; i < w * h; i++) {
        const unsigned v = px[i] & 4095u, want = (unsigned)((v * 65535u + 2047u) / 4095u);
        ck_assert_msg(img.px[i] == want, "pixel %d: stored %u read %u, expected %u", i, v, img.px[i], want);
    }
    ck_assert_uint_eq(img.px[0], 0);
    ck_assert_uint_eq(img.px[w * h - 1], 65535);
    ck_assert_double_eq_tol(m.window_center, 32767.5, 1e-6);
    ck_assert_double_eq_tol(m.window_width, 65535, 1e-6);
    ndx_image_free(&img);
    free(px);
}
END_TEST

START_TEST(rescale_signed_and_8bit)
{
    /* signed 16-bit: -32768 -> 0, 32767 -> 65535, order kept */
    const int w = 8, h = 4;
    uint16_t s[32];
    for (int i = 0; i < 32; i++) s[i] = (uint16_t)(int16_t)(-32768 + i * 2113);
    s[31] = 32767;
    dcm_fx x = {.w = w, .h = h, .px = s, .is_signed = 1};
    dcm_write(tmp("s.dcm"), &x);
    ndx_image img;
    read_ok(tmp("s.dcm"), &img, NULL);
    ck_assert_uint_eq(img.px[0], 0);
    ck_assert_uint_eq(img.px[31], 65535);
    for (int i = 1; i < 32; i++) ck_assert_uint_gt(img.px[i], img.px[i - 1]);
    ndx_image_free(&img);
    /* a negative slope turns the order round; the intercept only shifts */
    uint16_t u[32];
    for (int i = 0; i < 32; i++) u[i] = (uint16_t)(i * 100);
    dcm_fx y = {.w = w, .h = h, .px = u, .bits_stored = 12, .slope = "-2", .intercept = "-1000"};
    dcm_write(tmp("r.dcm"), &y);
    read_ok(tmp("r.dcm"), &img, NULL);
    for (int i = 0; i < 32; i++) {
        const double mv = -2.0 * u[i] - 1000, lo = -2.0 * 4095 - 1000;
        const unsigned want = (unsigned)((mv - lo) * 65535.0 / (2.0 * 4095) + 0.5);
        ck_assert_uint_eq(img.px[i], want);
    }
    ndx_image_free(&img);
    /* an 8-bit mask: 0 and 255 become 0 and 65535 */
    uint16_t b[32];
    for (int i = 0; i < 32; i++) b[i] = i % 3 ? 255 : 0;
    dcm_fx z = {.w = 7, .h = 3, .px = b, .bits_allocated = 8, .bits_stored = 8};
    dcm_write(tmp("mask.dcm"), &z);
    read_ok(tmp("mask.dcm"), &img, NULL);
    ck_assert_int_eq(img.w, 7);
    for (int i = 0; i < 21; i++) ck_assert_uint_eq(img.px[i], b[i] ? 65535u : 0u);
    ndx_image_free(&img);
}
END_TEST

/* The pixels of a and b, both read, are the same. */
static void same_pixels(const char *a, const char *b)
{
    ndx_image ia, ib;
    read_ok(a, &ia, NULL);
    read_ok(b, &ib, NULL);
    ck_assert_int_eq(ia.w, ib.w);
    ck_assert_int_eq(ia.h, ib.h);
    ck_assert_mem_eq(ia.px, ib.px, sizeof *ia.px * (size_t)ia.w * ia.h);
    ndx_image_free(&ia);
    ndx_image_free(&ib);
}

/* Runs a DCMTK tool (installed by tools/install-deps.sh build). */
static void tool(const char *cmd, const char *in, const char *out)
{
    char line[1500];
    snprintf(line, sizeof line, "%s '%s' '%s' > '%s' 2>&1", cmd, in, out, tmp("tool.log"));
    int rc = system(line);
    char *log = tu_slurp(tmp("tool.log"), NULL);
    ck_assert_msg(rc == 0, "%s failed (%d; DCMTK's tools come with tools/install-deps.sh build): %s",
                  line, rc, log ? log : "");
    free(log);
}

START_TEST(compressed_syntaxes_decode_to_the_same_pixels)
{
    const int w = 40, h = 30;
    uint16_t *p16 = pattern(w, h, 16, 0, 4), *p12 = pattern(w, h, 12, 0, 5);
    dcm_fx a = {.w = w, .h = h, .px = p16}, b = {.w = w, .h = h, .px = p12, .bits_stored = 12,
                                                   .photometric = "MONOCHROME1"};
    dcm_write(tmp("n16.dcm"), &a);
    dcm_write(tmp("n12.dcm"), &b);
    tool("dcmcjpeg +e1", tmp("n16.dcm"), tmp("j16.dcm"));
    tool("dcmcjpeg +e1", tmp("n12.dcm"), tmp("j12.dcm"));
    tool("dcmcjpls", tmp("n12.dcm"), tmp("ls12.dcm"));
    tool("dcmcrle", tmp("n16.dcm"), tmp("rle16.dcm"));
    same_pixels(tmp("n16.dcm"), tmp("j16.dcm"));
    same_pixels(tmp("n12.dcm"), tmp("j12.dcm"));
    same_pixels(tmp("n12.dcm"), tmp("ls12.dcm"));
    same_pixels(tmp("n16.dcm"), tmp("rle16.dcm"));
    free(p16);
    free(p12);
}
END_TEST

/* path fails to read with st, naming the file and holding needle. */
static void refused(const char *path, ndx_status st, const char *needle)
{
    ndx_image img;
    ndx_status got = ndx_image_read(path, 0, &img, NULL);
    ck_assert_msg(got == st, "%s: status %d, expected %d (%s)", path, got, st, ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), path) != NULL, "'%s' does not name %s", ndx_last_error(), path);
    ck_assert_msg(strstr(ndx_last_error(), needle) != NULL, "'%s' lacks '%s'", ndx_last_error(), needle);
    ck_assert_ptr_null(img.px);
}

START_TEST(bad_files_name_the_file_and_the_tag)
{
    const int w = 12, h = 10;
    uint16_t *px = pattern(w, h, 16, 0, 6);
    uint16_t *rgb = pattern(w * 3, h, 8, 0, 7);
    uint16_t *two = pattern(w, h * 2, 16, 0, 8);
    /* not DICOM at all: a PNG, and text, named .dcm */
    ck_assert_int_eq(ndx_png_write16(tmp("png.dcm"), px, w, h), NDX_OK);
    refused(tmp("png.dcm"), NDX_ERR_FORMAT, "not a DICOM file: no \"DICM\"");
    tu_write_bytes(tmp("short.dcm"), "hello", 5);
    refused(tmp("short.dcm"), NDX_ERR_FORMAT, "not a DICOM file");
    /* truncated: the pixel data cut short */
    dcm_fx t = {.w = w, .h = h, .px = px, .cut = 50};
    dcm_write(tmp("cut.dcm"), &t);
    refused(tmp("cut.dcm"), NDX_ERR_FORMAT, "(7FE0,0010) PixelData");
    /* colour */
    dcm_fx c = {.w = w, .h = h, .px = rgb, .samples = 3, .photometric = "RGB", .bits_allocated = 8,
                .bits_stored = 8};
    dcm_write(tmp("rgb.dcm"), &c);
    refused(tmp("rgb.dcm"), NDX_ERR_FORMAT, "(0028,0004) PhotometricInterpretation is 'RGB'");
    /* several frames */
    dcm_fx f = {.w = w, .h = h, .px = two, .frames = 2};
    dcm_write(tmp("frames.dcm"), &f);
    refused(tmp("frames.dcm"), NDX_ERR_FORMAT, "(0028,0008) NumberOfFrames is 2");
    /* JPEG 2000, which Debian's DCMTK does not decode; an unknown syntax */
    dcm_fx j = {.w = w, .h = h, .px = px, .syntax = "1.2.840.10008.1.2.4.90"};
    dcm_write(tmp("j2k.dcm"), &j);
    refused(tmp("j2k.dcm"), NDX_ERR_FORMAT, "(0002,0010) TransferSyntaxUID 1.2.840.10008.1.2.4.90");
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "JPEG 2000"));
    dcm_fx u = {.w = w, .h = h, .px = px, .syntax = "1.2.3.4.5"};
    dcm_write(tmp("unknown.dcm"), &u);
    refused(tmp("unknown.dcm"), NDX_ERR_FORMAT, "(0002,0010) TransferSyntaxUID '1.2.3.4.5'");
    /* bits the reader does not take, a missing Rows */
    dcm_fx b = {.w = w, .h = h, .px = px, .bits_allocated = 16, .bits_stored = 17, .high_bit = 16};
    dcm_write(tmp("bits.dcm"), &b);
    refused(tmp("bits.dcm"), NDX_ERR_FORMAT, "(0028,0101) BitsStored 17");
    dcm_fx r = {.w = w, .h = h, .px = px, .no_rows = 1};
    dcm_write(tmp("rows.dcm"), &r);
    refused(tmp("rows.dcm"), NDX_ERR_FORMAT, "(0028,0010) Rows is missing");
    /* an element declaring more bytes than the whole file (DCMTK would
       allocate them all on reading it: 1 GB from a 1 KB file) */
    dcm_write(tmp("long.dcm"), &(dcm_fx){.w = w, .h = h, .px = px});
    FILE *lf = fopen(tmp("long.dcm"), "ab");
    ck_assert_ptr_nonnull(lf);
    static const unsigned char el[] = {0xe1, 0x7f, 0x10, 0x00, 'O', 'B', 0, 0, 0, 0, 0, 0x40,
                                       1, 2, 3, 4, 5, 6, 7, 8};
    ck_assert_uint_eq(fwrite(el, 1, sizeof el, lf), sizeof el);
    ck_assert_int_eq(fclose(lf), 0);
    refused(tmp("long.dcm"), NDX_ERR_FORMAT, "(7FE1,0010) declares a value of 1073741824 bytes");
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "more than the whole file"));
    /* a damaged JPEG-LS stream on which Debian's CharLS fails an assert()
       (found by fuzz_dicom): decoded in a child process, the caller lives */
    refused("fuzz/crashes/fuzz_dicom/jpeg-ls-charls-assert", NDX_ERR_FORMAT,
            "(7FE0,0010) PixelData: DCMTK's JPEG-LS Lossless decoder died on it");
    /* a rescale that takes the stored values out of any range (NaN before) */
    dcm_fx s = {.w = w, .h = h, .px = px, .slope = "1e305"};
    dcm_write(tmp("slope.dcm"), &s);
    refused(tmp("slope.dcm"), NDX_ERR_FORMAT, "(0028,1053) RescaleSlope 1e+305");
    /* a header over the pixel limit is refused by the probe too (masks are
       allocated by its size) */
    ndx_image_meta meta;
    dcm_fx big = {.w = 9000, .h = 8000, .px = px, .syntax = "1.2.840.10008.1.2.4.70"};
    dcm_write(tmp("big.dcm"), &big);
    ck_assert_int_eq(ndx_image_probe(tmp("big.dcm"), &meta), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "9000 x 8000 pixels, over the limit"));
    /* a folder, a missing file */
    ck_assert_int_eq(mkdir(tmp("dir.dcm"), 0755), 0);
    refused(tmp("dir.dcm"), NDX_ERR_IO, "not a regular file");
    refused(tmp("none.dcm"), NDX_ERR_IO, "No such file");
    free(px);
    free(rgb);
    free(two);
}
END_TEST

START_TEST(without_dicom_a_clear_refusal)
{
    uint16_t px[4] = {0, 1, 2, 3};
    dcm_fx x = {.w = 2, .h = 2, .px = px};
    dcm_write(tmp("a.dcm"), &x);
    refused(tmp("a.dcm"), NDX_ERR_UNSUPPORTED, "built without DICOM");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dicom");
    TCase *t = tcase_create("read");
    tcase_add_checked_fixture(t, setup, teardown);
    if (ndx_image_dicom_available()) {
        tcase_add_test(t, reads_16bit_as_stored_with_its_tags);
        tcase_add_test(t, monochrome1_is_inverted_and_its_window_too);
        tcase_add_test(t, bits12_in_16_scaled_to_full_range);
        tcase_add_test(t, rescale_signed_and_8bit);
        tcase_add_test(t, compressed_syntaxes_decode_to_the_same_pixels);
        tcase_add_test(t, bad_files_name_the_file_and_the_tag);
    } else {
        fprintf(stderr, "check_dicom: built without DICOM (DICOM=0): only the refusal of a DICOM "
                "file is tested; the reading tests did not run\n");
        tcase_add_test(t, without_dicom_a_clear_refusal);
    }
    suite_add_tcase(s, t);
    return tu_run(s);
}
