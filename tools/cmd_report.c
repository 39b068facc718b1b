/* netdx report: the BI-RADS comparison from a survey export.
 *   netdx report --survey answers.jsonl --dissection DIR [--dissection DIR ...]
 *                --out report/ [--seed S] [--resamples N] [--lexicon FILE]
 *   netdx report --explain "fine pleomorphic calcs" */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_report.h"

#define CMD "report"

static void help(void)
{
    printf("usage: netdx report --survey answers.jsonl --dissection DIR [--dissection DIR ...]\n"
           "                    --out DIR [--seed S] [--resamples N] [--figure-rows N]\n"
           "                    [--lexicon FILE]\n"
           "       netdx report --explain TEXT [--lexicon FILE]\n\n"
           "Compares what the survey's readers named with the BI-RADS lexicon: the\n"
           "Figure-4 table (index.html, figure4.csv, figure4.png), coverage per network\n"
           "and layer (coverage.csv, coverage.png), agreement between readers with 95%%\n"
           "bootstrap intervals (agreement.csv), IoU of the units labelled with each\n"
           "lesion kind against the rest (experts_iou.csv).  --dissection: every folder\n"
           "the survey's units come from (netdx dissect --out).  The report is built in\n"
           "a temporary folder and renamed to DIR; an existing DIR is replaced only if\n"
           "it is an earlier report or empty.\n"
           "  --seed S         bootstrap seed (default 1)\n"
           "  --resamples N    bootstrap draws (default 2000, 0 = no intervals)\n"
           "  --figure-rows N  units per category in figure4.png (default 4)\n"
           "  --lexicon FILE   a lexicon file instead of the built-in one\n"
           "  --explain TEXT   print how TEXT maps to lexicon descriptors, and stop\n"
           "Exit status: 0 ok, 1 failed (bad input: the file, line and field named),\n"
           "2 bad usage.\n");
}

static int explain(const char *text, const char *lexicon)
{
    ndx_lexicon *lex = NULL;
    ndx_textmap *tm = NULL;
    ndx_map_result r = {0};
    if (ndx_lexicon_load(lexicon, &lex) || ndx_textmap_new(lex, &tm) || ndx_map_text(tm, text, &r)) {
        cli_fail(CMD);
        ndx_map_result_free(&r);
        ndx_textmap_free(tm);
        ndx_lexicon_free(lex);
        return EXIT_FAILED;
    }
    printf("text:       \"%s\"\nnormalised:", text);
    for (int i = 0; i < r.nwords; i++) printf(" %s", r.words[i]);
    printf("\ndescriptors: %d\n", r.nterms);
    for (int m = 0; m < r.nmatches; m++) {
        const ndx_map_match *x = &r.matches[m];
        printf("  %-34s %-28s %s ", x->term->id, x->term->name, x->term->birads ? "BI-RADS" : "extension");
        if (x->implied_by < 0) printf("<- \"%s\"", x->synonym);
        else printf("<- implied by \"%s\"", r.matches[x->implied_by].synonym);
        printf(" (word%s %d", x->count > 1 ? "s" : "", x->first + 1);
        if (x->count > 1) printf("-%d", x->first + x->count);
        printf(")\n");
    }
    for (int pass = 0; pass < 2; pass++) {
        const int want = pass ? NDX_WORD_IGNORED : NDX_WORD_UNMATCHED;
        int any = 0;
        printf("%s", pass ? "ignored:  " : "unmatched:");
        for (int i = 0; i < r.nwords; i++)
            if (r.word_match[i] == want) printf(" %s", r.words[i]), any = 1;
        printf("%s\n", any ? "" : " (none)");
    }
    ndx_map_result_free(&r);
    ndx_textmap_free(tm);
    ndx_lexicon_free(lex);
    return EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"survey", required_argument, 0, 's'},
                                         {"dissection", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"resamples", required_argument, 0, 'r'},
                                         {"figure-rows", required_argument, 0, 'f'},
                                         {"lexicon", required_argument, 0, 'l'},
                                         {"explain", required_argument, 0, 'e'},
                                         {0, 0, 0, 0}};
    ndx_report_opts o;
    ndx_report_defaults(&o);
    const char *dirs[16], *text = NULL;
    int nd = 0, c;
    long v;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return EXIT_OK;
        case 's': o.survey = optarg; break;
        case 'o': o.out = optarg; break;
        case 'l': o.lexicon = optarg; break;
        case 'e': text = optarg; break;
        case 'd':
            if (nd == 16) {
                fprintf(stderr, "netdx report: at most 16 --dissection folders\n");
                return EXIT_USAGE;
            }
            dirs[nd++] = optarg;
            break;
        case 'S':
            if (cli_u64(CMD, "seed", optarg, &o.seed)) return EXIT_USAGE;
            break;
        case 'r':
            if (cli_int(CMD, "resamples", optarg, 0, 1000000, &v)) return EXIT_USAGE;
            o.resamples = (int)v;
            break;
        case 'f':
            if (cli_int(CMD, "figure-rows", optarg, 1, 100, &v)) return EXIT_USAGE;
            o.figure_rows = (int)v;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args(CMD, argc, argv, optind)) return EXIT_USAGE;
    if (text) return explain(text, o.lexicon);
    if (!o.survey || !o.out || nd == 0) {
        fprintf(stderr, "netdx report: need --survey, --out and at least one --dissection "
                        "(netdx report --help)\n");
        return EXIT_USAGE;
    }
    o.dissections = dirs;
    o.ndissections = nd;
    ndx_report_summary s;
    if (ndx_report(&o, &s) != NDX_OK) return cli_fail(CMD);
    printf("%s%d readers (%d simulated), %d units, %ld answers + %ld repeats, survey XXH3 %s\n",
           s.simulated ? "SIMULATED READERS: " : "", s.readers, s.simulated, s.units, s.answers,
           s.repeats, s.hash);
    printf("%d Figure-4 rows; %d phenomena mapped from text (%d words unmatched)\n", s.rows,
           s.mapped_phenomena, s.unmatched_words);
    if (!s.agreement)
        fprintf(stderr, "netdx report: warning: agreement needs two readers (this survey has %d); "
                        "the rest of the report is written\n", s.readers);
    printf("report: %s/index.html\n", o.out);
    return EXIT_OK;
}
