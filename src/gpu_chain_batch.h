/* The batched (prefill) forward pass of the GPU backend: a batch of
 * tokens goes through each layer as mat-mat products (matmul.comp: every
 * weight row read once for the whole batch), a RoPE + KV-write pass and
 * causal attention over the cache (attn_batch.comp), instead of one
 * decode-chain pass per token. A batch may hold tokens of several
 * sequences (a server step: one token of each busy slot, prompt chunks of
 * others): each one's K/V go to its sequence's KV slabs and its attention
 * reads only them. Only the logits rows asked for are computed.
 *
 * Coverage (gpu_batch_supported, the one place that decides): RMSNorm,
 * Q/K/V with or without biases but without Q/K norms, RoPE of either pair
 * layout (PDVM_ROPE_NORM or NEOX; partial n_rot and frequency factors
 * through the host's cos/sin tables),
 * grouped-query attention at 1/sqrt(head_dim) or the model's scale without
 * soft-capping or sliding windows, SwiGLU, no post-norms, no embedding
 * scale, no final soft-cap: Llama-style models. Anything else runs token
 * by token on the decode chain, so nothing is ever computed another way
 * than the architecture asks. */
#ifndef PDVM_GPU_CHAIN_BATCH_H
#define PDVM_GPU_CHAIN_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu_ops_batch.h"
#include "pdvm.h"

struct gpu_state;
typedef struct gpu_batch gpu_batch;

/* One token of a batch: its id, its sequence (< the session's n_seq), its
 * position in that sequence, and the logits row it writes (-1: none).
 * Tokens of one sequence come in position order; tokens of different
 * sequences may interleave in any order. */
typedef struct gpu_batch_tok {
    int32_t id;
    uint32_t seq;
    uint32_t pos;
    int32_t out;
} gpu_batch_tok;

/* Tokens per pass (the ubatch): longer batches run in passes of this
 * many, each attending to the cache the previous ones wrote.
 * PDVM_UBATCH overrides it (1..4096). */
enum { GPU_BATCH_DEFAULT_UB = 512 };

/* Batches of fewer tokens go through the decode chain token by token
 * (PDVM_BATCH_MIN overrides it, 2..4096, for measuring). Since batches of
 * up to GPU_MM_SMALL_BATCH tokens have their own mat-mat kernel
 * (matmul_few.comp), any batch of two or more is batched: a server step of
 * 8 sequences of the llama-3-8b shape (q4_0) ran at 274 tokens/s batched
 * against 189 token by token on the H200 (`pdvm bench --synthetic
 * llama-3-8b -np 8`, PDVM_BATCH_MIN=2 / 17); with matmul.comp's narrow
 * tiles it had run at 17 against 43 on llvmpipe (stories260K). */
enum { GPU_BATCH_MIN_TOKENS = 2 };

/* Whether the batched path computes model m as its architecture asks;
 * when not, *why (if not NULL) names the first feature it lacks. */
bool gpu_batch_supported(const pdvm_model *m, const char **why);

/* Evaluate t[0..n) on s (gpu_batch_supported must hold), append their K
 * and V to their sequences' caches (each token attends to its own
 * sequence's cache up to its position, the batch's earlier tokens of that
 * sequence included) and write the logits of each token with out >= 0 to
 * logits[out * n_vocab ..] (logits may be NULL when none asks). The batch
 * buffers are made on first use and grown as needed.
 * Errors: PDVM_ERR_INVALID_ARG (a bad PDVM_UBATCH), PDVM_ERR_UNSUPPORTED
 * (buffers over the block limit), PDVM_ERR_GPU, PDVM_ERR_NOMEM. */
pdvm_status gpu_batch_eval(struct gpu_state *s, const gpu_batch_tok *t, size_t n, float *logits);

void gpu_batch_free(struct gpu_state *s);

#endif
