#include "stream.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef struct srv_stream {
    srv *s;
    srv_job *job;
    srv_oai oai;
    srv_wait wait;      /* while the job has nothing new: the connection sleeps */
    bool include_usage, started, done;
    uint32_t n_prompt;
    size_t seen;        /* bytes of the job's text already in events */
    char *out;          /* events not yet handed to MHD: [off, len) */
    size_t len, off, cap;
    char *text;         /* scratch for new text */
    size_t text_cap;
} srv_stream;

static bool put(srv_stream *st, const char *p, size_t n)
{
    if (st->len + n > st->cap) {
        size_t cap = (st->len + n) * 2;
        char *o = realloc(st->out, cap);
        if (!o) return false;
        st->out = o;
        st->cap = cap;
    }
    memcpy(st->out + st->len, p, n);
    st->len += n;
    return true;
}

/* "data: <json>\n\n"; takes o. */
static bool put_event(srv_stream *st, json_object *o)
{
    size_t n = 0;
    const char *t = o ? srv_json_text(o, &n) : NULL;
    bool ok = t && put(st, "data: ", 6) && put(st, t, n) && put(st, "\n\n", 2);
    json_object_put(o);
    return ok;
}

static bool put_new_text(srv_stream *st, size_t upto)
{
    size_t n = upto - st->seen;
    if (n > st->text_cap) {
        char *t = realloc(st->text, n);
        if (!t) return false;
        st->text = t;
        st->text_cap = n;
    }
    srv_job_copy(st->job, st->seen, n, st->text);
    st->seen = upto;
    return put_event(st, srv_oai_chunk(&st->oai, st->text, n, false, SRV_FINISH_NONE,
                                       st->include_usage));
}

static bool put_end(srv_stream *st, const srv_job_view *v)
{
    bool ok;
    if (v->finish == SRV_FINISH_STOP || v->finish == SRV_FINISH_LENGTH) {
        ok = put_event(st, srv_oai_chunk(&st->oai, "", 0, false, v->finish, st->include_usage));
        if (ok && st->include_usage)
            ok = put_event(st, srv_oai_usage_chunk(&st->oai, srv_oai_usage(st->n_prompt,
                                                                          v->n_gen,
                                                                          v->n_cached)));
    } else {
        /* The engine failed or is shutting down: the status line is long
         * gone, so the error travels as an event. */
        json_object *err = json_object_new_object(), *o = json_object_new_object();
        pthread_mutex_lock(&st->job->mu);
        json_object_object_add(err, "message", json_object_new_string(st->job->error));
        pthread_mutex_unlock(&st->job->mu);
        json_object_object_add(err, "type", json_object_new_string("server_error"));
        json_object_object_add(err, "code", json_object_new_int(500));
        json_object_object_add(o, "error", err);
        ok = put_event(st, o);
    }
    st->done = true;
    return ok && put(st, "data: [DONE]\n\n", 14);
}

typedef enum { EV_SOME, EV_NONE_YET, EV_FAIL } ev_result;

/* Fill st->out with the next events; EV_FAIL when memory ran out (the
 * stream then ends with an error). */
static ev_result next_events(srv_stream *st)
{
    st->len = st->off = 0;
    if (!st->started) {
        st->started = true;
        if (st->oai.chat)
            return put_event(st, srv_oai_chunk(&st->oai, "", 0, true, SRV_FINISH_NONE,
                                               st->include_usage))
                       ? EV_SOME
                       : EV_FAIL;
    }
    srv_job_view v;
    if (!srv_job_news(st->job, st->seen, &v)) return EV_NONE_YET;
    if (v.len > st->seen && !put_new_text(st, v.len)) return EV_FAIL;
    if (v.finish != SRV_FINISH_NONE && !put_end(st, &v)) return EV_FAIL;
    return EV_SOME;
}

/* libmicrohttpd asks for more of the body. With nothing new the connection
 * is suspended and 0 returned; the waiter resumes it, and this is called
 * again, when the engine has written or the client has hung up. */
static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    srv_stream *st = cls;
    while (st->off == st->len) {
        if (st->done) return MHD_CONTENT_READER_END_OF_STREAM;
        ev_result e = atomic_load(&st->wait.hung_up) ? EV_FAIL : next_events(st);
        if (e == EV_FAIL) {
            srv_engine_cancel(st->s->engine, st->job);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (e == EV_NONE_YET) {
            srv_wait_suspend(&st->wait);
            return 0;
        }
    }
    size_t n = st->len - st->off < max ? st->len - st->off : max;
    memcpy(buf, st->out + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

/* The response is gone: finished, or the connection closed under it. */
static void on_free(void *cls)
{
    srv_stream *st = cls;
    srv_engine_cancel(st->s->engine, st->job); /* no effect on a finished job */
    srv_job_unref(st->job);
    free(st->out);
    free(st->text);
    free(st);
}

enum MHD_Result srv_stream_reply(srv_req *r, srv_job *job, const srv_oai *o,
                                 bool include_usage, uint32_t n_prompt)
{
    srv_stream *st = calloc(1, sizeof *st);
    if (!st) {
        srv_engine_cancel(r->s->engine, job);
        srv_job_unref(job);
        return MHD_NO;
    }
    *st = (srv_stream){.s = r->s, .job = job, .oai = *o, .include_usage = include_usage,
                       .n_prompt = n_prompt};
    srv_wait_init(&st->wait, r->s->waiter, r->conn, job, false);
    struct MHD_Response *res =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, on_read, st, on_free);
    if (!res) {
        on_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ok = MHD_queue_response(r->conn, 200, res);
    MHD_destroy_response(res);
    r->answered = true;
    srv_metrics_request(&r->s->metrics, r->ep, 200);
    return ok;
}
