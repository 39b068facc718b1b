/* Helpers of the netdx subcommands: numbers, errors, progress. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "netdx.h"

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
            long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "netdx %s: --%s: '%s' is not an integer in %ld..%ld\n",
                cmd, opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') {
        fprintf(stderr, "netdx %s: --%s: '%s' is not an unsigned 64-bit integer\n",
                cmd, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "netdx %s: --%s: '%s' is not a number in %g..%g\n", cmd,
                opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_fail(const char *cmd)
{
    fprintf(stderr, "netdx %s: %s\n", cmd, ndx_last_error());
    return EXIT_FAILED;
}

int cli_no_args(const char *cmd, int argc, char **argv, int optind_)
{
    if (optind_ < argc) {
        fprintf(stderr, "netdx %s: unexpected argument '%s'\n", cmd, argv[optind_]);
        return -1;
    }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *what, const char *unit, long total)
{
    *p = (cli_progress){what, unit, total, -1, now(), isatty(STDERR_FILENO)};
}

void cli_progress_update(cli_progress *p, long done, const char *extra)
{
    double el = now() - p->start, rate = el > 0 ? done / el : 0;
    double eta = rate > 0 && p->total > done ? (p->total - done) / rate : 0;
    if (p->tty) {
        int width = 30, fill = p->total > 0 ? (int)(width * done / p->total) : 0;
        char bar[31];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r%s [%s] %ld/%ld %.1f %s/s ETA %.0fs %s\033[K", p->what,
                bar, done, p->total, rate, p->unit, eta, extra ? extra : "");
        p->last_printed = done;
    } else {
        long step = p->total >= 10 ? p->total / 10 : 1;
        if (p->last_printed >= 0 && done < p->total && done - p->last_printed < step) return;
        fprintf(stderr, "%s: %ld/%ld %.1f %s/s ETA %.0fs %s\n", p->what, done,
                p->total, rate, p->unit, eta, extra ? extra : "");
        p->last_printed = done;
    }
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty) fputc('\n', stderr);
}
