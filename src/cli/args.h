/* Table-driven option parsing for every subcommand: each option names its
 * short and long spelling (llama-cli's), its kind, where the value goes
 * and its allowed range; positional arguments are entries of kind
 * PDVM_ARG_POS, filled in order. Errors are one line on stderr. */
#ifndef PDVM_CLI_ARGS_H
#define PDVM_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum pdvm_arg_kind {
    PDVM_ARG_FLAG,   /* bool, no value */
    PDVM_ARG_STR,    /* const char * */
    PDVM_ARG_I32,    /* int32_t within [min, max] */
    PDVM_ARG_U32,    /* uint32_t within [min, max] */
    PDVM_ARG_F32,    /* finite float within [min, max] */
    PDVM_ARG_SEED,   /* uint64_t; -1 means the default seed 0xFFFFFFFF */
    PDVM_ARG_POS,    /* const char *, the next argument not starting with '-'
                      * (long_name names it in the usage: "FILE") */
} pdvm_arg_kind;

typedef struct pdvm_arg {
    const char *short_name; /* "-m" or NULL */
    const char *long_name;  /* "--model" */
    pdvm_arg_kind kind;
    void *dst;
    double min, max;        /* numeric kinds */
    const char *metavar;    /* "N", "PATH" (NULL for flags) */
    const char *help;
} pdvm_arg;

enum { PDVM_ARGS_OK = 0, PDVM_ARGS_HELP = 1, PDVM_ARGS_ERROR = -1 };

/* Parse argv[1..argc) (argv[0] is the subcommand name). Returns
 * PDVM_ARGS_HELP for -h/--help, PDVM_ARGS_ERROR after printing
 * "pdvm <cmd>: <what>" on stderr. */
int pdvm_args_parse(const char *cmd, const pdvm_arg *args, size_t n_args, int argc, char **argv);

void pdvm_args_usage(FILE *f, const char *cmd, const char *synopsis, const pdvm_arg *args,
                     size_t n_args);

#endif
