#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "srv.h"

const char *srv_json_text(json_object *o, size_t *len)
{
    const char *t = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    return t;
}

enum MHD_Result srv_reply_text(srv_req *r, unsigned status, const char *content_type,
                               const char *text, size_t len)
{
    struct MHD_Response *res =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!res) return MHD_NO;
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result ok = MHD_queue_response(r->conn, status, res);
    MHD_destroy_response(res);
    r->answered = true;
    srv_metrics_request(&r->s->metrics, r->ep, status);
    return ok;
}

enum MHD_Result srv_reply_json(srv_req *r, unsigned status, json_object *o)
{
    static const char oom[] =
        "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":500}}";
    size_t len = 0;
    const char *t = o ? srv_json_text(o, &len) : NULL;
    enum MHD_Result ok = t ? srv_reply_text(r, status, "application/json; charset=utf-8", t, len)
                           : srv_reply_text(r, 500, "application/json; charset=utf-8", oom,
                                            sizeof oom - 1);
    json_object_put(o);
    return ok;
}

static json_object *error_object(unsigned status, const char *type, const char *msg)
{
    json_object *err = json_object_new_object(), *o = json_object_new_object();
    json_object_object_add(err, "message", json_object_new_string(msg));
    json_object_object_add(err, "type", json_object_new_string(type));
    json_object_object_add(err, "code", json_object_new_int((int)status));
    json_object_object_add(o, "error", err);
    return o;
}

enum MHD_Result srv_reply_error(srv_req *r, const srv_err *e)
{
    if (r->s->cfg.verbose)
        fprintf(stderr, "pdvm serve: %u %s: %s\n", e->status, e->type, e->msg);
    return srv_reply_json(r, e->status, error_object(e->status, e->type, e->msg));
}

enum MHD_Result srv_reply_errorf(srv_req *r, unsigned status, const char *type,
                                 const char *fmt, ...)
{
    srv_err e = {status, type, ""};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return srv_reply_error(r, &e);
}

enum MHD_Result srv_reply_busy(srv_req *r, unsigned retry_after_s)
{
    json_object *o = error_object(503, "unavailable_error",
                                  "every slot is busy and the queue is full; retry later");
    size_t len = 0;
    const char *t = srv_json_text(o, &len);
    struct MHD_Response *res =
        t ? MHD_create_response_from_buffer(len, (void *)t, MHD_RESPMEM_MUST_COPY) : NULL;
    json_object_put(o);
    if (!res) return MHD_NO;
    char ra[16];
    snprintf(ra, sizeof ra, "%u", retry_after_s);
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    MHD_add_response_header(res, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    enum MHD_Result ok = MHD_queue_response(r->conn, 503, res);
    MHD_destroy_response(res);
    r->answered = true;
    srv_metrics_request(&r->s->metrics, r->ep, 503);
    return ok;
}

bool srv_auth_ok(const char *header, const char *key)
{
    static const char prefix[] = "Bearer ";
    if (!header || strncmp(header, prefix, sizeof prefix - 1) != 0) return false;
    const volatile unsigned char *given = (const unsigned char *)header + sizeof prefix - 1;
    const unsigned char *want = (const unsigned char *)key;
    size_t n_given = strlen((const char *)given), n_want = strlen(key);
    /* Every byte of the key is compared whatever the first difference; the
     * loop's length is the key's, so the time says nothing about it beyond
     * its length, which a guesser learns nothing from. */
    unsigned diff = n_given != n_want;
    for (size_t i = 0; i < n_want; i++) diff |= want[i] ^ (i < n_given ? given[i] : 0u);
    return diff == 0;
}
