#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned CODES[SRV_N_CODES] = {200, 400, 401, 404, 405, 413, 500, 501, 503, 0};
static const char *const EP_NAMES[SRV_EP_COUNT] = {
    "chat_completions", "completions", "models", "health", "tokenize", "detokenize",
    "metrics", "other"};
static const char *const FINISH_NAMES[4] = {"stop", "length", "cancelled", "error"};

void srv_metrics_init(srv_metrics *m, uint32_t slots_total)
{
    memset(m, 0, sizeof *m);
    m->slots_total = slots_total;
}

void srv_metrics_request(srv_metrics *m, srv_endpoint ep, unsigned status)
{
    size_t c = SRV_N_CODES - 1;
    for (size_t i = 0; i + 1 < SRV_N_CODES; i++)
        if (CODES[i] == status) c = i;
    atomic_fetch_add(&m->requests[ep][c], 1);
}

srv_endpoint srv_endpoint_of(const char *path)
{
    static const struct { const char *path; srv_endpoint ep; } map[] = {
        {"/v1/chat/completions", SRV_EP_CHAT}, {"/chat/completions", SRV_EP_CHAT},
        {"/v1/completions", SRV_EP_COMPLETIONS}, {"/completions", SRV_EP_COMPLETIONS},
        {"/v1/models", SRV_EP_MODELS}, {"/models", SRV_EP_MODELS},
        {"/health", SRV_EP_HEALTH}, {"/v1/health", SRV_EP_HEALTH},
        {"/tokenize", SRV_EP_TOKENIZE}, {"/detokenize", SRV_EP_DETOKENIZE},
        {"/metrics", SRV_EP_METRICS},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(path, map[i].path)) return map[i].ep;
    return SRV_EP_OTHER;
}

typedef struct text {
    char *p;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->p && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->failed = 1;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
}

static void family(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP pdvm_%s %s\n# TYPE pdvm_%s %s\n", name, help, name, type);
}

static void scalar(text *t, const char *name, const char *type, const char *help, double v)
{
    family(t, name, type, help);
    put(t, "pdvm_%s %.15g\n", name, v);
}

static double get(const atomic_uint_fast64_t *a)
{
    return (double)atomic_load(a);
}

static void render_requests(text *t, const srv_metrics *m)
{
    family(t, "requests_total", "counter", "HTTP requests answered, by endpoint and status");
    for (size_t e = 0; e < SRV_EP_COUNT; e++)
        for (size_t c = 0; c < SRV_N_CODES; c++) {
            uint64_t n = atomic_load(&m->requests[e][c]);
            if (!n) continue;
            if (CODES[c])
                put(t, "pdvm_requests_total{endpoint=\"%s\",code=\"%u\"} %llu\n", EP_NAMES[e],
                    CODES[c], (unsigned long long)n);
            else
                put(t, "pdvm_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n",
                    EP_NAMES[e], (unsigned long long)n);
        }
    family(t, "completions_finished_total", "counter",
           "Generation requests finished, by finish reason");
    for (size_t f = 0; f < 4; f++)
        put(t, "pdvm_completions_finished_total{reason=\"%s\"} %llu\n", FINISH_NAMES[f],
            (unsigned long long)atomic_load(&m->finished[f]));
}

char *srv_metrics_render(const srv_metrics *m)
{
    text t = {0};
    render_requests(&t, m);
    double prompt_s = get(&m->prompt_us) / 1e6, predict_s = get(&m->predict_us) / 1e6;
    double n_decode = get(&m->n_decode);
    scalar(&t, "prompt_tokens_total", "counter",
           "Prompt tokens prefilled, excluding those reused from a slot's cache",
           get(&m->prompt_tokens));
    scalar(&t, "prompt_tokens_cached_total", "counter",
           "Prompt tokens reused from a slot's KV cache", get(&m->prompt_tokens_cached));
    scalar(&t, "prompt_seconds_total", "counter", "Engine time in steps that prefilled",
           prompt_s);
    scalar(&t, "tokens_predicted_total", "counter", "Tokens generated",
           get(&m->tokens_predicted));
    scalar(&t, "tokens_predicted_seconds_total", "counter",
           "Engine time in steps that only decoded", predict_s);
    scalar(&t, "n_decode_total", "counter", "Engine steps (one forward pass each)", n_decode);
    scalar(&t, "requests_cancelled_total", "counter",
           "Generation requests dropped because the client disconnected", get(&m->cancelled));
    scalar(&t, "requests_rejected_total", "counter",
           "Generation requests refused with 503 because the queue was full",
           get(&m->rejected_busy));
    scalar(&t, "prompt_tokens_seconds", "gauge", "Average prefill throughput in tokens/s",
           prompt_s > 0 ? get(&m->prompt_tokens) / prompt_s : 0.0);
    scalar(&t, "predicted_tokens_seconds", "gauge",
           "Average generation throughput in tokens/s over the engine's decode time",
           predict_s > 0 ? get(&m->tokens_predicted) / predict_s : 0.0);
    scalar(&t, "requests_processing", "gauge", "Slots busy with a request",
           (double)atomic_load(&m->slots_busy));
    scalar(&t, "requests_deferred", "gauge", "Requests waiting in the queue for a slot",
           (double)atomic_load(&m->queued));
    scalar(&t, "slots_total", "gauge", "Parallel slots (-np)", (double)m->slots_total);
    scalar(&t, "n_busy_slots_per_decode", "gauge", "Average slots advanced by one engine step",
           n_decode > 0 ? get(&m->busy_slot_steps) / n_decode : 0.0);
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    return t.p;
}
