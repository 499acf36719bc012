/* Sessions of several sequences on the CPU backend (pdvm_session_decode,
 * pdvm_session_logits, pdvm_session_seq_pos, pdvm_session_seq_truncate):
 * sequences fed in random interleaved batches give bit for bit the logits
 * a lone sequence gets; batches mixing prompts and single tokens keep the
 * logits asked for and count as prefill or decode; truncating a sequence
 * and feeding it again equals a fresh sequence fed the same prefix (also
 * on sliding-window models, gemma2 and gemma3 of tests/arch_models.c); a
 * refused batch (context full, invalid ids, sequences or arguments)
 * changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch_models.h"
#include "seq_check.h"
#include "test_util.h"

static pdvm_model *open_model(const char *name)
{
    char path[TEST_PATH_MAX];
    test_model_path(name, path, sizeof path);
    pdvm_model *m = NULL;
    if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s: %s", name, pdvm_last_error());
    return m;
}

static pdvm_session *cpu_session(pdvm_model *m, uint32_t n_ctx, uint32_t n_seq)
{
    pdvm_session_params p = pdvm_session_default_params();
    p.backend = PDVM_BACKEND_CPU;
    p.n_ctx = n_ctx;
    p.n_seq = n_seq;
    pdvm_session *s = NULL;
    if (pdvm_session_create(m, &p, &s) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return s;
}

static uint32_t n_vocab_of(const pdvm_model *m) { return pdvm_model_hparams(m)->n_vocab; }

/* Random interleavings of three streams, with and without logits flags,
 * on every stories260K file: bit for bit the lone sequence's logits. */
static void interleaved_equals_alone(void **state)
{
    (void)state;
    const char *models[] = {"stories260K.gguf", "stories260K-f16.gguf", "stories260K-q8_0.gguf",
                            "stories260K-q4_0.gguf"};
    const uint32_t len[] = {23, 17, 30};
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        pdvm_model *m = open_model(models[k]);
        seq_streams st;
        seq_streams_random(&st, 3, len, n_vocab_of(m), 100 + k);
        pdvm_session *single = cpu_session(m, 64, 0);
        seq_streams_expect(&st, single);
        for (int flags = 0; flags < 2; flags++) {
            pdvm_session *multi = cpu_session(m, 64, 3 + (uint32_t)flags);
            seq_result r;
            seq_check_interleaved(multi, &st, 7 + k * 2 + (uint64_t)flags, flags, 0.0, &r);
            print_message("%-22s flags %d: %u batches (%u mixed), %u rows bit-identical\n",
                          models[k], flags, r.batches, r.mixed, r.rows);
            assert_true(r.mixed > 0 && r.rows > 0);
            assert_int_equal(r.argmax_ok, r.rows);
            pdvm_session_free(multi);
        }
        pdvm_session_free(single);
        seq_streams_free(&st);
        pdvm_model_close(m);
    }
}

/* The batches a server makes: prompts of some slots next to one decode
 * token of others, default logits (the last token of each sequence). */
static void mixed_prompts_and_decode_tokens(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    const uint32_t nv = n_vocab_of(m), len[] = {7, 5, 5};
    seq_streams st;
    seq_streams_random(&st, 3, len, nv, 5);
    pdvm_session *single = cpu_session(m, 32, 1);
    seq_streams_expect(&st, single);
    pdvm_session *s = cpu_session(m, 32, 3);
    int32_t *a = st.tok[0], *b = st.tok[1], *c = st.tok[2];
    /* seq 0: prompt of 5, seq 1: prompt of 3. */
    int32_t t1[] = {a[0], a[1], b[0], a[2], b[1], a[3], b[2], a[4]};
    uint32_t q1[] = {0, 0, 1, 0, 1, 0, 1, 0};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t1, q1, NULL, 8}), PDVM_OK);
    for (size_t i = 0; i < 8; i++)
        if (i != 6 && i != 7) assert_null(pdvm_session_logits(s, i));
    seq_check_rows(pdvm_session_logits(s, 6), st.expect[1] + 2 * nv, nv, 0.0);
    seq_check_rows(pdvm_session_logits(s, 7), st.expect[0] + 4 * nv, nv, 0.0);
    pdvm_session_stats stats;
    pdvm_session_get_stats(s, &stats);
    assert_int_equal(stats.prefill_tokens, 8);
    assert_int_equal(stats.decode_tokens, 0);
    /* One decode token each: a decode call. */
    int32_t t2[] = {b[3], a[5]};
    uint32_t q2[] = {1, 0};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t2, q2, NULL, 2}), PDVM_OK);
    seq_check_rows(pdvm_session_logits(s, 0), st.expect[1] + 3 * nv, nv, 0.0);
    seq_check_rows(pdvm_session_logits(s, 1), st.expect[0] + 5 * nv, nv, 0.0);
    pdvm_session_get_stats(s, &stats);
    assert_int_equal(stats.prefill_tokens, 8);
    assert_int_equal(stats.decode_tokens, 2);
    /* A new slot's prompt between two decode tokens: prefill. */
    int32_t t3[] = {a[6], c[0], c[1], c[2], c[3], b[4]};
    uint32_t q3[] = {0, 2, 2, 2, 2, 1};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t3, q3, NULL, 6}), PDVM_OK);
    seq_check_rows(pdvm_session_logits(s, 0), st.expect[0] + 6 * nv, nv, 0.0);
    seq_check_rows(pdvm_session_logits(s, 4), st.expect[2] + 3 * nv, nv, 0.0);
    seq_check_rows(pdvm_session_logits(s, 5), st.expect[1] + 4 * nv, nv, 0.0);
    for (size_t i = 1; i < 4; i++) assert_null(pdvm_session_logits(s, i));
    pdvm_session_get_stats(s, &stats);
    assert_int_equal(stats.prefill_tokens, 14);
    assert_int_equal(stats.decode_tokens, 2);
    assert_int_equal(stats.tokens, 16);
    assert_int_equal(pdvm_session_seq_pos(s, 0), 7);
    assert_int_equal(pdvm_session_seq_pos(s, 1), 5);
    assert_int_equal(pdvm_session_seq_pos(s, 2), 4);
    assert_int_equal(pdvm_session_pos(s), 7);
    /* eval is sequence 0 alone; its pointer is the last token's row. */
    const float *lg = NULL;
    assert_int_equal(pdvm_session_eval(s, &c[4], 1, &lg), PDVM_OK);
    assert_ptr_equal(lg, pdvm_session_logits(s, 0));
    assert_int_equal(pdvm_session_seq_pos(s, 0), 8);
    assert_int_equal(pdvm_session_seq_pos(s, 2), 4);
    pdvm_session_reset(s);
    for (uint32_t q = 0; q < 3; q++) assert_int_equal(pdvm_session_seq_pos(s, q), 0);
    pdvm_session_free(s);
    pdvm_session_free(single);
    seq_streams_free(&st);
    pdvm_model_close(m);
}

/* Every token's logits, none, or only some: rows in batch order. */
static void logits_flags(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K-q8_0.gguf");
    const uint32_t nv = n_vocab_of(m), len[] = {6, 6};
    seq_streams st;
    seq_streams_random(&st, 2, len, nv, 9);
    pdvm_session *single = cpu_session(m, 16, 1);
    seq_streams_expect(&st, single);
    pdvm_session *s = cpu_session(m, 16, 2);
    int32_t t[] = {st.tok[0][0], st.tok[1][0], st.tok[0][1], st.tok[1][1]};
    uint32_t q[] = {0, 1, 0, 1};
    bool all[] = {true, true, true, true}, none[] = {false, false, false, false};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, q, all, 4}), PDVM_OK);
    for (size_t i = 0; i < 4; i++)
        seq_check_rows(pdvm_session_logits(s, i), st.expect[q[i]] + (i / 2) * nv, nv, 0.0);
    /* Distinct rows, not one buffer reused. */
    assert_ptr_not_equal(pdvm_session_logits(s, 0), pdvm_session_logits(s, 3));
    int32_t t2[] = {st.tok[0][2], st.tok[1][2]};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t2, q, none, 2}), PDVM_OK);
    assert_null(pdvm_session_logits(s, 0));
    assert_null(pdvm_session_logits(s, 1));
    assert_int_equal(pdvm_session_seq_pos(s, 0), 3);
    assert_int_equal(pdvm_session_seq_pos(s, 1), 3);
    /* A sequence's last token without its flag: no row for it. */
    int32_t t3[] = {st.tok[1][3], st.tok[0][3], st.tok[0][4]};
    uint32_t q3[] = {1, 0, 0};
    bool some[] = {false, true, false};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t3, q3, some, 3}), PDVM_OK);
    assert_null(pdvm_session_logits(s, 0));
    seq_check_rows(pdvm_session_logits(s, 1), st.expect[0] + 3 * nv, nv, 0.0);
    assert_null(pdvm_session_logits(s, 2));
    pdvm_session_free(s);
    pdvm_session_free(single);
    seq_streams_free(&st);
    pdvm_model_close(m);
}

/* Feed n tokens of toks to sequence q with every logit kept. */
static void feed(pdvm_session *s, uint32_t q, const int32_t *toks, size_t n)
{
    uint32_t seq[64];
    bool keep[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) seq[i] = q, keep[i] = true;
    if (pdvm_session_decode(s, &(pdvm_batch){toks, seq, keep, n}) != PDVM_OK)
        fail_msg("%s", pdvm_last_error());
}

/* Sequence 0 fed prefix + x, truncated to the prefix, fed y; sequence 1
 * busy alongside: y's logits equal those of a fresh session fed prefix + y,
 * and sequence 1 continues as if nothing happened. */
static void truncate_then_refeed(pdvm_model *m, uint32_t n_prefix, const char *what)
{
    const uint32_t nv = n_vocab_of(m), n_x = 10, n_y = 12;
    const uint32_t len[] = {n_prefix + n_y, 16, n_x};
    seq_streams st; /* 0: prefix + y, 1: sequence 1's, 2: x */
    seq_streams_random(&st, 3, len, nv, 21 + n_prefix);
    pdvm_session *single = cpu_session(m, 64, 1);
    seq_streams_expect(&st, single);
    pdvm_session *s = cpu_session(m, 64, 2);
    feed(s, 1, st.tok[1], 8);
    feed(s, 0, st.tok[0], n_prefix);
    feed(s, 0, st.tok[2], n_x);
    assert_int_equal(pdvm_session_seq_truncate(s, 0, n_prefix + n_x + 1), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_seq_truncate(s, 2, 0), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_seq_truncate(NULL, 0, 0), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_seq_pos(s, 0), n_prefix + n_x);
    assert_int_equal(pdvm_session_seq_truncate(s, 0, n_prefix + n_x), PDVM_OK);
    assert_int_equal(pdvm_session_seq_truncate(s, 0, n_prefix), PDVM_OK);
    assert_int_equal(pdvm_session_seq_pos(s, 0), n_prefix);
    assert_int_equal(pdvm_session_seq_pos(s, 1), 8);
    feed(s, 0, st.tok[0] + n_prefix, n_y);
    for (uint32_t i = 0; i < n_y; i++)
        seq_check_rows(pdvm_session_logits(s, i), st.expect[0] + (size_t)(n_prefix + i) * nv, nv,
                       0.0);
    feed(s, 1, st.tok[1] + 8, 8);
    for (uint32_t i = 0; i < 8; i++)
        seq_check_rows(pdvm_session_logits(s, i), st.expect[1] + (size_t)(8 + i) * nv, nv, 0.0);
    /* Down to nothing: a fresh sequence. */
    assert_int_equal(pdvm_session_seq_truncate(s, 0, 0), PDVM_OK);
    feed(s, 0, st.tok[0], 5);
    for (uint32_t i = 0; i < 5; i++)
        seq_check_rows(pdvm_session_logits(s, i), st.expect[0] + (size_t)i * nv, nv, 0.0);
    print_message("%-8s truncate %u -> %u, refeed %u: bit-identical to a fresh sequence\n", what,
                  n_prefix + n_x, n_prefix, n_y);
    pdvm_session_free(s);
    pdvm_session_free(single);
    seq_streams_free(&st);
}

static void truncate_stories(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    truncate_then_refeed(m, 20, "stories");
    pdvm_model_close(m);
}

/* Sliding windows of 8 (gemma2) and 16 (gemma3) positions: the sequence
 * is past its window before and after the cut. */
static void truncate_sliding_window(void **state)
{
    (void)state;
    char dir[] = "/tmp/pdvm-seq-XXXXXX", vocab[TEST_PATH_MAX], path[TEST_PATH_MAX];
    test_model_path("vocab/ggml-vocab-llama-spm.gguf", path, sizeof path); /* the specs' vocab */
    snprintf(vocab, sizeof vocab, "%s/vocab", test_models_dir());
    assert_non_null(mkdtemp(dir));
    const char *specs[] = {"gemma2", "gemma3"};
    for (size_t k = 0; k < 2; k++) {
        const arch_spec *spec = arch_spec_find(specs[k]);
        assert_non_null(spec);
        assert_true(spec->n_swa > 0 && spec->n_swa < 20);
        uint32_t type;
        assert_true(arch_type_from_name("f32", &type));
        snprintf(path, sizeof path, "%s/%s.gguf", dir, specs[k]);
        assert_true(arch_model_write(spec, type, 1234, false, vocab, path));
        pdvm_model *m = NULL;
        if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s: %s", path, pdvm_last_error());
        truncate_then_refeed(m, 20, specs[k]);
        pdvm_model_close(m);
        unlink(path);
    }
    rmdir(dir);
}

/* One sequence's context full: the batch is refused whole, nothing moves
 * (positions, the previous logits), and the others go on. */
static void context_full_one_sequence(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    const uint32_t nv = n_vocab_of(m), len[] = {6, 8, 4};
    seq_streams st;
    seq_streams_random(&st, 3, len, nv, 33);
    pdvm_session *single = cpu_session(m, 8, 1);
    seq_streams_expect(&st, single);
    pdvm_session *s = cpu_session(m, 8, 3);
    assert_int_equal(pdvm_session_n_ctx(s), 8);
    assert_int_equal(pdvm_session_n_seq(s), 3);
    feed(s, 1, st.tok[1], 6);
    feed(s, 0, st.tok[0], 2);
    float *saved = malloc(nv * sizeof *saved);
    assert_non_null(saved);
    memcpy(saved, pdvm_session_logits(s, 1), nv * sizeof *saved);
    int32_t t[] = {st.tok[0][2], st.tok[1][6], st.tok[1][7], st.tok[2][0]};
    uint32_t q[] = {0, 1, 1, 1};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, q, NULL, 4}), PDVM_ERR_CONTEXT_FULL);
    assert_non_null(strstr(pdvm_last_error(), "sequence 1"));
    assert_int_equal(pdvm_session_seq_pos(s, 0), 2);
    assert_int_equal(pdvm_session_seq_pos(s, 1), 6);
    assert_int_equal(pdvm_session_seq_pos(s, 2), 0);
    assert_memory_equal(pdvm_session_logits(s, 1), saved, nv * sizeof *saved);
    /* Exactly full is fine; one more is not. */
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, q, NULL, 3}), PDVM_OK);
    seq_check_rows(pdvm_session_logits(s, 2), st.expect[1] + 7 * nv, nv, 0.0);
    assert_int_equal(pdvm_session_seq_pos(s, 1), 8);
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){&st.tok[2][0], &q[1], NULL, 1}),
                     PDVM_ERR_CONTEXT_FULL);
    feed(s, 2, st.tok[2], 4);
    for (uint32_t i = 0; i < 4; i++)
        seq_check_rows(pdvm_session_logits(s, i), st.expect[2] + (size_t)i * nv, nv, 0.0);
    feed(s, 0, st.tok[0] + 3, 3);
    for (uint32_t i = 0; i < 3; i++)
        seq_check_rows(pdvm_session_logits(s, i), st.expect[0] + (size_t)(3 + i) * nv, nv, 0.0);
    free(saved);
    pdvm_session_free(s);
    pdvm_session_free(single);
    seq_streams_free(&st);
    pdvm_model_close(m);
}

/* Refused batches and bad arguments: an error, and nothing changes. */
static void invalid_arguments(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    const int32_t nv = (int32_t)n_vocab_of(m);
    pdvm_session *s = cpu_session(m, 16, 3);
    int32_t t[] = {1, 2, 3};
    uint32_t q[] = {0, 1, 2};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, q, NULL, 3}), PDVM_OK);
    const float *before = pdvm_session_logits(s, 2);
    assert_non_null(before);
    float first = before[0];
    assert_int_equal(pdvm_session_decode(NULL, &(pdvm_batch){t, q, NULL, 3}), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_decode(s, NULL), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){NULL, q, NULL, 3}), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, q, NULL, 0}), PDVM_ERR_INVALID_ARG);
    uint32_t bad_seq[] = {0, 3, 1};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, bad_seq, NULL, 3}),
                     PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "sequence 3 (at 1)"));
    int32_t bad_lo[] = {1, -1}, bad_hi[] = {nv, 1};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){bad_lo, q, NULL, 2}),
                     PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){bad_hi, q, NULL, 2}),
                     PDVM_ERR_INVALID_ARG);
    const float *lg = (const float *)1;
    assert_int_equal(pdvm_session_eval(s, t, 0, &lg), PDVM_ERR_INVALID_ARG);
    assert_null(lg);
    for (uint32_t k = 0; k < 3; k++) assert_int_equal(pdvm_session_seq_pos(s, k), 1);
    assert_ptr_equal(pdvm_session_logits(s, 2), before);
    assert_true(before[0] == first);
    for (size_t i = 0; i < 3; i++) assert_non_null(pdvm_session_logits(s, i));
    pdvm_session_free(s);
    pdvm_model_close(m);
}

/* n_seq at its bounds and the accessors on NULL or out of range. */
static void n_seq_bounds(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    pdvm_session_params p = pdvm_session_default_params();
    p.backend = PDVM_BACKEND_CPU;
    p.n_ctx = 4;
    p.n_seq = 257;
    pdvm_session *s = NULL;
    assert_int_equal(pdvm_session_create(m, &p, &s), PDVM_ERR_INVALID_ARG);
    assert_null(s);
    p.n_seq = 256;
    assert_int_equal(pdvm_session_create(m, &p, &s), PDVM_OK);
    assert_int_equal(pdvm_session_n_seq(s), 256);
    int32_t t[] = {1, 1};
    uint32_t q[] = {255, 0};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, q, NULL, 2}), PDVM_OK);
    assert_int_equal(pdvm_session_seq_pos(s, 255), 1);
    assert_int_equal(pdvm_session_seq_pos(s, 256), 0);
    /* The same token at position 0 of two sequences: the same logits. */
    seq_check_rows(pdvm_session_logits(s, 0), pdvm_session_logits(s, 1), n_vocab_of(m), 0.0);
    pdvm_session_free(s);
    p.n_seq = 0;
    assert_int_equal(pdvm_session_create(m, &p, &s), PDVM_OK);
    assert_int_equal(pdvm_session_n_seq(s), 1);
    pdvm_session_free(s);
    assert_null(pdvm_session_logits(NULL, 0));
    assert_int_equal(pdvm_session_seq_pos(NULL, 0), 0);
    assert_int_equal(pdvm_session_n_seq(NULL), 0);
    pdvm_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interleaved_equals_alone),
        cmocka_unit_test(mixed_prompts_and_decode_tokens),
        cmocka_unit_test(logits_flags),
        cmocka_unit_test(truncate_stories),
        cmocka_unit_test(truncate_sliding_window),
        cmocka_unit_test(context_full_one_sequence),
        cmocka_unit_test(invalid_arguments),
        cmocka_unit_test(n_seq_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
