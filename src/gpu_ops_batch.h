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
 * by 4 nj tokens), kt elements of the row length a step. */
typedef struct gpu_mm_tile {
    uint32_t wg, bm, bn, nj, kt;
} gpu_mm_tile;

/* Batches of at most this many tokens go to matmul_few.comp (a server's
 * few decode tokens must not pay for a tile of 128). */
enum { GPU_MM_SMALL_BATCH = 16 };

/* The tile for batches of n_tok tokens on k's device: the widest that
 * fits its invocation and shared-memory limits (GLES 3.1 minimums: 64 x
 * 32 in 128 invocations and 12 KiB). PDVM_MM_TILE=WG,BM,BN overrides the
 * wide one, for tuning on a new device (`pdvm bench -p 512`).
 * Errors: PDVM_ERR_INVALID_ARG (malformed or not within the limits). */
pdvm_status gpu_mm_tile_for(const gpu_kernels *k, uint32_t n_tok, gpu_mm_tile *out);

/* matmul_few.comp, for batches of at most GPU_MM_SMALL_BATCH tokens: a
 * workgroup of wg invocations, row groups of a subgroup (or tpr_shared
 * lanes) each taking nr rows of W for nt tokens; rows_wg rows a workgroup;
 * the inputs staged in shared memory x_tile_seg segments at a time when
 * x_shared. */
typedef struct gpu_mm_few {
    uint32_t wg, tpr_shared, nt, nr, rows_wg, x_tile_seg;
    bool x_shared;
} gpu_mm_few;

/* Tokens a workgroup of matmul_few.comp takes at most (registers: nr x nt
 * sums a lane). */
enum { GPU_MM_FEW_NT = 8 };

/* The layout for n_tok tokens through n_rows rows of n_in elements on k's
 * device: nt the smallest power of two >= n_tok up to GPU_MM_FEW_NT, the
 * workgroup as wide as the rows allow, halved until it fits the shared
 * memory. PDVM_MM_FEW=WG,NR,XSHARED overrides the rest, for tuning.
 * Errors: PDVM_ERR_INVALID_ARG (malformed override), PDVM_ERR_GPU (does
 * not fit the shared memory). */
pdvm_status gpu_mm_few_for(const gpu_kernels *k, uint32_t n_tok, uint32_t n_rows, uint32_t n_in,
                           gpu_mm_few *out);

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

/* embd_batch.comp: x[t] (n_embd floats from act[x]) = row ids[t] of the
 * token_embd part holding rows [row0, row1) from w byte off, for the
 * tokens whose id is in the part; ids are floats at act[ids]. */
typedef struct gpu_embd_batch_args {
    const pdvm_gl_buffer *act, *w;
    uint32_t type, n_embd;
    uint64_t row_bytes, off;
    uint32_t row0, row1, ids, x, n_tok;
} gpu_embd_batch_args;
pdvm_status gpu_plan_embd_batch(gpu_kernels *k, const gpu_embd_batch_args *a, gpu_step *st);

/* The KV slabs a batched kernel reads or writes: positions [pos0, pos0 +
 * n_pos) of one layer, one slab of each sequence whose slab lies in cache
 * buffer `buf` (bound as kc and vc). Token t's sequence is the float
 * act[seq + t]; for sequence q the table at act[kvt + 3 q] holds its
 * slab's buffer index and its first word as word / 65536 and word % 65536
 * (floats, exact). Tokens of sequences whose slab is in another buffer are
 * left to that buffer's dispatch. */
typedef struct gpu_batch_slab {
    const pdvm_gl_buffer *kc, *vc;
    uint32_t buf, seq, kvt;
    uint32_t pos0, n_pos;
} gpu_batch_slab;

/* rope_kv_batch.comp over token rows q|k|v at act[qkv + t * row]: k
 * rotated (hp's RoPE type) and v written to its sequence's slab for tokens
 * whose position (floats at act[pos]) is in it; cos/sin of token t at
 * act[cs + t * n_rot]. q is left as it is (attn_batch.comp rotates it). */
typedef struct gpu_rope_kv_args {
    const pdvm_gl_buffer *act;
    const pdvm_hparams *hp;
    gpu_batch_slab slab;
    uint32_t qkv, pos, cs, n_tok;
} gpu_rope_kv_args;
pdvm_status gpu_plan_rope_kv_batch(gpu_kernels *k, const gpu_rope_kv_args *a, gpu_step *st);

/* attn_batch.comp over one slab of each sequence in slab.buf: att[t]
 * (n_head * head_dim floats from act[out]) for queries q of the qkv rows
 * (rotated as read, with the cos/sin at act[cs + t * n_rot]),
 * each token over its own sequence's cache up to its position; state:
 * (m, l, acc) per token and head between slabs (first, last: the layer's
 * first and last slab). */
typedef struct gpu_attn_batch_args {
    const pdvm_gl_buffer *act;
    const pdvm_hparams *hp;
    float scale;
    gpu_batch_slab slab;
    uint32_t qkv, pos, cs, out, state, n_tok;
    bool first, last;
} gpu_attn_batch_args;
pdvm_status gpu_plan_attn_batch(gpu_kernels *k, const gpu_attn_batch_args *a, gpu_step *st);

/* bias.comp over a batch: act[y + t * y_stride + i] += the f32 bias i < n
 * at byte b_byte of w, for tokens t < n_tok (Q/K/V biases). */
typedef struct gpu_bias_batch_args {
    const pdvm_gl_buffer *act, *w;
    uint64_t b_byte;
    uint32_t y, y_stride, n, n_tok;
} gpu_bias_batch_args;
pdvm_status gpu_plan_bias_batch(gpu_kernels *k, const gpu_bias_batch_args *a, gpu_step *st);

pdvm_status gpu_op_attn_batch(gpu_kernels *k, const gpu_attn_batch_args *a);
pdvm_status gpu_op_rope_kv_batch(gpu_kernels *k, const gpu_rope_kv_args *a);

#endif
