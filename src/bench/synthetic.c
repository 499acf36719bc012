/* Synthetic models (pdvm_bench.h): the exact shapes of real ones, from
 * their published config.json files, with no file behind them. */
#include "pdvm_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu_types.h"
#include "model.h"
#include "quant.h"

typedef struct synth_shape {
    const char *name;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx_train;
    float rope_freq_base;
    pdvm_rope_type rope_type;
} synth_shape;

/* Shapes from the models' published config.json files. */
static const synth_shape shapes[] = {
    {"stories15M", 288, 6, 6, 6, 768, 32000, 256, 10000.0f, PDVM_ROPE_NORM},
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, PDVM_ROPE_NORM},
    {"llama-3.2-1b", 2048, 16, 32, 8, 8192, 128256, 131072, 500000.0f, PDVM_ROPE_NORM},
    {"qwen2.5-0.5b", 896, 24, 14, 2, 4864, 151936, 32768, 1000000.0f, PDVM_ROPE_NEOX},
    {"llama-3-8b", 4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f, PDVM_ROPE_NORM},
    {"phi-4-14b", 5120, 40, 40, 10, 17920, 100352, 16384, 250000.0f, PDVM_ROPE_NORM},
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

static void bind_layer(pdvm_layer *l, char (*names)[48], int i, const pdvm_hparams *hp,
                       uint32_t type)
{
    const int64_t d = hp->n_embd, kv = (int64_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    set_tensor(&l->attn_norm, names[0], "blk.%d.attn_norm.weight", i, type, d, 1);
    set_tensor(&l->attn_q, names[1], "blk.%d.attn_q.weight", i, type, d, d);
    set_tensor(&l->attn_k, names[2], "blk.%d.attn_k.weight", i, type, d, kv);
    set_tensor(&l->attn_v, names[3], "blk.%d.attn_v.weight", i, type, d, kv);
    set_tensor(&l->attn_output, names[4], "blk.%d.attn_output.weight", i, type, d, d);
    set_tensor(&l->ffn_norm, names[5], "blk.%d.ffn_norm.weight", i, type, d, 1);
    set_tensor(&l->ffn_gate, names[6], "blk.%d.ffn_gate.weight", i, type, d, ff);
    set_tensor(&l->ffn_up, names[7], "blk.%d.ffn_up.weight", i, type, d, ff);
    set_tensor(&l->ffn_down, names[8], "blk.%d.ffn_down.weight", i, type, ff, d);
}

static pdvm_hparams shape_hparams(const synth_shape *s)
{
    pdvm_hparams hp = {0};
    snprintf(hp.arch, sizeof hp.arch, "%s", "llama");
    hp.n_vocab = s->n_vocab;
    hp.n_ctx_train = s->n_ctx_train;
    hp.n_embd = s->n_embd;
    hp.n_layer = s->n_layer;
    hp.n_ff = s->n_ff;
    hp.n_head = s->n_head;
    hp.n_head_kv = s->n_head_kv;
    hp.head_dim = s->n_embd / s->n_head;
    hp.n_rot = hp.head_dim;
    hp.rms_eps = 1e-5f;
    hp.rope_freq_base = s->rope_freq_base;
    hp.rope_type = s->rope_type;
    return hp;
}

static uint64_t count_params(const pdvm_model *m)
{
    const pdvm_tensor *t = &m->layers[0].attn_norm;
    uint64_t per_layer = 0;
    for (size_t k = 0; k < sizeof(pdvm_layer) / sizeof(pdvm_tensor); k++)
        per_layer += (uint64_t)t[k].ne[0] * (uint64_t)t[k].ne[1];
    return per_layer * m->hp.n_layer + 2ull * m->hp.n_embd * m->hp.n_vocab + m->hp.n_embd;
}

pdvm_status pdvm_synthetic_model(const char *name, uint32_t type, pdvm_model **out)
{
    const synth_shape *s = NULL;
    for (size_t i = 0; i < N_SHAPES; i++)
        if (!strcmp(name, shapes[i].name)) s = &shapes[i];
    if (!s)
        return pdvm_fail(PDVM_ERR_INVALID_ARG,
                         "unknown synthetic model '%s' (known: stories15M, tinyllama-1.1b, "
                         "llama-3.2-1b, qwen2.5-0.5b, llama-3-8b, phi-4-14b)", name);
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
    m->hp = shape_hparams(s);
    for (uint32_t i = 0; i < s->n_layer; i++)
        bind_layer(&m->layers[i], st->names + 3 + per_layer * i, (int)i, &m->hp, type);
    set_tensor(&m->tok_embd, st->names[0], "token_embd.weight%.0d", 0, type, s->n_embd,
               s->n_vocab);
    set_tensor(&m->output_norm, st->names[1], "output_norm.weight%.0d", 0, type, s->n_embd, 1);
    set_tensor(&m->output, st->names[2], "output.weight%.0d", 0, type, s->n_embd, s->n_vocab);
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
