/* Special-token text in the input becomes those tokens, with the result of
 * llama.cpp's tokenizer_st_partition: for each special token, longest text
 * first, its leftmost occurrence in each remaining text fragment is split
 * out, then the search goes on right of it. Instead of rescanning the
 * fragments once per special token, every occurrence of every special
 * text is found in one pass (a special text starts with one of few bytes),
 * then claimed in that order on a per-byte state map. Whitespace next to a
 * token with the left/right-strip attribute is dropped, as C's isspace
 * counts it. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_impl.h"

enum { RAW = 0, TAKEN = 1, DROPPED = 2 };

typedef struct occurrence {
    int32_t rank; /* index in t->special: claiming order */
    size_t pos;
} occurrence;

typedef struct occ_list {
    occurrence *v;
    size_t n, cap;
} occ_list;

static bool occ_push(occ_list *l, int32_t rank, size_t pos)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        occurrence *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (occurrence){rank, pos};
    return true;
}

static int by_rank_then_pos(const void *a, const void *b)
{
    const occurrence *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int by_pos(const void *a, const void *b)
{
    const occurrence *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool usable(const pdvm_tokenizer *t, int32_t id, bool parse_special)
{
    return parse_special || !(t->attrs[id] & (PDVM_ATTR_CONTROL | PDVM_ATTR_UNKNOWN));
}

/* Every (token, position) where a usable special text occurs. */
static pdvm_status find_all(const pdvm_tokenizer *t, const char *text, size_t len,
                            bool parse_special, occ_list *out)
{
    for (size_t p = 0; p < len; p++) {
        uint8_t b = (uint8_t)text[p];
        if (!(t->special_first[b >> 3] & (1u << (b & 7)))) continue;
        size_t max = len - p < t->special_max_len ? len - p : t->special_max_len;
        uint32_t h = 2166136261u; /* pdvm_tok_hash, one byte at a time */
        for (size_t n = 1; n <= max; n++) {
            h = (h ^ (uint8_t)text[p + n - 1]) * 16777619u;
            if (!t->special_lens[n]) continue;
            int32_t id = pdvm_tokenizer_find_hashed(t, text + p, n, h);
            if (id < 0 || t->special_rank[id] < 0 || !usable(t, id, parse_special)) continue;
            if (!occ_push(out, t->special_rank[id], p))
                return pdvm_fail(PDVM_ERR_NOMEM, "tokenize: special-token matches");
        }
    }
    return PDVM_OK;
}

static bool is_c_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool all_raw(const uint8_t *state, size_t pos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (state[pos + i] != RAW) return false;
    return true;
}

/* Claim the occurrences of one token (v[0..n), ascending positions);
 * claimed starts are appended to taken. Returns the new taken count. */
static size_t claim(const pdvm_tokenizer *t, const char *text, size_t len, uint8_t *state,
                    const occurrence *v, size_t n, occurrence *taken, size_t n_taken)
{
    int32_t id = t->special[v[0].rank];
    size_t tl = t->lens[id], next = 0;
    for (size_t i = 0; i < n; i++) {
        size_t p = v[i].pos;
        if (p < next || !all_raw(state, p, tl)) continue;
        memset(state + p, TAKEN, tl);
        taken[n_taken++] = v[i];
        next = p + tl;
        if (t->attrs[id] & PDVM_ATTR_LSTRIP)
            for (size_t q = p; q > 0 && state[q - 1] == RAW && is_c_space(text[q - 1]); q--)
                state[q - 1] = DROPPED;
        if (t->attrs[id] & PDVM_ATTR_RSTRIP)
            for (; next < len && state[next] == RAW && is_c_space(text[next]); next++)
                state[next] = DROPPED;
    }
    return n_taken;
}

static void frag_push(pdvm_fragment *f, size_t *n, size_t start, size_t len, int32_t id)
{
    f[(*n)++] = (pdvm_fragment){start, len, id};
}

/* Raw runs are text fragments; claimed starts (taken, by position) are tokens. */
static size_t build_fragments(const pdvm_tokenizer *t, const uint8_t *state, size_t len,
                              const occurrence *taken, size_t n_taken, pdvm_fragment *f)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < len;) {
        if (k < n_taken && taken[k].pos == i) {
            int32_t id = t->special[taken[k++].rank];
            frag_push(f, &n, i, t->lens[id], id);
            i += t->lens[id];
        } else if (state[i] == RAW) {
            size_t j = i;
            while (j < len && state[j] == RAW) j++;
            frag_push(f, &n, i, j - i, -1);
            i = j;
        } else {
            i++; /* dropped whitespace */
        }
    }
    return n;
}

static pdvm_status partition(const pdvm_tokenizer *t, const char *text, size_t len,
                             occ_list *occ, pdvm_fragment **out, size_t *n_out)
{
    uint8_t *state = calloc(len, 1);
    occurrence *taken = malloc(occ->n * sizeof *taken);
    /* Fragments alternate at worst: one text run before each token, one after the last. */
    *out = malloc((2 * occ->n + 1) * sizeof **out);
    if (!state || !taken || !*out) {
        free(state);
        free(taken);
        free(*out);
        *out = NULL;
        return pdvm_fail(PDVM_ERR_NOMEM, "tokenize: %zu bytes of special-token state", len);
    }
    qsort(occ->v, occ->n, sizeof *occ->v, by_rank_then_pos);
    size_t n_taken = 0;
    for (size_t i = 0, j; i < occ->n; i = j) {
        for (j = i; j < occ->n && occ->v[j].rank == occ->v[i].rank; j++) {}
        n_taken = claim(t, text, len, state, occ->v + i, j - i, taken, n_taken);
    }
    qsort(taken, n_taken, sizeof *taken, by_pos);
    *n_out = build_fragments(t, state, len, taken, n_taken, *out);
    free(state);
    free(taken);
    return PDVM_OK;
}

pdvm_status pdvm_special_partition(const pdvm_tokenizer *t, const char *text, size_t len,
                                   bool parse_special, pdvm_fragment **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (len == 0) return PDVM_OK;
    occ_list occ = {0};
    pdvm_status st = find_all(t, text, len, parse_special, &occ);
    if (st == PDVM_OK && occ.n == 0) {
        *out = malloc(sizeof **out);
        if (!*out) st = pdvm_fail(PDVM_ERR_NOMEM, "tokenize: fragments");
        else frag_push(*out, n_out, 0, len, -1);
    } else if (st == PDVM_OK) {
        st = partition(t, text, len, &occ, out, n_out);
    }
    free(occ.v);
    return st;
}
