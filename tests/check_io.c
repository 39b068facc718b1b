/* Check suite: the safe-write routine (src/io/file.c), PNG reading and
 * writing, the CSV reader. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <sys/stat.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netdx.h"
#include "testutil.h"
#include "../src/io/io.h"

static char tmpdir[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/netdx_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) { nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* ---- safe writes ---------------------------------------------------------- */

/* Entries of tmpdir other than . and .. */
static int count_entries(void)
{
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Writes 100000 bytes of 'n', then fails when ctx says so. */
static ndx_status fill(FILE *f, void *ctx)
{
    for (int i = 0; i < 100000; i++) fputc('n', f);
    return *(int *)ctx ? ndx__fail(NDX_ERR_IO, "the writer failed midway") : NDX_OK;
}

START_TEST(safe_write_keeps_old_file_on_failure)
{
    const char *path = tmp("out.txt");
    write_bytes(path, "old", 3);
    int fail = 1;
    ck_assert_int_eq(ndx__write_file(path, fill, &fail), NDX_ERR_IO);
    ck_assert_str_eq(ndx_last_error(), "the writer failed midway");
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(b, "old", 3);
    free(b);
    ck_assert_int_eq(count_entries(), 1);   /* no temporary file left */
    /* a failure after writing: renaming over a directory */
    ck_assert_int_eq(mkdir(tmp("adir"), 0755), 0);
    fail = 0;
    ck_assert_int_eq(ndx__write_file(tmp("adir"), fill, &fail), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "adir: cannot put the new file in place: Is a directory"));
    ck_assert_int_eq(count_entries(), 2);
    /* a folder that does not exist: nothing created */
    ck_assert_int_eq(ndx__write_file(tmp("none/x.txt"), fill, &fail), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "none/x.txt"));
    ck_assert_int_eq(count_entries(), 2);
    /* success replaces the file, mode 0644 */
    ck_assert_int_eq(ndx__write_file(path, fill, &fail), NDX_OK);
    b = read_bytes(path, &n);
    ck_assert_uint_eq(n, 100000);
    ck_assert(b[0] == 'n' && b[n - 1] == 'n');
    free(b);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    ck_assert_int_eq(count_entries(), 2);
    /* a name longer than the file system allows: an I/O error naming the
     * path (no fixed buffer in the routine), nothing written */
    char *longp = malloc(5000);
    memset(longp, 'a', 4998);
    longp[4998] = 0;
    for (size_t len = 4096; len < 4110; len++) {
        longp[len] = 0;
        ck_assert_int_eq(ndx__write_file(longp, fill, &fail), NDX_ERR_IO);
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), "aaaaaaaa"));
        longp[len] = 'a';
    }
    free(longp);
    ck_assert_int_eq(count_entries(), 2);
    /* an aborted ndx__out leaves nothing either */
    ndx__out o;
    ck_assert_int_eq(ndx__out_open(&o, tmp("aborted"), 1), NDX_OK);
    ndx__out_put(&o, "x", 1);
    ck_assert_int_eq(count_entries(), 3);
    ndx__out_abort(&o);
    ck_assert_int_eq(count_entries(), 2);
}
END_TEST

START_TEST(sealed_file_checked)
{
    const char *path = tmp("sealed.bin");
    ndx__out o;
    ck_assert_int_eq(ndx__out_open(&o, path, 1), NDX_OK);
    for (int i = 0; i < 3000; i++) ndx__out_put(&o, &i, sizeof i);
    ck_assert_int_eq(ndx__out_commit(&o), NDX_OK);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    ck_assert_uint_eq(n, 3000 * sizeof(int) + 8);
    /* the seal is the hash of what came before it, little-endian */
    const uint64_t h = ndx_hash64(b, n - 8, 0);
    for (int i = 0; i < 8; i++) ck_assert_uint_eq(b[n - 8 + i], (h >> (8 * i)) & 255);
    for (size_t at = 0; at < n; at += 997) {   /* every flipped byte is caught */
        b[at] ^= 4;
        write_bytes(path, b, n);
        b[at] ^= 4;
        FILE *f = fopen(path, "rb");
        ck_assert_int_eq(ndx__sealed_check(f, n, path), NDX_ERR_FORMAT);
        fclose(f);
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), "checksum mismatch"));
    }
    write_bytes(path, b, n);
    FILE *f = fopen(path, "rb");
    ck_assert_int_eq(ndx__sealed_check(f, n, path), NDX_OK);
    ck_assert_int_eq(ndx__sealed_check(f, 5, path), NDX_ERR_FORMAT);   /* shorter than a seal */
    fclose(f);
    free(b);
}
END_TEST

/* ---- PNG ------------------------------------------------------------------ */
START_TEST(png_16bit_roundtrip)
{
    uint64_t s = 11;
    int w = 37, h = 23;
    uint16_t *px = malloc(sizeof *px * w * h);
    for (int i = 0; i < w * h; i++) px[i] = (uint16_t)(tu_next(&s) & 0xffff);
    ck_assert_int_eq(ndx_png_write16(tmp("a.png"), px, w, h), NDX_OK);
    ndx_image im;
    char warn[256] = "x";
    ck_assert_int_eq(ndx_png_read(tmp("a.png"), 0, &im, warn, sizeof warn), NDX_OK);
    ck_assert_str_eq(warn, "");
    ck_assert_int_eq(im.w, w);
    ck_assert_int_eq(im.h, h);
    ck_assert_int_eq(im.maxval, 65535);
    ck_assert_mem_eq(im.px, px, sizeof *px * w * h);
    int iw, ih, bits;
    ck_assert_int_eq(ndx_png_size(tmp("a.png"), &iw, &ih, &bits), NDX_OK);
    ck_assert_int_eq(iw * 1000 + ih, w * 1000 + h);
    ck_assert_int_eq(bits, 16);
    /* no temporary file is left behind */
    DIR *d = opendir(tmpdir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) files += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(files, 1);
    ndx_image_free(&im);
    free(px);
}
END_TEST

START_TEST(png_8bit_roundtrip)
{
    int w = 19, h = 31;
    uint8_t *px = malloc(w * h);
    for (int i = 0; i < w * h; i++) px[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(ndx_png_write8(tmp("b.png"), px, w, h, 1), NDX_OK);
    ndx_image im;
    ck_assert_int_eq(ndx_png_read(tmp("b.png"), 0, &im, NULL, 0), NDX_OK);
    ck_assert_int_eq(im.maxval, 255);
    for (int i = 0; i < w * h; i++) ck_assert_int_eq(im.px[i], px[i]);
    ndx_image_free(&im);
    free(px);
}
END_TEST

START_TEST(png_rgb_converted_with_warning)
{
    int w = 8, h = 4;
    uint8_t px[8 * 4 * 3];
    for (int i = 0; i < w * h; i++) {   /* gray pixels stay themselves after luma */
        uint8_t v = (uint8_t)(i * 8);
        px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = v;
    }
    px[0] = 255, px[1] = 0, px[2] = 0;   /* one red pixel */
    ck_assert_int_eq(ndx_png_write8(tmp("c.png"), px, w, h, 3), NDX_OK);
    ndx_image im;
    char warn[512] = "";
    ck_assert_int_eq(ndx_png_read(tmp("c.png"), 0, &im, warn, sizeof warn), NDX_OK);
    ck_assert_ptr_nonnull(strstr(warn, "c.png"));
    ck_assert_ptr_nonnull(strstr(warn, "grayscale"));
    ck_assert_int_eq(im.maxval, 255);
    for (int i = 1; i < w * h; i++) ck_assert_int_le(abs((int)im.px[i] - i * 8), 1);
    ck_assert_int_lt(im.px[0], 128);   /* red is dark in luma (0.2126) */
    ck_assert_int_gt(im.px[0], 20);
    ndx_image_free(&im);
}
END_TEST

static void expect_fail(const char *path, ndx_status want, const char *needle)
{
    ndx_image im = {0};
    ndx_status st = ndx_png_read(path, 0, &im, NULL, 0);
    ck_assert_int_eq(st, want);
    ck_assert_ptr_null(im.px);
    ck_assert_msg(strstr(ndx_last_error(), path) != NULL, "message '%s' does not name %s",
                  ndx_last_error(), path);
    if (needle)
        ck_assert_msg(strstr(ndx_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                      ndx_last_error(), needle);
}

START_TEST(png_corrupt_files)
{
    uint16_t px[64 * 64];
    for (int i = 0; i < 64 * 64; i++) px[i] = (uint16_t)(i * 13);
    ck_assert_int_eq(ndx_png_write16(tmp("ok.png"), px, 64, 64), NDX_OK);
    size_t n;
    unsigned char *b = read_bytes(tmp("ok.png"), &n);
    /* truncated at several points: inside the header, inside IDAT */
    size_t cuts[] = {0, 5, 12, 30, n / 2, n - 13};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(tmp("cut.png"), b, cuts[i]);
        expect_fail(tmp("cut.png"), NDX_ERR_FORMAT, NULL);
    }
    /* a flipped byte in the image data: CRC or zlib error */
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    c[n / 2] ^= 0x5a;
    write_bytes(tmp("flip.png"), c, n);
    expect_fail(tmp("flip.png"), NDX_ERR_FORMAT, "corrupt");
    /* not a PNG at all */
    write_bytes(tmp("text.png"), "patient_id,view\nP_1,CC\n", 23);
    expect_fail(tmp("text.png"), NDX_ERR_FORMAT, "not a PNG");
    /* missing */
    expect_fail(tmp("missing.png"), NDX_ERR_IO, NULL);
    free(b);
    free(c);
}
END_TEST

START_TEST(png_size_limit_before_allocation)
{
    /* a valid header claiming 60000 x 60000 pixels and nothing else */
    uint16_t px[4] = {1, 2, 3, 4};
    ck_assert_int_eq(ndx_png_write16(tmp("s.png"), px, 2, 2), NDX_OK);
    ndx_image im;
    ck_assert_int_eq(ndx_png_read(tmp("s.png"), 3, &im, NULL, 0), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "limit"));
    ck_assert_int_eq(ndx_png_read(tmp("s.png"), 4, &im, NULL, 0), NDX_OK);
    ndx_image_free(&im);
    /* a valid header (right CRC) claiming 60000 x 60000 pixels, then nothing */
    static const unsigned char big[] = {
        0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60, 16, 0, 0, 0, 0};
    unsigned char hdr[33];
    memcpy(hdr, big, 29);
    /* CRC-32 over "IHDR" + 13 bytes */
    uint32_t crc = 0xffffffffu;
    for (int i = 12; i < 29; i++) {
        crc ^= hdr[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    crc ^= 0xffffffffu;
    hdr[29] = (unsigned char)(crc >> 24), hdr[30] = (unsigned char)(crc >> 16);
    hdr[31] = (unsigned char)(crc >> 8), hdr[32] = (unsigned char)crc;
    write_bytes(tmp("big.png"), hdr, sizeof hdr);
    ck_assert_int_eq(ndx_png_read(tmp("big.png"), 1000000, &im, NULL, 0), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "60000x60000"));
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "limit"));
}
END_TEST

START_TEST(png_write_errors)
{
    uint16_t px[4] = {0};
    ck_assert_int_eq(ndx_png_write16(tmp("no/such/dir/x.png"), px, 2, 2), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "no/such/dir"));
    ck_assert_int_eq(ndx_png_write8(tmp("z.png"), (uint8_t *)px, 0, 2, 1), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_png_write8(tmp("z.png"), (uint8_t *)px, 2, 2, 2), NDX_ERR_INVALID);
}
END_TEST

/* ---- CSV ------------------------------------------------------------------ */
static ndx_csv *mem(const char *text)
{
    ndx_csv *c;
    ck_assert_int_eq(ndx_csv_open_mem(text, strlen(text), "mem.csv", &c), NDX_OK);
    return c;
}

START_TEST(csv_quotes_crlf_newlines)
{
    ndx_csv *c = mem("\xEF\xBB\xBF" "a,b,c\r\n"
                     "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
                     "2,\"path/000001.dcm\n\",\r\n"
                     ",,\n"
                     "3,last,row");
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_int_eq(ndx_csv_nfields(c), 3);
    ck_assert_str_eq(ndx_csv_field(c, 0), "a");
    ck_assert_str_eq(ndx_csv_field(c, 2), "c");
    ck_assert_int_eq(ndx_csv_line(c), 1);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_str_eq(ndx_csv_field(c, 1), "x, y");
    ck_assert_str_eq(ndx_csv_field(c, 2), "say \"hi\"");
    ck_assert_int_eq(ndx_csv_line(c), 2);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_str_eq(ndx_csv_field(c, 1), "path/000001.dcm\n");
    ck_assert_str_eq(ndx_csv_field(c, 2), "");
    ck_assert_int_eq(ndx_csv_nfields(c), 3);
    ck_assert_int_eq(ndx_csv_line(c), 3);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_int_eq(ndx_csv_nfields(c), 3);
    ck_assert_int_eq(ndx_csv_line(c), 5);   /* the quoted newline counted */
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_str_eq(ndx_csv_field(c, 2), "row");
    ck_assert_str_eq(ndx_csv_field(c, 7), "");   /* past the end */
    ck_assert_int_eq(ndx_csv_next(c), 0);
    ck_assert_int_eq(ndx_csv_next(c), 0);
    ndx_csv_close(c);
}
END_TEST

START_TEST(csv_unterminated_quote)
{
    ndx_csv *c = mem("a,b\n1,2\n3,\"open\n4,5\n");
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_int_eq(ndx_csv_next(c), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "mem.csv:3"));
    ndx_csv_close(c);
    ck_assert_int_eq(ndx_csv_open(tmp("none.csv"), &c), NDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "none.csv"));
}
END_TEST

START_TEST(csv_nul_byte_rejected)
{
    static const char text[] = "a,b,c\n1,ab\0cd,3\n\"x\ny\0\",2\n";
    ndx_csv *c;
    ck_assert_int_eq(ndx_csv_open_mem(text, sizeof text - 1, "nul.csv", &c), NDX_OK);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_int_eq(ndx_csv_next(c), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), "nul.csv:2: column 2") != NULL, "%s", ndx_last_error());
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "NUL"));
    ndx_csv_close(c);
    /* inside a quoted field spanning lines: the NUL's own line; from a file */
    write_bytes(tmp("nul.csv"), text, sizeof text - 1);
    ck_assert_int_eq(ndx_csv_open(tmp("nul.csv"), &c), NDX_OK);
    ck_assert_int_eq(ndx_csv_next(c), 1);
    ck_assert_int_eq(ndx_csv_next(c), NDX_ERR_FORMAT);
    ndx_csv_close(c);
    ck_assert_int_eq(ndx_csv_open_mem(text + 16, sizeof text - 17, "q.csv", &c), NDX_OK);
    ck_assert_int_eq(ndx_csv_next(c), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), "q.csv:2: column 1") != NULL, "%s", ndx_last_error());
    ndx_csv_close(c);
}
END_TEST

START_TEST(csv_from_file_matches_memory)
{
    const char *text = "x,\"y\"\"\",z\r\n1,2,3";
    write_bytes(tmp("f.csv"), text, strlen(text));
    ndx_csv *a, *b = mem(text);
    ck_assert_int_eq(ndx_csv_open(tmp("f.csv"), &a), NDX_OK);
    int ra, rb;
    while ((ra = ndx_csv_next(a)) > 0 && (rb = ndx_csv_next(b)) > 0) {
        ck_assert_int_eq(ndx_csv_nfields(a), ndx_csv_nfields(b));
        for (int i = 0; i < ndx_csv_nfields(a); i++)
            ck_assert_str_eq(ndx_csv_field(a, i), ndx_csv_field(b, i));
    }
    ck_assert_int_eq(ra, 0);
    ck_assert_str_eq(ndx_csv_name(a), tmp("f.csv"));
    ndx_csv_close(a);
    ndx_csv_close(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io");
    TCase *t = tcase_create("file");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, safe_write_keeps_old_file_on_failure);
    tcase_add_test(t, sealed_file_checked);
    suite_add_tcase(s, t);
    t = tcase_create("png");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, png_16bit_roundtrip);
    tcase_add_test(t, png_8bit_roundtrip);
    tcase_add_test(t, png_rgb_converted_with_warning);
    tcase_add_test(t, png_corrupt_files);
    tcase_add_test(t, png_size_limit_before_allocation);
    tcase_add_test(t, png_write_errors);
    suite_add_tcase(s, t);
    t = tcase_create("csv");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, csv_quotes_crlf_newlines);
    tcase_add_test(t, csv_unterminated_quote);
    tcase_add_test(t, csv_from_file_matches_memory);
    tcase_add_test(t, csv_nul_byte_rejected);
    suite_add_tcase(s, t);
    return tu_run(s);
}
