#include "rope.h"

#include <math.h>
#include <string.h>

pdvm_rope_cfg pdvm_rope_cfg_for(const pdvm_model *m, uint32_t l, uint32_t n_ctx,
                                float *factors_buf)
{
    const pdvm_hparams *hp = &m->hp;
    bool swa = hp->n_swa > 0 && m->ap.swa[l];
    pdvm_rope_cfg c = {
        .n_rot = hp->n_rot,
        .freq_base = swa ? m->ap.rope_freq_base_swa : hp->rope_freq_base,
        .freq_scale = swa ? m->ap.rope_freq_scale_swa : m->ap.rope_freq_scale,
        .factors = NULL,
        .attn_factor = m->ap.rope_attn_factor,
    };
    const pdvm_tensor *f = pdvm_model_rope_factors(m, n_ctx);
    if (f && f->data) {
        memcpy(factors_buf, f->data, (size_t)(hp->n_rot / 2) * sizeof(float));
        c.factors = factors_buf;
    }
    return c;
}

void pdvm_rope_table(const pdvm_rope_cfg *c, uint32_t pos, float *cs)
{
    for (uint32_t i = 0; i < c->n_rot / 2; i++) {
        double theta = (double)pos * c->freq_scale * pow((double)c->freq_base, -2.0 * i / c->n_rot);
        if (c->factors) theta /= c->factors[i];
        cs[2 * i] = (float)cos(theta) * c->attn_factor;
        cs[2 * i + 1] = (float)sin(theta) * c->attn_factor;
    }
}

void pdvm_rope_apply(float *v, uint32_t n_head, uint32_t head_dim, uint32_t n_rot,
                     const float *cs, pdvm_rope_type type)
{
    uint32_t half = n_rot / 2;
    for (uint32_t i = 0; i < half; i++) {
        float co = cs[2 * i], si = cs[2 * i + 1];
        /* NORM pairs neighbours, NEOX pairs dimension i with i + n_rot/2. */
        uint32_t a = type == PDVM_ROPE_NEOX ? i : 2 * i;
        uint32_t b = type == PDVM_ROPE_NEOX ? i + half : 2 * i + 1;
        for (uint32_t h = 0; h < n_head; h++) {
            float *hv = v + (size_t)h * head_dim;
            float x0 = hv[a], x1 = hv[b];
            hv[a] = x0 * co - x1 * si;
            hv[b] = x0 * si + x1 * co;
        }
    }
}
