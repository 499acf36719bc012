/* The server's counters, shown by GET /metrics in Prometheus' text format
 * (exposition format 0.0.4). Counters only grow; the gauges are the state
 * at the moment of the scrape. Names follow llama-server's (prefix pdvm_
 * instead of llamacpp:). Updated from the HTTP threads and the engine
 * thread with atomics, never under a lock. */
#ifndef PDVM_SRV_METRICS_H
#define PDVM_SRV_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The endpoints counted separately; everything else is SRV_EP_OTHER. */
typedef enum srv_endpoint {
    SRV_EP_CHAT = 0, SRV_EP_COMPLETIONS, SRV_EP_MODELS, SRV_EP_HEALTH, SRV_EP_TOKENIZE,
    SRV_EP_DETOKENIZE, SRV_EP_METRICS, SRV_EP_OTHER, SRV_EP_COUNT
} srv_endpoint;

/* The statuses the server answers with; others count as the last. */
enum { SRV_N_CODES = 10 };

typedef struct srv_metrics {
    atomic_uint_fast64_t requests[SRV_EP_COUNT][SRV_N_CODES];
    atomic_uint_fast64_t prompt_tokens;        /* prefilled (cached ones not counted) */
    atomic_uint_fast64_t prompt_tokens_cached; /* found in a slot's KV cache */
    atomic_uint_fast64_t tokens_predicted;     /* generated (sent or held as stop text) */
    atomic_uint_fast64_t prompt_us, predict_us;/* engine time in prefill / decode steps */
    atomic_uint_fast64_t n_decode;             /* engine steps */
    atomic_uint_fast64_t busy_slot_steps;      /* sum over steps of the slots they advanced */
    atomic_uint_fast64_t cancelled;            /* requests dropped because the client left */
    atomic_uint_fast64_t rejected_busy;        /* 503: the queue was full */
    atomic_uint_fast64_t finished[4];          /* by finish reason: stop, length, cancelled, error */
    atomic_uint_fast32_t slots_busy, queued;
    uint32_t slots_total;
} srv_metrics;

void srv_metrics_init(srv_metrics *m, uint32_t slots_total);
/* One answered request. */
void srv_metrics_request(srv_metrics *m, srv_endpoint ep, unsigned status);
/* The Prometheus text into a malloc'd string (NULL when out of memory). */
char *srv_metrics_render(const srv_metrics *m);
/* Endpoint of a request path ("/v1/chat/completions" -> SRV_EP_CHAT). */
srv_endpoint srv_endpoint_of(const char *path);

#endif
