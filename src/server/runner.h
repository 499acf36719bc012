/* The forward passes behind the server's slots: each slot is a sequence
 * of one session, a KV cache of n_ctx positions; one step feeds every
 * listed slot its tokens (a prompt chunk or the one token it sampled last)
 * in one batch and yields the logits of each slot's last token. Lives on
 * the engine thread (GL contexts are thread-bound). */
#ifndef PDVM_SRV_RUNNER_H
#define PDVM_SRV_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

typedef struct srv_runner srv_runner;

/* Create n_slots slots of params->n_ctx positions each. Errors: those of
 * pdvm_session_create, PDVM_ERR_NOMEM. */
pdvm_status srv_runner_create(pdvm_model *model, const pdvm_session_params *params,
                              uint32_t n_slots, srv_runner **out);
void srv_runner_free(srv_runner *r);

uint32_t srv_runner_n_ctx(const srv_runner *r);
/* Positions filled in a slot's KV cache. */
uint32_t srv_runner_pos(const srv_runner *r, uint32_t slot);
/* Keep a slot's first pos positions, drop the rest. PDVM_ERR_UNSUPPORTED
 * when the engine cannot (the caller resets the slot and prefills again). */
pdvm_status srv_runner_truncate(srv_runner *r, uint32_t slot, uint32_t pos);
void srv_runner_reset(srv_runner *r, uint32_t slot);

typedef struct srv_runner_item {
    uint32_t slot;
    const int32_t *tokens;  /* n >= 1 ids, appended at the slot's position */
    uint32_t n;
    const float *logits;    /* out: n_vocab logits of the last token, valid
                             * until the next step */
} srv_runner_item;

/* One step over n items (distinct slots), all in one batch. Errors: those
 * of pdvm_session_decode; then no item was computed and *failed receives
 * the index of the item to blame (the one that would pass n_ctx, else 0). */
pdvm_status srv_runner_step(srv_runner *r, srv_runner_item *items, size_t n, size_t *failed);

/* Sum of the slots' session counters (dispatches, timings). */
void srv_runner_stats(const srv_runner *r, pdvm_session_stats *out);

#endif
