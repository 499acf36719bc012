/* RoPE angles (Su et al. 2021, "RoFormer"), computed on the host once per
 * position for every pair of rotated dimensions, as ggml_rope_ext computes
 * them without YaRN extrapolation (ext_factor 0): theta_i = pos *
 * freq_scale * base^(-2i/n_rot) / factor_i, and (cos, sin) scaled by
 * attn_factor. Shared by the CPU reference and the GPU chain, which uploads
 * the table. */
#ifndef PDVM_ROPE_H
#define PDVM_ROPE_H

#include <stdint.h>

#include "model.h"

typedef struct pdvm_rope_cfg {
    uint32_t n_rot;
    float freq_base, freq_scale;
    const float *factors;  /* n_rot / 2 frequency divisors, or NULL */
    float attn_factor;
} pdvm_rope_cfg;

/* The RoPE of layer l of m in a session of n_ctx positions: base and scale
 * of a sliding-window layer where the model has them, the frequency factors
 * (factors_buf: n_rot / 2 floats, filled when the model has factors). */
pdvm_rope_cfg pdvm_rope_cfg_for(const pdvm_model *m, uint32_t l, uint32_t n_ctx,
                                float *factors_buf);

/* cs[2i], cs[2i + 1] = cos, sin of pair i at position pos, i < n_rot / 2. */
void pdvm_rope_table(const pdvm_rope_cfg *c, uint32_t pos, float *cs);

/* Rotate the first n_rot dims of each of n_head vectors of head_dim floats
 * (contiguous) in place with table cs. PDVM_ROPE_NORM rotates (v[2i],
 * v[2i+1]); PDVM_ROPE_NEOX (v[i], v[i + n_rot/2]). */
void pdvm_rope_apply(float *v, uint32_t n_head, uint32_t head_dim, uint32_t n_rot,
                     const float *cs, pdvm_rope_type type);

#endif
