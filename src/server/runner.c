/* The slots are the sequences of one session (n_seq = slots): one GL
 * context, the weights shared, and a step is one pdvm_session_decode over
 * every listed slot's tokens, so the engine can batch them. */
#include "runner.h"

#include <stdlib.h>

struct srv_runner {
    pdvm_session *sess;
    int32_t *tokens;   /* the step's batch */
    uint32_t *seq;
    size_t cap;
};

pdvm_status srv_runner_create(pdvm_model *model, const pdvm_session_params *params,
                              uint32_t n_slots, srv_runner **out)
{
    *out = NULL;
    srv_runner *r = calloc(1, sizeof *r);
    if (!r) return PDVM_ERR_NOMEM;
    pdvm_session_params p = *params;
    p.n_seq = n_slots;
    pdvm_status st = pdvm_session_create(model, &p, &r->sess);
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
    free(r->tokens);
    free(r->seq);
    free(r);
}

uint32_t srv_runner_n_ctx(const srv_runner *r)
{
    return pdvm_session_n_ctx(r->sess);
}

uint32_t srv_runner_pos(const srv_runner *r, uint32_t slot)
{
    return pdvm_session_seq_pos(r->sess, slot);
}

pdvm_status srv_runner_truncate(srv_runner *r, uint32_t slot, uint32_t pos)
{
    return pdvm_session_seq_truncate(r->sess, slot, pos);
}

void srv_runner_reset(srv_runner *r, uint32_t slot)
{
    pdvm_session_seq_truncate(r->sess, slot, 0); /* position 0 always succeeds */
}

static bool reserve(srv_runner *r, size_t n)
{
    if (n <= r->cap) return true;
    size_t cap = 2 * n;
    int32_t *t = realloc(r->tokens, cap * sizeof *t);
    if (t) r->tokens = t;
    uint32_t *s = t ? realloc(r->seq, cap * sizeof *s) : NULL;
    if (s) r->seq = s;
    if (!t || !s) return false;
    r->cap = cap;
    return true;
}

/* The item a failed batch is blamed on; the engine ends that slot's job
 * and runs the others again. A refused batch changed nothing, so a slot
 * that would pass n_ctx is found from the positions; any other failure
 * computed nothing usable for anyone, and the first slot takes the blame. */
static size_t culprit(const srv_runner *r, const srv_runner_item *items, size_t n,
                      pdvm_status st)
{
    if (st != PDVM_ERR_CONTEXT_FULL) return 0;
    uint32_t n_ctx = pdvm_session_n_ctx(r->sess);
    for (size_t i = 0; i < n; i++)
        if ((uint64_t)pdvm_session_seq_pos(r->sess, items[i].slot) + items[i].n > n_ctx) return i;
    return 0;
}

pdvm_status srv_runner_step(srv_runner *r, srv_runner_item *items, size_t n, size_t *failed)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += items[i].n;
    *failed = 0;
    if (!reserve(r, total)) return PDVM_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < items[i].n; j++, k++) {
            r->tokens[k] = items[i].tokens[j];
            r->seq[k] = items[i].slot;
        }
    /* logits NULL: those of each sequence's last token, which is what a
     * slot samples from. */
    pdvm_batch b = {.tokens = r->tokens, .seq = r->seq, .logits = NULL, .n = total};
    pdvm_status st = pdvm_session_decode(r->sess, &b);
    if (st != PDVM_OK) {
        *failed = culprit(r, items, n, st);
        return st;
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        k += items[i].n;
        items[i].logits = pdvm_session_logits(r->sess, k - 1);
    }
    return PDVM_OK;
}

void srv_runner_stats(const srv_runner *r, pdvm_session_stats *out)
{
    pdvm_session_get_stats(r->sess, out);
}
