/* Helpers shared by the files that plan dispatches (gpu_ops.c for the
 * decode kernels, gpu_ops_batch.c for the batched ones); internal. */
#ifndef PDVM_GPU_OPS_IMPL_H
#define PDVM_GPU_OPS_IMPL_H

#include <stdint.h>
#include <string.h>

#include "error.h"
#include "gpu_kernels.h"

/* Binding slots every kernel shares: activations, weights. */
enum { B_ACT = 0, B_W = 1 };

static inline uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

#define N_NAMES(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* Plan, build and run one dispatch: the kernel tests' and the benches' way in. */
#define RUN_NOW(plan_fn, k, a)                                                 \
    do {                                                                       \
        gpu_step st_;                                                          \
        PDVM_TRY(plan_fn(k, a, &st_));                                         \
        PDVM_TRY(gpu_kernels_build(k, NULL, NULL));                            \
        return gpu_step_run(k, &st_);                                          \
    } while (0)

static inline void step_init(gpu_step *st, gpu_prog *p, uint32_t gx, uint32_t gy)
{
    memset(st, 0, sizeof *st);
    st->prog = p;
    st->gx = gx;
    st->gy = gy;
}

#endif
