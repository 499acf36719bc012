/* The batched prefill path (gpu_chain_batch.h) against the token-by-token
 * decode chain on the same GPU: after a prompt, the last token's logits
 * agree within TOL and greedy continuations of CONTINUE tokens are
 * identical. Prompts of 2, 7, 64 and 300 random token ids, in one batch,
 * in passes of a small ubatch (PDVM_UBATCH), and split in two batches (the
 * second attends to the cache the first wrote); on stories260K in f32,
 * f16, q8_0 and q4_0 and the Llama-architecture test models (llama3 with
 * rope_freqs, smollm with a tied output and one KV head); at the driver's
 * limits, PDVM_LIMITS=minimum, and 16 KiB SSBO blocks (KV slabs of 256
 * positions: the 300-token prompt's attention crosses two slabs and every
 * weight group is split into parts).
 * TOL: both paths store K/V in f16 and sum in f32, in different orders
 * (tiles vs one row per lane, online softmax in chunks vs per-chunk
 * partials): a K or V value near an f16 rounding boundary can round the
 * other way, which the model amplifies; free-running, the f16 cache
 * alone moves stories260K's logits by up to ~2.3e-3 against f32
 * (test_gpu_e2e.c), so 1e-3 bounds two such paths with margin (measured:
 * at most 8e-5 on llvmpipe) while any real error (a wrong position, a
 * missed key, a wrong row) gives O(1).
 * (qwen2: Q/K/V biases and NEOX RoPE; phi3: NEOX with fused QKV and up.)
 * The fallback decision: every other architecture is refused by
 * gpu_batch_supported with the feature it lacks, so it runs token by
 * token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch_models.h"
#include "gl_util.h"
#include "gpu_chain_batch.h"
#include "gpu_state.h"
#include "model.h"
#include "quant.h"
#include "test_util.h"

enum { CONTINUE = 12, N_CTX = 512 };
#define TOL 1e-3

static int32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

static gpu_state *state_for(pdvm_gl *gl, const pdvm_model *m, bool batched)
{
    pdvm_session_params p = pdvm_session_default_params();
    gpu_state *g = NULL;
    if (gpu_state_create(gl, m, &p, N_CTX, &g) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    g->no_batch = !batched;
    g->batch_min = 2; /* small batches take the batched path too */
    return g;
}

/* Prompt (split at `split` when not 0) then greedy tokens; ids out. */
static void run(gpu_state *g, const int32_t *prompt, uint32_t n, uint32_t split, float *first,
                int32_t *ids)
{
    const uint32_t n_vocab = (uint32_t)g->m->output.ne[1];
    float *lg = malloc(n_vocab * sizeof *lg);
    assert_non_null(lg);
    pdvm_status st = PDVM_OK;
    if (split) st = gpu_state_eval(g, prompt, split, 0, NULL);
    if (st == PDVM_OK) st = gpu_state_eval(g, prompt + split, n - split, split, first);
    if (st != PDVM_OK) fail_msg("prompt: %s", pdvm_last_error());
    memcpy(lg, first, n_vocab * sizeof *lg);
    for (uint32_t i = 0; i < CONTINUE; i++) {
        ids[i] = argmax(lg, n_vocab);
        if (gpu_state_eval(g, &ids[i], 1, n + i, lg) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    }
    free(lg);
}

static void compare(pdvm_gl *gl, const pdvm_model *m, const char *name, uint32_t n,
                    uint32_t split)
{
    const uint32_t n_vocab = (uint32_t)m->output.ne[1];
    int32_t *prompt = malloc(n * sizeof *prompt);
    float *lb = malloc(n_vocab * 4), *lt = malloc(n_vocab * 4);
    assert_true(prompt && lb && lt);
    uint64_t seed = n * 7919u + split;
    prompt[0] = 1;
    for (uint32_t i = 1; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        prompt[i] = (int32_t)(1 + (seed >> 33) % (n_vocab - 1));
    }
    for (uint32_t i = 0; i < n_vocab; i++) lb[i] = lt[i] = NAN;
    int32_t ib[CONTINUE], it[CONTINUE];
    gpu_state *gb = state_for(gl, m, true), *gt = state_for(gl, m, false);
    run(gb, prompt, n, split, lb, ib);
    run(gt, prompt, n, split, lt, it);
    double e = rel_err(lb, lt, n_vocab);
    if (!(e < TOL)) fail_msg("%s, %u tokens (split %u): relative error %.3g", name, n, split, e);
    for (int i = 0; i < CONTINUE; i++)
        if (ib[i] != it[i]) fail_msg("%s, %u tokens: greedy token %d: %d vs %d", name, n, i, ib[i], it[i]);
    print_message("%s: %u tokens (split %u): relative error %.2g\n", name, n, split, e);
    gpu_state_free(gb);
    gpu_state_free(gt);
    free(prompt);
    free(lb);
    free(lt);
}

/* which: 0 short prompts only; 1 every prompt shape; 2 the 300-token
 * ones (crossing KV slabs of 256 positions) in two batches and in passes
 * of 37 tokens. */
static void stories(pdvm_gl *gl, const char *file, int which)
{
    char path[TEST_PATH_MAX];
    test_model_path(file, path, sizeof path);
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_model_open(path, &m), PDVM_OK);
    assert_true(gpu_batch_supported(m, NULL));
    if (which < 2) {
        compare(gl, m, file, 2, 0);
        compare(gl, m, file, 7, 0);
    }
    if (which == 1) {
        compare(gl, m, file, 64, 0);
        compare(gl, m, file, 300, 0);
    }
    if (which >= 1) {
        compare(gl, m, file, 300, 190);
        setenv("PDVM_UBATCH", "37", 1);
        compare(gl, m, file, 300, 0);
        unsetenv("PDVM_UBATCH");
    }
    pdvm_model_close(m);
}

static void with_gl(const char *name, const char *value, void (*body)(pdvm_gl *gl))
{
    if (name) setenv(name, value, 1);
    pdvm_gl *gl = NULL;
    pdvm_status st = pdvm_gl_open(NULL, &gl);
    if (name) unsetenv(name);
    if (st != PDVM_OK) fail_msg("%s", pdvm_last_error());
    body(gl);
    pdvm_gl_close(gl);
}

static void all_stories(pdvm_gl *gl)
{
    stories(gl, "stories260K.gguf", 1);
    stories(gl, "stories260K-f16.gguf", 0);
    stories(gl, "stories260K-q8_0.gguf", 0);
    stories(gl, "stories260K-q4_0.gguf", 0);
}

static void long_only(pdvm_gl *gl) { stories(gl, "stories260K-q4_0.gguf", 2); }

static void driver_limits(void **state)
{
    (void)state;
    with_gl(NULL, NULL, all_stories);
}

static void minimum_limits(void **state)
{
    (void)state;
    with_gl("PDVM_LIMITS", "minimum", long_only);
}

static void tiny_blocks(void **state)
{
    (void)state;
    with_gl("PDVM_MAX_SSBO_BYTES", "16384", long_only);
}

/* The architecture test models: Llama, Qwen2 and Phi-3 ones through the batched path,
 * every other one refused with its reason. */
static void arch_models(void **state)
{
    (void)state;
    char vocab[TEST_PATH_MAX], dir[] = "/tmp/pdvm-batch-XXXXXX", path[TEST_PATH_MAX + 64];
    test_model_path("vocab", vocab, sizeof vocab);
    assert_non_null(mkdtemp(dir));
    pdvm_gl *gl = NULL;
    assert_int_equal(pdvm_gl_open(NULL, &gl), PDVM_OK);
    for (size_t i = 0; i < arch_spec_count(); i++) {
        const arch_spec *a = arch_spec_at(i);
        snprintf(path, sizeof path, "%s/%s.gguf", dir, a->name);
        assert_true(arch_model_write(a, PDVM_TYPE_Q8_0, 11, false, vocab, path));
        pdvm_model *m = NULL;
        assert_int_equal(pdvm_model_open(path, &m), PDVM_OK);
        const char *why = NULL;
        bool ok = gpu_batch_supported(m, &why);
        if (strcmp(a->arch, "llama") == 0 || strcmp(a->arch, "qwen2") == 0 ||
            strcmp(a->arch, "phi3") == 0) {
            assert_true(ok);
            compare(gl, m, a->name, 7, 0);
            compare(gl, m, a->name, 40, 17);
        } else {
            assert_false(ok);
            assert_non_null(why);
            print_message("%s: token by token (%s)\n", a->name, why);
        }
        pdvm_model_close(m);
        unlink(path);
    }
    pdvm_gl_close(gl);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(driver_limits),
        cmocka_unit_test(minimum_limits),
        cmocka_unit_test(tiny_blocks),
        cmocka_unit_test(arch_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
