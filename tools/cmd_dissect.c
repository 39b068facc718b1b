/* netdx dissect: option parsing, one call to ndx_dissect_run (the pass,
 * src/dissect/pass.c), the progress bar and the best units printed.
 * See ndx_dissect_run in include/netdx.h for what the pass does. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_dissect.h"

#define CMD "dissect"

static int usage(void)
{
    printf("usage: netdx dissect --model M.safetensors --data DIR --layer NAME [--layer NAME ...]\n"
           "                     [--split val] [--topk 64] [--threshold quantile|relative]\n"
           "                     [--quantile 0.005] [--batch 16] [--mask-size S] [--images 8]\n"
           "                     [--shard I/N] [--stats-only] [--thresholds-from DIR]\n"
           "                     [--distinct image|lesion|none] [--draw-threshold relative|quantile]\n"
           "                     [--threads T] --out DIR\n"
           "       netdx dissect --merge A B [--model M] [--data DIR] [--images 8] --out C\n"
           "Dissects the units of each layer over the split's patches in one streaming\n"
           "pass, one forward per batch for all the layers (a second pass only for units\n"
           "whose threshold falls outside the one-pass IoU window); memory does not grow\n"
           "with the number of patches.  Writes DIR/units.csv, units.json (with the\n"
           "model's architecture and path), index.html,\n"
           "units/<layer>_<unit>.html unit pages (every shown top patch cut from its\n"
           "mammogram, windowed, highlighted, beside its mammogram with a red box),\n"
           "units/<layer>_<unit>.png strips (for netdx report) and\n"
           "DIR/<layer>.dstate (the state).\n"
           "  --layer NAME          a node of the model (netdx info --model M lists them)\n"
           "  --split S             train, val or test (default val)\n"
           "  --topk K              patches kept per unit, 1..4096 (default 64)\n"
           "  --threshold T         quantile (top --quantile of all activations, default)\n"
           "                        or relative (0.2 x the unit's best score); both\n"
           "                        rounded down to the sketch's bin edge (< 1/32 lower)\n"
           "  --quantile Q          0 < Q < 1 (default 0.005)\n"
           "  --batch N             patches per forward, 1..1024 (default 16)\n"
           "  --mask-size S         IoU resolution, 8..1024 (default: the model's input)\n"
           "  --images N            patches per unit strip, 0..64 (0: no strips and no\n"
           "                        context images; default 8)\n"
           "  --distinct D          which top patches the unit pages show: image (at most\n"
           "                        one per mammogram, default), lesion (none overlapping\n"
           "                        a shown one) or none (all); statistics use them all\n"
           "  --draw-threshold R    highlight drawn on the tiles: relative (map >= 0.2 x\n"
           "                        the unit's best score, the study's; default) or\n"
           "                        quantile (map > the IoU threshold)\n"
           "  --shard I/N           only the split's patches number I mod N (0 <= I < N)\n"
           "  --stats-only          statistics only, no IoU (shards to merge before IoU)\n"
           "  --thresholds-from D   the thresholds of D's states (merged shards): exact\n"
           "  --merge A B           merge two dissections' states (e.g. two --shard runs)\n"
           "                        into --out: as one run over both (--model: for the\n"
           "                        network's name and input size; --data: for the\n"
           "                        unit images)\n"
           "NETDX_THREADS=N or --threads N.\n");
    return EXIT_OK;
}

/* The bar of the pass; a second pass (IoU alone) starts a new one. */
typedef struct bar {
    cli_progress pg;
    int started, second;
    uint64_t last;
    const char *label;
} bar;

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    bar *b = ctx;
    if (b->started && done <= b->last) {   /* done grows within a pass */
        cli_progress_end(&b->pg);
        b->started = 0;
        b->second = 1;
    }
    if (!b->started) cli_progress_start(&b->pg, CMD, "patch", (long)total), b->started = 1;
    b->last = done;
    cli_progress_update(&b->pg, (long)done, b->second ? "IoU" : b->label);
}

static void print_result(const ndx_dissect_run_opts *o, const ndx_dissect_run_result *r)
{
    for (int l = 0; l < r->nlayers; l++)
        if (r->layer[l].missed)
            fprintf(stderr, "netdx dissect: %s: the threshold of %d units fell outside their "
                    "one-pass IoU windows: a second pass gave the IoU\n", r->layer[l].name,
                    r->layer[l].missed);
    if (!o->merge[0]) printf("patches: %llu (%s)\n", (unsigned long long)r->patches,
                             ndx_split_name(o->split));
    for (int l = 0; l < r->nlayers; l++)
        for (int m = 0; m < r->nmasks && r->layer[l].best_unit[m] >= 0; m++)
            printf("%s: best %-14s unit %4d  IoU %.4f\n", r->layer[l].name, r->mask_names[m],
                   r->layer[l].best_unit[m], r->layer[l].best_iou[m]);
    printf("index: %s/index.html\n", o->out);
}

/* The index of arg among the NULL-ended names, or -1 (said on stderr). */
static long choice(const char *opt, const char *arg, const char *const *names)
{
    for (long i = 0; names[i]; i++)
        if (!strcmp(arg, names[i])) return i;
    fprintf(stderr, "netdx dissect: --%s: '%s' is not", opt, arg);
    for (int i = 0; names[i]; i++) fprintf(stderr, "%s %s", i ? (names[i + 1] ? "," : " or") : "", names[i]);
    fputc('\n', stderr);
    return -1;
}

/* The pass (under mpirun: this rank's shard, merged on rank 0), the bar
 * drawn by rank 0 and the result printed by the one that wrote it. */
static int run(ndx_dissect_run_opts *o)
{
    const int mpi = cli_mpi_dissect(o);
    if (mpi) return mpi;
    char label[64];   /* rank 0 draws the bar, naming the ranks */
    snprintf(label, sizeof label, "%s", o->stats_only ? "stats" : "stats+IoU");
    if (cli_mpi_size() > 1) snprintf(label, sizeof label, "stats+IoU, %d ranks", cli_mpi_size());
    bar b = {.label = label};
    if (!o->merge[0] && cli_mpi_rank() == 0) o->progress = progress, o->progress_ctx = &b;
    ndx_dissect_run_result r;
    const ndx_status st = ndx_dissect_run(o, &r);
    if (b.started) cli_progress_end(&b.pg);
    if (st) return cli_fail(CMD);
    if (r.root) print_result(o, &r);
    return EXIT_OK;
}

int cmd_dissect(int argc, char **argv)
{
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},   {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 's'},   {"layer", required_argument, 0, 'l'},
        {"topk", required_argument, 0, 'k'},    {"threshold", required_argument, 0, 't'},
        {"quantile", required_argument, 0, 'q'}, {"threads", required_argument, 0, 'j'},
        {"batch", required_argument, 0, 'b'},   {"mask-size", required_argument, 0, 'M'},
        {"images", required_argument, 0, 'i'},  {"stats-only", no_argument, 0, 'S'},
        {"thresholds-from", required_argument, 0, 'T'}, {"merge", required_argument, 0, 'g'},
        {"shard", required_argument, 0, 'P'},   {"distinct", required_argument, 0, 'D'},
        {"draw-threshold", required_argument, 0, 'R'},
        {"out", required_argument, 0, 'o'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ndx_dissect_run_opts o;
    ndx_dissect_run_defaults(&o);
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'd': o.data = optarg; break;
        case 'o': o.out = optarg; break;
        case 'T': o.thresholds_from = optarg; break;
        case 'S': o.stats_only = 1; break;
        case 's':
            if ((v = choice("split", optarg, (const char *const[]){"train", "val", "test", NULL})) < 0)
                return EXIT_USAGE;
            o.split = (int)v;
            break;
        case 'l':
            if (o.nlayers == NDX_DISSECT_MAX_LAYERS) {
                fprintf(stderr, "netdx dissect: at most %d --layer\n", NDX_DISSECT_MAX_LAYERS);
                return EXIT_USAGE;
            }
            o.layers[o.nlayers++] = optarg;
            break;
        case 'k':
            if (cli_int(CMD, "topk", optarg, 1, 4096, &v)) return EXIT_USAGE;
            o.topk = (int)v;
            break;
        case 't':
            if ((v = choice("threshold", optarg, (const char *const[]){"quantile", "relative", NULL})) < 0)
                return EXIT_USAGE;
            o.mode = (ndx_dissect_mode)v;
            break;
        case 'D':
            if ((v = choice("distinct", optarg, (const char *const[]){"image", "lesion", "none", NULL})) < 0)
                return EXIT_USAGE;
            o.distinct = (ndx_dissect_distinct)v;
            break;
        case 'R':
            if ((v = choice("draw-threshold", optarg, (const char *const[]){"relative", "quantile", NULL})) < 0)
                return EXIT_USAGE;
            o.draw_threshold = (ndx_draw_threshold)v;
            break;
        case 'q':
            if (cli_double(CMD, "quantile", optarg, 1e-9, 0.999999, &o.quantile)) return EXIT_USAGE;
            break;
        case 'j':
            if (cli_int(CMD, "threads", optarg, 1, 1024, &v)) return EXIT_USAGE;
            ndx_set_threads((int)v);
            break;
        case 'b':
            if (cli_int(CMD, "batch", optarg, 1, 1024, &v)) return EXIT_USAGE;
            o.batch = (int)v;
            break;
        case 'M':
            if (cli_int(CMD, "mask-size", optarg, 8, 1024, &v)) return EXIT_USAGE;
            o.mask_size = (int)v;
            break;
        case 'i':
            if (cli_int(CMD, "images", optarg, 0, 64, &v)) return EXIT_USAGE;
            o.images = (int)v;
            break;
        case 'g':
            if (optind >= argc || argv[optind][0] == '-') {
                fprintf(stderr, "netdx dissect: --merge needs two directories\n");
                return EXIT_USAGE;
            }
            o.merge[0] = optarg;
            o.merge[1] = argv[optind++];
            break;
        case 'P': {
            int a, b, k = 0;
            if (sscanf(optarg, "%d/%d%n", &a, &b, &k) != 2 || optarg[k] || b < 1 || b > 100000 ||
                a < 0 || a >= b) {
                fprintf(stderr, "netdx dissect: --shard: '%s' is not I/N with 0 <= I < N\n", optarg);
                return EXIT_USAGE;
            }
            o.shard = a;
            o.nshards = b;
            break;
        }
        case 'h': return usage();
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args(CMD, argc, argv, optind)) return EXIT_USAGE;
    if (!o.out) {
        fprintf(stderr, "netdx dissect: --out DIR is required\n");
        return EXIT_USAGE;
    }
    if (!o.merge[0] && (!o.model || !o.data || !o.nlayers)) {
        fprintf(stderr, "netdx dissect: --model, --data and --layer are required\n");
        return EXIT_USAGE;
    }
    return run(&o);
}
