/* `pdvm serve` over HTTP as clients see it: the server started on a free
 * loopback port with stories260K on the CPU backend (so that the ASan
 * build covers it in test-cpu), requests made with curl. Checks the
 * endpoints' answers against `pdvm run --temp 0`, concurrency, a client
 * disconnecting mid-stream or while it waits, the thread count under waiting
 * clients, SIGTERM while they wait, every refusal's status and OpenAI error shape,
 * the queue limit and the metrics; /health while loading in-process over
 * the server's modules. The GPU path: test_gpu_server.c. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli_util.h"
#include "server/srv.h"
#include "srv_client.h"
#include "test_util.h"

static char model[TEST_PATH_MAX];

static void start(srv_proc *p, const char *const *extra)
{
    test_model_path("stories260K.gguf", model, sizeof model);
    const char *args[40] = {"-m", model, "--backend", "cpu"};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    srv_start(p, args);
}

static void stop(srv_proc *p)
{
    assert_int_equal(srv_stop(p), 0);
}

static json_object *parse(const http_res *r)
{
    json_object *o = json_tokener_parse(r->body);
    if (!o) fail_msg("not JSON (status %d): %s", r->status, r->body);
    return o;
}

static json_object *get(json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(key));
        else if (!json_object_object_get_ex(o, key, &o))
            o = NULL;
        path += n + (path[n] == '.');
    }
    if (!o) fail_msg("no field %s", path);
    return o;
}

static const char *str(json_object *o, const char *path)
{
    return json_object_get_string(get(o, path));
}

static int64_t num(json_object *o, const char *path)
{
    return json_object_get_int64(get(o, path));
}

/* What `pdvm run --backend cpu --temp 0` prints after the prompt. */
static char *run_greedy(const char *prompt, const char *n)
{
    const char *args[] = {"run", "-m", model, "--backend", "cpu", "--temp", "0",
                          "-n", n, "-p", prompt, NULL};
    cli_result r = cli_run(args, NULL);
    assert_int_equal(r.code, 0);
    size_t pl = strlen(prompt), ol = strlen(r.out);
    assert_true(ol >= pl && !memcmp(r.out, prompt, pl));
    if (ol > pl && r.out[ol - 1] == '\n') r.out[--ol] = '\0'; /* run ends the line */
    char *text = strdup(r.out + pl);
    cli_result_free(&r);
    return text;
}

static char *completion_body(const char *prompt, int max_tokens, bool stream)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "prompt", json_object_new_string(prompt));
    json_object_object_add(o, "max_tokens", json_object_new_int(max_tokens));
    json_object_object_add(o, "temperature", json_object_new_double(0));
    json_object_object_add(o, "stream", json_object_new_boolean(stream));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* The text of an SSE answer: the deltas (chat) or texts joined, after
 * checking every event is JSON and the stream ends with [DONE]. *finish
 * gets the last finish_reason. */
static char *sse_text(const char *body, bool chat, char *finish, size_t cap)
{
    size_t bl = strlen(body);
    const char done[] = "data: [DONE]\n\n";
    if (bl < sizeof done - 1 || strcmp(body + bl - (sizeof done - 1), done) != 0)
        fail_msg("the stream does not end with data: [DONE]: %s", body);
    char *out = calloc(1, bl + 1);
    finish[0] = '\0';
    for (const char *l = body; (l = strstr(l, "data: ")) != NULL;) {
        l += 6;
        if (!strncmp(l, "[DONE]", 6)) break;
        const char *e = strstr(l, "\n\n");
        assert_non_null(e);
        char *ev = strndup(l, (size_t)(e - l));
        json_object *o = json_tokener_parse(ev);
        if (!o) fail_msg("an event is not JSON: %s", ev);
        json_object *c = get(o, "choices.0"), *t = NULL, *f = NULL;
        if (chat) {
            json_object *d = get(c, "delta");
            json_object_object_get_ex(d, "content", &t);
        } else {
            json_object_object_get_ex(c, "text", &t);
        }
        if (t) strcat(out, json_object_get_string(t));
        if (json_object_object_get_ex(c, "finish_reason", &f) && f)
            snprintf(finish, cap, "%s", json_object_get_string(f));
        json_object_put(o);
        free(ev);
        l = e;
    }
    return out;
}

/* A completion's text (streamed or not) and its finish reason. */
static char *complete(const srv_proc *p, const char *prompt, int max_tokens, bool stream,
                      char *finish)
{
    char *b = completion_body(prompt, max_tokens, stream);
    http_res r = http_req(p, "POST", "/v1/completions", b, NULL);
    free(b);
    if (r.status != 200) fail_msg("status %d: %s", r.status, r.body);
    char *text;
    if (stream) {
        text = sse_text(r.body, false, finish, 16);
    } else {
        json_object *o = parse(&r);
        text = strdup(str(o, "choices.0.text"));
        snprintf(finish, 16, "%s", str(o, "choices.0.finish_reason"));
        assert_string_equal(str(o, "object"), "text_completion");
        assert_int_equal(num(o, "usage.completion_tokens"), max_tokens);
        json_object_put(o);
    }
    http_res_free(&r);
    return text;
}

static void completion_equals_pdvm_run(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, NULL);
    char *want = run_greedy("Once upon a time", "24"), finish[16];
    char *got = complete(&p, "Once upon a time", 24, false, finish);
    assert_string_equal(got, want);
    assert_string_equal(finish, "length");
    free(got);
    got = complete(&p, "Once upon a time", 24, true, finish);
    assert_string_equal(got, want);
    assert_string_equal(finish, "length");
    free(got);
    free(want);
    stop(&p);
}

static const char CHAT[] = "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                           "{\"role\":\"user\",\"content\":\"Tell me a story\"}],"
                           "\"max_tokens\":16,\"temperature\":0%s}";

/* Chat answers equal a completion over the same conversation formatted
 * with the template (chatml for this model), streamed or not. */
static void chat_streaming_and_not(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, NULL);
    char body[512], finish[16];
    snprintf(body, sizeof body, CHAT, "");
    http_res r = http_req(&p, "POST", "/v1/chat/completions", body, NULL);
    assert_int_equal(r.status, 200);
    json_object *o = parse(&r);
    assert_string_equal(str(o, "object"), "chat.completion");
    assert_string_equal(str(o, "choices.0.message.role"), "assistant");
    char *whole = strdup(str(o, "choices.0.message.content"));
    assert_string_equal(str(o, "choices.0.finish_reason"), "length");
    int64_t n_prompt = num(o, "usage.prompt_tokens");
    assert_int_equal(num(o, "usage.completion_tokens"), 16);
    assert_int_equal(num(o, "usage.total_tokens"), n_prompt + 16);
    json_object_put(o);
    http_res_free(&r);

    snprintf(body, sizeof body, CHAT, ",\"stream\":true");
    r = http_req(&p, "POST", "/v1/chat/completions", body, NULL);
    assert_int_equal(r.status, 200);
    char *ct = http_header(&r, "Content-Type");
    assert_non_null(ct);
    assert_non_null(strstr(ct, "text/event-stream"));
    free(ct);
    char *streamed = sse_text(r.body, true, finish, sizeof finish);
    assert_string_equal(streamed, whole);
    assert_string_equal(finish, "length");
    http_res_free(&r);

    const char *tmpl = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
                       "Tell me a story<|im_end|>\n<|im_start|>assistant\n";
    char *as_text = complete(&p, tmpl, 16, false, finish);
    assert_string_equal(as_text, whole);
    snprintf(body, sizeof body, "{\"content\":\"%s\",\"add_special\":true}",
             "<|im_start|>system\\nBe brief.<|im_end|>\\n<|im_start|>user\\n"
             "Tell me a story<|im_end|>\\n<|im_start|>assistant\\n");
    r = http_req(&p, "POST", "/tokenize", body, NULL);
    assert_int_equal(r.status, 200);
    o = parse(&r);
    assert_int_equal((int64_t)json_object_array_length(get(o, "tokens")), n_prompt);
    json_object_put(o);
    http_res_free(&r);
    free(as_text);
    free(streamed);
    free(whole);
    stop(&p);
}

static void tokenize_detokenize(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, NULL);
    http_res r = http_req(&p, "POST", "/tokenize",
                          "{\"content\":\"Once upon a time\",\"with_pieces\":true}", NULL);
    assert_int_equal(r.status, 200);
    json_object *o = parse(&r), *toks = get(o, "tokens");
    size_t n = json_object_array_length(toks);
    assert_true(n >= 2);
    json_object *ids = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(toks, i);
        assert_true(json_object_get_int(get(t, "id")) > 2); /* no BOS: add_special false */
        assert_true(strlen(str(t, "piece")) > 0);
        json_object_array_add(ids, json_object_get(get(t, "id")));
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "tokens", ids);
    http_res_free(&r);
    r = http_req(&p, "POST", "/detokenize", json_object_to_json_string(d), NULL);
    assert_int_equal(r.status, 200);
    json_object *back = parse(&r);
    const char *c = str(back, "content");
    /* SentencePiece: the first piece's leading space marks a word start. */
    while (*c == ' ') c++;
    assert_string_equal(c, "Once upon a time");
    json_object_put(back);
    json_object_put(d);
    json_object_put(o);
    http_res_free(&r);
    r = http_req(&p, "GET", "/v1/models", NULL, NULL);
    assert_int_equal(r.status, 200);
    o = parse(&r);
    assert_string_equal(str(o, "data.0.id"), "stories260K.gguf");
    json_object_put(o);
    http_res_free(&r);
    stop(&p);
}

/* The value of an unlabelled or labelled metric line "name value". */
static double metric(const srv_proc *p, const char *name)
{
    http_res r = http_req(p, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    size_t nl = strlen(name);
    double v = -1;
    for (const char *l = r.body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, name, nl) && l[nl] == ' ') v = strtod(l + nl + 1, NULL);
    http_res_free(&r);
    if (v < 0) fail_msg("no metric %s", name);
    return v;
}

#define N_PAR 16
static const char *const PROMPTS[4] = {"Once upon a time", "The cat", "Lily and Tom went",
                                       "One day, a big dog"};

/* Work per engine step since the counters m[0] (steps) and m[1] (busy
 * slot-steps) were read; reads them again into m. */
static double busy_slots_since(const srv_proc *p, double m[2])
{
    double steps = metric(p, "pdvm_n_decode_total");
    double busy = metric(p, "pdvm_n_busy_slots_per_decode") * steps;
    double r = steps > m[0] ? (busy - m[1]) / (steps - m[0]) : 0.0;
    m[0] = steps;
    m[1] = busy;
    return r;
}

/* Whether the metric reaches want within 20 s. */
static bool metric_reaches(const srv_proc *p, const char *name, double want)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (metric(p, name) == want) return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 20);
    return false;
}

/* 16 requests (half of them streaming) on 4 slots, each get the text a
 * lone request gets. They queue behind four endless streams that hold the
 * slots, so when those hang up the 16 run four to an engine step (one
 * slot at a time would be one). */
static void concurrent_requests_match_lone_ones(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-np", "4", "-c", "2048", NULL});
    char *lone[4], finish[16];
    for (int i = 0; i < 4; i++) lone[i] = complete(&p, PROMPTS[i], 20, false, finish);
    http_stream hold[4];
    for (int i = 0; i < 4; i++) {
        hold[i] = http_stream_start(&p, "/v1/completions",
                                    "{\"prompt\":\"Once\",\"max_tokens\":-1,\"stream\":true,"
                                    "\"ignore_eos\":true}");
        assert_true(http_stream_until(&hold[i], "\"text\""));
    }
    assert_int_equal((int)metric(&p, "pdvm_requests_processing"), 4);
    http_call calls[N_PAR];
    for (int i = 0; i < N_PAR; i++) {
        char *b = completion_body(PROMPTS[i % 4], 20, i % 2);
        calls[i] = http_start(&p, "POST", "/v1/completions", b, NULL);
        free(b);
    }
    if (!metric_reaches(&p, "pdvm_requests_deferred", N_PAR))
        fail_msg("the %d requests did not all queue behind the streams", N_PAR);
    double m[2] = {0};
    busy_slots_since(&p, m);
    for (int i = 0; i < 4; i++) http_stream_kill(&hold[i]);
    for (int i = 0; i < N_PAR; i++) {
        http_res r = http_wait(&calls[i]);
        if (r.status != 200) fail_msg("request %d: status %d: %s", i, r.status, r.body);
        char *text;
        if (i % 2) {
            text = sse_text(r.body, false, finish, sizeof finish);
        } else {
            json_object *o = parse(&r);
            text = strdup(str(o, "choices.0.text"));
            json_object_put(o);
        }
        if (strcmp(text, lone[i % 4]) != 0)
            fail_msg("request %d: '%s', alone: '%s'", i, text, lone[i % 4]);
        free(text);
        http_res_free(&r);
    }
    for (int i = 0; i < 4; i++) free(lone[i]);
    double busy = busy_slots_since(&p, m);
    if (busy < 3.0) fail_msg("%.2f slots per engine step", busy);
    stop(&p);
}

/* A stop string ends the text before it (finish_reason "stop"), streamed
 * or not, also when it spans tokens; sampling with a seed repeats. */
static void stop_strings_and_seeds(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, NULL);
    char finish[16];
    char *full = complete(&p, "Once upon a time", 24, false, finish);
    /* A stop string from the middle of the greedy text: its first 4 bytes
     * after byte 10 (they need not start at a token boundary). */
    assert_true(strlen(full) > 16);
    char stop_s[8];
    memcpy(stop_s, full + 11, 4);
    stop_s[4] = '\0';
    size_t at = (size_t)(strstr(full, stop_s) - full);
    for (int stream = 0; stream < 2; stream++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "prompt", json_object_new_string("Once upon a time"));
        json_object_object_add(o, "max_tokens", json_object_new_int(24));
        json_object_object_add(o, "temperature", json_object_new_double(0));
        json_object_object_add(o, "stream", json_object_new_boolean(stream));
        json_object *stops = json_object_new_array();
        json_object_array_add(stops, json_object_new_string("never appears"));
        json_object_array_add(stops, json_object_new_string(stop_s));
        json_object_object_add(o, "stop", stops);
        http_res r = http_req(&p, "POST", "/v1/completions", json_object_to_json_string(o), NULL);
        json_object_put(o);
        assert_int_equal(r.status, 200);
        char *text;
        if (stream) {
            text = sse_text(r.body, false, finish, sizeof finish);
        } else {
            json_object *a = parse(&r);
            text = strdup(str(a, "choices.0.text"));
            snprintf(finish, sizeof finish, "%s", str(a, "choices.0.finish_reason"));
            json_object_put(a);
        }
        assert_int_equal(strlen(text), at);
        assert_memory_equal(text, full, at);
        assert_string_equal(finish, "stop");
        free(text);
        http_res_free(&r);
    }
    free(full);

    const char *seeded = "{\"prompt\":\"The cat\",\"max_tokens\":24,\"temperature\":1.0,"
                         "\"top_k\":40,\"top_p\":0.95,\"min_p\":0.05,\"repeat_penalty\":1.1,"
                         "\"seed\":%d}";
    char body[256];
    char *t[3];
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, seeded, i == 2 ? 8 : 7);
        http_res r = http_req(&p, "POST", "/v1/completions", body, NULL);
        assert_int_equal(r.status, 200);
        json_object *a = parse(&r);
        t[i] = strdup(str(a, "choices.0.text"));
        json_object_put(a);
        http_res_free(&r);
    }
    assert_string_equal(t[0], t[1]);
    assert_string_not_equal(t[0], t[2]); /* 24 sampled tokens: another seed differs */
    for (int i = 0; i < 3; i++) free(t[i]);
    stop(&p);
}

/* A client that hangs up mid-stream: its generation stops and the one
 * slot takes the next request. */
static void disconnect_frees_the_slot(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-np", "1", "-c", "2048", NULL});
    http_stream s = http_stream_start(&p, "/v1/completions",
                                      "{\"prompt\":\"Once\",\"max_tokens\":-1,\"stream\":true,"
                                      "\"ignore_eos\":true}");
    assert_true(http_stream_until(&s, "\"text\""));
    http_stream_kill(&s);
    char finish[16];
    char *t = complete(&p, "The cat", 8, false, finish);
    free(t);
    assert_int_equal((int)metric(&p, "pdvm_completions_finished_total{reason=\"cancelled\"}"), 1);
    assert_int_equal((int)metric(&p, "pdvm_completions_finished_total{reason=\"length\"}"), 1);
    /* The cancelled one stopped long before its context was full. */
    assert_true(metric(&p, "pdvm_tokens_predicted_total") < 1000);
    assert_int_equal((int)metric(&p, "pdvm_requests_processing"), 0);
    stop(&p);
}

/* The server's threads, from /proc. */
static int threads_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8)) n = atoi(line + 8);
    fclose(f);
    assert_true(n > 0);
    return n;
}

static const char ENDLESS[] = "{\"prompt\":\"Once\",\"max_tokens\":-1,\"ignore_eos\":true}";
static const char ENDLESS_STREAM[] =
    "{\"prompt\":\"Once\",\"max_tokens\":-1,\"stream\":true,\"ignore_eos\":true}";

/* Clients waiting for their answers, whole or streamed, running or queued,
 * hold no thread of the server (its connections sleep until the engine
 * writes): it has as many threads with ten of them as idle. A client of a
 * whole answer that hangs up while it waits cancels its request, running
 * or queued. */
static void waiting_clients_hold_no_thread(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-np", "2", "-c", "2048", "--threads-http", "2", NULL});
    int idle = threads_of(p.pid);
    http_stream s = http_stream_start(&p, "/v1/completions", ENDLESS_STREAM);
    assert_true(http_stream_until(&s, "\"text\""));
    http_call running = http_start(&p, "POST", "/v1/completions", ENDLESS, NULL);
    if (!metric_reaches(&p, "pdvm_requests_processing", 2)) fail_msg("the slots did not fill");
    http_call queued[8];
    for (int i = 0; i < 8; i++)
        queued[i] = http_start(&p, "POST", "/v1/completions", ENDLESS, NULL);
    if (!metric_reaches(&p, "pdvm_requests_deferred", 8)) fail_msg("the 8 did not queue");
    assert_int_equal(threads_of(p.pid), idle);

    const char *cancelled = "pdvm_completions_finished_total{reason=\"cancelled\"}";
    http_call_kill(&running);
    if (!metric_reaches(&p, cancelled, 1)) fail_msg("the running request was not cancelled");
    /* Its slot went to a queued one. */
    if (!metric_reaches(&p, "pdvm_requests_deferred", 7)) fail_msg("no queued request started");
    for (int i = 0; i < 8; i++) http_call_kill(&queued[i]);
    if (!metric_reaches(&p, cancelled, 9)) fail_msg("the queued requests were not cancelled");
    http_stream_kill(&s);
    if (!metric_reaches(&p, cancelled, 10)) fail_msg("the stream was not cancelled");
    assert_int_equal((int)metric(&p, "pdvm_requests_processing"), 0);
    assert_int_equal((int)metric(&p, "pdvm_requests_deferred"), 0);
    assert_int_equal(threads_of(p.pid), idle);
    stop(&p);
}

/* SIGTERM while clients wait (a stream, a running and a queued whole
 * answer): the waiting connections are woken before the HTTP layer stops,
 * and the server exits cleanly (srv_stop fails on a sanitizer report). */
static void stop_while_clients_wait(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-np", "2", "-c", "2048", NULL});
    http_stream s = http_stream_start(&p, "/v1/completions", ENDLESS_STREAM);
    assert_true(http_stream_until(&s, "\"text\""));
    http_call calls[2];
    for (int i = 0; i < 2; i++) calls[i] = http_start(&p, "POST", "/v1/completions", ENDLESS, NULL);
    if (!metric_reaches(&p, "pdvm_requests_deferred", 1)) fail_msg("the last did not queue");
    stop(&p);
    for (int i = 0; i < 2; i++) {
        http_res r = http_wait(&calls[i]);
        /* The error answer, or the connection closed before it was sent. */
        if (r.status != 500 && r.status != 0) fail_msg("request %d: status %d", i, r.status);
        http_res_free(&r);
    }
    http_stream_kill(&s);
}

/* A completion with its usage: the text, prompt_tokens, cached_tokens. */
static char *complete_usage(const srv_proc *p, const char *prompt, int64_t *n_prompt,
                            int64_t *n_cached)
{
    char *b = completion_body(prompt, 12, false);
    http_res r = http_req(p, "POST", "/v1/completions", b, NULL);
    free(b);
    if (r.status != 200) fail_msg("status %d: %s", r.status, r.body);
    json_object *o = parse(&r);
    char *text = strdup(str(o, "choices.0.text"));
    *n_prompt = num(o, "usage.prompt_tokens");
    *n_cached = num(o, "usage.prompt_tokens_details.cached_tokens");
    json_object_put(o);
    http_res_free(&r);
    return text;
}

/* Two slots keep two prompts: A, an unrelated B (it shares only BOS with
 * A, so it takes the other slot instead of evicting A), then A and B
 * again: each repeat finds all but its last prompt token cached (that one
 * is fed again for its logits) and gives the same text. */
static void repeated_prompts_reuse_their_slots(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-np", "2", NULL});
    const char *prompt[2] = {"Once upon a time there was a little girl named Lily who loved",
                             "The big brown dog ran across the green park to find his ball"};
    char *text[2];
    int64_t n[2], cached;
    for (int i = 0; i < 2; i++) {
        text[i] = complete_usage(&p, prompt[i], &n[i], &cached);
        assert_int_equal(cached, 0);
        assert_true(n[i] > 10); /* BOS is under a tenth of it */
    }
    for (int i = 0; i < 2; i++) {
        int64_t n_again;
        char *again = complete_usage(&p, prompt[i], &n_again, &cached);
        assert_int_equal(n_again, n[i]);
        assert_int_equal(cached, n[i] - 1);
        assert_string_equal(again, text[i]);
        free(again);
        free(text[i]);
    }
    assert_int_equal((int64_t)metric(&p, "pdvm_prompt_tokens_cached_total"), n[0] + n[1] - 2);
    stop(&p);
}

/* A conversation that sends its history again reuses the slot's KV cache:
 * the second turn's cached tokens are the first turn's prompt and answer,
 * and its answer equals that of a fresh server (nothing cached). */
static void second_turn_reuses_the_cache(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-np", "1", NULL});
    const char *t1 = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],"
                     "\"max_tokens\":10,\"temperature\":0}";
    http_res r = http_req(&p, "POST", "/v1/chat/completions", t1, NULL);
    assert_int_equal(r.status, 200);
    json_object *o = parse(&r);
    int64_t n1 = num(o, "usage.prompt_tokens");
    assert_int_equal(num(o, "usage.prompt_tokens_details.cached_tokens"), 0);
    json_object *msgs = json_object_new_array(), *m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string("user"));
    json_object_object_add(m, "content", json_object_new_string("Tell me a story"));
    json_object_array_add(msgs, m);
    m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string("assistant"));
    json_object_object_add(m, "content",
                           json_object_new_string(str(o, "choices.0.message.content")));
    json_object_array_add(msgs, m);
    m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string("user"));
    json_object_object_add(m, "content", json_object_new_string("And then?"));
    json_object_array_add(msgs, m);
    json_object *b = json_object_new_object();
    json_object_object_add(b, "messages", msgs);
    json_object_object_add(b, "max_tokens", json_object_new_int(10));
    json_object_object_add(b, "temperature", json_object_new_double(0));
    char *t2 = strdup(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
    json_object_put(b);
    json_object_put(o);
    http_res_free(&r);

    r = http_req(&p, "POST", "/v1/chat/completions", t2, NULL);
    assert_int_equal(r.status, 200);
    o = parse(&r);
    /* The answer's ids re-tokenize the same; the cache holds the first 9
     * (the 10th was sampled, never fed). */
    assert_int_equal(num(o, "usage.prompt_tokens_details.cached_tokens"), n1 + 9);
    char *warm = strdup(str(o, "choices.0.message.content"));
    json_object_put(o);
    http_res_free(&r);
    assert_int_equal((int64_t)metric(&p, "pdvm_prompt_tokens_cached_total"), n1 + 9);
    stop(&p);

    start(&p, NULL);
    r = http_req(&p, "POST", "/v1/chat/completions", t2, NULL);
    assert_int_equal(r.status, 200);
    o = parse(&r);
    assert_int_equal(num(o, "usage.prompt_tokens_details.cached_tokens"), 0);
    assert_string_equal(str(o, "choices.0.message.content"), warm);
    json_object_put(o);
    http_res_free(&r);
    stop(&p);
    free(warm);
    free(t2);
}

static void expect_error(const srv_proc *p, const char *path, const char *body,
                         const char *const *hdrs, int status, const char *needle)
{
    http_res r = http_req(p, "POST", path, body, hdrs);
    if (r.status != status) fail_msg("%s: status %d, want %d: %s", body, r.status, status, r.body);
    json_object *o = parse(&r);
    const char *msg = str(o, "error.message");
    assert_true(strlen(msg) > 0);
    assert_true(strlen(str(o, "error.type")) > 0);
    assert_int_equal(num(o, "error.code"), status);
    if (needle && !strstr(msg, needle)) fail_msg("'%s' lacks '%s'", msg, needle);
    json_object_put(o);
    http_res_free(&r);
}

static void bad_requests_get_their_status(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-c", "256", "--max-body", "4096", NULL});
    char *big = malloc(8192);
    memset(big, ' ', 8191);
    memcpy(big, "{\"prompt\":\"", 11);
    big[8189] = '"';
    big[8190] = '}';
    big[8191] = '\0';
    const char *c = "/v1/completions", *ch = "/v1/chat/completions";
    expect_error(&p, c, big, NULL, 413, NULL);
    /* Chunked: no Content-Length to refuse it by, the limit applies as it
     * arrives. */
    expect_error(&p, c, big, (const char *const[]){"Transfer-Encoding: chunked", NULL}, 413, NULL);
    free(big);
    expect_error(&p, c, "{\"prompt\": \"a\",", NULL, 400, "malformed JSON");
    expect_error(&p, c, "[1,2]", NULL, 400, "object");
    expect_error(&p, c, "{\"prompt\":\"a\",\"max_tokens\":\"5\"}", NULL, 400, "max_tokens");
    expect_error(&p, c, "{\"prompt\":\"a\",\"temperature\":true}", NULL, 400, "temperature");
    expect_error(&p, c, "{\"prompt\":7}", NULL, 400, "prompt");
    expect_error(&p, c, "{\"prompt\":\"a\",\"max_tokens\":1000}", NULL, 400, "max_tokens");
    expect_error(&p, c, "{\"prompt\":\"a\",\"stop\":[1]}", NULL, 400, "stop");
    expect_error(&p, ch, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", NULL, 400,
                 "wizard");
    expect_error(&p, ch, "{\"messages\":{}}", NULL, 400, "messages");
    expect_error(&p, ch, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", NULL, 400,
                 "content");
    expect_error(&p, "/tokenize", "{\"content\":1}", NULL, 400, "content");
    expect_error(&p, "/detokenize", "{\"tokens\":[1e9]}", NULL, 400, "tokens");
    expect_error(&p, "/v1/nothing", "{}", NULL, 404, NULL);
    http_res r = http_req(&p, "GET", "/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    http_res_free(&r);
    /* Every refusal was counted, none reached the engine. */
    assert_int_equal((int)metric(&p, "pdvm_requests_total{endpoint=\"completions\",code=\"400\"}"),
                     7);
    assert_int_equal((int)metric(&p, "pdvm_requests_total{endpoint=\"completions\",code=\"413\"}"),
                     2);
    assert_int_equal((int)metric(&p, "pdvm_tokens_predicted_total"), 0);
    stop(&p);
}

static void api_key_required(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"--api-key", "sesame-123", NULL});
    const char *body = "{\"prompt\":\"a\",\"max_tokens\":2}";
    expect_error(&p, "/v1/completions", body, NULL, 401, NULL);
    expect_error(&p, "/v1/completions", body,
                 (const char *const[]){"Authorization: Bearer sesame-12", NULL}, 401, NULL);
    expect_error(&p, "/v1/completions", body,
                 (const char *const[]){"Authorization: Bearer sesame-1234", NULL}, 401, NULL);
    expect_error(&p, "/v1/completions", body,
                 (const char *const[]){"Authorization: sesame-123", NULL}, 401, NULL);
    http_res r = http_req(&p, "POST", "/v1/completions", body,
                          (const char *const[]){"Authorization: Bearer sesame-123", NULL});
    assert_int_equal(r.status, 200);
    http_res_free(&r);
    r = http_req(&p, "GET", "/v1/models", NULL, NULL);
    assert_int_equal(r.status, 401);
    http_res_free(&r);
    r = http_req(&p, "GET", "/health", NULL, NULL); /* as llama-server: no key needed */
    assert_int_equal(r.status, 200);
    http_res_free(&r);
    stop(&p);
}

/* One slot, no queue: while it streams, the next request gets 503 with
 * Retry-After. */
static void queue_full_is_503(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, (const char *const[]){"-np", "1", "--max-queue", "0", "-c", "2048", NULL});
    http_stream s = http_stream_start(&p, "/v1/completions",
                                      "{\"prompt\":\"Once\",\"max_tokens\":-1,\"stream\":true,"
                                      "\"ignore_eos\":true}");
    assert_true(http_stream_until(&s, "\"text\""));
    http_res r = http_req(&p, "POST", "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2}",
                          NULL);
    assert_int_equal(r.status, 503);
    char *ra = http_header(&r, "Retry-After");
    assert_non_null(ra);
    assert_true(atoi(ra) >= 1);
    free(ra);
    json_object *o = parse(&r);
    assert_int_equal(num(o, "error.code"), 503);
    json_object_put(o);
    http_res_free(&r);
    assert_int_equal((int)metric(&p, "pdvm_requests_rejected_total"), 1);
    http_stream_kill(&s);
    /* A disconnected client's slot counts as free (and leaves the
     * processing gauge) as soon as the server notices the hang-up, before
     * the engine's next step drops the job. Wait (bounded) for that; from
     * then on a request must be served, even with no queue at all. */
    for (int i = 0; i < 3000 && metric(&p, "pdvm_requests_processing") > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal((int)metric(&p, "pdvm_requests_processing"), 0);
    char finish[16];
    char *t = complete(&p, "The cat", 4, false, finish);
    free(t);
    stop(&p);
}

/* /metrics counts what was sent: requests by endpoint and status, and
 * the tokens the answers' usage reported. */
static void metrics_count_what_was_sent(void **state)
{
    (void)state;
    srv_proc p;
    start(&p, NULL);
    char finish[16];
    int64_t gen = 0;
    for (int i = 0; i < 3; i++) {
        char *b = completion_body(PROMPTS[i], 5 + i, false);
        http_res r = http_req(&p, "POST", "/v1/completions", b, NULL);
        free(b);
        json_object *o = parse(&r);
        gen += num(o, "usage.completion_tokens");
        json_object_put(o);
        http_res_free(&r);
    }
    char *t = complete(&p, PROMPTS[3], 4, true, finish);
    free(t);
    gen += 4;
    assert_int_equal((int)metric(&p, "pdvm_requests_total{endpoint=\"completions\",code=\"200\"}"),
                     4);
    assert_int_equal((int64_t)metric(&p, "pdvm_tokens_predicted_total"), gen);
    assert_int_equal((int)metric(&p, "pdvm_completions_finished_total{reason=\"length\"}"), 4);
    /* Each scrape counts itself. */
    assert_int_equal((int)metric(&p, "pdvm_requests_total{endpoint=\"metrics\",code=\"200\"}"),
                     4);
    stop(&p);
}

/* While the model loads, /health says 503 and generation is refused: the
 * server's HTTP layer in this process over an engine that has not started
 * loading (the listener is up before the load, as in pdvm serve). */
static void health_503_while_loading(void **state)
{
    (void)state;
    srv *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->cfg = (srv_config){.host = "127.0.0.1", .timeout_s = 10, .max_body = 1 << 20,
                          .max_conn = 8};
    s->listen_fd = -1;
    snprintf(s->model_id, sizeof s->model_id, "loading.gguf");
    srv_metrics_init(&s->metrics, 1);
    srv_engine_params ep = {.model_path = "never-read.gguf", .n_slots = 1, .max_queue = 1,
                            .n_batch = 8, .notify_fd = -1};
    assert_int_equal(srv_engine_new(&ep, &s->metrics, &s->engine), PDVM_OK);
    char err[256];
    if (!srv_http_start(s, err, sizeof err)) fail_msg("%s", err);
    srv_proc p = {.port = s->port};
    http_res r = http_req(&p, "GET", "/health", NULL, NULL);
    assert_int_equal(r.status, 503);
    json_object *o = parse(&r);
    assert_int_equal(num(o, "error.code"), 503);
    assert_non_null(strstr(str(o, "error.message"), "oading"));
    json_object_put(o);
    http_res_free(&r);
    const char *paths[] = {"/v1/completions", "/v1/chat/completions", "/tokenize"};
    for (size_t i = 0; i < 3; i++) {
        r = http_req(&p, "POST", paths[i], "{\"prompt\":\"a\"}", NULL);
        assert_int_equal(r.status, 503);
        http_res_free(&r);
    }
    r = http_req(&p, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "pdvm_requests_total{endpoint=\"health\",code=\"503\"} 1"));
    http_res_free(&r);
    srv_http_quiesce(s);
    srv_http_stop(s);
    srv_engine_free(s->engine);
    free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(completion_equals_pdvm_run),
        cmocka_unit_test(chat_streaming_and_not),
        cmocka_unit_test(tokenize_detokenize),
        cmocka_unit_test(stop_strings_and_seeds),
        cmocka_unit_test(concurrent_requests_match_lone_ones),
        cmocka_unit_test(disconnect_frees_the_slot),
        cmocka_unit_test(waiting_clients_hold_no_thread),
        cmocka_unit_test(stop_while_clients_wait),
        cmocka_unit_test(second_turn_reuses_the_cache),
        cmocka_unit_test(repeated_prompts_reuse_their_slots),
        cmocka_unit_test(bad_requests_get_their_status),
        cmocka_unit_test(api_key_required),
        cmocka_unit_test(queue_full_is_503),
        cmocka_unit_test(metrics_count_what_was_sent),
        cmocka_unit_test(health_503_while_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
