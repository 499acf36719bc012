/* GET /health, /v1/models, /metrics; POST /tokenize and /detokenize as
 * llama-server has them. */
#include <stdlib.h>
#include <string.h>

#include "prompt.h"
#include "srv.h"

enum MHD_Result srv_api_health(srv_req *r)
{
    enum MHD_Result res;
    if (!srv_req_ready(r, &res)) return res;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    return srv_reply_json(r, 200, o);
}

enum MHD_Result srv_api_models(srv_req *r)
{
    json_object *m = json_object_new_object(), *data = json_object_new_array();
    json_object_object_add(m, "id", json_object_new_string(r->s->model_id));
    json_object_object_add(m, "object", json_object_new_string("model"));
    json_object_object_add(m, "created", json_object_new_int64(r->s->created));
    json_object_object_add(m, "owned_by", json_object_new_string("pdvm"));
    json_object_array_add(data, m);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", data);
    return srv_reply_json(r, 200, o);
}

enum MHD_Result srv_api_metrics(srv_req *r)
{
    /* This request is counted before the text is made, so a scrape sees
     * itself. */
    srv_metrics_request(&r->s->metrics, r->ep, 200);
    char *t = srv_metrics_render(&r->s->metrics);
    if (!t) return srv_reply_errorf(r, 500, "server_error", "out of memory");
    struct MHD_Response *res =
        MHD_create_response_from_buffer(strlen(t), t, MHD_RESPMEM_MUST_FREE);
    if (!res) {
        free(t);
        return MHD_NO;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ok = MHD_queue_response(r->conn, 200, res);
    MHD_destroy_response(res);
    r->answered = true;
    return ok;
}

/* A field that must be a boolean when present. */
static bool opt_bool(json_object *o, const char *key, bool dflt, bool *out, srv_err *e)
{
    json_object *v = NULL;
    *out = dflt;
    if (!json_object_object_get_ex(o, key, &v) || !v) return true;
    if (!json_object_is_type(v, json_type_boolean))
        return srv_errf(e, SRV_BAD, "'%s' must be a boolean", key);
    *out = json_object_get_boolean(v);
    return true;
}

/* The piece of a token with control tokens' text (llama-server's
 * common_token_to_piece default); malloc'd, *len bytes. */
static char *piece_of(const pdvm_model *m, int32_t id, size_t *len)
{
    size_t n = 0;
    pdvm_token_to_piece(m, id, true, NULL, 0, &n);
    char *p = malloc(n + 1);
    if (p && pdvm_token_to_piece(m, id, true, p, n, &n) != PDVM_OK) n = 0;
    *len = n;
    return p;
}

/* A piece as a string, or as its bytes when it is not valid UTF-8. */
static json_object *piece_json(const char *p, size_t n)
{
    if (srv_utf8_valid(p, n)) return json_object_new_string_len(p, (int)n);
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++) json_object_array_add(a, json_object_new_int((uint8_t)p[i]));
    return a;
}

static json_object *token_list(const pdvm_model *m, const int32_t *ids, size_t n,
                               bool with_pieces)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        if (!with_pieces) {
            json_object_array_add(a, json_object_new_int(ids[i]));
            continue;
        }
        size_t len = 0;
        char *p = piece_of(m, ids[i], &len);
        json_object *t = json_object_new_object();
        json_object_object_add(t, "id", json_object_new_int(ids[i]));
        json_object_object_add(t, "piece", piece_json(p ? p : "", p ? len : 0));
        free(p);
        json_object_array_add(a, t);
    }
    return a;
}

enum MHD_Result srv_api_tokenize(srv_req *r)
{
    enum MHD_Result res;
    if (!srv_req_ready(r, &res)) return res;
    json_object *body = srv_req_json(r, &res), *content = NULL;
    if (!body) return res;
    const pdvm_model *m = srv_engine_model(r->s->engine);
    srv_err e = {0};
    bool add_special, parse_special, with_pieces;
    int32_t *ids = NULL;
    size_t n = 0;
    bool ok = opt_bool(body, "add_special", false, &add_special, &e) &&
              opt_bool(body, "parse_special", true, &parse_special, &e) &&
              opt_bool(body, "with_pieces", false, &with_pieces, &e);
    if (ok && json_object_object_get_ex(body, "content", &content) && content) {
        if (!json_object_is_type(content, json_type_string))
            ok = srv_errf(&e, SRV_BAD, "'content' must be a string");
        else
            ok = srv_tokenize(m, json_object_get_string(content),
                              (size_t)json_object_get_string_len(content), add_special,
                              parse_special, &ids, &n, &e);
    }
    json_object_put(body);
    if (!ok) return srv_reply_error(r, &e);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "tokens", token_list(m, ids, n, with_pieces));
    free(ids);
    return srv_reply_json(r, 200, o);
}

enum MHD_Result srv_api_detokenize(srv_req *r)
{
    enum MHD_Result res;
    if (!srv_req_ready(r, &res)) return res;
    json_object *body = srv_req_json(r, &res), *tokens = NULL;
    if (!body) return res;
    const pdvm_model *m = srv_engine_model(r->s->engine);
    uint32_t n_vocab = pdvm_model_hparams(m)->n_vocab;
    srv_err e = {0};
    bool ok = true;
    char *text = NULL;
    size_t len = 0, cap = 0;
    if (json_object_object_get_ex(body, "tokens", &tokens) && tokens) {
        if (!json_object_is_type(tokens, json_type_array))
            ok = srv_errf(&e, SRV_BAD, "'tokens' must be an array of token ids");
        size_t n = ok ? json_object_array_length(tokens) : 0;
        for (size_t i = 0; ok && i < n; i++) {
            json_object *v = json_object_array_get_idx(tokens, i);
            int64_t id = json_object_get_int64(v);
            if (!json_object_is_type(v, json_type_int) || id < 0 || id >= n_vocab) {
                ok = srv_errf(&e, SRV_BAD, "'tokens[%zu]' must be a token id in [0, %u)", i,
                              n_vocab);
                break;
            }
            size_t pl = 0;
            char *p = piece_of(m, (int32_t)id, &pl);
            if (p && len + pl + 1 > cap) {
                cap = (len + pl + 1) * 2;
                char *t = realloc(text, cap);
                if (!t) free(p), p = NULL;
                else text = t;
            }
            if (!p) ok = srv_errf(&e, 500, "server_error", "out of memory");
            else memcpy(text + len, p, pl), len += pl;
            free(p);
        }
    }
    json_object_put(body);
    if (!ok) {
        free(text);
        return srv_reply_error(r, &e);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "content", json_object_new_string_len(text ? text : "", (int)len));
    free(text);
    return srv_reply_json(r, 200, o);
}
