/* Subcommands of the `pdvm` tool. Each takes argv starting at the
 * subcommand name and returns the process exit code:
 * 0 ok, 1 runtime failure, 2 usage, 3 model file, 4 no GPU platform. */
#ifndef PDVM_CLI_H
#define PDVM_CLI_H

#include "pdvm.h"

enum { PDVM_EXIT_OK = 0, PDVM_EXIT_FAIL = 1, PDVM_EXIT_USAGE = 2, PDVM_EXIT_MODEL = 3,
       PDVM_EXIT_PLATFORM = 4 };

int pdvm_cli_info(int argc, char **argv);     /* src/cli/info.c */
int pdvm_cli_inspect(int argc, char **argv);  /* src/cli/inspect.c */
int pdvm_cli_run(int argc, char **argv);      /* src/cli/run.c */
int pdvm_cli_tokenize(int argc, char **argv); /* src/cli/tokenize.c */
int pdvm_cli_bench(int argc, char **argv);    /* src/cli/bench.c */

/* Exit code for a library status (model errors -> 3, platform -> 4, ...). */
int pdvm_cli_exit_code(pdvm_status st);

#endif
