/* netdx import-ddsm | import-inbreast: the original DDSM and INbreast as
 * distributed, into manifest.csv and lesion masks. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_import.h"

/* Notes on stderr: the first 50, then a count. */
typedef struct notes {
    const char *cmd;
    long n;
} notes;

static void note_cb(void *ctx, const char *msg)
{
    notes *n = ctx;
    if (++n->n <= 50) fprintf(stderr, "netdx %s: %s\n", n->cmd, msg);
    else if (n->n == 51) fprintf(stderr, "netdx %s: (further notes not shown)\n", n->cmd);
}

static void print_stats(const char *cmd, const ndx_import_stats *st, const char *out,
                        const char *what)
{
    printf("%s: %ld %s seen; %ld images (%ld lesion rows) written; left out: %ld images, "
           "%ld lesions or findings", cmd, st->cases, what, st->images, st->lesions, st->skipped,
           st->dropped);
    if (st->resized) printf("; %ld images whose masks differ in size from the PNG", st->resized);
    printf("\nwrote %s/manifest.csv and %s/masks/\n", out, out);
}

int cmd_import_ddsm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cases", required_argument, 0, 'c'}, {"images", required_argument, 0, 'i'},
        {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cases = NULL, *images = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:i:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cases = optarg; break;
        case 'i': images = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: netdx import-ddsm --cases D [--images D] --out DIR\n"
                   "Reads every DDSM case file (.ics) under --cases and its .OVERLAY files,\n"
                   "and writes DIR/manifest.csv and one mask PNG per abnormality in\n"
                   "DIR/masks/ (each outline's chain code filled; CORE outlines added).\n"
                   "netdx does not decode DDSM's LJPEG: view V of case C must be a PNG,\n"
                   "C.V.png or C.V.LJPEG.png, beside the .ics or under --images (same\n"
                   "relative folder, or directly in it).  Images without PNG, malformed\n"
                   "files and lesions the manifest cannot hold (PATHOLOGY UNPROVEN) are\n"
                   "left out and reported.\n"
                   "See docs/data.md.\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("import-ddsm", argc, argv, optind)) return EXIT_USAGE;
    if (!cases || !out) {
        fprintf(stderr, "netdx import-ddsm: --cases and --out are required\n");
        return EXIT_USAGE;
    }
    notes n = {"import-ddsm", 0};
    ndx_import_stats st;
    if (ndx_ddsm_import(cases, images, out, &st, note_cb, &n) != NDX_OK)
        return cli_fail("import-ddsm");
    print_stats("import-ddsm", &st, out, "case files");
    return EXIT_OK;
}

int cmd_import_inbreast(int argc, char **argv)
{
    static const struct option opts[] = {
        {"images", required_argument, 0, 'i'}, {"xml", required_argument, 0, 'x'},
        {"csv", required_argument, 0, 'c'},    {"out", required_argument, 0, 'o'},
        {"malignant-birads", required_argument, 0, 'm'},
        {"calc-radius", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ndx_inbreast_opts o;
    ndx_inbreast_defaults(&o);
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:x:c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': o.images = optarg; break;
        case 'x': o.xml = optarg; break;
        case 'c': o.csv = optarg; break;
        case 'o': o.out = optarg; break;
        case 'm':
            if (cli_int("import-inbreast", "malignant-birads", optarg, 1, 6, &v)) return EXIT_USAGE;
            o.malignant_birads = (int)v;
            break;
        case 'r':
            if (cli_double("import-inbreast", "calc-radius", optarg, 0.5, 100, &o.calc_radius_px))
                return EXIT_USAGE;
            break;
        case 'h':
            printf("usage: netdx import-inbreast --images D --xml D --csv F --out DIR\n"
                   "       [--malignant-birads N] [--calc-radius PX]\n"
                   "Reads INbreast's images (--images: AllDICOMs; a .png of the same name\n"
                   "is read instead of the .dcm), ROI files (--xml: AllXML) and case table\n"
                   "(--csv: INbreast.csv, or INbreast.xls saved as CSV) and writes\n"
                   "DIR/manifest.csv and one mask\n"
                   "PNG per lesion in DIR/masks/.  Mass and Spiculated Region ROIs become\n"
                   "masses, Distortion distortions, Asymmetry asymmetries, Cluster and\n"
                   "Calcification ROIs calcifications (all Calcification ROIs of an image\n"
                   "one mask; a one-point ROI a disc of --calc-radius pixels, 3).\n"
                   "Pathology: MALIGNANT when the image's BI-RADS is at least\n"
                   "--malignant-birads (4), else BENIGN (pathology_source birads).\n"
                   "See docs/data.md.\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("import-inbreast", argc, argv, optind)) return EXIT_USAGE;
    if (!o.images || !o.xml || !o.csv || !o.out) {
        fprintf(stderr, "netdx import-inbreast: --images, --xml, --csv and --out are required\n");
        return EXIT_USAGE;
    }
    notes n = {"import-inbreast", 0};
    ndx_import_stats st;
    if (ndx_inbreast_import(&o, &st, note_cb, &n) != NDX_OK) return cli_fail("import-inbreast");
    print_stats("import-inbreast", &st, o.out, "image files");
    return EXIT_OK;
}
