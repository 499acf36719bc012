#include "request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_STOPS = 16, MAX_STOP_BYTES = 1024, JSON_DEPTH = 64 };

bool srv_errf(srv_err *e, unsigned status, const char *type, const char *fmt, ...)
{
    e->status = status;
    e->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return false;
}

json_object *srv_json_parse(const char *body, size_t len, srv_err *e)
{
    if (len > (size_t)INT32_MAX) return srv_errf(e, SRV_BAD, "the body is too large"), NULL;
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok) return srv_errf(e, 500, "server_error", "out of memory"), NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || err != json_tokener_success) {
        json_object_put(o);
        if (err == json_tokener_continue)
            return srv_errf(e, SRV_BAD, "malformed JSON: the body ends inside a value"), NULL;
        return srv_errf(e, SRV_BAD, "malformed JSON at byte %zu: %s", end,
                        json_tokener_error_desc(err)), NULL;
    }
    while (end < len && strchr(" \t\r\n", body[end])) end++;
    if (end < len) {
        json_object_put(o);
        return srv_errf(e, SRV_BAD, "malformed JSON: data after the object at byte %zu", end),
               NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return srv_errf(e, SRV_BAD, "the body must be a JSON object"), NULL;
    }
    return o;
}

bool srv_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k == 0 || i + k > n) return false;
        uint32_t cp = k == 1 ? c : c & (0x7Fu >> k);
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k;
    }
    return true;
}

/* A field's value, NULL when absent or JSON null. */
static json_object *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *type_name(json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

/* 0: absent, 1: read, -1: refused (*e set). */
static int get_bool(json_object *o, const char *key, bool *out, srv_err *e)
{
    json_object *v = field(o, key);
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return srv_errf(e, SRV_BAD, "'%s' must be a boolean, got %s", key, type_name(v)), -1;
    *out = json_object_get_boolean(v);
    return 1;
}

static int get_number(json_object *o, const char *key, double lo, double hi, double *out,
                      srv_err *e)
{
    json_object *v = field(o, key);
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return srv_errf(e, SRV_BAD, "'%s' must be a number, got %s", key, type_name(v)), -1;
    double d = json_object_get_double(v);
    if (!isfinite(d) || d < lo || d > hi)
        return srv_errf(e, SRV_BAD, "'%s' must be in [%g, %g], got %g", key, lo, hi, d), -1;
    *out = d;
    return 1;
}

static int get_float(json_object *o, const char *key, double lo, double hi, float *out,
                     srv_err *e)
{
    double d = 0;
    int r = get_number(o, key, lo, hi, &d, e);
    if (r == 1) *out = (float)d;
    return r;
}

/* Integers; a JSON number with a fraction is refused. */
static int get_int(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   srv_err *e)
{
    json_object *v = field(o, key);
    if (!v) return 0;
    bool integral = json_object_is_type(v, json_type_int);
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        integral = isfinite(d) && d == floor(d) && fabs(d) < 9e15;
    }
    if (!integral)
        return srv_errf(e, SRV_BAD, "'%s' must be an integer, got %s", key, type_name(v)), -1;
    int64_t i = json_object_get_int64(v);
    if (i < lo || i > hi)
        return srv_errf(e, SRV_BAD, "'%s' must be in [%lld, %lld], got %lld", key,
                        (long long)lo, (long long)hi, (long long)i), -1;
    *out = i;
    return 1;
}

static bool add_stop(srv_gen_params *gp, const char *s, size_t len, srv_err *e)
{
    if (len == 0) return true; /* matches nothing */
    if (gp->n_stop == MAX_STOPS)
        return srv_errf(e, SRV_BAD, "'stop' holds more than %d strings", MAX_STOPS);
    if (len > MAX_STOP_BYTES)
        return srv_errf(e, SRV_BAD, "a 'stop' string is longer than %d bytes", MAX_STOP_BYTES);
    if (memchr(s, '\0', len))
        return srv_errf(e, SRV_BAD, "a 'stop' string holds a NUL character");
    char *c = strndup(s, len);
    if (!c) return srv_errf(e, 500, "server_error", "out of memory");
    gp->stop[gp->n_stop++] = c;
    return true;
}

static bool parse_stop(json_object *o, srv_gen_params *gp, srv_err *e)
{
    json_object *v = field(o, "stop");
    if (!v) return true;
    gp->stop = calloc(MAX_STOPS, sizeof *gp->stop);
    if (!gp->stop) return srv_errf(e, 500, "server_error", "out of memory");
    if (json_object_is_type(v, json_type_string))
        return add_stop(gp, json_object_get_string(v), (size_t)json_object_get_string_len(v),
                        e);
    if (!json_object_is_type(v, json_type_array))
        return srv_errf(e, SRV_BAD, "'stop' must be a string or an array of strings, got %s",
                        type_name(v));
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        if (!json_object_is_type(s, json_type_string))
            return srv_errf(e, SRV_BAD, "'stop[%zu]' must be a string, got %s", i,
                            type_name(s));
        if (!add_stop(gp, json_object_get_string(s), (size_t)json_object_get_string_len(s), e))
            return false;
    }
    return true;
}

/* Options pdvm does not have: refused unless they ask for the default. */
static bool unsupported(json_object *o, srv_err *e)
{
    int64_t n = 1;
    if (get_int(o, "n", 1, 1, &n, e) < 0)
        return srv_errf(e, SRV_BAD, "'n' must be 1: one choice per request");
    static const char *const penalties[] = {"presence_penalty", "frequency_penalty"};
    for (size_t i = 0; i < 2; i++) {
        double d = 0;
        if (get_number(o, penalties[i], -2, 2, &d, e) < 0) return false;
        if (d != 0)
            return srv_errf(e, SRV_BAD, "'%s' is not supported; use repeat_penalty",
                            penalties[i]);
    }
    bool lp = false;
    if (get_bool(o, "logprobs", &lp, e) < 0) return false;
    if (lp) return srv_errf(e, SRV_BAD, "'logprobs' is not supported");
    return true;
}

static bool parse_sampling(json_object *o, pdvm_sampler_params *sp, srv_err *e)
{
    int64_t i = 0;
    if (get_float(o, "temperature", 0, 1e6, &sp->temp, e) < 0 ||
        get_float(o, "top_p", 0, 1, &sp->top_p, e) < 0 ||
        get_float(o, "min_p", 0, 1, &sp->min_p, e) < 0 ||
        get_float(o, "repeat_penalty", 1e-6, 1e6, &sp->repeat_penalty, e) < 0)
        return false;
    int r = get_int(o, "top_k", 0, INT32_MAX, &i, e);
    if (r < 0) return false;
    if (r) sp->top_k = (int32_t)i;
    if ((r = get_int(o, "repeat_last_n", -1, 1 << 20, &i, e)) < 0) return false;
    if (r) sp->repeat_last_n = i < 0 ? 1 << 20 : (int32_t)i; /* -1: the whole context */
    if ((r = get_int(o, "seed", -1, INT64_MAX, &i, e)) < 0) return false;
    if (r) sp->seed = i < 0 ? 0xFFFFFFFFu : (uint64_t)i;
    return true;
}

static bool parse_common(json_object *o, srv_request *rq, srv_err *e)
{
    json_object *model = field(o, "model");
    if (model && !json_object_is_type(model, json_type_string))
        return srv_errf(e, SRV_BAD, "'model' must be a string, got %s", type_name(model));
    rq->gp.sp = pdvm_sampler_default_params();
    rq->gp.max_tokens = -1;
    if (!unsupported(o, e) || !parse_sampling(o, &rq->gp.sp, e)) return false;
    static const char *const max_keys[] = {"max_tokens", "max_completion_tokens", "n_predict"};
    for (size_t k = 0; k < 3; k++) {
        int64_t i = 0;
        int r = get_int(o, max_keys[k], -1, 1 << 20, &i, e);
        if (r < 0) return false;
        if (r && i == 0)
            return srv_errf(e, SRV_BAD, "'%s' must be at least 1 (or -1: no limit)",
                            max_keys[k]);
        if (r) rq->gp.max_tokens = (int32_t)i;
    }
    if (get_bool(o, "stream", &rq->stream, e) < 0 ||
        get_bool(o, "ignore_eos", &rq->gp.ignore_eos, e) < 0)
        return false;
    json_object *so = field(o, "stream_options");
    if (so && !json_object_is_type(so, json_type_object))
        return srv_errf(e, SRV_BAD, "'stream_options' must be an object, got %s",
                        type_name(so));
    if (so && get_bool(so, "include_usage", &rq->include_usage, e) < 0) return false;
    return parse_stop(o, &rq->gp, e);
}

static bool known_role(const char *r)
{
    return !strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant");
}

/* Content as a string: a string, null (""), or an array of text parts
 * joined as they are. */
static bool message_content(srv_request *rq, size_t i, json_object *c, const char **out,
                            srv_err *e)
{
    if (!c) return (*out = ""), true;
    if (json_object_is_type(c, json_type_string)) {
        if (memchr(json_object_get_string(c), '\0', (size_t)json_object_get_string_len(c)))
            return srv_errf(e, SRV_BAD, "'messages[%zu].content' holds a NUL character", i);
        return (*out = json_object_get_string(c)), true;
    }
    if (!json_object_is_type(c, json_type_array))
        return srv_errf(e, SRV_BAD, "'messages[%zu].content' must be a string or an array of "
                        "text parts, got %s", i, type_name(c));
    size_t n = json_object_array_length(c), len = 0;
    for (size_t k = 0; k < n; k++) {
        json_object *p = json_object_array_get_idx(c, k), *t = NULL, *text = NULL;
        if (!json_object_is_type(p, json_type_object) || !json_object_object_get_ex(p, "type", &t)
            || !json_object_is_type(t, json_type_string) ||
            strcmp(json_object_get_string(t), "text") != 0 ||
            !json_object_object_get_ex(p, "text", &text) ||
            !json_object_is_type(text, json_type_string))
            return srv_errf(e, SRV_BAD, "'messages[%zu].content[%zu]' must be "
                            "{\"type\": \"text\", \"text\": string}", i, k);
        len += (size_t)json_object_get_string_len(text);
    }
    char *s = malloc(len + 1), *w = s;
    if (!s) return srv_errf(e, 500, "server_error", "out of memory");
    rq->own[rq->n_own++] = s;
    for (size_t k = 0; k < n; k++) {
        json_object *text = field(json_object_array_get_idx(c, k), "text");
        size_t l = (size_t)json_object_get_string_len(text);
        memcpy(w, json_object_get_string(text), l);
        w += l;
    }
    *w = '\0';
    if (strlen(s) != len)
        return srv_errf(e, SRV_BAD, "'messages[%zu].content' holds a NUL character", i);
    return (*out = s), true;
}

static bool parse_messages(json_object *o, srv_request *rq, srv_err *e)
{
    json_object *m = field(o, "messages");
    if (!m) return srv_errf(e, SRV_BAD, "'messages' is required");
    if (!json_object_is_type(m, json_type_array))
        return srv_errf(e, SRV_BAD, "'messages' must be an array, got %s", type_name(m));
    size_t n = json_object_array_length(m);
    if (n == 0) return srv_errf(e, SRV_BAD, "'messages' is empty");
    rq->msgs = calloc(n, sizeof *rq->msgs);
    rq->own = calloc(n, sizeof *rq->own);
    if (!rq->msgs || !rq->own) return srv_errf(e, 500, "server_error", "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(m, i), *role = NULL;
        if (!json_object_is_type(msg, json_type_object))
            return srv_errf(e, SRV_BAD, "'messages[%zu]' must be an object, got %s", i,
                            type_name(msg));
        if (!json_object_object_get_ex(msg, "role", &role) ||
            !json_object_is_type(role, json_type_string))
            return srv_errf(e, SRV_BAD, "'messages[%zu].role' must be a string", i);
        const char *r = json_object_get_string(role);
        if (!known_role(r))
            return srv_errf(e, SRV_BAD, "'messages[%zu].role' is '%.40s': it must be system, "
                            "user or assistant", i, r);
        rq->msgs[i].role = r;
        if (!message_content(rq, i, field(msg, "content"), &rq->msgs[i].content, e))
            return false;
        rq->n_msgs++;
    }
    return true;
}

static bool parse_prompt_ids(json_object *p, uint32_t n_vocab, srv_request *rq, srv_err *e)
{
    size_t n = json_object_array_length(p);
    rq->ids = malloc((n ? n : 1) * sizeof *rq->ids);
    if (!rq->ids) return srv_errf(e, 500, "server_error", "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(p, i);
        int64_t id = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || id < 0 || id >= n_vocab)
            return srv_errf(e, SRV_BAD, "'prompt[%zu]' must be a token id in [0, %u)", i,
                            n_vocab);
        rq->ids[i] = (int32_t)id;
    }
    rq->n_ids = n;
    return true;
}

/* A string, an array of one string, or an array of token ids. */
static bool parse_prompt(json_object *o, uint32_t n_vocab, srv_request *rq, srv_err *e)
{
    json_object *p = field(o, "prompt");
    if (!p) return srv_errf(e, SRV_BAD, "'prompt' is required");
    if (json_object_is_type(p, json_type_array) && json_object_array_length(p) == 1 &&
        json_object_is_type(json_object_array_get_idx(p, 0), json_type_string))
        p = json_object_array_get_idx(p, 0);
    if (json_object_is_type(p, json_type_string)) {
        rq->prompt = json_object_get_string(p);
        rq->prompt_len = (size_t)json_object_get_string_len(p);
        return true;
    }
    if (!json_object_is_type(p, json_type_array))
        return srv_errf(e, SRV_BAD, "'prompt' must be a string or an array of token ids, got %s",
                        type_name(p));
    if (json_object_array_length(p) > 0 &&
        json_object_is_type(json_object_array_get_idx(p, 0), json_type_string))
        return srv_errf(e, SRV_BAD, "'prompt' holds several strings: one prompt per request");
    if (json_object_array_length(p) == 0) return srv_errf(e, SRV_BAD, "'prompt' is empty");
    return parse_prompt_ids(p, n_vocab, rq, e);
}

bool srv_request_parse(json_object *body, bool chat, uint32_t n_vocab, srv_request *rq,
                       srv_err *e)
{
    *rq = (srv_request){.chat = chat};
    bool ok = parse_common(body, rq, e) &&
              (chat ? parse_messages(body, rq, e) : parse_prompt(body, n_vocab, rq, e));
    if (!ok) srv_request_free(rq);
    return ok;
}

void srv_request_free(srv_request *rq)
{
    for (size_t i = 0; i < rq->gp.n_stop; i++) free(rq->gp.stop[i]);
    free(rq->gp.stop);
    for (size_t i = 0; i < rq->n_own; i++) free(rq->own[i]);
    free(rq->own);
    free(rq->msgs);
    free(rq->ids);
    *rq = (srv_request){0};
}
