/* SentencePiece BPE (tokenizer.ggml.model = "llama"), encoding one text
 * fragment as llama.cpp's llm_tokenizer_spm_session does: spaces become
 * U+2581 (with one more in front when asked), the text is split into UTF-8
 * characters by their lead byte alone, and the adjacent pair whose
 * concatenation is the highest-scoring vocabulary piece is merged until no
 * pair is a piece (ties: leftmost). Characters that never formed a piece
 * fall back to their <0xXX> byte pieces, so any bytes encode. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_impl.h"

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

/* Each merge queues at most two candidates and the start at most one per
 * symbol, so the heap never holds more than 3 entries per symbol. */
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

/* Spaces to U+2581, with a leading one when space_prefix. */
static char *escape_spaces(const char *text, size_t len, bool space_prefix, size_t *out_len)
{
    char *buf = malloc(3 * len + PDVM_SPACE_MARK_LEN + 1);
    if (!buf) return NULL;
    size_t o = 0;
    if (space_prefix) {
        memcpy(buf, PDVM_SPACE_MARK, PDVM_SPACE_MARK_LEN);
        o = PDVM_SPACE_MARK_LEN;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + o, PDVM_SPACE_MARK, PDVM_SPACE_MARK_LEN);
            o += PDVM_SPACE_MARK_LEN;
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

/* A merged symbol is always a piece; a lone character may not be. */
static pdvm_status emit_symbol(const pdvm_tokenizer *t, const spm_symbol *s, pdvm_id_sink *k)
{
    int32_t id = pdvm_tokenizer_find(t, s->text, s->n);
    if (id >= 0) {
        pdvm_sink_put(k, id);
        return PDVM_OK;
    }
    for (size_t j = 0; j < s->n; j++) {
        uint8_t byte = (uint8_t)s->text[j];
        id = t->byte_ids[byte] >= 0 ? t->byte_ids[byte] : t->unk;
        if (id < 0)
            return pdvm_fail(PDVM_ERR_FORMAT, "tokenizer: byte 0x%02X has no <0x%02X> piece "
                                              "and there is no unknown token", byte, byte);
        pdvm_sink_put(k, id);
    }
    return PDVM_OK;
}

pdvm_status pdvm_spm_encode(const pdvm_tokenizer *t, const char *text, size_t len,
                            bool space_prefix, pdvm_id_sink *k)
{
    size_t n = 0;
    char *norm = escape_spaces(text, len, space_prefix, &n);
    spm_work w = {t, malloc((n + 1) * sizeof *w.sym), {malloc((3 * n + 1) * sizeof(spm_bigram)),
                                                        0, 3 * n + 1}};
    pdvm_status st = PDVM_OK;
    if (!norm || !w.sym || !w.heap.v) {
        st = pdvm_fail(PDVM_ERR_NOMEM, "tokenize: %zu bytes of text", len);
    } else if (n > 0) {
        int n_sym = split_chars(w.sym, norm, n);
        merge_all(&w, n_sym);
        for (int i = 0; i != -1 && st == PDVM_OK; i = w.sym[i].next)
            st = emit_symbol(t, &w.sym[i], k);
    }
    free(norm);
    free(w.sym);
    free(w.heap.v);
    return st;
}
