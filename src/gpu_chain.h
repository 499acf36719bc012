/* A chain: every dispatch of one token through the model, resolved when the
 * session is made. Steps whose values depend on the token or position say
 * so by their kind; gpu_chain_run patches those (KV slab and position,
 * attention chunks, the embedding row) and runs the steps in order, so a
 * decode step sets values and dispatches, nothing else. */
#ifndef PDVM_GPU_CHAIN_H
#define PDVM_GPU_CHAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gpu_kernels.h"
#include "gpu_ops.h"
#include "gpu_plan.h"
#include "pdvm.h"

typedef enum gpu_step_kind {
    GPU_STEP_STATIC = 0, /* nothing changes per token */
    GPU_STEP_EMBD,       /* one embedding part: runs when it holds the token */
    GPU_STEP_QKV,        /* D1: the slab holding pos, the position in it */
    GPU_STEP_ATTN,       /* D2 over one slab: positions, chunks, partial slots */
    GPU_STEP_COMBINE,    /* D3: how many partial slots the layer's D2 wrote */
    GPU_STEP_KV_WRITE,   /* unfused: the slab holding pos */
    GPU_STEP_SCORES,     /* unfused, over one slab */
    GPU_STEP_SOFTMAX,    /* unfused: positions 0..pos */
    GPU_STEP_WSUM,       /* unfused, over one slab */
} gpu_step_kind;

typedef struct gpu_chain_step {
    gpu_step st;
    gpu_step_kind kind;
    uint32_t layer;
    bool output;               /* part of the final norm + output projection */
    bool end_of_layer;         /* GL errors are checked after it */
    const char *what;          /* the fused step it is ("D1", "output", ...) */
    const gpu_kv_slab *slab;   /* ATTN, SCORES, WSUM */
    const gpu_part *part;      /* EMBD */
    uint64_t row_bytes;        /* EMBD */
} gpu_chain_step;

typedef struct gpu_chain {
    gpu_chain_step *steps;
    uint32_t n, cap;
    bool planned;
} gpu_chain;

struct gpu_state;

/* Plan the fused (gpu_chain.c) or unfused (gpu_chain_unfused.c) chain of
 * state s into c, registering its programs (built by the caller with
 * gpu_kernels_build). Errors: PDVM_ERR_UNSUPPORTED, PDVM_ERR_GPU,
 * PDVM_ERR_NOMEM. */
pdvm_status gpu_chain_plan_fused(struct gpu_state *s, gpu_chain *c);
pdvm_status gpu_chain_plan_unfused(struct gpu_state *s, gpu_chain *c);
void gpu_chain_free(gpu_chain *c);

/* gpu_chain.c: whether m's residual updates are post-normed (Gemma 2/3;
 * the weight plan has then checked every layer has both post-norms). */
bool gpu_chain_post_norms(const pdvm_model *m);

/* gpu_chain.c: pieces both plans use. The embedding (one step per part of
 * the group holding token_embd's rows), and one mat-vec step per part of
 * group g from the template a (weights filled in per part). */
pdvm_status gpu_chain_plan_embed(struct gpu_state *s, gpu_chain *c);
pdvm_status gpu_chain_plan_group(struct gpu_state *s, gpu_chain *c, const gpu_group *g,
                                 gpu_mv_args a, gpu_step_kind kind, uint32_t layer,
                                 const char *what);

/* gpu_chain_run.c: a new step at the end of c (zeroed but for kind, layer
 * and what). Errors: PDVM_ERR_NOMEM. */
pdvm_status gpu_chain_add_step(gpu_chain *c, gpu_step_kind kind, uint32_t layer,
                               const char *what, gpu_chain_step **out);
/* One token at pos of sequence seq through chain c: RoPE table, patches
 * (the chain is planned on sequence 0's KV slabs; another sequence's are
 * patched in), dispatches; the output steps only when want_logits. */
pdvm_status gpu_chain_run(struct gpu_state *s, gpu_chain *c, int32_t token, uint32_t seq,
                          uint32_t pos, bool want_logits);
/* The plan as text, one line a dispatch (layer, step, program, grid), for
 * `pdvm run -v`. */
void gpu_chain_print(const gpu_chain *c, FILE *f);

#endif
