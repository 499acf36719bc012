/* One single-sequence session per slot: each slot its own KV cache and, on
 * the GPU, its own context (all on the engine thread). A step evaluates
 * the slots one after another. */
#include "runner.h"

#include <stdlib.h>

struct srv_runner {
    pdvm_session **sess;
    uint32_t n_slots;
};

pdvm_status srv_runner_create(pdvm_model *model, const pdvm_session_params *params,
                              uint32_t n_slots, srv_runner **out)
{
    *out = NULL;
    srv_runner *r = calloc(1, sizeof *r);
    if (r) r->sess = calloc(n_slots, sizeof *r->sess);
    if (!r || !r->sess) {
        free(r);
        return PDVM_ERR_NOMEM;
    }
    r->n_slots = n_slots;
    for (uint32_t i = 0; i < n_slots; i++) {
        pdvm_status st = pdvm_session_create(model, params, &r->sess[i]);
        if (st != PDVM_OK) {
            srv_runner_free(r);
            return st;
        }
    }
    *out = r;
    return PDVM_OK;
}

void srv_runner_free(srv_runner *r)
{
    if (!r) return;
    for (uint32_t i = 0; i < r->n_slots; i++) pdvm_session_free(r->sess[i]);
    free(r->sess);
    free(r);
}

uint32_t srv_runner_n_ctx(const srv_runner *r)
{
    return pdvm_session_n_ctx(r->sess[0]);
}

uint32_t srv_runner_pos(const srv_runner *r, uint32_t slot)
{
    return pdvm_session_pos(r->sess[slot]);
}

pdvm_status srv_runner_truncate(srv_runner *r, uint32_t slot, uint32_t pos)
{
    if (pos == pdvm_session_pos(r->sess[slot])) return PDVM_OK;
    if (pos == 0) {
        pdvm_session_reset(r->sess[slot]);
        return PDVM_OK;
    }
    return PDVM_ERR_UNSUPPORTED; /* a single-sequence session only resets */
}

void srv_runner_reset(srv_runner *r, uint32_t slot)
{
    pdvm_session_reset(r->sess[slot]);
}

pdvm_status srv_runner_step(srv_runner *r, srv_runner_item *items, size_t n, size_t *failed)
{
    for (size_t i = 0; i < n; i++) {
        pdvm_status st = pdvm_session_eval(r->sess[items[i].slot], items[i].tokens, items[i].n,
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
    pdvm_session_get_stats(r->sess[0], out);
    for (uint32_t i = 1; i < r->n_slots; i++) {
        pdvm_session_stats s;
        pdvm_session_get_stats(r->sess[i], &s);
        out->dispatches += s.dispatches;
        out->tokens += s.tokens;
        out->prefill_tokens += s.prefill_tokens;
        out->decode_tokens += s.decode_tokens;
        out->prefill_s += s.prefill_s;
        out->decode_s += s.decode_s;
        out->weight_mib += s.weight_mib;
        out->kv_mib += s.kv_mib;
        out->scratch_mib += s.scratch_mib;
    }
}
