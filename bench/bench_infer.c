/* Whole-network inference benchmark: prints a markdown table on stdout.
 *
 *   bench_infer [runs] [arch... | train]   (runs >= 3, default 5; medians)
 *
 * alexnet, vgg16, resnet152 at 224x224 and inception_v3 at 299x299, batch 1
 * and 8, 1 and 2 threads: images/s of ndx_net_forward (eval, inference plan:
 * conv+BN+ReLU fused, activation buffers reused), seeded random weights and
 * input, one warm-up run first; batch norm folded into the convolution
 * weights in place (NDX_PLAN_INFER_FOLDED).  Each architecture runs in a child process
 * so that its peak RSS (getrusage) is its own; "planned MiB" is what the net
 * itself planned (parameters, folded weights, activations).  Then (with no
 * arch named, or with `train`) one SGD training step of alexnet, 2 classes, batch 8, 224x224,
 * momentum 0.9, weight decay 1e-4: median ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "netdx.h"
#include "netdx_nn.h"

static const struct { const char *arch; int size; } models[] = {
    {"alexnet", 224}, {"vgg16", 224}, {"resnet152", 224}, {"inception_v3", 299}};

static int run_model(const char *arch, int size, int runs)
{
    ndx_net *net;
    if (ndx_zoo_build(arch, 1000, size, 1, &net)) {
        fprintf(stderr, "bench_infer: %s\n", ndx_last_error());
        return 1;
    }
    const size_t per = (size_t)3 * size * size;
    float *x = ndx_alloc(8 * per * sizeof *x);
    if (!x) return 1;
    ndx_rng r;
    ndx_rng_seed(&r, 2);
    for (size_t i = 0; i < 8 * per; i++) x[i] = (float)ndx_rng_normal(&r);
    const int batches[2] = {1, 8};
    for (int bi = 0; bi < 2; bi++) {
        const int b = batches[bi];
        if (ndx_net_plan(net, b, NDX_PLAN_INFER_FOLDED)) {
            fprintf(stderr, "bench_infer: %s\n", ndx_last_error());
            return 1;
        }
        for (int th = 1; th <= 2; th++) {
            ndx_set_threads(th);
            double t[64];
            for (int k = 0; k <= runs; k++) {
                double t0 = bench_now();
                if (ndx_net_forward(net, x, NDX_EVAL, -1)) {
                    fprintf(stderr, "bench_infer: %s\n", ndx_last_error());
                    return 1;
                }
                if (k) t[k - 1] = bench_now() - t0;   /* run 0 warms up */
            }
            double med = bench_median(t, runs);
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            printf("| %s | %d | %d | %d | %.2f | %.0f | %.0f |\n", arch, size, b, th, b / med,
                   ru.ru_maxrss / 1024.0,
                   (ndx_net_param_bytes(net) + ndx_net_activation_bytes(net)) / 1048576.0);
            fflush(stdout);
        }
    }
    ndx_free(x);
    ndx_net_free(net);
    return 0;
}

/* One SGD training step (forward, loss, backward, update with momentum 0.9,
 * weight decay 1e-4) of alexnet, 2 classes, batch 8, 224x224. */
static int run_train_step(int runs)
{
    const int B = 8, S = 224;
    ndx_net *net;
    if (ndx_zoo_build("alexnet", 2, S, 1, &net) || ndx_net_plan(net, B, NDX_PLAN_TRAIN)) {
        fprintf(stderr, "bench_infer: %s\n", ndx_last_error());
        return 1;
    }
    const size_t per = (size_t)3 * S * S;
    float *x = ndx_alloc(B * per * sizeof *x);
    if (!x) return 1;
    ndx_rng r;
    ndx_rng_seed(&r, 3);
    for (size_t i = 0; i < B * per; i++) x[i] = (float)ndx_rng_normal(&r);
    int labels[8];
    for (int i = 0; i < B; i++) labels[i] = i & 1;
    size_t np;
    float *p = ndx_net_params(net, &np), *g = ndx_net_grads(net, NULL);
    float *m = ndx_net_momentum(net, NULL);
    ndx_sgd opt = {1e-4f, 0.9f, 1e-4f, 0};
    for (int th = 1; th <= 2; th++) {
        ndx_set_threads(th);
        double t[64];
        for (int k = 0; k <= runs; k++) {
            double t0 = bench_now(), loss;
            ndx_net_zero_grads(net);
            if (ndx_net_forward(net, x, NDX_TRAIN, -1) ||
                ndx_net_loss_backward(net, labels, NULL, &loss) ||
                ndx_sgd_step(&opt, p, g, m, np)) {
                fprintf(stderr, "bench_infer: %s\n", ndx_last_error());
                return 1;
            }
            if (k) t[k - 1] = bench_now() - t0;
        }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("| alexnet train step | %d | %d | %d | %.1f | %.0f |\n", S, B, th,
               bench_median(t, runs) * 1e3, ru.ru_maxrss / 1024.0);
        fflush(stdout);
    }
    ndx_free(x);
    ndx_net_free(net);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 3 || runs > 64) runs = 5;
    if (ndx_init() != NDX_OK) {
        fprintf(stderr, "bench_infer: %s\n", ndx_last_error());
        return 1;
    }
    printf("netdx %s, kernels %s.\n\n", ndx_version(), ndx_kernel_set());
    printf("| model | input | batch | threads | netdx images/s | peak RSS MiB | planned MiB |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    fflush(stdout);
    int status = 0;
    for (size_t m = 0; m < sizeof models / sizeof *models; m++) {
        int wanted = argc <= 2;
        for (int i = 2; i < argc; i++) wanted |= !strcmp(argv[i], models[m].arch);
        if (!wanted) continue;
        pid_t pid = fork();
        if (pid == 0) _exit(run_model(models[m].arch, models[m].size, runs));
        int ws = 0;
        if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws)) status = 1;
    }
    int train = argc <= 2;
    for (int i = 2; i < argc; i++) train |= !strcmp(argv[i], "train");
    if (train) {
        printf("\n| step | input | batch | threads | netdx ms | peak RSS MiB |\n");
        printf("| --- | --- | --- | --- | --- | --- |\n");
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) _exit(run_train_step(runs));
        int ws = 0;
        if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws)) status = 1;
    }
    return status;
}
