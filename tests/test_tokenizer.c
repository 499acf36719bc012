/* Tokenizer units on hand-made vocabularies and stories260K: SentencePiece
 * merge order (best score first, leftmost on ties), byte fallback, GPT-2's
 * byte map, llama.cpp's lenient UTF-8, byte-level BPE merge ranks and
 * fallbacks, special-token splitting (longest first, user-defined always,
 * Phi-3's right-strip), end-of-generation ids found by text, the rejection
 * of unknown models and pre-tokenizers by name, pieces of any length, and
 * the streaming detokenizer's held-back UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gguf.h"
#include "gguf_writer.h"
#include "model.h"
#include "pdvm.h"
#include "test_util.h"
#include "tokenizer.h"
#include "tokenizer_impl.h"

/* ------------------------------------------------ tiny in-memory GGUFs */

#define SP "\xE2\x96\x81"

typedef struct tiny_piece {
    const char *text;
    float score;
    int32_t type;
} tiny_piece;

typedef struct tiny_spec {
    const char *model;         /* tokenizer.ggml.model */
    const char *pre;           /* tokenizer.ggml.pre, NULL: none */
    const char *name;          /* general.name, NULL: none */
    int space_prefix;          /* tokenizer.ggml.add_space_prefix: 0/1, -1: none */
    const tiny_piece *pieces;
    size_t n_pieces;
    const char *const *merges; /* gpt2 only */
    size_t n_merges;
    const char *id_key;        /* one more u32 key (a special id), NULL: none */
    uint32_t id_value;
} tiny_spec;

static void kv_bool(gw *w, const char *key, bool v)
{
    gw_str(w, key);
    gw_u32(w, GGUF_TYPE_BOOL);
    gw_u8(w, v);
}

/* The GGUF file bytes of spec (no tensors). */
static void tiny_file(const tiny_spec *s, gw *file)
{
    gw kv = {0};
    uint64_t n_kv = 4;
    gw_kv_str(&kv, "tokenizer.ggml.model", s->model);
    gw_kv_arr(&kv, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, s->n_pieces);
    for (size_t i = 0; i < s->n_pieces; i++) gw_str(&kv, s->pieces[i].text);
    gw_kv_arr(&kv, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, s->n_pieces);
    for (size_t i = 0; i < s->n_pieces; i++) gw_f32(&kv, s->pieces[i].score);
    gw_kv_arr(&kv, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, s->n_pieces);
    for (size_t i = 0; i < s->n_pieces; i++) gw_u32(&kv, (uint32_t)s->pieces[i].type);
    if (s->merges) {
        gw_kv_arr(&kv, "tokenizer.ggml.merges", GGUF_TYPE_STRING, s->n_merges);
        for (size_t i = 0; i < s->n_merges; i++) gw_str(&kv, s->merges[i]);
        n_kv++;
    }
    if (s->pre) {
        gw_kv_str(&kv, "tokenizer.ggml.pre", s->pre);
        n_kv++;
    }
    if (s->name) {
        gw_kv_str(&kv, "general.name", s->name);
        n_kv++;
    }
    if (s->space_prefix >= 0) {
        kv_bool(&kv, "tokenizer.ggml.add_space_prefix", s->space_prefix);
        n_kv++;
    }
    if (s->id_key) {
        gw_kv_u32(&kv, s->id_key, s->id_value);
        n_kv++;
    }
    gw_file(file, &kv, n_kv, NULL, 0, 32, 0, NULL);
    gw_free(&kv);
}

static pdvm_status tiny_load(const tiny_spec *s, pdvm_tokenizer **t)
{
    gw file = {0};
    tiny_file(s, &file);
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open_memory(file.buf, file.len, &g) != PDVM_OK)
        fail_msg("%s", pdvm_last_error());
    pdvm_status st = pdvm_tokenizer_load(g, t);
    pdvm_gguf_close(g);
    gw_free(&file); /* the tokenizer must not keep pointers into the file */
    return st;
}

static pdvm_tokenizer *tiny(const tiny_spec *s)
{
    pdvm_tokenizer *t = NULL;
    if (tiny_load(s, &t) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return t;
}

/* A vocab-only model file of spec, opened with pdvm_model_open_vocab. */
static pdvm_model *tiny_model(const tiny_spec *s)
{
    char path[] = "/tmp/pdvm-test-vocab-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    gw file = {0};
    tiny_file(s, &file);
    assert_int_equal(write(fd, file.buf, file.len), (ssize_t)file.len);
    close(fd);
    gw_free(&file);
    pdvm_model *m = NULL;
    pdvm_status st = pdvm_model_open_vocab(path, &m);
    unlink(path);
    if (st != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return m;
}

static void expect(const pdvm_tokenizer *t, const char *text, bool add, bool parse,
                   const int32_t *want, size_t n_want)
{
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(pdvm_tokenizer_encode(t, text, strlen(text), add, parse, ids, 64, &n),
                     PDVM_OK);
    if (n != n_want) fail_msg("'%s': %zu ids, want %zu", text, n, n_want);
    for (size_t i = 0; i < n; i++)
        if (ids[i] != want[i]) fail_msg("'%s': id %zu is %d, want %d", text, i, ids[i], want[i]);
}

#define IDS(...) (const int32_t[]){__VA_ARGS__}, sizeof((const int32_t[]){__VA_ARGS__}) / 4

/* ------------------------------------------------------ SentencePiece */

/* Scores chosen so that best-first and leftmost-first merging disagree on
 * "abc" (bc beats ab) and tie on "xyz" (xy and yz equal). */
static const tiny_piece SPM_PIECES[] = {
    {"<unk>", 0, 2},  {"<s>", 0, 3},       {"</s>", 0, 3},   {SP, -5, 1},  {"a", -5, 1},
    {"b", -5, 1},     {"c", -5, 1},        {"ab", -1, 1},    {"bc", -0.5f, 1}, {"x", -5, 1},
    {"y", -5, 1},     {"z", -5, 1},        {"xy", -1, 1},    {"yz", -1, 1},    {"<0xC3>", 0, 6},
    {"<0xA9>", 0, 6}, {SP "a", -2, 1},     {"<|end|>", 0, 3}, {"<u>", 0, 4},
};
#define N_SPM (sizeof SPM_PIECES / sizeof SPM_PIECES[0])

static tiny_spec spm_spec(int space_prefix, const char *name)
{
    return (tiny_spec){"llama", NULL, name, space_prefix, SPM_PIECES, N_SPM, NULL, 0, NULL, 0};
}

static void test_spm_best_score_first(void **state)
{
    (void)state;
    tiny_spec s = spm_spec(0, NULL);
    pdvm_tokenizer *t = tiny(&s);
    expect(t, "abc", false, false, IDS(4, 8));  /* a + bc, not ab + c */
    expect(t, "xyz", false, false, IDS(12, 11)); /* tie: leftmost xy + z */
    expect(t, "abc", true, false, IDS(1, 4, 8));
    assert_true(pdvm_tokenizer_add_bos(t) && !pdvm_tokenizer_add_eos(t));
    pdvm_tokenizer_free(t);
}

static void test_spm_space_prefix_and_bytes(void **state)
{
    (void)state;
    tiny_spec s = spm_spec(-1, NULL); /* no key: SentencePiece adds the prefix */
    pdvm_tokenizer *t = tiny(&s);
    expect(t, "a b", false, false, IDS(16, 3, 5));
    /* é = C3 A9 has no piece: its bytes' pieces. ü = C3 BC: 0xBC has no
     * byte piece, so it becomes <unk>. */
    expect(t, "\xC3\xA9", false, false, IDS(3, 14, 15));
    expect(t, "\xC3\xBC", false, false, IDS(3, 14, 0));
    expect(t, "", true, false, IDS(1));
    expect(t, "", false, false, NULL, 0);
    assert_int_equal(pdvm_tokenizer_find(t, "bc", 2), 8);
    assert_int_equal(pdvm_tokenizer_find(t, "cb", 2), -1);
    pdvm_tokenizer_free(t);
}

/* Control text is a token only when parsed; user-defined text always is;
 * the text after a special token gets the dummy prefix again. */
static void test_spm_special_tokens(void **state)
{
    (void)state;
    tiny_spec s = spm_spec(1, NULL);
    pdvm_tokenizer *t = tiny(&s);
    expect(t, "a<|end|>a", false, true, IDS(16, 17, 16));
    expect(t, "<u>a", false, false, IDS(18, 16));
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(pdvm_tokenizer_encode(t, "a<|end|>a", 9, false, false, ids, 64, &n), PDVM_OK);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], 17);
    pdvm_tokenizer_free(t);
}

/* general.name "Phi3": whitespace after a special token (but <s>) goes. */
static void test_phi3_right_strip(void **state)
{
    (void)state;
    tiny_spec s = spm_spec(1, "Phi3");
    pdvm_tokenizer *t = tiny(&s);
    expect(t, "<|end|> \n a", false, true, IDS(17, 16));
    expect(t, "<s> a", false, true, IDS(1, 3, 16));
    pdvm_tokenizer_free(t);
    s.name = "llama";
    t = tiny(&s);
    expect(t, "<|end|> a", false, true, IDS(17, 3, 16));
    pdvm_tokenizer_free(t);
}

/* --------------------------------------------------- UTF-8, byte map */

static void test_gpt2_byte_map(void **state)
{
    (void)state;
    assert_int_equal(pdvm_byte_to_cp(' '), 0x120);  /* Ġ */
    assert_int_equal(pdvm_byte_to_cp('\n'), 0x10A); /* Ċ */
    assert_int_equal(pdvm_byte_to_cp('A'), 'A');
    assert_int_equal(pdvm_byte_to_cp(0xAD), 0x143);
    assert_int_equal(pdvm_byte_to_cp(0xE9), 0xE9);
    bool seen[0x144] = {false};
    for (int b = 0; b < 256; b++) {
        uint32_t cp = pdvm_byte_to_cp((uint8_t)b);
        assert_true(cp < 0x144 && !seen[cp]);
        seen[cp] = true;
        assert_int_equal(pdvm_cp_to_byte(cp), b);
    }
    assert_int_equal(pdvm_cp_to_byte(' '), -1);
    assert_int_equal(pdvm_cp_to_byte(0x144), -1);
}

static void expect_decode(const char *s, size_t n, uint32_t cp, size_t used)
{
    uint32_t got;
    assert_int_equal(pdvm_utf8_decode(s, n, &got), used);
    assert_int_equal(got, cp);
}

/* llama.cpp's decoder checks the structure only. */
static void test_lenient_utf8(void **state)
{
    (void)state;
    expect_decode("\xC3\xA9", 2, 0xE9, 2);
    expect_decode("\xC0\x80", 2, 0, 2);         /* overlong NUL */
    expect_decode("\xED\xA0\x80", 3, 0xD800, 3); /* surrogate */
    expect_decode("\xF0\x9F\x8E\x89", 4, 0x1F389, 4);
    expect_decode("\x80", 1, 0xFFFD, 1);
    expect_decode("\xE2\x82", 2, 0xFFFD, 1);     /* cut short */
    expect_decode("\xE2(\xA1", 3, 0xFFFD, 1);
    expect_decode("\xF8\x88\x80\x80\x80", 5, 0xFFFD, 1);
    expect_decode("\xF4\x90\x80\x80", 4, 0xFFFD, 1); /* above U+10FFFF */
    char *canon, *match;
    size_t n;
    assert_int_equal(pdvm_utf8_canonical("\xC0\x80" "a\xED\xA0\x80\xFF", 7, &canon, &match, &n),
                     PDVM_OK);
    assert_int_equal(n, 1 + 1 + 3 + 3);
    assert_memory_equal(canon, "\0a\xED\xA0\x80\xEF\xBF\xBD", n);
    assert_memory_equal(match, "\0a\xEE\x80\x80\xEF\xBF\xBD", n);
    free(canon);
    free(match);
}

/* ---------------------------------------------------- byte-level BPE */

static const tiny_piece BPE_PIECES[] = {
    {"a", 0, 1},  {"b", 0, 1},    {"c", 0, 1},      {"\xC4\xA0", 0, 1}, /* Ġ */
    {"ab", 0, 1}, {"bc", 0, 1},   {"aa", 0, 1},     {"\xC4\xA0" "a", 0, 1},
    {"x", 0, 1},  {"y", 0, 1},    {"<|im_end|>", 0, 1}, {"<|end|>", 0, 3},
    {"<|return|>", 0, 3}, {"<|call|>", 0, 3}, {"abc", 0, 1},
};
#define N_BPE (sizeof BPE_PIECES / sizeof BPE_PIECES[0])
/* "b c" outranks "a b"; "x y" merges into a symbol that is no piece. */
static const char *const BPE_MERGES[] = {"b c", "a b", "a a", "\xC4\xA0 a", "x y", "ab c"};

static tiny_spec bpe_spec(const char *pre)
{
    return (tiny_spec){"gpt2", pre, NULL, -1, BPE_PIECES, N_BPE, BPE_MERGES,
                       sizeof BPE_MERGES / sizeof BPE_MERGES[0], NULL, 0};
}

static void test_bpe_ranks(void **state)
{
    (void)state;
    tiny_spec s = bpe_spec("gpt-2");
    pdvm_tokenizer *t = tiny(&s);
    expect(t, "abc", false, false, IDS(0, 5));   /* a + bc: rank 0 first */
    expect(t, "aaa", false, false, IDS(6, 0));   /* equal ranks: leftmost */
    expect(t, "a a", false, false, IDS(0, 7));   /* the pre-tokenizer keeps " a" together */
    expect(t, "xy", false, false, IDS(8, 9));    /* "xy" is no piece: its bytes' pieces */
    expect(t, "abc", true, false, IDS(0, 5));    /* gpt-2 adds no BOS */
    assert_false(pdvm_tokenizer_add_bos(t));
    assert_int_equal(pdvm_tokenizer_bos(t), 11); /* llama.cpp's default id */
    pdvm_tokenizer_free(t);
}

/* llama-bpe: a word that is a whole piece skips the merges; BOS by default. */
static void test_bpe_ignore_merges(void **state)
{
    (void)state;
    tiny_spec s = bpe_spec("llama-bpe");
    pdvm_tokenizer *t = tiny(&s);
    expect(t, "abc", false, false, IDS(14));
    assert_true(pdvm_tokenizer_add_bos(t));
    pdvm_tokenizer_free(t);
}

/* Text llama.cpp treats as end of turn/generation: control and EOG; with
 * <|return|> and <|call|> (o200k_harmony), <|end|> is neither. */
static void test_eog_by_text(void **state)
{
    (void)state;
    tiny_spec s = bpe_spec("gpt-2");
    pdvm_tokenizer *t = tiny(&s);
    assert_true(pdvm_tokenizer_is_eog(t, 10));
    assert_true(pdvm_tokenizer_attr(t, 10) & PDVM_ATTR_CONTROL);
    assert_true(pdvm_tokenizer_is_eog(t, 12) && pdvm_tokenizer_is_eog(t, 13));
    assert_false(pdvm_tokenizer_is_eog(t, 11));
    assert_int_equal(pdvm_tokenizer_attr(t, 11), PDVM_ATTR_USER_DEFINED);
    assert_false(pdvm_tokenizer_is_eog(t, 0));
    assert_false(pdvm_tokenizer_is_eog(t, -1));
    assert_false(pdvm_tokenizer_is_eog(t, (int32_t)N_BPE));
    /* <|end|> is user-defined now: split out even without parse_special. */
    expect(t, "a<|end|>", false, false, IDS(0, 11));
    pdvm_tokenizer_free(t);
}

/* Ids from the file: an EOT id ends generation; an EOS id outside the
 * vocabulary keeps llama.cpp's default (11 for gpt2). */
static void test_special_ids_from_keys(void **state)
{
    (void)state;
    tiny_spec s = bpe_spec("gpt-2");
    s.id_key = "tokenizer.ggml.eot_token_id";
    s.id_value = 1;
    pdvm_tokenizer *t = tiny(&s);
    assert_true(pdvm_tokenizer_is_eog(t, 1));
    assert_int_equal(pdvm_tokenizer_attr(t, 1), PDVM_ATTR_NORMAL);
    pdvm_tokenizer_free(t);
    s.id_key = "tokenizer.ggml.eos_token_id";
    s.id_value = 1000;
    t = tiny(&s);
    assert_int_equal(pdvm_tokenizer_eos(t), 11);
    pdvm_tokenizer_free(t);
    s.id_value = 2;
    t = tiny(&s);
    assert_int_equal(pdvm_tokenizer_eos(t), 2);
    assert_true(pdvm_tokenizer_is_eog(t, 2));
    pdvm_tokenizer_free(t);
}

static void test_rejections_are_named(void **state)
{
    (void)state;
    pdvm_tokenizer *t = (pdvm_tokenizer *)&t; /* must be reset to NULL */
    tiny_spec s = bpe_spec("klingon-bpe");
    assert_int_equal(tiny_load(&s, &t), PDVM_ERR_UNSUPPORTED);
    assert_null(t);
    assert_non_null(strstr(pdvm_last_error(), "'klingon-bpe'"));
    s = bpe_spec("gpt-2");
    s.model = "bert";
    assert_int_equal(tiny_load(&s, &t), PDVM_ERR_UNSUPPORTED);
    assert_non_null(strstr(pdvm_last_error(), "'bert'"));
    s = bpe_spec("gpt-2");
    s.merges = NULL;
    assert_int_equal(tiny_load(&s, &t), PDVM_ERR_FORMAT);
    assert_non_null(strstr(pdvm_last_error(), "tokenizer.ggml.merges"));
}

/* --------------------------------------------------- public API, model */

/* A piece of any length: token_to_piece reports it, detok_push returns it. */
static void test_long_pieces(void **state)
{
    (void)state;
    static char big[5001];
    memset(big, 'q', 5000);
    tiny_piece pieces[N_SPM + 1];
    memcpy(pieces, SPM_PIECES, sizeof SPM_PIECES);
    pieces[N_SPM] = (tiny_piece){big, -1, 1};
    tiny_spec s = spm_spec(0, NULL);
    s.pieces = pieces;
    s.n_pieces = N_SPM + 1;
    pdvm_model *m = tiny_model(&s);
    int32_t id = (int32_t)N_SPM;
    char small[16];
    size_t len = 0;
    assert_int_equal(pdvm_token_to_piece(m, id, false, small, sizeof small, &len),
                     PDVM_ERR_INVALID_ARG);
    assert_int_equal(len, 5000);
    assert_int_equal(pdvm_token_to_piece(m, id, false, NULL, 0, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(len, 5000);
    pdvm_detok *d = NULL;
    const char *text;
    assert_int_equal(pdvm_detok_create(m, false, &d), PDVM_OK);
    assert_int_equal(pdvm_detok_push(d, id, &text, &len), PDVM_OK);
    assert_int_equal(len, 5000);
    assert_memory_equal(text, big, 5000);
    assert_int_equal(text[5000], '\0');
    pdvm_detok_free(d);
    assert_int_equal(pdvm_model_hparams(m)->n_vocab, N_SPM + 1);
    pdvm_session *sess = (pdvm_session *)&sess;
    assert_int_equal(pdvm_session_create(m, NULL, &sess), PDVM_ERR_INVALID_ARG);
    assert_null(sess);
    pdvm_model_close(m);
}

/* Control tokens render only with special; byte-level pieces decode. */
static void test_pieces_and_special(void **state)
{
    (void)state;
    tiny_spec s = bpe_spec("gpt-2");
    pdvm_model *m = tiny_model(&s);
    char buf[64];
    size_t len;
    assert_int_equal(pdvm_token_to_piece(m, 7, false, buf, sizeof buf, &len), PDVM_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(buf, " a", 2);
    assert_int_equal(pdvm_token_to_piece(m, 10, false, buf, sizeof buf, &len), PDVM_OK);
    assert_int_equal(len, 0);
    assert_int_equal(pdvm_token_to_piece(m, 10, true, buf, sizeof buf, &len), PDVM_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(buf, "<|im_end|>", 10);
    assert_int_equal(pdvm_token_to_piece(m, -1, true, buf, sizeof buf, &len), PDVM_ERR_INVALID_ARG);
    assert_true(pdvm_token_is_eog(m, 10));
    pdvm_detok *d = NULL;
    const char *text;
    assert_int_equal(pdvm_detok_create(m, true, &d), PDVM_OK);
    assert_int_equal(pdvm_detok_push(d, 10, &text, &len), PDVM_OK);
    assert_string_equal(text, "<|im_end|>");
    pdvm_detok_free(d);
    /* Count first: the ids of a text with cap 0. */
    size_t n = 0;
    assert_int_equal(pdvm_tokenize(m, "abcabc", 6, false, false, NULL, 0, &n),
                     PDVM_ERR_INVALID_ARG);
    assert_int_equal(n, 4);
    pdvm_model_close(m);
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

static pdvm_status tok(const pdvm_model *m, const char *text, bool add, int32_t *ids, size_t cap,
                       size_t *n)
{
    return pdvm_tokenize(m, text, strlen(text), add, false, ids, cap, n);
}

static void test_known_ids(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t ids[16];
    size_t n = 0;
    assert_int_equal(tok(m, "Once upon a time", true, ids, 16, &n), PDVM_OK);
    const int32_t want[] = {1, 403, 407, 261, 378};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(pdvm_token_bos(m), 1);
    assert_int_equal(pdvm_token_eos(m), 2);
    assert_true(pdvm_model_add_bos(m));
    assert_false(pdvm_model_add_eos(m));
    assert_true(pdvm_token_is_eog(m, 2));
    assert_false(pdvm_token_is_eog(m, 1));
}

static void test_cap_too_small_reports_count(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t ids[3] = {-7, -7, -7};
    size_t n = 0;
    assert_int_equal(tok(m, "Once upon a time", true, ids, 2, &n), PDVM_ERR_INVALID_ARG);
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 403);
    assert_int_equal(ids[2], -7); /* nothing written past cap */
}

/* Byte fallback gives more ids than bytes: the count comes first. */
static void test_invalid_utf8_prompt(void **state)
{
    pdvm_model *m = model_of(state);
    static const char text[] = "\xff\xfe\x80" "abc \xc3 ";
    size_t n = 0;
    assert_int_equal(pdvm_tokenize(m, text, sizeof text - 1, true, true, NULL, 0, &n),
                     PDVM_ERR_INVALID_ARG);
    assert_true(n > sizeof text - 1);
    int32_t *ids = malloc(n * sizeof *ids);
    size_t again = 0;
    assert_int_equal(pdvm_tokenize(m, text, sizeof text - 1, true, true, ids, n, &again), PDVM_OK);
    assert_int_equal(again, n);
    free(ids);
}

/* decode(ids) through the streaming detokenizer, into out. */
static void detokenize(const pdvm_model *m, const int32_t *ids, size_t n, char *out, size_t cap)
{
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, false, &d), PDVM_OK);
    size_t at = 0, len;
    const char *text;
    for (size_t i = 0; i <= n; i++) {
        if (i < n)
            assert_int_equal(pdvm_detok_push(d, ids[i], &text, &len), PDVM_OK);
        else
            assert_int_equal(pdvm_detok_flush(d, &text, &len), PDVM_OK);
        assert_true(at + len < cap);
        memcpy(out + at, text, len);
        at += len;
    }
    out[at] = '\0';
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
            assert_int_equal(tok(m, texts[k], bos, ids, 256, &n), PDVM_OK);
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
    assert_int_equal(tok(m, "\xF0\x9F\x8E\x89", false, ids, 16, &n), PDVM_OK);
    /* The dummy prefix, then the emoji's 4 bytes as <0xXX> pieces. */
    assert_int_equal(n, 5);
    const char *want[] = {"<0xF0>", "<0x9F>", "<0x8E>", "<0x89>"};
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        const char *p = pdvm_tokenizer_piece(m->tok, ids[i + 1], &len);
        assert_int_equal(len, 6);
        assert_memory_equal(p, want[i], 6);
        assert_int_equal(pdvm_tokenizer_attr(m->tok, ids[i + 1]), PDVM_ATTR_BYTE);
        char b;
        assert_int_equal(pdvm_token_to_piece(m, ids[i + 1], false, &b, 1, &len), PDVM_OK);
        assert_int_equal((uint8_t)b, (uint8_t)"\xF0\x9F\x8E\x89"[i]);
    }
}

static void test_detok_holds_back_partial_utf8(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t ids[16];
    size_t n = 0, len;
    const char *text;
    assert_int_equal(tok(m, "\xF0\x9F\x8E\x89", true, ids, 16, &n), PDVM_OK);
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, false, &d), PDVM_OK);
    for (size_t i = 0; i + 1 < n; i++) { /* BOS, prefix, 3 of the 4 bytes */
        assert_int_equal(pdvm_detok_push(d, ids[i], &text, &len), PDVM_OK);
        assert_int_equal(len, 0);
    }
    assert_int_equal(pdvm_detok_push(d, ids[n - 1], &text, &len), PDVM_OK);
    assert_int_equal(len, 4);
    assert_string_equal(text, "\xF0\x9F\x8E\x89");
    pdvm_detok_free(d);
}

static void test_detok_flush_and_errors(void **state)
{
    pdvm_model *m = model_of(state);
    int32_t lead = pdvm_tokenizer_find(m->tok, "<0xE2>", 6);
    int32_t a = pdvm_tokenizer_find(m->tok, "a", 1);
    assert_true(lead >= 0 && a >= 0);
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, false, &d), PDVM_OK);
    const char *text;
    size_t len = 99;
    assert_int_equal(pdvm_detok_push(d, lead, &text, &len), PDVM_OK);
    assert_int_equal(len, 0);
    /* A cut-short sequence becomes U+FFFD, the next character survives. */
    assert_int_equal(pdvm_detok_push(d, a, &text, &len), PDVM_OK);
    assert_string_equal(text, "\xEF\xBF\xBD" "a");
    assert_int_equal(pdvm_detok_push(d, lead, &text, &len), PDVM_OK);
    assert_int_equal(pdvm_detok_flush(d, &text, &len), PDVM_OK);
    assert_string_equal(text, "\xEF\xBF\xBD");
    assert_int_equal(pdvm_detok_push(d, 512, &text, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_detok_push(d, -1, &text, &len), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_detok_push(d, a, NULL, &len), PDVM_ERR_INVALID_ARG);
    /* Control tokens print nothing. */
    assert_int_equal(pdvm_detok_push(d, pdvm_token_eos(m), &text, &len), PDVM_OK);
    assert_int_equal(len, 0);
    pdvm_detok_free(d);
    /* ... unless special. */
    assert_int_equal(pdvm_detok_create(m, true, &d), PDVM_OK);
    assert_int_equal(pdvm_detok_push(d, pdvm_token_eos(m), &text, &len), PDVM_OK);
    assert_string_equal(text, "</s>");
    pdvm_detok_free(d);
}

/* Only the first piece after BOS loses its dummy-prefix space. A BOS
 * generated mid-stream prints nothing and keeps the next piece's space, as
 * llama.cpp's detokenizer does (tests/golden: "The end. Once"). */
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
    const struct CMUnitTest tiny_tests[] = {
        cmocka_unit_test(test_spm_best_score_first),
        cmocka_unit_test(test_spm_space_prefix_and_bytes),
        cmocka_unit_test(test_spm_special_tokens),
        cmocka_unit_test(test_phi3_right_strip),
        cmocka_unit_test(test_gpt2_byte_map),
        cmocka_unit_test(test_lenient_utf8),
        cmocka_unit_test(test_bpe_ranks),
        cmocka_unit_test(test_bpe_ignore_merges),
        cmocka_unit_test(test_eog_by_text),
        cmocka_unit_test(test_special_ids_from_keys),
        cmocka_unit_test(test_rejections_are_named),
        cmocka_unit_test(test_long_pieces),
        cmocka_unit_test(test_pieces_and_special),
    };
    const struct CMUnitTest model[] = {
        cmocka_unit_test(test_known_ids),
        cmocka_unit_test(test_cap_too_small_reports_count),
        cmocka_unit_test(test_invalid_utf8_prompt),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_emoji_uses_byte_fallback),
        cmocka_unit_test(test_detok_holds_back_partial_utf8),
        cmocka_unit_test(test_detok_flush_and_errors),
        cmocka_unit_test(test_detok_strips_only_first_piece),
    };
    int failed =
        cmocka_run_group_tests_name("tokenizer (tiny vocabularies)", tiny_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("tokenizer (stories260K)", model, open_model,
                                          close_model);
    return failed;
}
