/* Sessions of several sequences on the GPU backend (llvmpipe in CI): each
 * sequence has its own KV slabs, patched into the chain per token. Three
 * sequences fed in random interleaved batches (prompts next to single
 * tokens, random logits flags) give the logits a lone sequence gets in a
 * one-sequence session of the same chain, within TOL and with identical
 * greedy ids: fused and unfused, at the driver's limits, at
 * PDVM_LIMITS=minimum and with 16 KiB blocks (the KV cache of a layer in
 * slabs of 256 positions, a sequence crossing into its second). Truncating
 * a sequence and feeding it again equals a fresh sequence; on the
 * sliding-window models a truncation the ring cannot serve is refused
 * and one it can is exact. A full sequence leaves the others running, and
 * the KV cache and the memory budget count every sequence.
 *
 * TOL = 1e-3, test_gpu_e2e's per-step bound: unfused, both sides run the
 * same dispatches on the same values, so the rows are expected
 * bit-identical (the worst is printed); fused, a batch of several tokens
 * takes the batched path (test_gpu_batch_seq.c), whose f16 K/V and sums
 * come in another order than the lone token-by-token chain's. */
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
#include "gpu_state.h"
#include "pdvm_bench.h"
#include "quant.h"
#include "seq_check.h"
#include "session.h"
#include "test_util.h"

#define TOL 1e-3

static pdvm_model *open_model(const char *name)
{
    char path[TEST_PATH_MAX];
    test_model_path(name, path, sizeof path);
    pdvm_model *m = NULL;
    if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s: %s", name, pdvm_last_error());
    return m;
}

static pdvm_status gpu_session(pdvm_model *m, uint32_t n_ctx, uint32_t n_seq, bool unfused,
                               pdvm_session **s)
{
    pdvm_session_params p = pdvm_session_default_params();
    p.n_ctx = n_ctx;
    p.n_seq = n_seq;
    p.unfused = unfused;
    *s = NULL;
    return pdvm_session_create(m, &p, s);
}

static pdvm_session *must_session(pdvm_model *m, uint32_t n_ctx, uint32_t n_seq, bool unfused)
{
    pdvm_session *s;
    if (gpu_session(m, n_ctx, n_seq, unfused, &s) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return s;
}

static const gpu_state *gpu_of(pdvm_session *s) { return pdvm_session_state(s); }

/* Streams of len[] fed interleaved to an n_seq session against a lone
 * sequence, on both chains; returns the KV slabs per layer used. */
static uint32_t interleaved(pdvm_model *m, const char *what, uint32_t n_ctx, const uint32_t *len,
                            uint64_t seed)
{
    uint32_t spl = 0;
    for (int unfused = 0; unfused < 2; unfused++) {
        seq_streams st;
        seq_streams_random(&st, 3, len, pdvm_model_hparams(m)->n_vocab, seed);
        pdvm_session *single = must_session(m, n_ctx, 1, unfused);
        seq_streams_expect(&st, single);
        pdvm_session_free(single);
        pdvm_session *multi = must_session(m, n_ctx, 3, unfused);
        spl = gpu_of(multi)->kvp.slabs_per_layer;
        seq_result r;
        seq_check_interleaved(multi, &st, seed + 1, unfused, TOL, &r);
        print_message("%-22s %-7s %u batches (%u mixed), %u rows, worst rel err %.2e\n", what,
                      unfused ? "unfused" : "fused", r.batches, r.mixed, r.rows, r.worst);
        assert_true(r.mixed > 0 && r.rows > 0);
        assert_int_equal(r.argmax_ok, r.rows);
        pdvm_session_free(multi);
        seq_streams_free(&st);
    }
    return spl;
}

static void interleaved_models(void **state)
{
    (void)state;
    const char *models[] = {"stories260K.gguf", "stories260K-q4_0.gguf"};
    const uint32_t len[] = {20, 14, 26};
    for (size_t k = 0; k < 2; k++) {
        pdvm_model *m = open_model(models[k]);
        interleaved(m, models[k], 64, len, 40 + k);
        pdvm_model_close(m);
    }
}

static void interleaved_minimum_limits(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K-q8_0.gguf");
    const uint32_t len[] = {12, 18, 9};
    setenv("PDVM_LIMITS", "minimum", 1);
    interleaved(m, "q8_0 PDVM_LIMITS=min", 32, len, 50);
    unsetenv("PDVM_LIMITS");
    pdvm_model_close(m);
}

/* 16 KiB blocks: 256 positions a slab; sequence 1 crosses into its second. */
static void interleaved_split_kv(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    const uint32_t len[] = {10, 264, 12};
    setenv("PDVM_MAX_SSBO_BYTES", "16384", 1);
    uint32_t spl = interleaved(m, "f32 16 KiB blocks", 512, len, 60);
    unsetenv("PDVM_MAX_SSBO_BYTES");
    assert_int_equal(spl, 2);
    pdvm_model_close(m);
}

/* A larger shape (random weights filled on the GPU), the fused chain. */
static void interleaved_synthetic_stories15m(void **state)
{
    (void)state;
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("stories15M", PDVM_TYPE_Q8_0, &m), PDVM_OK);
    const uint32_t len[] = {5, 3, 6};
    seq_streams st;
    seq_streams_random(&st, 3, len, pdvm_model_hparams(m)->n_vocab, 70);
    pdvm_session *single = must_session(m, 16, 1, false);
    seq_streams_expect(&st, single);
    pdvm_session_free(single);
    pdvm_session *multi = must_session(m, 16, 3, false);
    seq_result r;
    seq_check_interleaved(multi, &st, 71, true, TOL, &r);
    print_message("synthetic stories15M   fused   %u batches, %u rows, worst rel err %.2e\n",
                  r.batches, r.rows, r.worst);
    assert_true(r.rows > 0);
    assert_int_equal(r.argmax_ok, r.rows);
    pdvm_session_free(multi);
    seq_streams_free(&st);
    pdvm_synthetic_free(m);
}

/* Feed n tokens to sequence q, every logit kept. */
static void feed(pdvm_session *s, uint32_t q, const int32_t *toks, size_t n)
{
    uint32_t seq[64];
    bool keep[64];
    assert_true(n <= 64);
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) seq[i] = q, keep[i] = true;
    if (pdvm_session_decode(s, &(pdvm_batch){toks, seq, keep, n}) != PDVM_OK)
        fail_msg("%s", pdvm_last_error());
}

/* Rows 0..n-1 of the last batch against rows first.. of a stream. */
static void check_rows(pdvm_session *s, const seq_streams *st, uint32_t q, uint32_t first,
                       uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const float *got = pdvm_session_logits(s, i);
        const float *want = st->expect[q] + (size_t)(first + i) * st->n_vocab;
        seq_check_rows(got, want, st->n_vocab, TOL);
        assert_int_equal(seq_argmax(got, st->n_vocab), seq_argmax(want, st->n_vocab));
    }
}

/* A one-sequence and a two-sequence session on one model, reused (reset)
 * by each truncation case. */
typedef struct trunc_pair {
    pdvm_model *m;
    pdvm_session *single, *multi;
} trunc_pair;

static void pair_open(trunc_pair *p, pdvm_model *m)
{
    p->m = m;
    p->single = must_session(m, 64, 1, false);
    p->multi = must_session(m, 64, 2, false);
}

static void pair_close(trunc_pair *p)
{
    pdvm_session_free(p->single);
    pdvm_session_free(p->multi);
}

/* Sequence 1 (sequence 0 busy too) fed prefix + x, cut back to the
 * prefix, fed y: y's logits as a fresh sequence fed prefix + y. Where the
 * model has sliding-window layers of window w and the sequence is past
 * it, a cut that needs overwritten slots is refused instead. */
static void truncate_refeed(trunc_pair *p, uint32_t n_prefix, uint32_t n_x, uint32_t window,
                            const char *what)
{
    const uint32_t n_y = 8, len[] = {n_prefix + n_y, 6, n_x};
    seq_streams st; /* 0: prefix + y, 1: sequence 0's, 2: x */
    seq_streams_random(&st, 3, len, pdvm_model_hparams(p->m)->n_vocab, 80 + n_prefix);
    seq_streams_expect(&st, p->single);
    pdvm_session *s = p->multi;
    pdvm_session_reset(s);
    feed(s, 0, st.tok[1], 3);
    feed(s, 1, st.tok[0], n_prefix);
    feed(s, 1, st.tok[2], n_x);
    uint32_t cur = n_prefix + n_x;
    if (window && cur > window && n_prefix > 0 && n_prefix + 1 < cur) {
        assert_int_equal(pdvm_session_seq_truncate(s, 1, n_prefix), PDVM_ERR_UNSUPPORTED);
        assert_non_null(strstr(pdvm_last_error(), "sequence 1"));
        assert_int_equal(pdvm_session_seq_pos(s, 1), cur);
        print_message("%-8s truncate %u -> %u refused (window %u): %s\n", what, cur, n_prefix,
                      window, pdvm_last_error());
        seq_streams_free(&st);
        return;
    }
    assert_int_equal(pdvm_session_seq_truncate(s, 1, n_prefix), PDVM_OK);
    feed(s, 1, st.tok[0] + n_prefix, n_y);
    check_rows(s, &st, 0, n_prefix, n_y);
    feed(s, 0, st.tok[1] + 3, 3);
    check_rows(s, &st, 1, 3, 3);
    print_message("%-8s truncate %u -> %u, refeed %u: equal to a fresh sequence\n", what, cur,
                  n_prefix, n_y);
    seq_streams_free(&st);
}

static void truncate_stories(void **state)
{
    (void)state;
    trunc_pair p;
    pair_open(&p, open_model("stories260K.gguf"));
    truncate_refeed(&p, 20, 10, 0, "stories");
    truncate_refeed(&p, 0, 10, 0, "stories");
    pair_close(&p);
    pdvm_model_close(p.m);
}

/* gemma2 (window 8) and gemma3 (16): a sequence inside its window cuts
 * anywhere, one past it only its last token, and refuses a deeper cut. */
static void truncate_sliding_window(void **state)
{
    (void)state;
    char dir[] = "/tmp/pdvm-gseq-XXXXXX", vocab[TEST_PATH_MAX], path[TEST_PATH_MAX];
    test_model_path("vocab/ggml-vocab-llama-spm.gguf", path, sizeof path); /* the specs' vocab */
    snprintf(vocab, sizeof vocab, "%s/vocab", test_models_dir());
    assert_non_null(mkdtemp(dir));
    const char *specs[] = {"gemma2", "gemma3"};
    for (size_t k = 0; k < 2; k++) {
        const arch_spec *spec = arch_spec_find(specs[k]);
        assert_non_null(spec);
        uint32_t type, w = spec->n_swa;
        assert_true(arch_type_from_name("f32", &type));
        snprintf(path, sizeof path, "%s/%s.gguf", dir, specs[k]);
        assert_true(arch_model_write(spec, type, 99, false, vocab, path));
        pdvm_model *m = NULL;
        if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s: %s", path, pdvm_last_error());
        pdvm_session *probe;
        pdvm_status st = gpu_session(m, 64, 1, false, &probe);
        if (st == PDVM_ERR_UNSUPPORTED) {
            print_message("%s: the GPU backend does not run it yet (%s)\n", specs[k],
                          pdvm_last_error());
        } else {
            assert_int_equal(st, PDVM_OK);
            pdvm_session_free(probe);
            trunc_pair p;
            pair_open(&p, m);
            const gpu_kv_plan *kv = &gpu_of(p.multi)->kvp;
            assert_true(kv->held[0] == w || kv->held[1] == w); /* a ring */
            truncate_refeed(&p, w / 2 - 1, 2, w, specs[k]); /* inside the window */
            truncate_refeed(&p, w + 9, 1, w, specs[k]);     /* the last token only */
            truncate_refeed(&p, w + 4, 6, w, specs[k]);     /* refused */
            truncate_refeed(&p, 0, w + 5, w, specs[k]);     /* everything */
            pair_close(&p);
        }
        pdvm_model_close(m);
        unlink(path);
    }
    rmdir(dir);
}

/* One sequence full: the batch is refused whole, the others go on. */
static void context_full_one_sequence(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    const uint32_t len[] = {5, 8};
    seq_streams st;
    seq_streams_random(&st, 2, len, pdvm_model_hparams(m)->n_vocab, 90);
    pdvm_session *single = must_session(m, 8, 1, false);
    seq_streams_expect(&st, single);
    pdvm_session_free(single);
    pdvm_session *s = must_session(m, 8, 2, false);
    feed(s, 1, st.tok[1], 8);
    feed(s, 0, st.tok[0], 2);
    int32_t t[] = {st.tok[0][2], st.tok[1][0]};
    uint32_t q[] = {0, 1};
    assert_int_equal(pdvm_session_decode(s, &(pdvm_batch){t, q, NULL, 2}), PDVM_ERR_CONTEXT_FULL);
    assert_non_null(strstr(pdvm_last_error(), "sequence 1"));
    assert_int_equal(pdvm_session_seq_pos(s, 0), 2);
    check_rows(s, &st, 0, 0, 2); /* the previous batch's rows are still there */
    feed(s, 0, st.tok[0] + 2, 3);
    check_rows(s, &st, 0, 2, 3);
    pdvm_session_free(s);
    seq_streams_free(&st);
    pdvm_model_close(m);
}

/* The KV cache is n_seq times one sequence's, and the budget check counts
 * it: refused with the sequences named. */
static void memory_counts_sequences(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    pdvm_session *one = must_session(m, 1024, 1, false), *four = must_session(m, 1024, 4, false);
    pdvm_session_stats a, b;
    pdvm_session_get_stats(one, &a);
    pdvm_session_get_stats(four, &b);
    assert_true(a.kv_mib > 0 && b.kv_mib == 4 * a.kv_mib);
    print_message("KV cache: %.3f MiB for one sequence, %.3f MiB for four\n", a.kv_mib, b.kv_mib);
    pdvm_session_free(one);
    pdvm_session_free(four);
    /* 5 MiB: the weights and one sequence fit, 32 sequences do not. */
    setenv("PDVM_MEM_AVAILABLE_MIB", "5", 1);
    pdvm_session *s;
    assert_int_equal(gpu_session(m, 1024, 1, false, &s), PDVM_OK);
    pdvm_session_free(s);
    assert_int_equal(gpu_session(m, 1024, 32, false, &s), PDVM_ERR_NOMEM);
    unsetenv("PDVM_MEM_AVAILABLE_MIB");
    assert_null(s);
    assert_non_null(strstr(pdvm_last_error(), "for n_ctx 1024 x 32 sequences"));
    assert_non_null(strstr(pdvm_last_error(), "fewer sequences"));
    pdvm_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interleaved_models),
        cmocka_unit_test(interleaved_minimum_limits),
        cmocka_unit_test(interleaved_split_kv),
        cmocka_unit_test(interleaved_synthetic_stories15m),
        cmocka_unit_test(truncate_stories),
        cmocka_unit_test(truncate_sliding_window),
        cmocka_unit_test(context_full_one_sequence),
        cmocka_unit_test(memory_counts_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
