/* Synthetic models (pdvm_bench.h): the exact shapes of real ones, from
 * their published config.json files, with no file behind them; their
 * layers are walked from the architecture table like a file's. */
#include "pdvm_bench.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_types.h"
#include "model.h"
#include "model_arch.h"
#include "model_hparams.h"
#include "quant.h"

typedef struct synth_shape {
    const char *name, *arch;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx_train;
    uint32_t head_dim;         /* 0: n_embd / n_head */
    float rope_freq_base;
    bool qkv_bias, tied;       /* Q/K/V biases present; no output.weight */
    uint32_t n_swa, swa_pattern; /* window size and period (0: the row's) */
} synth_shape;

/* Shapes from the models' published config.json files; the rest of each
 * layer (biases, Q/K norms, post-norms, the activation, soft-caps, window
 * layers) follows the architecture's row as a file would bind it. */
static const synth_shape shapes[] = {
    /* name, arch, n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx_train, head_dim,
     * rope_freq_base, qkv_bias, tied, n_swa, swa_pattern */
    {"stories15M", "llama", 288, 6, 6, 6, 768, 32000, 256, 0, 10000.0f, false, false, 0, 0},
    {"tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, 2048, 0, 10000.0f, false, false, 0,
     0},
    {"llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, 0, 500000.0f, false, true, 0,
     0},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 0, 1000000.0f, true, true, 0,
     0},
    {"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 3072, 151936, 40960, 128, 1000000.0f, false, true, 0,
     0},
    {"phi-3.5-mini", "phi3", 3072, 32, 32, 32, 8192, 32064, 131072, 0, 10000.0f, false, false, 0,
     0},
    {"gemma-2-2b", "gemma2", 2304, 26, 8, 4, 9216, 256000, 8192, 256, 10000.0f, false, true, 4096,
     0},
    {"gemma-3-1b", "gemma3", 1152, 26, 4, 1, 6912, 262144, 32768, 256, 1000000.0f, false, true, 512,
     6},
    {"llama-3-8b", "llama", 4096, 32, 32, 8, 14336, 128256, 8192, 0, 500000.0f, false, false, 0, 0},
    {"phi-4-14b", "phi3", 5120, 40, 40, 10, 17920, 100352, 16384, 0, 250000.0f, false, false, 0, 0},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* One allocation holds the model, its layers and the tensor names. */
typedef struct synth_storage {
    pdvm_model model;
    char (*names)[48];
    size_t n_names;
} synth_storage;

size_t pdvm_synthetic_count(void) { return N_SHAPES; }

const char *pdvm_synthetic_name(size_t i) { return i < N_SHAPES ? shapes[i].name : NULL; }

/* A type whose blocks do not tile the rows falls back as llama.cpp's
 * quantizer does (llama-quant.cpp, tensor_type_fallback): 256-element
 * types to a 32-element one, and to F16 when that does not fit either. */
static uint32_t fit_type(uint32_t type, int64_t n_in)
{
    if (n_in % pdvm_type_block_elems(type) == 0) return type;
    uint32_t fb = type;
    switch (type) {
    case PDVM_TYPE_IQ4_XS: fb = PDVM_TYPE_IQ4_NL; break;
    case PDVM_TYPE_Q2_K: case PDVM_TYPE_Q3_K: fb = PDVM_TYPE_Q4_0; break;
    case PDVM_TYPE_Q4_K: fb = PDVM_TYPE_Q5_0; break;
    case PDVM_TYPE_Q5_K: fb = PDVM_TYPE_Q5_1; break;
    case PDVM_TYPE_Q6_K: fb = PDVM_TYPE_Q8_0; break;
    default: break;
    }
    return n_in % pdvm_type_block_elems(fb) == 0 ? fb : PDVM_TYPE_F16;
}

static void set_tensor(pdvm_tensor *t, char *name, const char *fmt, int layer, uint32_t type,
                       int64_t n_in, int64_t n_out)
{
    snprintf(name, 48, fmt, layer);
    t->name = name;
    t->type = n_out == 1 ? PDVM_TYPE_F32 : fit_type(type, n_in);
    t->ne[0] = n_in;
    t->ne[1] = n_out;
    pdvm_type_row_bytes(t->type, n_in, &t->row_bytes);
    t->nbytes = t->row_bytes * (uint64_t)n_out;
    t->data = NULL;
}

static bool is_bias(pdvm_layer_slot k)
{
    return k == PDVM_LT_ATTN_Q_B || k == PDVM_LT_ATTN_K_B || k == PDVM_LT_ATTN_V_B;
}

/* Every slot the row requires, and the optional biases when the shape has
 * them; phi3's fused ffn_up is bound as separate gate and up (the same
 * bytes, the GPU reads them as two row ranges either way). */
static void bind_layer(pdvm_layer *l, char (*names)[48], int i, const pdvm_hparams *hp,
                       const pdvm_arch *row, const synth_shape *s, uint32_t type)
{
    for (int k = 0; k < PDVM_LT_COUNT; k++) {
        uint8_t need = row->need[k];
        if (row->ffn_up_fused && k == PDVM_LT_FFN_GATE) need = ARCH_REQUIRED;
        if (need == ARCH_NONE || (need == ARCH_OPTIONAL && !(s->qkv_bias && is_bias(k))))
            continue;
        char fmt[64];
        snprintf(fmt, sizeof fmt, "blk.%%d.%s.%s", pdvm_layer_slot_name(k),
                 pdvm_layer_slot_suffix(k));
        int64_t ne[2];
        pdvm_layer_slot_shape(k, hp, ne);
        set_tensor(&l->t[k], names[k], fmt, i, type, ne[0], ne[1]);
    }
}

static pdvm_hparams shape_hparams(const synth_shape *s, const pdvm_arch *row)
{
    pdvm_hparams hp = {0};
    snprintf(hp.arch, sizeof hp.arch, "%s", row->name);
    hp.n_vocab = s->n_vocab;
    hp.n_ctx_train = s->n_ctx_train;
    hp.n_embd = s->n_embd;
    hp.n_layer = s->n_layer;
    hp.n_ff = s->n_ff;
    hp.n_head = s->n_head;
    hp.n_head_kv = s->n_head_kv;
    hp.head_dim = s->head_dim ? s->head_dim : s->n_embd / s->n_head;
    hp.n_rot = hp.head_dim;
    hp.rms_eps = 1e-6f;
    hp.rope_freq_base = s->rope_freq_base;
    hp.rope_type = row->rope_type;
    hp.n_swa = row->swa_pattern ? s->n_swa : 0;
    return hp;
}

/* What model_hparams.c derives for a file without the optional keys. */
static void shape_arch_params(const synth_shape *s, const pdvm_arch *row, pdvm_model *m)
{
    pdvm_arch_params *ap = &m->ap;
    pdvm_arch_math_defaults(row, &m->hp, ap);
    ap->rope_freq_scale = 1.0f;
    ap->rope_attn_factor = 1.0f;
    ap->n_ctx_orig = s->n_ctx_train;
    ap->rope_freq_base_swa = row->swa_base_is_base ? s->rope_freq_base : 10000.0f;
    ap->rope_freq_scale_swa = 1.0f;
    if (m->hp.n_swa)
        pdvm_arch_swa_layers(s->swa_pattern ? s->swa_pattern : row->swa_pattern, s->n_layer, ap);
}

static uint64_t count_params(const pdvm_model *m)
{
    const pdvm_tensor *t = &m->layers[0].attn_norm;
    uint64_t per_layer = 0;
    for (size_t k = 0; k < sizeof(pdvm_layer) / sizeof(pdvm_tensor); k++)
        per_layer += (uint64_t)t[k].ne[0] * (uint64_t)t[k].ne[1];
    uint64_t embd = (uint64_t)m->hp.n_embd * m->hp.n_vocab;
    bool tied = m->output.name == m->tok_embd.name;
    return per_layer * m->hp.n_layer + (tied ? 1 : 2) * embd + m->hp.n_embd;
}

pdvm_status pdvm_synthetic_model(const char *name, uint32_t type, pdvm_model **out)
{
    const synth_shape *s = NULL;
    for (size_t i = 0; i < N_SHAPES; i++)
        if (!strcmp(name, shapes[i].name)) s = &shapes[i];
    if (!s) {
        char known[512] = "";
        for (size_t i = 0; i < N_SHAPES; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     shapes[i].name);
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "unknown synthetic model '%s' (known: %s)", name,
                         known);
    }
    const pdvm_arch *row = pdvm_arch_find((gguf_str){s->arch, strlen(s->arch)});
    if (!gpu_type_find(type)) {
        char types[256];
        gpu_type_names(types, sizeof types);
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "synthetic weights of type %s: use one of %s",
                         pdvm_type_name(type), types);
    }
    synth_storage *st = calloc(1, sizeof *st);
    const size_t per_layer = sizeof(pdvm_layer) / sizeof(pdvm_tensor);
    if (st) st->n_names = per_layer * s->n_layer + 3;
    if (st) st->names = calloc(st->n_names, sizeof *st->names);
    if (st) st->model.layers = calloc(s->n_layer, sizeof *st->model.layers);
    if (!st || !st->names || !st->model.layers) {
        if (st) free(st->names), free(st->model.layers);
        free(st);
        return pdvm_fail(PDVM_ERR_NOMEM, "synthetic model %s: out of host memory", name);
    }
    pdvm_model *m = &st->model;
    m->hp = shape_hparams(s, row);
    shape_arch_params(s, row, m);
    for (uint32_t i = 0; i < s->n_layer; i++)
        bind_layer(&m->layers[i], st->names + 3 + per_layer * i, (int)i, &m->hp, row, s, type);
    set_tensor(&m->tok_embd, st->names[0], "token_embd.weight%.0d", 0, type, s->n_embd,
               s->n_vocab);
    set_tensor(&m->output_norm, st->names[1], "output_norm.weight%.0d", 0, type, s->n_embd, 1);
    if (s->tied || row->output_tied) m->output = m->tok_embd;
    else set_tensor(&m->output, st->names[2], "output.weight%.0d", 0, type, s->n_embd, s->n_vocab);
    m->n_params = count_params(m);
    *out = m;
    return PDVM_OK;
}

void pdvm_synthetic_free(pdvm_model *m)
{
    if (!m) return;
    synth_storage *st = (synth_storage *)m; /* model is the first member */
    free(st->names);
    free(m->layers);
    free(st);
}

uint64_t pdvm_bench_weight_bytes_per_token(const pdvm_model *m)
{
    uint64_t bytes = m->output.nbytes + m->output_norm.nbytes + m->tok_embd.row_bytes;
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const pdvm_tensor *t = &m->layers[i].attn_norm;
        for (size_t k = 0; k < sizeof(pdvm_layer) / sizeof(pdvm_tensor); k++)
            bytes += t[k].nbytes;
    }
    return bytes;
}
