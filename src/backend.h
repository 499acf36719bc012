/* The seam between a session (tokens, position, context checks, counters)
 * and the engine that computes logits. Two engines: the CPU reference (the
 * oracle) and the GPU fused chain. */
#ifndef PDVM_BACKEND_H
#define PDVM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

/* One token of a batch as the session resolved it. Within a batch the
 * tokens of one sequence come in position order (each one position after
 * the previous), so a backend may run the batch in one pass: a token
 * attends to its sequence's cache before the batch and to the batch's
 * earlier tokens of that sequence. */
typedef struct pdvm_batch_token {
    int32_t id;    /* inside the vocabulary */
    uint32_t seq;  /* < n_seq */
    uint32_t pos;  /* < n_ctx: the sequence's position of this token */
    int32_t out;   /* row of the logits output this token writes, -1: none;
                    * rows are 0, 1, ... in batch order */
} pdvm_batch_token;

typedef struct pdvm_backend_ops {
    const char *name; /* "cpu", "gpu" */
    /* n_ctx (per sequence) and n_seq are already resolved (never 0). */
    pdvm_status (*create)(const pdvm_model *m, const pdvm_session_params *p, uint32_t n_ctx,
                          uint32_t n_seq, void **state);
    /* Evaluate t[0..n) (checked by the session: ids, sequences, positions),
     * append their K and V to their sequences' caches and write the logits
     * of each token with out >= 0 to logits[out * n_vocab ..]. */
    pdvm_status (*decode)(void *state, const pdvm_batch_token *t, size_t n, float *logits);
    /* Sequence seq, now at position cur, is to continue at pos (< cur):
     * PDVM_OK when its cache still holds everything positions >= pos will
     * attend to, else PDVM_ERR_UNSUPPORTED saying why. Changes nothing. */
    pdvm_status (*seq_truncate)(void *state, uint32_t seq, uint32_t cur, uint32_t pos);
    /* Fill dispatches, memory and device fields. */
    void (*stats)(const void *state, pdvm_session_stats *out);
    void (*destroy)(void *state);
    /* GPU only (NULL on the CPU): per-dispatch timing and the chain switch. */
    pdvm_status (*set_profile)(void *state, bool on);
    size_t (*get_profile)(void *state, pdvm_profile_entry *out, size_t cap);
    pdvm_status (*set_unfused)(void *state, bool unfused);
} pdvm_backend_ops;

extern const pdvm_backend_ops pdvm_backend_cpu_ops; /* src/backend_cpu.c */
extern const pdvm_backend_ops pdvm_backend_gpu_ops; /* src/backend_gpu.c */

#endif
