/* Model files suite: safetensors (round trip, hand-made and crafted bad
 * files) and .npy, each bad file refused with the culprit named. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/core/core.h"
#include "golden.h"
#include "kernels.h"
#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"

/* ---- safetensors and .npy ----------------------------------------------------------- */

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/check_nn.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Removes the files the tests made and their directory. */
static void tmp_cleanup(void)
{
    const char *names[] = {"tiny.safetensors", "hand.safetensors", "x.npy", "bad.safetensors",
                           "meta.safetensors", "big.npy"};
    if (!tmpdir[0]) return;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(tmp_path(names[i]));
    ck_assert_int_eq(rmdir(tmpdir), 0);
    tmpdir[0] = 0;
}

static void expect_load_error(ndx_net *net, const char *path, int flags, ndx_status want,
                              const char *needle)
{
    ndx_status st = ndx_safetensors_load_into(net, path, flags);
    ck_assert_msg(st == want, "%s: status %d, expected %d (%s)", path, st, want, ndx_last_error());
    ck_assert_msg(strstr(ndx_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  ndx_last_error(), needle);
}

START_TEST(test_safetensors_roundtrip)
{
    ndx_net *a, *b, *c;
    ck_assert_int_eq(ndx_zoo_build("tiny", 3, 16, 1, &a), NDX_OK);
    ndx_net_init_hash(a, 9);
    const char *path = tmp_path("tiny.safetensors");
    ck_assert_int_eq(ndx_safetensors_save(a, path), NDX_OK);
    char arch[32];
    int nc, size;
    ck_assert_int_eq(ndx_safetensors_meta(path, arch, sizeof arch, &nc, &size), NDX_OK);
    ck_assert_str_eq(arch, "tiny");
    ck_assert_int_eq(nc, 3);
    ck_assert_int_eq(size, 16);
    ck_assert_int_eq(ndx_net_load(path, &b), NDX_OK);
    ck_assert_int_eq(ndx_net_num_tensors(a), ndx_net_num_tensors(b));
    for (int i = 0; i < ndx_net_num_tensors(a); i++) {
        ndx_param_info pa, pb;
        ndx_net_tensor(a, i, &pa), ndx_net_tensor(b, i, &pb);
        ck_assert_str_eq(pa.name, pb.name);
        ck_assert_mem_eq(pa.data, pb.data, pa.numel * sizeof(float));
    }
    /* fine-tune set-up: a 2-class head over the 3-class file */
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 16, 1, &c), NDX_OK);
    expect_load_error(c, path, 0, NDX_ERR_SHAPE, "fc.weight has shape (3,128), tiny needs (2,128)");
    ndx_net_free(c);
    ck_assert_int_eq(ndx_net_load_finetune(path, "tiny", 2, 16, 4, &c), NDX_OK);
    ndx_param_info p0, p1, h0;
    ndx_net_tensor(a, 0, &p0), ndx_net_tensor(c, 0, &p1);
    ck_assert_mem_eq(p0.data, p1.data, p0.numel * sizeof(float));
    const int nt = ndx_net_num_tensors(c);
    ndx_net_tensor(c, nt - 2, &h0);
    ck_assert_str_eq(h0.name, "fc.weight");
    double bound = 1 / sqrt(128.0), mx = 0;
    for (size_t j = 0; j < h0.numel; j++) mx = fmax(mx, fabs(h0.data[j]));
    ck_assert(mx <= bound && mx > 0.8 * bound);   /* U(-1/sqrt(in), 1/sqrt(in)) */
    ndx_net_free(c);
    /* a different architecture: extra tensors */
    ck_assert_int_eq(ndx_zoo_build("resnet18", 3, 32, 1, &c), NDX_OK);
    expect_load_error(c, path, 0, NDX_ERR_FORMAT, "extra tensor features.0.weight");
    ndx_net_free(c);
    /* truncated */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    ck_assert_int_eq(truncate(path, len - 100), 0);
    expect_load_error(b, path, 0, NDX_ERR_FORMAT, "truncated file: tensor fc.");
    ck_assert_int_eq(truncate(path, 5), 0);
    expect_load_error(b, path, 0, NDX_ERR_FORMAT, "truncated");
    ndx_net_free(a);
    ndx_net_free(b);
    tmp_cleanup();
}
END_TEST

START_TEST(test_safetensors_handmade)
{
    /* a linear layer "fc" 2 -> 2 with F16 weight and BF16 bias; then variants */
    ndx_net *net = ndx_net_new("custom", 2, 1, 1);
    ndx_net_linear(net, "fc", 0, 2, 1);
    ck_assert_int_eq(ndx_net_finish(net, 0), NDX_OK);
    const char *hdr = "{\"fc.weight\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                      "\"fc.bias\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                      "\"__metadata__\":{\"arch\":\"custom\"}}";
    unsigned char buf[512];
    size_t hl = strlen(hdr);
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    /* F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 2^-24 (subnormal) = 0x0001;
     * BF16: 1.5 = 0x3fc0, -3.0 = 0xc040 */
    const uint16_t v[6] = {0x3c00, 0xc000, 0x3800, 0x0001, 0x3fc0, 0xc040};
    for (int i = 0; i < 6; i++) buf[8 + hl + 2 * i] = v[i] & 255, buf[8 + hl + 2 * i + 1] = v[i] >> 8;
    const char *path = tmp_path("hand.safetensors");
    tu_write_bytes(path, buf, 8 + hl + 12);
    ck_assert_int_eq(ndx_safetensors_load_into(net, path, 0), NDX_OK);
    float *p = ndx_net_params(net, NULL);
    ndx_param_info w, b;
    ndx_net_tensor(net, 0, &w), ndx_net_tensor(net, 1, &b);
    ck_assert_float_eq(w.data[0], 1.0f);
    ck_assert_float_eq(w.data[1], -2.0f);
    ck_assert_float_eq(w.data[2], 0.5f);
    ck_assert_float_eq(w.data[3], ldexpf(1.0f, -24));
    ck_assert_float_eq(b.data[0], 1.5f);
    ck_assert_float_eq(b.data[1], -3.0f);
    (void)p;
    /* a file with no arch cannot be loaded on its own */
    ndx_net *other;
    ck_assert_int_eq(ndx_net_load(path, &other), NDX_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "num_classes"));
    /* missing tensor */
    const char *h2 = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    hl = strlen(h2);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, h2, hl);
    tu_write_bytes(path, buf, 8 + hl + 16);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "missing tensor fc.bias");
    /* bad dtype */
    const char *h3 = "{\"fc.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}";
    hl = strlen(h3);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, h3, hl);
    tu_write_bytes(path, buf, 8 + hl + 32);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "fc.weight has dtype F64");
    /* bad JSON, absurd header length */
    const char *h4 = "{\"fc.weight\":{\"dtype\":";
    hl = strlen(h4);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, h4, hl);
    tu_write_bytes(path, buf, 8 + hl);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "bad header");
    buf[7] = 0x7f;
    tu_write_bytes(path, buf, 64);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "bad header: length");
    expect_load_error(net, tmp_path("absent.safetensors"), 0, NDX_ERR_IO, "cannot open");
    ndx_net_free(net);
    tmp_cleanup();
}
END_TEST

START_TEST(test_npy)
{
    int64_t shape[3] = {2, 3, 5};
    ndx_tensor t, u;
    ck_assert_int_eq(ndx_tensor_alloc(&t, 3, shape), NDX_OK);
    uint64_t s = 1;
    tu_fill(&s, t.data, 30);
    const char *path = tmp_path("x.npy");
    ck_assert_int_eq(ndx_npy_write(path, &t), NDX_OK);
    ck_assert_int_eq(ndx_npy_read(path, &u), NDX_OK);
    ck_assert_int_eq(u.ndim, 3);
    ck_assert(u.shape[0] == 2 && u.shape[1] == 3 && u.shape[2] == 5);
    ck_assert_mem_eq(u.data, t.data, 30 * sizeof(float));
    ndx_tensor_free(&u);
    /* header length is a multiple of 64 */
    FILE *f = fopen(path, "rb");
    unsigned char h[10];
    ck_assert_uint_eq(fread(h, 1, 10, f), 10);
    fclose(f);
    ck_assert_int_eq((10 + (h[8] | h[9] << 8)) % 64, 0);
    /* float64, Fortran order, truncated */
    const char *bad[3] = {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                          "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"};
    const char *needle[3] = {"'<f8'", "Fortran", "truncated"};
    for (int k = 0; k < 3; k++) {
        unsigned char buf[128] = "\x93NUMPY\x01\x00";
        size_t hl = strlen(bad[k]);
        buf[8] = (unsigned char)hl, buf[9] = 0;
        memcpy(buf + 10, bad[k], hl);
        tu_write_bytes(path, buf, 10 + hl + 8);
        ck_assert_int_eq(ndx_npy_read(path, &u), NDX_ERR_FORMAT);
        ck_assert_msg(strstr(ndx_last_error(), needle[k]) != NULL, "%s", ndx_last_error());
    }
    ndx_tensor_free(&t);
    tmp_cleanup();
}
END_TEST

/* path: 8-byte length, hdr, then data bytes of the given floats */
static void write_st(const char *path, const char *hdr, const float *data, size_t nf)
{
    unsigned char buf[8192];
    size_t hl = strlen(hdr);
    ck_assert_uint_le(8 + hl + 4 * nf, sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    if (nf) memcpy(buf + 8 + hl, data, 4 * nf);
    tu_write_bytes(path, buf, 8 + hl + 4 * nf);
}

START_TEST(test_safetensors_crafted)
{
    ndx_net *net = ndx_net_new("custom", 2, 1, 1);
    ndx_net_linear(net, "fc", 0, 2, 1);
    ck_assert_int_eq(ndx_net_finish(net, 0), NDX_OK);
    ndx_param_info w, b;
    ndx_net_tensor(net, 0, &w), ndx_net_tensor(net, 1, &b);
    for (int i = 0; i < 4; i++) w.data[i] = 7.0f;
    for (int i = 0; i < 2; i++) b.data[i] = 7.0f;
    const float nine[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    const char *path = tmp_path("bad.safetensors");
    /* a shape of 199 dimensions: refused before it is formatted */
    char hdr[4096];
    int l = snprintf(hdr, sizeof hdr, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < 199; d++)
        l += snprintf(hdr + l, sizeof hdr - (size_t)l, "%s1", d ? "," : "");
    snprintf(hdr + l, sizeof hdr - (size_t)l, "],\"data_offsets\":[0,4]}}");
    write_st(path, hdr, nine, 1);
    expect_load_error(net, path, 0, NDX_ERR_SHAPE, "tensor fc.weight has 199 dimensions");
    /* non-integral dimension and offsets */
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2.4,2],\"data_offsets\":[0,16]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "dimension 0 of tensor fc.weight");
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0.5,16.5]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "data_offsets of tensor fc.weight");
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":"
             "[18446744073709551616,18446744073709551632]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "fc.weight");
    /* a bad second entry leaves the first tensor's values untouched */
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}}", nine, 7);
    expect_load_error(net, path, 0, NDX_ERR_SHAPE, "fc.bias has shape (3)");
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
             nine, 4);
    expect_load_error(net, path, 0, NDX_ERR_FORMAT, "missing tensor fc.bias");
    for (int i = 0; i < 4; i++) ck_assert_float_eq(w.data[i], 7.0f);
    for (int i = 0; i < 2; i++) ck_assert_float_eq(b.data[i], 7.0f);
    /* the good file loads */
    write_st(path, "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
             "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", nine, 6);
    ck_assert_int_eq(ndx_safetensors_load_into(net, path, 0), NDX_OK);
    ck_assert_float_eq(w.data[3], 9.0f);
    ck_assert_float_eq(b.data[1], 9.0f);
    /* a directory is named as such */
    expect_load_error(net, tmpdir, 0, NDX_ERR_IO, "not a regular file");
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), tmpdir));
    ndx_net_free(net);
    /* __metadata__: input_size out of 1..8192; a net that cannot be built */
    const char *meta = tmp_path("meta.safetensors");
    write_st(meta, "{\"__metadata__\":{\"arch\":\"tiny\",\"num_classes\":\"2\","
             "\"input_size\":\"100000\"}}", NULL, 0);
    int nc, size;
    ck_assert_int_eq(ndx_safetensors_meta(meta, NULL, 0, &nc, &size), NDX_ERR_FORMAT);
    ck_assert_msg(strstr(ndx_last_error(), "meta.safetensors: __metadata__ input_size") != NULL,
                  "%s", ndx_last_error());
    ndx_net *other;
    ck_assert_int_eq(ndx_net_load(meta, &other), NDX_ERR_FORMAT);
    ck_assert_ptr_null(other);
    write_st(meta, "{\"__metadata__\":{\"arch\":\"nosuch\",\"num_classes\":\"2\"}}", NULL, 0);
    ck_assert_int_ne(ndx_net_load(meta, &other), NDX_OK);
    ck_assert_msg(strncmp(ndx_last_error(), meta, strlen(meta)) == 0, "%s", ndx_last_error());
    /* outputs are readable by others (mkstemp alone makes 0600) */
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 16, 1, &other), NDX_OK);
    ck_assert_int_eq(ndx_safetensors_save(other, meta), NDX_OK);
    struct stat sb;
    ck_assert_int_eq(stat(meta, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    ndx_net_free(other);
    tmp_cleanup();
}
END_TEST

START_TEST(test_npy_crafted)
{
    const char *path = tmp_path("big.npy");
    /* a 128-byte file claiming 19 GB (or more than 2^64) is refused before allocating */
    const char *dicts[3] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 40000, 40000), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000, 4000000000), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"};
    const char *needle[3] = {"truncated", "truncated", "data past"};
    for (int k = 0; k < 3; k++) {
        unsigned char buf[256] = "\x93NUMPY\x01\x00";
        size_t hl = strlen(dicts[k]);
        buf[8] = (unsigned char)hl, buf[9] = 0;
        memcpy(buf + 10, dicts[k], hl);
        tu_write_bytes(path, buf, 10 + hl + 12);
        ndx_tensor u;
        ck_assert_int_eq(ndx_npy_read(path, &u), NDX_ERR_FORMAT);
        ck_assert_msg(strstr(ndx_last_error(), needle[k]) != NULL, "%s", ndx_last_error());
        ck_assert_msg(strstr(ndx_last_error(), "big.npy: ") != NULL, "%s", ndx_last_error());
        ck_assert_ptr_nonnull(strstr(ndx_last_error(), "the file holds 12"));
        ck_assert_ptr_null(u.data);
    }
    /* outputs are readable by others */
    int64_t shape[1] = {3};
    ndx_tensor t;
    ck_assert_int_eq(ndx_tensor_alloc(&t, 1, shape), NDX_OK);
    ck_assert_int_eq(ndx_npy_write(path, &t), NDX_OK);
    ndx_tensor_free(&t);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    tmp_cleanup();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nn_files");
    TCase *tc;
    tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_safetensors_roundtrip);
    tcase_add_test(tc, test_safetensors_handmade);
    tcase_add_test(tc, test_npy);
    tcase_add_test(tc, test_safetensors_crafted);
    tcase_add_test(tc, test_npy_crafted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
