/* netdx explain on one 3000 x 5000 mammogram: prints a markdown table,
 * one row per network, patch map and phase.
 *
 *   bench_explain [runs] [arch ...] [exact|fcn|whole]   (runs 1..16, default 3; medians)
 *
 * The paper's networks at their input sizes (alexnet 227, vgg16 227,
 * resnet152 227, inception_v3 299; tiny 64 for scale), two classes, seeded
 * random weights (timing only: the maps mean nothing), saved to a
 * temporary safetensors file; the mammogram a 16-bit phantom-like breast
 * (a half ellipse of noisy tissue on a black background, the chest wall
 * at x = 0).  ndx_explain with the defaults (window 0.25 of the shorter
 * side = 750 px, stride 0.5, top 8, batch 8), then ndx_explain_write.  The
 * pooled networks (tiny, resnet152, inception_v3) run twice: with the
 * exact patch map (every window through the patch classifier; the units'
 * maps from the windows' own) and with the map from the 1x1 convolution
 * over the whole image (NDX_EXPLAIN_PATCH_FCN); `whole`, only when named,
 * adds the exact patch map with the units' maps from a whole-image pass
 * (NDX_EXPLAIN_MAPS_WHOLE, the default before 2026-12-07).  Per phase
 * (ndx_explain_result.seconds and cpu_seconds, and the write): wall
 * seconds, CPU seconds of the process (all threads, getrusage), and CPU /
 * 2 as an estimate for an idle 2-core machine (on a shared host the wall
 * time includes waiting for a core; the CPU time also counts OpenMP
 * threads spinning while they wait -- OMP_WAIT_POLICY=passive keeps that
 * small).  One warm-up run first when runs > 1.  Each network and map
 * runs in a child process (its own peak RSS). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "netdx.h"
#include "netdx_explain.h"
#include "netdx_nn.h"

enum { W = 3000, H = 5000 };

static const struct { const char *arch; int size, pooled; } models[] = {
    {"tiny", 64, 1}, {"alexnet", 227, 0}, {"vgg16", 227, 0}, {"resnet152", 227, 1},
    {"inception_v3", 299, 1}};

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

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

enum { PH = NDX_EXPLAIN_PHASES + 2 };   /* the phases, the write, the total */

static int run_model(const char *arch, int size, int map, int runs, const char *image,
                     const char *tmp)
{
    char model[600], out[600];
    snprintf(model, sizeof model, "%s/%s.safetensors", tmp, arch);
    snprintf(out, sizeof out, "%s/%s_explain", tmp, arch);
    if (access(model, R_OK)) {   /* the exact and fcn runs share the file */
        ndx_net *net = NULL;
        if (ndx_zoo_build(arch, 2, size, 1, &net) || ndx_safetensors_save(net, model)) {
            fprintf(stderr, "bench_explain: %s\n", ndx_last_error());
            return 1;
        }
        ndx_net_free(net);
    }
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    o.model = model, o.image = image;
    o.patch_map = map == 1 ? NDX_EXPLAIN_PATCH_FCN : NDX_EXPLAIN_PATCH_EXACT;
    o.unit_maps = map == 2 ? NDX_EXPLAIN_MAPS_WHOLE : NDX_EXPLAIN_MAPS_WINDOWS;
    double wall[PH][16] = {{0}}, cpu[PH][16] = {{0}};
    ndx_explain_result r;
    for (int i = runs > 1 ? -1 : 0; i < runs; i++) {   /* a warm-up run when timing several */
        const double t0 = bench_now(), c0 = cpu_now();
        if (ndx_explain(&o, &r)) {
            fprintf(stderr, "bench_explain: %s: %s\n", arch, ndx_last_error());
            return 1;
        }
        const double t1 = bench_now(), c1 = cpu_now();
        if (ndx_explain_write(out, &o, &r)) {
            fprintf(stderr, "bench_explain: %s: %s\n", arch, ndx_last_error());
            return 1;
        }
        if (i >= 0) {
            for (int k = 0; k < NDX_EXPLAIN_PHASES; k++)
                wall[k][i] = r.seconds[k], cpu[k][i] = r.cpu_seconds[k];
            wall[PH - 2][i] = bench_now() - t1, cpu[PH - 2][i] = cpu_now() - c1;
            wall[PH - 1][i] = bench_now() - t0, cpu[PH - 1][i] = cpu_now() - c0;
        }
        if (i < runs - 1) ndx_explain_free(&r);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    for (int k = 0; k < PH; k++) {
        const double w = bench_median(wall[k], runs), c = bench_median(cpu[k], runs);
        const char *name = k < NDX_EXPLAIN_PHASES ? ndx_explain_phase(k, &r)
                           : k == PH - 2 ? "write" : "**total**";
        char peak[32] = "";
        if (k == PH - 1) snprintf(peak, sizeof peak, "%ld", ru.ru_maxrss / 1024);
        printf("| %s | %d | %s | %s | %s | %d | %s | %.2f | %.2f | %.2f | %s |\n", arch, size,
               r.method, r.patch_map, r.unit_maps, r.windows, name, w, c, c / 2, peak);
    }
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
    double load[3] = {0, 0, 0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        fclose(la);
    }
    char date[32];
    const time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("One %d x %d mammogram, %d threads, kernels %s, %s, load average %.1f %.1f %.1f;\n"
           "seconds, medians of %d runs; \"idle est.\" = CPU s / 2, an estimate for an idle "
           "2-core machine.\n\n"
           "| network | input | units by | patch map | unit maps | windows | phase | wall s | "
           "CPU s | idle est. s | peak MiB |\n"
           "| --- | ---: | --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |\n",
           W, H, ndx_get_threads(), ndx_kernel_set(), date, load[0], load[1], load[2], runs);
    fflush(stdout);
    static const char *const maps[3] = {"exact", "fcn", "whole"};
    int bad = 0, want_map[3] = {0, 0, 0}, any_map = 0;
    for (int a = 2; a < argc; a++)
        for (int m = 0; m < 3; m++)
            if (!strcmp(argv[a], maps[m])) want_map[m] = any_map = 1;
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        int named = 0, want;
        for (int a = 2; a < argc; a++)
            named |= strcmp(argv[a], "exact") && strcmp(argv[a], "fcn") && strcmp(argv[a], "whole");
        want = !named;
        for (int a = 2; a < argc; a++) want |= !strcmp(argv[a], models[i].arch);
        if (!want) continue;
        for (int map = 0; map < (models[i].pooled ? 3 : 1); map++) {
            if ((any_map || map == 2) && !want_map[map]) continue;
            const pid_t pid = fork();
            if (pid == 0)
                _exit(run_model(models[i].arch, models[i].size, map, runs, image, tmp));
            int status = 1;
            if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                WEXITSTATUS(status))
                bad = 1;
            fflush(stdout);
        }
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "bench_explain: cannot remove %s\n", tmp);
    return bad;
}
