/* Shared by the netdx subcommands (tools/cmd_*.c): exit codes, number
 * parsing with range checks, and the progress line. */
#ifndef NDX_CLI_H
#define NDX_CLI_H

#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Parses an integer / a real number in [lo, hi] from option `opt`; on error
 * prints "netdx CMD: --opt: ..." and returns -1 (the caller exits with 2). */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
            long *out);
int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out);
/* After a failed library call: "netdx CMD: <ndx_last_error()>", returns 1. */
int cli_fail(const char *cmd);
/* Rejects leftover arguments; returns 0 when there are none. */
int cli_no_args(const char *cmd, int argc, char **argv, int optind_);

/* A progress line on stderr: a redrawn bar on a terminal, else one plain
 * line every ~10% (or when done).  unit: e.g. "img". */
typedef struct cli_progress {
    const char *what, *unit;
    long total, last_printed;
    double start;
    int tty;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *what, const char *unit, long total);
/* done items so far; extra: a short text such as "loss 0.412" or NULL */
void cli_progress_update(cli_progress *p, long done, const char *extra);
void cli_progress_end(cli_progress *p);

/* MPI (tools/mpi.c).  cli_mpi_start: MPI_Init when an MPI launcher started
 * this process (a netdx without MPI refuses more than one rank: returns the
 * exit code, else 0); cli_mpi_end(code): MPI_Finalize, or MPI_Abort of every
 * rank when code is not 0 and there are several; returns code.
 * cli_mpi_library: "none (...)" or MPI_Get_library_version's first line.
 * cli_mpi_dissect: under several ranks, rank r dissects shard r of P and
 * the states merge on rank 0 (returns an exit code on bad options, else 0).
 * cli_mpi_train: under several ranks, rank r runs part r of every batch and
 * the gradients are summed over the ranks in rank order (same returns). */
struct ndx_dissect_run_opts;
struct ndx_train_opts;
int cli_mpi_start(int *argc, char ***argv);
int cli_mpi_end(int code);
const char *cli_mpi_library(char *buf, size_t n);
int cli_mpi_dissect(struct ndx_dissect_run_opts *o);
int cli_mpi_train(struct ndx_train_opts *o);
/* Under mpirun, rank 0: how the gradients were summed (a line). */
void cli_mpi_train_summary(void);
int cli_mpi_rank(void);
int cli_mpi_size(void);

/* Subcommands: int cmd_NAME(int argc, char **argv), argv[0] = "NAME". */
int cmd_info(int argc, char **argv);
int cmd_infer(int argc, char **argv);
/* netdx info --model M: the model's nodes and output shapes (tools/cmd_infer.c). */
int cli_model_info(const char *model, int input_size);
int cmd_synth(int argc, char **argv);
int cmd_import_cbis(int argc, char **argv);
int cmd_import_ddsm(int argc, char **argv);       /* tools/cmd_import.c */
int cmd_import_inbreast(int argc, char **argv);   /* tools/cmd_import.c */
int cmd_import_vindr(int argc, char **argv);
int cmd_patches(int argc, char **argv);
int cmd_train(int argc, char **argv);   /* tools/cmd_train.c */
int cmd_eval(int argc, char **argv);
int cmd_dissect(int argc, char **argv);
int cmd_rank(int argc, char **argv);     /* tools/cmd_rank.c */
int cmd_survey(int argc, char **argv);   /* tools/cmd_survey.c */
int cmd_report(int argc, char **argv);   /* tools/cmd_report.c */
int cmd_explain(int argc, char **argv);  /* tools/cmd_explain.c */
int cmd_bench(int argc, char **argv);    /* tools/cmd_bench.c */

#endif
