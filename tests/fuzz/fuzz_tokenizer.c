/* libFuzzer target: tokenize + detokenize any bytes with every vocabulary
 * of $PDVM_FUZZ_VOCAB_DIR (default ../shared/models/vocab). The first input
 * byte picks the vocabulary and the flags, the rest is the text. Checked:
 * no crash or sanitizer report; the count-first call and the filling call
 * agree; every id is in the vocabulary; pieces report their length when
 * the buffer is short; the streaming detokenizer emits valid UTF-8 only,
 * and exactly the pieces' text when that text is valid UTF-8; byte-level
 * BPE whose every merge forms a piece gives valid UTF-8 input back byte
 * for byte (control tokens rendered, none parsed, no BOS/EOS). Build and
 * run: make fuzz-tok. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "pdvm.h"
#include "tokenizer.h"
#include "tokenizer_impl.h"

#define MAX_VOCABS 32

typedef struct vocabs {
    pdvm_model *m[MAX_VOCABS];
    bool lossless[MAX_VOCABS]; /* byte-level BPE whose merges all give pieces */
    size_t n;
} vocabs;

static vocabs V; /* loaded once per fuzzing process */

/* Byte-level BPE loses nothing when every byte is a piece and every merge
 * forms one (starcoder's do not: llama.cpp drops bytes there too). */
static bool lossless(const pdvm_gguf *g, const pdvm_tokenizer *t)
{
    if (!pdvm_tokenizer_is_bpe(t)) return false;
    for (int b = 0; b < 256; b++) {
        char u[4];
        if (pdvm_tokenizer_find(t, u, pdvm_utf8_encode(pdvm_byte_to_cp((uint8_t)b), u)) < 0)
            return false;
    }
    gguf_type et;
    uint64_t n;
    if (!pdvm_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &n)) return false;
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s;
        char joined[512];
        if (!pdvm_gguf_arr_str(g, "tokenizer.ggml.merges", i, &s) || s.len < 3 ||
            s.len > sizeof joined)
            return false;
        const char *sp = memchr(s.ptr + 1, ' ', s.len - 1);
        if (!sp) return false;
        size_t a = (size_t)(sp - s.ptr);
        memcpy(joined, s.ptr, a);
        memcpy(joined + a, sp + 1, s.len - a - 1);
        if (pdvm_tokenizer_find(t, joined, s.len - 1) < 0) return false;
    }
    return true;
}

static void load_one(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open(path, &g) != PDVM_OK) return;
    pdvm_model *m = calloc(1, sizeof *m);
    if (m && pdvm_tokenizer_load(g, &m->tok) == PDVM_OK) {
        V.lossless[V.n] = lossless(g, m->tok);
        fprintf(stderr, "fuzz_tokenizer: %s%s\n", name,
                V.lossless[V.n] ? " (round trips checked)" : "");
        V.m[V.n++] = m;
    } else {
        free(m);
    }
    pdvm_gguf_close(g);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted by name, so that a saved input picks the same vocabulary again. */
static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz_tokenizer: cannot list %s\n", dir);
        abort();
    }
    char *names[MAX_VOCABS];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < MAX_VOCABS;) {
        size_t k = strlen(e->d_name);
        if (k >= 5 && strcmp(e->d_name + k - 5, ".gguf") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        load_one(dir, names[i]);
        free(names[i]);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("PDVM_FUZZ_VOCAB_DIR");
    load_dir(dir && *dir ? dir : "../shared/models/vocab");
    if (V.n == 0) {
        fprintf(stderr, "fuzz_tokenizer: no vocabulary loaded\n");
        abort();
    }
    return 0;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", what);
        abort();
    }
}

static bool valid_utf8(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t b = (uint8_t)p[i];
        size_t k = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3
                 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        if (k == 0 || i + k > n) return false;
        uint32_t cp = k == 1 ? b : b & (0x7Fu >> k);
        for (size_t j = 1; j < k; j++) {
            if (((uint8_t)p[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | ((uint8_t)p[i + j] & 0x3Fu);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void append(buf *b, const char *p, size_t n)
{
    if (n == 0) return;
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n) + 64;
        b->p = realloc(b->p, b->cap);
        check(b->p != NULL, "out of memory");
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* The pieces, as the detokenizer should print them (dummy-prefix space of
 * the first piece that prints anything dropped). */
static void pieces(const pdvm_model *m, const int32_t *ids, size_t n, bool special, buf *out)
{
    char small[8];
    bool first = pdvm_tokenizer_add_space_prefix(m->tok);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        pdvm_status st = pdvm_token_to_piece(m, ids[i], special, small, sizeof small, &len);
        char *p = malloc(len + 1);
        check(p != NULL, "out of memory");
        size_t again = 0;
        check(pdvm_token_to_piece(m, ids[i], special, p, len, &again) == PDVM_OK && again == len,
              "token_to_piece with the reported length");
        check(st == (len > sizeof small ? PDVM_ERR_INVALID_ARG : PDVM_OK), "short buffer status");
        size_t skip = first && len > 0 && p[0] == ' ';
        if (len > 0) first = false;
        append(out, p + skip, len - skip);
        free(p);
    }
}

static void detokenize(const pdvm_model *m, const int32_t *ids, size_t n, bool special, buf *out)
{
    pdvm_detok *d = NULL;
    const char *text;
    size_t len;
    check(pdvm_detok_create(m, special, &d) == PDVM_OK, "detok_create");
    for (size_t i = 0; i < n; i++) {
        check(pdvm_detok_push(d, ids[i], &text, &len) == PDVM_OK, "detok_push");
        append(out, text, len);
    }
    check(pdvm_detok_flush(d, &text, &len) == PDVM_OK, "detok_flush");
    append(out, text, len);
    pdvm_detok_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const pdvm_model *m = V.m[data[0] % V.n];
    bool check_round_trip = V.lossless[data[0] % V.n];
    unsigned flags = data[0] / V.n;
    bool add = flags & 1, parse = flags & 2, special = flags & 4;
    const char *text = (const char *)data + 1;
    size_t len = size - 1, n = 0, again = 0;
    pdvm_status st = pdvm_tokenize(m, text, len, add, parse, NULL, 0, &n);
    check(st == PDVM_OK || (st == PDVM_ERR_INVALID_ARG && n > 0), "count");
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    check(ids != NULL, "out of memory");
    check(pdvm_tokenize(m, text, len, add, parse, ids, n, &again) == PDVM_OK && again == n,
          "tokenize with the counted room");
    uint32_t n_vocab = pdvm_tokenizer_n_vocab(m->tok);
    for (size_t i = 0; i < n; i++) check(ids[i] >= 0 && (uint32_t)ids[i] < n_vocab, "id range");
    buf want = {0}, got = {0};
    pieces(m, ids, n, special, &want);
    detokenize(m, ids, n, special, &got);
    check(valid_utf8(got.p, got.n), "detokenizer output is valid UTF-8");
    if (valid_utf8(want.p, want.n))
        check(got.n == want.n && (got.n == 0 || memcmp(got.p, want.p, got.n) == 0),
              "detokenizer = pieces");
    if (check_round_trip && special && !add && !parse && valid_utf8(text, len))
        check(want.n == len && (len == 0 || memcmp(want.p, text, len) == 0),
              "byte-level BPE round trip");
    free(want.p);
    free(got.p);
    free(ids);
    return 0;
}
