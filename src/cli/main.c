#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"run", pdvm_cli_run, "generate text from a prompt"},
    {"tokenize", pdvm_cli_tokenize, "print the token ids of a text"},
    {"inspect", pdvm_cli_inspect, "dump a GGUF file's metadata and tensors"},
    {"info", pdvm_cli_info, "show the EGL platform, GL device and its limits"},
    {"bench", pdvm_cli_bench, "measure prefill and decode throughput"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pdvm <command> [options]   (pdvm <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-9s %s\n", subcommands[i].name, subcommands[i].summary);
}

int pdvm_cli_exit_code(pdvm_status st)
{
    switch (st) {
    case PDVM_OK: return PDVM_EXIT_OK;
    case PDVM_ERR_INVALID_ARG: return PDVM_EXIT_USAGE;
    case PDVM_ERR_IO:
    case PDVM_ERR_FORMAT:
    case PDVM_ERR_UNSUPPORTED: return PDVM_EXIT_MODEL;
    case PDVM_ERR_NO_PLATFORM: return PDVM_EXIT_PLATFORM;
    default: return PDVM_EXIT_FAIL;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PDVM_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return PDVM_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name)) return subcommands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pdvm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return PDVM_EXIT_USAGE;
}
