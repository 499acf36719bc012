/* One dispatch of each model kernel, with every buffer and offset
 * explicit. gpu_plan_<op> resolves it into a gpu_step (layout, defines,
 * program registered, uniform values, grid) without touching the GPU: the
 * chains are built from these once per session. gpu_op_<op> plans, builds
 * and runs one at once (kernel tests, the mat-vec bench). Offsets: act_* in
 * floats of the activation buffer, *_byte in bytes of the weight buffer, kv
 * words in 32-bit words of the cache buffers.
 * Errors: PDVM_ERR_UNSUPPORTED (a weight type without a kernel), PDVM_ERR_GPU,
 * PDVM_ERR_NOMEM. */
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
    uint32_t act_fn;              /* GPU_OUT_SWIGLU: enum pdvm_act of the gate */
    float softcap;                /* GPU_OUT_STORE: y = softcap * tanh(y / softcap); 0: off */
    /* GPU_IN_NORM with post_delta: x = act[x] + RMSNorm(act[delta]) * post
     * weights first (xin.glsl), stored at act[xout] by workgroup 0 when x_out. */
    bool post_delta, x_out;
    uint32_t delta, xout;
    uint64_t post_byte;
} gpu_mv_args;
pdvm_status gpu_plan_matvec(gpu_kernels *k, const gpu_mv_args *a, gpu_step *st);
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
    /* Biases of the part's rows (q|k|v order) and the Q/K head norms, f32
     * in the weight buffer; the pending residual update as in gpu_mv_args. */
    bool has_bias, q_norm, k_norm;
    uint64_t bias_byte, qn_byte, kn_byte;
    bool post_delta, x_out;
    uint32_t delta, xout;
    uint64_t post_byte;
} gpu_qkv_args;
pdvm_status gpu_plan_qkv(gpu_kernels *k, const gpu_qkv_args *a, gpu_step *st);
pdvm_status gpu_op_qkv(gpu_kernels *k, const gpu_qkv_args *a);

/* attn.comp (fused D2): chunks of `chunk` positions over slab positions
 * [t0, t0 + n), partials from slot slot0 on. */
typedef struct gpu_attn_args {
    const pdvm_gl_buffer *act, *kc, *vc;
    const pdvm_hparams *hp;
    uint32_t q, part, max_slots;
    uint64_t kv_k, kv_v;
    uint32_t kv_stride, t0, n, chunk, slot0;
    float scale;             /* score = scale * q.k; 0: 1/sqrt(head_dim) */
    float softcap;           /* score soft-capping, 0: off */
} gpu_attn_args;
pdvm_status gpu_plan_attn(gpu_kernels *k, const gpu_attn_args *a, gpu_step *st);
pdvm_status gpu_op_attn(gpu_kernels *k, const gpu_attn_args *a);

/* embd.comp: x = row of n elements at row_byte of w, dequantized. */
typedef struct gpu_embd_args {
    const pdvm_gl_buffer *act, *w;
    uint32_t type, n, x;
    uint64_t row_byte;
    float scale;             /* the row times this (Gemma); 0 or 1: none */
} gpu_embd_args;
pdvm_status gpu_plan_embd(gpu_kernels *k, const gpu_embd_args *a, gpu_step *st);
pdvm_status gpu_op_embd(gpu_kernels *k, const gpu_embd_args *a);

/* Unfused pieces. */
typedef struct gpu_norm_args {
    const pdvm_gl_buffer *act, *w;
    uint32_t n;
    float eps;
    uint32_t x, y;
    uint64_t norm_byte;
    uint32_t n_vec;          /* contiguous vectors of n, same weights (0: 1) */
} gpu_norm_args;
pdvm_status gpu_plan_rmsnorm(gpu_kernels *k, const gpu_norm_args *a, gpu_step *st);
pdvm_status gpu_op_rmsnorm(gpu_kernels *k, const gpu_norm_args *a);
typedef struct gpu_rope_args {
    const pdvm_gl_buffer *act;
    const pdvm_hparams *hp;
    uint32_t x, n_heads, cs;
} gpu_rope_args;
pdvm_status gpu_plan_rope(gpu_kernels *k, const gpu_rope_args *a, gpu_step *st);
pdvm_status gpu_op_rope(gpu_kernels *k, const gpu_rope_args *a);
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
    float scale, softcap;    /* scores: as gpu_attn_args */
} gpu_kv_args;
pdvm_status gpu_plan_kv_write(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st);
pdvm_status gpu_plan_attn_scores(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st);
pdvm_status gpu_plan_attn_softmax(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st);
pdvm_status gpu_plan_attn_wsum(gpu_kernels *k, const gpu_kv_args *a, gpu_step *st);
pdvm_status gpu_op_kv_write(gpu_kernels *k, const gpu_kv_args *a);
pdvm_status gpu_op_attn_scores(gpu_kernels *k, const gpu_kv_args *a);
pdvm_status gpu_op_attn_softmax(gpu_kernels *k, const gpu_kv_args *a);
pdvm_status gpu_op_attn_wsum(gpu_kernels *k, const gpu_kv_args *a);
/* Elementwise, n elements: add.comp act[y + i] += act[x + i]; swiglu.comp
 * act[y + i] = act_fn(act[gate + i]) * act[up + i]; bias.comp act[y + i] +=
 * f32 at byte b_byte of w; softcap.comp act[y + i] = cap * tanh(act[y + i] /
 * cap). */
typedef struct gpu_ew_args {
    const pdvm_gl_buffer *act, *w;
    uint32_t x, y, gate, up, n;
    uint32_t act_fn;         /* enum pdvm_act */
    uint64_t b_byte;
    float cap;
} gpu_ew_args;
pdvm_status gpu_plan_add(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st);
pdvm_status gpu_plan_swiglu(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st);
pdvm_status gpu_plan_bias(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st);
pdvm_status gpu_plan_softcap(gpu_kernels *k, const gpu_ew_args *a, gpu_step *st);
pdvm_status gpu_op_add(gpu_kernels *k, const gpu_ew_args *a);
pdvm_status gpu_op_swiglu(gpu_kernels *k, const gpu_ew_args *a);

/* Uniform slots a chain patches per position (indices into gpu_step.val). */
enum { GPU_MV_U_NSLOTS = 7 };
enum { GPU_QKV_U_KV_K = 12, GPU_QKV_U_KV_V = 13, GPU_QKV_U_KV_STRIDE = 14, GPU_QKV_U_KV_T = 15 };
enum { GPU_ATTN_U_N = 6, GPU_ATTN_U_CHUNK = 7, GPU_ATTN_U_SLOT0 = 8 };
/* The KV slab's first word, patched per sequence (gpu_step.buf[2] and [3]
 * hold its K and V buffers). */
enum { GPU_ATTN_U_KV_K = 2, GPU_ATTN_U_KV_V = 3, GPU_SCORES_U_KV_K = 2, GPU_WSUM_U_KV_V = 2 };
enum { GPU_EMBD_U_ROWB = 1 };
enum { GPU_KVW_U_KV_K = 2, GPU_KVW_U_KV_V = 3, GPU_KVW_U_KV_STRIDE = 4, GPU_KVW_U_KV_T = 5 };
enum { GPU_SCORES_U_N = 5 };
enum { GPU_SOFTMAX_U_N = 0 };
enum { GPU_WSUM_U_N = 5 };

/* The grid of an attention dispatch over n positions in chunks of `chunk`. */
void gpu_attn_grid(const gpu_attn_args *a, gpu_step *st);
/* The grid of a scores dispatch over n positions. */
void gpu_scores_grid(const gpu_kernels *k, uint32_t n, gpu_step *st);

/* Rows of one head a qkv workgroup computes (at most `want`, whole head
 * when nothing smaller works): every RoPE pair and packed f16 pair stays in
 * one workgroup. split: NEOX slices take slice/2 rows from each half. */
void gpu_qkv_slice(const pdvm_hparams *hp, uint32_t want, uint32_t *slice, uint32_t *split);

/* The attention score scale a kernel uses: scale, or 1/sqrt(head_dim) for 0. */
float gpu_attn_scale(const pdvm_hparams *hp, float scale);

/* How many attention partial slots per head the combine (matvec.comp,
 * IN_MODE 2) can weigh in shared memory, at most want; 0 when none fit. */
uint32_t gpu_max_slots_fit(const gpu_kernels *k, const pdvm_hparams *hp, uint32_t want);

#endif
