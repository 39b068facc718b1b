/* Data-parallel steps (src/train/parts.c), the library's side of
 * `mpirun -np P netdx train` (check_mpi shows -np P equals --parts P bit
 * for bit): a few SGD steps of a batch cut into parts against the whole
 * batch in one part, on small nets built here.
 *   - without batch norm or dropout: the same weights within 1e-6
 *     relative (not bit for bit: the batch's sums run in another order);
 *   - with batch norm (per part, docs/mpi.md), one step: the first batch
 *     norm's running mean is the whole batch's (the mean of equal parts'
 *     means), its running variance and the weights are not (each part
 *     normalised by its own statistics);
 *   - the backward pass's report of which gradients are final
 *     (ndx_net_on_grads), on which the MPI sum overlaps the pass. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netdx.h"
#include "netdx_nn.h"
#include "testutil.h"
#include "../src/train/parts.h"

enum { B = 8, P = 2, H = 12, K = 2 };

static ndx_net *small_net(int bn)
{
    ndx_net *n = ndx_net_new("parts", 3, H, H);
    int x = ndx_net_conv(n, "c1", 0, 6, 3, 3, 1, 1, 1, 1, 1, !bn);
    if (bn) x = ndx_net_bn(n, "b1", x, 1e-5f);
    x = ndx_net_relu(n, "r1", x);
    x = ndx_net_maxpool(n, "p1", x, 2, 2, 0, 0);
    x = ndx_net_conv(n, "c2", x, 8, 3, 3, 1, 1, 1, 1, 1, !bn);
    if (bn) x = ndx_net_bn(n, "b2", x, 1e-5f);
    x = ndx_net_relu(n, "r2", x);
    x = ndx_net_adaptive_avgpool(n, "pool", x, 1, 1);
    x = ndx_net_flatten(n, "flat", x);
    ndx_net_linear(n, "fc", x, K, 1);
    ck_assert_msg(ndx_net_finish(n, 3) == NDX_OK, "%s", ndx_last_error());
    return n;
}

/* steps SGD steps on random batches (the same for both), the batch whole
 * (parts 1) or in parts run in turn. */
static void train(ndx_net *net, int parts, int steps)
{
    const int m = B / parts;
    ck_assert_int_eq(ndx_net_plan(net, m, NDX_PLAN_TRAIN), NDX_OK);
    size_t np = 0;
    float *w = ndx_net_params(net, &np), *g = ndx_net_grads(net, NULL);
    float *mom = ndx_net_momentum(net, NULL);
    ck_assert(w && g && mom);
    ndx__parts sum;
    ndx_train_opts o;
    ndx_train_defaults(&o);
    if (parts > 1) ck_assert_int_eq(ndx__parts_init(&sum, net, parts), NDX_OK);
    ndx_sgd opt = {0.05f, 0.9f, 1e-4f, 0};
    static float x[B * 3 * H * H], dlogits[B * K];
    int labels[B];
    uint64_t s = 11;
    for (int step = 0; step < steps; step++) {
        for (int i = 0; i < B * 3 * H * H; i++) x[i] = tu_uniform(&s);
        for (int i = 0; i < B; i++) labels[i] = (i + step) % K;
        for (int k = 0; k < parts; k++) {
            if (parts > 1) ndx__parts_start(&sum, k);
            ndx_net_zero_grads(net);
            ndx_tensor lg;
            double loss;
            ck_assert_int_eq(ndx_net_forward(net, x + (size_t)k * m * 3 * H * H, NDX_TRAIN, -1),
                             NDX_OK);
            ck_assert_int_eq(ndx_net_output(net, ndx_net_num_nodes(net) - 1, &lg), NDX_OK);
            ck_assert_int_eq(ndx_softmax_xent(m, K, lg.data, labels + k * m, NULL, dlogits, &loss),
                             NDX_OK);
            ck_assert_int_eq(ndx_net_backward(net, dlogits), NDX_OK);
            if (parts > 1) ndx__parts_add(&sum, k == 0);
        }
        double d[2] = {0, 0};
        if (parts > 1) ck_assert_int_eq(ndx__parts_end(&sum, &o, d, 2), NDX_OK);
        ck_assert_int_eq(ndx_sgd_step(&opt, w, g, mom, np), NDX_OK);
        ndx_net_touch(net);
    }
    if (parts > 1) ndx__parts_free(&sum);
}

/* |a - b| / |b| over the parameters (buffers 0) or the buffers (1) whose
 * names end with suffix (NULL: all). */
static double apart(ndx_net *a, ndx_net *b, int buffers, const char *suffix)
{
    double d = 0, n = 0;
    for (int i = 0; i < ndx_net_num_tensors(a); i++) {
        ndx_param_info u, v;
        ndx_net_tensor(a, i, &u), ndx_net_tensor(b, i, &v);
        ck_assert_uint_eq(u.numel, v.numel);
        const size_t ls = suffix ? strlen(suffix) : 0, lu = strlen(u.name);
        if (u.is_buffer != buffers || (suffix && (lu < ls || strcmp(u.name + lu - ls, suffix))))
            continue;
        for (size_t k = 0; k < u.numel; k++)
            d += ((double)u.data[k] - v.data[k]) * ((double)u.data[k] - v.data[k]),
            n += (double)v.data[k] * v.data[k];
    }
    ck_assert(n > 0);
    return sqrt(d / n);
}

START_TEST(test_parts_equal_whole_without_bn)
{
    ndx_net *whole = small_net(0), *parts = small_net(0), *init = small_net(0);
    train(whole, 1, 3);
    train(parts, P, 3);
    const double r = apart(parts, whole, 0, NULL), moved = apart(init, whole, 0, NULL);
    fprintf(stderr, "no batch norm, 3 steps: |w_parts - w_whole| / |w_whole| = %.3g (moved "
            "%.3g)\n", r, moved);
    ck_assert_msg(moved > 1e-3, "the steps did not move the weights (%g)", moved);
    ck_assert_msg(r <= 1e-6, "parts and whole batch apart by %g", r);
    ndx_net_free(whole), ndx_net_free(parts), ndx_net_free(init);
}
END_TEST

START_TEST(test_parts_batchnorm_per_part)
{
    ndx_net *whole = small_net(1), *parts = small_net(1);
    train(whole, 1, 1);
    train(parts, P, 1);
    const double mean = apart(parts, whole, 1, "b1.running_mean");   /* of the input's conv */
    const double var = apart(parts, whole, 1, "b1.running_var");
    const double w = apart(parts, whole, 0, NULL);
    fprintf(stderr, "batch norm per part, 1 step: running means %.3g apart, variances %.3g, "
            "weights %.3g\n", mean, var, w);
    /* the first batch norm sees the same inputs either way: the mean of
     * equal parts' means is the whole batch's, the parts' variances miss
     * the spread between their means; each part is normalised by its own
     * statistics, so what follows, and the step, differ */
    ck_assert_msg(mean <= 1e-6, "running means %g apart", mean);
    ck_assert_msg(var > 1e-6, "running variances equal (%g)", var);
    ck_assert_msg(w > 1e-6, "weights of per-part batch norm equal the whole batch's (%g)", w);
    ndx_net_free(whole), ndx_net_free(parts);
}
END_TEST

/* ndx_net_on_grads: what the hook is told is final is never written
 * again in the pass (each float copied when first declared final equals
 * the pass's result), from only decreases, and the pass ends at 0. */
typedef struct hook_log {
    float *seen;
    size_t low, G;
    int calls, rising, tails;   /* tails: calls that made a tail short of g final */
} hook_log;

static void hook(void *ctx, float *g, size_t from, size_t G)
{
    hook_log *h = ctx;
    h->calls++;
    h->rising |= from > h->low || G != h->G;
    h->tails += from > 0 && from < h->low;
    if (from < h->low) memcpy(h->seen + from, g + from, (h->low - from) * sizeof *g);
    h->low = from < h->low ? from : h->low;
}

START_TEST(test_grads_final_hook)
{
    ndx_net *net = small_net(1);
    ck_assert_int_eq(ndx_net_plan(net, 4, NDX_PLAN_TRAIN), NDX_OK);
    size_t G = 0;
    float *g = ndx_net_grads(net, &G);
    hook_log h = {calloc(G, sizeof(float)), G, G, 0, 0, 0};
    ck_assert_ptr_nonnull(h.seen);
    ck_assert_int_eq(ndx_net_on_grads(net, hook, &h), NDX_OK);
    static float x[4 * 3 * H * H], dl[4 * K];
    uint64_t s = 5;
    for (int i = 0; i < 4 * 3 * H * H; i++) x[i] = tu_uniform(&s);
    for (int i = 0; i < 4 * K; i++) dl[i] = tu_uniform(&s);
    ndx_net_zero_grads(net);
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_backward(net, dl), NDX_OK);
    ck_assert_msg(!h.rising && h.low == 0, "from rose or did not end at 0 (%zu)", h.low);
    ck_assert_msg(h.calls >= 6, "%d calls for 6 layers with parameters", h.calls);
    /* fc, then c2 with b2, then b1: tails final before the pass ends */
    ck_assert_msg(h.tails >= 3, "%d tails final before the end", h.tails);
    ck_assert_msg(memcmp(h.seen, g, G * sizeof *g) == 0, "a gradient changed after it was "
                  "declared final");
    int nonzero = 0;
    for (size_t i = 0; i < G; i++) nonzero += g[i] != 0;
    ck_assert_int_gt(nonzero, (int)(G / 2));
    ck_assert_int_eq(ndx_net_on_grads(net, NULL, NULL), NDX_OK);   /* off: no more calls */
    const int calls = h.calls;
    ck_assert_int_eq(ndx_net_forward(net, x, NDX_TRAIN, -1), NDX_OK);
    ck_assert_int_eq(ndx_net_backward(net, dl), NDX_OK);
    ck_assert_int_eq(h.calls, calls);
    free(h.seen);
    ndx_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train_parts");
    TCase *tc = tcase_create("parts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_parts_equal_whole_without_bn);
    tcase_add_test(tc, test_parts_batchnorm_per_part);
    tcase_add_test(tc, test_grads_final_hook);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
