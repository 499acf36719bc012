/* The vocabulary shared by both algorithms: pieces, scores, attributes,
 * the piece -> id table, special ids and flags with llama.cpp's defaults
 * (llama_vocab::impl::load), and encoding: special tokens split out first,
 * then each text fragment through SentencePiece or byte-level BPE. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_impl.h"

#define MAX_VOCAB (1u << 24)
#define MAX_TEXT ((size_t)1 << 28) /* keeps symbol indices in int range */

/* ------------------------------------------------------------ piece table */

uint32_t pdvm_tok_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int32_t pdvm_tokenizer_find(const pdvm_tokenizer *t, const char *piece, size_t len)
{
    return pdvm_tokenizer_find_hashed(t, piece, len, pdvm_tok_hash(piece, len));
}

int32_t pdvm_tokenizer_find_hashed(const pdvm_tokenizer *t, const char *piece, size_t len,
                                   uint32_t hash)
{
    for (uint32_t i = hash & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        int32_t id = t->slots[i];
        if (id < 0) return -1;
        if (t->lens[id] == len && memcmp(t->blob + t->offs[id], piece, len) == 0) return id;
    }
}

/* A duplicated piece maps to its last id, as llama.cpp's token_to_id does. */
static void table_insert(pdvm_tokenizer *t, int32_t id)
{
    const char *p = t->blob + t->offs[id];
    for (uint32_t i = pdvm_tok_hash(p, t->lens[id]) & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        int32_t old = t->slots[i];
        if (old < 0 || (t->lens[old] == t->lens[id] && memcmp(t->blob + t->offs[old], p,
                                                              t->lens[id]) == 0)) {
            t->slots[i] = id;
            return;
        }
    }
}

/* ------------------------------------------------------------------ load */

static pdvm_status check_model_name(const pdvm_gguf *g, pdvm_tokenizer *t)
{
    gguf_str model;
    if (!pdvm_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: tokenizer.ggml.model is missing");
    if (gguf_str_eq(model, "llama")) {
        t->type = PDVM_VOCAB_SPM;
        return PDVM_OK;
    }
    if (gguf_str_eq(model, "gpt2")) {
        t->type = PDVM_VOCAB_BPE;
        return PDVM_OK;
    }
    int n = model.len > 64 ? 64 : (int)model.len;
    return pdvm_fail(PDVM_ERR_UNSUPPORTED,
                     "tokenizer: tokenizer.ggml.model '%.*s' is not supported "
                     "(only 'llama', SentencePiece, and 'gpt2', byte-level BPE)", n, model.ptr);
}

/* An empty piece becomes "[EMPTY_<id>]", as llama.cpp names it. */
static void piece_text(const pdvm_gguf *g, int64_t key, uint64_t i, gguf_str *s, char *empty,
                       size_t cap)
{
    gguf_value v;
    pdvm_gguf_kv_item(g, (uint64_t)key, i, &v);
    *s = v.v.s;
    if (s->len == 0) {
        int k = snprintf(empty, cap, "[EMPTY_%llu]", (unsigned long long)i);
        *s = (gguf_str){empty, (uint64_t)k};
    }
}

static pdvm_status load_pieces(const pdvm_gguf *g, pdvm_tokenizer *t)
{
    gguf_type et;
    uint64_t n;
    int64_t key = pdvm_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (!pdvm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) || et != GGUF_TYPE_STRING)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: tokenizer.ggml.tokens is missing or "
                                          "not a string array");
    if (n == 0 || n > MAX_VOCAB)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %llu tokens (expected 1..%u)",
                         (unsigned long long)n, MAX_VOCAB);
    t->n_vocab = (uint32_t)n;
    uint64_t total = 0;
    char empty[32];
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s;
        piece_text(g, key, i, &s, empty, sizeof empty);
        if (s.len > UINT32_MAX / 2)
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: token %llu is %llu bytes long",
                             (unsigned long long)i, (unsigned long long)s.len);
        total += s.len + 1;
    }
    t->blob = malloc(total);
    t->offs = malloc(n * sizeof *t->offs);
    t->lens = malloc(n * sizeof *t->lens);
    if (!t->blob || !t->offs || !t->lens)
        return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: %llu bytes of pieces",
                         (unsigned long long)total);
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s;
        piece_text(g, key, i, &s, empty, sizeof empty);
        memcpy(t->blob + at, s.ptr, s.len);
        t->blob[at + s.len] = '\0';
        t->offs[i] = at;
        t->lens[i] = (uint32_t)s.len;
        at += s.len + 1;
    }
    return PDVM_OK;
}

/* Optional numeric array of at least n_vocab elements; absent means the
 * llama.cpp default. Scores may be f32 or i32; token types are i32. */
static pdvm_status numeric_array(const pdvm_gguf *g, const char *key, bool allow_i32_scores,
                                 uint32_t n_vocab, const void **data, gguf_type *type)
{
    uint64_t n;
    *data = NULL;
    if (pdvm_gguf_find_key(g, key) < 0) return PDVM_OK;
    bool ok = pdvm_gguf_get_arr(g, key, type, &n) && n >= n_vocab &&
              (*type == GGUF_TYPE_INT32 || (allow_i32_scores && *type == GGUF_TYPE_FLOAT32));
    if (ok) *data = pdvm_gguf_arr_data(g, key);
    if (!ok || !*data)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s must be an array of at least %u %s",
                         key, n_vocab, allow_i32_scores ? "float32 or int32" : "int32");
    return PDVM_OK;
}

static uint32_t attr_of_type(int32_t type)
{
    switch (type) {
    case PDVM_TOKEN_NORMAL: return PDVM_ATTR_NORMAL;
    case PDVM_TOKEN_UNKNOWN: return PDVM_ATTR_UNKNOWN;
    case PDVM_TOKEN_CONTROL: return PDVM_ATTR_CONTROL;
    case PDVM_TOKEN_USER_DEFINED: return PDVM_ATTR_USER_DEFINED;
    case PDVM_TOKEN_UNUSED: return PDVM_ATTR_UNUSED;
    case PDVM_TOKEN_BYTE: return PDVM_ATTR_BYTE;
    default: return PDVM_ATTR_UNDEFINED;
    }
}

static pdvm_status load_scores_attrs(const pdvm_gguf *g, pdvm_tokenizer *t)
{
    t->scores = calloc(t->n_vocab, sizeof *t->scores);
    t->attrs = malloc(t->n_vocab * sizeof *t->attrs);
    if (!t->scores || !t->attrs) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: scores");
    const void *scores, *types;
    gguf_type st, tt;
    PDVM_TRY(numeric_array(g, "tokenizer.ggml.scores", true, t->n_vocab, &scores, &st));
    PDVM_TRY(numeric_array(g, "tokenizer.ggml.token_type", false, t->n_vocab, &types, &tt));
    /* GGUF is little-endian, like our hosts; the data may be unaligned. */
    for (uint32_t i = 0; i < t->n_vocab; i++) {
        if (scores && st == GGUF_TYPE_FLOAT32) {
            memcpy(&t->scores[i], (const char *)scores + 4 * (size_t)i, 4);
        } else if (scores) {
            int32_t v;
            memcpy(&v, (const char *)scores + 4 * (size_t)i, 4);
            t->scores[i] = (float)v;
        }
        int32_t type = PDVM_TOKEN_NORMAL;
        if (types) memcpy(&type, (const char *)types + 4 * (size_t)i, 4);
        t->attrs[i] = attr_of_type(type);
    }
    return PDVM_OK;
}

static pdvm_status build_table(pdvm_tokenizer *t)
{
    uint32_t cap = 16;
    while (cap < 2 * t->n_vocab) cap *= 2;
    t->slots = malloc((size_t)cap * sizeof *t->slots);
    if (!t->slots) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: piece table");
    memset(t->slots, 0xff, (size_t)cap * sizeof *t->slots);
    t->slot_mask = cap - 1;
    for (uint32_t i = 0; i < t->n_vocab; i++) table_insert(t, (int32_t)i);
    /* SentencePiece byte fallback as llama.cpp's byte_to_token: "<0xXX>", else the raw byte. */
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_ids[b] = pdvm_tokenizer_find(t, name, 6);
        if (t->byte_ids[b] < 0) {
            name[0] = (char)b;
            t->byte_ids[b] = pdvm_tokenizer_find(t, name, 1);
        }
    }
    return PDVM_OK;
}

/* A special id key overrides the default when it names a token; an id
 * outside the vocabulary keeps the default, as llama.cpp does. */
static pdvm_status read_id(const pdvm_gguf *g, const char *key, uint32_t n_vocab, int32_t *id)
{
    uint32_t v;
    if (pdvm_gguf_find_key(g, key) < 0) return PDVM_OK;
    if (!pdvm_gguf_get_u32(g, key, &v))
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s is not an unsigned integer", key);
    if (v < n_vocab) *id = (int32_t)v;
    return PDVM_OK;
}

static pdvm_status read_bool(const pdvm_gguf *g, const char *key, bool *v)
{
    if (pdvm_gguf_find_key(g, key) >= 0 && !pdvm_gguf_get_bool(g, key, v))
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s is not a bool", key);
    return PDVM_OK;
}

static int32_t in_vocab(const pdvm_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_vocab ? id : -1;
}

/* The pre-tokenizer of a byte-level vocabulary (no key: "default"). */
static pdvm_status load_bpe(const pdvm_gguf *g, const char *pre_override, pdvm_tokenizer *t,
                            pdvm_pre_flags *flags)
{
    gguf_str pre = {"default", 7};
    if (pre_override) {
        pre = (gguf_str){pre_override, strlen(pre_override)};
    } else if (pdvm_gguf_find_key(g, "tokenizer.ggml.pre") >= 0) {
        if (!pdvm_gguf_get_str(g, "tokenizer.ggml.pre", &pre))
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: tokenizer.ggml.pre is not a string");
        if (pre.len == 0) pre = (gguf_str){"default", 7};
    }
    PDVM_TRY(pdvm_pretok_create(pre.ptr, pre.len, &t->pretok, flags));
    t->ignore_merges = flags->ignore_merges;
    return pdvm_bpe_load(g, &t->bpe);
}

static pdvm_status load_flags(const pdvm_gguf *g, pdvm_tokenizer *t, const pdvm_pre_flags *pf)
{
    bool spm = t->type == PDVM_VOCAB_SPM;
    t->bos = in_vocab(t, spm ? 1 : pf->no_bos ? -1 : 11);
    t->eos = in_vocab(t, spm ? 2 : 11);
    t->unk = in_vocab(t, spm ? 0 : -1);
    PDVM_TRY(read_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos));
    PDVM_TRY(read_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos));
    PDVM_TRY(read_id(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk));
    t->add_bos = spm || pf->add_bos;
    t->add_eos = false;
    t->add_space_prefix = spm;
    PDVM_TRY(read_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos));
    PDVM_TRY(read_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos));
    return read_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);
}

pdvm_status pdvm_tokenizer_load_pre(const pdvm_gguf *g, const char *pre, pdvm_tokenizer **out)
{
    *out = NULL;
    pdvm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer");
    pdvm_pre_flags pf = {false, false, false};
    pdvm_status st = check_model_name(g, t);
    if (st == PDVM_OK && t->type == PDVM_VOCAB_BPE) st = load_bpe(g, pre, t, &pf);
    if (st == PDVM_OK) st = load_pieces(g, t);
    if (st == PDVM_OK) st = load_scores_attrs(g, t);
    if (st == PDVM_OK) st = build_table(t);
    if (st == PDVM_OK) st = load_flags(g, t, &pf);
    if (st == PDVM_OK) st = pdvm_special_setup(g, pre, t);
    if (st != PDVM_OK) {
        pdvm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return PDVM_OK;
}

pdvm_status pdvm_tokenizer_load(const pdvm_gguf *g, pdvm_tokenizer **out)
{
    return pdvm_tokenizer_load_pre(g, NULL, out);
}

void pdvm_tokenizer_free(pdvm_tokenizer *t)
{
    if (!t) return;
    free(t->blob);
    free(t->offs);
    free(t->lens);
    free(t->scores);
    free(t->attrs);
    free(t->slots);
    free(t->eog);
    free(t->special);
    free(t->special_rank);
    free(t->special_lens);
    pdvm_bpe_free(t->bpe);
    pdvm_pretok_free(t->pretok);
    free(t);
}

/* ------------------------------------------------------------- accessors */

uint32_t pdvm_tokenizer_n_vocab(const pdvm_tokenizer *t) { return t->n_vocab; }
bool pdvm_tokenizer_is_bpe(const pdvm_tokenizer *t) { return t->type == PDVM_VOCAB_BPE; }
int32_t pdvm_tokenizer_bos(const pdvm_tokenizer *t) { return t->bos; }
int32_t pdvm_tokenizer_eos(const pdvm_tokenizer *t) { return t->eos; }
bool pdvm_tokenizer_add_bos(const pdvm_tokenizer *t) { return t->add_bos; }
bool pdvm_tokenizer_add_eos(const pdvm_tokenizer *t) { return t->add_eos; }
bool pdvm_tokenizer_add_space_prefix(const pdvm_tokenizer *t) { return t->add_space_prefix; }

bool pdvm_tokenizer_is_eog(const pdvm_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_vocab && t->eog[id];
}

const char *pdvm_tokenizer_piece(const pdvm_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab) return NULL;
    if (len) *len = t->lens[id];
    return t->blob + t->offs[id];
}

uint32_t pdvm_tokenizer_attr(const pdvm_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab) return PDVM_ATTR_UNDEFINED;
    return t->attrs[id];
}

/* ---------------------------------------------------------------- encode */

static pdvm_status encode_fragments(const pdvm_tokenizer *t, const char *text,
                                    const pdvm_fragment *f, size_t n_frag, pdvm_id_sink *k)
{
    bool prev_special = true; /* SentencePiece: a text after a special token gets a space */
    for (size_t i = 0; i < n_frag; i++) {
        if (f[i].id >= 0) {
            pdvm_sink_put(k, f[i].id);
            prev_special = true;
            continue;
        }
        if (t->type == PDVM_VOCAB_SPM)
            PDVM_TRY(pdvm_spm_encode(t, text + f[i].start, f[i].len,
                                     t->add_space_prefix && prev_special, k));
        else
            PDVM_TRY(pdvm_bpe_encode(t, text + f[i].start, f[i].len, k));
        prev_special = false;
    }
    return PDVM_OK;
}

pdvm_status pdvm_tokenizer_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                                  bool add_special, bool parse_special, int32_t *out,
                                  size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (len > MAX_TEXT)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "tokenize: text of %zu bytes is over the %zu "
                                               "byte limit", len, MAX_TEXT);
    bool add_bos = add_special && t->add_bos, add_eos = add_special && t->add_eos;
    if ((add_bos && t->bos < 0) || (add_eos && t->eos < 0))
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "tokenize: the vocabulary asks for a %s token "
                                               "but has none", add_bos && t->bos < 0 ? "BOS"
                                                                                      : "EOS");
    pdvm_fragment *frag = NULL;
    size_t n_frag = 0;
    PDVM_TRY(pdvm_special_partition(t, text, len, parse_special, &frag, &n_frag));
    pdvm_id_sink k = {out, cap, 0};
    if (add_bos) pdvm_sink_put(&k, t->bos);
    pdvm_status st = encode_fragments(t, text, frag, n_frag, &k);
    free(frag);
    if (add_eos) pdvm_sink_put(&k, t->eos);
    *n_out = k.n;
    if (st == PDVM_OK && k.n > cap)
        st = pdvm_fail(PDVM_ERR_INVALID_ARG, "tokenize: %zu tokens do not fit in %zu", k.n, cap);
    return st;
}
