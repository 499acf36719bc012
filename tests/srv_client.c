#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "srv_client.h"

static const char *bin(void)
{
    const char *b = getenv("PDVM_BIN");
    b = (b && *b) ? b : "build/pdvm";
    if (access(b, X_OK) != 0) fail_msg("%s is not an executable: build it or set PDVM_BIN", b);
    return b;
}

/* In a child: die with the test, so that a failed assertion (cmocka
 * longjmps past the clean-up) leaves no server or client behind holding
 * the test runner's output pipe. */
static void child_dies_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Append what fd has (waiting at most timeout_ms) to *buf; returns bytes
 * read, 0 at end of file, -1 on timeout. */
static ssize_t read_more(int fd, char **buf, size_t *len, size_t *cap, int timeout_ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int r = poll(&pf, 1, timeout_ms);
    if (r == 0) return -1;
    if (*cap - *len < 4097) {
        *cap = 2 * *cap + 8192;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
    if (n < 0) return errno == EINTR ? -1 : 0;
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return n;
}

void srv_start_until(srv_proc *p, const char *const *args, const char *line)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    /* Through $PDVM_RUNNER when set (an emulator, for a cross build). */
    const char *argv[64], *runner = getenv("PDVM_RUNNER");
    size_t n = 0;
    if (runner && *runner) argv[n++] = runner;
    argv[n++] = bin();
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    pid_t self = getpid();
    for (size_t i = 0; args[i] && n + 1 < 64; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_dies_with_parent(self);
        dup2(fds[1], 2);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(nul, 1);
        close(fds[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    *p = (srv_proc){.pid = pid, .err_fd = fds[0]};
    char *log = NULL;
    size_t len = 0, cap = 0;
    double end = now_s() + 120;
    while (!log || !strstr(log, line)) {
        ssize_t r = read_more(p->err_fd, &log, &len, &cap, 1000);
        if (r == 0 || now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("pdvm serve did not come up: %s", log ? log : "(no output)");
        }
        const char *at = log ? strstr(log, "http://127.0.0.1:") : NULL;
        if (at && !p->port) p->port = (unsigned)strtoul(at + 17, NULL, 10);
    }
    assert_true(p->port > 0);
    free(log);
}

void srv_start(srv_proc *p, const char *const *args)
{
    srv_start_until(p, args, "model loaded");
}

int srv_stop(srv_proc *p)
{
    kill(p->pid, SIGTERM);
    return srv_wait_exit(p);
}

int srv_wait_exit(srv_proc *p)
{
    char *log = NULL;
    size_t len = 0, cap = 0;
    while (read_more(p->err_fd, &log, &len, &cap, 60000) > 0) {}
    close(p->err_fd);
    int st = 0;
    assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
    p->log = log ? log : strdup("");
    if (strstr(p->log, "Sanitizer") || strstr(p->log, "runtime error:"))
        fail_msg("sanitizer report from pdvm serve:\n%s", p->log);
    free(p->log);
    p->log = NULL;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, n, f), n);
    fclose(f);
}

static char *read_path(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *len = 0;
        return strdup("");
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (size_t r; (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (cap - n < 2) b = realloc(b, cap *= 2);
        assert_non_null(b);
    }
    fclose(f);
    b[n] = '\0';
    *len = n;
    return b;
}

http_call http_start(const srv_proc *p, const char *method, const char *path, const char *body,
                     const char *const *headers)
{
    http_call c = {0};
    snprintf(c.dir, sizeof c.dir, "/tmp/pdvm-http-XXXXXX");
    assert_non_null(mkdtemp(c.dir));
    char url[512], out[96], hdr[96], code[96], data[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", p->port, path);
    snprintf(out, sizeof out, "%s/out", c.dir);
    snprintf(hdr, sizeof hdr, "%s/hdr", c.dir);
    snprintf(code, sizeof code, "%s/code", c.dir);
    snprintf(data, sizeof data, "@%s/body", c.dir);
    if (body) write_file(data + 1, body, strlen(body));
    const char *argv[48] = {"curl", "-sS", "-N", "--max-time", "300", "-X", method,
                            "-o", out, "-D", hdr, "-w", "%{http_code}"};
    size_t n = 13;
    if (body) {
        argv[n++] = "-H";
        argv[n++] = "Content-Type: application/json";
        argv[n++] = "--data-binary";
        argv[n++] = data;
    }
    for (size_t i = 0; headers && headers[i] && n + 3 < 48; i++) {
        argv[n++] = "-H";
        argv[n++] = headers[i];
    }
    argv[n++] = url;
    argv[n] = NULL;
    pid_t self = getpid();
    c.pid = fork();
    assert_true(c.pid >= 0);
    if (c.pid == 0) {
        child_dies_with_parent(self);
        int fd = open(code, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        execvp("curl", (char *const *)argv);
        _exit(127);
    }
    return c;
}

http_res http_wait(http_call *c)
{
    int st = 0;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 127);
    char path[128];
    size_t n;
    http_res r = {0};
    snprintf(path, sizeof path, "%s/code", c->dir);
    char *code = read_path(path, &n);
    r.status = atoi(code);
    free(code);
    unlink(path);
    snprintf(path, sizeof path, "%s/hdr", c->dir);
    r.headers = read_path(path, &n);
    unlink(path);
    snprintf(path, sizeof path, "%s/out", c->dir);
    r.body = read_path(path, &r.len);
    unlink(path);
    snprintf(path, sizeof path, "%s/body", c->dir);
    unlink(path);
    rmdir(c->dir);
    return r;
}

void http_call_kill(http_call *c)
{
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    static const char *const files[] = {"code", "hdr", "out", "body"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", c->dir, files[i]);
        unlink(path);
    }
    rmdir(c->dir);
}

http_res http_req(const srv_proc *p, const char *method, const char *path, const char *body,
                  const char *const *headers)
{
    http_call c = http_start(p, method, path, body, headers);
    return http_wait(&c);
}

void http_res_free(http_res *r)
{
    free(r->headers);
    free(r->body);
    *r = (http_res){0};
}

char *http_header(const http_res *r, const char *name)
{
    size_t nl = strlen(name);
    for (const char *l = r->headers; l && *l;) {
        const char *e = strchr(l, '\n');
        if (!e) e = l + strlen(l);
        if (!strncasecmp(l, name, nl) && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ') v++;
            const char *ve = e;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
            return strndup(v, (size_t)(ve - v));
        }
        l = *e ? e + 1 : e;
    }
    return NULL;
}

http_stream http_stream_start(const srv_proc *p, const char *path, const char *body)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    char url[512];
    pid_t self = getpid();
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", p->port, path);
    http_stream s = {.fd = fds[0]};
    s.pid = fork();
    assert_true(s.pid >= 0);
    if (s.pid == 0) {
        child_dies_with_parent(self);
        dup2(fds[1], 1);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        execlp("curl", "curl", "-sS", "-N", "--max-time", "300", "-H",
               "Content-Type: application/json", "--data-binary", body, url, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    return s;
}

bool http_stream_until(http_stream *s, const char *needle)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    double end = now_s() + 60;
    bool found = false;
    while (!found && now_s() < end) {
        ssize_t r = read_more(s->fd, &buf, &len, &cap, 1000);
        if (r == 0) break;
        found = buf && strstr(buf, needle);
    }
    free(buf);
    return found;
}

void http_stream_kill(http_stream *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    close(s->fd);
}
