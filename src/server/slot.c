#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t srv_slot_common_prefix(const srv_slot *s, const int32_t *prompt, size_t n)
{
    size_t k = 0;
    while (k < n && k < s->n_cache && s->cache[k] == prompt[k]) k++;
    return k;
}

static bool cache_push(srv_slot *s, const int32_t *ids, size_t n)
{
    if (s->n_cache + n > s->cap) {
        size_t cap = (s->n_cache + n) * 2;
        int32_t *c = realloc(s->cache, cap * sizeof *c);
        if (!c) return false;
        s->cache = c;
        s->cap = cap;
    }
    memcpy(s->cache + s->n_cache, ids, n * sizeof *ids);
    s->n_cache += n;
    return true;
}

/* Keep the first k cached ids: truncate the runner's slot, or start over
 * when the engine cannot. Returns the ids kept. */
static size_t reuse_prefix(srv_slot *s, const srv_slot_env *env, size_t k)
{
    if (k < s->n_cache && srv_runner_truncate(env->runner, s->id, (uint32_t)k) != PDVM_OK) {
        srv_runner_reset(env->runner, s->id);
        k = 0;
    }
    s->n_cache = k;
    return k;
}

/* The prompt's ids go through the detokenizer and the sampler as they do
 * in `pdvm run`: the first generated piece is then not taken for the
 * text's first (no dummy-prefix space dropped), and the repetition penalty
 * sees the prompt. Held bytes of an unfinished character in the prompt are
 * dropped. */
static pdvm_status prime(srv_slot *s, const srv_job *job)
{
    const char *t;
    size_t len;
    for (size_t i = 0; i < job->n_prompt; i++) {
        pdvm_status st = pdvm_detok_push(s->detok, job->prompt[i], &t, &len);
        if (st != PDVM_OK) return st;
        pdvm_sampler_accept(s->smp, job->prompt[i]);
    }
    return pdvm_detok_flush(s->detok, &t, &len);
}

pdvm_status srv_slot_begin(srv_slot *s, const srv_slot_env *env, srv_job *job)
{
    s->job = job;
    s->decoding = false;
    size_t k = srv_slot_common_prefix(s, job->prompt, job->n_prompt);
    if (k == job->n_prompt) k--; /* the last prompt id must be fed for its logits */
    s->n_fed = reuse_prefix(s, env, k);
    pthread_mutex_lock(&job->mu);
    job->n_cached = (uint32_t)s->n_fed;
    pthread_mutex_unlock(&job->mu);
    atomic_fetch_add(&env->metrics->prompt_tokens_cached, s->n_fed);
    srv_stop_init(&s->stop, job->gp.stop, job->gp.n_stop);
    uint32_t n_vocab = pdvm_model_hparams(env->model)->n_vocab;
    pdvm_status st = pdvm_sampler_create(&job->gp.sp, n_vocab, &s->smp);
    if (st == PDVM_OK) st = pdvm_detok_create(env->model, false, &s->detok);
    if (st == PDVM_OK) st = prime(s, job);
    if (st != PDVM_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "setting up the slot: %s", pdvm_last_error());
        srv_slot_release(s, env, SRV_FINISH_ERROR, msg);
    }
    return st;
}

srv_runner_item srv_slot_item(const srv_slot *s, const srv_slot_env *env)
{
    if (s->decoding) return (srv_runner_item){s->id, &s->next, 1, NULL};
    size_t left = s->job->n_prompt - s->n_fed;
    uint32_t n = left > env->n_batch ? env->n_batch : (uint32_t)left;
    return (srv_runner_item){s->id, s->job->prompt + s->n_fed, n, NULL};
}

/* Released text to the job; false when memory ran out. */
static bool emit(srv_slot *s, const char *text, size_t len)
{
    return len == SIZE_MAX ? false : srv_job_append(s->job, text, len);
}

/* Generation ends without a stop string: the detokenizer's held bytes and
 * the matcher's held text go out (a stop string can still complete). */
static bool emit_rest(srv_slot *s, srv_finish *f)
{
    const char *t;
    size_t len;
    if (pdvm_detok_flush(s->detok, &t, &len) != PDVM_OK) return false;
    const char *r;
    size_t n;
    if (srv_stop_push(&s->stop, t, len, &r, &n)) {
        *f = SRV_FINISH_STOP;
        return emit(s, r, n);
    }
    if (!emit(s, r, n)) return false;
    srv_stop_flush(&s->stop, &r, &n);
    return emit(s, r, n);
}

static void set_n_gen(srv_job *job, uint32_t n)
{
    pthread_mutex_lock(&job->mu);
    job->n_gen = n;
    pthread_mutex_unlock(&job->mu);
}

/* One sampled id. Returns true when the job is finished. */
static bool take_token(srv_slot *s, const srv_slot_env *env, const float *logits)
{
    srv_job *job = s->job;
    int32_t tok = pdvm_sampler_sample(s->smp, logits);
    srv_finish f = SRV_FINISH_NONE;
    bool ok = true;
    if (!job->gp.ignore_eos && pdvm_token_is_eog(env->model, tok)) {
        f = SRV_FINISH_STOP;
        ok = emit_rest(s, &f);
    } else {
        pdvm_sampler_accept(s->smp, tok);
        uint32_t n_gen = job->n_gen + 1; /* only the engine writes n_gen */
        set_n_gen(job, n_gen);
        atomic_fetch_add(&env->metrics->tokens_predicted, 1);
        const char *piece = "", *r = "";
        size_t len = 0, n = 0;
        ok = pdvm_detok_push(s->detok, tok, &piece, &len) == PDVM_OK;
        if (ok && srv_stop_push(&s->stop, piece, len, &r, &n)) f = SRV_FINISH_STOP;
        ok = ok && emit(s, r, n);
        if (f == SRV_FINISH_NONE &&
            ((job->gp.max_tokens >= 0 && n_gen >= (uint32_t)job->gp.max_tokens) ||
             s->n_cache + 1 > env->n_ctx)) {
            f = SRV_FINISH_LENGTH;
            ok = ok && emit_rest(s, &f);
        }
        s->next = tok;
        s->decoding = true;
    }
    if (!ok) f = SRV_FINISH_ERROR;
    if (f == SRV_FINISH_NONE) return false;
    srv_slot_release(s, env, f, ok ? NULL : "out of memory");
    return true;
}

bool srv_slot_advance(srv_slot *s, const srv_slot_env *env, const srv_runner_item *item)
{
    if (!cache_push(s, item->tokens, item->n)) {
        srv_slot_forget(s, env);
        srv_slot_release(s, env, SRV_FINISH_ERROR, "out of memory");
        return true;
    }
    if (!s->decoding) {
        s->n_fed += item->n;
        atomic_fetch_add(&env->metrics->prompt_tokens, item->n);
        if (s->n_fed < s->job->n_prompt) return false;
    }
    return take_token(s, env, item->logits);
}

void srv_slot_release(srv_slot *s, const srv_slot_env *env, srv_finish f, const char *error)
{
    srv_job *job = s->job;
    if (!job) return;
    srv_job_finish(job, f, error);
    size_t k = f == SRV_FINISH_STOP ? 0 : f == SRV_FINISH_LENGTH ? 1
             : f == SRV_FINISH_CANCELLED ? 2 : 3;
    atomic_fetch_add(&env->metrics->finished[k], 1);
    if (f == SRV_FINISH_CANCELLED) atomic_fetch_add(&env->metrics->cancelled, 1);
    srv_job_notify(job);
    srv_job_unref(job);
    s->job = NULL;
    s->decoding = false;
    pdvm_sampler_free(s->smp);
    pdvm_detok_free(s->detok);
    s->smp = NULL;
    s->detok = NULL;
}

void srv_slot_forget(srv_slot *s, const srv_slot_env *env)
{
    srv_runner_reset(env->runner, s->id);
    s->n_cache = 0;
}

void srv_slot_free(srv_slot *s)
{
    pdvm_sampler_free(s->smp);
    pdvm_detok_free(s->detok);
    srv_stop_free(&s->stop);
    free(s->cache);
}
