/* KV-cache plan: each sequence's cache of each layer in slabs of whole
 * positions, packed into buffers of at most the block limit (see
 * gpu_plan.h). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"
#include "arena.h"
#include "gpu_plan.h"

/* Bytes of n_pos positions of one layer (all KV heads, f16). */
static uint64_t slab_bytes(const pdvm_hparams *hp, uint32_t n_pos)
{
    return (uint64_t)hp->n_head_kv * n_pos * hp->head_dim * 2;
}

/* Slab bookkeeping of layer l of sequence seq holding `held` slots in
 * slabs of at most per_slab, placed in the buffers of the plan. */
static void place_layer(gpu_kv_plan *out, const pdvm_hparams *hp, uint32_t seq, uint32_t l,
                        uint32_t held, pdvm_arena *arena, uint64_t align, uint64_t block)
{
    for (uint32_t k = 0; k < out->slabs_per_layer; k++) {
        gpu_kv_slab *s = &out->slabs[seq * out->seq_slabs + (size_t)l * out->slabs_per_layer + k];
        s->pos0 = k * out->pos_per_slab;
        if (s->pos0 >= held) {
            *s = (gpu_kv_slab){0, 0, UINT32_MAX, 0};
            continue;
        }
        s->n_pos = held - s->pos0 < out->pos_per_slab ? held - s->pos0 : out->pos_per_slab;
        uint64_t bytes = slab_bytes(hp, s->n_pos), off;
        if (out->n_bufs == 0 || !pdvm_arena_place(arena, bytes, &off)) {
            pdvm_arena_init(arena, align, block);
            pdvm_arena_place(arena, bytes, &off); /* fits: one slab is at most a block */
            out->n_bufs++;
        }
        s->buf = out->n_bufs - 1;
        s->word = off / 4;
        out->buf_bytes[s->buf] = pdvm_align_up(arena->used, 16);
    }
}

pdvm_status gpu_plan_kv(const pdvm_model *m, uint32_t n_ctx, uint32_t n_seq, uint64_t block,
                        uint64_t align, gpu_kv_plan *out)
{
    const pdvm_hparams *hp = &m->hp;
    memset(out, 0, sizeof *out);
    out->n_ctx = n_ctx;
    out->n_seq = n_seq;
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
    out->seq_slabs = (size_t)hp->n_layer * out->slabs_per_layer;
    size_t n_slabs = n_seq * out->seq_slabs;
    out->slabs = calloc(n_slabs ? n_slabs : 1, sizeof *out->slabs);
    out->buf_bytes = calloc(n_slabs ? n_slabs : 1, sizeof *out->buf_bytes);
    out->held = calloc(hp->n_layer ? hp->n_layer : 1, sizeof *out->held);
    if (!out->slabs || !out->buf_bytes || !out->held) {
        gpu_plan_kv_free(out);
        return pdvm_fail(PDVM_ERR_NOMEM, "GPU plan: %zu KV slabs", n_slabs);
    }
    pdvm_arena arena;
    pdvm_arena_init(&arena, align, block);
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        bool ring = hp->n_swa > 0 && m->ap.swa[l] && hp->n_swa < n_ctx;
        out->held[l] = ring ? hp->n_swa : n_ctx;
    }
    for (uint32_t q = 0; q < n_seq; q++)
        for (uint32_t l = 0; l < hp->n_layer; l++)
            place_layer(out, hp, q, l, out->held[l], &arena, align, block);
    for (uint32_t b = 0; b < out->n_bufs; b++) out->total_bytes += 2 * out->buf_bytes[b];
    return PDVM_OK;
}

void gpu_plan_kv_free(gpu_kv_plan *p)
{
    if (!p) return;
    free(p->slabs);
    free(p->buf_bytes);
    free(p->held);
    memset(p, 0, sizeof *p);
}

uint32_t gpu_kv_slot(const gpu_kv_plan *p, uint32_t layer, uint32_t pos)
{
    return pos % p->held[layer];
}

const gpu_kv_slab *gpu_kv_slab_at(const gpu_kv_plan *p, uint32_t layer, uint32_t pos)
{
    uint32_t slot = gpu_kv_slot(p, layer, pos);
    return &p->slabs[(size_t)layer * p->slabs_per_layer + slot / p->pos_per_slab];
}

uint32_t gpu_kv_valid(const gpu_kv_plan *p, uint32_t layer, uint32_t pos)
{
    return pos + 1 < p->held[layer] ? pos + 1 : p->held[layer];
}

const gpu_kv_slab *gpu_kv_seq_slab(const gpu_kv_plan *p, const gpu_kv_slab *slab, uint32_t seq)
{
    return slab + seq * p->seq_slabs;
}

bool gpu_kv_can_truncate(const gpu_kv_plan *p, uint32_t n_layer, uint32_t cur, uint32_t pos,
                         uint32_t *ring)
{
    for (uint32_t l = 0; l < n_layer; l++) {
        uint32_t held = p->held[l];
        /* Position p' sits in slot p' % held until p' + held is written: the
         * ring holds [cur - held, cur). The token at pos attends to
         * [pos + 1 - held, pos), whose first entry survived only when
         * pos + 1 >= cur. */
        if (held >= p->n_ctx || cur <= held || pos == 0 || pos + 1 >= cur) continue;
        *ring = held;
        return false;
    }
    return true;
}
