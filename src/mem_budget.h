/* A GPU session's memory against what the system can give it, checked
 * after the plans are made and before any buffer is allocated, so that a
 * model or context too large is refused with the numbers instead of failing
 * inside the driver or being killed by the OOM killer. */
#ifndef PDVM_MEM_BUDGET_H
#define PDVM_MEM_BUDGET_H

#include <stdint.h>

#include "gl_runtime.h"
#include "pdvm.h"

struct gpu_state;

/* What the system can give a session's buffers. */
typedef struct pdvm_mem_avail {
    uint64_t bytes;     /* 0: unknown or not to be checked */
    const char *source; /* where bytes came from (for the message) */
} pdvm_mem_avail;

/* PDVM_MEM_AVAILABLE_MIB when set (a test's fake memory; 0 turns the check
 * off); else what a GPU with its own memory reports (pdvm_gl_free_memory);
 * else MemAvailable of /proc/meminfo, right where the GPU shares the RAM
 * and for CPU renderers. gl's context must be current. Errors:
 * PDVM_ERR_INVALID_ARG (malformed PDVM_MEM_AVAILABLE_MIB). */
pdvm_status pdvm_mem_available(pdvm_gl *gl, pdvm_mem_avail *out);

/* The MemAvailable line of /proc/meminfo text, in bytes; 0 when absent. */
uint64_t pdvm_meminfo_available(const char *text);

/* Bytes a session will allocate. kv_per_pos: KV-cache bytes a position of
 * n_ctx costs (in every sequence), to say which context would fit. */
typedef struct pdvm_mem_need {
    uint64_t weights, kv, scratch, kv_per_pos;
    uint32_t n_ctx;
    uint32_t n_seq; /* sequences, each with n_ctx positions; 0 means 1 */
} pdvm_mem_need;

/* PDVM_OK when need fits avail (or avail is unknown); else PDVM_ERR_NOMEM
 * with "needs X (weights, KV cache for n_ctx N, scratch), Y available
 * (source); try -c M or a smaller type", M the largest power of two whose
 * KV cache fits next to the weights (the advice is a smaller type alone
 * when not even 64 positions fit). Several sequences: "for n_ctx N x S
 * sequences" and "try -c M, fewer sequences or a smaller type". */
pdvm_status pdvm_mem_check(const pdvm_mem_need *need, const pdvm_mem_avail *avail);

/* The GPU session's plans against pdvm_mem_available. */
pdvm_status gpu_check_budget(struct gpu_state *s);

#endif
