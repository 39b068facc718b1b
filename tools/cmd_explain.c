/* netdx explain: option parsing, one call to ndx_explain and one to
 * ndx_explain_write (src/explain/), and the summary printed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_explain.h"

#define CMD "explain"

static int usage(void)
{
    printf("usage: netdx explain --model M.safetensors --image F.png\n"
           "                     [--labels answers.jsonl --dissection DIR | --report DIR]\n"
           "                     [--dissection DIR] [--layer NAME] [--top 8] [--side L|R]\n"
           "                     [--view CC|MLO] [--window 0.25] [--stride 0.5]\n"
           "                     [--min-tissue 0.5] [--batch 8] [--patch-map exact|fcn]\n"
           "                     [--unit-maps windows|whole] [--threads T] --out DIR\n"
           "Explains one mammogram: the patch classifier slid over the breast with the\n"
           "windows of training (as netdx patches cuts them) gives a malignancy heat map;\n"
           "for networks with a global pool (resnet*, inception_v3, tiny) the classifier\n"
           "also runs as a 1x1 convolution over the layer's maps (the windows' own, or\n"
           "with --unit-maps whole the whole image's, fully convolutionally), and the\n"
           "units are ranked by max activation x (w_cancer - w_other); for AlexNet and\n"
           "VGG by gradient x activation in the most malignant window.  The top units\n"
           "are listed with their maps, where they peak, and, given the survey's answers\n"
           "(or a report folder), what the readers called them.  Writes DIR/index.html,\n"
           "DIR/explain.json and PNGs.  A research aid, not a diagnosis.\n"
           "docs/explain.md explains it.\n"
           "  --labels F      answers.jsonl (netdx survey export); needs --dissection\n"
           "  --report DIR    a netdx report folder: its answers and dissections\n"
           "  --dissection D  the dissection folder: the units' top patches\n"
           "  --layer NAME    default: the pooled layer, else the last convolution\n"
           "  --top K         units listed, 1..64 (default 8)\n"
           "  --side, --view  the breast's side and view (default: from the file name,\n"
           "                  e.g. P_00001_LEFT_CC.png; else unknown)\n"
           "  --window, --stride, --min-tissue  as netdx patches (0.25, 0.5, 0.5)\n"
           "  --batch N       windows per forward pass, 1..256 (default 8)\n"
           "  --patch-map M   exact (default): every window through the patch classifier;\n"
           "                  fcn (pooled networks): each window's logit the mean of the\n"
           "                  1x1-convolution logits over its cells -- exact without\n"
           "                  padding, approximate with it, and several times faster\n"
           "  --unit-maps M   pooled networks: windows (default): the units' maps and\n"
           "                  the 1x1 convolution from the windows' own maps (where they\n"
           "                  overlap, the window the cell is most central in; no second\n"
           "                  pass); whole: one more pass over the whole image\n"
           "                  (DeepMiner's way; always so with --patch-map fcn)\n");
    return EXIT_OK;
}

static int parse(int argc, char **argv, ndx_explain_opts *o, const char **out)
{
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},   {"image", required_argument, 0, 'i'},
        {"labels", required_argument, 0, 'a'},  {"report", required_argument, 0, 'r'},
        {"dissection", required_argument, 0, 'D'}, {"layer", required_argument, 0, 'l'},
        {"top", required_argument, 0, 'k'},     {"side", required_argument, 0, 's'},
        {"view", required_argument, 0, 'v'},    {"window", required_argument, 0, 'w'},
        {"stride", required_argument, 0, 'S'},  {"min-tissue", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'},   {"threads", required_argument, 0, 'j'},
        {"out", required_argument, 0, 'o'},     {"help", no_argument, 0, 'h'},
        {"patch-map", required_argument, 0, 'p'}, {"unit-maps", required_argument, 0, 'u'},
        {0, 0, 0, 0}};
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'i': o->image = optarg; break;
        case 'a': o->labels = optarg; break;
        case 'r': o->report = optarg; break;
        case 'D': o->dissection = optarg; break;
        case 'l': o->layer = optarg; break;
        case 's': o->side = optarg; break;
        case 'v': o->view = optarg; break;
        case 'o': *out = optarg; break;
        case 'k':
            if (cli_int(CMD, "top", optarg, 1, 64, &v)) return EXIT_USAGE;
            o->top = (int)v;
            break;
        case 'w':
            if (cli_double(CMD, "window", optarg, 1e-3, 1, &o->window)) return EXIT_USAGE;
            break;
        case 'S':
            if (cli_double(CMD, "stride", optarg, 1e-3, 1, &o->stride)) return EXIT_USAGE;
            break;
        case 't':
            if (cli_double(CMD, "min-tissue", optarg, 0, 1, &o->min_tissue)) return EXIT_USAGE;
            break;
        case 'b':
            if (cli_int(CMD, "batch", optarg, 1, 256, &v)) return EXIT_USAGE;
            o->batch = (int)v;
            break;
        case 'j':
            if (cli_int(CMD, "threads", optarg, 1, 1024, &v)) return EXIT_USAGE;
            ndx_set_threads((int)v);
            break;
        case 'p':
            if (strcmp(optarg, "exact") && strcmp(optarg, "fcn")) {
                fprintf(stderr, "netdx explain: --patch-map '%s': exact or fcn\n", optarg);
                return EXIT_USAGE;
            }
            o->patch_map = strcmp(optarg, "fcn") ? NDX_EXPLAIN_PATCH_EXACT : NDX_EXPLAIN_PATCH_FCN;
            break;
        case 'u':
            if (strcmp(optarg, "windows") && strcmp(optarg, "whole")) {
                fprintf(stderr, "netdx explain: --unit-maps '%s': windows or whole\n", optarg);
                return EXIT_USAGE;
            }
            o->unit_maps = strcmp(optarg, "whole") ? NDX_EXPLAIN_MAPS_WINDOWS
                                                   : NDX_EXPLAIN_MAPS_WHOLE;
            break;
        case 'h': return usage(), -1;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args(CMD, argc, argv, optind)) return EXIT_USAGE;
    if (!o->model || !o->image || !*out) {
        fprintf(stderr, "netdx explain: --model, --image and --out are required\n");
        return EXIT_USAGE;
    }
    if (o->labels && o->report) {
        fprintf(stderr, "netdx explain: give --labels or --report, not both\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The inputs and --out checked (an output naming an input is refused) and
 * --out locked before any work, as every stage does. */
static ndx_status plan(const ndx_explain_opts *o, const char *out, ndx_ioplan **p)
{
    ndx_status st = ndx_ioplan_new("explain", p);
    if (!st) st = ndx_ioplan_input(*p, "--model", o->model, NULL);
    if (!st) st = ndx_ioplan_input(*p, "--image", o->image, NULL);
    if (!st) st = ndx_ioplan_input(*p, "--labels", o->labels, NULL);
    if (!st) st = ndx_ioplan_input(*p, "--report", o->report, NULL);
    if (!st) st = ndx_ioplan_input(*p, "--dissection", o->dissection, NULL);
    if (!st) st = ndx_ioplan_output(*p, "--out", out, NDX_OUT_DIR | NDX_OUT_MKDIRS);
    return st ? st : ndx_ioplan_begin(*p);
}

int cmd_explain(int argc, char **argv)
{
    ndx_explain_opts o;
    ndx_explain_defaults(&o);
    const char *out = NULL;
    const int rc = parse(argc, argv, &o, &out);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    ndx_ioplan *io = NULL;
    ndx_explain_result r;
    if (plan(&o, out, &io) != NDX_OK || ndx_explain(&o, &r) != NDX_OK) {
        ndx_ioplan_free(io);
        return cli_fail(CMD);
    }
    const ndx_status st = ndx_explain_write(out, &o, &r);
    ndx_ioplan_free(io);
    if (st != NDX_OK) {
        ndx_explain_free(&r);
        return cli_fail(CMD);
    }
    printf("%s %s: %d windows of %d px (%s, unit maps: %s), highest P(malignant) %.3f at (%d, %d)\n",
           r.network, r.layer, r.windows, r.window, r.patch_map, r.unit_maps, r.max_prob, r.heat_peak_x,
           r.heat_peak_y);
    for (int i = 0; i < r.nunits; i++)
        printf("  unit %4d  contribution %9.4g  %s\n", r.unit[i].unit, r.unit[i].contribution,
               r.unit[i].region);
    printf("%s\nwritten: %s/index.html, %s/explain.json\n", r.summary, out, out);
    ndx_explain_free(&r);
    return EXIT_OK;
}
