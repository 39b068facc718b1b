/* A small DICOM Part 10 writer for the tests: explicit VR little endian
 * (or any transfer syntax UID, with made-up encapsulated fragments), the
 * tags real mammograms carry (Digital Mammography X-Ray Image Storage - For
 * Presentation), and every way to make a bad file the reader must refuse. */
#ifndef NDX_DICOM_FIXTURE_H
#define NDX_DICOM_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dcm_fx {
    int w, h;
    int bits_allocated, bits_stored, high_bit, is_signed;   /* 0: 16, 16, 15, 0 */
    int samples, frames;               /* 0: 1 and no NumberOfFrames tag */
    const char *photometric;           /* NULL: MONOCHROME2 */
    const char *syntax;                /* NULL: explicit VR little endian */
    const char *slope, *intercept, *center, *width;   /* DS values or NULL */
    const char *spacing, *imager_spacing;              /* "0.1\\0.1" or NULL */
    const char *laterality, *image_laterality, *view;  /* CS values or NULL */
    const uint16_t *px;                /* w * h * samples * frames stored words */
    long cut;                          /* bytes cut from the end of the file */
    int no_rows;                       /* leave (0028,0010) Rows out */
} dcm_fx;

static inline void dcm_u16(FILE *f, unsigned v)
{
    fputc((int)(v & 255), f);
    fputc((int)((v >> 8) & 255), f);
}

static inline void dcm_u32(FILE *f, uint32_t v)
{
    dcm_u16(f, v & 0xffff);
    dcm_u16(f, v >> 16);
}

/* One element, explicit VR little endian, the value padded to even length
 * (UI with NUL, other strings with a space). */
static inline void dcm_el(FILE *f, unsigned g, unsigned e, const char *vr, const void *val, uint32_t n)
{
    const int pad = n & 1;
    dcm_u16(f, g), dcm_u16(f, e);
    fwrite(vr, 1, 2, f);
    if (!strcmp(vr, "OB") || !strcmp(vr, "OW") || !strcmp(vr, "SQ") || !strcmp(vr, "UN")) {
        dcm_u16(f, 0);
        dcm_u32(f, n + (uint32_t)pad);
    } else {
        dcm_u16(f, n + (unsigned)pad);
    }
    fwrite(val, 1, n, f);
    if (pad) fputc(!strcmp(vr, "UI") || !strcmp(vr, "OB") ? 0 : ' ', f);
}

static inline void dcm_str(FILE *f, unsigned g, unsigned e, const char *vr, const char *s)
{
    if (s) dcm_el(f, g, e, vr, s, (uint32_t)strlen(s));
}

static inline void dcm_us(FILE *f, unsigned g, unsigned e, unsigned v)
{
    unsigned char b[2] = {(unsigned char)(v & 255), (unsigned char)(v >> 8)};
    dcm_el(f, g, e, "US", b, 2);
}

/* The file meta group (0002,xxxx) with its group length. */
static inline void dcm_meta(FILE *f, const char *syntax)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(m);
    const unsigned char version[2] = {0, 1};
    dcm_el(m, 2, 1, "OB", version, 2);
    dcm_str(m, 2, 2, "UI", "1.2.840.10008.5.1.4.1.1.1.2");
    dcm_str(m, 2, 3, "UI", "1.2.826.0.1.3680043.9.7777.1.1");
    dcm_str(m, 2, 0x10, "UI", syntax);
    dcm_str(m, 2, 0x12, "UI", "1.2.826.0.1.3680043.9.7777.9");
    fclose(m);
    static const char zero[128];
    fwrite(zero, 1, 128, f);
    fwrite("DICM", 1, 4, f);
    const unsigned char len[4] = {(unsigned char)(n & 255), (unsigned char)((n >> 8) & 255), 0, 0};
    dcm_el(f, 2, 0, "UL", len, 4);
    fwrite(buf, 1, n, f);
    free(buf);
}

/* Pixel data: native words or bytes, or (an encapsulated syntax) one
 * fragment of made-up bytes. */
static inline void dcm_pixels(FILE *f, const dcm_fx *x, int encapsulated)
{
    const size_t n = (size_t)x->w * x->h * (x->samples ? x->samples : 1) * (x->frames ? x->frames : 1);
    if (encapsulated) {
        dcm_u16(f, 0x7fe0), dcm_u16(f, 0x10);
        fwrite("OB", 1, 2, f);
        dcm_u16(f, 0);
        dcm_u32(f, 0xffffffffu);
        dcm_u16(f, 0xfffe), dcm_u16(f, 0xe000), dcm_u32(f, 0);   /* empty offset table */
        dcm_u16(f, 0xfffe), dcm_u16(f, 0xe000), dcm_u32(f, 16);
        fwrite("\xff\x4f\xff\x51 not a codestream", 1, 16, f);
        dcm_u16(f, 0xfffe), dcm_u16(f, 0xe0dd), dcm_u32(f, 0);
        return;
    }
    const int b8 = x->bits_allocated == 8;
    unsigned char *buf = malloc(n * 2 + 2);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < n; i++) {
        if (b8) buf[i] = (unsigned char)x->px[i];
        else buf[2 * i] = (unsigned char)(x->px[i] & 255), buf[2 * i + 1] = (unsigned char)(x->px[i] >> 8);
    }
    dcm_el(f, 0x7fe0, 0x10, b8 ? "OB" : "OW", buf, (uint32_t)(b8 ? n : 2 * n));
    free(buf);
}

/* Writes the fixture x to path. */
static inline void dcm_write(const char *path, const dcm_fx *x)
{
    const char *syntax = x->syntax ? x->syntax : "1.2.840.10008.1.2.1";
    const int encapsulated = strcmp(syntax, "1.2.840.10008.1.2.1") && strcmp(syntax, "1.2.840.10008.1.2");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(f);
    dcm_meta(f, syntax);
    dcm_str(f, 8, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.1.2");
    dcm_str(f, 8, 0x18, "UI", "1.2.826.0.1.3680043.9.7777.1.1");
    dcm_str(f, 8, 0x60, "CS", "MG");
    dcm_str(f, 0x10, 0x20, "LO", "NDX_PHANTOM");
    dcm_str(f, 0x18, 0x1164, "DS", x->imager_spacing);
    dcm_str(f, 0x18, 0x5101, "CS", x->view);
    dcm_str(f, 0x20, 0x60, "CS", x->laterality);
    dcm_str(f, 0x20, 0x62, "CS", x->image_laterality);
    dcm_us(f, 0x28, 2, x->samples ? (unsigned)x->samples : 1);
    dcm_str(f, 0x28, 4, "CS", x->photometric ? x->photometric : "MONOCHROME2");
    if (x->samples > 1) dcm_us(f, 0x28, 6, 0);
    if (x->frames) {
        char fr[16];
        snprintf(fr, sizeof fr, "%d", x->frames);
        dcm_str(f, 0x28, 8, "IS", fr);
    }
    if (!x->no_rows) dcm_us(f, 0x28, 0x10, (unsigned)x->h);
    dcm_us(f, 0x28, 0x11, (unsigned)x->w);
    dcm_str(f, 0x28, 0x30, "DS", x->spacing);
    const int ba = x->bits_allocated ? x->bits_allocated : 16, bs = x->bits_stored ? x->bits_stored : 16;
    dcm_us(f, 0x28, 0x100, (unsigned)ba);
    dcm_us(f, 0x28, 0x101, (unsigned)bs);
    dcm_us(f, 0x28, 0x102, (unsigned)(x->high_bit ? x->high_bit : bs - 1));
    dcm_us(f, 0x28, 0x103, (unsigned)x->is_signed);
    dcm_str(f, 0x28, 0x1050, "DS", x->center);
    dcm_str(f, 0x28, 0x1051, "DS", x->width);
    dcm_str(f, 0x28, 0x1052, "DS", x->intercept);
    dcm_str(f, 0x28, 0x1053, "DS", x->slope);
    dcm_fx y = *x;
    y.bits_allocated = ba;
    dcm_pixels(f, &y, encapsulated);
    fclose(f);
    FILE *out = fopen(path, "wb");
    ck_assert_ptr_nonnull(out);
    const size_t keep = x->cut > 0 && (size_t)x->cut < n ? n - (size_t)x->cut : n;
    ck_assert_uint_eq(fwrite(buf, 1, keep, out), keep);
    ck_assert_int_eq(fclose(out), 0);
    free(buf);
}

#endif
