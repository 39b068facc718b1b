/* Check suite: the zoo registry (src/nn/zoo.c), the one table of each
 * architecture's builder, default input size and dissected layers. */
#include <string.h>

#include "netdx_nn.h"
#include "testutil.h"

START_TEST(test_zoo_registry)
{
    int n = 0;
    for (const ndx_zoo_arch *a; (a = ndx_zoo_arch_at(n)); n++) {
        ck_assert_ptr_eq(ndx_zoo_find(a->name), a);
        ck_assert_ptr_nonnull(a->layers[0]);
        /* input size 0 builds at the registry's size; every listed layer exists */
        ndx_net *net;
        ck_assert_msg(ndx_zoo_build(a->name, 2, 0, 1, &net) == NDX_OK, "%s: %s", a->name,
                      ndx_last_error());
        ck_assert_int_eq(ndx_net_input_size(net), a->input_size);
        for (int l = 0; l < 3 && a->layers[l]; l++)
            ck_assert_msg(ndx_net_find(net, a->layers[l]) > 0, "%s has no layer %s", a->name,
                          a->layers[l]);
        ndx_net_free(net);
    }
    ck_assert_int_ge(n, 7);
    ck_assert_ptr_null(ndx_zoo_arch_at(-1));
    ck_assert_ptr_null(ndx_zoo_find("nosuch"));
    ck_assert_ptr_null(ndx_zoo_find(NULL));
    ndx_net *net;
    ck_assert_int_eq(ndx_zoo_build("nosuch", 2, 0, 1, &net), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "nosuch' (alexnet, vgg16, "));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("zoo");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 120);   /* builds every network, VGG-16's 138M weights included */
    tcase_add_test(tc, test_zoo_registry);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
