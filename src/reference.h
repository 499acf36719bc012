/* The float32 reference forward pass for every bound architecture: plain
 * C, the oracle every GPU kernel is tested against. Every product row is
 * pdvm_dot_row's serial f32 sum over the decoded weights (ref_matvec.h);
 * a state decodes a small model's matrices to f32 once, a large one's
 * rows on every token.
 * Numerics: RMSNorm (Zhang & Sennrich 2019), RoPE (Su et al. 2021) with
 * linear/LongRoPE frequency scaling, SwiGLU (Shazeer 2020) and GeGLU with
 * tanh-approximated GELU (Hendrycks & Gimpel 2016), scaled dot-product
 * attention (Vaswani et al. 2017) with grouped-query heads (Ainslie et al.
 * 2023), tanh soft-capping and sliding windows (Gemma 2, Gemma Team 2024). */
#ifndef PDVM_REFERENCE_H
#define PDVM_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pdvm.h"

/* out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]; w NULL means 1. n elements.
 * out may alias x. */
void pdvm_ref_rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps);

/* y[ne[1]] = W x, x has ne[0] elements: y[r] = pdvm_dot_row(row r, x). */
void pdvm_ref_matvec(const pdvm_tensor *w, const float *x, float *y);

/* Rotate the first n_rot dims (<= 1024) of each of n_head vectors of
 * head_dim floats (contiguous) in place for position pos: theta_i = pos *
 * base^(-2i/n_rot), no scaling (rope.h has the general table).
 * PDVM_ROPE_NORM rotates (v[2i], v[2i+1]); PDVM_ROPE_NEOX (v[i], v[i+n_rot/2]). */
void pdvm_ref_rope(float *v, uint32_t n_head, uint32_t head_dim, uint32_t n_rot, uint32_t pos,
                   float freq_base, pdvm_rope_type type);

/* One query head over n_pos cached positions: out[head_dim] =
 * softmax(s_t) . v_t with s_t = softcap(scale * q.k_t), softcap(x) =
 * tanh(x / cap) * cap when cap > 0. k and v point at the first position of
 * this KV head; consecutive positions are kv_stride floats apart. */
void pdvm_ref_attention_ext(const float *q, const float *k, const float *v, uint32_t n_pos,
                            uint32_t head_dim, size_t kv_stride, float scale, float softcap,
                            float *out);
/* The same with scale 1/sqrt(head_dim) and no soft-cap. */
void pdvm_ref_attention_head(const float *q, const float *k, const float *v, uint32_t n_pos,
                             uint32_t head_dim, size_t kv_stride, float *out);

/* The gate activation: silu(x) = x / (1 + exp(-x)), or GELU's tanh
 * approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
float pdvm_ref_act(pdvm_act act, float g);
/* out[i] = act(gate[i]) * up[i]; out may alias. swiglu: act = silu. */
void pdvm_ref_glu(pdvm_act act, const float *gate, const float *up, float *out, uint32_t n);
void pdvm_ref_swiglu(const float *gate, const float *up, float *out, uint32_t n);

/* Whole forward pass with an f32 KV cache of n_ctx positions for each of
 * n_seq independent sequences (pdvm_ref_create: one). */
typedef struct pdvm_ref_state pdvm_ref_state;
pdvm_status pdvm_ref_create(const pdvm_model *m, uint32_t n_ctx, pdvm_ref_state **out);
pdvm_status pdvm_ref_create_seq(const pdvm_model *m, uint32_t n_ctx, uint32_t n_seq,
                                pdvm_ref_state **out);
/* One token at position pos (< n_ctx); logits[n_vocab]. logits may be NULL
 * to skip the output projection (prompt tokens before the last). Errors:
 * PDVM_ERR_INVALID_ARG (token id), PDVM_ERR_CONTEXT_FULL (pos >= n_ctx). */
pdvm_status pdvm_ref_forward(pdvm_ref_state *s, int32_t token, uint32_t pos, float *logits);
/* The same on sequence seq's cache (pdvm_ref_forward: sequence 0): the
 * token attends to that sequence's positions only. Errors as above, and
 * PDVM_ERR_INVALID_ARG for seq >= n_seq. */
pdvm_status pdvm_ref_forward_seq(pdvm_ref_state *s, int32_t token, uint32_t seq, uint32_t pos,
                                 float *logits);
void pdvm_ref_free(pdvm_ref_state *s);
/* Round K and V to f16 as they enter the cache, like the GPU's f16 cache
 * (tests compare the GPU against this tightly). */
void pdvm_ref_set_kv_f16(pdvm_ref_state *s, bool on);
/* Overwrite sequence 0's cached K and V (kv_dim floats each) of layer l at pos:
 * tests take the GPU's cache, so per-step errors do not compound. */
void pdvm_ref_kv_write(pdvm_ref_state *s, uint32_t l, uint32_t pos, const float *k, const float *v);

/* Bytes the f32 K and V caches of every sequence take. */
size_t pdvm_ref_kv_bytes(const pdvm_ref_state *s);

#endif
