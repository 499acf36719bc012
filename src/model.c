/* Architecture binding. Each supported architecture is a row of `archs`:
 * its GGUF key prefix, RoPE layout and the tensors of one decoder layer
 * (llama.cpp names, with the dimensions each must have). Hyperparameter
 * defaults mirror llama.cpp's llm_load_hparams: a key without a llama.cpp
 * default is required. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "model_hparams.h"
#include "quant.h"

/* Per-layer tensor: pdvm_layer field, llama.cpp name after "blk.N.", and
 * the expected ne[0] (n_in) and ne[1] (n_out). */
typedef struct tensor_spec {
    const char *name;
    size_t field;
    pdvm_dim in, out;
} tensor_spec;

static const tensor_spec llama_layer[] = {
    {"attn_norm", offsetof(pdvm_layer, attn_norm), PDVM_DIM_EMBD, PDVM_DIM_ONE},
    {"attn_q", offsetof(pdvm_layer, attn_q), PDVM_DIM_EMBD, PDVM_DIM_Q},
    {"attn_k", offsetof(pdvm_layer, attn_k), PDVM_DIM_EMBD, PDVM_DIM_KV},
    {"attn_v", offsetof(pdvm_layer, attn_v), PDVM_DIM_EMBD, PDVM_DIM_KV},
    {"attn_output", offsetof(pdvm_layer, attn_output), PDVM_DIM_Q, PDVM_DIM_EMBD},
    {"ffn_norm", offsetof(pdvm_layer, ffn_norm), PDVM_DIM_EMBD, PDVM_DIM_ONE},
    {"ffn_gate", offsetof(pdvm_layer, ffn_gate), PDVM_DIM_EMBD, PDVM_DIM_FF},
    {"ffn_up", offsetof(pdvm_layer, ffn_up), PDVM_DIM_EMBD, PDVM_DIM_FF},
    {"ffn_down", offsetof(pdvm_layer, ffn_down), PDVM_DIM_FF, PDVM_DIM_EMBD},
};
#define N_LAYER_TENSORS (sizeof llama_layer / sizeof llama_layer[0])

typedef struct arch_row {
    const char *name;          /* general.architecture and key prefix */
    pdvm_rope_type rope_type;
    bool n_rot_is_head_dim;    /* llama.cpp rejects other n_rot (llama, deci, falcon) */
    const char *unsupported;   /* why we cannot run it yet; NULL when we can */
    const tensor_spec *layer;
} arch_row;

/* Mistral 7B GGUFs declare "llama" and bind through that row. */
static const arch_row archs[] = {
    {"llama", PDVM_ROPE_NORM, true, NULL, llama_layer},
    {"qwen2", PDVM_ROPE_NEOX, false,
     "attention bias tensors (blk.N.attn_q.bias, attn_k.bias, attn_v.bias) are not supported "
     "yet", llama_layer},
    {"phi3", PDVM_ROPE_NEOX, false,
     "fused blk.N.attn_qkv and gate+up ffn_up tensors are not supported yet", llama_layer},
};

static const arch_row *find_arch(gguf_str name)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (gguf_str_eq(name, archs[i].name)) return &archs[i];
    return NULL;
}

static pdvm_status bind_arch(const pdvm_gguf *g, pdvm_hparams *hp, const arch_row **row)
{
    gguf_str a;
    if (pdvm_gguf_find_key(g, "general.architecture") < 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "general.architecture missing: not a model file");
    if (!pdvm_gguf_get_str(g, "general.architecture", &a))
        return pdvm_fail(PDVM_ERR_FORMAT, "general.architecture is not a string");
    *row = find_arch(a);
    if (!*row) {
        int n = a.len > 64 ? 64 : (int)a.len;
        return pdvm_fail(PDVM_ERR_UNSUPPORTED,
                         "architecture '%.*s' not supported (pdvm runs: llama)", n, a.ptr);
    }
    if ((*row)->unsupported)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "architecture '%s': %s", (*row)->name,
                         (*row)->unsupported);
    snprintf(hp->arch, sizeof hp->arch, "%s", (*row)->name);
    hp->rope_type = (*row)->rope_type;
    return PDVM_OK;
}

static int64_t dim_value(const pdvm_hparams *hp, pdvm_dim d)
{
    switch (d) {
    case PDVM_DIM_EMBD: return hp->n_embd;
    case PDVM_DIM_Q: return (int64_t)hp->n_head * hp->head_dim;
    case PDVM_DIM_KV: return (int64_t)hp->n_head_kv * hp->head_dim;
    case PDVM_DIM_FF: return hp->n_ff;
    case PDVM_DIM_VOCAB: return hp->n_vocab;
    default: return 1;
    }
}

static const char *dim_label(pdvm_dim d)
{
    static const char *const labels[] = {"1", "n_embd", "n_head*head_dim", "n_head_kv*head_dim",
                                         "n_ff", "n_vocab"};
    return labels[d];
}

static pdvm_status check_shape(const gguf_tensor *t, const pdvm_hparams *hp, pdvm_dim in,
                               pdvm_dim out)
{
    int64_t ein = dim_value(hp, in), eout = dim_value(hp, out);
    if (t->ne[0] == ein && t->ne[1] == eout && t->ne[2] == 1 && t->ne[3] == 1) return PDVM_OK;
    char got[128];
    pdvm_gguf_shape_to_text(t->ne, t->n_dims, got, sizeof got);
    if (out == PDVM_DIM_ONE)
        return pdvm_fail(PDVM_ERR_FORMAT, "shape %s, but %s expects [%" PRId64 "] (%s)", got,
                         hp->arch, ein, dim_label(in));
    return pdvm_fail(PDVM_ERR_FORMAT,
                     "shape %s, but %s expects [%" PRId64 ", %" PRId64 "] (%s, %s)", got,
                     hp->arch, ein, eout, dim_label(in), dim_label(out));
}

static pdvm_status check_type(const gguf_tensor *t, pdvm_dim out)
{
    if (!pdvm_type_can_dequant(t->type)) {
        char known[256];
        pdvm_type_list_decodable(known, sizeof known);
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "type %s (id %u) is not supported (supported: %s)",
                         pdvm_type_name(t->type), t->type, known);
    }
    /* Norm weights are read as plain floats downstream; every converter
     * writes them as f32. */
    if (out == PDVM_DIM_ONE && t->type != PDVM_TYPE_F32)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "1-D weight of type %s: only f32 is supported",
                         pdvm_type_name(t->type));
    return PDVM_OK;
}

/* Bookkeeping while binding: names live in one block after the layers,
 * and each file tensor is marked when bound so leftovers can be named. */
typedef struct binder {
    const pdvm_gguf *g;
    const pdvm_hparams *hp;
    char *names;
    size_t n_names;
    bool *used;
    uint64_t n_params;
} binder;

#define NAME_CAP 48

static pdvm_status bind_one(binder *b, const char *name, pdvm_dim in, pdvm_dim out,
                            pdvm_tensor *dst)
{
    const gguf_tensor *t = pdvm_gguf_find_tensor(b->g, name);
    if (!t) return pdvm_fail(PDVM_ERR_FORMAT, "tensor '%s' missing", name);
    pdvm_status st = check_shape(t, b->hp, in, out);
    if (st == PDVM_OK) st = check_type(t, out);
    if (st == PDVM_OK) st = pdvm_type_row_bytes(t->type, t->ne[0], &dst->row_bytes);
    if (st != PDVM_OK) return pdvm_fail_prefix(st, "tensor '%s'", name);
    char *copy = b->names + b->n_names++ * NAME_CAP;
    snprintf(copy, NAME_CAP, "%s", name);
    dst->name = copy;
    dst->type = t->type;
    dst->ne[0] = t->ne[0];
    dst->ne[1] = t->ne[1];
    dst->nbytes = t->nbytes;
    dst->data = t->data;
    b->used[t - pdvm_gguf_tensor(b->g, 0)] = true;
    b->n_params += (uint64_t)t->ne[0] * (uint64_t)t->ne[1];
    return PDVM_OK;
}

static pdvm_status bind_layers(binder *b, const arch_row *row, pdvm_model *m)
{
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        for (size_t k = 0; k < N_LAYER_TENSORS; k++) {
            const tensor_spec *s = &row->layer[k];
            char name[NAME_CAP];
            snprintf(name, sizeof name, "blk.%" PRIu32 ".%s.weight", l, s->name);
            pdvm_tensor *dst = (pdvm_tensor *)((char *)&m->layers[l] + s->field);
            PDVM_TRY(bind_one(b, name, s->in, s->out, dst));
        }
    }
    return PDVM_OK;
}

static pdvm_status bind_globals(binder *b, pdvm_model *m)
{
    PDVM_TRY(bind_one(b, "token_embd.weight", PDVM_DIM_EMBD, PDVM_DIM_VOCAB, &m->tok_embd));
    PDVM_TRY(bind_one(b, "output_norm.weight", PDVM_DIM_EMBD, PDVM_DIM_ONE, &m->output_norm));
    /* llama.cpp ties the output projection to token_embd when absent. */
    if (!pdvm_gguf_find_tensor(b->g, "output.weight")) {
        m->output = m->tok_embd;
        return PDVM_OK;
    }
    return bind_one(b, "output.weight", PDVM_DIM_EMBD, PDVM_DIM_VOCAB, &m->output);
}

/* llama.cpp fails on tensors its architecture does not load; so do we:
 * ignoring one (a bias, rope_freqs) would compute something else. */
static pdvm_status check_all_used(const binder *b)
{
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(b->g); i++) {
        if (b->used[i]) continue;
        gguf_str n = pdvm_gguf_tensor(b->g, i)->name;
        return pdvm_fail(PDVM_ERR_UNSUPPORTED,
                         "tensor '%.*s' is not used by the %s binding (not supported)",
                         n.len > 96 ? 96 : (int)n.len, n.ptr, b->hp->arch);
    }
    return PDVM_OK;
}

static pdvm_status bind_tensors(const pdvm_gguf *g, const arch_row *row, pdvm_model *m)
{
    size_t n_names = (size_t)m->hp.n_layer * N_LAYER_TENSORS + 3;
    size_t layer_bytes = (size_t)m->hp.n_layer * sizeof(pdvm_layer);
    /* One block: layers, then the name copies (freed together). */
    m->layers = calloc(1, layer_bytes + n_names * NAME_CAP);
    bool *used = calloc(pdvm_gguf_n_tensors(g) + 1, sizeof *used);
    if (!m->layers || !used) {
        free(used);
        return pdvm_fail(PDVM_ERR_NOMEM, "binding %" PRIu32 " layers", m->hp.n_layer);
    }
    binder b = {g, &m->hp, (char *)m->layers + layer_bytes, 0, used, 0};
    pdvm_status st = bind_globals(&b, m);
    if (st == PDVM_OK) st = bind_layers(&b, row, m);
    if (st == PDVM_OK) st = check_all_used(&b);
    m->n_params = b.n_params;
    free(used);
    return st;
}

pdvm_status pdvm_model_bind(pdvm_gguf *g, pdvm_model *out)
{
    if (!g || !out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_model_bind: NULL argument");
    memset(out, 0, sizeof *out);
    const arch_row *row = NULL;
    pdvm_status st = bind_arch(g, &out->hp, &row);
    if (st == PDVM_OK) st = pdvm_bind_hparams(g, row->n_rot_is_head_dim, &out->hp);
    if (st == PDVM_OK) st = bind_tensors(g, row, out);
    if (st != PDVM_OK) {
        free(out->layers);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->gguf = g;
    return PDVM_OK;
}

void pdvm_model_unbind(pdvm_model *m)
{
    if (!m) return;
    free(m->layers);
    pdvm_gguf_close(m->gguf);
    m->layers = NULL;
    m->gguf = NULL;
}
