/* A synthetic shape written as a GGUF file (pdvm_bench.h): the tensors of
 * pdvm_synthetic_model laid out as llama.cpp's converter writes that
 * architecture (phi3: attn_qkv and ffn_up fused), random weights, and a
 * generated SentencePiece ("llama") vocabulary of the shape's n_vocab, so
 * that pdvm and llama.cpp load the same file. There are no CPU quantizers
 * here (src/quant*.c decodes only): every block is random bytes with its
 * f16 scale fields set so that each tensor's RMS is about the one wanted,
 * measured by decoding a few rows with our CPU decoder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gguf_out.h"
#include "model.h"
#include "model_arch.h"
#include "pdvm_bench.h"
#include "quant.h"

typedef struct out_tensor {
    char name[48];
    uint32_t type, n_dims;
    int64_t ne[2];
    uint64_t row_bytes;
    float target;       /* RMS of a weight matrix's values */
    float lo, hi;       /* 1-D: uniform in [lo, hi) */
} out_tensor;

typedef struct tensor_list {
    out_tensor *t;
    size_t n, cap;
} tensor_list;

static uint64_t rnd(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uni(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((rnd(s) >> 40) * (1.0 / 16777216.0));
}

static bool add(tensor_list *l, const char *name, uint32_t type, int64_t n_in, int64_t n_out)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 256;
        out_tensor *t = realloc(l->t, nc * sizeof *t);
        if (!t) return false;
        l->t = t, l->cap = nc;
    }
    out_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = n_out == 1 ? PDVM_TYPE_F32 : type;
    t->n_dims = n_out == 1 ? 1 : 2;
    t->ne[0] = n_in, t->ne[1] = n_out;
    pdvm_type_row_bytes(t->type, n_in, &t->row_bytes);
    t->target = (float)(1.0 / sqrt((double)n_in));
    bool norm = strstr(name, "norm") != NULL;
    t->lo = norm ? 0.8f : -0.1f, t->hi = norm ? 1.2f : 0.1f;
    return true;
}

static bool add_from(tensor_list *l, const pdvm_tensor *t, int64_t n_out)
{
    return add(l, t->name, t->type, t->ne[0], n_out);
}

/* One layer as the file holds it: phi3's files fuse Q, K, V into attn_qkv
 * and gate and up into ffn_up (llama.cpp's converter); the synthetic model
 * binds them apart. */
static bool add_layer(tensor_list *l, const pdvm_layer *L, uint32_t i, bool fused)
{
    char name[48];
    for (int k = 0; k < PDVM_LT_COUNT; k++) {
        const pdvm_tensor *t = &L->t[k];
        if (!pdvm_tensor_present(t)) continue;
        if (fused && (k == PDVM_LT_ATTN_K || k == PDVM_LT_ATTN_V || k == PDVM_LT_FFN_GATE))
            continue;
        if (fused && k == PDVM_LT_ATTN_Q) {
            snprintf(name, sizeof name, "blk.%u.attn_qkv.weight", i);
            if (!add(l, name, t->type, t->ne[0],
                     t->ne[1] + L->attn_k.ne[1] + L->attn_v.ne[1]))
                return false;
        } else if (!add_from(l, t, fused && k == PDVM_LT_FFN_UP ? 2 * t->ne[1] : t->ne[1])) {
            return false;
        }
    }
    return true;
}

static bool list_tensors(const pdvm_model *m, tensor_list *l)
{
    const pdvm_arch *row = pdvm_arch_find((gguf_str){m->hp.arch, strlen(m->hp.arch)});
    bool fused = row && row->ffn_up_fused;
    bool ok = add_from(l, &m->tok_embd, m->tok_embd.ne[1]);
    if (ok) l->t[l->n - 1].target = 0.5f; /* RMSNorm follows: any scale works */
    ok = ok && add_from(l, &m->output_norm, 1);
    if (ok && m->output.name != m->tok_embd.name) ok = add_from(l, &m->output, m->output.ne[1]);
    for (uint32_t i = 0; ok && i < m->hp.n_layer; i++)
        ok = add_layer(l, &m->layers[i], i, fused);
    return ok;
}

/* ------------------------------------------------------------ metadata */

static void write_hparams(gguf_out *g, const pdvm_model *m, const char *name)
{
    const pdvm_hparams *hp = &m->hp;
    char key[96];
#define KEY(k) (snprintf(key, sizeof key, "%s." k, hp->arch), key)
    gguf_out_kv_str(g, "general.architecture", hp->arch);
    gguf_out_kv_str(g, "general.name", name);
    gguf_out_kv_str(g, "general.description",
                    "pdvm bench --write-gguf: the shape with random weights, not a trained model");
    gguf_out_kv_u32(g, KEY("context_length"), hp->n_ctx_train);
    gguf_out_kv_u32(g, KEY("embedding_length"), hp->n_embd);
    gguf_out_kv_u32(g, KEY("block_count"), hp->n_layer);
    gguf_out_kv_u32(g, KEY("feed_forward_length"), hp->n_ff);
    gguf_out_kv_u32(g, KEY("attention.head_count"), hp->n_head);
    gguf_out_kv_u32(g, KEY("attention.head_count_kv"), hp->n_head_kv);
    gguf_out_kv_u32(g, KEY("attention.key_length"), hp->head_dim);
    gguf_out_kv_u32(g, KEY("attention.value_length"), hp->head_dim);
    gguf_out_kv_f32(g, KEY("attention.layer_norm_rms_epsilon"), hp->rms_eps);
    gguf_out_kv_u32(g, KEY("rope.dimension_count"), hp->n_rot);
    gguf_out_kv_f32(g, KEY("rope.freq_base"), hp->rope_freq_base);
    if (hp->n_swa) gguf_out_kv_u32(g, KEY("attention.sliding_window"), hp->n_swa);
    if (m->ap.attn_softcap != 0.0f)
        gguf_out_kv_f32(g, KEY("attn_logit_softcapping"), m->ap.attn_softcap);
    if (m->ap.final_softcap != 0.0f)
        gguf_out_kv_f32(g, KEY("final_logit_softcapping"), m->ap.final_softcap);
#undef KEY
}

/* Token i past the specials and bytes: U+2581 alone (i 0: the space
 * before a word that no piece covers, as in real SentencePiece vocabs),
 * then U+2581 and letters a..z in a bijective base 26 ("a" .. "z", "aa",
 * ...): unique, and at most 4 letters for 262144 tokens. */
static void piece(uint32_t i, char *out)
{
    char letters[8];
    int n = 0;
    for (uint32_t k = i; k > 0; k = (k - 1) / 26) letters[n++] = (char)('a' + (k - 1) % 26);
    memcpy(out, "\xe2\x96\x81", 3);
    for (int j = 0; j < n; j++) out[3 + j] = letters[n - 1 - j];
    out[3 + n] = '\0';
}

/* llama.cpp's SentencePiece layout: <unk>, <s>, </s>, the 256 byte
 * tokens <0xXX> (type 6), then the pieces, scores falling with length
 * (digits and punctuation fall back to the byte tokens), and last the
 * control token <|endoftext|>: llama.cpp looks it up by text in a model
 * whose name says Phi-3 (llama-vocab.cpp, per-token attributes). */
static void write_vocab(gguf_out *g, uint32_t n_vocab)
{
    enum { N_SPECIAL = 3, N_FIXED = 3 + 256 };
    char tok[16];
    gguf_out_kv_str(g, "tokenizer.ggml.model", "llama");
    gguf_out_kv_arr(g, "tokenizer.ggml.tokens", GGUF_OUT_STR, n_vocab);
    static const char *const special[N_SPECIAL] = {"<unk>", "<s>", "</s>"};
    for (uint32_t i = 0; i < n_vocab; i++) {
        if (i < N_SPECIAL) snprintf(tok, sizeof tok, "%s", special[i]);
        else if (i == n_vocab - 1) snprintf(tok, sizeof tok, "<|endoftext|>");
        else if (i < N_FIXED) snprintf(tok, sizeof tok, "<0x%02X>", i - N_SPECIAL);
        else piece(i - N_FIXED, tok);
        gguf_out_str(g, tok);
    }
    gguf_out_kv_arr(g, "tokenizer.ggml.scores", GGUF_OUT_F32, n_vocab);
    for (uint32_t i = 0; i < n_vocab; i++) {
        float s = i < N_FIXED ? 0.0f : -(float)(i - N_FIXED);
        gguf_out_raw(g, &s, 4); /* little-endian hosts only, as the rest of pdvm */
    }
    gguf_out_kv_arr(g, "tokenizer.ggml.token_type", GGUF_OUT_I32, n_vocab);
    for (uint32_t i = 0; i < n_vocab; i++) {
        int32_t t = i == 0 ? 2 : i < N_SPECIAL || i == n_vocab - 1 ? 3 : i < N_FIXED ? 6 : 1;
        gguf_out_raw(g, &t, 4);
    }
    gguf_out_kv_u32(g, "tokenizer.ggml.unknown_token_id", 0);
    gguf_out_kv_u32(g, "tokenizer.ggml.bos_token_id", 1);
    gguf_out_kv_u32(g, "tokenizer.ggml.eos_token_id", 2);
}

/* ------------------------------------------------------------- weights */

/* The f16 scale fields of a block (ggml-common.h) and their values
 * relative to the scale d: mins set so that values centre near zero. */
static int scale_fields(uint32_t type, uint32_t off[2], float rel[2])
{
    rel[0] = 1.0f;
    off[0] = 0;
    switch (type) {
    case PDVM_TYPE_Q4_0: case PDVM_TYPE_Q5_0: case PDVM_TYPE_Q8_0: case PDVM_TYPE_IQ4_NL:
    case PDVM_TYPE_IQ4_XS: return 1;
    case PDVM_TYPE_Q4_1: off[1] = 2, rel[1] = -7.5f; return 2;
    case PDVM_TYPE_Q5_1: off[1] = 2, rel[1] = -15.5f; return 2;
    case PDVM_TYPE_Q2_K: off[0] = 80, off[1] = 82, rel[1] = 1.5f; return 2;
    case PDVM_TYPE_Q3_K: off[0] = 108; return 1;
    case PDVM_TYPE_Q4_K: off[1] = 2, rel[1] = 7.5f; return 2;
    case PDVM_TYPE_Q5_K: off[1] = 2, rel[1] = 15.5f; return 2;
    case PDVM_TYPE_Q6_K: off[0] = 208; return 1;
    default: return 0;
    }
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = pdvm_f32_to_f16(v);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

/* Random rows of a float type, uniform with RMS target (1-D: [lo, hi)). */
static void fill_plain(const out_tensor *t, uint8_t *buf, uint64_t n, uint64_t *s)
{
    float half = t->target * 1.7320508f, lo = t->n_dims == 1 ? t->lo : -half;
    float hi = t->n_dims == 1 ? t->hi : half;
    for (uint64_t i = 0; i < n; i++) {
        float v = uni(s, lo, hi);
        if (t->type == PDVM_TYPE_F32) {
            memcpy(buf + 4 * i, &v, 4);
        } else if (t->type == PDVM_TYPE_F16) {
            put_f16(buf + 2 * i, v);
        } else { /* bf16: the top half of the float */
            uint32_t b;
            memcpy(&b, &v, 4);
            buf[2 * i] = (uint8_t)(b >> 16), buf[2 * i + 1] = (uint8_t)(b >> 24);
        }
    }
}

/* Random blocks with every scale field k * u * rel, u uniform in [0.5, 1.5). */
static void fill_blocks(uint32_t type, uint8_t *buf, uint64_t bytes, float k, uint64_t *s)
{
    uint32_t off[2], bb = pdvm_type_block_bytes(type);
    float rel[2];
    int nf = scale_fields(type, off, rel);
    for (uint64_t i = 0; i + 8 <= bytes; i += 8) {
        uint64_t r = rnd(s);
        memcpy(buf + i, &r, 8);
    }
    for (uint64_t i = bytes & ~7ull; i < bytes; i++) buf[i] = (uint8_t)rnd(s);
    for (uint64_t b = 0; b + bb <= bytes; b += bb) {
        float u = k * uni(s, 0.5f, 1.5f);
        for (int f = 0; f < nf; f++) put_f16(buf + b + off[f], u * rel[f]);
    }
}

/* The factor that brings a block type's random rows to RMS target:
 * rows with unit scales decoded and measured. */
static float block_scale(const out_tensor *t, uint8_t *buf, float *row, uint64_t *s)
{
    uint64_t n_rows = t->ne[1] < 4 ? (uint64_t)t->ne[1] : 4;
    fill_blocks(t->type, buf, n_rows * t->row_bytes, 1.0f, s);
    double ss = 0;
    for (uint64_t r = 0; r < n_rows; r++) {
        pdvm_dequant_row(t->type, buf + r * t->row_bytes, row, t->ne[0]);
        for (int64_t i = 0; i < t->ne[0]; i++) ss += (double)row[i] * row[i];
    }
    double rms = sqrt(ss / ((double)n_rows * t->ne[0]));
    return rms > 0 ? (float)(t->target / rms) : 1.0f;
}

enum { CHUNK_BYTES = 8u << 20 };

static pdvm_status write_data(gguf_out *g, const out_tensor *t, uint8_t *buf, float *row,
                              uint64_t *s)
{
    bool plain = pdvm_type_block_elems(t->type) == 1;
    float k = plain ? 1.0f : block_scale(t, buf, row, s);
    uint64_t rows_per = CHUNK_BYTES / t->row_bytes ? CHUNK_BYTES / t->row_bytes : 1;
    for (uint64_t r = 0; r < (uint64_t)t->ne[1] && g->st == PDVM_OK; r += rows_per) {
        uint64_t n = (uint64_t)t->ne[1] - r < rows_per ? (uint64_t)t->ne[1] - r : rows_per;
        if (plain)
            fill_plain(t, buf, n * t->row_bytes / pdvm_type_block_bytes(t->type), s);
        else fill_blocks(t->type, buf, n * t->row_bytes, k, s);
        gguf_out_raw(g, buf, n * t->row_bytes);
    }
    gguf_out_align(g);
    return g->st;
}

static pdvm_status write_file(const pdvm_model *m, const tensor_list *l, const char *name,
                              uint64_t seed, const char *path, uint64_t *bytes)
{
    gguf_out g;
    PDVM_TRY(gguf_out_open(&g, path));
    write_hparams(&g, m, name);
    write_vocab(&g, m->hp.n_vocab);
    for (size_t i = 0; i < l->n; i++)
        gguf_out_tensor_info(&g, l->t[i].name, l->t[i].n_dims, l->t[i].ne, l->t[i].type,
                             l->t[i].row_bytes * (uint64_t)l->t[i].ne[1]);
    gguf_out_end_header(&g);
    uint64_t max_row = 0, max_in = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->t[i].row_bytes > max_row) max_row = l->t[i].row_bytes;
        if ((uint64_t)l->t[i].ne[0] > max_in) max_in = (uint64_t)l->t[i].ne[0];
    }
    uint8_t *buf = malloc(CHUNK_BYTES > 4 * max_row ? CHUNK_BYTES : 4 * max_row);
    float *row = malloc(max_in * sizeof *row);
    if ((!buf || !row) && g.st == PDVM_OK)
        g.st = pdvm_fail(PDVM_ERR_NOMEM, "writing %s: buffers", path);
    uint64_t s = seed;
    for (size_t i = 0; i < l->n && g.st == PDVM_OK; i++) write_data(&g, &l->t[i], buf, row, &s);
    *bytes = g.data_offset;
    free(buf);
    free(row);
    return gguf_out_close(&g);
}

pdvm_status pdvm_synthetic_write_gguf(const char *name, uint32_t type, uint64_t seed,
                                      const char *path, uint64_t *data_bytes)
{
    if (!name || !path || !data_bytes)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_synthetic_write_gguf: NULL argument");
    pdvm_model *m;
    PDVM_TRY(pdvm_synthetic_model(name, type, &m));
    tensor_list l = {0};
    pdvm_status st = list_tensors(m, &l)
                         ? write_file(m, &l, name, seed, path, data_bytes)
                         : pdvm_fail(PDVM_ERR_NOMEM, "writing %s: tensor list", path);
    free(l.t);
    pdvm_synthetic_free(m);
    return st;
}
