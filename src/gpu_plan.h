/* Memory plan of the GPU forward pass: which SSBO holds each weight row,
 * each KV-cache slab and each activation. Pure bookkeeping (no GL), so a
 * plan can be made for any model shape, also a synthetic one without a
 * file, and checked on the CPU.
 *
 * Weights stay in their GGUF block format. The tensors one dispatch reads
 * form a group, placed together: [attn_norm, attn_q, attn_k, attn_v],
 * [attn_output], [ffn_norm, ffn_gate, ffn_up], [ffn_down], [output_norm, output], and
 * [token_embd]. A group larger than the SSBO block limit is split by output
 * rows into parts that fit (QKV at head boundaries, so RoPE pairs stay in
 * one part); each part carries its own f32 copy of the vectors its
 * dispatch reads (gpu_vec_kind): the group's RMSNorm weights, the
 * post-norm of the residual update it applies first (Gemma 2/3: the
 * previous block's attn_post_norm or ffn_post_norm, applied by the
 * dispatch that next reads the residual), the Q/K norms and the biases of
 * the part's rows. Parts are packed into buffers of at most the block
 * limit. */
#ifndef PDVM_GPU_PLAN_H
#define PDVM_GPU_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pdvm.h"

enum { GPU_MAX_SEGS = 3 };
#define GPU_NO_VEC UINT64_MAX

/* The f32 vectors a part may carry. */
typedef enum gpu_vec_kind {
    GPU_V_NORM = 0, /* RMSNorm weights of the input, n_embd */
    GPU_V_POST,     /* post-norm of the pending residual update, n_embd */
    GPU_V_QNORM,    /* per-head RMSNorm of Q (attn_q_norm), head_dim */
    GPU_V_KNORM,    /* ... of K (attn_k_norm), head_dim */
    GPU_V_BIAS,     /* biases of the part's output rows (q|k|v), out1 - out0 */
    GPU_V_COUNT
} gpu_vec_kind;

typedef enum gpu_group_kind {
    GPU_G_QKV = 0,  /* out rows: q | k | v */
    GPU_G_O,        /* wo */
    GPU_G_FFN_UP,   /* out rows: n_ff, each with a gate and an up row */
    GPU_G_DOWN,     /* ffn_down */
    GPU_G_OUTPUT,   /* output_norm + output */
    GPU_G_EMBD,     /* token_embd */
} gpu_group_kind;

/* Rows [row0, row0 + n_rows) of tensor t, stored from byte off of the part's buffer. */
typedef struct gpu_seg {
    const pdvm_tensor *t;
    uint32_t row0, n_rows;
    uint64_t off;
} gpu_seg;

typedef struct gpu_part {
    uint32_t buf;        /* weight buffer index */
    uint64_t vec_off[GPU_V_COUNT]; /* byte offset of each f32 vector, GPU_NO_VEC when none */
    uint32_t out0, out1; /* output rows of the group in this part */
    gpu_seg seg[GPU_MAX_SEGS];
} gpu_part;

typedef struct gpu_group {
    gpu_group_kind kind;
    const pdvm_tensor *vec[GPU_V_COUNT];    /* NULL when none (GPU_V_BIAS: unused) */
    const pdvm_tensor *bias[GPU_MAX_SEGS];  /* QKV: q, k, v biases, NULL when none */
    bool has_bias;
    const pdvm_tensor *t[GPU_MAX_SEGS];     /* QKV: q,k,v; FFN_UP: gate, up; else one */
    uint32_t n_t;
    uint32_t n_out;                         /* output rows */
    uint32_t unit;                          /* parts split at multiples of this */
    uint32_t n_parts;
    gpu_part *parts;
} gpu_group;

/* Groups of layer l are groups[4l + kind] for kind QKV..DOWN; then OUTPUT,
 * then EMBD (absent when token_embd is the output tensor itself: the
 * embedding then reads the output group's rows). */
typedef struct gpu_weight_plan {
    gpu_group *groups;
    uint32_t n_groups;
    uint64_t *buf_bytes; /* size of each weight buffer */
    uint32_t n_bufs;
    uint64_t total_bytes;
    uint64_t align;
} gpu_weight_plan;

/* One KV slab: cache slots [pos0, pos0 + n_pos) of one layer of one
 * sequence, for all KV heads ([kv_head][slot][head_dim] f16), at word
 * `word` of buffer `buf`.
 * A slot is the position itself, or for a sliding-window layer (a ring of
 * n_swa slots) the position modulo n_swa. Unused slab entries of a layer
 * with fewer slabs have n_pos 0 and pos0 UINT32_MAX. */
typedef struct gpu_kv_slab {
    uint32_t buf;
    uint64_t word;
    uint32_t pos0, n_pos;
} gpu_kv_slab;

typedef struct gpu_kv_plan {
    uint32_t n_ctx;           /* positions of each sequence */
    uint32_t n_seq;
    uint32_t slabs_per_layer; /* the most any layer has */
    uint32_t pos_per_slab;
    size_t seq_slabs;   /* slabs of one sequence: n_layer * slabs_per_layer */
    uint32_t *held;     /* [layer]: slots kept: n_ctx, or a window's n_swa (a ring) */
    gpu_kv_slab *slabs; /* [seq * seq_slabs + layer * slabs_per_layer + s]: every
                         * sequence has the same slab shapes in its own memory;
                         * K and V use the same layout */
    uint64_t *buf_bytes;
    uint32_t n_bufs;    /* per cache (K and V have n_bufs each) */
    uint64_t total_bytes; /* K + V */
} gpu_kv_plan;

/* Activations: float offsets into one f32 buffer. q is followed by k (the
 * unfused RoPE rotates both in one pass). x2 is the second residual slot of
 * a model with post-norms (the fused chain alternates x and x2, see
 * gpu_chain.c); cs_swa the RoPE table of sliding-window layers; tmpq, tmpk
 * and tmp2 the unfused chain's inputs of the Q/K norms and post-norms. */
typedef struct gpu_act_plan {
    uint32_t x, x2, xn, q, k, v, att, tmp, tmp2, tmpq, tmpk, gate, up, h, logits, cs, cs_swa, part;
    uint32_t max_slots;  /* attention partial slots per head */
    uint32_t n_floats;
} gpu_act_plan;

/* Unfused attention scores: [head][n_ctx] f32, split over buffers by heads. */
typedef struct gpu_score_plan {
    uint32_t heads_per_buf;
    uint32_t n_bufs;
    uint64_t buf_bytes;  /* of each (the last may hold fewer heads) */
} gpu_score_plan;

/* Largest block the plans may use: the driver limit, kept below 2 GiB so
 * byte addresses fit the shaders' 32-bit uints. */
uint64_t gpu_block_limit(int64_t max_ssbo_bytes);

/* Plan the weights. align: piece alignment (power of two, >= 16).
 * Errors: PDVM_ERR_UNSUPPORTED (a type without a kernel, naming the type
 * and tensor; a shape the kernels cannot run; one head's or row's data
 * larger than the block limit), PDVM_ERR_NOMEM. */
pdvm_status gpu_plan_weights(const pdvm_model *m, uint64_t block, uint64_t align,
                             gpu_weight_plan *out);
void gpu_plan_weights_free(gpu_weight_plan *p);
/* Group `kind` of layer l (layer ignored for OUTPUT and EMBD). EMBD is the
 * group whose first segment holds the token_embd rows: OUTPUT when tied. */
gpu_group *gpu_plan_group(const gpu_weight_plan *p, uint32_t layer, gpu_group_kind kind);

/* The KV cache of model m for n_seq sequences of n_ctx positions:
 * sliding-window layers keep a ring of n_swa slots per sequence (Gemma 3
 * 1B at 8192 positions: a fraction of the full cache). Errors:
 * PDVM_ERR_UNSUPPORTED (one position over the block limit),
 * PDVM_ERR_NOMEM. */
pdvm_status gpu_plan_kv(const pdvm_model *m, uint32_t n_ctx, uint32_t n_seq, uint64_t block,
                        uint64_t align, gpu_kv_plan *out);
void gpu_plan_kv_free(gpu_kv_plan *p);
/* Sequence seq's slab in the place sequence 0's `slab` has (a chain is
 * planned on sequence 0's slabs and moved per token). */
const gpu_kv_slab *gpu_kv_seq_slab(const gpu_kv_plan *p, const gpu_kv_slab *slab, uint32_t seq);
/* Whether a sequence at position cur can continue at pos < cur: every
 * position a token at pos or later attends to is still in each layer's
 * ring. False sets *ring to the n_swa slots of a ring that lost them. */
bool gpu_kv_can_truncate(const gpu_kv_plan *p, uint32_t n_layer, uint32_t cur, uint32_t pos,
                         uint32_t *ring);
/* Sequence 0's: the slot of position pos in layer l, and the slab holding
 * that slot (gpu_kv_seq_slab for another sequence's). */
uint32_t gpu_kv_slot(const gpu_kv_plan *p, uint32_t layer, uint32_t pos);
const gpu_kv_slab *gpu_kv_slab_at(const gpu_kv_plan *p, uint32_t layer, uint32_t pos);
/* Slots a step at position pos attends to in layer l (all valid ones:
 * min(pos + 1, held)). */
uint32_t gpu_kv_valid(const gpu_kv_plan *p, uint32_t layer, uint32_t pos);

/* max_slots: attention partial slots per head (chunks over all KV slabs)
 * the activation buffer holds. */
pdvm_status gpu_plan_act(const pdvm_hparams *hp, uint32_t max_slots, uint64_t block,
                         gpu_act_plan *out);

pdvm_status gpu_plan_scores(const pdvm_hparams *hp, uint32_t n_ctx, uint64_t block,
                            gpu_score_plan *out);

#endif
