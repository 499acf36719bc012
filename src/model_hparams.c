/* {arch}.* hyperparameters, with llama.cpp's defaults where it has one
 * (head_count_kv = head_count, key_length = n_embd / head_count,
 * rope.freq_base = 10000, rope.dimension_count = head_dim, the sliding
 * window and soft-caps of the row) and an error naming the key where it has
 * none (context_length, embedding_length, block_count,
 * layer_norm_rms_epsilon). Counts llama.cpp reads as optional but cannot
 * run without (feed_forward_length, head_count) are required here too. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "model_hparams.h"

typedef struct keys {
    const pdvm_gguf *g;
    const char *arch;
    uint32_t n_layer; /* for per-layer arrays; 0 until known */
} keys;

static const char *key_name(const keys *k, const char *suffix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.%s", k->arch, suffix);
    return buf;
}

static pdvm_status wrong_type(const keys *k, const char *key, const char *want)
{
    int64_t i = pdvm_gguf_find_key(k->g, key);
    return pdvm_fail(PDVM_ERR_FORMAT, "%s has type %s, expected %s", key,
                     pdvm_gguf_type_name(pdvm_gguf_kv_type(k->g, (uint64_t)i)), want);
}

/* A per-layer array (llama.cpp's get_key_or_arr): all values must agree,
 * since pdvm_hparams holds one value. */
static pdvm_status uniform_array(const keys *k, const char *key, uint32_t *out)
{
    int64_t i = pdvm_gguf_find_key(k->g, key);
    gguf_value v;
    pdvm_gguf_kv_value(k->g, (uint64_t)i, &v);
    if (v.n == 0 || v.n != k->n_layer)
        return pdvm_fail(PDVM_ERR_FORMAT, "%s has %" PRIu64 " per-layer values for %" PRIu32
                         " layers", key, v.n, k->n_layer);
    for (uint64_t j = 0; j < v.n; j++) {
        gguf_value e;
        if (!pdvm_gguf_kv_item(k->g, (uint64_t)i, j, &e) ||
            (e.type != GGUF_TYPE_UINT32 && e.type != GGUF_TYPE_INT32))
            return wrong_type(k, key, "an integer array");
        uint64_t x = e.type == GGUF_TYPE_UINT32 ? e.v.u : (uint64_t)e.v.i;
        if (j == 0) *out = (uint32_t)x;
        else if (x != *out)
            return pdvm_fail(PDVM_ERR_UNSUPPORTED, "%s differs between layers (%" PRIu32
                             " and %" PRIu64 "): not supported", key, *out, x);
    }
    return PDVM_OK;
}

/* Read an unsigned count; an absent optional key leaves *out unchanged
 * (the caller's default). */
static pdvm_status get_count(const keys *k, const char *suffix, bool per_layer, bool required,
                             uint32_t *out)
{
    char key[96];
    key_name(k, suffix, key, sizeof key);
    int64_t i = pdvm_gguf_find_key(k->g, key);
    if (i < 0) {
        if (required)
            return pdvm_fail(PDVM_ERR_FORMAT, "%s missing (llama.cpp has no default for it)",
                             key);
        return PDVM_OK;
    }
    if (per_layer && pdvm_gguf_kv_type(k->g, (uint64_t)i) == GGUF_TYPE_ARRAY)
        return uniform_array(k, key, out);
    if (!pdvm_gguf_get_u32(k->g, key, out)) return wrong_type(k, key, "a u32 count");
    return PDVM_OK;
}

static pdvm_status get_float(const keys *k, const char *suffix, bool required, float *out)
{
    char key[96];
    key_name(k, suffix, key, sizeof key);
    if (pdvm_gguf_find_key(k->g, key) < 0) {
        if (required)
            return pdvm_fail(PDVM_ERR_FORMAT, "%s missing (llama.cpp has no default for it)",
                             key);
        return PDVM_OK;
    }
    if (!pdvm_gguf_get_f32(k->g, key, out)) return wrong_type(k, key, "f32");
    if (!isfinite(*out) || *out <= 0.0f)
        return pdvm_fail(PDVM_ERR_FORMAT, "%s is %g, expected a positive number", key,
                         (double)*out);
    return PDVM_OK;
}

static pdvm_status positive(const keys *k, const char *suffix, uint32_t v)
{
    if (v > 0) return PDVM_OK;
    char key[96];
    return pdvm_fail(PDVM_ERR_FORMAT, "%s is 0", key_name(k, suffix, key, sizeof key));
}

static pdvm_status read_counts(keys *k, pdvm_hparams *hp)
{
    PDVM_TRY(get_count(k, "context_length", false, true, &hp->n_ctx_train));
    PDVM_TRY(get_count(k, "embedding_length", false, true, &hp->n_embd));
    PDVM_TRY(get_count(k, "block_count", false, true, &hp->n_layer));
    PDVM_TRY(positive(k, "context_length", hp->n_ctx_train));
    PDVM_TRY(positive(k, "embedding_length", hp->n_embd));
    PDVM_TRY(positive(k, "block_count", hp->n_layer));
    if (hp->n_layer > PDVM_MAX_LAYERS)
        return pdvm_fail(PDVM_ERR_FORMAT, "%s.block_count is %" PRIu32 ", above llama.cpp's "
                         "limit of %d layers", k->arch, hp->n_layer, PDVM_MAX_LAYERS);
    k->n_layer = hp->n_layer;
    PDVM_TRY(get_count(k, "feed_forward_length", true, true, &hp->n_ff));
    PDVM_TRY(get_count(k, "attention.head_count", true, true, &hp->n_head));
    PDVM_TRY(positive(k, "feed_forward_length", hp->n_ff));
    PDVM_TRY(positive(k, "attention.head_count", hp->n_head));
    hp->n_head_kv = hp->n_head;
    PDVM_TRY(get_count(k, "attention.head_count_kv", true, false, &hp->n_head_kv));
    return positive(k, "attention.head_count_kv", hp->n_head_kv);
}

static pdvm_status check_heads(const keys *k, pdvm_hparams *hp)
{
    /* Qwen3's key_length differs from n_embd / n_head; pdvm_hparams has one
     * head size, so value_length must equal it. */
    char key[96];
    key_name(k, "attention.key_length", key, sizeof key);
    if (pdvm_gguf_find_key(k->g, key) < 0 && hp->n_embd % hp->n_head != 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "%s.embedding_length %" PRIu32 " is not a multiple "
                         "of attention.head_count %" PRIu32 " (and no key_length)", k->arch,
                         hp->n_embd, hp->n_head);
    if (hp->n_head % hp->n_head_kv != 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "%s.attention.head_count %" PRIu32 " is not a "
                         "multiple of head_count_kv %" PRIu32, k->arch, hp->n_head,
                         hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    PDVM_TRY(get_count(k, "attention.key_length", false, false, &hp->head_dim));
    PDVM_TRY(positive(k, "attention.key_length", hp->head_dim));
    uint32_t v_len = hp->head_dim;
    PDVM_TRY(get_count(k, "attention.value_length", false, false, &v_len));
    if (v_len != hp->head_dim)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "%s.attention.value_length %" PRIu32 " differs "
                         "from the key length %" PRIu32 ": not supported", k->arch, v_len,
                         hp->head_dim);
    return PDVM_OK;
}

/* Optional float that may be zero or negative: only finiteness checked. */
static pdvm_status get_any_float(const keys *k, const char *suffix, float *out)
{
    char key[96];
    key_name(k, suffix, key, sizeof key);
    if (pdvm_gguf_find_key(k->g, key) < 0) return PDVM_OK;
    if (!pdvm_gguf_get_f32(k->g, key, out)) return wrong_type(k, key, "f32");
    if (!isfinite(*out)) return pdvm_fail(PDVM_ERR_FORMAT, "%s is not finite", key);
    return PDVM_OK;
}

/* rope.scaling.type: none, linear (the default, with rope.scaling.factor)
 * and longrope (frequency factors as tensors, rope.scaling.attn_factor)
 * are what these families use; YaRN and the rest are refused by name. */
static pdvm_status read_rope_scaling(const keys *k, const pdvm_hparams *hp, pdvm_arch_params *ap)
{
    char key[96];
    gguf_str s;
    key_name(k, "rope.scaling.type", key, sizeof key);
    bool none = false;
    if (pdvm_gguf_get_str(k->g, key, &s)) {
        none = gguf_str_eq(s, "none");
        if (!none && !gguf_str_eq(s, "linear") && !gguf_str_eq(s, "longrope"))
            return pdvm_fail(PDVM_ERR_UNSUPPORTED, "%s '%.*s' is not supported (none, linear "
                             "and longrope are)", key, s.len > 32 ? 32 : (int)s.len, s.ptr);
    }
    float factor = 0.0f;
    PDVM_TRY(get_any_float(k, "rope.scaling.factor", &factor));
    ap->rope_freq_scale = none || factor == 0.0f ? 1.0f : 1.0f / factor;
    ap->rope_attn_factor = 1.0f;
    PDVM_TRY(get_any_float(k, "rope.scaling.attn_factor", &ap->rope_attn_factor));
    ap->n_ctx_orig = hp->n_ctx_train;
    return get_count(k, "rope.scaling.original_context_length", false, false, &ap->n_ctx_orig);
}

static pdvm_status read_rope(const keys *k, bool n_rot_is_head_dim, pdvm_hparams *hp,
                             pdvm_arch_params *ap)
{
    hp->n_rot = hp->head_dim;
    PDVM_TRY(get_count(k, "rope.dimension_count", false, false, &hp->n_rot));
    if (n_rot_is_head_dim && hp->n_rot != hp->head_dim)
        return pdvm_fail(PDVM_ERR_FORMAT, "%s.rope.dimension_count is %" PRIu32 ", expected "
                         "head_dim %" PRIu32 " (as llama.cpp requires)", k->arch, hp->n_rot,
                         hp->head_dim);
    if (hp->n_rot == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "%s.rope.dimension_count %" PRIu32 " must be even "
                         "and within 1..head_dim (%" PRIu32 ")", k->arch, hp->n_rot,
                         hp->head_dim);
    hp->rope_freq_base = 10000.0f;
    PDVM_TRY(get_float(k, "rope.freq_base", false, &hp->rope_freq_base));
    return read_rope_scaling(k, hp, ap);
}

/* llama.cpp's load_swa_pattern: a per-layer bool array, else a u32 period
 * p (layer il is a window layer when il % p < p - 1; 0: every layer). */
static pdvm_status read_swa_pattern(const keys *k, uint32_t pattern, pdvm_arch_params *ap)
{
    char key[96];
    key_name(k, "attention.sliding_window_pattern", key, sizeof key);
    int64_t i = pdvm_gguf_find_key(k->g, key);
    if (i >= 0 && pdvm_gguf_kv_type(k->g, (uint64_t)i) == GGUF_TYPE_ARRAY) {
        gguf_value v;
        pdvm_gguf_kv_value(k->g, (uint64_t)i, &v);
        if (v.n != k->n_layer || v.elem_type != GGUF_TYPE_BOOL)
            return pdvm_fail(PDVM_ERR_FORMAT, "%s must be %" PRIu32 " bools", key, k->n_layer);
        for (uint64_t l = 0; l < v.n; l++) {
            gguf_value e;
            pdvm_gguf_kv_item(k->g, (uint64_t)i, l, &e);
            ap->swa[l] = e.v.b;
        }
        return PDVM_OK;
    }
    PDVM_TRY(get_count(k, "attention.sliding_window_pattern", false, false, &pattern));
    pdvm_arch_swa_layers(pattern, k->n_layer, ap);
    return PDVM_OK;
}

void pdvm_arch_swa_layers(uint32_t pattern, uint32_t n_layer, pdvm_arch_params *ap)
{
    for (uint32_t l = 0; l < n_layer; l++) ap->swa[l] = pattern == 0 || l % pattern < pattern - 1;
}

/* Sliding windows (gemma2 always, gemma3 when the file gives a window),
 * their RoPE base and scale. */
static pdvm_status read_swa(const keys *k, const pdvm_arch *row, pdvm_hparams *hp,
                            pdvm_arch_params *ap)
{
    hp->n_swa = row->n_swa;
    PDVM_TRY(get_count(k, "attention.sliding_window", false, false, &hp->n_swa));
    ap->rope_freq_base_swa = row->swa_base_is_base ? hp->rope_freq_base : 10000.0f;
    ap->rope_freq_scale_swa = row->swa_base_is_base ? ap->rope_freq_scale : 1.0f;
    memset(ap->swa, 0, sizeof ap->swa);
    if (row->swa_pattern == 0 || hp->n_swa == 0) {
        hp->n_swa = 0; /* phi3 declares one; llama.cpp leaves it off */
        return PDVM_OK;
    }
    PDVM_TRY(get_float(k, "rope.freq_base_swa", false, &ap->rope_freq_base_swa));
    return read_swa_pattern(k, row->swa_pattern, ap);
}

void pdvm_arch_math_defaults(const pdvm_arch *row, const pdvm_hparams *hp, pdvm_arch_params *ap)
{
    ap->act = row->act;
    ap->embd_scale = row->embd_scale ? sqrtf((float)hp->n_embd) : 1.0f;
    ap->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    if (row->big_n_layer && hp->n_layer == row->big_n_layer)
        ap->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    ap->attn_softcap = row->attn_softcap;
    ap->final_softcap = row->final_softcap;
}

/* Activation, embedding and query scales, soft-caps. */
static pdvm_status read_math(const keys *k, const pdvm_arch *row, const pdvm_hparams *hp,
                             pdvm_arch_params *ap)
{
    pdvm_arch_math_defaults(row, hp, ap);
    if (row->attn_scale_key) {
        float s = 0.0f;
        PDVM_TRY(get_any_float(k, "attention.scale", &s));
        if (s != 0.0f) ap->attn_scale = s;
    }
    if (row->attn_softcap != 0.0f) PDVM_TRY(get_float(k, "attn_logit_softcapping", false,
                                                      &ap->attn_softcap));
    if (row->softcap_keys) PDVM_TRY(get_any_float(k, "final_logit_softcapping",
                                                  &ap->final_softcap));
    return PDVM_OK;
}

/* tokenizer.ggml.tokens length, else token_embd's ne[1]. */
static pdvm_status read_vocab(const pdvm_gguf *g, pdvm_hparams *hp)
{
    gguf_type et;
    uint64_t n;
    if (pdvm_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0) {
        if (!pdvm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) || et != GGUF_TYPE_STRING)
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer.ggml.tokens is not a string array");
    } else {
        const gguf_tensor *t = pdvm_gguf_find_tensor(g, "token_embd.weight");
        if (!t) return pdvm_fail(PDVM_ERR_FORMAT, "tensor 'token_embd.weight' missing");
        n = (uint64_t)t->ne[1];
    }
    if (n == 0 || n > INT32_MAX)
        return pdvm_fail(PDVM_ERR_FORMAT, "vocabulary size %" PRIu64 " is outside 1..%d", n,
                         INT32_MAX);
    hp->n_vocab = (uint32_t)n;
    return PDVM_OK;
}

pdvm_status pdvm_bind_hparams(const pdvm_gguf *g, const pdvm_arch *row, pdvm_hparams *hp,
                              pdvm_arch_params *ap)
{
    keys k = {g, hp->arch, 0};
    PDVM_TRY(read_counts(&k, hp));
    PDVM_TRY(check_heads(&k, hp));
    PDVM_TRY(read_rope(&k, row->n_rot_is_head_dim, hp, ap));
    PDVM_TRY(get_float(&k, "attention.layer_norm_rms_epsilon", true, &hp->rms_eps));
    PDVM_TRY(read_swa(&k, row, hp, ap));
    PDVM_TRY(read_math(&k, row, hp, ap));
    return read_vocab(g, hp);
}
