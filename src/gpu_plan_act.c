/* Activation and unfused-score plans (see gpu_plan.h): offsets in the one
 * f32 activation buffer, and how the score rows split over buffers. */
#include <string.h>

#include "error.h"
#include "gpu_plan.h"

pdvm_status gpu_plan_act(const pdvm_hparams *hp, uint32_t max_slots, uint64_t block,
                         gpu_act_plan *out)
{
    memset(out, 0, sizeof *out);
    const uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    uint32_t at = 0;
#define TAKE(field, n) (out->field = at, at += (uint32_t)(n))
    TAKE(x, hp->n_embd);
    TAKE(x2, hp->n_embd);
    TAKE(xn, hp->n_embd);
    TAKE(q, q_dim);
    TAKE(k, kv_dim); /* right after q: see gpu_act_plan */
    TAKE(v, kv_dim);
    TAKE(att, q_dim);
    TAKE(tmp, hp->n_embd);
    TAKE(tmp2, hp->n_embd);
    TAKE(tmpq, q_dim);
    TAKE(tmpk, kv_dim);
    TAKE(gate, hp->n_ff);
    TAKE(up, hp->n_ff);
    TAKE(h, hp->n_ff);
    TAKE(logits, hp->n_vocab);
    TAKE(cs, hp->n_rot ? hp->n_rot : 2);
    TAKE(cs_swa, hp->n_rot ? hp->n_rot : 2);
    TAKE(part, (uint64_t)hp->n_head * max_slots * (hp->head_dim + 2));
#undef TAKE
    out->max_slots = max_slots;
    out->n_floats = at;
    if ((uint64_t)at * 4 > block)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: the activations (%u floats) exceed "
                                               "the SSBO block limit (%llu bytes)", at,
                         (unsigned long long)block);
    return PDVM_OK;
}

pdvm_status gpu_plan_scores(const pdvm_hparams *hp, uint32_t n_ctx, uint64_t block,
                            gpu_score_plan *out)
{
    uint64_t per_head = (uint64_t)n_ctx * 4;
    if (per_head > block)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend (unfused): the scores of one head "
                                               "over n_ctx %u exceed the SSBO block limit (%llu "
                                               "bytes)", n_ctx, (unsigned long long)block);
    uint64_t fit = block / per_head;
    out->heads_per_buf = fit >= hp->n_head ? hp->n_head : (uint32_t)fit;
    out->n_bufs = (hp->n_head + out->heads_per_buf - 1) / out->heads_per_buf;
    out->buf_bytes = per_head * out->heads_per_buf;
    return PDVM_OK;
}
