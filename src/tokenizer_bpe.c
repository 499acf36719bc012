/* Byte-level BPE (tokenizer.ggml.model = "gpt2"; Radford et al. 2019,
 * Sennrich et al. 2016), one text fragment at a time as llama.cpp's
 * llm_tokenizer_bpe_session: the text is decoded leniently (invalid bytes
 * become U+FFFD), split into words by the pre-tokenizer, each word's bytes
 * are mapped to GPT-2's printable code points, and the adjacent pair with
 * the lowest rank in tokenizer.ggml.merges is merged until no ranked pair
 * is left (ties: leftmost). A final symbol that is not a piece falls back
 * to the one-byte pieces of its bytes (those that exist). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_impl.h"

#define MERGES_KEY "tokenizer.ggml.merges"

/* Merges "first second", ranked by position; (first, second) -> rank. */
struct pdvm_bpe {
    char *blob;
    uint64_t *offs;     /* merge i at blob + offs[i] */
    uint32_t *first_len, *second_len;
    uint32_t n;
    int32_t *slots;     /* open addressing, -1 empty */
    uint32_t mask;
};

/* Hash of first + ' ' + second: the merge text as stored when it has one space. */
static uint32_t pair_hash(const char *a, size_t na, const char *b, size_t nb)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < na; i++) h = (h ^ (uint8_t)a[i]) * 16777619u;
    h = (h ^ (uint8_t)' ') * 16777619u;
    for (size_t i = 0; i < nb; i++) h = (h ^ (uint8_t)b[i]) * 16777619u;
    return h;
}

static bool pair_is(const pdvm_bpe *m, int32_t r, const char *a, size_t na, const char *b,
                    size_t nb)
{
    const char *p = m->blob + m->offs[r];
    return m->first_len[r] == na && m->second_len[r] == nb && memcmp(p, a, na) == 0 &&
           memcmp(p + na + 1, b, nb) == 0;
}

/* Rank of the merge (a, b), -1 when there is none. */
static int32_t merge_rank(const pdvm_bpe *m, const char *a, size_t na, const char *b, size_t nb)
{
    for (uint32_t i = pair_hash(a, na, b, nb) & m->mask;; i = (i + 1) & m->mask) {
        int32_t r = m->slots[i];
        if (r < 0 || pair_is(m, r, a, na, b, nb)) return r;
    }
}

/* A repeated pair keeps its first rank (llama.cpp's map emplace). */
static void insert(pdvm_bpe *m, int32_t r)
{
    const char *p = m->blob + m->offs[r];
    const char *b = p + m->first_len[r] + 1;
    for (uint32_t i = pair_hash(p, m->first_len[r], b, m->second_len[r]) & m->mask;;
         i = (i + 1) & m->mask) {
        int32_t old = m->slots[i];
        if (old >= 0 && pair_is(m, old, p, m->first_len[r], b, m->second_len[r])) return;
        if (old < 0) {
            m->slots[i] = r;
            return;
        }
    }
}

static pdvm_status alloc_merges(pdvm_bpe *m, uint64_t total)
{
    uint32_t cap = 16;
    while (cap < 2 * m->n) cap *= 2;
    m->blob = malloc(total + 1);
    m->offs = malloc((size_t)m->n * sizeof *m->offs);
    m->first_len = malloc((size_t)m->n * sizeof *m->first_len);
    m->second_len = malloc((size_t)m->n * sizeof *m->second_len);
    m->slots = malloc((size_t)cap * sizeof *m->slots);
    if (!m->blob || !m->offs || !m->first_len || !m->second_len || !m->slots)
        return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: %u merges", m->n);
    memset(m->slots, 0xff, (size_t)cap * sizeof *m->slots);
    m->mask = cap - 1;
    return PDVM_OK;
}

/* llama.cpp splits a merge at its first space after the first byte; one
 * with no such space is the pair ("", ""), which no symbol ever forms. */
static void store_merge(pdvm_bpe *m, uint32_t r, gguf_str s, uint64_t *at)
{
    const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
    m->offs[r] = *at;
    if (!sp) {
        m->first_len[r] = m->second_len[r] = 0;
        m->blob[(*at)++] = ' ';
        return;
    }
    memcpy(m->blob + *at, s.ptr, s.len);
    m->first_len[r] = (uint32_t)(sp - s.ptr);
    m->second_len[r] = (uint32_t)(s.len - m->first_len[r] - 1);
    *at += s.len;
    if (m->first_len[r] > 0) insert(m, (int32_t)r);
}

static pdvm_status read_merges(const pdvm_gguf *g, pdvm_bpe *m)
{
    gguf_type et;
    uint64_t n, total = 0;
    int64_t key = pdvm_gguf_find_key(g, MERGES_KEY);
    if (key < 0)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s is missing (byte-level BPE needs it)",
                         MERGES_KEY);
    if (!pdvm_gguf_get_arr(g, MERGES_KEY, &et, &n) || et != GGUF_TYPE_STRING || n > INT32_MAX)
        return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: %s is not a string array", MERGES_KEY);
    m->n = (uint32_t)n;
    for (uint64_t i = 0; i < n; i++) {
        gguf_value v;
        pdvm_gguf_kv_item(g, (uint64_t)key, i, &v);
        if (v.v.s.len > UINT32_MAX / 2)
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: merge %llu is too long",
                             (unsigned long long)i);
        total += v.v.s.len + 1;
    }
    PDVM_TRY(alloc_merges(m, total));
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        gguf_value v;
        pdvm_gguf_kv_item(g, (uint64_t)key, i, &v);
        store_merge(m, (uint32_t)i, v.v.s, &at);
    }
    return PDVM_OK;
}

pdvm_status pdvm_bpe_load(const pdvm_gguf *g, pdvm_bpe **out)
{
    *out = NULL;
    pdvm_bpe *m = calloc(1, sizeof *m);
    if (!m) return pdvm_fail(PDVM_ERR_NOMEM, "tokenizer: merges");
    pdvm_status st = read_merges(g, m);
    if (st != PDVM_OK) {
        pdvm_bpe_free(m);
        return st;
    }
    *out = m;
    return PDVM_OK;
}

void pdvm_bpe_free(pdvm_bpe *b)
{
    if (!b) return;
    free(b->blob);
    free(b->offs);
    free(b->first_len);
    free(b->second_len);
    free(b->slots);
    free(b);
}

/* ------------------------------------------------------------- encode */

typedef struct bpe_symbol {
    uint32_t start, n; /* bytes of the encoded word; n == 0 once merged away */
    int prev, next;
} bpe_symbol;

typedef struct bpe_bigram {
    int left, right;
    int32_t rank;
    uint32_t size;
} bpe_bigram;

/* The work of one fragment, reused from word to word. */
typedef struct bpe_work {
    const pdvm_tokenizer *t;
    char *word;          /* the current word, byte-level encoded */
    size_t word_cap;
    bpe_symbol *sym;
    size_t sym_cap;
    bpe_bigram *heap;    /* min-heap: lowest rank, then leftmost */
    size_t n_heap, heap_cap;
} bpe_work;

static bool bigram_before(const bpe_bigram *a, const bpe_bigram *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_work *w, bpe_bigram b)
{
    size_t i = w->n_heap++;
    w->heap[i] = b;
    while (i > 0 && bigram_before(&w->heap[i], &w->heap[(i - 1) / 2])) {
        bpe_bigram tmp = w->heap[i];
        w->heap[i] = w->heap[(i - 1) / 2];
        w->heap[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static bpe_bigram heap_pop(bpe_work *w)
{
    bpe_bigram top = w->heap[0];
    w->heap[0] = w->heap[--w->n_heap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < w->n_heap && bigram_before(&w->heap[l], &w->heap[best])) best = l;
        if (r < w->n_heap && bigram_before(&w->heap[r], &w->heap[best])) best = r;
        if (best == i) break;
        bpe_bigram tmp = w->heap[i];
        w->heap[i] = w->heap[best];
        w->heap[best] = tmp;
        i = best;
    }
    return top;
}

/* Room for a word of n input bytes: 2 encoded bytes and 3 queue entries per byte. */
static pdvm_status reserve(bpe_work *w, size_t n)
{
    if (n <= w->sym_cap) return PDVM_OK;
    size_t cap = n < 64 ? 64 : n;
    char *word = realloc(w->word, 2 * cap);
    if (word) w->word = word;
    bpe_symbol *sym = realloc(w->sym, cap * sizeof *sym);
    if (sym) w->sym = sym;
    bpe_bigram *heap = realloc(w->heap, 3 * cap * sizeof *heap);
    if (heap) w->heap = heap;
    if (!word || !sym || !heap)
        return pdvm_fail(PDVM_ERR_NOMEM, "tokenize: a word of %zu bytes", n);
    w->word_cap = 2 * cap;
    w->sym_cap = cap;
    w->heap_cap = 3 * cap;
    return PDVM_OK;
}

static void add_bigram(bpe_work *w, int left, int right)
{
    if (left < 0 || right < 0) return;
    const pdvm_bpe *m = w->t->bpe;
    const bpe_symbol *l = &w->sym[left], *r = &w->sym[right];
    int32_t rank = merge_rank(m, w->word + l->start, l->n, w->word + r->start, r->n);
    if (rank >= 0) heap_push(w, (bpe_bigram){left, right, rank, l->n + r->n});
}

/* Byte-level code points of the word's bytes; returns the encoded length. */
static size_t encode_word(bpe_work *w, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += pdvm_utf8_encode(pdvm_byte_to_cp((uint8_t)s[i]), w->word + o);
    return o;
}

/* Symbols are the encoded characters (1 or 2 bytes each). */
static int split_symbols(bpe_work *w, size_t len)
{
    int count = 0;
    for (uint32_t at = 0; at < len; count++) {
        uint32_t n = (uint8_t)w->word[at] < 0x80 ? 1 : 2;
        w->sym[count] = (bpe_symbol){at, n, count - 1, at + n == len ? -1 : count + 1};
        at += n;
    }
    return count;
}

static void merge_all(bpe_work *w, int n_sym)
{
    w->n_heap = 0;
    for (int i = 1; i < n_sym; i++) add_bigram(w, i - 1, i);
    while (w->n_heap > 0) {
        bpe_bigram b = heap_pop(w);
        bpe_symbol *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = b.left;
        add_bigram(w, l->prev, b.left);
        add_bigram(w, b.left, l->next);
    }
}

static void emit(const pdvm_tokenizer *t, const char *s, size_t n, pdvm_id_sink *k)
{
    int32_t id = pdvm_tokenizer_find(t, s, n);
    if (id >= 0) {
        pdvm_sink_put(k, id);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        id = pdvm_tokenizer_find(t, s + i, 1);
        if (id >= 0) pdvm_sink_put(k, id);
    }
}

static pdvm_status encode_one(bpe_work *w, const char *s, size_t n, pdvm_id_sink *k)
{
    PDVM_TRY(reserve(w, n));
    size_t len = encode_word(w, s, n);
    if (w->t->ignore_merges && pdvm_tokenizer_find(w->t, w->word, len) >= 0) {
        emit(w->t, w->word, len, k);
        return PDVM_OK;
    }
    int n_sym = split_symbols(w, len);
    merge_all(w, n_sym);
    for (int i = 0; i != -1; i = w->sym[i].next)
        emit(w->t, w->word + w->sym[i].start, w->sym[i].n, k);
    return PDVM_OK;
}

pdvm_status pdvm_bpe_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                            pdvm_id_sink *k)
{
    char *canon = NULL, *match = NULL;
    size_t n = 0, n_words = 0;
    pdvm_span *words = NULL;
    PDVM_TRY(pdvm_utf8_canonical(text, len, &canon, &match, &n));
    pdvm_status st = pdvm_pretok_split(t->pretok, match, n, &words, &n_words);
    bpe_work w = {.t = t};
    for (size_t i = 0; i < n_words && st == PDVM_OK; i++)
        st = encode_one(&w, canon + words[i].start, words[i].len, k);
    free(w.word);
    free(w.sym);
    free(w.heap);
    free(words);
    free(canon);
    free(match);
    return st;
}
