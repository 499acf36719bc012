/* Running the `pdvm` tool from a test as a user would: fork/exec of
 * $PDVM_BIN (default build/pdvm), through $PDVM_RUNNER when set (an
 * emulator such as qemu-aarch64-static), with both streams captured or
 * stdout wired to something hostile. Test helper (linked into every test
 * binary); include after <cmocka.h>. */
#ifndef PDVM_TEST_CLI_UTIL_H
#define PDVM_TEST_CLI_UTIL_H

#include <stdbool.h>

typedef enum cli_stdout {
    CLI_STDOUT_CAPTURE = 0, /* into a temporary file, returned as out */
    CLI_STDOUT_CLOSED,      /* fd 1 closed (`>&-`) */
    CLI_STDOUT_FULL,        /* /dev/full */
    CLI_STDOUT_BROKEN_PIPE, /* a pipe whose reader is gone, SIGPIPE ignored */
} cli_stdout;

typedef struct cli_opts {
    const char *const *env; /* "NAME=value" to set, or "NAME" to unset; NULL-terminated */
    cli_stdout out_mode;
    const char *stdin_path; /* NULL: /dev/null */
    unsigned timeout_s;     /* 0: 600; the child is killed by SIGALRM after it */
} cli_opts;

typedef struct cli_result {
    int code;        /* exit status; -1 when killed by a signal */
    int signal;
    char *out, *err; /* NUL-terminated, malloc'd */
    long maxrss_kib; /* the child's peak resident set (wait4's ru_maxrss) */
} cli_result;

/* Run pdvm with args (NULL-terminated); opts may be NULL. */
cli_result cli_run(const char *const *args, const cli_opts *opts);
void cli_result_free(cli_result *r);
size_t cli_count_lines(const char *s);
/* Exit `code`, nothing on stdout, exactly one line on stderr containing
 * needle (when not NULL). */
void cli_expect_one_line_error(const char *const *args, const cli_opts *opts, int code,
                               const char *needle);

#endif
