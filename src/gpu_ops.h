/* One launch of each model kernel, with every buffer and offset explicit:
 * the fused and unfused chains are sequences of these, and the kernel
 * tests call them on buffers of their own. Offsets: act_* in floats of the
 * activation buffer, *_byte in bytes of the weight buffer, kv words in
 * 32-bit words of the cache buffers. */
#ifndef PDVM_GPU_OPS_H
#define PDVM_GPU_OPS_H

#include <stdint.h>

#include "gl_runtime.h"
#include "gpu_kernels.h"
#include "pdvm.h"

enum { GPU_IN_PLAIN = 0, GPU_IN_NORM = 1, GPU_IN_COMBINE = 2 };
enum { GPU_OUT_STORE = 0, GPU_OUT_ADD = 1, GPU_OUT_SWIGLU = 2 };

/* matvec.comp: rows [0, n_rows) of W_a (and W_b), y at act[y + row0 + r]. */
typedef struct gpu_mv_args {
    const pdvm_gl_buffer *act, *w;
    uint32_t in_mode, out_mode;
    uint32_t n_in;
    uint32_t type_a, type_b;
    uint64_t rb_a, rb_b;          /* row bytes */
    uint64_t a_byte, b_byte;      /* first row of W_a, W_b */
    uint64_t norm_byte;           /* GPU_IN_NORM: f32 norm weights */
    float eps;
    uint32_t x, y, row0, n_rows;
    uint32_t n_head, head_dim, max_slots, n_slots; /* GPU_IN_COMBINE: x = partials */
} gpu_mv_args;
pdvm_status gpu_op_matvec(gpu_kernels *k, const gpu_mv_args *a);

/* qkv.comp (fused D1) over heads [head0, head0 + n_heads) of q|k|v. */
typedef struct gpu_qkv_args {
    const pdvm_gl_buffer *act, *w, *kc, *vc;
    const pdvm_hparams *hp;
    uint32_t type[3];
    uint64_t rb[3];
    uint64_t base_byte[3];        /* first row of q, k, v present in this part */
    uint32_t first_row[3];        /* that row's index within its projection */
    uint64_t norm_byte;
    uint32_t x, q, cs;
    uint32_t head0, n_heads;
    uint64_t kv_k, kv_v;
    uint32_t kv_stride, kv_t;
} gpu_qkv_args;
pdvm_status gpu_op_qkv(gpu_kernels *k, const gpu_qkv_args *a);

/* attn.comp (fused D2): chunks of `chunk` positions over slab positions
 * [t0, t0 + n), partials from slot slot0 on. */
typedef struct gpu_attn_args {
    const pdvm_gl_buffer *act, *kc, *vc;
    const pdvm_hparams *hp;
    uint32_t q, part, max_slots;
    uint64_t kv_k, kv_v;
    uint32_t kv_stride, t0, n, chunk, slot0;
} gpu_attn_args;
pdvm_status gpu_op_attn(gpu_kernels *k, const gpu_attn_args *a);

pdvm_status gpu_op_embd(gpu_kernels *k, const pdvm_gl_buffer *act, const pdvm_gl_buffer *w,
                        uint32_t type, uint32_t n, uint32_t x, uint64_t row_byte);

/* Unfused pieces. */
pdvm_status gpu_op_rmsnorm(gpu_kernels *k, const pdvm_gl_buffer *act, const pdvm_gl_buffer *w,
                           uint32_t n, float eps, uint32_t x, uint32_t y, uint64_t norm_byte);
pdvm_status gpu_op_rope(gpu_kernels *k, const pdvm_gl_buffer *act, const pdvm_hparams *hp,
                        uint32_t x, uint32_t n_heads, uint32_t cs);
typedef struct gpu_kv_args {
    const pdvm_gl_buffer *act, *kc, *vc, *scores;
    const pdvm_hparams *hp;
    uint64_t kv_k, kv_v;
    uint32_t kv_stride;
    uint32_t t0, n;          /* slab positions [t0, t0 + n) (kv_write: t0 only) */
    uint32_t k, v, q, att;   /* act offsets */
    uint32_t h0, n_heads;    /* query heads held by the scores buffer */
    uint32_t s0, s_stride;   /* scores column of position t0; per-head stride */
    uint32_t accumulate;     /* wsum: add to att */
} gpu_kv_args;
pdvm_status gpu_op_kv_write(gpu_kernels *k, const gpu_kv_args *a);
pdvm_status gpu_op_attn_scores(gpu_kernels *k, const gpu_kv_args *a);
pdvm_status gpu_op_attn_softmax(gpu_kernels *k, const gpu_kv_args *a);
pdvm_status gpu_op_attn_wsum(gpu_kernels *k, const gpu_kv_args *a);
pdvm_status gpu_op_add(gpu_kernels *k, const pdvm_gl_buffer *act, uint32_t x, uint32_t y,
                       uint32_t n);
pdvm_status gpu_op_swiglu(gpu_kernels *k, const pdvm_gl_buffer *act, uint32_t gate, uint32_t up,
                          uint32_t y, uint32_t n);

/* Rows of one head a qkv workgroup computes (at most `want`, whole head
 * when nothing smaller works): every RoPE pair and packed f16 pair stays in
 * one workgroup. split: NEOX slices take slice/2 rows from each half. */
void gpu_qkv_slice(const pdvm_hparams *hp, uint32_t want, uint32_t *slice, uint32_t *split);

/* Shared memory attn.comp / the combine need; 0 when it fits the limits. */
uint32_t gpu_max_slots_fit(const gpu_kernels *k, const pdvm_hparams *hp, uint32_t want);

#endif
