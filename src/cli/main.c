/* pdvm: the command-line tool. Dispatches to a subcommand and owns the
 * process-wide rules: standard output must be writable, and a write that
 * failed anywhere turns the exit code into 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    {"perplexity", pdvm_cli_perplexity, "perplexity of a text, as llama-perplexity"},
    {"serve", pdvm_cli_serve, "serve the OpenAI API over HTTP"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pdvm <command> [options]   (pdvm <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-9s %s\n", subcommands[i].name, subcommands[i].summary);
}

/* A closed fd 1 or 2 would be handed to the next file opened (a model, a
 * shader-cache entry), which printf would then write into. stderr gets
 * /dev/null; a closed stdout is an error before any work. */
static bool std_fds_ok(void)
{
    if (fcntl(2, F_GETFD) < 0 && errno == EBADF) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0 && fd != 2) close(fd);
    }
    if (fcntl(1, F_GETFD) < 0 && errno == EBADF) {
        fprintf(stderr, "pdvm: standard output is closed\n");
        return false;
    }
    return true;
}

/* Buffered output that never reached the file (a full disk) shows only at
 * the close. */
static int close_stdout(int rc)
{
    errno = 0;
    if (fclose(stdout) == 0) return rc;
    fprintf(stderr, "pdvm: writing to standard output: %s\n", errno ? strerror(errno) : "failed");
    return rc == PDVM_EXIT_OK ? PDVM_EXIT_FAIL : rc;
}

int main(int argc, char **argv)
{
    if (!std_fds_ok()) return PDVM_EXIT_FAIL;
    if (argc < 2) {
        usage(stderr);
        return PDVM_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return close_stdout(PDVM_EXIT_OK);
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return close_stdout(subcommands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "pdvm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return PDVM_EXIT_USAGE;
}
