/* The float32 reference forward pass (see reference.h). Written to be read
 * next to the llama architecture description; speed comes only from not
 * doing anything clever that could hide a bug. Sums of squares and softmax
 * denominators are accumulated in double, as ggml does. */
#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quant.h"

/* ---------------------------------------------------------------- kernels */

void pdvm_ref_rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (uint32_t i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void pdvm_ref_matvec(const pdvm_tensor *w, const float *x, float *y)
{
    const uint8_t *row = w->data;
    for (int64_t r = 0; r < w->ne[1]; r++, row += w->row_bytes)
        y[r] = pdvm_dot_row(w->type, row, x, w->ne[0]);
}

void pdvm_ref_rope(float *v, uint32_t n_head, uint32_t head_dim, uint32_t n_rot, uint32_t pos,
                   float freq_base, pdvm_rope_type type)
{
    uint32_t half = n_rot / 2;
    for (uint32_t i = 0; i < half; i++) {
        double theta = (double)pos * pow((double)freq_base, -2.0 * i / n_rot);
        float c = (float)cos(theta), s = (float)sin(theta);
        /* NORM pairs neighbours, NEOX pairs dimension i with i + n_rot/2. */
        uint32_t a = type == PDVM_ROPE_NEOX ? i : 2 * i;
        uint32_t b = type == PDVM_ROPE_NEOX ? i + half : 2 * i + 1;
        for (uint32_t h = 0; h < n_head; h++) {
            float *hv = v + (size_t)h * head_dim;
            float x0 = hv[a], x1 = hv[b];
            hv[a] = x0 * c - x1 * s;
            hv[b] = x0 * s + x1 * c;
        }
    }
}

static float dot_f32(const float *a, const float *b, uint32_t n)
{
    float sum = 0.0f;
    for (uint32_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* Two passes (max, then weights) so no buffer of n_pos scores is needed. */
void pdvm_ref_attention_head(const float *q, const float *k, const float *v, uint32_t n_pos,
                             uint32_t head_dim, size_t kv_stride, float *out)
{
    float scale = 1.0f / sqrtf((float)head_dim);
    float max = -INFINITY;
    for (uint32_t t = 0; t < n_pos; t++) {
        float sc = dot_f32(q, k + t * kv_stride, head_dim) * scale;
        if (sc > max) max = sc;
    }
    memset(out, 0, head_dim * sizeof *out);
    double sum = 0.0;
    for (uint32_t t = 0; t < n_pos; t++) {
        float p = expf(dot_f32(q, k + t * kv_stride, head_dim) * scale - max);
        sum += p;
        const float *vt = v + t * kv_stride;
        for (uint32_t d = 0; d < head_dim; d++) out[d] += p * vt[d];
    }
    float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (uint32_t d = 0; d < head_dim; d++) out[d] *= inv;
}

void pdvm_ref_swiglu(const float *gate, const float *up, float *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* ----------------------------------------------------------- forward pass */

struct pdvm_ref_state {
    const pdvm_model *m;
    uint32_t n_ctx, kv_dim, q_dim;
    float *norms;        /* decoded RMSNorm weights: 2 per layer, then output_norm */
    float *k_cache;      /* [n_layer][n_ctx][kv_dim] */
    float *v_cache;
    float *x, *xb, *xb2; /* residual stream and scratch, n_embd (or q_dim) */
    float *q, *att;      /* q_dim */
    float *hb, *hb2;     /* n_ff */
};

static pdvm_status check_tensor(const pdvm_tensor *t)
{
    if (!t->data)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "reference: %s has no data (synthetic model)",
                         t->name ? t->name : "tensor");
    if (!pdvm_type_can_dequant(t->type))
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "reference: %s has type %s, which the CPU "
                                               "cannot decode", t->name,
                         pdvm_type_name(t->type));
    return PDVM_OK;
}

static pdvm_status check_model(const pdvm_model *m)
{
    const pdvm_hparams *hp = &m->hp;
    if (hp->n_head == 0 || hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0 ||
        hp->head_dim == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "reference: n_head %u, n_head_kv %u, head_dim %u, "
                                               "n_rot %u are not a llama attention layout",
                         hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_rot);
    PDVM_TRY(check_tensor(&m->tok_embd));
    PDVM_TRY(check_tensor(&m->output_norm));
    PDVM_TRY(check_tensor(&m->output));
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const pdvm_layer *L = &m->layers[l];
        const pdvm_tensor *ts[] = {&L->attn_norm, &L->attn_q, &L->attn_k, &L->attn_v, &L->attn_output,
                                   &L->ffn_norm, &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) PDVM_TRY(check_tensor(ts[i]));
    }
    return PDVM_OK;
}

static void decode_norms(pdvm_ref_state *s)
{
    const pdvm_model *m = s->m;
    uint32_t n = m->hp.n_embd;
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        pdvm_dequant_row(m->layers[l].attn_norm.type, m->layers[l].attn_norm.data,
                         s->norms + (size_t)(2 * l) * n, n);
        pdvm_dequant_row(m->layers[l].ffn_norm.type, m->layers[l].ffn_norm.data,
                         s->norms + (size_t)(2 * l + 1) * n, n);
    }
    pdvm_dequant_row(m->output_norm.type, m->output_norm.data,
                     s->norms + (size_t)(2 * m->hp.n_layer) * n, n);
}

static pdvm_status alloc_buffers(pdvm_ref_state *s)
{
    const pdvm_hparams *hp = &s->m->hp;
    size_t wide = hp->n_embd > s->q_dim ? hp->n_embd : s->q_dim;
    size_t kv = (size_t)hp->n_layer * s->n_ctx * s->kv_dim;
    if (s->kv_dim != 0 && kv / s->kv_dim / s->n_ctx != hp->n_layer)
        return pdvm_fail(PDVM_ERR_NOMEM, "reference: KV cache size overflows");
    s->norms = malloc((size_t)(2 * hp->n_layer + 1) * hp->n_embd * sizeof(float));
    s->k_cache = malloc(kv * sizeof(float));
    s->v_cache = malloc(kv * sizeof(float));
    s->x = malloc(wide * sizeof(float));
    s->xb = malloc(wide * sizeof(float));
    s->xb2 = malloc(wide * sizeof(float));
    s->q = malloc(s->q_dim * sizeof(float));
    s->att = malloc(s->q_dim * sizeof(float));
    s->hb = malloc((size_t)hp->n_ff * sizeof(float));
    s->hb2 = malloc((size_t)hp->n_ff * sizeof(float));
    if (!s->norms || !s->k_cache || !s->v_cache || !s->x || !s->xb || !s->xb2 || !s->q ||
        !s->att || !s->hb || !s->hb2)
        return pdvm_fail(PDVM_ERR_NOMEM, "reference: %.1f MiB of KV cache for %u positions",
                         2.0 * kv * sizeof(float) / 1048576.0, s->n_ctx);
    return PDVM_OK;
}

pdvm_status pdvm_ref_create(const pdvm_model *m, uint32_t n_ctx, pdvm_ref_state **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_ref_create: out is NULL");
    *out = NULL;
    if (!m || n_ctx == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_ref_create: no model or n_ctx 0");
    PDVM_TRY(check_model(m));
    pdvm_ref_state *s = calloc(1, sizeof *s);
    if (!s) return pdvm_fail(PDVM_ERR_NOMEM, "reference state");
    s->m = m;
    s->n_ctx = n_ctx;
    s->kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    s->q_dim = m->hp.n_head * m->hp.head_dim;
    pdvm_status st = alloc_buffers(s);
    if (st != PDVM_OK) {
        pdvm_ref_free(s);
        return st;
    }
    decode_norms(s);
    *out = s;
    return PDVM_OK;
}

void pdvm_ref_free(pdvm_ref_state *s)
{
    if (!s) return;
    free(s->norms);
    free(s->k_cache);
    free(s->v_cache);
    free(s->x);
    free(s->xb);
    free(s->xb2);
    free(s->q);
    free(s->att);
    free(s->hb);
    free(s->hb2);
    free(s);
}

static void add_into(float *x, const float *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) x[i] += y[i];
}

/* Attention block: x += Wo . attention(RoPE(Wq xn), KV cache + RoPE(Wk xn), Wv xn). */
static void attention_block(pdvm_ref_state *s, uint32_t l, uint32_t pos)
{
    const pdvm_hparams *hp = &s->m->hp;
    const pdvm_layer *L = &s->m->layers[l];
    size_t layer_off = (size_t)l * s->n_ctx * s->kv_dim;
    float *k_layer = s->k_cache + layer_off, *v_layer = s->v_cache + layer_off;
    float *k_pos = k_layer + (size_t)pos * s->kv_dim, *v_pos = v_layer + (size_t)pos * s->kv_dim;

    pdvm_ref_rmsnorm(s->xb, s->x, s->norms + (size_t)(2 * l) * hp->n_embd, hp->n_embd,
                     hp->rms_eps);
    pdvm_ref_matvec(&L->attn_q, s->xb, s->q);
    pdvm_ref_matvec(&L->attn_k, s->xb, k_pos);
    pdvm_ref_matvec(&L->attn_v, s->xb, v_pos);
    pdvm_ref_rope(s->q, hp->n_head, hp->head_dim, hp->n_rot, pos, hp->rope_freq_base,
                  hp->rope_type);
    pdvm_ref_rope(k_pos, hp->n_head_kv, hp->head_dim, hp->n_rot, pos, hp->rope_freq_base,
                  hp->rope_type);
    /* Grouped-query attention: n_head / n_head_kv query heads share a KV head. */
    uint32_t group = hp->n_head / hp->n_head_kv;
    for (uint32_t h = 0; h < hp->n_head; h++) {
        size_t kv_off = (size_t)(h / group) * hp->head_dim;
        pdvm_ref_attention_head(s->q + (size_t)h * hp->head_dim, k_layer + kv_off,
                                v_layer + kv_off, pos + 1, hp->head_dim, s->kv_dim,
                                s->att + (size_t)h * hp->head_dim);
    }
    pdvm_ref_matvec(&L->attn_output, s->att, s->xb2);
    add_into(s->x, s->xb2, hp->n_embd);
}

/* SwiGLU FFN block: x += Wdown (silu(Wgate xn) * Wup xn). */
static void ffn_block(pdvm_ref_state *s, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    const pdvm_layer *L = &s->m->layers[l];
    pdvm_ref_rmsnorm(s->xb, s->x, s->norms + (size_t)(2 * l + 1) * hp->n_embd, hp->n_embd,
                     hp->rms_eps);
    pdvm_ref_matvec(&L->ffn_gate, s->xb, s->hb);
    pdvm_ref_matvec(&L->ffn_up, s->xb, s->hb2);
    pdvm_ref_swiglu(s->hb, s->hb2, s->hb, hp->n_ff);
    pdvm_ref_matvec(&L->ffn_down, s->hb, s->xb2);
    add_into(s->x, s->xb2, hp->n_embd);
}

pdvm_status pdvm_ref_forward(pdvm_ref_state *s, int32_t token, uint32_t pos, float *logits)
{
    const pdvm_model *m = s->m;
    const pdvm_hparams *hp = &m->hp;
    if (token < 0 || token >= m->tok_embd.ne[1])
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "reference: token %d is outside 0..%lld", token,
                         (long long)m->tok_embd.ne[1] - 1);
    if (pos >= s->n_ctx)
        return pdvm_fail(PDVM_ERR_CONTEXT_FULL, "reference: position %u is past n_ctx %u", pos,
                         s->n_ctx);
    pdvm_dequant_row(m->tok_embd.type,
                     (const uint8_t *)m->tok_embd.data + (size_t)token * m->tok_embd.row_bytes,
                     s->x, hp->n_embd);
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        attention_block(s, l, pos);
        ffn_block(s, l);
    }
    if (!logits) return PDVM_OK;
    pdvm_ref_rmsnorm(s->xb, s->x, s->norms + (size_t)(2 * hp->n_layer) * hp->n_embd, hp->n_embd,
                     hp->rms_eps);
    pdvm_ref_matvec(&m->output, s->xb, logits);
    return PDVM_OK;
}

size_t pdvm_ref_kv_bytes(const pdvm_ref_state *s)
{
    return 2 * (size_t)s->m->hp.n_layer * s->n_ctx * s->kv_dim * sizeof(float);
}
