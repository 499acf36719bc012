/* `pdvm serve` as a client sees it: the server started from $PDVM_BIN
 * (default build/pdvm) on a free loopback port, and requests made with
 * curl, a real HTTP client. Test helper (linked into every test binary);
 * include after <cmocka.h>. */
#ifndef PDVM_TEST_SRV_CLIENT_H
#define PDVM_TEST_SRV_CLIENT_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct srv_proc {
    pid_t pid;
    unsigned port;
    int err_fd;  /* the server's stderr (a pipe) */
    char *log;   /* its stderr, once stopped */
} srv_proc;

/* Start `pdvm serve --port 0 args...` and return once it has printed that
 * the model is loaded (fails the test if it exits first or takes over
 * 120 s). args: NULL-terminated. */
void srv_start(srv_proc *p, const char *const *args);
/* The same, returning once stderr holds `line`. */
void srv_start_until(srv_proc *p, const char *const *args, const char *line);
/* SIGTERM, wait for the exit and collect the log; returns the exit code
 * (-1 when killed by a signal). Fails the test on a sanitizer report. */
int srv_stop(srv_proc *p);
/* Wait for the server to exit on its own; the same checks and result. */
int srv_wait_exit(srv_proc *p);

typedef struct http_res {
    int status;      /* 0: no response (curl failed) */
    char *headers;   /* the response's header block */
    char *body;
    size_t len;
} http_res;

/* A request started in the background; http_wait collects it. */
typedef struct http_call {
    pid_t pid;
    char dir[64];    /* temporary directory of the call's files */
} http_call;

/* method, path ("/v1/..."), body (NULL: none), extra header lines
 * ("Name: value", NULL-terminated, or NULL). */
http_call http_start(const srv_proc *p, const char *method, const char *path, const char *body,
                     const char *const *headers);
http_res http_wait(http_call *c);
/* The client goes away before its answer: kill curl (its socket closes),
 * reap it, remove its files. */
void http_call_kill(http_call *c);
http_res http_req(const srv_proc *p, const char *method, const char *path, const char *body,
                  const char *const *headers);
void http_res_free(http_res *r);
/* The value of a response header (case-insensitive name), malloc'd; NULL
 * when absent. */
char *http_header(const http_res *r, const char *name);

/* A streaming request read as it arrives: curl writing to a pipe. */
typedef struct http_stream {
    pid_t pid;
    int fd;
} http_stream;

http_stream http_stream_start(const srv_proc *p, const char *path, const char *body);
/* Read until the text so far contains needle; false on end of stream or
 * after 60 s. */
bool http_stream_until(http_stream *s, const char *needle);
/* The client goes away: kill curl (its socket closes), reap it. */
void http_stream_kill(http_stream *s);

#endif
