/* KV-cache, activation and score plans (see gpu_plan.h). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gl_runtime.h"
#include "gpu_plan.h"

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Bytes of n_pos positions of one layer (all KV heads, f16). */
static uint64_t slab_bytes(const pdvm_hparams *hp, uint32_t n_pos)
{
    return (uint64_t)hp->n_head_kv * n_pos * hp->head_dim * 2;
}

pdvm_status gpu_plan_kv(const pdvm_hparams *hp, uint32_t n_ctx, uint64_t block, uint64_t align,
                        gpu_kv_plan *out)
{
    memset(out, 0, sizeof *out);
    out->n_ctx = n_ctx;
    uint64_t per_pos = slab_bytes(hp, 1);
    if (per_pos > block)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "GPU backend: one position of the KV cache (%llu "
                                               "bytes) exceeds the SSBO block limit (%llu)",
                         (unsigned long long)per_pos, (unsigned long long)block);
    /* A layer's cache is one slab when it fits a block, else it is cut into
     * slabs of whole positions. */
    uint64_t fit = block / per_pos;
    out->pos_per_slab = fit >= n_ctx ? n_ctx : (uint32_t)fit;
    out->slabs_per_layer = (n_ctx + out->pos_per_slab - 1) / out->pos_per_slab;
    size_t n_slabs = (size_t)hp->n_layer * out->slabs_per_layer;
    out->slabs = calloc(n_slabs ? n_slabs : 1, sizeof *out->slabs);
    out->buf_bytes = calloc(n_slabs ? n_slabs : 1, sizeof *out->buf_bytes);
    if (!out->slabs || !out->buf_bytes) {
        gpu_plan_kv_free(out);
        return pdvm_fail(PDVM_ERR_NOMEM, "GPU plan: %zu KV slabs", n_slabs);
    }
    pdvm_arena arena;
    pdvm_arena_init(&arena, align, block);
    for (size_t i = 0; i < n_slabs; i++) {
        gpu_kv_slab *s = &out->slabs[i];
        uint32_t k = (uint32_t)(i % out->slabs_per_layer);
        s->pos0 = k * out->pos_per_slab;
        s->n_pos = n_ctx - s->pos0 < out->pos_per_slab ? n_ctx - s->pos0 : out->pos_per_slab;
        uint64_t bytes = slab_bytes(hp, s->n_pos), off;
        if (out->n_bufs == 0 || !pdvm_arena_place(&arena, bytes, &off)) {
            pdvm_arena_init(&arena, align, block);
            pdvm_arena_place(&arena, bytes, &off);
            out->n_bufs++;
        }
        s->buf = out->n_bufs - 1;
        s->word = off / 4;
        out->buf_bytes[s->buf] = align_up(arena.used, 16);
    }
    for (uint32_t b = 0; b < out->n_bufs; b++) out->total_bytes += 2 * out->buf_bytes[b];
    return PDVM_OK;
}

void gpu_plan_kv_free(gpu_kv_plan *p)
{
    if (!p) return;
    free(p->slabs);
    free(p->buf_bytes);
    memset(p, 0, sizeof *p);
}

const gpu_kv_slab *gpu_kv_slab_at(const gpu_kv_plan *p, uint32_t layer, uint32_t pos)
{
    return &p->slabs[(size_t)layer * p->slabs_per_layer + pos / p->pos_per_slab];
}

pdvm_status gpu_plan_act(const pdvm_hparams *hp, uint32_t max_slots, uint64_t block,
                         gpu_act_plan *out)
{
    memset(out, 0, sizeof *out);
    const uint32_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    uint32_t at = 0;
#define TAKE(field, n) (out->field = at, at += (uint32_t)(n))
    TAKE(x, hp->n_embd);
    TAKE(xn, hp->n_embd);
    TAKE(q, q_dim);
    TAKE(k, kv_dim); /* right after q: see gpu_act_plan */
    TAKE(v, kv_dim);
    TAKE(att, q_dim);
    TAKE(tmp, hp->n_embd);
    TAKE(gate, hp->n_ff);
    TAKE(up, hp->n_ff);
    TAKE(h, hp->n_ff);
    TAKE(logits, hp->n_vocab);
    TAKE(cs, hp->n_rot ? hp->n_rot : 2);
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
