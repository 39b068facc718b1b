/* netdx synth | import-cbis | import-vindr | patches: the data stages. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_import.h"

static void progress_cb(void *ctx, long done, long total)
{
    cli_progress *p = ctx;
    p->total = total;
    cli_progress_update(p, done, NULL);
}

static void print_kinds(const long kind[NDX_LESION_KINDS][2])
{
    for (int k = 0; k < NDX_LESION_KINDS; k++)
        printf("  %-14s %4ld  (malignant %ld, benign %ld)\n", ndx_lesion_kind_name(k),
               kind[k][0] + kind[k][1], kind[k][1], kind[k][0]);
}

int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},      {"patients", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},     {"pixel-um", required_argument, 0, 'p'},
        {"normal-frac", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ndx_synth_opts o;
    ndx_synth_defaults(&o);
    const char *out = NULL;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:n:s:p:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n':
            if (cli_int("synth", "patients", optarg, 1, 99999, &v)) return EXIT_USAGE;
            o.patients = (int)v;
            break;
        case 's':
            if (cli_u64("synth", "seed", optarg, &o.seed)) return EXIT_USAGE;
            break;
        case 'p':
            if (cli_double("synth", "pixel-um", optarg, 50, 400, &o.pixel_um)) return EXIT_USAGE;
            break;
        case 'f':
            if (cli_double("synth", "normal-frac", optarg, 0, 1, &o.normal_frac)) return EXIT_USAGE;
            break;
        case 'h':
            printf("usage: netdx synth --out DIR [--patients N] [--seed S] [--pixel-um U]\n"
                   "                   [--normal-frac F]\n"
                   "Writes phantom mammograms: DIR/images/ (16-bit PNG; per patient LEFT and\n"
                   "RIGHT, CC and MLO), DIR/masks/ (one 8-bit PNG per lesion and view) and\n"
                   "DIR/manifest.csv (CBIS-DDSM columns).  Images cover 100 x 160 mm.\n"
                   "  --patients N     1..99999 (default 100)\n"
                   "  --seed S         every random choice (default 1); same seed, same files\n"
                   "  --pixel-um U     pixel size, 50..400 um (default 100: 1000 x 1600 px)\n"
                   "  --normal-frac F  patients without lesions, 0..1 (default 0.5)\n"
                   "Prints lesions per kind, density grades and sizes.  NETDX_THREADS=N.\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("synth", argc, argv, optind)) return EXIT_USAGE;
    if (!out) {
        fprintf(stderr, "netdx synth: --out DIR is required\n");
        return EXIT_USAGE;
    }
    cli_progress p;
    cli_progress_start(&p, "synth", "img", 4L * o.patients);
    o.progress = progress_cb;
    o.progress_ctx = &p;
    ndx_synth_stats st;
    if (ndx_synth(out, &o, &st) != NDX_OK) {
        cli_progress_end(&p);
        return cli_fail("synth");
    }
    cli_progress_end(&p);
    printf("synth: %ld patients (%ld normal), %ld images of %dx%d px at %g um, %ld lesions\n",
           st.patients, st.normal_patients, st.images, st.width, st.height, o.pixel_um, st.lesions);
    printf("density grades (patients): a %ld, b %ld, c %ld, d %ld\n", st.density[0], st.density[1],
           st.density[2], st.density[3]);
    printf("lesions per kind (rows of manifest.csv, one per lesion and view):\n");
    print_kinds((const long(*)[2])st.kind);
    printf("wrote %s/manifest.csv\n", out);
    return EXIT_OK;
}

int cmd_patches(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},       {"window", required_argument, 0, 'w'},
        {"stride", required_argument, 0, 's'},     {"min-tissue", required_argument, 0, 't'},
        {"label-frac", required_argument, 0, 'l'}, {"stratify", no_argument, 0, 'S'},
        {"split-seed", required_argument, 0, 'e'}, {"window-mm", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    ndx_patch_opts o;
    ndx_patch_defaults(&o);
    const char *dir = NULL;
    int c;
    optind = 1;
    int window_given = 0;
    while ((c = getopt_long(argc, argv, "d:w:s:t:l:Se:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'S': o.stratify = 1; break;
        case 'e':
            if (cli_u64("patches", "split-seed", optarg, &o.split_seed)) return EXIT_USAGE;
            break;
        case 'w':
            if (cli_double("patches", "window", optarg, 0.01, 1, &o.window)) return EXIT_USAGE;
            window_given = 1;
            break;
        case 'm':
            if (cli_double("patches", "window-mm", optarg, 1, 1000, &o.window_mm)) return EXIT_USAGE;
            break;
        case 's':
            if (cli_double("patches", "stride", optarg, 0.01, 1, &o.stride)) return EXIT_USAGE;
            break;
        case 't':
            if (cli_double("patches", "min-tissue", optarg, 0, 1, &o.min_tissue)) return EXIT_USAGE;
            break;
        case 'l':
            if (cli_double("patches", "label-frac", optarg, 0.001, 1, &o.label_frac)) return EXIT_USAGE;
            break;
        case 'h':
            printf("usage: netdx patches --data DIR [--window F | --window-mm MM] [--stride F]\n"
                   "                     [--min-tissue F]\n"
                   "                     [--label-frac F] [--stratify] [--split-seed N]\n"
                   "Reads DIR/manifest.csv with its images and masks and writes DIR/patches.csv:\n"
                   "square windows sliding over every image, their label, lesion overlaps and\n"
                   "the patient's split: patients ordered by XXH3 of their id and cut exactly\n"
                   "80/10/10 by count (val and test at least one patient each from 3 on).\n"
                   "Breast = pixels above the image's own Otsu threshold.\n"
                   "  --stratify      cut the patients with a malignant lesion first, so every\n"
                   "                  split gets some when there are >= 3 of them\n"
                   "  --split-seed N  seed of the hash ordering the patients (default 0)\n"
                   "  --window F      window side, fraction of min(width, height) (default 0.25)\n"
                   "  --window-mm MM  window side in mm, 1..1000, through each image's\n"
                   "                  pixel_spacing_mm (DICOM imports fill it; refused when an\n"
                   "                  image's is unknown)\n"
                   "  --stride F      stride, fraction of the window (default 0.5)\n"
                   "  --min-tissue F  drop windows with less breast than this (default 0.5)\n"
                   "  --label-frac F  positive when >= F of a malignant lesion is inside or\n"
                   "                  >= F of the window is malignant lesion (default 0.3)\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("patches", argc, argv, optind)) return EXIT_USAGE;
    if (window_given && o.window_mm > 0) {
        fprintf(stderr, "netdx patches: --window and --window-mm exclude each other\n");
        return EXIT_USAGE;
    }
    if (!dir) {
        fprintf(stderr, "netdx patches: --data DIR is required\n");
        return EXIT_USAGE;
    }
    cli_progress p;
    cli_progress_start(&p, "patches", "img", 0);
    o.progress = progress_cb;
    o.progress_ctx = &p;
    ndx_patch_stats st;
    if (ndx_patches_build(dir, &o, &st) != NDX_OK) {
        cli_progress_end(&p);
        return cli_fail("patches");
    }
    cli_progress_end(&p);
    printf("patches: %ld images, %ld patches kept, %ld dropped (< %g breast), %ld positive (%.1f%%)\n",
           st.images, st.patches, st.dropped, o.min_tissue, st.positive,
           st.patches ? 100.0 * st.positive / st.patches : 0.0);
    if (st.resampled_masks)
        printf("masks resampled to their image's size: %ld\n", st.resampled_masks);
    printf("breast fraction of the images (above their Otsu threshold): mean %.3f, min %.3f\n",
           st.breast_frac_mean, st.breast_frac_min);
    printf("split    patients  malignant  patches  positive\n");
    for (int s = 0; s < 3; s++)
        printf("%-8s %8ld %10ld %8ld %9ld\n", ndx_split_name(s), st.split_patients[s],
               st.split_malignant_patients[s], st.split_patches[s], st.split_positive[s]);
    for (int s = 0; s < 3; s++)
        if (!st.split_patches[s] || !st.split_positive[s])
            fprintf(stderr, "netdx patches: warning: the %s split has %s; %s\n", ndx_split_name(s),
                    !st.split_patients[s] ? "no patients" : !st.split_patches[s] ? "no patches"
                                                                               : "no positive patch",
                    o.stratify ? "more patients with malignant lesions are needed"
                               : "try --stratify, or more patients");
    printf("wrote %s/patches.csv\n", dir);
    return EXIT_OK;
}

static void note_cb(void *ctx, const char *msg)
{
    long *n = ctx;
    if (++*n <= 50) fprintf(stderr, "netdx import-cbis: %s\n", msg);
    else if (*n == 51) fprintf(stderr, "netdx import-cbis: (further notes not shown)\n");
}

int cmd_import_cbis(int argc, char **argv)
{
    static const struct option opts[] = {
        {"csv-dir", required_argument, 0, 'c'}, {"images", required_argument, 0, 'i'},
        {"out", required_argument, 0, 'o'},     {"dicom", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *csv_dir = NULL, *images = NULL, *out = NULL, *dicom = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:i:o:D:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': csv_dir = optarg; break;
        case 'i': images = optarg; break;
        case 'D': dicom = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: netdx import-cbis --csv-dir D (--images D | --dicom D) --out DIR\n"
                   "Reads CBIS-DDSM's mass_case_description_{train,test}_set.csv and\n"
                   "calc_case_description_{train,test}_set.csv from --csv-dir and writes\n"
                   "DIR/manifest.csv.  Every DICOM path of the CSVs must exist under --images\n"
                   "as a PNG of the same relative path with .png for .dcm (e.g. converted with\n"
                   "DCMTK: dcmj2pnm +on2 in.dcm out.png, 16-bit).  The mask is whichever of the\n"
                   "ROI and crop files is larger; masks of another size than their image are\n"
                   "kept and reported (netdx patches resamples them); rows whose PNGs are\n"
                   "missing are skipped and reported.\n"
                   "  --dicom D  read the DICOM files as TCIA distributes them instead: D holds\n"
                   "             the CSVs' paths as they are (classic folder names, also under\n"
                   "             D/CBIS-DDSM/), or the NBIA Data Retriever's descriptive tree\n"
                   "             with its D/metadata.csv; the manifest points at the .dcm files\n"
                   "             and gets each image's pixel spacing (see docs/data.md)\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("import-cbis", argc, argv, optind)) return EXIT_USAGE;
    if (!csv_dir || !out || !images == !dicom) {
        fprintf(stderr, "netdx import-cbis: --csv-dir, --out and one of --images and --dicom are "
                "required\n");
        return EXIT_USAGE;
    }
    long notes = 0;
    ndx_cbis_stats st;
    if ((dicom ? ndx_cbis_import_dicom(csv_dir, dicom, out, &st, note_cb, &notes)
               : ndx_cbis_import(csv_dir, images, out, &st, note_cb, &notes)) != NDX_OK)
        return cli_fail("import-cbis");
    printf("import-cbis: %ld CSV rows, %ld lesion rows over %ld images written; skipped: %ld "
           "(%s missing), %ld (bad value or file); %ld masks of another size than their image\n",
           st.csv_rows, st.rows, st.images, st.missing, dicom ? "file" : "PNG", st.invalid,
           st.resampled_masks);
    printf("wrote %s/manifest.csv\n", out);
    return EXIT_OK;
}

static void vindr_note(void *ctx, const char *msg)
{
    long *n = ctx;
    if (++*n <= 50) fprintf(stderr, "netdx import-vindr: %s\n", msg);
    else if (*n == 51) fprintf(stderr, "netdx import-vindr: (further notes not shown)\n");
}

int cmd_import_vindr(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    const char *data = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: netdx import-vindr --data D --out DIR\n"
                   "Reads VinDr-Mammo as PhysioNet distributes it: D/breast-level_annotations.csv,\n"
                   "D/finding_annotations.csv and D/images/<study_id>/<image_id>.dicom, and writes\n"
                   "DIR/manifest.csv pointing at the DICOM files, with one box mask per finding\n"
                   "(DIR/masks/, 8-bit PNG, mask_kind box).  Findings: Mass -> mass, Suspicious\n"
                   "Calcification -> calcification, Architectural Distortion -> distortion, the\n"
                   "asymmetries -> asymmetry, the rest -> other (its words in the finding column).\n"
                   "VinDr has no pathology: BI-RADS 4-5 findings count as MALIGNANT, 2-3 as BENIGN\n"
                   "(pathology_source birads).  Pixel spacing from each DICOM header.\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("import-vindr", argc, argv, optind)) return EXIT_USAGE;
    if (!data || !out) {
        fprintf(stderr, "netdx import-vindr: --data and --out are required\n");
        return EXIT_USAGE;
    }
    long notes = 0;
    ndx_vindr_stats st;
    if (ndx_vindr_import(data, out, &st, vindr_note, &notes) != NDX_OK) return cli_fail("import-vindr");
    printf("import-vindr: %ld images, %ld findings with a box (%ld boxes clipped to their image); "
           "%ld rows skipped\n", st.images, st.findings, st.boxes_clipped, st.skipped);
    printf("wrote %s/manifest.csv\n", out);
    return EXIT_OK;
}
