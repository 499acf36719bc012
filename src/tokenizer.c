/* SentencePiece BPE tokenizer (tokenizer.ggml.model = "llama"), encoding as
 * llama.cpp's llm_tokenizer_spm does: spaces become U+2581, a dummy-prefix
 * space is added, the text is split into UTF-8 characters and the adjacent
 * pair whose concatenation is the highest-scoring vocabulary piece is merged
 * until no pair is a piece (ties: leftmost). Characters that never formed a
 * piece fall back to their <0xXX> byte pieces. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define SPACE_MARK "\xE2\x96\x81" /* U+2581, SentencePiece's visible space */
#define SPACE_MARK_LEN 3
#define MAX_VOCAB (1u << 24)
#define MAX_TEXT ((size_t)1 << 28) /* keeps symbol indices in int range */

struct pdvm_tokenizer {
    uint32_t n_vocab;
    char *blob;        /* every piece, NUL-terminated, back to back */
    uint64_t *offs;    /* piece i starts at blob + offs[i] */
    uint32_t *lens;
    float *scores;
    int32_t *types;
    int32_t *slots;    /* open-addressing piece -> id table, -1 empty */
    uint32_t slot_mask;
    int32_t byte_ids[256];
    int32_t bos, eos, unk;
    bool add_bos, add_space_prefix;
};

/* ------------------------------------------------------------ piece table */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int32_t pdvm_tokenizer_find(const pdvm_tokenizer *t, const char *piece, size_t len)
{
    for (uint32_t i = hash_bytes(piece, len) & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        int32_t id = t->slots[i];
        if (id < 0) return -1;
        if (t->lens[id] == len && memcmp(t->blob + t->offs[id], piece, len) == 0) return id;
    }
}

/* A duplicated piece maps to its last id, as llama.cpp's token_to_id does. */
static void table_insert(pdvm_tokenizer *t, int32_t id)
{
    const char *p = t->blob + t->offs[id];
    for (uint32_t i = hash_bytes(p, t->lens[id]) & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        int32_t old = t->slots[i];
        if (old < 0 || (t->lens[old] == t->lens[id] && memcmp(t->blob + t->offs[old], p,
                                                              t->lens[id]) == 0)) {
            t->slots[i] = id;
            return;
        }
    }
}

/* ------------------------------------------------------------------ load */

static pdvm_status check_model_name(const pdvm_gguf *g)
{
    gguf_str model;
    if (!pdvm_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: tokenizer.ggml.model is missing");
    if (gguf_str_eq(model, "llama")) return PDVM_OK;
    int n = model.len > 64 ? 64 : (int)model.len;
    return pdvm_fail(PDVM_ERR_UNSUPPORTED,
                     "tokenizer: tokenizer.ggml.model '%.*s' is not supported "
                     "(only 'llama', SentencePiece BPE)", n, model.ptr);
}

static pdvm_status load_pieces(const pdvm_gguf *g, pdvm_tokenizer *t)
{
    gguf_type et;
    uint64_t n;
    if (!pdvm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) || et != GGUF_TYPE_STRING)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: tokenizer.ggml.tokens is missing or "
                                          "not a string array");
    if (n == 0 || n > MAX_VOCAB)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %llu tokens (expected 1..%u)",
                         (unsigned long long)n, MAX_VOCAB);
    t->n_vocab = (uint32_t)n;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s;
        if (!pdvm_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &s) || s.len > UINT32_MAX / 2)
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: token %llu unreadable",
                             (unsigned long long)i);
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
        pdvm_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &s);
        memcpy(t->blob + at, s.ptr, s.len);
        t->blob[at + s.len] = '\0';
        t->offs[i] = at;
        t->lens[i] = (uint32_t)s.len;
        at += s.len + 1;
    }
    return PDVM_OK;
}

/* Optional numeric array of n_vocab elements of one type (scores: f32,
 * token_type: i32); absent means the llama.cpp default (0 / normal). */
static pdvm_status load_numeric(const pdvm_gguf *g, const char *key, gguf_type want,
                                uint32_t n_vocab, void *dst, bool *present)
{
    gguf_type et;
    uint64_t n;
    *present = false;
    if (pdvm_gguf_find_key(g, key) < 0) return PDVM_OK;
    if (!pdvm_gguf_get_arr(g, key, &et, &n) || et != want || n != n_vocab)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s must be an array of %u %s", key,
                         n_vocab, want == GGUF_TYPE_FLOAT32 ? "float32" : "int32");
    const void *src = pdvm_gguf_arr_data(g, key);
    if (!src) return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s has no data", key);
    memcpy(dst, src, (size_t)n_vocab * 4); /* GGUF is little-endian, like our hosts */
    *present = true;
    return PDVM_OK;
}

static pdvm_status load_scores_types(const pdvm_gguf *g, pdvm_tokenizer *t)
{
    t->scores = calloc(t->n_vocab, sizeof *t->scores);
    t->types = malloc(t->n_vocab * sizeof *t->types);
    if (!t->scores || !t->types) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: scores");
    bool present;
    PDVM_TRY(load_numeric(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, t->n_vocab, t->scores,
                          &present));
    PDVM_TRY(load_numeric(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, t->n_vocab,
                          t->types, &present));
    if (!present)
        for (uint32_t i = 0; i < t->n_vocab; i++) t->types[i] = PDVM_TOKEN_NORMAL;
    return PDVM_OK;
}

/* Special ids: absent keys keep the SentencePiece defaults; 0xFFFFFFFF
 * (what converters write for "none") means none. */
static pdvm_status load_special(const pdvm_gguf *g, const char *key, uint32_t n_vocab,
                                int32_t *id)
{
    uint32_t v;
    if (pdvm_gguf_find_key(g, key) < 0) return PDVM_OK;
    if (!pdvm_gguf_get_u32(g, key, &v))
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s is not an unsigned integer", key);
    if (v == UINT32_MAX) {
        *id = -1;
        return PDVM_OK;
    }
    if (v >= n_vocab)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s = %u is outside the vocabulary (%u)",
                         key, v, n_vocab);
    *id = (int32_t)v;
    return PDVM_OK;
}

static pdvm_status load_flags(const pdvm_gguf *g, pdvm_tokenizer *t)
{
    t->bos = t->n_vocab > 1 ? 1 : -1;
    t->eos = t->n_vocab > 2 ? 2 : -1;
    t->unk = 0;
    PDVM_TRY(load_special(g, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos));
    PDVM_TRY(load_special(g, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos));
    PDVM_TRY(load_special(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk));
    t->add_bos = true;
    t->add_space_prefix = true;
    if (pdvm_gguf_find_key(g, "tokenizer.ggml.add_bos_token") >= 0 &&
        !pdvm_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos))
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: add_bos_token is not a bool");
    if (pdvm_gguf_find_key(g, "tokenizer.ggml.add_space_prefix") >= 0 &&
        !pdvm_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix))
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: add_space_prefix is not a bool");
    if (t->add_bos && t->bos < 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: add_bos_token is set but there is no BOS");
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
    /* Byte fallback as llama.cpp's byte_to_token: "<0xXX>", else the raw byte. */
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

pdvm_status pdvm_tokenizer_load(const pdvm_gguf *g, pdvm_tokenizer **out)
{
    *out = NULL;
    PDVM_TRY(check_model_name(g));
    pdvm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer");
    pdvm_status st = load_pieces(g, t);
    if (st == PDVM_OK) st = load_scores_types(g, t);
    if (st == PDVM_OK) st = load_flags(g, t);
    if (st == PDVM_OK) st = build_table(t);
    if (st != PDVM_OK) {
        pdvm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return PDVM_OK;
}

void pdvm_tokenizer_free(pdvm_tokenizer *t)
{
    if (!t) return;
    free(t->blob);
    free(t->offs);
    free(t->lens);
    free(t->scores);
    free(t->types);
    free(t->slots);
    free(t);
}

/* ------------------------------------------------------------- accessors */

uint32_t pdvm_tokenizer_n_vocab(const pdvm_tokenizer *t) { return t->n_vocab; }
int32_t pdvm_tokenizer_bos(const pdvm_tokenizer *t) { return t->bos; }
int32_t pdvm_tokenizer_eos(const pdvm_tokenizer *t) { return t->eos; }
int32_t pdvm_tokenizer_unk(const pdvm_tokenizer *t) { return t->unk; }
bool pdvm_tokenizer_add_bos(const pdvm_tokenizer *t) { return t->add_bos; }
bool pdvm_tokenizer_add_space_prefix(const pdvm_tokenizer *t) { return t->add_space_prefix; }

const char *pdvm_tokenizer_piece(const pdvm_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab) return NULL;
    if (len) *len = t->lens[id];
    return t->blob + t->offs[id];
}

int pdvm_tokenizer_type(const pdvm_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->n_vocab) return PDVM_TOKEN_UNDEFINED;
    return t->types[id];
}

/* ---------------------------------------------------------------- encode */

typedef struct spm_symbol {
    const char *text;
    size_t n;        /* 0 once merged into its left neighbour */
    int prev, next;  /* neighbours in the live chain, -1 at the ends */
} spm_symbol;

typedef struct spm_bigram {
    int left, right;
    float score;
    size_t size; /* byte length when queued: stale entries are skipped */
} spm_bigram;

/* Max-heap of candidate merges: best score first, leftmost on ties. */
typedef struct spm_heap {
    spm_bigram *v;
    size_t n, cap;
} spm_heap;

static bool bigram_before(const spm_bigram *a, const spm_bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_heap *h, spm_bigram b)
{
    size_t i = h->n++;
    h->v[i] = b;
    while (i > 0 && bigram_before(&h->v[i], &h->v[(i - 1) / 2])) {
        spm_bigram tmp = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static spm_bigram heap_pop(spm_heap *h)
{
    spm_bigram top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < h->n && bigram_before(&h->v[l], &h->v[best])) best = l;
        if (r < h->n && bigram_before(&h->v[r], &h->v[best])) best = r;
        if (best == i) break;
        spm_bigram tmp = h->v[i];
        h->v[i] = h->v[best];
        h->v[best] = tmp;
        i = best;
    }
    return top;
}

typedef struct spm_work {
    const pdvm_tokenizer *t;
    spm_symbol *sym;
    spm_heap heap;
} spm_work;

static void try_add_bigram(spm_work *w, int left, int right)
{
    if (left < 0 || right < 0) return;
    size_t n = w->sym[left].n + w->sym[right].n;
    int32_t id = pdvm_tokenizer_find(w->t, w->sym[left].text, n);
    if (id < 0) return;
    spm_bigram b = {left, right, w->t->scores[id], n};
    heap_push(&w->heap, b);
}

static size_t utf8_len(uint8_t lead)
{
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[lead >> 4];
}

/* Spaces to U+2581, with the dummy prefix when the tokenizer asks for it. */
static char *normalize(const pdvm_tokenizer *t, const char *text, size_t len, size_t *out_len)
{
    char *buf = malloc(3 * len + SPACE_MARK_LEN + 1);
    if (!buf) return NULL;
    size_t o = 0;
    if (t->add_space_prefix) {
        memcpy(buf, SPACE_MARK, SPACE_MARK_LEN);
        o = SPACE_MARK_LEN;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + o, SPACE_MARK, SPACE_MARK_LEN);
            o += SPACE_MARK_LEN;
        } else {
            buf[o++] = text[i];
        }
    }
    *out_len = o;
    return buf;
}

static int split_chars(spm_symbol *sym, const char *s, size_t n)
{
    int count = 0;
    for (size_t off = 0; off < n; count++) {
        size_t len = utf8_len((uint8_t)s[off]);
        if (len > n - off) len = n - off;
        sym[count] = (spm_symbol){s + off, len, count - 1, off + len == n ? -1 : count + 1};
        off += len;
    }
    return count;
}

static void merge_all(spm_work *w, int n_sym)
{
    for (int i = 1; i < n_sym; i++) try_add_bigram(w, i - 1, i);
    while (w->heap.n > 0) {
        spm_bigram b = heap_pop(&w->heap);
        spm_symbol *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = b.left;
        try_add_bigram(w, l->prev, b.left);
        try_add_bigram(w, b.left, l->next);
    }
}

typedef struct id_sink {
    int32_t *out;
    size_t cap, n;
} id_sink;

static void sink_put(id_sink *k, int32_t id)
{
    if (k->n < k->cap) k->out[k->n] = id;
    k->n++;
}

static pdvm_status emit_symbol(const pdvm_tokenizer *t, const spm_symbol *s, id_sink *k)
{
    int32_t id = pdvm_tokenizer_find(t, s->text, s->n);
    if (id >= 0) {
        sink_put(k, id);
        return PDVM_OK;
    }
    for (size_t j = 0; j < s->n; j++) {
        uint8_t byte = (uint8_t)s->text[j];
        id = t->byte_ids[byte] >= 0 ? t->byte_ids[byte] : t->unk;
        if (id < 0)
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: byte 0x%02X has no <0x%02X> piece "
                                              "and there is no unknown token", byte, byte);
        sink_put(k, id);
    }
    return PDVM_OK;
}

static pdvm_status encode_text(const pdvm_tokenizer *t, const char *norm, size_t n, id_sink *k)
{
    spm_work w = {t, malloc(n * sizeof *w.sym), {malloc(3 * n * sizeof(spm_bigram)), 0, 3 * n}};
    pdvm_status st = PDVM_OK;
    if (!w.sym || !w.heap.v) {
        st = pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: %zu symbols", n);
    } else {
        int n_sym = split_chars(w.sym, norm, n);
        merge_all(&w, n_sym);
        for (int i = 0; i != -1 && st == PDVM_OK; i = w.sym[i].next)
            st = emit_symbol(t, &w.sym[i], k);
    }
    free(w.sym);
    free(w.heap.v);
    return st;
}

pdvm_status pdvm_tokenizer_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                                  bool add_bos, int32_t *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (len > MAX_TEXT)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "tokenize: text of %zu bytes is over the %zu "
                                               "byte limit", len, MAX_TEXT);
    if (add_bos && t->bos < 0)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "tokenize: the model has no BOS token");
    id_sink k = {out, cap, 0};
    if (add_bos) sink_put(&k, t->bos);
    pdvm_status st = PDVM_OK;
    /* SentencePiece encodes "" as nothing, not as a lone dummy prefix. */
    if (len > 0) {
        size_t n;
        char *norm = normalize(t, text, len, &n);
        if (!norm) return pdvm_fail(PDVM_ERR_NOMEM, "tokenize: %zu bytes", len);
        st = encode_text(t, norm, n, &k);
        free(norm);
    }
    *n_out = k.n;
    if (st == PDVM_OK && k.n > cap)
        st = pdvm_fail(PDVM_ERR_INVALID_ARG, "tokenize: %zu tokens do not fit in %zu", k.n, cap);
    return st;
}
