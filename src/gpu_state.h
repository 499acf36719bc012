/* The GPU backend's session state: context, kernels, the memory plans,
 * their buffers and the planned chains. Shared by the backend
 * (backend_gpu.c), the upload (gpu_upload.c), the buffers (gpu_buffers.c),
 * the chains (gpu_chain*.c) and the tests. */
#ifndef PDVM_GPU_STATE_H
#define PDVM_GPU_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "gl_runtime.h"
#include "gpu_chain.h"
#include "gpu_kernels.h"
#include "gpu_ops.h"
#include "gpu_plan.h"
#include "model.h"
#include "pdvm.h"
#include "rope.h"

/* Attention splits the context into chunks of at least
 * gpu_kernels.attn_min_chunk positions, and at most GPU_ATTN_MAX_CHUNKS of
 * them, while the combine reads every chunk's partial. */
enum { GPU_ATTN_MAX_CHUNKS = 16 };

typedef struct gpu_state {
    const pdvm_model *m;
    pdvm_gl *gl;
    bool own_gl;
    gpu_kernels k;
    uint64_t block;          /* SSBO block limit the plans use */
    uint32_t n_ctx, n_seq;   /* positions of each sequence, sequences */
    bool unfused, verbose;
    gpu_weight_plan wp;
    pdvm_gl_buffer *wbufs;
    gpu_kv_plan kvp;
    pdvm_gl_buffer *kbufs, *vbufs;
    gpu_act_plan ap;
    pdvm_gl_buffer act;
    uint32_t max_chunks;
    gpu_score_plan sp;       /* unfused only; buffers made on first use */
    pdvm_gl_buffer *sbufs;
    float *cs;               /* host RoPE cos/sin of one position */
    pdvm_rope_cfg rope[2];   /* RoPE of full-attention layers, of sliding-window ones */
    float *rope_factors;     /* their frequency factors, n_rot / 2 each */
    bool rope_swa;           /* window layers have their own table (ap.cs_swa) */
    uint64_t eval_dispatches;
    gpu_chain fused, unfused_chain; /* planned when first used */
    struct gpu_batch *batch;        /* the batched path's buffers (gpu_chain_batch.h) */
    bool no_batch;                  /* every batch token by token (PDVM_BATCH=0) */
    uint32_t batch_min;             /* fewer tokens go token by token (tests lower it) */
    bool poison_batch;              /* tests: NaN over the batch buffer's per-pass part
                                     * before each pass, so a value read unwritten shows */
    pdvm_progress_fn progress;
    void *progress_user;
} gpu_state;

/* Create on gl (NULL: open a context on params->platform, owned by the
 * state). n_ctx resolved by the caller; params->n_seq sequences (0 or no
 * params: one). */
pdvm_status gpu_state_create(pdvm_gl *gl, const pdvm_model *m, const pdvm_session_params *p,
                             uint32_t n_ctx, gpu_state **out);
void gpu_state_free(gpu_state *s);

/* Evaluate a resolved batch (backend.h): batched when it has several
 * tokens and the architecture allows, else token by token; logits rows
 * (n_vocab floats each) are read back as their tokens finish. */
pdvm_status gpu_state_decode(gpu_state *s, const pdvm_batch_token *t, size_t n, float *logits);
/* Evaluate tokens of sequence 0 at positions pos.. and read the last one's
 * logits (n_vocab floats) when logits is not NULL. */
pdvm_status gpu_state_eval(gpu_state *s, const int32_t *tokens, size_t n, uint32_t pos,
                           float *logits);
/* pdvm_backend_ops.seq_truncate: whether the rings still hold the window. */
pdvm_status gpu_state_seq_truncate(const gpu_state *s, uint32_t seq, uint32_t cur, uint32_t pos);

/* gpu_chain_run.c: the RoPE configurations of the session (before the
 * first chain runs); the act offset of layer l's table. */
void gpu_rope_init(gpu_state *s);
uint32_t gpu_layer_cs(const gpu_state *s, uint32_t l);

/* The chain evals use now (planned and built on first use). */
pdvm_status gpu_state_chain(gpu_state *s, gpu_chain **out);

/* gpu_upload.c: the weight buffers, weights uploaded in their block format
 * (synthetic tensors, data == NULL, filled on the GPU); progress reported
 * through s->progress. gpu_buffers.c: the KV-cache, activation and (for the
 * unfused chain) score buffers, and the release of all of them. */
pdvm_status gpu_upload_weights(gpu_state *s);
pdvm_status gpu_alloc_kv_act(gpu_state *s);
pdvm_status gpu_alloc_scores(gpu_state *s);
void gpu_release_buffers(gpu_state *s);

#endif
