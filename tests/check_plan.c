/* Kept outputs (ndx_net_keep_outputs): one inference forward serves several
 * layers.  The outputs of the kept nodes after one forward up to the last of
 * them equal, bit for bit, those of a separate plan and forward stopping at
 * each: layers outside fused groups, a fused group's end (ReLU), a batch
 * norm and a convolution inside one, a ResNet block's sum; at two batch
 * sizes (Winograd or not), then on a training plan too.  Marks drop the
 * plan; bad nodes are refused; clearing the marks restores the memory. */
#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"
#include "../src/nn/nn_internal.h"

/* Node outputs (batch n) of net at each of nodes[0..k), one forward each on
 * a plan without marks; out[j] gets a malloc'ed copy. */
static void separate(ndx_net *net, int n, const float *x, const int *nodes, int k, float **out,
                     size_t *cnt)
{
    ck_assert_int_eq(ndx_net_keep_outputs(net, NULL, 0), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, n, NDX_PLAN_INFER), NDX_OK);
    for (int j = 0; j < k; j++) {
        ndx_tensor o;
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, nodes[j]), NDX_OK);
        ck_assert_int_eq(ndx_net_output(net, nodes[j], &o), NDX_OK);
        cnt[j] = (size_t)ndx_tensor_numel(&o);
        out[j] = malloc(cnt[j] * sizeof(float));
        memcpy(out[j], o.data, cnt[j] * sizeof(float));
    }
}

/* The kept nodes after one forward equal the separate forwards', bit for bit. */
static void check_kept(const char *arch, int size, int n, const char *const *names, int k)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build(arch, 2, size, 7, &net), NDX_OK);
    ndx_net_init_hash(net, 11);
    int nodes[8], last = 0;
    for (int j = 0; j < k; j++) {
        nodes[j] = ndx_net_find(net, names[j]);
        ck_assert_msg(nodes[j] > 0, "%s has no node %s", arch, names[j]);
        if (nodes[j] > last) last = nodes[j];
    }
    const size_t xn = (size_t)n * 3 * size * size;
    float *x = malloc(xn * sizeof *x);
    uint64_t s = 5;
    tu_fill(&s, x, xn);
    float *ref[8];
    size_t cnt[8];
    separate(net, n, x, nodes, k, ref, cnt);
    const size_t plain = ndx_net_activation_bytes(net);

    ck_assert_int_eq(ndx_net_keep_outputs(net, nodes, k), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, last), NDX_ERR_INVALID);   /* replan */
    ck_assert_int_eq(ndx_net_plan(net, n, NDX_PLAN_INFER), NDX_OK);
    ck_assert_uint_ge(ndx_net_activation_bytes(net), plain);
    for (int rep = 0; rep < 2; rep++) {
        ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);   /* past them all */
        for (int j = 0; j < k; j++) {
            ndx_tensor o;
            ck_assert_msg(ndx_net_output(net, nodes[j], &o) == NDX_OK, "%s %s: %s", arch,
                          names[j], ndx_last_error());
            ck_assert_uint_eq((size_t)ndx_tensor_numel(&o), cnt[j]);
            ck_assert_msg(!memcmp(o.data, ref[j], cnt[j] * sizeof(float)),
                          "%s batch %d: kept %s differs from its own forward", arch, n, names[j]);
        }
    }
    /* an unkept node inside a fused group is still refused after a full pass */
    ck_assert_int_eq(ndx_net_keep_outputs(net, NULL, 0), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, n, NDX_PLAN_INFER), NDX_OK);
    ck_assert_uint_eq(ndx_net_activation_bytes(net), plain);
    for (int j = 0; j < k; j++) free(ref[j]);
    free(x);
    ndx_net_free(net);
}

START_TEST(test_keep_tiny)
{
    /* features.12 conv and .13 bn inside a fused group, .14 its ReLU end,
     * .3 a pool, .17 the last block's end */
    static const char *const names[] = {"features.17", "features.3", "features.12", "features.13",
                                        "features.14"};
    check_kept("tiny", 32, 3, names, 5);
    check_kept("tiny", 32, 16, names, 5);
    static const char *const two[] = {"features.14", "features.17"};
    check_kept("tiny", 48, 4, two, 2);
}
END_TEST

START_TEST(test_keep_resnet18)
{
    static const char *const names[] = {"layer1.0.conv1", "layer2", "layer3.1.bn2", "layer4"};
    check_kept("resnet18", 64, 2, names, 4);
    /* a block's sum (run with its ReLU in one pass when not kept) and the
     * ReLU after it */
    static const char *const sums[] = {"layer1.1.add", "layer1.1", "layer3.0.add"};
    check_kept("resnet18", 64, 2, sums, 3);
}
END_TEST

/* The sum of a ResNet block, unkept, is fused with its ReLU in inference:
 * refused after a pass beyond it, read after a pass stopping at it; the
 * ReLU's output is the same either way. */
START_TEST(test_add_relu_fused)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("resnet18", 2, 64, 7, &net), NDX_OK);
    ndx_net_init_hash(net, 11);
    float x[2 * 3 * 64 * 64];
    uint64_t s = 9;
    tu_fill(&s, x, sizeof x / sizeof *x);
    const int add = ndx_net_find(net, "layer2.0.add"), relu = ndx_net_find(net, "layer2.0");
    ck_assert_int_eq(relu, add + 1);
    ck_assert_int_eq(ndx_net_plan(net, 2, NDX_PLAN_INFER), NDX_OK);
    ndx_tensor o;
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, add), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, add, &o), NDX_OK);
    const size_t n = (size_t)ndx_tensor_numel(&o);
    float *want = malloc(n * sizeof *want);
    for (size_t i = 0; i < n; i++) want[i] = o.data[i] > 0.0f ? o.data[i] : 0.0f;
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, relu), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, add, &o), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "layer2.0.add"));
    ck_assert_int_eq(ndx_net_output(net, relu, &o), NDX_OK);
    ck_assert_uint_eq((size_t)ndx_tensor_numel(&o), n);
    ck_assert(!memcmp(o.data, want, n * sizeof *want));
    free(want);
    ndx_net_free(net);
}
END_TEST

/* The fused add + ReLU reads the add's inputs while it writes the ReLU's
 * buffer: in every inference layout (sizes that halve unevenly, batches)
 * that buffer shares no float with them. */
START_TEST(test_add_relu_buffers_apart)
{
    const int sizes[] = {64, 75, 99, 227, 299}, batches[] = {1, 3};
    for (int si = 0; si < 5; si++)
        for (int bi = 0; bi < 2; bi++) {
            ndx_net *net = NULL;
            ck_assert_int_eq(ndx_zoo_build("resnet18", 2, sizes[si], NDX_SEED_NONE, &net), NDX_OK);
            ck_assert_int_eq(ndx_net_plan(net, batches[bi], NDX_PLAN_INFER), NDX_OK);
            int pairs = 0;
            for (int i = 1; i + 1 < net->nnodes; i++) {
                const ndx__node *n = &net->nodes[i], *r = &net->nodes[i + 1];
                if (n->op != NDX_OP_ADD || r->op != NDX_OP_RELU || r->in[0] != i) continue;
                pairs++;
                const size_t cnt = ndx__node_numel(net, r);
                for (int k = 0; k < 2; k++) {
                    const ndx__node *a = &net->nodes[n->in[k]];
                    const int apart =
                        a->out_off + cnt <= r->out_off || r->out_off + cnt <= a->out_off;
                    ck_assert_msg(apart, "%d px, batch %d: %s at %zu and %s at %zu overlap",
                                  sizes[si], batches[bi], r->name, r->out_off, a->name, a->out_off);
                }
            }
            ck_assert_int_eq(pairs, 8);
            ndx_net_free(net);
        }
}
END_TEST

/* A plan sizes its workspace for the convolution algorithm of its time:
 * a forward after NETDX_CONV's choice changed is refused, not overrun. */
START_TEST(test_algo_changed_since_plan)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("resnet18", 2, 64, 7, &net), NDX_OK);
    static float x[3 * 64 * 64];
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);
    const ndx__conv_algo was = ndx__conv_get_algo();
    ndx__conv_set_algo(was == NDX__CONV_WINOGRAD ? NDX__CONV_IM2COL : NDX__CONV_WINOGRAD);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "plan again"));
    ck_assert_int_eq(ndx_net_plan(net, 1, NDX_PLAN_INFER), NDX_OK);   /* planned anew: runs */
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ndx__conv_set_algo(was);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_ERR_INVALID);
    ndx_net_free(net);
}
END_TEST

/* Without marks, a node fused away or reused is refused after a full pass;
 * kept, the same node is read; marks are checked. */
START_TEST(test_keep_refusals)
{
    ndx_net *net = NULL;
    ck_assert_int_eq(ndx_zoo_build("tiny", 2, 32, 7, &net), NDX_OK);
    float x[2 * 3 * 32 * 32];
    uint64_t s = 9;
    tu_fill(&s, x, sizeof x / sizeof *x);
    const int bn = ndx_net_find(net, "features.13"), relu = ndx_net_find(net, "features.14");
    ck_assert_int_eq(ndx_net_plan(net, 2, NDX_PLAN_INFER), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ndx_tensor o;
    ck_assert_int_eq(ndx_net_output(net, bn, &o), NDX_ERR_INVALID);
    ck_assert_int_eq(ndx_net_output(net, relu, &o), NDX_ERR_INVALID);
    const int both[2] = {bn, relu};
    ck_assert_int_eq(ndx_net_keep_outputs(net, both, 2), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 2, NDX_PLAN_INFER), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, bn, &o), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, relu, &o), NDX_OK);
    int bad[1] = {0};
    ck_assert_int_eq(ndx_net_keep_outputs(net, bad, 1), NDX_ERR_INVALID);
    bad[0] = ndx_net_num_nodes(net);
    ck_assert_int_eq(ndx_net_keep_outputs(net, bad, 1), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "keep_outputs"));
    ck_assert_int_eq(ndx_net_keep_outputs(net, NULL, 1), NDX_ERR_INVALID);
    /* a training plan keeps everything anyway: marks change nothing there */
    ck_assert_int_eq(ndx_net_keep_outputs(net, both, 2), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 2, NDX_PLAN_TRAIN), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_output(net, bn, &o), NDX_OK);
    /* folded in place: a kept convolution inside a group cannot be produced */
    const int conv = ndx_net_find(net, "features.12");
    ck_assert_int_eq(ndx_net_keep_outputs(net, &conv, 1), NDX_OK);
    ck_assert_int_eq(ndx_net_plan(net, 2, NDX_PLAN_INFER_FOLDED), NDX_OK);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_EVAL, -1), NDX_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ndx_last_error(), "features.12"));
    ndx_net_free(net);
}
END_TEST

int main(void)
{
    if (ndx_init() != NDX_OK) return 1;
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("keep");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_keep_tiny);
    tcase_add_test(tc, test_keep_resnet18);
    tcase_add_test(tc, test_add_relu_fused);
    tcase_add_test(tc, test_add_relu_buffers_apart);
    tcase_add_test(tc, test_algo_changed_since_plan);
    tcase_add_test(tc, test_keep_refusals);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
