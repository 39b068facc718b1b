/* netdx: the command-line tool, one subcommand per stage.
 *   netdx <subcommand> [options]      netdx <subcommand> --help
 * Exit status: 0 ok, 1 failed, 2 bad usage. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_nn.h"

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"model", required_argument, 0, 'm'},
                                         {"input-size", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    int c;
    const char *model = NULL;
    long size = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'm') { model = optarg; continue; }
        if (c == 's') {
            if (cli_int("info", "input-size", optarg, 1, 8192, &size)) return EXIT_USAGE;
            continue;
        }
        if (c == 'h') {
            printf("usage: netdx info [--model M [--input-size S]]\n"
                   "Prints the version, the kernel set in use, the threads, the CPU\n"
                   "features seen and the zoo: each architecture's default input size\n"
                   "and the layers the study dissected.  NETDX_KERNELS=ref|avx2|avx512|neon and\n"
                   "NETDX_THREADS=N override the automatic choices.\n"
                   "--model M (a .safetensors file or a zoo name) lists its tappable nodes\n"
                   "and their output shapes (C,H,W) at input size S.\n");
            return EXIT_OK;
        }
        return EXIT_USAGE;
    }
    if (cli_no_args("info", argc, argv, optind)) return EXIT_USAGE;
    if (model) return cli_model_info(model, (int)size);
    char cpu[256];
    ndx_cpu_features(cpu, sizeof cpu);
    char why[1024], mpi[256];
    ndx_kernel_set_why(why, sizeof why);
    printf("netdx %s\nkernels: %s\nkernels why: %s\n", ndx_version(), ndx_kernel_set(), why);
    const char *name;
    for (int i = 0, r; (r = ndx_kernel_set_at(i, &name, why, sizeof why)) >= 0; i++)
        printf("set %-6s %s: %s\n", name, r ? "runs" : "no", why);
    printf("threads: %d\ncpu: %s\nmpi: %s\n", ndx_get_threads(), cpu,
           cli_mpi_library(mpi, sizeof mpi));
    for (int i = 0; ndx_zoo_arch_at(i); i++) {
        const ndx_zoo_arch *a = ndx_zoo_arch_at(i);
        printf("zoo: %-13s input %3d  layers", a->name, a->input_size);
        for (int l = 0; l < 3 && a->layers[l]; l++) printf(" %s", a->layers[l]);
        printf("\n");
    }
    return EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    /* one line per subcommand, in pipeline order */
    {"info", cmd_info, "version, kernel set, threads, CPU features, MPI"},
    {"infer", cmd_infer, "run a model on .npy or PNG input: logits, tapped layers, speed"},
    {"synth", cmd_synth, "phantom mammograms, lesion masks, manifest.csv"},
    {"import-cbis", cmd_import_cbis, "CBIS-DDSM description CSVs + PNGs or DICOM -> manifest.csv"},
    {"import-vindr", cmd_import_vindr, "VinDr-Mammo CSVs + DICOM -> manifest.csv, box masks"},
    {"import-ddsm", cmd_import_ddsm, "DDSM .ics/.OVERLAY case folders + PNGs -> manifest.csv, masks"},
    {"import-inbreast", cmd_import_inbreast, "INbreast XML ROIs, CSV + DICOM or PNGs -> manifest.csv, masks"},
    {"patches", cmd_patches, "sliding-window patches, labels, split -> patches.csv"},
    {"train", cmd_train, "fine-tune with SGD, validation AUC, checkpoints -> model.safetensors"},
    {"eval", cmd_eval, "AUC, accuracy, ROC PNG and per-patch scores of a split"},
    {"dissect", cmd_dissect, "per-unit top-k, thresholds, IoU with lesions -> units.csv, index.html"},
    {"rank", cmd_rank, "DeepMiner's unit ranking per class (or gradient x activation) -> rank.csv"},
    {"survey", cmd_survey, "expert readers' web survey: init, reader, serve, export, simulate"},
    {"report", cmd_report, "survey answers vs the BI-RADS lexicon: Figure 4, coverage, agreement"},
    {"explain", cmd_explain, "one mammogram: heat map, top units, what the readers called them"},
    {"bench", cmd_bench, "this machine's FMA peak, sgemm, conv and a network's speed"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: netdx <subcommand> [options]\n\nsubcommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`netdx <subcommand> --help` describes each one.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("netdx %s\n", ndx_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        /* the environment (NETDX_KERNELS, NETDX_THREADS, NETDX_MAX_PIXELS,
         * NETDX_CONV) is checked once, before any command runs */
        if (ndx_init() != NDX_OK) return cli_fail(argv[1]);
        const int refused = cli_mpi_start(&argc, &argv);
        return refused ? refused : cli_mpi_end(commands[i].run(argc - 1, argv + 1));
    }
    fprintf(stderr, "netdx: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
