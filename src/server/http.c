/* The HTTP layer: libmicrohttpd with a fixed pool of threads polling the
 * connections (--threads-http). No callback blocks: a request waiting for
 * its generation, whole or streamed, suspends its connection and the
 * waiter (waiter.h) resumes it. A thread per connection would make the
 * server's threads, and their stacks and per-thread allocator state, come
 * and go with the clients. Here: the body with its size limit, the API
 * key, the routing; the endpoints are in api_*.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "srv.h"

typedef enum MHD_Result (*srv_handler)(srv_req *r);

static const struct route {
    const char *path, *method;
    srv_handler fn;
} ROUTES[] = {
    {"/v1/chat/completions", "POST", srv_api_chat},
    {"/chat/completions", "POST", srv_api_chat},
    {"/v1/completions", "POST", srv_api_completions},
    {"/completions", "POST", srv_api_completions},
    {"/v1/models", "GET", srv_api_models},
    {"/models", "GET", srv_api_models},
    {"/health", "GET", srv_api_health},
    {"/v1/health", "GET", srv_api_health},
    {"/metrics", "GET", srv_api_metrics},
    {"/tokenize", "POST", srv_api_tokenize},
    {"/detokenize", "POST", srv_api_detokenize},
};

static enum MHD_Result route(srv_req *r, const char *url, const char *method)
{
    const struct route *path_match = NULL;
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        if (strcmp(url, ROUTES[i].path) != 0) continue;
        path_match = &ROUTES[i];
        if (!strcmp(method, ROUTES[i].method)) return ROUTES[i].fn(r);
    }
    if (path_match)
        return srv_reply_errorf(r, 405, "invalid_request_error", "%s takes %s, not %s", url,
                                path_match->method, method);
    return srv_reply_errorf(r, 404, "not_found_error", "no endpoint %s", url);
}

json_object *srv_req_json(srv_req *r, enum MHD_Result *res)
{
    srv_err e;
    json_object *o = srv_json_parse(r->body ? r->body : "", r->len, &e);
    if (!o) *res = srv_reply_error(r, &e);
    return o;
}

bool srv_req_ready(srv_req *r, enum MHD_Result *res)
{
    switch (srv_engine_state(r->s->engine)) {
    case SRV_READY: return true;
    case SRV_LOADING:
        *res = srv_reply_errorf(r, 503, "unavailable_error", "Loading model");
        return false;
    case SRV_FAILED:
        *res = srv_reply_errorf(r, 500, "server_error", "the model failed to load");
        return false;
    default:
        *res = srv_reply_errorf(r, 503, "unavailable_error", "the server is shutting down");
        return false;
    }
}

static bool public_endpoint(srv_endpoint ep)
{
    return ep == SRV_EP_HEALTH; /* as llama-server: load balancers probe it without a key */
}

/* The first call for a request: headers only. Refuse early what needs no
 * body: a missing key, a declared body over the limit. */
static enum MHD_Result on_headers(srv *s, struct MHD_Connection *c, const char *url,
                                  srv_req **out)
{
    srv_req *r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    *r = (srv_req){.s = s, .conn = c, .ep = srv_endpoint_of(url)};
    *out = r;
    if (s->cfg.api_key && !public_endpoint(r->ep)) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        if (!srv_auth_ok(auth, s->cfg.api_key))
            return srv_reply_errorf(r, 401, "authentication_error", "Invalid API Key");
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body)
        return srv_reply_errorf(r, 413, "invalid_request_error",
                                "the body has %s bytes; the limit is %zu (--max-body)", cl,
                                s->cfg.max_body);
    return MHD_YES;
}

static void take_body(srv_req *r, const char *data, size_t n)
{
    if (r->too_big || r->len + n > r->s->cfg.max_body) {
        r->too_big = true;
        return;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = (r->len + n + 1) * 2;
        if (cap > r->s->cfg.max_body + 1) cap = r->s->cfg.max_body + 1;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->too_big = true;
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    srv_req *r = *con_cls;
    if (!r) return on_headers(cls, c, url, (srv_req **)con_cls);
    if (r->job) return srv_api_gen_resume(r);
    if (*upload_size) {
        if (!r->answered) take_body(r, upload, *upload_size);
        *upload_size = 0; /* after an early answer the rest is read and dropped */
        return MHD_YES;
    }
    if (r->answered) return MHD_YES;
    if (r->too_big)
        return srv_reply_errorf(r, 413, "invalid_request_error",
                                "the body is over the limit of %zu bytes (--max-body)",
                                r->s->cfg.max_body);
    return route(r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    srv_req *r = *con_cls;
    if (!r) return;
    if (r->job) { /* closed before the answer (a timeout, the daemon stopping) */
        srv_engine_cancel(r->s->engine, r->job);
        srv_job_unref(r->job);
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    srv *s = cls;
    if (!s->cfg.verbose) return;
    fprintf(stderr, "pdvm serve: http: ");
    vfprintf(stderr, fmt, ap);
}

bool srv_http_start(srv *s, char *err, size_t cap)
{
    struct sockaddr_storage ss;
    s->listen_fd = -1;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->cfg.host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(s->cfg.port);
    } else if (inet_pton(AF_INET6, s->cfg.host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(s->cfg.port);
    } else {
        snprintf(err, cap, "--host '%s' is not an IPv4 or IPv6 address", s->cfg.host);
        return false;
    }
    if (srv_waiter_new(s->engine, &s->waiter) != PDVM_OK) {
        snprintf(err, cap, "cannot start the HTTP waiter thread");
        return false;
    }
    /* ITC: a resume from the waiter wakes the pool thread's poll. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, s->cfg.port, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(s->cfg.n_threads ? s->cfg.n_threads
                                                                 : SRV_HTTP_THREADS),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_conn,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_END);
    if (!s->daemon) {
        srv_waiter_free(s->waiter);
        s->waiter = NULL;
        snprintf(err, cap, "cannot listen on %s port %u (in use, or not an address of this "
                 "machine)", s->cfg.host, (unsigned)s->cfg.port);
        return false;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->cfg.port;
    return true;
}

void srv_http_quiesce(srv *s)
{
    if (s->daemon && s->listen_fd < 0) s->listen_fd = MHD_quiesce_daemon(s->daemon);
}

void srv_http_stop(srv *s)
{
    srv_waiter_drain(s->waiter); /* MHD must not stop with suspended connections */
    if (s->daemon) MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    srv_waiter_free(s->waiter);
    s->waiter = NULL;
    if (s->listen_fd >= 0) close(s->listen_fd); /* quiesced: ours to close */
    s->listen_fd = -1;
}
