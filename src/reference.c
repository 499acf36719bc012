/* The float32 reference forward pass (see reference.h). Written to be read
 * next to llama.cpp's src/models/<arch>.cpp; speed comes only from not
 * doing anything clever that could hide a bug. Sums of squares and softmax
 * denominators are accumulated in double, as ggml does. What differs
 * between architectures comes from the bound model: which tensors a layer
 * has (biases, Q/K norms, post-norms) and pdvm_arch_params. */
#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quant.h"
#include "ref_matvec.h"
#include "rope.h"

/* The weight matrices are decoded to f32 once per state when that takes
 * at most this much memory (every golden and stories model of the tests;
 * a real model on the CPU backend keeps decoding rows per token instead). */
#define REF_DECODE_MAX_BYTES ((size_t)256 << 20)

/* ---------------------------------------------------------------- kernels */

void pdvm_ref_rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (uint32_t i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void pdvm_ref_rope(float *v, uint32_t n_head, uint32_t head_dim, uint32_t n_rot, uint32_t pos,
                   float freq_base, pdvm_rope_type type)
{
    float cs[2 * 512];
    pdvm_rope_cfg c = {n_rot, freq_base, 1.0f, NULL, 1.0f};
    pdvm_rope_table(&c, pos, cs);
    pdvm_rope_apply(v, n_head, head_dim, n_rot, cs, type);
}

static float dot_f32(const float *a, const float *b, uint32_t n)
{
    float sum = 0.0f;
    for (uint32_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

static float score(const float *q, const float *k, uint32_t hd, float scale, float softcap)
{
    float s = dot_f32(q, k, hd) * scale;
    return softcap > 0.0f ? tanhf(s / softcap) * softcap : s;
}

/* Two passes (max, then weights) so no buffer of n_pos scores is needed. */
void pdvm_ref_attention_ext(const float *q, const float *k, const float *v, uint32_t n_pos,
                            uint32_t head_dim, size_t kv_stride, float scale, float softcap,
                            float *out)
{
    float max = -INFINITY;
    for (uint32_t t = 0; t < n_pos; t++) {
        float sc = score(q, k + t * kv_stride, head_dim, scale, softcap);
        if (sc > max) max = sc;
    }
    memset(out, 0, head_dim * sizeof *out);
    double sum = 0.0;
    for (uint32_t t = 0; t < n_pos; t++) {
        float p = expf(score(q, k + t * kv_stride, head_dim, scale, softcap) - max);
        sum += p;
        const float *vt = v + t * kv_stride;
        for (uint32_t d = 0; d < head_dim; d++) out[d] += p * vt[d];
    }
    float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (uint32_t d = 0; d < head_dim; d++) out[d] *= inv;
}

void pdvm_ref_attention_head(const float *q, const float *k, const float *v, uint32_t n_pos,
                             uint32_t head_dim, size_t kv_stride, float *out)
{
    pdvm_ref_attention_ext(q, k, v, n_pos, head_dim, kv_stride, 1.0f / sqrtf((float)head_dim),
                           0.0f, out);
}

float pdvm_ref_act(pdvm_act act, float g)
{
    if (act == PDVM_ACT_GELU_TANH)
        return 0.5f * g * (1.0f + tanhf(0.79788456080286535588f * g * (1.0f + 0.044715f * g * g)));
    return g / (1.0f + expf(-g));
}

void pdvm_ref_glu(pdvm_act act, const float *gate, const float *up, float *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) out[i] = pdvm_ref_act(act, gate[i]) * up[i];
}

void pdvm_ref_swiglu(const float *gate, const float *up, float *out, uint32_t n)
{
    pdvm_ref_glu(PDVM_ACT_SILU, gate, up, out, n);
}

/* ----------------------------------------------------------- forward pass */

struct pdvm_ref_state {
    const pdvm_model *m;
    uint32_t n_ctx, n_seq, kv_dim, q_dim;
    uint32_t seq;        /* the sequence whose cache the pass in progress uses */
    bool kv_f16;
    float *vecs;         /* every 1-D layer tensor decoded: [n_layer][PDVM_LT_COUNT][wide] */
    float **mats;        /* 2-D weights decoded once, [n_layer * PDVM_LT_COUNT + 1] (the
                            last: output), or NULL (see decode_matrices) */
    size_t vec_stride;
    float *out_norm;     /* output_norm */
    float *factors;      /* RoPE frequency factors, n_rot / 2 */
    float *cs;           /* RoPE table of one position */
    float *k_cache;      /* [n_seq][n_layer][n_ctx][kv_dim] */
    float *v_cache;
    float *x, *xb, *xb2; /* residual stream and scratch, n_embd (or q_dim) */
    float *q, *att;      /* q_dim */
    float *hb, *hb2;     /* n_ff */
};

static pdvm_status check_tensor(const pdvm_tensor *t)
{
    if (!pdvm_tensor_present(t)) return PDVM_OK;
    if (!t->data)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "reference: %s has no data (synthetic model)",
                         t->name);
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
        hp->head_dim == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0 || hp->n_rot > 1024)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "reference: n_head %u, n_head_kv %u, head_dim %u, "
                                               "n_rot %u are not an attention layout it runs",
                         hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_rot);
    PDVM_TRY(check_tensor(&m->tok_embd));
    PDVM_TRY(check_tensor(&m->output_norm));
    PDVM_TRY(check_tensor(&m->output));
    for (uint32_t l = 0; l < hp->n_layer; l++)
        for (int s = 0; s < PDVM_LT_COUNT; s++) PDVM_TRY(check_tensor(&m->layers[l].t[s]));
    return PDVM_OK;
}

static float *layer_vec(const pdvm_ref_state *s, uint32_t l, pdvm_layer_slot slot)
{
    if (!pdvm_tensor_present(&s->m->layers[l].t[slot])) return NULL;
    return s->vecs + ((size_t)l * PDVM_LT_COUNT + slot) * s->vec_stride;
}

/* 1-D tensors (norms, biases) as f32 arrays of our own: aligned, and
 * decoded once. */
static void decode_vectors(pdvm_ref_state *s)
{
    const pdvm_model *m = s->m;
    for (uint32_t l = 0; l < m->hp.n_layer; l++)
        for (int k = 0; k < PDVM_LT_COUNT; k++) {
            const pdvm_tensor *t = &m->layers[l].t[k];
            float *dst = layer_vec(s, l, (pdvm_layer_slot)k);
            if (dst && t->ne[1] == 1) pdvm_dequant_row(t->type, t->data, dst, t->ne[0]);
        }
    pdvm_dequant_row(m->output_norm.type, m->output_norm.data, s->out_norm, m->hp.n_embd);
}

static size_t n_mats(const pdvm_model *m) { return (size_t)m->hp.n_layer * PDVM_LT_COUNT + 1; }

/* The tensor the forward pass multiplies by, at index i of mats (NULL for
 * the slots of vectors and absent tensors). */
static const pdvm_tensor *mat_at(const pdvm_model *m, size_t i)
{
    if (i == n_mats(m) - 1) return &m->output;
    switch (i % PDVM_LT_COUNT) {
    case PDVM_LT_ATTN_Q: case PDVM_LT_ATTN_K: case PDVM_LT_ATTN_V: case PDVM_LT_ATTN_OUTPUT:
    case PDVM_LT_FFN_GATE: case PDVM_LT_FFN_UP: case PDVM_LT_FFN_DOWN: break;
    default: return NULL;
    }
    const pdvm_tensor *t = &m->layers[i / PDVM_LT_COUNT].t[i % PDVM_LT_COUNT];
    return pdvm_tensor_present(t) ? t : NULL;
}

static void free_matrices(pdvm_ref_state *s)
{
    if (!s->mats) return;
    for (size_t i = 0; i < n_mats(s->m); i++) free(s->mats[i]);
    free(s->mats);
    s->mats = NULL;
}

/* Every weight matrix as f32 when they fit REF_DECODE_MAX_BYTES: each
 * token's products then skip the block decoding (the sums are the same,
 * ref_matvec.h). Out of memory here only means decoding per token. */
static void decode_matrices(pdvm_ref_state *s)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n_mats(s->m); i++)
        if (mat_at(s->m, i)) bytes += pdvm_ref_decoded_bytes(mat_at(s->m, i));
    if (bytes > REF_DECODE_MAX_BYTES) return;
    s->mats = calloc(n_mats(s->m), sizeof *s->mats);
    for (size_t i = 0; s->mats && i < n_mats(s->m); i++)
        if (mat_at(s->m, i) && !(s->mats[i] = pdvm_ref_decode(mat_at(s->m, i))))
            free_matrices(s);
}

/* y = W x for layer l's slot (or the output matrix when l is n_layer). */
static void matvec(const pdvm_ref_state *s, uint32_t l, int slot, const float *x, float *y)
{
    size_t i = l == s->m->hp.n_layer ? n_mats(s->m) - 1 : (size_t)l * PDVM_LT_COUNT + slot;
    const pdvm_tensor *w = mat_at(s->m, i);
    if (s->mats && s->mats[i]) pdvm_ref_matvec_decoded(w, s->mats[i], x, y);
    else pdvm_ref_matvec(w, x, y);
}

static pdvm_status alloc_buffers(pdvm_ref_state *s)
{
    const pdvm_hparams *hp = &s->m->hp;
    size_t wide = hp->n_embd > s->q_dim ? hp->n_embd : s->q_dim;
    size_t kv = (size_t)s->n_seq * hp->n_layer * s->n_ctx * s->kv_dim;
    if (s->kv_dim != 0 && kv / s->kv_dim / s->n_ctx / s->n_seq != hp->n_layer)
        return pdvm_fail(PDVM_ERR_NOMEM, "reference: KV cache size overflows");
    s->vec_stride = wide;
    s->vecs = malloc((size_t)hp->n_layer * PDVM_LT_COUNT * wide * sizeof(float));
    s->out_norm = malloc((size_t)hp->n_embd * sizeof(float));
    s->factors = malloc((size_t)(hp->n_rot / 2 + 1) * sizeof(float));
    s->cs = malloc((size_t)(hp->n_rot + 2) * sizeof(float));
    s->k_cache = calloc(kv, sizeof(float));
    s->v_cache = calloc(kv, sizeof(float));
    s->x = malloc(wide * sizeof(float));
    s->xb = malloc(wide * sizeof(float));
    s->xb2 = malloc(wide * sizeof(float));
    s->q = malloc(s->q_dim * sizeof(float));
    s->att = malloc(s->q_dim * sizeof(float));
    s->hb = malloc((size_t)hp->n_ff * sizeof(float));
    s->hb2 = malloc((size_t)hp->n_ff * sizeof(float));
    if (!s->vecs || !s->out_norm || !s->factors || !s->cs || !s->k_cache || !s->v_cache ||
        !s->x || !s->xb || !s->xb2 || !s->q || !s->att || !s->hb || !s->hb2)
        return pdvm_fail(PDVM_ERR_NOMEM, "reference: %.1f MiB of KV cache for %u positions",
                         2.0 * kv * sizeof(float) / 1048576.0, s->n_ctx);
    return PDVM_OK;
}

pdvm_status pdvm_ref_create(const pdvm_model *m, uint32_t n_ctx, pdvm_ref_state **out)
{
    return pdvm_ref_create_seq(m, n_ctx, 1, out);
}

pdvm_status pdvm_ref_create_seq(const pdvm_model *m, uint32_t n_ctx, uint32_t n_seq,
                                pdvm_ref_state **out)
{
    if (!out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_ref_create: out is NULL");
    *out = NULL;
    if (!m || n_ctx == 0 || n_seq == 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_ref_create: no model, n_ctx 0 or n_seq 0");
    PDVM_TRY(check_model(m));
    pdvm_ref_state *s = calloc(1, sizeof *s);
    if (!s) return pdvm_fail(PDVM_ERR_NOMEM, "reference state");
    s->m = m;
    s->n_ctx = n_ctx;
    s->n_seq = n_seq;
    s->kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    s->q_dim = m->hp.n_head * m->hp.head_dim;
    pdvm_status st = alloc_buffers(s);
    if (st != PDVM_OK) {
        pdvm_ref_free(s);
        return st;
    }
    decode_vectors(s);
    decode_matrices(s);
    *out = s;
    return PDVM_OK;
}

void pdvm_ref_free(pdvm_ref_state *s)
{
    if (!s) return;
    free_matrices(s);
    float *bufs[] = {s->vecs, s->out_norm, s->factors, s->cs, s->k_cache, s->v_cache, s->x,
                     s->xb, s->xb2, s->q, s->att, s->hb, s->hb2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(s);
}

void pdvm_ref_set_kv_f16(pdvm_ref_state *s, bool on) { s->kv_f16 = on; }

static float *cache_at(const pdvm_ref_state *s, bool v, uint32_t l, uint32_t pos)
{
    size_t at = ((size_t)s->seq * s->m->hp.n_layer + l) * s->n_ctx + pos;
    return (v ? s->v_cache : s->k_cache) + at * s->kv_dim;
}

void pdvm_ref_kv_write(pdvm_ref_state *s, uint32_t l, uint32_t pos, const float *k, const float *v)
{
    s->seq = 0;
    memcpy(cache_at(s, false, l, pos), k, s->kv_dim * sizeof(float));
    memcpy(cache_at(s, true, l, pos), v, s->kv_dim * sizeof(float));
}

static void add_into(float *x, const float *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) x[i] += y[i];
}

static void add_bias(float *y, const float *b, uint32_t n)
{
    if (b) add_into(y, b, n);
}

/* Per-head RMSNorm of n_head vectors of head_dim (Qwen3, Gemma 3). */
static void head_norm(float *v, const float *w, uint32_t n_head, const pdvm_hparams *hp)
{
    if (!w) return;
    for (uint32_t h = 0; h < n_head; h++)
        pdvm_ref_rmsnorm(v + (size_t)h * hp->head_dim, v + (size_t)h * hp->head_dim, w,
                         hp->head_dim, hp->rms_eps);
}

static float round_f16(float x) { return pdvm_f16_to_f32(pdvm_f32_to_f16(x)); }

/* Q, K, V of position pos: projections, biases, Q/K norms, RoPE; K and V
 * into the cache. */
static void qkv(pdvm_ref_state *s, uint32_t l, uint32_t pos)
{
    const pdvm_hparams *hp = &s->m->hp;
    float *k_pos = cache_at(s, false, l, pos), *v_pos = cache_at(s, true, l, pos);
    matvec(s, l, PDVM_LT_ATTN_Q, s->xb, s->q);
    matvec(s, l, PDVM_LT_ATTN_K, s->xb, k_pos);
    matvec(s, l, PDVM_LT_ATTN_V, s->xb, v_pos);
    add_bias(s->q, layer_vec(s, l, PDVM_LT_ATTN_Q_B), s->q_dim);
    add_bias(k_pos, layer_vec(s, l, PDVM_LT_ATTN_K_B), s->kv_dim);
    add_bias(v_pos, layer_vec(s, l, PDVM_LT_ATTN_V_B), s->kv_dim);
    head_norm(s->q, layer_vec(s, l, PDVM_LT_ATTN_Q_NORM), hp->n_head, hp);
    head_norm(k_pos, layer_vec(s, l, PDVM_LT_ATTN_K_NORM), hp->n_head_kv, hp);
    pdvm_rope_cfg c = pdvm_rope_cfg_for(s->m, l, s->n_ctx, s->factors);
    pdvm_rope_table(&c, pos, s->cs);
    pdvm_rope_apply(s->q, hp->n_head, hp->head_dim, hp->n_rot, s->cs, hp->rope_type);
    pdvm_rope_apply(k_pos, hp->n_head_kv, hp->head_dim, hp->n_rot, s->cs, hp->rope_type);
    if (!s->kv_f16) return;
    for (uint32_t i = 0; i < s->kv_dim; i++) {
        k_pos[i] = round_f16(k_pos[i]);
        v_pos[i] = round_f16(v_pos[i]);
    }
}

/* y = RMSNorm(y) * w when the layer has that post-norm (Gemma 2/3). */
static void post_norm(float *y, const float *w, const pdvm_hparams *hp)
{
    if (w) pdvm_ref_rmsnorm(y, y, w, hp->n_embd, hp->rms_eps);
}

/* Attention block: x += post(Wo . attention(...)). A sliding-window layer
 * attends to the last n_swa positions (llama.cpp: masked when
 * pos - p >= n_swa). */
static void attention_block(pdvm_ref_state *s, uint32_t l, uint32_t pos)
{
    const pdvm_hparams *hp = &s->m->hp;
    const pdvm_arch_params *ap = &s->m->ap;
    pdvm_ref_rmsnorm(s->xb, s->x, layer_vec(s, l, PDVM_LT_ATTN_NORM), hp->n_embd, hp->rms_eps);
    qkv(s, l, pos);
    uint32_t first = hp->n_swa && ap->swa[l] && pos + 1 > hp->n_swa ? pos + 1 - hp->n_swa : 0;
    uint32_t group = hp->n_head / hp->n_head_kv;
    for (uint32_t h = 0; h < hp->n_head; h++) {
        size_t kv_off = (size_t)(h / group) * hp->head_dim;
        pdvm_ref_attention_ext(s->q + (size_t)h * hp->head_dim,
                               cache_at(s, false, l, first) + kv_off,
                               cache_at(s, true, l, first) + kv_off, pos + 1 - first,
                               hp->head_dim, s->kv_dim, ap->attn_scale, ap->attn_softcap,
                               s->att + (size_t)h * hp->head_dim);
    }
    matvec(s, l, PDVM_LT_ATTN_OUTPUT, s->att, s->xb2);
    post_norm(s->xb2, layer_vec(s, l, PDVM_LT_ATTN_POST_NORM), hp);
    add_into(s->x, s->xb2, hp->n_embd);
}

/* Gated FFN block: x += post(Wdown (act(Wgate xn) * Wup xn)). */
static void ffn_block(pdvm_ref_state *s, uint32_t l)
{
    const pdvm_hparams *hp = &s->m->hp;
    pdvm_ref_rmsnorm(s->xb, s->x, layer_vec(s, l, PDVM_LT_FFN_NORM), hp->n_embd, hp->rms_eps);
    matvec(s, l, PDVM_LT_FFN_GATE, s->xb, s->hb);
    matvec(s, l, PDVM_LT_FFN_UP, s->xb, s->hb2);
    pdvm_ref_glu(s->m->ap.act, s->hb, s->hb2, s->hb, hp->n_ff);
    matvec(s, l, PDVM_LT_FFN_DOWN, s->hb, s->xb2);
    post_norm(s->xb2, layer_vec(s, l, PDVM_LT_FFN_POST_NORM), hp);
    add_into(s->x, s->xb2, hp->n_embd);
}

static void embed(pdvm_ref_state *s, int32_t token)
{
    const pdvm_model *m = s->m;
    pdvm_dequant_row(m->tok_embd.type,
                     (const uint8_t *)m->tok_embd.data + (size_t)token * m->tok_embd.row_bytes,
                     s->x, m->hp.n_embd);
    if (m->ap.embd_scale != 1.0f)
        for (uint32_t i = 0; i < m->hp.n_embd; i++) s->x[i] *= m->ap.embd_scale;
}

static void output(pdvm_ref_state *s, float *logits)
{
    const pdvm_model *m = s->m;
    pdvm_ref_rmsnorm(s->xb, s->x, s->out_norm, m->hp.n_embd, m->hp.rms_eps);
    matvec(s, m->hp.n_layer, 0, s->xb, logits);
    float cap = m->ap.final_softcap;
    if (cap > 0.0f)
        for (uint32_t i = 0; i < m->hp.n_vocab; i++) logits[i] = tanhf(logits[i] / cap) * cap;
}

pdvm_status pdvm_ref_forward(pdvm_ref_state *s, int32_t token, uint32_t pos, float *logits)
{
    return pdvm_ref_forward_seq(s, token, 0, pos, logits);
}

pdvm_status pdvm_ref_forward_seq(pdvm_ref_state *s, int32_t token, uint32_t seq, uint32_t pos,
                                 float *logits)
{
    const pdvm_model *m = s->m;
    if (token < 0 || token >= m->tok_embd.ne[1])
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "reference: token %d is outside 0..%lld", token,
                         (long long)m->tok_embd.ne[1] - 1);
    if (pos >= s->n_ctx)
        return pdvm_fail(PDVM_ERR_CONTEXT_FULL, "reference: position %u is past n_ctx %u", pos,
                         s->n_ctx);
    if (seq >= s->n_seq)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "reference: sequence %u is not below n_seq %u",
                         seq, s->n_seq);
    s->seq = seq;
    embed(s, token);
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        attention_block(s, l, pos);
        ffn_block(s, l);
    }
    if (logits) output(s, logits);
    return PDVM_OK;
}

size_t pdvm_ref_kv_bytes(const pdvm_ref_state *s)
{
    return 2 * (size_t)s->n_seq * s->m->hp.n_layer * s->n_ctx * s->kv_dim * sizeof(float);
}
