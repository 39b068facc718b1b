/* netdx survey: the expert readers' web survey (src/survey).
 *   netdx survey init      build survey.sqlite from dissection folders
 *   netdx survey reader    add | list | disable readers
 *   netdx survey serve     the web app
 *   netdx survey export    answers.jsonl / answers.csv
 *   netdx survey simulate  simulated readers (demo, tests) */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netdx.h"
#include "netdx_survey.h"

#define CMD "survey"
#define MAX_DISSECTIONS 64

static void init_progress(void *ctx, long done, long total)
{
    cli_progress *p = ctx;
    if (done == 0) {
        cli_progress_start(p, "survey units", "unit", total);
        return;
    }
    cli_progress_update(p, done, NULL);
    if (done == total) cli_progress_end(p);
}

static int init_usage(void)
{
    printf("usage: netdx survey init --db survey.sqlite --dissection DIR [--dissection DIR ...]\n"
           "                         [--data DIR] [--model M] [--network NAME] [--units 45]\n"
           "                         [--cancer-share 0.6] [--seed S] [--repeats N]\n"
           "                         [--hide-ids] [--hide-labels]\n"
           "Builds a new survey (never overwrites one): per dissected layer (each\n"
           "DIR/<layer>.dstate) --units units, --cancer-share of them among the units\n"
           "whose top patches are mostly cancer-positive (highest fraction first),\n"
           "the rest at random (seeded); their top 32 patches cut from the source\n"
           "mammograms (192-320 px, windowed), the unit's highlight, the lesion\n"
           "outlines and the mammograms, all stored in the database.\n"
           "  --data DIR       the patches' data dir (default: units.json \"data_dir\")\n"
           "  --model M        the dissected model, for its architecture's name\n"
           "  --network NAME   the network's name (default: units.json \"network\",\n"
           "                   else the model's arch, else \"unknown\")\n"
           "  --units N        units per layer, 1..4096 (default 45; all when fewer)\n"
           "  --cancer-share F 0..1 (default 0.6)\n"
           "  --repeats N      units shown twice per layer, 0..64 (self-consistency)\n"
           "  --hide-ids       readers do not see network, layer or unit ids\n"
           "  --hide-labels    readers do not see the +/- patch labels\n");
    return EXIT_OK;
}

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},          {"db", required_argument, 0, 'b'},
        {"dissection", required_argument, 0, 'd'}, {"data", required_argument, 0, 'D'},
        {"model", required_argument, 0, 'm'},   {"network", required_argument, 0, 'n'},
        {"units", required_argument, 0, 'u'},   {"cancer-share", required_argument, 0, 'c'},
        {"seed", required_argument, 0, 's'},    {"repeats", required_argument, 0, 'r'},
        {"hide-ids", no_argument, 0, 'I'},      {"hide-labels", no_argument, 0, 'L'},
        {0, 0, 0, 0}};
    ndx_survey_init_opts o;
    ndx_survey_init_defaults(&o);
    const char *dirs[MAX_DISSECTIONS];
    long v;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': return init_usage();
        case 'b': o.db = optarg; break;
        case 'd':
            if (o.ndissections == MAX_DISSECTIONS) {
                fprintf(stderr, "netdx survey init: more than %d --dissection folders\n", MAX_DISSECTIONS);
                return EXIT_USAGE;
            }
            dirs[o.ndissections++] = optarg;
            break;
        case 'D': o.data_dir = optarg; break;
        case 'm': o.model = optarg; break;
        case 'n': o.network = optarg; break;
        case 'u':
            if (cli_int("survey init", "units", optarg, 1, 4096, &v)) return EXIT_USAGE;
            o.units = (int)v;
            break;
        case 'c':
            if (cli_double("survey init", "cancer-share", optarg, 0, 1, &o.cancer_share)) return EXIT_USAGE;
            break;
        case 's':
            if (cli_u64("survey init", "seed", optarg, &o.seed)) return EXIT_USAGE;
            break;
        case 'r':
            if (cli_int("survey init", "repeats", optarg, 0, 64, &v)) return EXIT_USAGE;
            o.repeats = (int)v;
            break;
        case 'I': o.hide_ids = 1; break;
        case 'L': o.hide_labels = 1; break;
        default: return EXIT_USAGE;
        }
    }
    if (cli_no_args("survey init", argc, argv, optind)) return EXIT_USAGE;
    if (!o.db || !o.ndissections) {
        fprintf(stderr, "netdx survey init: --db and at least one --dissection are required\n");
        return EXIT_USAGE;
    }
    o.dissections = dirs;
    cli_progress prog = {0};
    o.progress = init_progress, o.progress_ctx = &prog;
    ndx_survey_init_stats st;
    if (ndx_survey_init(&o, &st)) return cli_fail("survey init");
    printf("%s: %d unit sets, %d units (%d repeats, %d picked as cancer units), %ld images (%.1f MB)\n",
           o.db, st.sets, st.units, st.repeats, st.cancer_units, st.images, st.image_bytes / 1e6);
    printf("next: netdx survey reader add --db %s NAME --role radiologist\n", o.db);
    return EXIT_OK;
}

/* ---- readers --------------------------------------------------------------------------- */
static int reader_usage(void)
{
    printf("usage: netdx survey reader add --db survey.sqlite NAME [--role radiologist|physicist|other]\n"
           "                               [--admin] [--url http://127.0.0.1:8080]\n"
           "       netdx survey reader list --db survey.sqlite\n"
           "       netdx survey reader disable --db survey.sqlite NAME\n"
           "add prints the reader's secret link once: only a hash of its token is kept.\n"
           "disable ends the reader's link and sessions at once (answers are kept).\n");
    return EXIT_OK;
}

static int reader_list(const char *db)
{
    ndx_survey_reader_info *r;
    int n;
    if (ndx_survey_reader_list(db, &r, &n)) return cli_fail("survey reader list");
    printf("%-4s %-24s %-12s %-9s %s\n", "id", "name", "role", "answered", "flags");
    for (int i = 0; i < n; i++)
        printf("%-4lld %-24s %-12s %4d/%-4d %s%s%s\n", (long long)r[i].id, r[i].name, r[i].role, r[i].answered,
               r[i].total, r[i].admin ? "admin " : "", r[i].disabled ? "disabled " : "",
               r[i].simulated ? "simulated" : "");
    free(r);
    return EXIT_OK;
}

static int cmd_reader(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},        {"db", required_argument, 0, 'b'},
                                         {"role", required_argument, 0, 'r'},  {"admin", no_argument, 0, 'a'},
                                         {"url", required_argument, 0, 'u'},   {0, 0, 0, 0}};
    const char *db = NULL, *role = "radiologist", *url = "http://127.0.0.1:8080";
    int admin = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') return reader_usage();
        if (c == 'b') db = optarg;
        else if (c == 'r') role = optarg;
        else if (c == 'a') admin = 1;
        else if (c == 'u') url = optarg;
        else return EXIT_USAGE;
    }
    const char *action = optind < argc ? argv[optind] : NULL;
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    const int need = action && !strcmp(action, "list") ? 1 : 2;
    if (!action || !db || argc - optind != need ||
        (strcmp(action, "add") && strcmp(action, "list") && strcmp(action, "disable"))) {
        fprintf(stderr, "netdx survey reader: expected add NAME, list or disable NAME, and --db "
                        "(netdx survey reader --help)\n");
        return EXIT_USAGE;
    }
    if (strcmp(role, "radiologist") && strcmp(role, "physicist") && strcmp(role, "other")) {
        fprintf(stderr, "netdx survey reader: --role %s: radiologist, physicist or other\n", role);
        return EXIT_USAGE;
    }
    if (!strcmp(action, "list")) return reader_list(db);
    if (!strcmp(action, "disable")) {
        if (ndx_survey_reader_disable(db, name)) return cli_fail("survey reader disable");
        printf("reader %s disabled\n", name);
        return EXIT_OK;
    }
    char token[NDX_SURVEY_TOKEN_LEN + 1];
    int64_t id;
    if (ndx_survey_reader_add(db, name, role, admin, token, &id)) return cli_fail("survey reader add");
    printf("reader %lld: %s (%s%s)\n", (long long)id, name, role, admin ? ", admin" : "");
    printf("secret link (shown once; send it to the reader only):\n%s/login?token=%s\n", url, token);
    return EXIT_OK;
}

/* ---- serve ------------------------------------------------------------------------------- */
static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},       {"db", required_argument, 0, 'b'},
                                         {"bind", required_argument, 0, 'a'}, {"port", required_argument, 0, 'p'},
                                         {"shuffle", no_argument, 0, 's'},    {"timeout", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    ndx_survey_server_opts o;
    ndx_survey_server_defaults(&o);
    long v;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: netdx survey serve --db survey.sqlite [--bind 127.0.0.1] [--port 8080]\n"
                   "                          [--shuffle] [--timeout 15]\n"
                   "Serves the survey until interrupted (Ctrl-C).  Binds to loopback unless\n"
                   "told otherwise.  Readers open the link `netdx survey reader add` printed.\n"
                   "  --port P      0..65535 (0: any free port)\n"
                   "  --shuffle     each reader sees the units in an order of their own\n"
                   "  --timeout S   seconds a connection may stay idle, 1..3600\n");
            return EXIT_OK;
        }
        if (c == 'b') o.db = optarg;
        else if (c == 'a') o.bind = optarg;
        else if (c == 's') o.shuffle = 1;
        else if (c == 'p' || c == 't') {
            if (cli_int("survey serve", c == 'p' ? "port" : "timeout", optarg, c == 'p' ? 0 : 1,
                        c == 'p' ? 65535 : 3600, &v))
                return EXIT_USAGE;
            if (c == 'p') o.port = (int)v;
            else o.timeout = (int)v;
        } else {
            return EXIT_USAGE;
        }
    }
    if (cli_no_args("survey serve", argc, argv, optind)) return EXIT_USAGE;
    if (!o.db) {
        fprintf(stderr, "netdx survey serve: --db is required\n");
        return EXIT_USAGE;
    }
    ndx_survey_server *srv;
    if (ndx_survey_server_start(&o, &srv)) return cli_fail("survey serve");
    const int ipv6 = strchr(o.bind, ':') != NULL;
    printf("serving %s at http://%s%s%s:%d/ (Ctrl-C stops)\n", o.db, ipv6 ? "[" : "", o.bind, ipv6 ? "]" : "",
           ndx_survey_server_port(srv));
    fflush(stdout);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop_flag) pause();
    ndx_survey_server_stop(srv);
    fprintf(stderr, "netdx survey serve: stopped\n");
    return EXIT_OK;
}

/* ---- export and simulate --------------------------------------------------------------------- */
static int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"db", required_argument, 0, 'b'},
                                         {"out", required_argument, 0, 'o'}, {"history", no_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *out = NULL;
    int history = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: netdx survey export --db survey.sqlite --out answers.jsonl|answers.csv [--history]\n"
                   "One record per current answer (the latest revision per reader and unit),\n"
                   "or per revision with --history; the fields are in docs/survey.md.\n");
            return EXIT_OK;
        }
        if (c == 'b') db = optarg;
        else if (c == 'o') out = optarg;
        else if (c == 'H') history = 1;
        else return EXIT_USAGE;
    }
    if (cli_no_args("survey export", argc, argv, optind)) return EXIT_USAGE;
    const size_t n = out ? strlen(out) : 0;
    if (!db || !out || !((n > 4 && !strcmp(out + n - 4, ".csv")) || (n > 6 && !strcmp(out + n - 6, ".jsonl")))) {
        fprintf(stderr, "netdx survey export: --db and --out FILE.jsonl or FILE.csv are required\n");
        return EXIT_USAGE;
    }
    long records;
    if (ndx_survey_export(db, out, history, &records)) return cli_fail("survey export");
    printf("%s: %ld %s\n", out, records, history ? "revisions" : "current answers");
    return EXIT_OK;
}

static int cmd_simulate(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"db", required_argument, 0, 'b'},
                                         {"readers", required_argument, 0, 'r'}, {"seed", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    const char *db = NULL;
    long readers = 3;
    uint64_t seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: netdx survey simulate --db survey.sqlite [--readers 3] [--seed S]\n"
                   "Adds simulated readers (sim-1, sim-2, ...; flagged simulated in the store\n"
                   "and in every export line) who answer every unit from the dissection's\n"
                   "ground truth with seeded disagreement.  For demos and tests only.\n");
            return EXIT_OK;
        }
        if (c == 'b') db = optarg;
        else if (c == 'r') {
            if (cli_int("survey simulate", "readers", optarg, 1, 100, &readers)) return EXIT_USAGE;
        } else if (c == 's') {
            if (cli_u64("survey simulate", "seed", optarg, &seed)) return EXIT_USAGE;
        } else {
            return EXIT_USAGE;
        }
    }
    if (cli_no_args("survey simulate", argc, argv, optind)) return EXIT_USAGE;
    if (!db) {
        fprintf(stderr, "netdx survey simulate: --db is required\n");
        return EXIT_USAGE;
    }
    if (ndx_survey_simulate(db, (int)readers, seed)) return cli_fail("survey simulate");
    printf("%s: %ld simulated readers answered every unit\n", db, readers);
    return EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subs[] = {
    {"init", cmd_init, "build a survey from dissection folders"},
    {"reader", cmd_reader, "add | list | disable readers (add prints the secret link)"},
    {"serve", cmd_serve, "the web app for the readers"},
    {"export", cmd_export, "answers.jsonl or answers.csv for netdx report"},
    {"simulate", cmd_simulate, "simulated readers (demo, tests)"},
};

int cmd_survey(int argc, char **argv)
{
    const size_t nsubs = sizeof subs / sizeof subs[0];
    if (argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
        for (size_t i = 0; i < nsubs; i++)
            if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? stdout : stderr;
    if (f == stderr && argc >= 2) fprintf(stderr, "netdx survey: unknown subcommand '%s'\n", argv[1]);
    fprintf(f, "usage: netdx survey <subcommand> [options]\n\n");
    for (size_t i = 0; i < nsubs; i++) fprintf(f, "  %-9s %s\n", subs[i].name, subs[i].summary);
    fprintf(f, "\n`netdx survey <subcommand> --help` describes each one.\n");
    return f == stdout ? EXIT_OK : EXIT_USAGE;
}
