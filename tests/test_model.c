/* Architecture binding: a synthetic llama GGUF built in memory (every key
 * and tensor under the test's control) checks defaults, required keys,
 * shape checks, type checks and tying; then the real stories260K files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf_writer.h"
#include "model.h"
#include "quant.h"
#include "test_util.h"

/* --------------------------------------------------- synthetic llama file */

typedef struct llama_opts {
    const char *arch;
    uint32_t n_embd, n_head, n_head_kv, n_ff, n_layer, n_vocab, n_ctx, n_rot;
    uint32_t n_tokens;         /* tokenizer.ggml.tokens entries; 0: no such key */
    const char *omit_key;      /* suffix after "{arch}." left out */
    const char *omit_tensor;
    const char *extra_tensor;  /* an extra f32 [n_embd] tensor */
    const char *bad_shape;     /* this tensor gets ne[1] + 1 (ne[0] + 1 when 1-D) */
    const char *retype;        /* this tensor gets type `type` */
    uint32_t type;
    int head_count_array;      /* 1: uniform per-layer array, 2: uneven */
    uint32_t block_count_key;  /* written instead of n_layer when non-zero */
    bool eps_as_u32;
    float eps;
    const char *rope_scaling;
} llama_opts;

static llama_opts defaults(void)
{
    return (llama_opts){.arch = "llama", .n_embd = 32, .n_head = 4, .n_head_kv = 2,
                        .n_ff = 64, .n_layer = 2, .n_vocab = 16, .n_ctx = 128, .n_rot = 8,
                        .n_tokens = 16, .eps = 1e-5f};
}

static void kv_count(gw *kv, uint64_t *n, const llama_opts *o, const char *suffix, uint32_t v)
{
    if (o->omit_key && !strcmp(o->omit_key, suffix)) return;
    char key[96];
    snprintf(key, sizeof key, "%s.%s", o->arch, suffix);
    gw_kv_u32(kv, key, v);
    (*n)++;
}

static void kv_head_count(gw *kv, uint64_t *n, const llama_opts *o)
{
    if (!o->head_count_array) {
        kv_count(kv, n, o, "attention.head_count", o->n_head);
        return;
    }
    char key[96];
    snprintf(key, sizeof key, "%s.attention.head_count", o->arch);
    gw_kv_arr(kv, key, 4, o->n_layer);
    for (uint32_t l = 0; l < o->n_layer; l++)
        gw_u32(kv, o->head_count_array == 2 && l == 1 ? o->n_head * 2 : o->n_head);
    (*n)++;
}

static void kv_floats(gw *kv, uint64_t *n, const llama_opts *o)
{
    char key[96];
    if (!o->omit_key || strcmp(o->omit_key, "attention.layer_norm_rms_epsilon")) {
        snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", o->arch);
        if (o->eps_as_u32) gw_kv_u32(kv, key, 1);
        else gw_kv_f32(kv, key, o->eps);
        (*n)++;
    }
    if (!o->omit_key || strcmp(o->omit_key, "rope.freq_base")) {
        snprintf(key, sizeof key, "%s.rope.freq_base", o->arch);
        gw_kv_f32(kv, key, 500000.0f);
        (*n)++;
    }
    if (o->rope_scaling) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", o->arch);
        gw_kv_str(kv, key, o->rope_scaling);
        (*n)++;
    }
}

static void kv_tokens(gw *kv, uint64_t *n, const llama_opts *o)
{
    if (!o->n_tokens) return;
    gw_kv_arr(kv, "tokenizer.ggml.tokens", 8, o->n_tokens);
    for (uint32_t i = 0; i < o->n_tokens; i++) {
        char piece[16];
        snprintf(piece, sizeof piece, "t%u", i);
        gw_str(kv, piece);
    }
    (*n)++;
}

static uint64_t llama_kv(gw *kv, const llama_opts *o)
{
    uint64_t n = 0;
    if (!o->omit_key || strcmp(o->omit_key, "general.architecture")) {
        gw_kv_str(kv, "general.architecture", o->arch);
        n++;
    }
    kv_count(kv, &n, o, "context_length", o->n_ctx);
    kv_count(kv, &n, o, "embedding_length", o->n_embd);
    kv_count(kv, &n, o, "block_count", o->block_count_key ? o->block_count_key : o->n_layer);
    kv_count(kv, &n, o, "feed_forward_length", o->n_ff);
    kv_head_count(kv, &n, o);
    kv_count(kv, &n, o, "attention.head_count_kv", o->n_head_kv);
    kv_count(kv, &n, o, "rope.dimension_count", o->n_rot);
    kv_floats(kv, &n, o);
    kv_tokens(kv, &n, o);
    return n;
}

#define MAX_T 64
typedef struct tensor_list {
    gw_tensor t[MAX_T];
    char names[MAX_T][48];
    size_t n;
} tensor_list;

static void add(tensor_list *l, const llama_opts *o, const char *name, int64_t ne0, int64_t ne1)
{
    if (o->omit_tensor && !strcmp(o->omit_tensor, name)) return;
    assert_true(l->n < MAX_T);
    gw_tensor *t = &l->t[l->n];
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    *t = (gw_tensor){l->names[l->n], PDVM_TYPE_F32, ne1 ? 2 : 1, {ne0, ne1 ? ne1 : 1, 1, 1}};
    if (o->bad_shape && !strcmp(o->bad_shape, name)) t->ne[ne1 ? 1 : 0]++;
    if (o->retype && !strcmp(o->retype, name)) t->type = o->type;
    l->n++;
}

static void llama_tensors(tensor_list *l, const llama_opts *o)
{
    int64_t e = o->n_embd, q = o->n_embd, kvd = (int64_t)o->n_head_kv * (o->n_embd / o->n_head);
    add(l, o, "token_embd.weight", e, o->n_vocab);
    add(l, o, "output_norm.weight", e, 0);
    add(l, o, "output.weight", e, o->n_vocab);
    for (uint32_t b = 0; b < o->n_layer; b++) {
        static const char *const names[] = {"attn_norm", "attn_q",   "attn_k", "attn_v",
                                            "attn_output", "ffn_norm", "ffn_gate", "ffn_up",
                                            "ffn_down"};
        const int64_t shape[][2] = {{e, 0}, {e, q}, {e, kvd}, {e, kvd}, {q, e},
                                    {e, 0}, {e, o->n_ff}, {e, o->n_ff}, {o->n_ff, e}};
        for (size_t k = 0; k < 9; k++) {
            char name[48];
            snprintf(name, sizeof name, "blk.%u.%s.weight", b, names[k]);
            add(l, o, name, shape[k][0], shape[k][1]);
        }
    }
    if (o->extra_tensor) add(l, o, o->extra_tensor, e, 0);
}

static void build(gw *w, const llama_opts *o)
{
    gw kv = {0};
    uint64_t n_kv = llama_kv(&kv, o);
    tensor_list *l = calloc(1, sizeof *l);
    assert_non_null(l);
    llama_tensors(l, o);
    gw_file(w, &kv, n_kv, l->t, l->n, 32, 7, NULL);
    free(l);
    gw_free(&kv);
}

/* Bind o's file; on success the model owns the gguf. */
static pdvm_status bind(const llama_opts *o, gw *w, pdvm_model *m)
{
    build(w, o);
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open_memory(w->buf, w->len, &g) != PDVM_OK)
        fail_msg("synthetic file does not parse: %s", pdvm_last_error());
    pdvm_status st = pdvm_model_bind(g, m);
    if (st != PDVM_OK) pdvm_gguf_close(g); /* still ours on failure */
    return st;
}

static void expect_bind_fail(const llama_opts *o, pdvm_status st, const char *n1, const char *n2)
{
    gw w = {0};
    pdvm_model m;
    pdvm_status got = bind(o, &w, &m);
    const char *msg = pdvm_last_error();
    if (got != st)
        fail_msg("expected %s, got %s: %s", pdvm_status_str(st), pdvm_status_str(got), msg);
    if (n1 && !strstr(msg, n1)) fail_msg("message lacks '%s': %s", n1, msg);
    if (n2 && !strstr(msg, n2)) fail_msg("message lacks '%s': %s", n2, msg);
    assert_null(m.layers);
    assert_null(m.gguf);
    gw_free(&w);
}

/* ------------------------------------------------------------------ tests */

static void test_binds_llama(void **state)
{
    (void)state;
    llama_opts o = defaults();
    gw w = {0};
    pdvm_model m;
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    const pdvm_hparams *h = &m.hp;
    assert_string_equal(h->arch, "llama");
    assert_int_equal(h->n_vocab, 16);
    assert_int_equal(h->n_ctx_train, 128);
    assert_int_equal(h->n_embd, 32);
    assert_int_equal(h->n_layer, 2);
    assert_int_equal(h->n_ff, 64);
    assert_int_equal(h->n_head, 4);
    assert_int_equal(h->n_head_kv, 2);
    assert_int_equal(h->head_dim, 8);
    assert_int_equal(h->n_rot, 8);
    assert_true(h->rms_eps == 1e-5f);
    assert_true(h->rope_freq_base == 500000.0f);
    assert_int_equal(h->rope_type, PDVM_ROPE_NORM);
    const pdvm_tensor *k = &m.layers[1].attn_k;
    assert_string_equal(k->name, "blk.1.attn_k.weight");
    assert_int_equal(k->ne[0], 32);
    assert_int_equal(k->ne[1], 16);
    assert_int_equal(k->row_bytes, 128);
    assert_int_equal(k->nbytes, 2048);
    assert_true((const uint8_t *)k->data > w.buf && (const uint8_t *)k->data < w.buf + w.len);
    assert_string_equal(m.layers[0].ffn_down.name, "blk.0.ffn_down.weight");
    assert_int_equal(m.layers[0].ffn_down.ne[0], 64);
    assert_int_equal(m.output_norm.ne[1], 1);
    assert_ptr_not_equal(m.output.data, m.tok_embd.data);
    /* 2 x (32x16) embeddings + 32 norm + per layer: 2x32 norms, q/o 32x32,
     * k/v 32x16, gate/up/down 32x64. */
    uint64_t layer = 2 * 32 + 2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 64;
    assert_int_equal(m.n_params, 2 * 32 * 16 + 32 + 2 * layer);
    pdvm_model_unbind(&m);
    assert_null(m.gguf);
    gw_free(&w);
}

static void test_llama_cpp_defaults(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.n_head_kv = o.n_head; /* what the shapes must be when the key is absent */
    o.omit_key = "attention.head_count_kv";
    gw w = {0};
    pdvm_model m;
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    assert_int_equal(m.hp.n_head_kv, 4);
    pdvm_model_unbind(&m);
    gw_free(&w);

    o = defaults();
    o.omit_key = "rope.freq_base";
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    assert_true(m.hp.rope_freq_base == 10000.0f);
    pdvm_model_unbind(&m);
    gw_free(&w);

    o = defaults();
    o.omit_key = "rope.dimension_count";
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    assert_int_equal(m.hp.n_rot, m.hp.head_dim);
    pdvm_model_unbind(&m);
    gw_free(&w);
}

static void test_required_keys(void **state)
{
    (void)state;
    static const char *const required[] = {"context_length", "embedding_length", "block_count",
                                           "feed_forward_length", "attention.head_count",
                                           "attention.layer_norm_rms_epsilon"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        llama_opts o = defaults();
        o.omit_key = required[i];
        char key[96];
        snprintf(key, sizeof key, "llama.%s missing", required[i]);
        expect_bind_fail(&o, PDVM_ERR_FORMAT, key, NULL);
    }
    llama_opts o = defaults();
    o.omit_key = "general.architecture";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "general.architecture missing", NULL);
}

static void test_bad_key_values(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.eps_as_u32 = true;
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "layer_norm_rms_epsilon has type u32", NULL);
    o = defaults();
    o.eps = -1.0f;
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "layer_norm_rms_epsilon", "positive");
    o = defaults();
    o.n_rot = 4;
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "rope.dimension_count is 4", "head_dim 8");
    o = defaults();
    o.n_head = 5;
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "not a multiple of attention.head_count 5", NULL);
    o = defaults();
    o.n_head_kv = 3;
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "head_count_kv 3", NULL);
    o = defaults();
    o.n_ctx = 0;
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "llama.context_length is 0", NULL);
    /* linear and longrope are run; YaRN is refused by name. */
    o = defaults();
    o.rope_scaling = "yarn";
    expect_bind_fail(&o, PDVM_ERR_UNSUPPORTED, "rope.scaling.type 'yarn'", NULL);
}

static void test_block_count_bounds(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.block_count_key = 1000000; /* must not allocate a million layers */
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "block_count is 1000000", "512");
    o = defaults();
    o.block_count_key = 3;
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "'blk.2.attn_norm.weight' missing", NULL);
}

static void test_per_layer_head_count(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.head_count_array = 1;
    gw w = {0};
    pdvm_model m;
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    assert_int_equal(m.hp.n_head, 4);
    pdvm_model_unbind(&m);
    gw_free(&w);
    o.head_count_array = 2;
    expect_bind_fail(&o, PDVM_ERR_UNSUPPORTED, "head_count differs between layers", NULL);
}

static void test_tied_output(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.omit_tensor = "output.weight";
    gw w = {0};
    pdvm_model m;
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    assert_ptr_equal(m.output.data, m.tok_embd.data);
    assert_string_equal(m.output.name, "token_embd.weight");
    uint64_t layer = 2 * 32 + 2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 64;
    assert_int_equal(m.n_params, 32 * 16 + 32 + 2 * layer);
    pdvm_model_unbind(&m);
    gw_free(&w);
}

static void test_shape_mismatch(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.bad_shape = "blk.1.attn_k.weight";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "tensor 'blk.1.attn_k.weight': shape [32, 17]",
                     "expects [32, 16] (n_embd, n_head_kv*head_dim)");
    o.bad_shape = "output_norm.weight";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "'output_norm.weight': shape [33]", "expects [32]");
    o.bad_shape = "blk.0.ffn_down.weight";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "[64, 33]", "(n_ff, n_embd)");
    o.bad_shape = "token_embd.weight";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "'token_embd.weight': shape [32, 17]", "n_vocab");
    o.bad_shape = "output.weight";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "'output.weight'", "[32, 16]");
}

static void test_vocab_source(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.n_tokens = 0; /* no tokenizer: token_embd's ne[1] */
    gw w = {0};
    pdvm_model m;
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    assert_int_equal(m.hp.n_vocab, 16);
    pdvm_model_unbind(&m);
    gw_free(&w);
    o.n_tokens = 17; /* tokenizer and embedding disagree */
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "'token_embd.weight': shape [32, 16]",
                     "[32, 17]");
}

static void test_missing_and_extra_tensors(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.omit_tensor = "blk.1.ffn_up.weight";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "tensor 'blk.1.ffn_up.weight' missing", NULL);
    o = defaults();
    o.extra_tensor = "blk.0.ffn_gate.bias";
    expect_bind_fail(&o, PDVM_ERR_UNSUPPORTED, "'blk.0.ffn_gate.bias' is not used", NULL);
    /* Llama 3.1's frequency factors have n_rot / 2 values, not n_embd. */
    o.extra_tensor = "rope_freqs.weight";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "'rope_freqs.weight'", "n_rot/2");
}

static void test_tensor_types(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.retype = "blk.0.ffn_gate.weight";
    o.type = PDVM_TYPE_Q8_1;
    expect_bind_fail(&o, PDVM_ERR_UNSUPPORTED, "'blk.0.ffn_gate.weight'", "q8_1");
    o.type = 39; /* mxfp4: known to ggml, not decoded by pdvm */
    expect_bind_fail(&o, PDVM_ERR_UNSUPPORTED, "'blk.0.ffn_gate.weight'", "mxfp4");
    o.retype = "blk.1.attn_norm.weight";
    o.type = PDVM_TYPE_F16;
    expect_bind_fail(&o, PDVM_ERR_UNSUPPORTED, "'blk.1.attn_norm.weight'", "f16");
    o.retype = "blk.1.attn_q.weight";
    o.type = PDVM_TYPE_Q8_0;
    gw w = {0};
    pdvm_model m;
    assert_int_equal(bind(&o, &w, &m), PDVM_OK);
    assert_int_equal(m.layers[1].attn_q.type, PDVM_TYPE_Q8_0);
    assert_int_equal(m.layers[1].attn_q.row_bytes, 34);
    assert_int_equal(m.layers[1].attn_q.nbytes, 34 * 32);
    pdvm_model_unbind(&m);
    gw_free(&w);
}

static void test_architectures(void **state)
{
    (void)state;
    llama_opts o = defaults();
    o.arch = "gpt2";
    expect_bind_fail(&o, PDVM_ERR_UNSUPPORTED, "architecture 'gpt2' not supported", NULL);
    /* A llama-shaped file declared as another family lacks what it needs. */
    o.arch = "qwen2";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "tensor 'blk.0.attn_q.bias' missing", NULL);
    o.arch = "phi3";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "'blk.0.ffn_up.weight'", "2*n_ff");
    o.arch = "gemma2";
    expect_bind_fail(&o, PDVM_ERR_FORMAT, "tensor 'blk.0.post_attention_norm.weight' missing",
                     NULL);
}

/* --------------------------------------------------------------- real files */

static void bind_real(const char *file, uint32_t q_type)
{
    char path[TEST_PATH_MAX];
    test_model_path(file, path, sizeof path);
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open(path, &g) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    pdvm_model m;
    if (pdvm_model_bind(g, &m) != PDVM_OK) fail_msg("%s: %s", file, pdvm_last_error());
    const pdvm_hparams *h = &m.hp;
    assert_int_equal(h->n_vocab, 512);
    assert_int_equal(h->n_embd, 64);
    assert_int_equal(h->n_layer, 5);
    assert_int_equal(h->n_head, 8);
    assert_int_equal(h->n_head_kv, 4);
    assert_int_equal(h->n_ff, 172);
    assert_int_equal(h->head_dim, 8);
    assert_int_equal(h->n_ctx_train, 2048);
    assert_true(h->rms_eps == 1e-5f);
    assert_int_equal(h->rope_type, PDVM_ROPE_NORM);
    assert_int_equal(m.layers[4].attn_q.type, q_type);
    assert_int_equal(m.layers[4].attn_k.ne[1], 32);
    assert_int_equal(m.output_norm.type, PDVM_TYPE_F32);
    assert_ptr_not_equal(m.output.data, m.tok_embd.data);
    assert_int_equal(m.n_params, 292800);
    pdvm_model_unbind(&m);
}

static void test_real_models_bind(void **state)
{
    (void)state;
    bind_real("stories260K.gguf", PDVM_TYPE_F32);
    bind_real("stories260K-f16.gguf", PDVM_TYPE_F16);
    bind_real("stories260K-q8_0.gguf", PDVM_TYPE_Q8_0);
    bind_real("stories260K-q4_0.gguf", PDVM_TYPE_Q4_0);
}

static void test_quant_vectors_do_not_bind(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    test_model_path("quant-vectors.gguf", path, sizeof path);
    pdvm_gguf *g = NULL;
    assert_int_equal(pdvm_gguf_open(path, &g), PDVM_OK);
    pdvm_model m;
    assert_int_equal(pdvm_model_bind(g, &m), PDVM_ERR_FORMAT);
    assert_non_null(strstr(pdvm_last_error(), "general.architecture"));
    pdvm_gguf_close(g);
}

static void test_model_open(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", path, sizeof path);
    pdvm_model *m = NULL;
    if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    const pdvm_hparams *h = pdvm_model_hparams(m);
    assert_int_equal(h->n_vocab, 512);
    assert_string_equal(h->arch, "llama");
    pdvm_model_close(m);
    pdvm_model_close(NULL);
    assert_int_equal(pdvm_model_open("/nonexistent.gguf", &m), PDVM_ERR_IO);
    assert_null(m);
    test_model_path("quant-vectors.gguf", path, sizeof path);
    assert_int_equal(pdvm_model_open(path, &m), PDVM_ERR_FORMAT);
    assert_non_null(strstr(pdvm_last_error(), path));
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binds_llama),
        cmocka_unit_test(test_llama_cpp_defaults),
        cmocka_unit_test(test_required_keys),
        cmocka_unit_test(test_bad_key_values),
        cmocka_unit_test(test_block_count_bounds),
        cmocka_unit_test(test_per_layer_head_count),
        cmocka_unit_test(test_tied_output),
        cmocka_unit_test(test_shape_mismatch),
        cmocka_unit_test(test_vocab_source),
        cmocka_unit_test(test_missing_and_extra_tensors),
        cmocka_unit_test(test_tensor_types),
        cmocka_unit_test(test_architectures),
        cmocka_unit_test(test_real_models_bind),
        cmocka_unit_test(test_quant_vectors_do_not_bind),
        cmocka_unit_test(test_model_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
