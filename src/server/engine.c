#include "engine.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "runner.h"
#include "slot.h"

struct srv_engine {
    srv_engine_params p;
    srv_metrics *metrics;
    pthread_t thread;
    bool running;          /* the thread was started */
    atomic_int state;
    pdvm_status load_status;
    char load_error[512];
    pdvm_model *model;
    uint32_t n_ctx;
    pdvm_cli_progress progress;

    /* Under mu: the queue (a ring), the busy count, the stop request and
     * the running average of a request's time in a slot; which job each
     * slot holds (compared, never dereferenced) and the busy slots whose
     * job was cancelled but not yet dropped, which count as free for a
     * new request (it is served at the next step). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job **queue;       /* ring of q_cap = max_queue + n_slots */
    size_t q_head, q_len, q_cap;
    uint32_t n_busy;
    const srv_job **held;  /* [n_slots] */
    bool *cancel_counted;  /* [n_slots] */
    uint32_t n_cancelling;
    bool stop;
    double avg_job_s;

    /* Engine thread only. */
    srv_runner *runner;
    srv_slot *slots;
    double *t_begin;       /* per slot: when its job started */
    srv_runner_item *items;
    uint32_t *item_slot;
    srv_slot_env env;
    uint64_t step;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void notify_loaded(srv_engine *e, srv_state st)
{
    atomic_store(&e->state, st);
    uint64_t one = 1;
    if (e->p.notify_fd >= 0 && write(e->p.notify_fd, &one, sizeof one) < 0) {
        /* the main thread then sees the state at its next look */
    }
}

static bool load(srv_engine *e)
{
    pdvm_status st = pdvm_model_load(e->p.model_path, &e->p.mp, &e->model);
    if (st == PDVM_OK) {
        pdvm_session_params sp = e->p.sp;
        sp.progress = pdvm_cli_progress_cb;
        sp.progress_user = &e->progress;
        st = srv_runner_create(e->model, &sp, e->p.n_slots, &e->runner);
        if (st != PDVM_OK)
            snprintf(e->load_error, sizeof e->load_error, "creating the sessions: %s",
                     pdvm_last_error());
    } else {
        snprintf(e->load_error, sizeof e->load_error, "%s", pdvm_last_error());
    }
    e->load_status = st;
    if (st != PDVM_OK) return false;
    e->n_ctx = srv_runner_n_ctx(e->runner);
    e->slots = calloc(e->p.n_slots, sizeof *e->slots);
    e->t_begin = calloc(e->p.n_slots, sizeof *e->t_begin);
    e->items = calloc(e->p.n_slots, sizeof *e->items);
    e->item_slot = calloc(e->p.n_slots, sizeof *e->item_slot);
    if (!e->slots || !e->t_begin || !e->items || !e->item_slot) {
        srv_runner_free(e->runner); /* on this thread, where its contexts live */
        e->runner = NULL;
        e->load_status = PDVM_ERR_NOMEM;
        snprintf(e->load_error, sizeof e->load_error, "out of memory for %u slots",
                 e->p.n_slots);
        return false;
    }
    for (uint32_t i = 0; i < e->p.n_slots; i++) e->slots[i].id = i;
    e->env = (srv_slot_env){e->model, e->runner, e->metrics, e->n_ctx, e->p.n_batch};
    return true;
}

/* llama-server's choice: the idle slot whose cache shares the longest
 * prefix with the prompt when that prefix is over a tenth of the prompt
 * (its slot_prompt_similarity, 0.1), else the one idle the longest, so an
 * unrelated prompt (sharing only BOS) does not evict a cached one. */
static srv_slot *pick_slot(srv_engine *e, const srv_job *job)
{
    srv_slot *similar = NULL, *oldest = NULL;
    size_t best_k = 0;
    for (uint32_t i = 0; i < e->p.n_slots; i++) {
        srv_slot *s = &e->slots[i];
        if (s->job) continue;
        size_t k = srv_slot_common_prefix(s, job->prompt, job->n_prompt);
        if (10 * k > job->n_prompt && k > best_k) {
            similar = s;
            best_k = k;
        }
        if (!oldest || s->last_used < oldest->last_used) oldest = s;
    }
    return similar ? similar : oldest;
}

static srv_job *queue_at(const srv_engine *e, size_t i)
{
    return e->queue[(e->q_head + i) % e->q_cap];
}

static srv_job *queue_pop(srv_engine *e)
{
    srv_job *j = e->queue[e->q_head];
    e->q_head = (e->q_head + 1) % e->q_cap;
    e->q_len--;
    atomic_store(&e->metrics->queued, e->q_len);
    return j;
}

/* Remove job from the queue; false when it is not there. */
static bool queue_remove(srv_engine *e, const srv_job *job)
{
    for (size_t i = 0; i < e->q_len; i++) {
        if (queue_at(e, i) != job) continue;
        for (size_t k = i; k + 1 < e->q_len; k++)
            e->queue[(e->q_head + k) % e->q_cap] = queue_at(e, k + 1);
        e->q_len--;
        atomic_store(&e->metrics->queued, e->q_len);
        return true;
    }
    return false;
}

/* A job that never reached a slot. */
static void drop_unstarted(srv_engine *e, srv_job *job, srv_finish f, const char *error)
{
    srv_job_finish(job, f, error);
    atomic_fetch_add(&e->metrics->finished[f == SRV_FINISH_CANCELLED ? 2 : 3], 1);
    if (f == SRV_FINISH_CANCELLED) atomic_fetch_add(&e->metrics->cancelled, 1);
    srv_job_notify(job);
    srv_job_unref(job);
}

/* The busy-slot gauge: a cancelled job's slot counts as free from the
 * cancel on. Under mu. */
static void publish_busy(srv_engine *e)
{
    atomic_store(&e->metrics->slots_busy, e->n_busy - e->n_cancelling);
}

/* Jobs taken from the queue into the free slots; under mu. Returns how
 * many were written to out. */
static size_t take_queued(srv_engine *e, srv_job **out)
{
    size_t n = 0;
    while (e->q_len > 0 && e->n_busy < e->p.n_slots) {
        out[n++] = queue_pop(e);
        e->n_busy++;
    }
    publish_busy(e);
    return n;
}

/* n jobs left their slots (slot_left), job_s_sum seconds between them:
 * the running average a Retry-After is estimated from. */
static void slots_freed(srv_engine *e, uint32_t n, double job_s_sum)
{
    if (!n) return;
    pthread_mutex_lock(&e->mu);
    double avg = job_s_sum / n;
    e->avg_job_s = e->avg_job_s > 0 ? 0.8 * e->avg_job_s + 0.2 * avg : avg;
    pthread_mutex_unlock(&e->mu);
}

/* Slot id no longer holds a job (it may already be freed): one busy slot
 * less, and one cancelled slot less if it was counted as such. */
static void slot_left(srv_engine *e, uint32_t id)
{
    pthread_mutex_lock(&e->mu);
    e->n_busy--;
    e->held[id] = NULL;
    if (e->cancel_counted[id]) e->n_cancelling--;
    e->cancel_counted[id] = false;
    publish_busy(e);
    pthread_mutex_unlock(&e->mu);
}

static void admit(srv_engine *e, srv_job **jobs, size_t n)
{
    uint32_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        srv_slot *s = pick_slot(e, jobs[i]);
        e->t_begin[s->id] = now_s();
        pthread_mutex_lock(&e->mu);
        e->held[s->id] = jobs[i];
        pthread_mutex_unlock(&e->mu);
        if (srv_slot_begin(s, &e->env, jobs[i]) != PDVM_OK) {
            slot_left(e, s->id);
            failed++;
        }
    }
    slots_freed(e, failed, 0.0);
}

/* Cancelled jobs leave their slots before the step computes anything for
 * them. Returns how many slots were freed; their times go to *job_s. */
static uint32_t drop_cancelled(srv_engine *e, double *job_s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->p.n_slots; i++) {
        srv_slot *s = &e->slots[i];
        if (!s->job || !atomic_load(&s->job->cancel)) continue;
        srv_slot_release(s, &e->env, SRV_FINISH_CANCELLED, NULL);
        slot_left(e, i);
        s->last_used = e->step;
        *job_s += now_s() - e->t_begin[i];
        n++;
    }
    return n;
}

static void count_step(srv_engine *e, size_t n_items, bool prefill, double dt)
{
    atomic_fetch_add(&e->metrics->n_decode, 1);
    atomic_fetch_add(&e->metrics->busy_slot_steps, n_items);
    atomic_fetch_add(prefill ? &e->metrics->prompt_us : &e->metrics->predict_us,
                     (uint64_t)llround(dt * 1e6));
}

/* One forward pass for every busy slot, then sampling. */
static void step(srv_engine *e)
{
    double job_s = 0.0;
    uint32_t freed = drop_cancelled(e, &job_s);
    size_t n = 0;
    bool prefill = false;
    for (uint32_t i = 0; i < e->p.n_slots; i++) {
        srv_slot *s = &e->slots[i];
        if (!s->job) continue;
        prefill |= !s->decoding;
        e->items[n] = srv_slot_item(s, &e->env);
        e->item_slot[n++] = i;
    }
    if (n > 0) {
        size_t bad = n;
        double t0 = now_s();
        pdvm_status st = srv_runner_step(e->runner, e->items, n, &bad);
        count_step(e, n, prefill, now_s() - t0);
        e->step++;
        /* A failed batch computed nothing: the blamed slot's job ends, the
         * others run again at the next step, unchanged. */
        for (size_t k = 0; k < n; k++) {
            if (st != PDVM_OK && k != bad) continue;
            srv_slot *s = &e->slots[e->item_slot[k]];
            bool finished;
            if (st != PDVM_OK) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s", pdvm_last_error());
                srv_slot_forget(s, &e->env);
                srv_slot_release(s, &e->env, SRV_FINISH_ERROR, msg);
                finished = true;
            } else {
                finished = srv_slot_advance(s, &e->env, &e->items[k]);
            }
            if (finished) {
                slot_left(e, s->id);
                s->last_used = e->step;
                job_s += now_s() - e->t_begin[s->id];
                freed++;
            } else {
                srv_job_notify(s->job);
            }
        }
    }
    slots_freed(e, freed, job_s);
}

/* Every job still queued or running ends with an error. */
static void fail_all(srv_engine *e, const char *why)
{
    pthread_mutex_lock(&e->mu);
    while (e->q_len > 0) drop_unstarted(e, queue_pop(e), SRV_FINISH_ERROR, why);
    pthread_mutex_unlock(&e->mu);
    uint32_t n = 0;
    for (uint32_t i = 0; e->slots && i < e->p.n_slots; i++)
        if (e->slots[i].job) {
            srv_slot_release(&e->slots[i], &e->env, SRV_FINISH_ERROR, why);
            slot_left(e, i);
            n++;
        }
    slots_freed(e, n, 0.0);
}

static void run_loop(srv_engine *e)
{
    srv_job **taken = calloc(e->p.n_slots, sizeof *taken);
    if (!taken) return;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stop && e->q_len == 0 && e->n_busy == 0) pthread_cond_wait(&e->cv, &e->mu);
        bool stop = e->stop;
        size_t n = stop ? 0 : take_queued(e, taken);
        pthread_mutex_unlock(&e->mu);
        if (stop) break;
        admit(e, taken, n);
        step(e);
    }
    free(taken);
}

static void *engine_main(void *arg)
{
    srv_engine *e = arg;
    if (!load(e)) {
        notify_loaded(e, SRV_FAILED);
        return NULL;
    }
    if (e->p.verbose)
        fprintf(stderr, "pdvm serve: %u slot(s) of %u positions\n", e->p.n_slots, e->n_ctx);
    notify_loaded(e, SRV_READY);
    run_loop(e);
    atomic_store(&e->state, SRV_STOPPED);
    fail_all(e, "the server is shutting down");
    for (uint32_t i = 0; i < e->p.n_slots; i++) srv_slot_free(&e->slots[i]);
    srv_runner_free(e->runner); /* on this thread: its GL contexts live here */
    e->runner = NULL;
    return NULL;
}

pdvm_status srv_engine_new(const srv_engine_params *p, srv_metrics *metrics, srv_engine **out)
{
    *out = NULL;
    srv_engine *e = calloc(1, sizeof *e);
    if (!e) return PDVM_ERR_NOMEM;
    e->p = *p;
    e->metrics = metrics;
    e->q_cap = (size_t)p->max_queue + p->n_slots;
    e->queue = calloc(e->q_cap, sizeof *e->queue);
    e->held = calloc(e->p.n_slots, sizeof *e->held);
    e->cancel_counted = calloc(e->p.n_slots, sizeof *e->cancel_counted);
    if (!e->queue || !e->held || !e->cancel_counted) {
        free(e->queue);
        free(e->held);
        free(e->cancel_counted);
        free(e);
        return PDVM_ERR_NOMEM;
    }
    e->progress = (pdvm_cli_progress){.cmd = "serve"};
    atomic_init(&e->state, SRV_LOADING);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    *out = e;
    return PDVM_OK;
}

pdvm_status srv_engine_run(srv_engine *e)
{
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) return PDVM_ERR_NOMEM;
    e->running = true;
    return PDVM_OK;
}

srv_state srv_engine_state(const srv_engine *e)
{
    return (srv_state)atomic_load(&e->state);
}

pdvm_status srv_engine_load_error(const srv_engine *e, const char **msg)
{
    *msg = e->load_error;
    return e->load_status;
}

const pdvm_model *srv_engine_model(const srv_engine *e)
{
    return e->model;
}

uint32_t srv_engine_n_ctx(const srv_engine *e)
{
    return e->n_ctx;
}

srv_submit srv_engine_submit(srv_engine *e, srv_job *job, unsigned *retry_after_s)
{
    srv_submit r = SRV_SUBMIT_OK;
    pthread_mutex_lock(&e->mu);
    uint32_t idle = e->p.n_slots - e->n_busy + e->n_cancelling;
    if (e->stop || srv_engine_state(e) != SRV_READY) {
        r = SRV_SUBMIT_NOT_READY;
    } else if (e->q_len >= (size_t)e->p.max_queue + idle) {
        /* A slot frees up after about one request's time; the queue ahead
         * drains n_slots at a time. */
        double wait = e->avg_job_s * (double)(e->q_len + 1) / e->p.n_slots;
        *retry_after_s = wait < 1.0 ? 1u : wait > 3600.0 ? 3600u : (unsigned)ceil(wait);
        atomic_fetch_add(&e->metrics->rejected_busy, 1);
        r = SRV_SUBMIT_FULL;
    } else {
        srv_job_ref(job);
        e->queue[(e->q_head + e->q_len++) % e->q_cap] = job;
        atomic_store(&e->metrics->queued, e->q_len);
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return r;
}

void srv_engine_cancel(srv_engine *e, srv_job *job)
{
    atomic_store(&job->cancel, true);
    pthread_mutex_lock(&e->mu);
    if (queue_remove(e, job)) {
        drop_unstarted(e, job, SRV_FINISH_CANCELLED, NULL);
    } else {
        for (uint32_t i = 0; e->held && i < e->p.n_slots; i++)
            if (e->held[i] == job && !e->cancel_counted[i]) {
                e->cancel_counted[i] = true;
                e->n_cancelling++;
                publish_busy(e);
            }
    }
    pthread_mutex_unlock(&e->mu);
}

void srv_engine_shutdown(srv_engine *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    bool joined = e->stop;
    e->stop = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (!joined && e->running) pthread_join(e->thread, NULL);
}

void srv_engine_free(srv_engine *e)
{
    if (!e) return;
    srv_engine_shutdown(e);
    pdvm_model_close(e->model);
    free(e->slots);
    free(e->t_begin);
    free(e->items);
    free(e->item_slot);
    free(e->queue);
    free(e->held);
    free(e->cancel_counted);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}
