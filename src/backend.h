/* The seam between a session (tokens, position, context checks, counters)
 * and the engine that computes logits. Two engines: the CPU reference (the
 * oracle) and the GPU fused chain. */
#ifndef PDVM_BACKEND_H
#define PDVM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

typedef struct pdvm_backend_ops {
    const char *name; /* "cpu", "gpu" */
    /* n_ctx is already resolved (never 0). */
    pdvm_status (*create)(const pdvm_model *m, const pdvm_session_params *p, uint32_t n_ctx,
                          void **state);
    /* Evaluate tokens[0..n) at positions pos..pos+n-1 (the session has
     * checked pos + n <= n_ctx and the ids), append them to the KV cache and
     * write the last token's logits to logits[n_vocab]. */
    pdvm_status (*eval)(void *state, const int32_t *tokens, size_t n, uint32_t pos,
                        float *logits);
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
