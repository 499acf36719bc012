#include "arch_models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_writer.h"
#include "pdvm.h"
#include "quant.h"
#include "test_util.h"

/* Shapes small enough for llvmpipe, structures as the real families have
 * them: GQA everywhere, Qwen3's and Gemma's key_length != n_embd / n_head,
 * Phi's partial rotary and fused tensors, Gemma's windows smaller than the
 * 64 decoded tokens so the tests run past them. */
static const arch_spec specs[] = {
    {.name = "llama3", .arch = "llama", .vocab = "ggml-vocab-llama-bpe.gguf", .n_embd = 256,
     .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 512, .n_ctx_train = 512,
     .rope_base = 500000.0f, .rms_eps = 1e-5f, .rope_freqs = true},
    {.name = "smollm", .arch = "llama", .vocab = "ggml-vocab-starcoder.gguf", .n_embd = 128,
     .n_layer = 2, .n_head = 4, .n_head_kv = 1, .n_ff = 320, .n_ctx_train = 512,
     .rope_base = 10000.0f, .rms_eps = 1e-5f, .tied = true},
    {.name = "qwen2", .arch = "qwen2", .vocab = "ggml-vocab-qwen2.gguf", .n_embd = 128,
     .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 384, .n_ctx_train = 512,
     .rope_base = 1000000.0f, .rms_eps = 1e-6f, .bias = true, .tied = true},
    {.name = "qwen3", .arch = "qwen3", .vocab = "ggml-vocab-qwen2.gguf", .n_embd = 128,
     .n_layer = 2, .n_head = 4, .n_head_kv = 2, .head_dim = 64, .n_ff = 384,
     .n_ctx_train = 512, .rope_base = 1000000.0f, .rms_eps = 1e-6f, .qk_norm = true},
    {.name = "phi3", .arch = "phi3", .vocab = "ggml-vocab-phi-3.gguf", .n_embd = 256,
     .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 512, .n_ctx_train = 512, .n_rot = 48,
     .rope_base = 10000.0f, .rms_eps = 1e-5f, .fused_qkv = true, .fused_up = true,
     .longrope = true},
    {.name = "gemma2", .arch = "gemma2", .vocab = "ggml-vocab-llama-spm.gguf", .n_embd = 128,
     .n_layer = 2, .n_head = 4, .n_head_kv = 2, .head_dim = 64, .n_ff = 384,
     .n_ctx_train = 512, .rope_base = 10000.0f, .rms_eps = 1e-6f, .post_norms = true,
     .tied = true, .n_swa = 8, .attn_softcap = 50.0f, .final_softcap = 30.0f},
    {.name = "gemma3", .arch = "gemma3", .vocab = "ggml-vocab-llama-spm.gguf", .n_embd = 128,
     .n_layer = 3, .n_head = 4, .n_head_kv = 1, .head_dim = 64, .n_ff = 384,
     .n_ctx_train = 512, .rope_base = 1000000.0f, .rms_eps = 1e-6f, .qk_norm = true,
     .post_norms = true, .tied = true, .n_swa = 16, .swa_pattern = 3,
     .rope_base_swa = 10000.0f, .rope_scale = 8.0f},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

size_t arch_spec_count(void) { return N_SPECS; }
const arch_spec *arch_spec_at(size_t i) { return i < N_SPECS ? &specs[i] : NULL; }

/* TinyLlama-1.1B's shape (its config.json), for memory measurements at a
 * real size: not among the specs the architecture tests loop over. */
static const arch_spec tinyllama = {
    .name = "tinyllama-1.1b", .arch = "llama", .vocab = "ggml-vocab-llama-spm.gguf",
    .n_embd = 2048, .n_layer = 22, .n_head = 32, .n_head_kv = 4, .n_ff = 5632,
    .n_ctx_train = 2048, .rope_base = 10000.0f, .rms_eps = 1e-5f};

/* Llama-3-8B's shape (its config.json), for the memory figure on a GPU
 * with its own memory. */
static const arch_spec llama3_8b = {
    .name = "llama-3-8b", .arch = "llama", .vocab = "ggml-vocab-llama-bpe.gguf",
    .n_embd = 4096, .n_layer = 32, .n_head = 32, .n_head_kv = 8, .n_ff = 14336,
    .n_ctx_train = 8192, .rope_base = 500000.0f, .rms_eps = 1e-5f};

static const arch_spec big_embd = {
    .name = "big-embd", .arch = "llama", .vocab = "ggml-vocab-llama-spm.gguf", .n_embd = 5120,
    .n_layer = 1, .n_head = 40, .n_head_kv = 8, .n_ff = 2048, .n_ctx_train = 2048,
    .rope_base = 10000.0f, .rms_eps = 1e-5f, .embd_f32 = true};

const arch_spec *arch_spec_find(const char *name)
{
    for (size_t i = 0; i < N_SPECS; i++)
        if (!strcmp(specs[i].name, name)) return &specs[i];
    if (!strcmp(tinyllama.name, name)) return &tinyllama;
    if (!strcmp(llama3_8b.name, name)) return &llama3_8b;
    return !strcmp(big_embd.name, name) ? &big_embd : NULL;
}

static const struct {
    const char *name;
    uint32_t type;
} type_names[] = {
    {"f32", PDVM_TYPE_F32},   {"f16", PDVM_TYPE_F16},   {"bf16", PDVM_TYPE_BF16},
    {"q8_0", PDVM_TYPE_Q8_0}, {"q4_0", PDVM_TYPE_Q4_0}, {"q4_1", PDVM_TYPE_Q4_1},
    {"q5_0", PDVM_TYPE_Q5_0}, {"q5_1", PDVM_TYPE_Q5_1}, {"q2_K", PDVM_TYPE_Q2_K},
    {"q3_K", PDVM_TYPE_Q3_K}, {"q4_K", PDVM_TYPE_Q4_K}, {"q5_K", PDVM_TYPE_Q5_K},
    {"q6_K", PDVM_TYPE_Q6_K}, {"iq4_nl", PDVM_TYPE_IQ4_NL}, {"iq4_xs", PDVM_TYPE_IQ4_XS},
};

bool arch_type_from_name(const char *name, uint32_t *type)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcmp(type_names[i].name, name)) return *type = type_names[i].type, true;
    return false;
}

/* ------------------------------------------------------ random blocks */

/* Byte offsets of the f16 scale fields in a block, and each one's value
 * relative to the block's scale: the rest of a block may be any bytes,
 * these set the magnitude. A min field is set so that the weights are
 * centred on zero on average (quants uniform: their mean times d), as a
 * real quantizer's are, instead of every row sharing a large offset. */
static int scale_fields(uint32_t type, uint32_t *off, float *rel)
{
    rel[0] = 1.0f;
    switch (type) {
    case PDVM_TYPE_Q8_0: case PDVM_TYPE_Q4_0: case PDVM_TYPE_Q5_0: off[0] = 0; return 1;
    case PDVM_TYPE_Q4_1: off[0] = 0, off[1] = 2, rel[1] = -7.5f; return 2;
    case PDVM_TYPE_Q5_1: off[0] = 0, off[1] = 2, rel[1] = -15.5f; return 2;
    case PDVM_TYPE_Q2_K: off[0] = 80, off[1] = 82, rel[1] = 1.5f; return 2;
    case PDVM_TYPE_Q3_K: off[0] = 108; return 1;
    case PDVM_TYPE_Q4_K: off[0] = 0, off[1] = 2, rel[1] = 7.5f; return 2;
    case PDVM_TYPE_Q5_K: off[0] = 0, off[1] = 2, rel[1] = 15.5f; return 2;
    case PDVM_TYPE_Q6_K: off[0] = 208; return 1;
    case PDVM_TYPE_IQ4_NL: case PDVM_TYPE_IQ4_XS: off[0] = 0; return 1;
    default: return 0;
    }
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = pdvm_f32_to_f16(v);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

static double rms_of(uint32_t type, const uint8_t *data, uint64_t row_bytes, int64_t n_in,
                     int64_t n_rows, float *row)
{
    double ss = 0;
    for (int64_t r = 0; r < n_rows; r++) {
        pdvm_dequant_row(type, data + r * row_bytes, row, n_in);
        for (int64_t i = 0; i < n_in; i++) ss += (double)row[i] * row[i];
    }
    return sqrt(ss / ((double)n_in * n_rows));
}

/* n_rows rows of n_in random weights of `type` whose RMS is about target:
 * random quants with the scale fields at their relative values, measured,
 * then each block's scales multiplied by target / rms times a random
 * factor in [0.5, 1.5]. */
static uint8_t *random_weights(uint32_t type, int64_t n_in, int64_t n_rows, double target,
                               uint64_t *seed, uint64_t *row_bytes)
{
    pdvm_type_row_bytes(type, n_in, row_bytes);
    uint64_t bytes = *row_bytes * (uint64_t)n_rows;
    uint8_t *w = malloc(bytes);
    float *row = malloc((size_t)n_in * sizeof *row);
    if (!w || !row) abort();
    if (type == PDVM_TYPE_F32 || type == PDVM_TYPE_F16 || type == PDVM_TYPE_BF16) {
        double half = target * sqrt(3.0);
        for (uint64_t i = 0; i < (uint64_t)n_in * n_rows; i++) {
            float v = test_rand_float(seed, (float)-half, (float)half);
            if (type == PDVM_TYPE_F32) memcpy(w + 4 * i, &v, 4);
            else if (type == PDVM_TYPE_F16) put_f16(w + 2 * i, v);
            else {
                uint32_t b;
                memcpy(&b, &v, 4);
                w[2 * i] = (uint8_t)(b >> 16), w[2 * i + 1] = (uint8_t)(b >> 24);
            }
        }
        free(row);
        return w;
    }
    for (uint64_t i = 0; i < bytes; i++) w[i] = (uint8_t)test_rand_u64(seed);
    uint32_t off[2], bb = pdvm_type_block_bytes(type);
    float rel[2];
    int nf = scale_fields(type, off, rel);
    for (uint64_t b = 0; b < bytes / bb; b++)
        for (int f = 0; f < nf; f++) put_f16(w + b * bb + off[f], rel[f]);
    double scale = target / rms_of(type, w, *row_bytes, n_in, n_rows, row);
    for (uint64_t b = 0; b < bytes / bb; b++) {
        float k = (float)scale * test_rand_float(seed, 0.5f, 1.5f);
        for (int f = 0; f < nf; f++) put_f16(w + b * bb + off[f], k * rel[f]);
    }
    free(row);
    return w;
}

/* K and IQ types need rows of 256: others fall back as llama.cpp does. */
static uint32_t fit_type(uint32_t type, int64_t n_in)
{
    if (n_in % pdvm_type_block_elems(type) == 0) return type;
    if (type == PDVM_TYPE_IQ4_XS) return PDVM_TYPE_IQ4_NL;
    bool four_bit = type == PDVM_TYPE_Q4_K || type == PDVM_TYPE_Q3_K || type == PDVM_TYPE_Q2_K;
    return four_bit ? PDVM_TYPE_Q5_0 : PDVM_TYPE_Q8_0;
}

/* -------------------------------------------------------- the tensors */

typedef struct tensor_out {
    char name[64];
    uint32_t type, n_dims;
    int64_t ne[2];
    uint8_t *data;
    uint64_t bytes;
} tensor_out;

/* Room for 2 + 16 tensors a layer at up to 128 layers (--layers of the
 * model-writing tool). */
enum { MAX_TENSORS = 4096 };

typedef struct model_out {
    tensor_out t[MAX_TENSORS];
    size_t n;
    uint64_t *seed;
    bool dequant;
} model_out;

static void add_tensor(model_out *m, const char *name, uint32_t type, int64_t n_in, int64_t n_out,
                       double target)
{
    if (m->n == MAX_TENSORS) abort();
    tensor_out *t = &m->t[m->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    uint64_t rb;
    t->type = n_out == 1 ? PDVM_TYPE_F32 : fit_type(type, n_in);
    t->data = random_weights(t->type, n_in, n_out, target, m->seed, &rb);
    t->n_dims = n_out == 1 ? 1 : 2;
    t->ne[0] = n_in, t->ne[1] = n_out;
    t->bytes = rb * (uint64_t)n_out;
    if (!m->dequant || t->type == PDVM_TYPE_F32) return;
    float *f = malloc((size_t)(n_in * n_out) * 4);
    if (!f) abort();
    for (int64_t r = 0; r < n_out; r++) pdvm_dequant_row(t->type, t->data + r * rb, f + r * n_in, n_in);
    free(t->data);
    t->data = (uint8_t *)f;
    t->type = PDVM_TYPE_F32;
    t->bytes = (uint64_t)(n_in * n_out) * 4;
}

/* 1-D f32 values uniform in [lo, hi). */
static void add_vector(model_out *m, const char *name, int64_t n, float lo, float hi)
{
    if (m->n == MAX_TENSORS) abort();
    tensor_out *t = &m->t[m->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = PDVM_TYPE_F32, t->n_dims = 1, t->ne[0] = n, t->ne[1] = 1;
    t->bytes = (uint64_t)n * 4;
    float *v = malloc((size_t)n * 4);
    if (!v) abort();
    for (int64_t i = 0; i < n; i++) v[i] = test_rand_float(m->seed, lo, hi);
    t->data = (uint8_t *)v;
}

static uint32_t head_dim(const arch_spec *s) { return s->head_dim ? s->head_dim : s->n_embd / s->n_head; }

static void add_layer(model_out *m, const arch_spec *s, uint32_t l, uint32_t type)
{
    char n[64];
    const int64_t e = s->n_embd, q = (int64_t)s->n_head * head_dim(s);
    const int64_t kv = (int64_t)s->n_head_kv * head_dim(s), ff = s->n_ff;
#define NAME(suffix) (snprintf(n, sizeof n, "blk.%u." suffix, l), n)
    add_vector(m, NAME("attn_norm.weight"), e, 0.8f, 1.2f);
    if (s->fused_qkv) {
        add_tensor(m, NAME("attn_qkv.weight"), type, e, q + 2 * kv + s->qkv_extra_rows,
                   2.0 / sqrt((double)e));
    } else {
        /* Peaked attention: which tokens came before matters. */
        add_tensor(m, NAME("attn_q.weight"), type, e, q, 2.0 / sqrt((double)e));
        add_tensor(m, NAME("attn_k.weight"), type, e, kv, 2.0 / sqrt((double)e));
        add_tensor(m, NAME("attn_v.weight"), type, e, kv, 1.0 / sqrt((double)e));
    }
    if (s->bias) {
        add_vector(m, NAME("attn_q.bias"), q, -0.2f, 0.2f);
        add_vector(m, NAME("attn_k.bias"), kv, -0.2f, 0.2f);
        add_vector(m, NAME("attn_v.bias"), kv, -0.2f, 0.2f);
    }
    if (s->qk_norm) {
        add_vector(m, NAME("attn_q_norm.weight"), head_dim(s), 0.8f, 1.2f);
        add_vector(m, NAME("attn_k_norm.weight"), head_dim(s), 0.8f, 1.2f);
    }
    add_tensor(m, NAME("attn_output.weight"), type, q, e, 2.0 / sqrt((double)q));
    if (s->post_norms) add_vector(m, NAME("post_attention_norm.weight"), e, 0.8f, 1.2f);
    add_vector(m, NAME("ffn_norm.weight"), e, 0.8f, 1.2f);
    if (s->fused_up) {
        add_tensor(m, NAME("ffn_up.weight"), type, e, 2 * ff, 1.0 / sqrt((double)e));
    } else {
        add_tensor(m, NAME("ffn_gate.weight"), type, e, ff, 1.0 / sqrt((double)e));
        add_tensor(m, NAME("ffn_up.weight"), type, e, ff, 1.0 / sqrt((double)e));
    }
    add_tensor(m, NAME("ffn_down.weight"), type, ff, e, 3.0 / sqrt((double)ff));
    if (s->post_norms) add_vector(m, NAME("post_ffw_norm.weight"), e, 0.8f, 1.2f);
#undef NAME
}

/* Llama 3.1-like frequency divisors: 1 for high frequencies rising to 8. */
static void add_rope_factors(model_out *m, const char *name, int64_t n, float top)
{
    add_vector(m, name, n, 1.0f, 1.0f);
    float *v = (float *)m->t[m->n - 1].data;
    for (int64_t i = 0; i < n; i++) v[i] = 1.0f + (top - 1.0f) * (float)i / (float)(n - 1);
}

static void add_tensors(model_out *m, const arch_spec *s, uint32_t type, uint32_t n_vocab)
{
    /* Small embeddings against the layers' updates, so the next token is not
     * just the current one (tied output). Logits with a spread of about
     * LOGIT_STD (less under a soft-cap), so that across a 100k-token
     * vocabulary the two best stay clearly apart: through the output rows,
     * or through output_norm when the output is the embedding. */
    /* Gemma multiplies the embedding row by sqrt(n_embd) on the way in. */
    bool gemma = !strncmp(s->arch, "gemma", 5);
    const double embd = gemma ? 0.02 : s->tied ? 0.1 : 0.3;
    const double spread = s->final_softcap != 0.0f ? 10.0 : 20.0;
    add_tensor(m, "token_embd.weight", s->embd_f32 ? PDVM_TYPE_F32 : type, s->n_embd, n_vocab,
               embd);
    float k = s->tied ? (float)(spread / (embd * sqrt((double)s->n_embd))) : 1.0f;
    add_vector(m, "output_norm.weight", s->n_embd, 0.8f * k, 1.2f * k);
    if (!s->tied) add_tensor(m, "output.weight", type, s->n_embd, n_vocab, spread / sqrt((double)s->n_embd));
    uint32_t n_rot = s->n_rot ? s->n_rot : head_dim(s);
    if (s->rope_freqs) add_rope_factors(m, "rope_freqs.weight", n_rot / 2, 8.0f);
    if (s->longrope) {
        add_rope_factors(m, "rope_factors_long.weight", n_rot / 2, 4.0f);
        add_rope_factors(m, "rope_factors_short.weight", n_rot / 2, 1.5f);
    }
    for (uint32_t l = 0; l < s->n_layer; l++) add_layer(m, s, l, type);
}

/* ------------------------------------------------------------ metadata */

static void put_scalar(gw *w, const pdvm_gguf_value *v)
{
    switch (v->type) {
    case PDVM_GGUF_TYPE_UINT8: case PDVM_GGUF_TYPE_INT8: case PDVM_GGUF_TYPE_BOOL:
        gw_u8(w, v->type == PDVM_GGUF_TYPE_BOOL ? v->v.b : (uint8_t)v->v.u);
        break;
    case PDVM_GGUF_TYPE_UINT16: case PDVM_GGUF_TYPE_INT16:
        gw_u8(w, (uint8_t)v->v.u), gw_u8(w, (uint8_t)(v->v.u >> 8));
        break;
    case PDVM_GGUF_TYPE_UINT32: gw_u32(w, (uint32_t)v->v.u); break;
    case PDVM_GGUF_TYPE_INT32: gw_u32(w, (uint32_t)v->v.i); break;
    case PDVM_GGUF_TYPE_FLOAT32: gw_f32(w, (float)v->v.f); break;
    case PDVM_GGUF_TYPE_UINT64: gw_u64(w, v->v.u); break;
    case PDVM_GGUF_TYPE_INT64: gw_u64(w, (uint64_t)v->v.i); break;
    case PDVM_GGUF_TYPE_FLOAT64: {
        uint64_t b;
        memcpy(&b, &v->v.f, 8);
        gw_u64(w, b);
        break;
    }
    case PDVM_GGUF_TYPE_STRING:
        gw_u64(w, v->v.s.len);
        gw_bytes(w, v->v.s.ptr, (size_t)v->v.s.len);
        break;
    default: break;
    }
}

/* Every tokenizer.* key of the vocabulary file, byte for byte in meaning. */
static uint64_t copy_tokenizer(gw *kv, const pdvm_gguf *g)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < pdvm_gguf_n_kv(g); i++) {
        pdvm_gguf_str key = pdvm_gguf_key(g, i);
        if (key.len < 10 || memcmp(key.ptr, "tokenizer.", 10) != 0) continue;
        pdvm_gguf_value v;
        pdvm_gguf_kv_value(g, i, &v);
        gw_u64(kv, key.len);
        gw_bytes(kv, key.ptr, (size_t)key.len);
        gw_u32(kv, v.type);
        if (v.type == PDVM_GGUF_TYPE_ARRAY) {
            gw_u32(kv, v.elem_type);
            gw_u64(kv, v.n);
            for (uint64_t j = 0; j < v.n; j++) {
                pdvm_gguf_value e;
                pdvm_gguf_kv_item(g, i, j, &e);
                put_scalar(kv, &e);
            }
        } else {
            put_scalar(kv, &v);
        }
        n++;
    }
    return n;
}

static uint64_t arch_keys(gw *kv, const arch_spec *s)
{
    char k[96];
    uint64_t n = 0;
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, s->arch), n++, k)
    gw_kv_str(kv, "general.architecture", s->arch), n++;
    gw_kv_u32(kv, KEY("context_length"), s->n_ctx_train);
    gw_kv_u32(kv, KEY("embedding_length"), s->n_embd);
    gw_kv_u32(kv, KEY("block_count"), s->n_layer);
    gw_kv_u32(kv, KEY("feed_forward_length"), s->n_ff);
    gw_kv_u32(kv, KEY("attention.head_count"), s->n_head);
    gw_kv_u32(kv, KEY("attention.head_count_kv"), s->n_head_kv);
    gw_kv_f32(kv, KEY("attention.layer_norm_rms_epsilon"), s->rms_eps);
    gw_kv_f32(kv, KEY("rope.freq_base"), s->rope_base);
    if (s->head_dim) {
        gw_kv_u32(kv, KEY("attention.key_length"), s->head_dim);
        gw_kv_u32(kv, KEY("attention.value_length"), s->head_dim);
    }
    if (s->n_rot) gw_kv_u32(kv, KEY("rope.dimension_count"), s->n_rot);
    if (s->n_swa) gw_kv_u32(kv, KEY("attention.sliding_window"), s->n_swa);
    if (s->swa_pattern) gw_kv_u32(kv, KEY("attention.sliding_window_pattern"), s->swa_pattern);
    if (s->rope_base_swa != 0.0f) gw_kv_f32(kv, KEY("rope.freq_base_swa"), s->rope_base_swa);
    if (s->rope_scale != 0.0f) gw_kv_f32(kv, KEY("rope.scaling.factor"), s->rope_scale);
    if (s->attn_softcap != 0.0f) gw_kv_f32(kv, KEY("attn_logit_softcapping"), s->attn_softcap);
    if (s->final_softcap != 0.0f) gw_kv_f32(kv, KEY("final_logit_softcapping"), s->final_softcap);
    if (s->longrope) {
        /* A 128k-style model: factors long when the context passes 64. */
        gw_kv_u32(kv, KEY("rope.scaling.original_context_length"), 64);
        gw_kv_f32(kv, KEY("rope.scaling.attn_factor"), 1.19f);
    }
#undef KEY
    return n;
}

static bool write_file(const char *path, const gw *kv, uint64_t n_kv, const model_out *m)
{
    const uint32_t align = 32;
    gw out = {0};
    gw_bytes(&out, "GGUF", 4);
    gw_u32(&out, 3);
    gw_u64(&out, m->n);
    gw_u64(&out, n_kv);
    gw_bytes(&out, kv->buf, kv->len);
    uint64_t off = 0;
    for (size_t i = 0; i < m->n; i++) {
        gw_str(&out, m->t[i].name);
        gw_u32(&out, m->t[i].n_dims);
        for (uint32_t d = 0; d < m->t[i].n_dims; d++) gw_u64(&out, (uint64_t)m->t[i].ne[d]);
        gw_u32(&out, m->t[i].type);
        gw_u64(&out, off);
        off = (off + m->t[i].bytes + align - 1) / align * align;
    }
    gw_pad(&out, align);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(out.buf, 1, out.len, f) == out.len;
    gw_free(&out);
    for (size_t i = 0; ok && i < m->n; i++) {
        static const uint8_t zeros[32];
        uint64_t pad = (align - m->t[i].bytes % align) % align;
        ok = fwrite(m->t[i].data, 1, m->t[i].bytes, f) == m->t[i].bytes &&
             (i + 1 == m->n || fwrite(zeros, 1, pad, f) == pad);
    }
    if (f && fclose(f) != 0) ok = false;
    if (!ok) fprintf(stderr, "arch_model_write: cannot write %s\n", path);
    return ok;
}

bool arch_model_write(const arch_spec *s, uint32_t type, uint64_t seed, bool dequant_f32,
                      const char *vocab_dir, const char *path)
{
    char vpath[4096];
    snprintf(vpath, sizeof vpath, "%s/%s", vocab_dir, s->vocab);
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open(vpath, &g) != PDVM_OK) {
        fprintf(stderr, "arch_model_write: %s\n", pdvm_last_error());
        return false;
    }
    gw kv = {0};
    uint64_t n_kv = arch_keys(&kv, s) + copy_tokenizer(&kv, g);
    pdvm_gguf_value tokens = {0};
    for (uint64_t i = 0; i < pdvm_gguf_n_kv(g); i++) {
        pdvm_gguf_str key = pdvm_gguf_key(g, i);
        if (key.len == 21 && !memcmp(key.ptr, "tokenizer.ggml.tokens", 21))
            pdvm_gguf_kv_value(g, i, &tokens);
    }
    pdvm_gguf_close(g);
    model_out *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->seed = &seed;
    m->dequant = dequant_f32;
    add_tensors(m, s, type, (uint32_t)tokens.n);
    bool ok = tokens.n > 0 && write_file(path, &kv, n_kv, m);
    for (size_t i = 0; i < m->n; i++) free(m->t[i].data);
    free(m);
    gw_free(&kv);
    return ok;
}
