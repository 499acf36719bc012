/* KV-cache plan: each layer's cache in slabs of whole positions, packed
 * into buffers of at most the block limit (see gpu_plan.h). */
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
        out->buf_bytes[s->buf] = pdvm_align_up(arena.used, 16);
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
