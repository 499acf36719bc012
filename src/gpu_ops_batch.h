/* One dispatch of each batched (prefill) kernel, planned like gpu_ops.h's:
 * gpu_plan_<op> resolves layout, defines, program, bindings, uniform values
 * and grid into a gpu_step without touching the GPU; gpu_op_<op> plans,
 * builds and runs one at once (kernel tests). Offsets: act_* in floats of
 * the batch's activation buffer, *_byte in bytes of the weight buffer, kv
 * words in 32-bit words of the cache buffers.
 * Errors: PDVM_ERR_UNSUPPORTED (a weight type without a kernel),
 * PDVM_ERR_INVALID_ARG (a malformed PDVM_MM_TILE), PDVM_ERR_GPU,
 * PDVM_ERR_NOMEM. */
#ifndef PDVM_GPU_OPS_BATCH_H
#define PDVM_GPU_OPS_BATCH_H

#include <stdint.h>

#include "gl_runtime.h"
#include "gpu_kernels.h"
#include "gpu_ops.h"
#include "pdvm.h"

/* The register and shared-memory tiling of matmul.comp: a workgroup of wg
 * invocations computes bm weight rows x bn tokens (each invocation 8 rows
 * by tn tokens), kt elements of the row length a step. */
typedef struct gpu_mm_tile {
    uint32_t wg, bm, bn, tn, kt;
} gpu_mm_tile;

/* Batches of at most this many tokens get a narrow tile (bn 16): a
 * server's few decode tokens must not pay for 128. */
enum { GPU_MM_SMALL_BATCH = 16 };

/* The tile for batches of n_tok tokens on k's device: the widest that
 * fits its invocation and shared-memory limits (GLES 3.1 minimums: 64 x
 * 32 in 128 invocations and 12 KiB). PDVM_MM_TILE=WG,BM,BN overrides the
 * wide one, for tuning on a new device (`pdvm bench -p 512`).
 * Errors: PDVM_ERR_INVALID_ARG (malformed or not within the limits). */
pdvm_status gpu_mm_tile_for(const gpu_kernels *k, uint32_t n_tok, gpu_mm_tile *out);

enum { GPU_MM_NO_MAP = UINT32_MAX };

/* matmul.comp: for tokens t < n_tok, rows r < n_rows of W_a (and W_b),
 * y = act[y + t * y_stride + row0 + r]; input row of token t at
 * act[x + row(t) * x_stride], row(t) = t or, with map != GPU_MM_NO_MAP,
 * the float act[map + t]. in_mode GPU_IN_PLAIN or GPU_IN_NORM, out_mode
 * GPU_OUT_STORE, GPU_OUT_ADD or GPU_OUT_SWIGLU (gpu_ops.h). */
typedef struct gpu_mm_args {
    const pdvm_gl_buffer *act, *w;
    uint32_t in_mode, out_mode;
    uint32_t n_in;
    uint32_t type_a, type_b;
    uint64_t rb_a, rb_b;          /* row bytes */
    uint64_t a_byte, b_byte;      /* first row of W_a, W_b */
    uint64_t norm_byte;           /* GPU_IN_NORM: f32 norm weights */
    float eps;
    uint32_t x, x_stride, map;
    uint32_t y, y_stride, row0, n_rows;
    uint32_t n_tok;
} gpu_mm_args;
pdvm_status gpu_plan_matmul(gpu_kernels *k, const gpu_mm_args *a, gpu_step *st);
pdvm_status gpu_op_matmul(gpu_kernels *k, const gpu_mm_args *a);

#endif
