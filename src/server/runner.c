/* One slot on a single-sequence session (pdvm_session_eval): the public API
 * has no sessions of several sequences yet, and one session per slot would
 * upload the weights once per slot. When pdvm_session_decode arrives, the
 * slots become the sequences of one session and a step one decode call
 * over all of them; only this file changes (and serve.c's -np check). */
#include "runner.h"

#include <stdlib.h>

struct srv_runner {
    pdvm_session *sess;
};

pdvm_status srv_runner_create(pdvm_model *model, const pdvm_session_params *params,
                              uint32_t n_slots, srv_runner **out)
{
    *out = NULL;
    if (n_slots != 1) return PDVM_ERR_UNSUPPORTED; /* serve.c refuses -np > 1 first */
    srv_runner *r = calloc(1, sizeof *r);
    if (!r) return PDVM_ERR_NOMEM;
    pdvm_status st = pdvm_session_create(model, params, &r->sess);
    if (st != PDVM_OK) {
        free(r);
        return st;
    }
    *out = r;
    return PDVM_OK;
}

void srv_runner_free(srv_runner *r)
{
    if (!r) return;
    pdvm_session_free(r->sess);
    free(r);
}

uint32_t srv_runner_n_ctx(const srv_runner *r)
{
    return pdvm_session_n_ctx(r->sess);
}

uint32_t srv_runner_pos(const srv_runner *r, uint32_t slot)
{
    (void)slot;
    return pdvm_session_pos(r->sess);
}

pdvm_status srv_runner_truncate(srv_runner *r, uint32_t slot, uint32_t pos)
{
    (void)slot;
    if (pos == pdvm_session_pos(r->sess)) return PDVM_OK;
    if (pos == 0) {
        pdvm_session_reset(r->sess);
        return PDVM_OK;
    }
    return PDVM_ERR_UNSUPPORTED; /* a single-sequence session only resets */
}

void srv_runner_reset(srv_runner *r, uint32_t slot)
{
    (void)slot;
    pdvm_session_reset(r->sess);
}

pdvm_status srv_runner_step(srv_runner *r, srv_runner_item *items, size_t n, size_t *failed)
{
    for (size_t i = 0; i < n; i++) {
        pdvm_status st = pdvm_session_eval(r->sess, items[i].tokens, items[i].n,
                                           &items[i].logits);
        if (st != PDVM_OK) {
            *failed = i;
            return st;
        }
    }
    return PDVM_OK;
}

void srv_runner_stats(const srv_runner *r, pdvm_session_stats *out)
{
    pdvm_session_get_stats(r->sess, out);
}
