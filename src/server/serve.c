/* `pdvm serve`: an OpenAI-compatible HTTP server, flags as llama-server
 * spells them. The HTTP listener is up before the model has loaded
 * (/health answers 503 until it has); SIGINT or SIGTERM stop it: no new
 * connections, running requests end with an error, then the sessions are
 * freed on the engine thread. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../cli/args.h"
#include "../cli/cli.h"
#include "srv.h"

typedef struct serve_opts {
    srv_config cfg;
    srv_engine_params ep;
    const char *backend, *platform;
    uint32_t n_ctx, port, max_body;
    bool unfused, mmap, no_mmap, mlock, check_tensors;
} serve_opts;

static const char SYNOPSIS[] = "-m MODEL [--host H] [--port P] [-c N] [-np N] [options]";

static int parse_opts(int argc, char **argv, serve_opts *o)
{
    *o = (serve_opts){.cfg = {.host = "127.0.0.1", .timeout_s = 600},
                      .ep = {.n_slots = 4, .max_queue = 64, .n_batch = 512},
                      .backend = "gpu", .port = 8080, .max_body = 1u << 20};
    const pdvm_arg args[] = {
        {"-m", "--model", PDVM_ARG_STR, &o->ep.model_path, 0, 0, "PATH", "GGUF model file"},
        {NULL, "--host", PDVM_ARG_STR, &o->cfg.host, 0, 0, "ADDR",
         "address to listen on (default 127.0.0.1)"},
        {NULL, "--port", PDVM_ARG_U32, &o->port, 0, 65535, "P",
         "port (default 8080; 0: any free port, printed at start)"},
        {"-c", "--ctx-size", PDVM_ARG_U32, &o->n_ctx, 0, 1 << 20, "N",
         "context of each slot (default 0: min(trained, 4096))"},
        {"-np", "--parallel", PDVM_ARG_U32, &o->ep.n_slots, 1, 256, "N",
         "parallel slots: sequences of one session (default 4, llama-server's auto)"},
        {NULL, "--max-queue", PDVM_ARG_U32, &o->ep.max_queue, 0, 1 << 16, "N",
         "requests that may wait for a slot; beyond, 503 (default 64)"},
        {"-b", "--batch-size", PDVM_ARG_U32, &o->ep.n_batch, 1, 1 << 16, "N",
         "prompt tokens a slot feeds per step (default 512)"},
        {NULL, "--api-key", PDVM_ARG_STR, &o->cfg.api_key, 0, 0, "KEY",
         "require 'Authorization: Bearer KEY' (all but /health)"},
        {NULL, "--chat-template", PDVM_ARG_STR, &o->cfg.chat_template, 0, 0, "NAME",
         "llama.cpp template name instead of the model's (chatml, llama3, ...)"},
        {"-a", "--alias", PDVM_ARG_STR, &o->cfg.alias, 0, 0, "NAME",
         "model id in responses (default: the file name)"},
        {NULL, "--threads-http", PDVM_ARG_U32, &o->cfg.n_threads, 1, 256, "N",
         "threads polling the HTTP connections (default 4; none blocks on a generation)"},
        {"-to", "--timeout", PDVM_ARG_U32, &o->cfg.timeout_s, 0, 1 << 20, "S",
         "close connections idle for S seconds (default 600; 0: never)"},
        {NULL, "--max-body", PDVM_ARG_U32, &o->max_body, 1, 1u << 30, "BYTES",
         "largest request body (default 1048576)"},
        {NULL, "--backend", PDVM_ARG_STR, &o->backend, 0, 0, "gpu|cpu", "engine (default gpu)"},
        {NULL, "--unfused", PDVM_ARG_FLAG, &o->unfused, 0, 0, NULL,
         "GPU: one operation per dispatch"},
        {NULL, "--platform", PDVM_ARG_STR, &o->platform, 0, 0, "P",
         "GPU: EGL platform gbm|device|surfaceless"},
        {NULL, "--check-tensors", PDVM_ARG_FLAG, &o->check_tensors, 0, 0, NULL,
         "check every tensor for NaN/Inf at load"},
        {NULL, "--no-mmap", PDVM_ARG_FLAG, &o->no_mmap, 0, 0, NULL,
         "read the model file instead of mapping it"},
        {NULL, "--mlock", PDVM_ARG_FLAG, &o->mlock, 0, 0, NULL,
         "keep the whole file locked in RAM"},
        {"-v", "--verbose", PDVM_ARG_FLAG, &o->cfg.verbose, 0, 0, NULL,
         "log refused requests and HTTP errors"},
    };
    size_t n_args = sizeof args / sizeof args[0];
    int r = pdvm_args_parse("serve", args, n_args, argc, argv);
    if (r == PDVM_ARGS_HELP) {
        pdvm_args_usage(stdout, "serve", SYNOPSIS, args, n_args);
        return PDVM_EXIT_OK;
    }
    if (r != PDVM_ARGS_OK) return PDVM_EXIT_USAGE;
    if (!o->ep.model_path) {
        fprintf(stderr, "pdvm serve: -m MODEL is required (see pdvm serve --help)\n");
        return PDVM_EXIT_USAGE;
    }
    if (strcmp(o->backend, "gpu") != 0 && strcmp(o->backend, "cpu") != 0) {
        fprintf(stderr, "pdvm serve: --backend must be gpu or cpu, got '%s'\n", o->backend);
        return PDVM_EXIT_USAGE;
    }
    if (o->cfg.api_key && !o->cfg.api_key[0]) {
        fprintf(stderr, "pdvm serve: --api-key is empty\n");
        return PDVM_EXIT_USAGE;
    }
    size_t len = 0;
    if (o->cfg.chat_template &&
        pdvm_chat_apply_template(o->cfg.chat_template, NULL, 0, true, NULL, 0, &len) ==
            PDVM_ERR_UNSUPPORTED) {
        fprintf(stderr, "pdvm serve: --chat-template: %s\n", pdvm_last_error());
        return PDVM_EXIT_USAGE;
    }
    return -1;
}

static void fill_params(serve_opts *o)
{
    o->cfg.port = (uint16_t)o->port;
    o->cfg.max_body = o->max_body;
    o->cfg.max_conn = o->ep.n_slots + o->ep.max_queue + 64;
    o->ep.mp = pdvm_model_default_params();
    o->ep.mp.check_tensors = o->check_tensors;
    o->ep.mp.use_mmap = !o->no_mmap;
    o->ep.mp.use_mlock = o->mlock;
    o->ep.sp = pdvm_session_default_params();
    o->ep.sp.n_ctx = o->n_ctx;
    o->ep.sp.backend = strcmp(o->backend, "cpu") == 0 ? PDVM_BACKEND_CPU : PDVM_BACKEND_GPU;
    o->ep.sp.unfused = o->unfused;
    o->ep.sp.platform = o->platform;
    o->ep.verbose = o->cfg.verbose;
}

/* The model id clients see: --alias, else the file name (as llama-server). */
static void set_model_id(srv *s, const serve_opts *o)
{
    const char *id = o->cfg.alias;
    if (!id) {
        id = strrchr(o->ep.model_path, '/');
        id = id ? id + 1 : o->ep.model_path;
    }
    snprintf(s->model_id, sizeof s->model_id, "%s", id);
}

/* Wait for the model to load and then for SIGINT/SIGTERM. Returns the
 * exit code. */
static int wait_for_end(srv *s, int sig_fd, int load_fd)
{
    bool loaded = false;
    for (;;) {
        struct pollfd p[2] = {{.fd = sig_fd, .events = POLLIN}, {.fd = load_fd, .events = POLLIN}};
        if (poll(p, loaded ? 1 : 2, -1) < 0 && errno != EINTR) return PDVM_EXIT_FAIL;
        if (p[0].revents & POLLIN) {
            fprintf(stderr, "pdvm serve: stopping\n");
            return PDVM_EXIT_OK;
        }
        if (loaded || !(p[1].revents & POLLIN)) continue;
        loaded = true;
        if (srv_engine_state(s->engine) == SRV_FAILED) {
            const char *msg;
            pdvm_status st = srv_engine_load_error(s->engine, &msg);
            fprintf(stderr, "pdvm serve: %s\n", msg);
            return pdvm_cli_exit_code(st);
        }
        fprintf(stderr, "pdvm serve: model loaded, serving %s on http://%s:%u\n", s->model_id,
                s->cfg.host, (unsigned)s->port);
    }
}

static int serve(serve_opts *o, int sig_fd, int load_fd)
{
    srv *s = calloc(1, sizeof *s);
    if (!s) return fprintf(stderr, "pdvm serve: out of memory\n"), PDVM_EXIT_FAIL;
    s->cfg = o->cfg;
    s->created = (int64_t)time(NULL);
    s->listen_fd = -1;
    set_model_id(s, o);
    srv_metrics_init(&s->metrics, o->ep.n_slots);
    o->ep.notify_fd = load_fd;
    char err[256];
    int rc = PDVM_EXIT_OK;
    /* The listener first, so that /health can say "loading". */
    if (srv_engine_new(&o->ep, &s->metrics, &s->engine) != PDVM_OK) {
        fprintf(stderr, "pdvm serve: out of memory\n");
        rc = PDVM_EXIT_FAIL;
    } else if (!srv_http_start(s, err, sizeof err)) {
        fprintf(stderr, "pdvm serve: %s\n", err);
        rc = PDVM_EXIT_USAGE;
    } else if (srv_engine_run(s->engine) != PDVM_OK) {
        fprintf(stderr, "pdvm serve: cannot start the engine thread\n");
        rc = PDVM_EXIT_FAIL;
    } else {
        fprintf(stderr, "pdvm serve: listening on http://%s:%u, loading %s\n", s->cfg.host,
                (unsigned)s->port, o->ep.model_path);
        rc = wait_for_end(s, sig_fd, load_fd);
    }
    srv_http_quiesce(s);
    srv_engine_shutdown(s->engine); /* running requests end, their threads return */
    srv_http_stop(s);
    srv_engine_free(s->engine);
    free(s);
    return rc;
}

int pdvm_cli_serve(int argc, char **argv)
{
    serve_opts o;
    int r = parse_opts(argc, argv, &o);
    if (r >= 0) return r;
    fill_params(&o);
    /* SIGINT/SIGTERM arrive through a signalfd, in every thread blocked;
     * writes to a closed connection fail with EPIPE instead of killing. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
    int load_fd = eventfd(0, EFD_CLOEXEC);
    if (sig_fd < 0 || load_fd < 0) {
        fprintf(stderr, "pdvm serve: signalfd/eventfd: %s\n", strerror(errno));
        r = PDVM_EXIT_FAIL;
    } else {
        r = serve(&o, sig_fd, load_fd);
    }
    if (sig_fd >= 0) close(sig_fd);
    if (load_fd >= 0) close(load_fd);
    return r;
}
