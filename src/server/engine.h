/* The engine thread: it loads the model, creates the slots' sessions (the
 * GL contexts live on this thread, see pdvm.h), and advances every busy
 * slot one step at a time, taking queued requests into free slots between
 * steps. HTTP threads hand it jobs through a bounded queue and cancel
 * them; everything else it does on its own thread. */
#ifndef PDVM_SRV_ENGINE_H
#define PDVM_SRV_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "job.h"
#include "metrics.h"
#include "pdvm.h"

typedef struct srv_engine_params {
    const char *model_path;
    pdvm_model_params mp;
    pdvm_session_params sp;  /* n_ctx: positions per slot */
    uint32_t n_slots;        /* -np */
    uint32_t max_queue;      /* requests that may wait for a slot */
    uint32_t n_batch;        /* prompt ids a slot feeds in one step */
    int notify_fd;           /* eventfd written once loading ends (ready or failed) */
    bool verbose;
} srv_engine_params;

typedef enum srv_state { SRV_LOADING = 0, SRV_READY, SRV_FAILED, SRV_STOPPED } srv_state;

typedef struct srv_engine srv_engine;

/* An engine in SRV_LOADING that has not started: the HTTP listener can
 * answer "loading" before anything is read. The metrics must outlive the
 * engine. Errors: PDVM_ERR_NOMEM. */
pdvm_status srv_engine_new(const srv_engine_params *p, srv_metrics *metrics, srv_engine **out);
/* Start the engine thread, which loads the model and the sessions and then
 * serves. Errors: PDVM_ERR_NOMEM (no thread). */
pdvm_status srv_engine_run(srv_engine *e);

srv_state srv_engine_state(const srv_engine *e);
/* After SRV_FAILED: the load's status and message. */
pdvm_status srv_engine_load_error(const srv_engine *e, const char **msg);
/* After SRV_READY: the model (read-only, shared with the HTTP threads, see
 * pdvm.h) and the positions of one slot. */
const pdvm_model *srv_engine_model(const srv_engine *e);
uint32_t srv_engine_n_ctx(const srv_engine *e);

typedef enum srv_submit {
    SRV_SUBMIT_OK = 0,
    SRV_SUBMIT_FULL,      /* every slot busy and the queue full */
    SRV_SUBMIT_NOT_READY, /* loading, failed or stopped */
} srv_submit;

/* Queue a job (the engine takes its own reference). On SRV_SUBMIT_FULL,
 * *retry_after_s gets an estimate of when a slot frees up (>= 1). */
srv_submit srv_engine_submit(srv_engine *e, srv_job *job, unsigned *retry_after_s);

/* The client is gone: a queued job is dropped now, a running one at the
 * engine's next step (before it computes anything more for it). */
void srv_engine_cancel(srv_engine *e, srv_job *job);

/* Stop the thread: queued and running jobs finish with an error, the
 * sessions are freed on the engine thread. The model stays open for HTTP
 * threads still running. Returns after the thread has ended. */
void srv_engine_shutdown(srv_engine *e);
/* After srv_engine_shutdown and once no HTTP thread uses the model (also
 * for an engine that never ran). */
void srv_engine_free(srv_engine *e);

#endif
