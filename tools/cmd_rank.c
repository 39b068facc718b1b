/* netdx rank: option parsing, one call to ndx_rank_run (src/dissect/rank.c,
 * rank_run.c), the progress bar and the first units of each ranking. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_dissect.h"

#define CMD "rank"

static int usage(void)
{
    printf("usage: netdx rank --model M.safetensors --data DIR [--split val]\n"
           "                  [--method deepminer|gradxact] [--layer NAME] [--top 8]\n"
           "                  [--show 20] [--scale 4] [--batch 16] [--threads T] --out DIR\n"
           "Ranks the units of a layer as DeepMiner (the study's follow-up) did: the\n"
           "classifier applied as a 1x1 convolution over each whole mammogram of the\n"
           "split (shorter side --scale x the network input, antialiased), per image\n"
           "and class each unit's maximum activation x its weight into the class, the\n"
           "--top units kept per image; units ranked by how often they are kept.  For\n"
           "two classes a third ranking, \"decision\", uses w1 - w0 (three classes:\n"
           "w2 - (w0 + w1) / 2, malignant vs the rest).  Only for networks\n"
           "whose last conv feeds the classifier through a global pool (resnet*,\n"
           "inception_v3, tiny).  --method gradxact: gradient x activation of each\n"
           "class logit at --layer, summed over the map and averaged over the split's\n"
           "positive patches; any network (AlexNet, VGG).  Writes DIR/rank.csv and\n"
           "DIR/rank.json (the first --show units per class, unit_0001 = channel 0).\n"
           "docs/ranking.md explains both.\n"
           "  --split S     train, val or test (default val)\n"
           "  --layer NAME  deepminer: the pooled layer (the default); gradxact: any\n"
           "                node (default: the pooled layer, else the last conv)\n"
           "  --top K       units kept per image (patch), default 8\n"
           "  --show N      units written per class, default 20\n"
           "  --scale S     deepminer: shorter side = S x the input, 1..32 (default 4)\n"
           "  --batch N     gradxact: patches per pass, 1..256 (default 16)\n");
    return EXIT_OK;
}

typedef struct bar { cli_progress pg; int started; const char *unit; } bar;

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    bar *b = ctx;
    if (!b->started) cli_progress_start(&b->pg, CMD, b->unit, (long)total), b->started = 1;
    cli_progress_update(&b->pg, (long)done, NULL);
}

static int parse(int argc, char **argv, ndx_rank_opts *o)
{
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'}, {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 's'}, {"layer", required_argument, 0, 'l'},
        {"top", required_argument, 0, 'k'},   {"show", required_argument, 0, 'n'},
        {"scale", required_argument, 0, 'S'}, {"method", required_argument, 0, 'M'},
        {"batch", required_argument, 0, 'b'}, {"threads", required_argument, 0, 'j'},
        {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'd': o->data = optarg; break;
        case 'o': o->out = optarg; break;
        case 'l': o->layer = optarg; break;
        case 's':
            if (!strcmp(optarg, "train")) o->split = NDX_SPLIT_TRAIN;
            else if (!strcmp(optarg, "val")) o->split = NDX_SPLIT_VAL;
            else if (!strcmp(optarg, "test")) o->split = NDX_SPLIT_TEST;
            else {
                fprintf(stderr, "netdx rank: --split: '%s' is not train, val or test\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'M':
            if (!strcmp(optarg, "deepminer")) o->method = NDX_RANK_DEEPMINER;
            else if (!strcmp(optarg, "gradxact")) o->method = NDX_RANK_GRADXACT;
            else {
                fprintf(stderr, "netdx rank: --method: '%s' is not deepminer or gradxact\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'k':
            if (cli_int(CMD, "top", optarg, 1, 65536, &v)) return EXIT_USAGE;
            o->top = (int)v;
            break;
        case 'n':
            if (cli_int(CMD, "show", optarg, 1, 65536, &v)) return EXIT_USAGE;
            o->show = (int)v;
            break;
        case 'S':
            if (cli_int(CMD, "scale", optarg, 1, 32, &v)) return EXIT_USAGE;
            o->scale = (int)v;
            break;
        case 'b':
            if (cli_int(CMD, "batch", optarg, 1, 256, &v)) return EXIT_USAGE;
            o->batch = (int)v;
            break;
        case 'j':
            if (cli_int(CMD, "threads", optarg, 1, 1024, &v)) return EXIT_USAGE;
            ndx_set_threads((int)v);
            break;
        case 'h': return usage(), -1;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args(CMD, argc, argv, optind)) return EXIT_USAGE;
    if (!o->model || !o->data || !o->out) {
        fprintf(stderr, "netdx rank: --model, --data and --out are required\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cmd_rank(int argc, char **argv)
{
    ndx_rank_opts o;
    ndx_rank_defaults(&o);
    const int p = parse(argc, argv, &o);
    if (p) return p < 0 ? EXIT_OK : p;
    bar b = {.unit = o.method == NDX_RANK_DEEPMINER ? "img" : "patch"};
    o.progress = progress, o.progress_ctx = &b;
    ndx_rank_result r;
    const ndx_status st = ndx_rank_run(&o, &r);
    if (b.started) cli_progress_end(&b.pg);
    if (st) return cli_fail(CMD);
    printf("%s %s, %llu %s, top %d of %d units\n", r.network, r.layer,
           (unsigned long long)r.items, o.method == NDX_RANK_DEEPMINER ? "images" : "positive "
           "patches", o.top, r.units);
    for (int row = 0; row < r.nrows; row++) {
        printf("class %-8s", r.row_name[row]);
        for (int k = 0; k < 5 && k < r.units; k++) {
            const ndx_rank_unit *u = &r.ranking[(size_t)row * r.units + k];
            printf("  unit_%04d (%d)", u->unit + 1, u->count);
        }
        printf("\n");
    }
    printf("ranking: %s/rank.csv, %s/rank.json\n", o.out, o.out);
    ndx_rank_free(&r);
    return EXIT_OK;
}
