/* Architecture binding: the row of the architecture table (model_arch.c)
 * says which tensors a layer has; this file finds them in the GGUF, checks
 * each shape and type, binds fused tensors as row views (attn_qkv -> Q, K,
 * V; phi3's ffn_up -> gate, up) and refuses tensors the architecture does
 * not use, as llama.cpp does. Hyperparameters: model_hparams.c. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "model_arch.h"
#include "model_hparams.h"
#include "quant.h"

/* Name after "blk.N.", suffix, and the expected ne[0] and ne[1] of each
 * slot (1-D slots: ne[1] is 1). */
typedef struct slot_spec {
    const char *name, *suffix;
    pdvm_dim in, out;
} slot_spec;

static const slot_spec slots[PDVM_LT_COUNT] = {
    [PDVM_LT_ATTN_NORM] = {"attn_norm", "weight", PDVM_DIM_EMBD, PDVM_DIM_ONE},
    [PDVM_LT_ATTN_Q] = {"attn_q", "weight", PDVM_DIM_EMBD, PDVM_DIM_Q},
    [PDVM_LT_ATTN_K] = {"attn_k", "weight", PDVM_DIM_EMBD, PDVM_DIM_KV},
    [PDVM_LT_ATTN_V] = {"attn_v", "weight", PDVM_DIM_EMBD, PDVM_DIM_KV},
    [PDVM_LT_ATTN_Q_B] = {"attn_q", "bias", PDVM_DIM_Q, PDVM_DIM_ONE},
    [PDVM_LT_ATTN_K_B] = {"attn_k", "bias", PDVM_DIM_KV, PDVM_DIM_ONE},
    [PDVM_LT_ATTN_V_B] = {"attn_v", "bias", PDVM_DIM_KV, PDVM_DIM_ONE},
    [PDVM_LT_ATTN_Q_NORM] = {"attn_q_norm", "weight", PDVM_DIM_HEAD, PDVM_DIM_ONE},
    [PDVM_LT_ATTN_K_NORM] = {"attn_k_norm", "weight", PDVM_DIM_HEAD, PDVM_DIM_ONE},
    [PDVM_LT_ATTN_OUTPUT] = {"attn_output", "weight", PDVM_DIM_Q, PDVM_DIM_EMBD},
    [PDVM_LT_ATTN_POST_NORM] = {"post_attention_norm", "weight", PDVM_DIM_EMBD, PDVM_DIM_ONE},
    [PDVM_LT_FFN_NORM] = {"ffn_norm", "weight", PDVM_DIM_EMBD, PDVM_DIM_ONE},
    [PDVM_LT_FFN_GATE] = {"ffn_gate", "weight", PDVM_DIM_EMBD, PDVM_DIM_FF},
    [PDVM_LT_FFN_UP] = {"ffn_up", "weight", PDVM_DIM_EMBD, PDVM_DIM_FF},
    [PDVM_LT_FFN_DOWN] = {"ffn_down", "weight", PDVM_DIM_FF, PDVM_DIM_EMBD},
    [PDVM_LT_FFN_POST_NORM] = {"post_ffw_norm", "weight", PDVM_DIM_EMBD, PDVM_DIM_ONE},
};

_Static_assert(offsetof(pdvm_layer, ffn_post_norm) ==
                   PDVM_LT_FFN_POST_NORM * sizeof(pdvm_tensor),
               "pdvm_layer's named fields follow pdvm_layer_slot");

const char *pdvm_layer_slot_name(pdvm_layer_slot s) { return slots[s].name; }
const char *pdvm_layer_slot_suffix(pdvm_layer_slot s) { return slots[s].suffix; }

static int64_t dim_value(const pdvm_hparams *hp, pdvm_dim d);

void pdvm_layer_slot_shape(pdvm_layer_slot s, const pdvm_hparams *hp, int64_t ne[2])
{
    ne[0] = dim_value(hp, slots[s].in);
    ne[1] = dim_value(hp, slots[s].out);
}

static pdvm_status bind_arch(const pdvm_gguf *g, pdvm_hparams *hp, const pdvm_arch **row)
{
    gguf_str a;
    if (pdvm_gguf_find_key(g, "general.architecture") < 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "general.architecture missing: not a model file");
    if (!pdvm_gguf_get_str(g, "general.architecture", &a))
        return pdvm_fail(PDVM_ERR_FORMAT, "general.architecture is not a string");
    *row = pdvm_arch_find(a);
    if (!*row) {
        int n = a.len > 64 ? 64 : (int)a.len;
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "architecture '%.*s' not supported (pdvm runs: %s)",
                         n, a.ptr, pdvm_arch_names());
    }
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
    case PDVM_DIM_FF2: return 2 * (int64_t)hp->n_ff;
    case PDVM_DIM_VOCAB: return hp->n_vocab;
    case PDVM_DIM_HEAD: return hp->head_dim;
    case PDVM_DIM_ROT2: return hp->n_rot / 2;
    default: return 1;
    }
}

static const char *dim_label(pdvm_dim d)
{
    static const char *const labels[] = {"1",    "n_embd",  "n_head*head_dim", "n_head_kv*head_dim",
                                         "n_ff", "2*n_ff",  "n_vocab",         "head_dim",
                                         "n_rot/2"};
    return labels[d];
}

/* Bookkeeping while binding: names live in one block after the layers,
 * and each file tensor is marked when bound so leftovers can be named. */
typedef struct binder {
    const pdvm_gguf *g;
    const pdvm_hparams *hp;
    char *names;
    size_t n_names, cap_names;
    bool *used;
    uint64_t n_params;
} binder;

#define NAME_CAP 48

static pdvm_status check_shape(const gguf_tensor *t, const pdvm_hparams *hp, int64_t ein,
                               int64_t eout, pdvm_dim in, pdvm_dim out)
{
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
    /* Norms and biases are read as plain floats downstream; every converter
     * writes them as f32. */
    if (out == PDVM_DIM_ONE && t->type != PDVM_TYPE_F32)
        return pdvm_fail(PDVM_ERR_UNSUPPORTED, "1-D weight of type %s: only f32 is supported",
                         pdvm_type_name(t->type));
    return PDVM_OK;
}

static const char *keep_name(binder *b, const char *name)
{
    char *copy = b->names + b->n_names++ * NAME_CAP;
    snprintf(copy, NAME_CAP, "%s", name);
    return copy;
}

/* The file tensor `name`, checked against [in, out]: NULL when absent. */
static pdvm_status find_checked(binder *b, const char *name, pdvm_dim in, pdvm_dim out,
                                const gguf_tensor **found)
{
    const gguf_tensor *t = *found = pdvm_gguf_find_tensor(b->g, name);
    if (!t) return PDVM_OK;
    pdvm_status st = check_shape(t, b->hp, dim_value(b->hp, in), dim_value(b->hp, out), in, out);
    if (st == PDVM_OK) st = check_type(t, out);
    if (st != PDVM_OK) return pdvm_fail_prefix(st, "tensor '%s'", name);
    b->used[t - pdvm_gguf_tensor(b->g, 0)] = true;
    b->n_params += (uint64_t)t->ne[0] * (uint64_t)t->ne[1];
    return PDVM_OK;
}

/* Rows [row0, row0 + n) of file tensor t as a bound tensor (for a 1-D
 * tensor, elements). */
static void view(binder *b, const gguf_tensor *t, const char *name, uint32_t row0, int64_t n,
                 pdvm_tensor *dst)
{
    bool one_d = t->ne[1] == 1;
    uint64_t rb = 0;
    pdvm_type_row_bytes(t->type, one_d ? n : t->ne[0], &rb);
    *dst = (pdvm_tensor){
        .name = keep_name(b, name), .type = t->type,
        .ne = {one_d ? n : t->ne[0], one_d ? 1 : n}, .row_bytes = rb,
        .nbytes = one_d ? rb : rb * (uint64_t)n,
        .data = (const uint8_t *)t->data + (one_d ? (uint64_t)row0 * 4 : row0 * rb),
        .row0 = row0,
    };
}

/* Bind file tensor `name` into dst; required: its absence is an error. */
static pdvm_status bind_one(binder *b, const char *name, pdvm_dim in, pdvm_dim out,
                            bool required, pdvm_tensor *dst)
{
    const gguf_tensor *t;
    PDVM_TRY(find_checked(b, name, in, out, &t));
    if (!t) {
        if (required) return pdvm_fail(PDVM_ERR_FORMAT, "tensor '%s' missing", name);
        return PDVM_OK;
    }
    view(b, t, name, 0, out == PDVM_DIM_ONE ? t->ne[0] : t->ne[1], dst);
    return PDVM_OK;
}

static void slot_name(uint32_t l, pdvm_layer_slot s, char *buf, size_t cap)
{
    snprintf(buf, cap, "blk.%" PRIu32 ".%s.%s", l, slots[s].name, slots[s].suffix);
}

/* attn_qkv (and its bias) as Q, K, V row views, when the file fuses them. */
static pdvm_status bind_fused_qkv(binder *b, uint32_t l, pdvm_layer *L, bool *fused)
{
    char name[NAME_CAP];
    const gguf_tensor *t;
    const int64_t q = dim_value(b->hp, PDVM_DIM_Q), kv = dim_value(b->hp, PDVM_DIM_KV);
    snprintf(name, sizeof name, "blk.%" PRIu32 ".attn_qkv.weight", l);
    const gguf_tensor *w = pdvm_gguf_find_tensor(b->g, name);
    *fused = w != NULL;
    if (!w) return PDVM_OK;
    /* Q, K, V rows must add up: checked as the shape [n_embd, q + 2 kv]. */
    pdvm_status st = check_shape(w, b->hp, b->hp->n_embd, q + 2 * kv, PDVM_DIM_EMBD, PDVM_DIM_Q);
    if (st == PDVM_OK) st = check_type(w, PDVM_DIM_Q);
    if (st != PDVM_OK) return pdvm_fail_prefix(st, "tensor '%s' (Q, K and V rows)", name);
    b->used[w - pdvm_gguf_tensor(b->g, 0)] = true;
    b->n_params += (uint64_t)w->ne[0] * (uint64_t)w->ne[1];
    view(b, w, name, 0, q, &L->attn_q);
    view(b, w, name, (uint32_t)q, kv, &L->attn_k);
    view(b, w, name, (uint32_t)(q + kv), kv, &L->attn_v);
    snprintf(name, sizeof name, "blk.%" PRIu32 ".attn_qkv.bias", l);
    if (!(t = pdvm_gguf_find_tensor(b->g, name))) return PDVM_OK;
    if (t->ne[0] != q + 2 * kv || t->ne[1] != 1 || t->type != PDVM_TYPE_F32)
        return pdvm_fail(PDVM_ERR_FORMAT, "tensor '%s': expected %" PRId64 " f32 values", name,
                         q + 2 * kv);
    b->used[t - pdvm_gguf_tensor(b->g, 0)] = true;
    view(b, t, name, 0, q, &L->attn_q_b);
    view(b, t, name, (uint32_t)q, kv, &L->attn_k_b);
    view(b, t, name, (uint32_t)(q + kv), kv, &L->attn_v_b);
    return PDVM_OK;
}

/* phi3's ffn_up: the gate rows, then the up rows (ggml_swiglu's halves). */
static pdvm_status bind_fused_up(binder *b, uint32_t l, pdvm_layer *L)
{
    char name[NAME_CAP];
    const gguf_tensor *t;
    snprintf(name, sizeof name, "blk.%" PRIu32 ".ffn_up.weight", l);
    PDVM_TRY(find_checked(b, name, PDVM_DIM_EMBD, PDVM_DIM_FF2, &t));
    if (!t) return pdvm_fail(PDVM_ERR_FORMAT, "tensor '%s' missing", name);
    view(b, t, name, 0, b->hp->n_ff, &L->ffn_gate);
    view(b, t, name, b->hp->n_ff, b->hp->n_ff, &L->ffn_up);
    return PDVM_OK;
}

static bool is_qkv_slot(pdvm_layer_slot s)
{
    return s >= PDVM_LT_ATTN_Q && s <= PDVM_LT_ATTN_V_B;
}

static pdvm_status bind_layer(binder *b, const pdvm_arch *row, uint32_t l, pdvm_layer *L)
{
    bool fused = false;
    PDVM_TRY(bind_fused_qkv(b, l, L, &fused));
    if (row->ffn_up_fused) PDVM_TRY(bind_fused_up(b, l, L));
    for (int s = 0; s < PDVM_LT_COUNT; s++) {
        uint8_t need = row->need[s];
        if (need == ARCH_NONE || (fused && is_qkv_slot((pdvm_layer_slot)s))) continue;
        if (row->ffn_up_fused && (s == PDVM_LT_FFN_UP || s == PDVM_LT_FFN_GATE)) continue;
        char name[NAME_CAP];
        slot_name(l, (pdvm_layer_slot)s, name, sizeof name);
        PDVM_TRY(bind_one(b, name, slots[s].in, slots[s].out, need == ARCH_REQUIRED, &L->t[s]));
    }
    /* A fused QKV whose biases a row requires: they must be there too. */
    if (fused && row->need[PDVM_LT_ATTN_Q_B] == ARCH_REQUIRED && !pdvm_tensor_present(&L->attn_q_b))
        return pdvm_fail(PDVM_ERR_FORMAT, "tensor 'blk.%" PRIu32 ".attn_qkv.bias' missing", l);
    return PDVM_OK;
}

static pdvm_status bind_globals(binder *b, const pdvm_arch *row, pdvm_model *m)
{
    PDVM_TRY(bind_one(b, "token_embd.weight", PDVM_DIM_EMBD, PDVM_DIM_VOCAB, true, &m->tok_embd));
    PDVM_TRY(bind_one(b, "output_norm.weight", PDVM_DIM_EMBD, PDVM_DIM_ONE, true,
                      &m->output_norm));
    PDVM_TRY(bind_one(b, "rope_freqs.weight", PDVM_DIM_ROT2, PDVM_DIM_ONE, false, &m->rope_freqs));
    PDVM_TRY(bind_one(b, "rope_factors_long.weight", PDVM_DIM_ROT2, PDVM_DIM_ONE, false,
                      &m->rope_long));
    PDVM_TRY(bind_one(b, "rope_factors_short.weight", PDVM_DIM_ROT2, PDVM_DIM_ONE, false,
                      &m->rope_short));
    /* llama.cpp ties the output projection to token_embd when absent (and
     * always for gemma2, where an output.weight is left unused). */
    if (row->output_tied || !pdvm_gguf_find_tensor(b->g, "output.weight")) {
        m->output = m->tok_embd;
        return PDVM_OK;
    }
    return bind_one(b, "output.weight", PDVM_DIM_EMBD, PDVM_DIM_VOCAB, true, &m->output);
}

/* llama.cpp fails on tensors its architecture does not load; so do we:
 * ignoring one (a bias, an extra norm) would compute something else. */
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

static pdvm_status bind_tensors(const pdvm_gguf *g, const pdvm_arch *row, pdvm_model *m)
{
    /* Views of fused tensors take a name each too: at most every slot. */
    size_t n_names = (size_t)m->hp.n_layer * PDVM_LT_COUNT + 6;
    size_t layer_bytes = (size_t)m->hp.n_layer * sizeof(pdvm_layer);
    /* One block: layers, then the name copies (freed together). */
    m->layers = calloc(1, layer_bytes + n_names * NAME_CAP);
    bool *used = calloc(pdvm_gguf_n_tensors(g) + 1, sizeof *used);
    if (!m->layers || !used) {
        free(used);
        return pdvm_fail(PDVM_ERR_NOMEM, "binding %" PRIu32 " layers", m->hp.n_layer);
    }
    binder b = {g, &m->hp, (char *)m->layers + layer_bytes, 0, n_names, used, 0};
    pdvm_status st = bind_globals(&b, row, m);
    for (uint32_t l = 0; l < m->hp.n_layer && st == PDVM_OK; l++)
        st = bind_layer(&b, row, l, &m->layers[l]);
    if (st == PDVM_OK) st = check_all_used(&b);
    m->n_params = b.n_params;
    free(used);
    return st;
}

pdvm_status pdvm_model_bind(pdvm_gguf *g, pdvm_model *out)
{
    if (!g || !out) return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_model_bind: NULL argument");
    memset(out, 0, sizeof *out);
    const pdvm_arch *row = NULL;
    pdvm_status st = bind_arch(g, &out->hp, &row);
    if (st == PDVM_OK) st = pdvm_bind_hparams(g, row, &out->hp, &out->ap);
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

const pdvm_tensor *pdvm_model_rope_factors(const pdvm_model *m, uint32_t n_ctx)
{
    if (pdvm_tensor_present(&m->rope_freqs)) return &m->rope_freqs;
    const pdvm_tensor *t = n_ctx > m->ap.n_ctx_orig ? &m->rope_long : &m->rope_short;
    return pdvm_tensor_present(t) ? t : NULL;
}
