/* Several sequences in one batched GPU pass (gpu_chain_batch.h): tokens of
 * different sequences interleaved in one pdvm_session_decode, prompt
 * chunks next to single decode tokens, against each sequence fed alone
 * token by token through the decode chain (a one-sequence session, one
 * token per call).
 * - mixed: three sequences in random steps (each a prompt chunk of 2..CHUNK
 *   tokens or one token, the step's tokens interleaved at random, logits
 *   for every token or for the last of each sequence): every kept row
 *   within TOL of the lone sequence's, the rows not kept NULL, positions as
 *   fed. The batch buffer is poisoned with NaN before each pass and the KV
 *   caches once at the start, so a value read unwritten (a slot no token
 *   of the sequence wrote, a row a pass skipped) turns the logits to NaN.
 *   At the driver's limits and at PDVM_LIMITS=minimum (the lone reference
 *   at the driver's limits).
 * - greedy: eight sequences starting one step apart (prompt chunks of the
 *   late ones beside decode tokens of the early ones, one decode call a
 *   step as the server makes it): the greedy ids equal each sequence's
 *   alone (its prompt in one call, then a token a call), and every step
 *   costs the same dispatches whatever its sequences (weights read once a
 *   step, not once a sequence).
 * - truncate: a sequence fed in mixed steps, cut back
 *   (pdvm_session_seq_truncate) and refilled in mixed steps equals a fresh
 *   sequence fed the kept prefix and the new tokens; the other sequences,
 *   fed in the same steps, match theirs alone throughout. At the driver's
 *   limits, PDVM_LIMITS=minimum and with 16 KiB blocks: KV slabs of 256
 *   positions, each in a buffer of its own (a slab's sequences served by
 *   one dispatch per buffer), the cut sequence running into its second
 *   slab beside the others' first, cut back into its first and refilled
 *   into its second.
 * - architectures: the mixed check on the qwen2 (Q/K/V biases,
 *   NEOX RoPE) and phi3 (NEOX with LongRoPE factors, fused QKV and gate/up)
 *   test models (tests/arch_models.c).
 * TOL = 1e-3, test_gpu_batch.c's bound: both paths keep K/V in f16 and sum
 * in f32 in different orders, so a value near an f16 rounding boundary may
 * round the other way (measured: at most ~1e-4 on llvmpipe), while a wrong
 * sequence, position or row gives O(1) or NaN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch_models.h"
#include "gpu_chain_batch.h"
#include "gpu_state.h"
#include "quant.h"
#include "seq_check.h"
#include "session.h"
#include "test_util.h"

#define TOL 1e-3

enum { N_MIX = 3, CHUNK = 40, MAX_STEP = 8 * CHUNK, N_GREEDY = 8, N_GEN = 12, PROMPT_CHUNK = 7 };

static pdvm_model *open_model(const char *name)
{
    char path[TEST_PATH_MAX];
    test_model_path(name, path, sizeof path);
    pdvm_model *m = NULL;
    if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s: %s", name, pdvm_last_error());
    assert_true(gpu_batch_supported(m, NULL));
    return m;
}

static gpu_state *gpu_of(pdvm_session *s) { return pdvm_session_state(s); }

/* NaN in every f16 of each KV buffer: attention that reads a slot nobody
 * wrote gives NaN. */
static void poison_kv(gpu_state *g)
{
    for (uint32_t b = 0; b < g->kvp.n_bufs; b++) {
        uint64_t n = g->kvp.buf_bytes[b] / 4;
        uint32_t *w = malloc(n * 4);
        assert_non_null(w);
        for (uint64_t i = 0; i < n; i++) w[i] = 0x7e007e00u; /* two f16 NaNs */
        assert_int_equal(pdvm_gl_buffer_write(g->gl, &g->kbufs[b], 0, n * 4, w), PDVM_OK);
        assert_int_equal(pdvm_gl_buffer_write(g->gl, &g->vbufs[b], 0, n * 4, w), PDVM_OK);
        free(w);
    }
}

/* A session on a context of its own, opened with env (NAME=VALUE, or
 * NULL) set. */
static pdvm_session *session(pdvm_model *m, uint32_t n_ctx, uint32_t n_seq, bool poisoned,
                             const char *env)
{
    pdvm_session_params p = pdvm_session_default_params();
    p.n_ctx = n_ctx;
    p.n_seq = n_seq;
    pdvm_session *s = NULL;
    char name[64] = "";
    if (env) {
        const char *eq = strchr(env, '=');
        assert_true(eq && (size_t)(eq - env) < sizeof name);
        memcpy(name, env, (size_t)(eq - env));
        name[eq - env] = '\0';
        setenv(name, eq + 1, 1);
    }
    pdvm_status st = pdvm_session_create(m, &p, &s);
    if (env) unsetenv(name);
    if (st != PDVM_OK) fail_msg("%s", pdvm_last_error());
    gpu_of(s)->batch_min = 2; /* every batch of several tokens batched */
    if (poisoned) {
        poison_kv(gpu_of(s));
        gpu_of(s)->poison_batch = true;
    }
    return s;
}

/* ------------------------------------------------------- mixed steps */

/* Tokens fed to one sequence: tok[0..n) at positions pos0.., the first
 * n_checked of them checked against expect (the lone sequence's logits,
 * [position][n_vocab]). */
typedef struct lane {
    uint32_t seq;
    const int32_t *tok;
    const float *expect;
    uint32_t pos0, n, n_checked, fed;
} lane;

typedef struct mix_result {
    double worst;
    uint32_t rows, batches, mixed; /* mixed: several sequences, one with a chunk */
} mix_result;

/* One step's batch. */
typedef struct step_buf {
    int32_t tok[MAX_STEP];
    uint32_t seq[MAX_STEP], lane[MAX_STEP], pos[MAX_STEP];
    bool keep[MAX_STEP];
    size_t n;
} step_buf;

/* take[k] tokens of each lane k, interleaved at random (each lane's in
 * order). */
static void interleave(const lane *ln, size_t n_lanes, const uint32_t *take, uint64_t *rng,
                       step_buf *b)
{
    uint32_t left[MAX_STEP], done[MAX_STEP] = {0}, total = 0;
    for (size_t k = 0; k < n_lanes; k++) total += left[k] = take[k];
    assert_true(total <= MAX_STEP);
    b->n = 0;
    while (b->n < total) {
        uint32_t r = (uint32_t)(test_rand_u64(rng) % (total - b->n)), k = 0;
        while (r >= left[k]) r -= left[k++];
        const lane *l = &ln[k];
        uint32_t i = l->fed + done[k]++;
        left[k]--;
        b->tok[b->n] = l->tok[i];
        b->seq[b->n] = l->seq;
        b->lane[b->n] = (uint32_t)k;
        b->pos[b->n] = l->pos0 + i;
        b->keep[b->n] = test_rand_u64(rng) & 1;
        b->n++;
    }
}

static bool last_of_seq(const step_buf *b, size_t i)
{
    for (size_t j = i + 1; j < b->n; j++)
        if (b->seq[j] == b->seq[i]) return false;
    return true;
}

/* Decode b in one call and check every row against its lane. */
static void run_step(pdvm_session *s, lane *ln, size_t n_lanes, const step_buf *b, bool flags,
                     uint32_t n_vocab, mix_result *r)
{
    pdvm_batch batch = {b->tok, b->seq, flags ? b->keep : NULL, b->n};
    if (pdvm_session_decode(s, &batch) != PDVM_OK)
        fail_msg("step %u: %s", r->batches, pdvm_last_error());
    uint32_t count[MAX_STEP] = {0}, n_seqs = 0;
    bool chunk = false;
    for (size_t i = 0; i < b->n; i++) {
        n_seqs += count[b->lane[i]]++ == 0;
        chunk |= count[b->lane[i]] > 1;
        const lane *l = &ln[b->lane[i]];
        bool keep = flags ? b->keep[i] : last_of_seq(b, i);
        const float *got = pdvm_session_logits(s, i);
        if (!keep) {
            assert_null(got);
            continue;
        }
        assert_non_null(got);
        if (b->pos[i] - l->pos0 >= l->n_checked) continue;
        const float *want = l->expect + (size_t)b->pos[i] * n_vocab;
        double e = rel_err(got, want, n_vocab);
        if (!(e <= TOL))
            fail_msg("step %u, token %zu (sequence %u, position %u): relative error %.3g",
                     r->batches, i, b->seq[i], b->pos[i], e);
        if (e > r->worst) r->worst = e;
        r->rows++;
    }
    for (size_t k = 0; k < n_lanes; k++) {
        ln[k].fed += count[k];
        assert_int_equal(pdvm_session_seq_pos(s, ln[k].seq), ln[k].pos0 + ln[k].fed);
    }
    r->mixed += n_seqs > 1 && chunk;
    r->batches++;
}

/* Feed every lane to its end in random steps: each lane with tokens left
 * gets one token or a chunk of 2..CHUNK; flags every other step. */
static void feed_lanes(pdvm_session *s, lane *ln, size_t n_lanes, uint32_t n_vocab, uint64_t seed,
                       mix_result *r)
{
    step_buf *b = malloc(sizeof *b);
    assert_non_null(b);
    uint64_t rng = seed;
    for (;;) {
        uint32_t take[MAX_STEP] = {0}, total = 0;
        for (size_t k = 0; k < n_lanes; k++) {
            uint32_t left = ln[k].n - ln[k].fed;
            uint32_t want = test_rand_u64(&rng) & 1 ? 1 : 2 + test_rand_u64(&rng) % (CHUNK - 1);
            total += take[k] = want < left ? want : left;
        }
        if (total == 0) break;
        interleave(ln, n_lanes, take, &rng, b);
        run_step(s, ln, n_lanes, b, r->batches % 2 == 0, n_vocab, r);
    }
    free(b);
}

/* N_MIX random streams of len[] tokens and what each gives alone, token by
 * token in a one-sequence session: the reference every test compares to. */
static void streams_alone(pdvm_model *m, uint32_t n_ctx, const uint32_t *len, uint32_t n_vocab,
                          uint64_t seed, seq_streams *st)
{
    seq_streams_random(st, N_MIX, len, n_vocab, seed);
    pdvm_session *single = session(m, n_ctx, 1, false, NULL);
    seq_streams_expect(st, single);
    pdvm_session_free(single);
}

/* Three streams of len[] tokens fed in mixed steps to a session opened
 * with env against each alone (at the driver's limits: the lone reference
 * is the same whatever limits the batched side runs at). */
static void mixed_on(pdvm_model *m, const char *what, const char *env, uint32_t n_ctx,
                     const uint32_t *len, uint64_t seed, uint32_t want_spl)
{
    const uint32_t n_vocab = pdvm_model_hparams(m)->n_vocab;
    seq_streams st;
    streams_alone(m, n_ctx, len, n_vocab, seed, &st);
    pdvm_session *multi = session(m, n_ctx, N_MIX, true, env);
    lane ln[N_MIX];
    for (uint32_t q = 0; q < N_MIX; q++)
        ln[q] = (lane){q, st.tok[q], st.expect[q], 0, len[q], len[q], 0};
    mix_result r = {0};
    feed_lanes(multi, ln, N_MIX, n_vocab, seed + 1, &r);
    print_message("%-28s %u steps (%u mixed), %u rows, KV slabs/layer %u in %u buffer(s), worst "
                  "rel err %.2e\n", what, r.batches, r.mixed, r.rows,
                  gpu_of(multi)->kvp.slabs_per_layer, gpu_of(multi)->kvp.n_bufs, r.worst);
    assert_non_null(gpu_of(multi)->batch); /* the batched path ran */
    assert_int_equal(gpu_of(multi)->kvp.slabs_per_layer, want_spl);
    assert_true(r.mixed > 0 && r.rows > 0);
    pdvm_session_free(multi);
    seq_streams_free(&st);
}

static void mixed(const char *name, const char *what, const char *env, uint32_t n_ctx,
                  const uint32_t *len, uint64_t seed, uint32_t want_spl)
{
    pdvm_model *m = open_model(name);
    mixed_on(m, what, env, n_ctx, len, seed, want_spl);
    pdvm_model_close(m);
}

static void mixed_driver_limits(void **state)
{
    (void)state;
    const uint32_t len[N_MIX] = {70, 23, 51};
    mixed("stories260K.gguf", "f32, driver limits", NULL, 128, len, 100, 1);
    mixed("stories260K-q4_0.gguf", "q4_0, driver limits", NULL, 128, len, 110, 1);
}

static void mixed_minimum_limits(void **state)
{
    (void)state;
    const uint32_t len[N_MIX] = {44, 9, 37};
    mixed("stories260K-q8_0.gguf", "q8_0, PDVM_LIMITS=minimum", "PDVM_LIMITS=minimum", 64, len,
          120, 1);
}

/* ------------------------------------------------------------ greedy */

/* Sequence q's prompt (len[q] ids) then N_GEN greedy ids, alone: the
 * prompt in one call, then one token a call. */
static void greedy_alone(pdvm_session *single, const int32_t *prompt, uint32_t n,
                         uint32_t n_vocab, int32_t *out)
{
    pdvm_session_reset(single);
    const float *lg = NULL;
    if (pdvm_session_eval(single, prompt, n, &lg) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    for (uint32_t i = 0; i < N_GEN; i++) {
        out[i] = seq_argmax(lg, n_vocab);
        if (i + 1 < N_GEN && pdvm_session_eval(single, &out[i], 1, &lg) != PDVM_OK)
            fail_msg("%s", pdvm_last_error());
    }
}

typedef struct greedy_seq {
    int32_t tok[64]; /* prompt, then the ids generated */
    uint32_t n_prompt, n;
    int32_t alone[N_GEN];
} greedy_seq;

/* Sequence q joins at step q; a step feeds each joined sequence the next
 * PROMPT_CHUNK ids of its prompt or its last id, in one decode call. */
static void greedy_together(pdvm_model *m, const char *what, const char *env, uint64_t seed)
{
    const uint32_t n_vocab = pdvm_model_hparams(m)->n_vocab;
    greedy_seq *g = calloc(N_GREEDY, sizeof *g);
    step_buf *b = malloc(sizeof *b);
    assert_true(g && b);
    uint64_t rng = seed;
    pdvm_session *single = session(m, 128, 1, false, env);
    for (uint32_t q = 0; q < N_GREEDY; q++) {
        g[q].n_prompt = g[q].n = 2 + (uint32_t)(test_rand_u64(&rng) % 19);
        g[q].tok[0] = 1;
        for (uint32_t i = 1; i < g[q].n; i++)
            g[q].tok[i] = (int32_t)(test_rand_u64(&rng) % n_vocab);
        greedy_alone(single, g[q].tok, g[q].n_prompt, n_vocab, g[q].alone);
    }
    pdvm_session_free(single);
    pdvm_session *multi = session(m, 128, N_GREEDY, true, env);
    lane ln[N_GREEDY];
    for (uint32_t q = 0; q < N_GREEDY; q++) ln[q] = (lane){q, g[q].tok, NULL, 0, 0, 0, 0};
    uint64_t step_dispatches = 0;
    uint32_t steps = 0, widest = 0;
    for (bool busy = true; busy; steps++) {
        uint32_t take[N_GREEDY] = {0}, n_seqs = 0;
        busy = false;
        for (uint32_t q = 0; q < N_GREEDY && q <= steps; q++) {
            if (g[q].n - g[q].n_prompt == N_GEN) continue; /* done */
            uint32_t left = g[q].n - ln[q].fed;
            take[q] = left < PROMPT_CHUNK ? left : PROMPT_CHUNK;
            n_seqs++;
            busy = true;
        }
        if (!busy) break;
        for (uint32_t q = 0; q < N_GREEDY; q++) ln[q].n = g[q].n;
        interleave(ln, N_GREEDY, take, &rng, b);
        pdvm_session_stats s0, s1;
        pdvm_session_get_stats(multi, &s0);
        mix_result r = {0};
        run_step(multi, ln, N_GREEDY, b, false, n_vocab, &r);
        pdvm_session_get_stats(multi, &s1);
        uint64_t d = s1.dispatches - s0.dispatches;
        if (steps == 0) step_dispatches = d;
        else if (b->n > 1 && d != step_dispatches) /* one token alone: the decode chain */
            fail_msg("step %u (%u sequences): %llu dispatches, step 0 (one): %llu", steps, n_seqs,
                     (unsigned long long)d, (unsigned long long)step_dispatches);
        if (n_seqs > widest) widest = n_seqs;
        for (size_t i = 0; i < b->n; i++) {
            greedy_seq *gs = &g[b->seq[i]];
            if (!last_of_seq(b, i) || ln[b->seq[i]].fed < gs->n) continue;
            gs->tok[gs->n++] = seq_argmax(pdvm_session_logits(multi, i), n_vocab);
        }
    }
    for (uint32_t q = 0; q < N_GREEDY; q++)
        for (uint32_t i = 0; i < N_GEN; i++)
            if (g[q].tok[g[q].n_prompt + i] != g[q].alone[i])
                fail_msg("%s: sequence %u, greedy id %u: %d together, %d alone", what, q, i,
                         g[q].tok[g[q].n_prompt + i], g[q].alone[i]);
    print_message("%-28s %u sequences x %u greedy ids equal to each alone; %u steps (up to %u "
                  "sequences), %llu dispatches each\n", what, N_GREEDY, N_GEN, steps, widest,
                  (unsigned long long)step_dispatches);
    assert_int_equal(widest, N_GREEDY);
    pdvm_session_free(multi);
    free(g);
    free(b);
}

static void greedy_driver_limits(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    greedy_together(m, "f32, driver limits", NULL, 200);
    pdvm_model_close(m);
    m = open_model("stories260K-q8_0.gguf");
    greedy_together(m, "q8_0, driver limits", NULL, 210);
    pdvm_model_close(m);
}

static void greedy_minimum_limits(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K-q4_0.gguf");
    greedy_together(m, "q4_0, PDVM_LIMITS=minimum", "PDVM_LIMITS=minimum", 220);
    pdvm_model_close(m);
}

/* ---------------------------------------------------------- truncate */

/* Sequence 1 fed its first `keep` ids and n_x others, cut back to keep and
 * fed the rest of its stream, sequences 0 and 2 fed beside it throughout;
 * every checked row against the lone streams. */
static void truncate_refill(const char *name, const char *what, const char *env, uint32_t n_ctx,
                            const uint32_t *len, uint32_t keep, uint32_t n_x, uint64_t seed)
{
    pdvm_model *m = open_model(name);
    const uint32_t n_vocab = pdvm_model_hparams(m)->n_vocab;
    seq_streams st;
    streams_alone(m, n_ctx, len, n_vocab, seed, &st);
    int32_t *px = malloc((keep + n_x) * sizeof *px);
    assert_non_null(px);
    memcpy(px, st.tok[1], keep * sizeof *px);
    for (uint32_t i = 0; i < n_x; i++) px[keep + i] = (int32_t)(test_rand_u64(&seed) % n_vocab);
    pdvm_session *multi = session(m, n_ctx, N_MIX, true, env);
    lane a[N_MIX] = {{0, st.tok[0], st.expect[0], 0, len[0] / 2, len[0] / 2, 0},
                     {1, px, st.expect[1], 0, keep + n_x, keep, 0},
                     {2, st.tok[2], st.expect[2], 0, len[2] / 2, len[2] / 2, 0}};
    mix_result r1 = {0}, r2 = {0};
    feed_lanes(multi, a, N_MIX, n_vocab, seed + 1, &r1);
    assert_int_equal(pdvm_session_seq_truncate(multi, 1, keep), PDVM_OK);
    assert_int_equal(pdvm_session_seq_pos(multi, 1), keep);
    lane b[N_MIX];
    for (uint32_t q = 0; q < N_MIX; q++) {
        uint32_t from = q == 1 ? keep : len[q] / 2;
        b[q] = (lane){q, st.tok[q] + from, st.expect[q], from, len[q] - from, len[q] - from, 0};
    }
    feed_lanes(multi, b, N_MIX, n_vocab, seed + 2, &r2);
    print_message("%-28s sequence 1 cut %u -> %u and refilled with %u: %u + %u steps, %u rows, "
                  "worst rel err %.2e\n", what, keep + n_x, keep, len[1] - keep, r1.batches,
                  r2.batches, r1.rows + r2.rows, r1.worst > r2.worst ? r1.worst : r2.worst);
    assert_true(r2.mixed > 0 && r2.rows > 0);
    pdvm_session_free(multi);
    free(px);
    seq_streams_free(&st);
    pdvm_model_close(m);
}

static void truncate_driver_limits(void **state)
{
    (void)state;
    const uint32_t len[N_MIX] = {60, 48, 30};
    truncate_refill("stories260K.gguf", "f32, driver limits", NULL, 96, len, 20, 25, 300);
}

static void truncate_minimum_limits(void **state)
{
    (void)state;
    const uint32_t len[N_MIX] = {30, 40, 24};
    truncate_refill("stories260K-q8_0.gguf", "q8_0, PDVM_LIMITS=minimum", "PDVM_LIMITS=minimum",
                    64, len, 11, 20, 310);
}

/* 16 KiB blocks: 256 positions a slab, every slab a buffer of its own.
 * Sequence 1 runs into its second slab beside the others' first ones, is
 * cut back into its first and refilled into its second. */
static void truncate_split_kv(void **state)
{
    (void)state;
    const uint32_t len[N_MIX] = {100, 262, 100};
    truncate_refill("stories260K.gguf", "f32, 16 KiB blocks", "PDVM_MAX_SSBO_BYTES=16384", 320,
                    len, 240, 22, 320);
}

/* ----------------------------------------------------- architectures */

/* The architecture test models the batched path covers beyond Llama's:
 * qwen2 (Q/K/V biases, NEOX RoPE, tied output) and phi3 (NEOX RoPE with
 * LongRoPE factors, fused QKV and gate/up): mixed steps against each
 * sequence alone on the decode chain (greedy runs of one sequence on them
 * are test_gpu_batch.c's; eight here would take minutes of qwen2's
 * 151,936-row output projection on llvmpipe). */
static void architectures(void **state)
{
    (void)state;
    char vocab[TEST_PATH_MAX], dir[] = "/tmp/pdvm-bseq-XXXXXX", path[TEST_PATH_MAX + 64];
    test_model_path("vocab", vocab, sizeof vocab);
    assert_non_null(mkdtemp(dir));
    const char *names[] = {"qwen2", "phi3"};
    for (size_t i = 0; i < 2; i++) {
        const arch_spec *a = arch_spec_find(names[i]);
        assert_non_null(a);
        snprintf(path, sizeof path, "%s/%s.gguf", dir, a->name);
        assert_true(arch_model_write(a, PDVM_TYPE_Q8_0, 21, false, vocab, path));
        pdvm_model *m = NULL;
        if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s: %s", path, pdvm_last_error());
        const char *why = NULL;
        if (!gpu_batch_supported(m, &why)) fail_msg("%s: %s", a->name, why);
        const uint32_t len[N_MIX] = {30, 11, 24};
        mixed_on(m, a->name, NULL, 64, len, 400 + i, 1);
        pdvm_model_close(m);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixed_driver_limits),    cmocka_unit_test(mixed_minimum_limits),
        cmocka_unit_test(greedy_driver_limits),
        cmocka_unit_test(greedy_minimum_limits),  cmocka_unit_test(truncate_driver_limits),
        cmocka_unit_test(truncate_minimum_limits), cmocka_unit_test(truncate_split_kv),
        cmocka_unit_test(architectures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
