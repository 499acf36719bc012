/* What `pdvm bench` needs from the GPU backend beyond the backend ops:
 * switching chains inside one state (so fused and unfused alternate in one
 * run on one context), per-dispatch GPU timing, and the bare mat-vec kernel. */
#ifndef PDVM_GPU_BENCH_HOOKS_H
#define PDVM_GPU_BENCH_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gl_runtime.h"
#include "pdvm.h"

/* Choose the chain used by the next evals of a GPU backend state. */
pdvm_status pdvm_gpu_set_unfused(void *state, bool unfused);

/* Per-dispatch timing with timer queries (or glFinish + clock). While on,
 * every dispatch is timed and summed by kernel name. */
typedef struct pdvm_kernel_time {
    char name[48];      /* program name plus variant, e.g. "attn_qkv" */
    uint64_t calls;
    double total_us;
} pdvm_kernel_time;
pdvm_status pdvm_gpu_profile(void *state, bool on);
/* Sums since profiling was switched on, largest total first. */
size_t pdvm_gpu_profile_read(void *state, pdvm_kernel_time *out, size_t cap);

/* Time the decode mat-vec kernel alone: y[rows] = W[rows x cols] x with
 * random W of `type` on context gl; median microseconds per call over reps
 * calls. Errors: PDVM_ERR_UNSUPPORTED (type), PDVM_ERR_GPU, PDVM_ERR_NOMEM. */
pdvm_status pdvm_gpu_bench_matvec(pdvm_gl *gl, uint32_t type, uint32_t rows, uint32_t cols,
                                  int reps, double *us);

#endif
