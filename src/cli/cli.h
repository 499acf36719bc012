/* Subcommands of the `pdvm` tool and what they share. Each takes argv
 * starting at the subcommand name and returns the process exit code
 * (PDVM_EXIT_*). The CLI is a client of the public API: it includes pdvm.h
 * and, for `pdvm bench` only, src/bench/pdvm_bench.h. */
#ifndef PDVM_CLI_H
#define PDVM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

enum { PDVM_EXIT_OK = 0, PDVM_EXIT_FAIL = 1, PDVM_EXIT_USAGE = 2, PDVM_EXIT_MODEL = 3,
       PDVM_EXIT_PLATFORM = 4 };

int pdvm_cli_info(int argc, char **argv);     /* src/cli/info.c */
int pdvm_cli_inspect(int argc, char **argv);  /* src/cli/inspect.c */
int pdvm_cli_run(int argc, char **argv);      /* src/cli/run.c */
int pdvm_cli_tokenize(int argc, char **argv); /* src/cli/tokenize.c */
int pdvm_cli_bench(int argc, char **argv);    /* src/cli/bench.c */
int pdvm_cli_perplexity(int argc, char **argv); /* src/cli/perplexity.c */
int pdvm_cli_serve(int argc, char **argv);    /* src/server/serve.c */

/* Exit code for a library status (model errors -> 3, platform -> 4, ...). */
int pdvm_cli_exit_code(pdvm_status st);

/* "pdvm <cmd>: <last error>" on stderr; returns the status's exit code. */
int pdvm_cli_fail(const char *cmd, pdvm_status st);

/* Write n bytes to stdout and flush: false (with the error on stderr as
 * "pdvm <cmd>: writing to standard output: ...") when the write failed
 * (closed stdout, a full disk, a reader gone with SIGPIPE ignored). */
bool pdvm_cli_write(const char *cmd, const void *p, size_t n);

/* A whole file (any bytes, a FIFO or stdin stream too) into a malloc'd,
 * NUL-terminated buffer of *len bytes; path "-" is stdin. NULL with
 * "pdvm <cmd>: <path>: <why>" on stderr. */
char *pdvm_cli_read_file(const char *cmd, const char *path, size_t *len);

/* A session-creation progress callback for pdvm_session_params.progress:
 * prints "pdvm <cmd>: <stage> k/n" on stderr (one updating line) once a
 * stage has taken more than a second. user: a pdvm_cli_progress. */
typedef struct pdvm_cli_progress {
    const char *cmd;
    char stage[32];
    double t_start, t_last;
    bool shown;
} pdvm_cli_progress;
void pdvm_cli_progress_cb(const char *stage, uint64_t done, uint64_t total, void *user);

/* Peak resident set of this process in MiB (getrusage ru_maxrss), and a
 * reset of that peak to the current resident set, so that a later read
 * covers only what came after (false where /proc/self/clear_refs cannot be
 * written: the peak then stays the whole process's). src/cli/rss.c. */
double pdvm_cli_peak_rss_mib(void);
bool pdvm_cli_peak_rss_reset(void);

/* CLOCK_MONOTONIC in seconds. */
double pdvm_cli_now_s(void);

#endif
