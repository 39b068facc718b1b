/* Phantom generator speed: images/s at 100 um (1000 x 1600 px), rendering
 * only and rendering plus writing the PNGs (image, masks, manifest), with 1
 * and 2 threads; medians of 3 runs of 5 patients (20 images) each.
 * Prints a markdown table (bench/run.sh puts it in bench/RESULTS.md).
 *   bench_synth [patients]      (images go to a temporary directory) */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "netdx.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

int main(int argc, char **argv)
{
    int patients = argc > 1 ? atoi(argv[1]) : 5;
    if (patients < 1 || patients > 1000) {
        fprintf(stderr, "bench_synth: patients must be 1..1000\n");
        return 2;
    }
    char dir[] = "/tmp/netdx_bench_synth_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_synth: mkdtemp");
        return 1;
    }
    printf("Phantom mammograms of 1000x1600 px (100 um), %d images per run, median of 3 runs.\n\n",
           4 * patients);
    printf("| threads | render only, images/s | render + write PNGs, images/s |\n");
    printf("| --- | --- | --- |\n");
    int status = 0;
    for (int threads = 1; threads <= 2 && !status; threads++) {
        ndx_set_threads(threads);
        double rate[2];
        for (int write = 0; write < 2 && !status; write++) {
            double t[3];
            for (int r = 0; r < 3; r++) {
                ndx_synth_opts o;
                ndx_synth_defaults(&o);
                o.patients = patients;
                o.seed = 100 + (uint64_t)r;
                o.dry_run = !write;
                double t0 = bench_now();
                if (ndx_synth(dir, &o, NULL) != NDX_OK) {
                    fprintf(stderr, "bench_synth: %s\n", ndx_last_error());
                    status = 1;
                    break;
                }
                t[r] = bench_now() - t0;
            }
            if (!status) rate[write] = 4.0 * patients / bench_median(t, 3);
        }
        if (!status) printf("| %d | %.1f | %.1f |\n", threads, rate[0], rate[1]);
    }
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}
