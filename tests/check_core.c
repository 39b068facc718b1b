/* Core suite: status and messages, aligned allocation, the arena, tensors,
 * the RNG, hashing, thread control and the version macros. */
#include <stdint.h>
#include <string.h>

#include "netdx.h"
#include "testutil.h"

START_TEST(test_status_strings)
{
    const ndx_status all[] = {NDX_OK, NDX_ERR_NOMEM, NDX_ERR_INVALID, NDX_ERR_SHAPE,
                              NDX_ERR_IO, NDX_ERR_FORMAT, NDX_ERR_UNSUPPORTED};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        ck_assert_ptr_nonnull(ndx_status_str(all[i]));
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(ndx_status_str(all[i]), ndx_status_str(all[j]));
    }
    ck_assert_str_eq(ndx_status_str((ndx_status)-99), "unknown status");
}
END_TEST

START_TEST(test_alloc_aligned)
{
    for (size_t n = 1; n < 5000; n = n * 3 + 1) {
        unsigned char *p = ndx_alloc(n);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        memset(p, 0xab, n);
        ndx_free(p);
    }
    ck_assert_ptr_null(ndx_alloc(0));
    ck_assert_ptr_null(ndx_alloc(SIZE_MAX - 8));
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "bytes"));
}
END_TEST

START_TEST(test_arena)
{
    ndx_arena a;
    ck_assert_int_eq(ndx_arena_init(&a, 1000), NDX_OK);
    char *p = ndx_arena_alloc(&a, 10), *q = ndx_arena_alloc(&a, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq((uintptr_t)q % 64, 0);
    ck_assert(q >= p + 10);
    size_t mark = a.used;
    ck_assert_ptr_nonnull(ndx_arena_alloc(&a, 500));
    ck_assert_ptr_null(ndx_arena_alloc(&a, 500));      /* full */
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "arena"));
    ndx_arena_reset(&a, mark);
    ck_assert_uint_eq(a.used, mark);
    ck_assert_ptr_nonnull(ndx_arena_alloc(&a, 500));   /* room again */
    ck_assert_uint_ge(a.peak, mark + 500);
    ndx_arena_free(&a);
    ck_assert_ptr_null(a.base);
}
END_TEST

START_TEST(test_tensor)
{
    ndx_tensor t, v;
    const int64_t shape[4] = {2, 3, 4, 5};
    ck_assert_int_eq(ndx_tensor_alloc(&t, 4, shape), NDX_OK);
    ck_assert_int_eq(ndx_tensor_numel(&t), 120);
    ck_assert_int_eq(t.stride[0], 60);
    ck_assert_int_eq(t.stride[3], 1);
    ck_assert_uint_eq((uintptr_t)t.data % 64, 0);
    ck_assert(ndx_tensor_is_contiguous(&t));
    for (int i = 0; i < 120; i++) ck_assert_float_eq(t.data[i], 0.0f);
    char buf[64];
    ck_assert_str_eq(ndx_tensor_shape_str(&t, buf, sizeof buf), "(2,3,4,5)");
    ck_assert_int_eq(ndx_tensor_narrow(&v, &t, 1, 1), NDX_OK);
    ck_assert_ptr_eq(v.data, t.data + 60);
    ck_assert_int_eq(v.owned, 0);
    ck_assert_int_eq(ndx_tensor_narrow(&v, &t, 1, 2), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "(2,3,4,5)"));
    ndx_tensor_free(&t);
    ck_assert_ptr_null(t.data);

    const int64_t bad[2] = {3, 0};
    ck_assert_int_eq(ndx_tensor_alloc(&t, 2, bad), NDX_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "dimension 1"));
    ck_assert_int_eq(ndx_tensor_alloc(&t, 5, shape), NDX_ERR_SHAPE);
    const int64_t huge[4] = {INT32_MAX, INT32_MAX, INT32_MAX, 2};
    ck_assert_int_eq(ndx_tensor_alloc(&t, 4, huge), NDX_ERR_SHAPE);
    float mem[6];
    const int64_t s2[2] = {2, 3};
    ck_assert_int_eq(ndx_tensor_view(&v, mem, 2, s2), NDX_OK);
    ck_assert_int_eq(v.owned, 0);
    ndx_tensor_free(&v);   /* a view does not free its memory */
    ck_assert_int_eq(ndx_tensor_view(&v, NULL, 2, s2), NDX_ERR_INVALID);
}
END_TEST

START_TEST(test_rng)
{
    ndx_rng a, b;
    ndx_rng_seed(&a, 42);
    ndx_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(ndx_rng_u64(&a), ndx_rng_u64(&b));
    ndx_rng_seed(&b, 43);
    ck_assert_uint_ne(ndx_rng_u64(&a), ndx_rng_u64(&b));

    /* moments of uniform and normal, and an unbiased below() */
    ndx_rng_seed(&a, 1);
    double su = 0, sn = 0, sn2 = 0;
    int hist[7] = {0};
    const int N = 200000;
    for (int i = 0; i < N; i++) {
        double u = ndx_rng_uniform(&a);
        ck_assert(u >= 0.0 && u < 1.0);
        su += u;
        double z = ndx_rng_normal(&a);
        sn += z;
        sn2 += z * z;
        hist[ndx_rng_below(&a, 7)]++;
    }
    ck_assert_double_eq_tol(su / N, 0.5, 0.005);
    ck_assert_double_eq_tol(sn / N, 0.0, 0.01);
    ck_assert_double_eq_tol(sn2 / N, 1.0, 0.02);
    for (int i = 0; i < 7; i++) ck_assert_int_gt(hist[i], N / 7 * 0.95);
    ck_assert_uint_eq(ndx_rng_below(&a, 1), 0);
}
END_TEST

START_TEST(test_hash)
{
    /* XXH3-64 known value: the empty input with seed 0. */
    ck_assert_uint_eq(ndx_hash64("", 0, 0), 0x2D06800538D394C2ull);
    const char *s = "netdx patient P_00001";
    ck_assert_uint_eq(ndx_hash_str(s, 5), ndx_hash64(s, strlen(s), 5));
    ck_assert_uint_ne(ndx_hash_str(s, 5), ndx_hash_str(s, 6));
    ndx_hasher *h = ndx_hasher_new(5);
    ck_assert_ptr_nonnull(h);
    ndx_hasher_update(h, s, 7);
    ndx_hasher_update(h, s + 7, strlen(s) - 7);
    ck_assert_uint_eq(ndx_hasher_digest(h), ndx_hash_str(s, 5));
    ndx_hasher_free(h);
}
END_TEST

START_TEST(test_threads)
{
    ck_assert_int_eq(ndx_set_threads(2), NDX_OK);
    ck_assert_int_eq(ndx_get_threads(), 2);
    ck_assert_int_eq(ndx_set_threads(0), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_set_threads(1025), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "1025"));
    ck_assert_int_eq(ndx_get_threads(), 2);
}
END_TEST

/* The version macros agree with each other and with the library. */
START_TEST(test_version)
{
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", NDX_VERSION_MAJOR, NDX_VERSION_MINOR,
             NDX_VERSION_PATCH);
    ck_assert_str_eq(v, NDX_VERSION);
    ck_assert_str_eq(ndx_version(), NDX_VERSION);
    ck_assert_int_eq(NDX_VERSION_NUMBER, NDX_VERSION_MAJOR * 10000 +
                                         NDX_VERSION_MINOR * 100 + NDX_VERSION_PATCH);
    ck_assert(NDX_VERSION_MINOR < 100 && NDX_VERSION_PATCH < 100);
#if NDX_VERSION_NUMBER < 100   /* usable in #if */
    ck_abort_msg("NDX_VERSION_NUMBER %d: older than 0.1.0", NDX_VERSION_NUMBER);
#endif
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_status_strings);
    tcase_add_test(tc, test_alloc_aligned);
    tcase_add_test(tc, test_arena);
    tcase_add_test(tc, test_tensor);
    tcase_add_test(tc, test_rng);
    tcase_add_test(tc, test_hash);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_version);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
