/* pdvm serve: the server object the HTTP threads share, and one HTTP
 * request as the handlers see it. */
#ifndef PDVM_SRV_H
#define PDVM_SRV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <json-c/json.h>

#include "engine.h"
#include "metrics.h"
#include "oai.h"
#include "request.h"
#include "waiter.h"

/* Threads polling connections by default. No callback blocks, so a few
 * serve any number of clients; more only help when tokenizing long
 * prompts (done on these threads) is the bottleneck. */
enum { SRV_HTTP_THREADS = 4 };

typedef struct srv_config {
    const char *host;          /* --host, default 127.0.0.1 */
    uint16_t port;             /* --port, default 8080; 0: any free port */
    const char *api_key;       /* --api-key; NULL: no check */
    const char *chat_template; /* --chat-template NAME; NULL: the model's */
    const char *alias;         /* --alias: the model id clients see */
    uint32_t timeout_s;        /* --timeout: idle connections are closed after it */
    size_t max_body;           /* --max-body: request bodies over it get 413 */
    uint32_t max_conn;         /* connections open at once */
    uint32_t n_threads;        /* --threads-http: libmicrohttpd's pool; 0: SRV_HTTP_THREADS */
    bool verbose;
} srv_config;

typedef struct srv {
    srv_config cfg;
    srv_metrics metrics;
    srv_engine *engine;
    srv_waiter *waiter;        /* wakes suspended connections (srv_http_start's) */
    char model_id[256];
    int64_t created;           /* Unix time of the start, for /v1/models */
    atomic_uint_fast64_t next_id;
    struct MHD_Daemon *daemon;
    uint16_t port;             /* the port bound */
    int listen_fd;             /* after srv_http_quiesce: the socket to close */
} srv;

/* One request, from its first header to the response. */
typedef struct srv_req {
    srv *s;
    struct MHD_Connection *conn;
    srv_endpoint ep;
    char *body;
    size_t len, cap;
    bool too_big;              /* the body passed the limit: 413 */
    bool answered;             /* a response is queued */
    /* A whole (not streamed) answer waiting for its generation, the
     * connection suspended meanwhile; job is NULL otherwise. */
    srv_job *job;
    srv_oai oai;
    srv_wait wait;
} srv_req;

/* Responses. Each counts the request in the metrics and marks it answered;
 * MHD_NO only when MHD could not queue it (the connection is then closed). */
enum MHD_Result srv_reply_json(srv_req *r, unsigned status, json_object *o); /* takes o */
enum MHD_Result srv_reply_text(srv_req *r, unsigned status, const char *content_type,
                               const char *text, size_t len);
/* OpenAI's {"error": {"message", "type", "code"}} with that status. */
enum MHD_Result srv_reply_error(srv_req *r, const srv_err *e);
enum MHD_Result srv_reply_errorf(srv_req *r, unsigned status, const char *type,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 503 for a full queue, with Retry-After. */
enum MHD_Result srv_reply_busy(srv_req *r, unsigned retry_after_s);

/* Whether an Authorization header value carries "Bearer <key>"; the
 * comparison takes the same time whatever the bytes. */
bool srv_auth_ok(const char *header, const char *key);

/* The JSON text of o (compact, '/' not escaped); NULL when out of memory.
 * Valid until o is freed. */
const char *srv_json_text(json_object *o, size_t *len);

/* The body as a JSON object; on failure the 400 is sent and NULL returned
 * (*res holds the MHD result to return). */
json_object *srv_req_json(srv_req *r, enum MHD_Result *res);

/* The engine state checked for generation and tokenizer endpoints: false
 * after replying 503 (loading) or 500 (failed). */
bool srv_req_ready(srv_req *r, enum MHD_Result *res);

/* Endpoint handlers (src/server/api_*.c). */
enum MHD_Result srv_api_chat(srv_req *r);
enum MHD_Result srv_api_completions(srv_req *r);
enum MHD_Result srv_api_models(srv_req *r);
enum MHD_Result srv_api_health(srv_req *r);
enum MHD_Result srv_api_metrics(srv_req *r);
enum MHD_Result srv_api_tokenize(srv_req *r);
enum MHD_Result srv_api_detokenize(srv_req *r);
/* The connection of a request with r->job was resumed: answer, or
 * suspend again until the job has finished. */
enum MHD_Result srv_api_gen_resume(srv_req *r);

/* Start the waiter and listen on host:port (s->port gets the port bound). */
bool srv_http_start(srv *s, char *err, size_t cap);
/* Stop accepting connections; those open go on. */
void srv_http_quiesce(srv *s);
/* After the engine has stopped: resume what is suspended, close every
 * connection, stop the pool's threads. */
void srv_http_stop(srv *s);

#endif
