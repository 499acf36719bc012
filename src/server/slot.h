/* One slot: a KV cache region of the runner and the request it serves.
 * Engine thread only. A slot keeps the ids of its cache after a request
 * ends, so the next request that starts with the same ids (a multi-turn
 * chat sending its history again) prefills only what is new
 * (llama-server's prompt cache). */
#ifndef PDVM_SRV_SLOT_H
#define PDVM_SRV_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "metrics.h"
#include "runner.h"
#include "stop.h"

/* What the slots share: the model, the runner and the counters. */
typedef struct srv_slot_env {
    const pdvm_model *model;
    srv_runner *runner;
    srv_metrics *metrics;
    uint32_t n_ctx;       /* positions per slot */
    uint32_t n_batch;     /* prompt ids fed to one slot in one step */
} srv_slot_env;

typedef struct srv_slot {
    uint32_t id;
    srv_job *job;         /* NULL: idle */
    int32_t *cache;       /* the ids in the slot's KV cache, in order */
    size_t n_cache, cap;
    size_t n_fed;         /* ids of the job's prompt in the cache */
    int32_t next;         /* the sampled id to feed next */
    bool decoding;        /* the prompt is in; next is what the step feeds */
    uint64_t last_used;   /* engine step the slot last finished a job at */
    pdvm_sampler *smp;
    pdvm_detok *detok;
    srv_stop stop;
} srv_slot;

/* Ids at the start of prompt that the slot's cache holds. */
size_t srv_slot_common_prefix(const srv_slot *s, const int32_t *prompt, size_t n);

/* Take a job (its reference moves to the slot): reuse the cached prefix
 * (at most n_prompt - 1 ids, so that the prompt's last id is fed and gives
 * logits), set up its sampler, detokenizer and stop strings. On failure
 * the job is finished with an error and released. */
pdvm_status srv_slot_begin(srv_slot *s, const srv_slot_env *env, srv_job *job);

/* The ids the next step feeds the slot: a prompt chunk or the last sample. */
srv_runner_item srv_slot_item(const srv_slot *s, const srv_slot_env *env);

/* After a step fed `item`: record the ids as cached; once the whole prompt
 * is in, sample from the logits and emit the text. Returns true when the
 * job has finished (the caller releases the slot). */
bool srv_slot_advance(srv_slot *s, const srv_slot_env *env, const srv_runner_item *item);

/* Finish the job with f (and error) unless finished, count it, wake its
 * waiter, and return the slot to idle. The cache ids stay. */
void srv_slot_release(srv_slot *s, const srv_slot_env *env, srv_finish f, const char *error);

/* The step failed for this slot: its cache is no longer known. */
void srv_slot_forget(srv_slot *s, const srv_slot_env *env);

void srv_slot_free(srv_slot *s);

#endif
