/* SentencePiece BPE tokenizer and streaming detokenizer: the known ids of
 * stories260K, round trips, merge order (best score first, leftmost on
 * ties) on a hand-made vocabulary, byte fallback, held-back UTF-8 and the
 * rejection of other tokenizer models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "model.h"
#include "pdvm.h"
#include "test_util.h"
#include "tokenizer.h"

/* ------------------------------------------------ a tiny in-memory GGUF */

typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
} gbuf;

static void put(gbuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(gbuf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void kv_str(gbuf *b, const char *key, const char *val)
{
    put_str(b, key);
    put_u32(b, GGUF_TYPE_STRING);
    put_str(b, val);
}

static void kv_bool(gbuf *b, const char *key, bool v)
{
    uint8_t x = v;
    put_str(b, key);
    put_u32(b, GGUF_TYPE_BOOL);
    put(b, &x, 1);
}

typedef struct tiny_piece {
    const char *text;
    float score;
    int32_t type;
} tiny_piece;

#define SP "\xE2\x96\x81"
/* Scores chosen so that best-first and leftmost-first merging disagree on
 * "abc" (bc beats ab) and tie on "xyz" (xy and yz equal). */
static const tiny_piece tiny_vocab[] = {
    {"<unk>", 0, 2}, {"<s>", 0, 3},     {"</s>", 0, 3},    {SP, -5, 1},      {"a", -5, 1},
    {"b", -5, 1},    {"c", -5, 1},      {"ab", -1, 1},     {"bc", -0.5f, 1}, {"x", -5, 1},
    {"y", -5, 1},    {"z", -5, 1},      {"xy", -1, 1},     {"yz", -1, 1},    {"<0xC3>", 0, 6},
    {"<0xA9>", 0, 6}, {SP "a", -2, 1},
};
#define TINY_N (sizeof tiny_vocab / sizeof tiny_vocab[0])

static pdvm_gguf *tiny_gguf(const char *model, bool space_prefix, gbuf *b)
{
    *b = (gbuf){0};
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, 0); /* tensors */
    put_u64(b, 5); /* kvs */
    kv_str(b, "tokenizer.ggml.model", model);
    kv_bool(b, "tokenizer.ggml.add_space_prefix", space_prefix);
    put_str(b, "tokenizer.ggml.tokens");
    put_u32(b, GGUF_TYPE_ARRAY);
    put_u32(b, GGUF_TYPE_STRING);
    put_u64(b, TINY_N);
    for (size_t i = 0; i < TINY_N; i++) put_str(b, tiny_vocab[i].text);
    put_str(b, "tokenizer.ggml.scores");
    put_u32(b, GGUF_TYPE_ARRAY);
    put_u32(b, GGUF_TYPE_FLOAT32);
    put_u64(b, TINY_N);
    for (size_t i = 0; i < TINY_N; i++) put(b, &tiny_vocab[i].score, 4);
    put_str(b, "tokenizer.ggml.token_type");
    put_u32(b, GGUF_TYPE_ARRAY);
    put_u32(b, GGUF_TYPE_INT32);
    put_u64(b, TINY_N);
    for (size_t i = 0; i < TINY_N; i++) put(b, &tiny_vocab[i].type, 4);
    while (b->n % 32) put(b, "", 1);
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open_memory(b->p, b->n, &g) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return g;
}

static pdvm_tokenizer *tiny_tokenizer(bool space_prefix)
{
    gbuf b;
    pdvm_gguf *g = tiny_gguf("llama", space_prefix, &b);
    pdvm_tokenizer *t = NULL;
    pdvm_status st = pdvm_tokenizer_load(g, &t);
    pdvm_gguf_close(g);
    free(b.p); /* the tokenizer must not keep pointers into the file */
    if (st != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return t;
}

static void expect_ids(const pdvm_tokenizer *t, const char *text, bool bos, const int32_t *want,
                       size_t n_want)
{
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(pdvm_tokenizer_encode(t, text, strlen(text), bos, ids, 64, &n), PDVM_OK);
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
}

static void test_tiny_best_score_first(void **state)
{
    (void)state;
    pdvm_tokenizer *t = tiny_tokenizer(false);
    expect_ids(t, "abc", false, (const int32_t[]){4, 8}, 2);  /* a + bc, not ab + c */
    expect_ids(t, "xyz", false, (const int32_t[]){12, 11}, 2); /* tie: leftmost xy + z */
    expect_ids(t, "abc", true, (const int32_t[]){1, 4, 8}, 3);
    pdvm_tokenizer_free(t);
}

static void test_tiny_space_prefix_and_bytes(void **state)
{
    (void)state;
    pdvm_tokenizer *t = tiny_tokenizer(true);
    expect_ids(t, "a b", false, (const int32_t[]){16, 3, 5}, 3);
    /* é = C3 A9 has no piece: its bytes' pieces. ü = C3 BC: 0xBC has no
     * byte piece, so it becomes <unk>. */
    expect_ids(t, "\xC3\xA9", false, (const int32_t[]){3, 14, 15}, 3);
    expect_ids(t, "\xC3\xBC", false, (const int32_t[]){3, 14, 0}, 3);
    expect_ids(t, "", true, (const int32_t[]){1}, 1);
    expect_ids(t, "", false, NULL, 0);
    assert_int_equal(pdvm_tokenizer_find(t, "bc", 2), 8);
    assert_int_equal(pdvm_tokenizer_find(t, "cb", 2), -1);
    pdvm_tokenizer_free(t);
}

static void test_rejects_gpt2(void **state)
{
    (void)state;
    gbuf b;
    pdvm_gguf *g = tiny_gguf("gpt2", true, &b);
    pdvm_tokenizer *t = (pdvm_tokenizer *)&b; /* must be reset to NULL */
    assert_int_equal(pdvm_tokenizer_load(g, &t), PDVM_ERR_UNSUPPORTED);
    assert_null(t);
    assert_non_null(strstr(pdvm_last_error(), "gpt2"));
    pdvm_gguf_close(g);
    free(b.p);
}

/* --------------------------------------------------------- stories260K */

static int open_model(void **state)
{
    char path[TEST_PATH_MAX];
    if (!test_model_available("stories260K.gguf")) {
        *state = NULL;
        return 0;
    }
    snprintf(path, sizeof path, "%s/stories260K.gguf", test_models_dir());
    pdvm_model *m = NULL;
    if (pdvm_model_open(path, &m) != PDVM_OK) {
        print_error("cannot open %s: %s\n", path, pdvm_last_error());
        return -1;
    }
    *state = m;
    return 0;
}

static int close_model(void **state)
{
    pdvm_model_close(*state);
    return 0;
}

/* The model from the group setup, or skip/fail when the file is missing. */
static pdvm_model *model_of(void **state)
{
    if (!*state) {
        char path[TEST_PATH_MAX];
        test_model_path("stories260K.gguf", path, sizeof path); /* skips or fails */
    }
    return *state;
}

static void test_known_ids(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t ids[16];
    size_t n = 0;
    assert_int_equal(pdvm_tokenize(m, "Once upon a time", true, ids, 16, &n), PDVM_OK);
    const int32_t want[] = {1, 403, 407, 261, 378};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(pdvm_token_bos(m), 1);
    assert_int_equal(pdvm_token_eos(m), 2);
}

static void test_cap_too_small_reports_count(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t ids[3] = {-7, -7, -7};
    size_t n = 0;
    assert_int_equal(pdvm_tokenize(m, "Once upon a time", true, ids, 2, &n),
                     PDVM_ERR_INVALID_ARG);
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 403);
    assert_int_equal(ids[2], -7); /* nothing written past cap */
}

/* decode(ids) through the streaming detokenizer, into out. */
static void detokenize(const pdvm_model *m, const int32_t *ids, size_t n, char *out, size_t cap)
{
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, &d), PDVM_OK);
    size_t at = 0, len;
    char buf[128];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(pdvm_detok_push(d, ids[i], buf, sizeof buf, &len), PDVM_OK);
        assert_true(at + len < cap);
        memcpy(out + at, buf, len);
        at += len;
    }
    assert_int_equal(pdvm_detok_flush(d, buf, sizeof buf, &len), PDVM_OK);
    assert_true(at + len < cap);
    memcpy(out + at, buf, len);
    out[at + len] = '\0';
    pdvm_detok_free(d);
}

static void test_round_trips(void **state)
{
    pdvm_model *m = model_of(state);
    static const char *const texts[] = {
        "Once upon a time, there was a little girl named Lily.",
        "Hello, World! 123 + 456 = 579?",
        ("caf\xC3\xA9 na\xC3\xAFve \xC3\xBC" "ber \xE2\x82\xAC 5"), /* 2- and 3-byte */
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",                         /* CJK */
        "party \xF0\x9F\x8E\x89 unicorn \xF0\x9F\xA6\x84!",             /* emoji */
        "a  b   c    d", "  leading", "trailing   ", " ", "line\nbreak\ttab", "",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        for (int bos = 0; bos <= 1; bos++) {
            int32_t ids[256];
            size_t n = 0;
            assert_int_equal(pdvm_tokenize(m, texts[k], bos, ids, 256, &n), PDVM_OK);
            char out[512];
            detokenize(m, ids, n, out, sizeof out);
            if (strcmp(out, texts[k]) != 0)
                fail_msg("round trip (bos %d): '%s' came back as '%s'", bos, texts[k], out);
        }
    }
}

static void test_emoji_uses_byte_fallback(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t ids[16];
    size_t n = 0;
    assert_int_equal(pdvm_tokenize(m, "\xF0\x9F\x8E\x89", false, ids, 16, &n), PDVM_OK);
    /* The dummy prefix, then the emoji's 4 bytes as <0xXX> pieces. */
    assert_int_equal(n, 5);
    const char *want[] = {"<0xF0>", "<0x9F>", "<0x8E>", "<0x89>"};
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        const char *p = pdvm_tokenizer_piece(m->tok, ids[i + 1], &len);
        assert_int_equal(len, 6);
        assert_memory_equal(p, want[i], 6);
        assert_int_equal(pdvm_tokenizer_type(m->tok, ids[i + 1]), PDVM_TOKEN_BYTE);
    }
}

static void test_detok_holds_back_partial_utf8(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t ids[16];
    size_t n = 0, len;
    assert_int_equal(pdvm_tokenize(m, "\xF0\x9F\x8E\x89", true, ids, 16, &n), PDVM_OK);
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, &d), PDVM_OK);
    char buf[64];
    for (size_t i = 0; i + 1 < n; i++) { /* BOS, prefix, 3 of the 4 bytes */
        assert_int_equal(pdvm_detok_push(d, ids[i], buf, sizeof buf, &len), PDVM_OK);
        assert_int_equal(len, 0);
    }
    assert_int_equal(pdvm_detok_push(d, ids[n - 1], buf, sizeof buf, &len), PDVM_OK);
    assert_int_equal(len, 4);
    assert_string_equal(buf, "\xF0\x9F\x8E\x89");
    pdvm_detok_free(d);
}

static void test_detok_flush_and_errors(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t lead = pdvm_tokenizer_find(m->tok, "<0xE2>", 6);
    int32_t a = pdvm_tokenizer_find(m->tok, "a", 1);
    assert_true(lead >= 0 && a >= 0);
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, &d), PDVM_OK);
    char buf[64];
    size_t len = 99;
    assert_int_equal(pdvm_detok_push(d, lead, buf, sizeof buf, &len), PDVM_OK);
    assert_int_equal(len, 0);
    /* A cut-short sequence becomes U+FFFD, the next character survives. */
    assert_int_equal(pdvm_detok_push(d, a, buf, sizeof buf, &len), PDVM_OK);
    assert_string_equal(buf, "\xEF\xBF\xBD" "a");
    assert_int_equal(pdvm_detok_push(d, lead, buf, sizeof buf, &len), PDVM_OK);
    assert_int_equal(pdvm_detok_flush(d, buf, sizeof buf, &len), PDVM_OK);
    assert_string_equal(buf, "\xEF\xBF\xBD");
    assert_int_equal(pdvm_detok_push(d, 512, buf, sizeof buf, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_detok_push(d, -1, buf, sizeof buf, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_detok_push(d, a, buf, 16, &len), PDVM_ERR_INVALID_ARG);
    /* Control tokens print nothing. */
    assert_int_equal(pdvm_detok_push(d, pdvm_token_eos(m), buf, sizeof buf, &len), PDVM_OK);
    assert_int_equal(len, 0);
    pdvm_detok_free(d);
}

/* Only the first piece after BOS loses its dummy-prefix space. */
/* A BOS generated mid-stream prints nothing and keeps the next piece's
 * space, as llama.cpp's detokenizer does (tests/golden: "The end. Once"). */
static void test_detok_strips_only_first_piece(void **state)
{
    pdvm_model *m = model_of(state);
    const int32_t ids[] = {1, 403, 407, 1, 403};
    char out[128];
    detokenize(m, ids, 5, out, sizeof out);
    assert_string_equal(out, "Once upon Once");
}

int main(void)
{
    const struct CMUnitTest tiny[] = {
        cmocka_unit_test(test_tiny_best_score_first),
        cmocka_unit_test(test_tiny_space_prefix_and_bytes),
        cmocka_unit_test(test_rejects_gpt2),
    };
    const struct CMUnitTest model[] = {
        cmocka_unit_test(test_known_ids),
        cmocka_unit_test(test_cap_too_small_reports_count),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_emoji_uses_byte_fallback),
        cmocka_unit_test(test_detok_holds_back_partial_utf8),
        cmocka_unit_test(test_detok_flush_and_errors),
        cmocka_unit_test(test_detok_strips_only_first_piece),
    };
    int failed = cmocka_run_group_tests_name("tokenizer (tiny vocabulary)", tiny, NULL, NULL);
    failed += cmocka_run_group_tests_name("tokenizer (stories260K)", model, open_model,
                                          close_model);
    return failed;
}
