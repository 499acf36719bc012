/* POST /v1/chat/completions and /v1/completions: the body read into a
 * request, the prompt tokenized and checked on this HTTP thread, the job
 * queued for the engine, then the answer streamed or sent whole (the
 * connection suspended while the job runs). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "oai.h"
#include "prompt.h"
#include "srv.h"
#include "stream.h"

/* --chat-template, else the model's, else chatml (llama.cpp's fallback for
 * a file that carries none). */
static const char *chat_template(const srv *s, const pdvm_model *m)
{
    if (s->cfg.chat_template) return s->cfg.chat_template;
    const char *t = pdvm_model_chat_template(m);
    return t ? t : "chatml";
}

static void oai_init(srv *s, bool chat, srv_oai *o)
{
    uint64_t n = atomic_fetch_add(&s->next_id, 1);
    snprintf(o->id, sizeof o->id, "%s-%llx%06llx", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)s->created, (unsigned long long)n);
    o->chat = chat;
    o->created = (int64_t)time(NULL);
    o->model = s->model_id;
}

/* A request the engine can run, or a reply. *stream and *usage: how it
 * wants the answer. */
static srv_job *make_job(srv_req *r, bool chat, bool *stream, bool *usage,
                         enum MHD_Result *res)
{
    srv_request req, *rq = &req;
    json_object *body = srv_req_json(r, res);
    if (!body) return NULL;
    const pdvm_model *m = srv_engine_model(r->s->engine);
    srv_err e;
    int32_t *ids = NULL;
    size_t n = 0;
    bool ok = srv_request_parse(body, chat, pdvm_model_hparams(m)->n_vocab, rq, &e) &&
              srv_prompt_tokens(m, chat_template(r->s, m), rq, srv_engine_n_ctx(r->s->engine),
                                &ids, &n, &e);
    json_object_put(body); /* rq's borrowed strings are not used after this */
    srv_job *job = ok ? srv_job_new() : NULL;
    if (ok && !job) srv_errf(&e, 500, "server_error", "out of memory");
    if (!job) {
        free(ids);
        srv_request_free(rq);
        *res = srv_reply_error(r, &e);
        return NULL;
    }
    job->prompt = ids;
    job->n_prompt = n;
    *stream = rq->stream;
    *usage = rq->include_usage;
    job->gp = rq->gp; /* the stop strings move to the job */
    rq->gp.stop = NULL;
    rq->gp.n_stop = 0;
    srv_request_free(rq);
    return job;
}

static enum MHD_Result reply_whole(srv_req *r, const srv_job_view *v)
{
    srv_job *job = r->job;
    if (v->finish != SRV_FINISH_STOP && v->finish != SRV_FINISH_LENGTH) {
        pthread_mutex_lock(&job->mu);
        srv_err e = {500, "server_error", ""};
        snprintf(e.msg, sizeof e.msg, "%s", job->error[0] ? job->error : "generation failed");
        pthread_mutex_unlock(&job->mu);
        return srv_reply_error(r, &e);
    }
    char *text = malloc(v->len + 1);
    if (!text) return srv_reply_errorf(r, 500, "server_error", "out of memory");
    srv_job_copy(job, 0, v->len, text);
    json_object *usage = srv_oai_usage((uint32_t)job->n_prompt, v->n_gen, v->n_cached);
    enum MHD_Result res = srv_reply_json(r, 200, srv_oai_response(&r->oai, text, v->len,
                                                                  v->finish, usage));
    free(text);
    return res;
}

/* The whole answer once the job has finished; until then the connection
 * sleeps (suspended: no pool thread waits for it). */
enum MHD_Result srv_api_gen_resume(srv_req *r)
{
    srv_job_view v;
    if (atomic_load(&r->wait.hung_up)) {
        srv_metrics_request(&r->s->metrics, r->ep, 499); /* nginx's "client closed" */
        return MHD_NO; /* closes the connection; the job is cancelled */
    }
    if (!srv_job_news(r->job, 0, &v) || v.finish == SRV_FINISH_NONE) {
        srv_wait_suspend(&r->wait);
        return MHD_YES;
    }
    enum MHD_Result res = reply_whole(r, &v);
    srv_job_unref(r->job);
    r->job = NULL;
    return res;
}

static enum MHD_Result generate(srv_req *r, bool chat)
{
    enum MHD_Result res = MHD_NO;
    if (!srv_req_ready(r, &res)) return res;
    bool stream = false, usage = false;
    srv_job *job = make_job(r, chat, &stream, &usage, &res);
    if (!job) return res;
    unsigned retry = 1;
    switch (srv_engine_submit(r->s->engine, job, &retry)) {
    case SRV_SUBMIT_OK: break;
    case SRV_SUBMIT_FULL:
        srv_job_unref(job);
        return srv_reply_busy(r, retry);
    default:
        srv_job_unref(job);
        return srv_reply_errorf(r, 503, "unavailable_error", "the server is shutting down");
    }
    srv_oai o;
    oai_init(r->s, chat, &o);
    if (stream) return srv_stream_reply(r, job, &o, usage, (uint32_t)job->n_prompt);
    r->job = job; /* the request's reference now; on_completed drops it if not answered */
    r->oai = o;
    srv_wait_init(&r->wait, r->s->waiter, r->conn, job, true);
    return srv_api_gen_resume(r);
}

enum MHD_Result srv_api_chat(srv_req *r)
{
    return generate(r, true);
}

enum MHD_Result srv_api_completions(srv_req *r)
{
    return generate(r, false);
}
