#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"

static const char *pdvm_bin(void)
{
    const char *b = getenv("PDVM_BIN");
    b = (b && *b) ? b : "build/pdvm";
    if (access(b, X_OK) != 0) fail_msg("%s is not an executable: build it or set PDVM_BIN", b);
    return b;
}

static char *slurp_fd(int fd)
{
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    lseek(fd, 0, SEEK_SET);
    for (ssize_t r; (r = read(fd, buf + n, cap - n - 1)) > 0;) {
        n += (size_t)r;
        if (cap - n < 2) buf = realloc(buf, cap *= 2);
        assert_non_null(buf);
    }
    buf[n] = '\0';
    close(fd);
    return buf;
}

static int temp_fd(void)
{
    char name[] = "/tmp/pdvm-cli-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    unlink(name);
    return fd;
}

/* argv: [runner,] bin, args..., NULL. */
static void build_argv(const char *const *args, char **argv, size_t cap)
{
    size_t n = 0;
    const char *runner = getenv("PDVM_RUNNER");
    if (runner && *runner) argv[n++] = (char *)runner;
    argv[n++] = (char *)pdvm_bin();
    for (size_t i = 0; args[i] && n + 1 < cap; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
}

static void child_stdout(cli_stdout mode, int capture, int pipe_w)
{
    switch (mode) {
    case CLI_STDOUT_CAPTURE: dup2(capture, 1); break;
    case CLI_STDOUT_CLOSED: close(1); break;
    case CLI_STDOUT_FULL: {
        int fd = open("/dev/full", O_WRONLY);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        close(fd);
        break;
    }
    case CLI_STDOUT_BROKEN_PIPE:
        signal(SIGPIPE, SIG_IGN); /* inherited through exec */
        dup2(pipe_w, 1);
        break;
    }
}

static void child_env(const char *const *env)
{
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq) {
            unsetenv(env[i]);
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        setenv(name, eq + 1, 1);
    }
}

cli_result cli_run(const char *const *args, const cli_opts *opts)
{
    cli_opts o = opts ? *opts : (cli_opts){0};
    char *argv[48];
    build_argv(args, argv, sizeof argv / sizeof argv[0]);
    int out = temp_fd(), err = temp_fd(), p[2] = {-1, -1};
    if (o.out_mode == CLI_STDOUT_BROKEN_PIPE) {
        assert_int_equal(pipe(p), 0);
        close(p[0]); /* the reader is gone before the first write */
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open(o.stdin_path ? o.stdin_path : "/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        dup2(err, 2);
        child_stdout(o.out_mode, out, p[1]);
        child_env(o.env);
        alarm(o.timeout_s ? o.timeout_s : 600); /* survives exec: a hang becomes SIGALRM */
        execv(argv[0], argv);
        _exit(127);
    }
    if (p[1] >= 0) close(p[1]);
    int status = 0;
    struct rusage ru = {0};
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    cli_result r = {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0, slurp_fd(out), slurp_fd(err),
                    ru.ru_maxrss};
    return r;
}

void cli_result_free(cli_result *r)
{
    free(r->out);
    free(r->err);
}

size_t cli_count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

void cli_expect_one_line_error(const char *const *args, const cli_opts *opts, int code,
                               const char *needle)
{
    cli_result r = cli_run(args, opts);
    if (r.code != code)
        fail_msg("%s %s: exit %d, signal %d (want exit %d), stderr: %s", args[0],
                 args[1] ? args[1] : "", r.code, r.signal, code, r.err);
    assert_string_equal(r.out, "");
    if (cli_count_lines(r.err) != 1 || r.err[strlen(r.err) - 1] != '\n')
        fail_msg("want one line on stderr, got: '%s'", r.err);
    if (needle && !strstr(r.err, needle)) fail_msg("stderr lacks '%s': %s", needle, r.err);
    cli_result_free(&r);
}
