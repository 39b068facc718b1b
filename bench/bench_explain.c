/* netdx explain on one 3000 x 5000 mammogram: prints a markdown table.
 *
 *   bench_explain [runs] [arch ...]   (runs >= 1, default 3; medians)
 *
 * The paper's networks at their input sizes (alexnet 227, vgg16 227,
 * resnet152 227, inception_v3 299; tiny 64 for scale), two classes, seeded
 * random weights (timing only: the maps mean nothing), saved to a
 * temporary safetensors file; the mammogram a 16-bit phantom-like breast
 * (a half ellipse of noisy tissue on a black background, the chest wall
 * at x = 0).  ndx_explain with the defaults (window 0.25 of the shorter
 * side = 750 px, stride 0.5, top 8), then ndx_explain_write: wall seconds
 * of each phase (ndx_explain_result.seconds) and of the whole, one warm-up
 * run first when runs > 1.  Each architecture runs in a child process (its own peak
 * RSS). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "netdx.h"
#include "netdx_explain.h"
#include "netdx_nn.h"

enum { W = 3000, H = 5000 };

static const struct { const char *arch; int size; } models[] = {
    {"tiny", 64}, {"alexnet", 227}, {"vgg16", 227}, {"resnet152", 227}, {"inception_v3", 299}};

static int make_image(const char *path)
{
    uint16_t *px = malloc(sizeof *px * W * H);
    if (!px) return 1;
    uint64_t s = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const double dx = x / (0.9 * W), dy = (y - H / 2.0) / (0.45 * H);
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            const double noise = (double)(s >> 40) / (1 << 24);
            px[(size_t)y * W + x] = dx * dx + dy * dy < 1
                                    ? (uint16_t)(20000 + 20000 * noise * (1 - dx)) : 0;
        }
    const ndx_status st = ndx_png_write16(path, px, W, H);
    free(px);
    return st != NDX_OK;
}

static int run_model(const char *arch, int size, int runs, const char *image, const char *tmp)
{
    char model[600], out[600];
    snprintf(model, sizeof model, "%s/%s.safetensors", tmp, arch);
    snprintf(out, sizeof out, "%s/%s_explain", tmp, arch);
    ndx_net *net;
    if (ndx_zoo_build(arch, 2, size, 1, &net) || ndx_safetensors_save(net, model)) {
        fprintf(stderr, "bench_explain: %s\n", ndx_last_error());
        return 1;
    }
    ndx_net_free(net);
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    double t[5][16] = {{0}};
    ndx_explain_result r;
    for (int i = runs > 1 ? -1 : 0; i < runs; i++) {   /* a warm-up run when timing several */
        const double t0 = bench_now();
        if (ndx_explain(&o, &r) || ndx_explain_write(out, &o, &r)) {
            fprintf(stderr, "bench_explain: %s: %s\n", arch, ndx_last_error());
            return 1;
        }
        if (i >= 0) {
            t[4][i] = bench_now() - t0;
            for (int k = 0; k < 4; k++) t[k][i] = r.seconds[k];
        }
        if (i < runs - 1) ndx_explain_free(&r);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double m[5];
    for (int k = 0; k < 5; k++) m[k] = bench_median(t[k], runs);
    printf("| %s | %d | %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %ld |\n", arch, size,
           r.method, r.windows, m[0], m[1], m[2], m[3], m[4] - m[0] - m[1] - m[2] - m[3], m[4],
           ru.ru_maxrss / 1024);
    fflush(stdout);   /* the child leaves with _exit */
    ndx_explain_free(&r);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    if (runs < 1 || runs > 16) runs = 3;
    if (ndx_init()) return 1;
    char tmp[] = "/tmp/bench_explain_XXXXXX", image[600];
    if (!mkdtemp(tmp)) return 1;
    snprintf(image, sizeof image, "%s/mammogram.png", tmp);
    if (make_image(image)) {
        fprintf(stderr, "bench_explain: %s\n", ndx_last_error());
        return 1;
    }
    printf("One %d x %d mammogram, %d threads, kernels %s; seconds (medians of %d runs).\n\n"
           "| network | input | units by | windows | read | patch classifier | 1x1 conv / "
           "gradxact | units | write | total s | peak MiB |\n"
           "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
           W, H, ndx_get_threads(), ndx_kernel_set(), runs);
    fflush(stdout);
    int bad = 0;
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        int want = argc <= 2;
        for (int a = 2; a < argc; a++) want |= !strcmp(argv[a], models[i].arch);
        if (!want) continue;
        const pid_t pid = fork();
        if (pid == 0) _exit(run_model(models[i].arch, models[i].size, runs, image, tmp));
        int status = 1;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            bad = 1;
        fflush(stdout);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "bench_explain: cannot remove %s\n", tmp);
    return bad;
}
