/* End to end on the shared stories260K models: the GPU chain against the
 * CPU reference at every step of a greedy run from "Once upon a time",
 * fused and unfused: greedy token ids identical to pdvm_ref_forward for 200
 * steps, and at every one of the first 100 steps logits within 1e-3 of the
 * reference numerics over the GPU's storage: the reference kernels
 * (pdvm_ref_rmsnorm/matvec/rope/attention_head/swiglu) with an f16 KV
 * cache whose earlier positions are the GPU's own (read back), so each
 * step is checked on its own and the f16 rounding of the current K/V is
 * the CPU's. Free-running, the f16 KV cache alone moves the logits away
 * from the all-f32 pdvm_ref_forward by up to ~2.3e-3 on these models (the
 * same kernels on the CPU with an f16 cache show it; tiny summation-order
 * differences flip f16 roundings and the model amplifies them), so the
 * free-running comparison gets 1e-2 and the worst values are printed. Three groups, each on its own GL context opened
 * after the previous one is closed: the driver's limits, PDVM_LIMITS=minimum,
 * and PDVM_MAX_SSBO_BYTES=65536 (which splits token_embd, the output
 * matrix and the KV cache across buffers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_util.h"
#include "pdvm_bench.h"
#include "gpu_state.h"
#include "model.h"
#include "quant.h"
#include "reference.h"
#include "test_util.h"

enum { STEPS = 200, MAX_STEPS = 320, CHECK_LOGITS = 100 };
#define TOL_STEP 1e-3
#define TOL_F32_REFERENCE 1e-2

static const int32_t prompt[] = {1, 403, 407, 261, 378}; /* BOS "Once upon a time" */

static int32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* The reference with an f16 KV cache whose past positions are the GPU's
 * own: per-step errors do not compound, so a tight bound holds. */
typedef struct synced_ref {
    pdvm_ref_state *r;
    const gpu_state *g;
    const pdvm_model *m;
    uint32_t synced;
    float *k, *v;
} synced_ref;

static void sync_init(synced_ref *s, const pdvm_model *m, uint32_t n_ctx, const gpu_state *g)
{
    *s = (synced_ref){.g = g, .m = m};
    assert_int_equal(pdvm_ref_create(m, n_ctx, &s->r), PDVM_OK);
    pdvm_ref_set_kv_f16(s->r, true);
    size_t kv_dim = (size_t)m->hp.n_head_kv * m->hp.head_dim;
    s->k = malloc(kv_dim * 4);
    s->v = malloc(kv_dim * 4);
    assert_true(s->k && s->v);
}

static void sync_free(synced_ref *s)
{
    pdvm_ref_free(s->r);
    free(s->k);
    free(s->v);
}

/* Read one KV head at position t of layer l from the GPU cache (f16 pairs). */
static void read_gpu_kv(const gpu_state *g, uint32_t l, uint32_t t, uint32_t h, bool v,
                        float *dst)
{
    const uint32_t hd = g->m->hp.head_dim;
    const gpu_kv_slab *slab = gpu_kv_slab_at(&g->kvp, l, t);
    const pdvm_gl_buffer *b = v ? &g->vbufs[slab->buf] : &g->kbufs[slab->buf];
    uint32_t w[512];
    assert_true(hd / 2 <= 512);
    uint32_t slot = gpu_kv_slot(&g->kvp, l, t);
    uint64_t word = slab->word + ((uint64_t)h * slab->n_pos + slot - slab->pos0) * (hd / 2);
    assert_int_equal(pdvm_gl_buffer_read(g->gl, b, word * 4, hd * 2, w), PDVM_OK);
    for (uint32_t p = 0; p < hd / 2; p++) {
        dst[2 * p] = pdvm_f16_to_f32((uint16_t)(w[p] & 0xFFFF));
        dst[2 * p + 1] = pdvm_f16_to_f32((uint16_t)(w[p] >> 16));
    }
}

/* Token at pos, after taking positions synced..pos-1 from the GPU cache. */
static void sync_forward(synced_ref *s, int32_t token, uint32_t pos, float *logits)
{
    const pdvm_hparams *hp = &s->m->hp;
    for (; s->g && s->synced < pos; s->synced++)
        for (uint32_t l = 0; l < hp->n_layer; l++) {
            for (uint32_t h = 0; h < hp->n_head_kv; h++) {
                read_gpu_kv(s->g, l, s->synced, h, false, s->k + h * hp->head_dim);
                read_gpu_kv(s->g, l, s->synced, h, true, s->v + h * hp->head_dim);
            }
            pdvm_ref_kv_write(s->r, l, s->synced, s->k, s->v);
        }
    assert_int_equal(pdvm_ref_forward(s->r, token, pos, logits), PDVM_OK);
}

typedef struct run_result {
    int32_t ids[MAX_STEPS];
    double worst_rel, worst_rel_f16, worst_step;
    uint64_t dispatches, tokens;
} run_result;

/* Greedy generation on both engines side by side. n_ctx 0: the model's. */
static void compare_run(pdvm_gl *gl, const char *name, bool unfused, uint32_t n_ctx, int steps,
                        run_result *res)
{
    char path[TEST_PATH_MAX];
    test_model_path(name, path, sizeof path);
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_model_open(path, &m), PDVM_OK);
    const uint32_t n_vocab = (uint32_t)m->output.ne[1];
    if (n_ctx == 0) n_ctx = m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096;
    pdvm_session_params p = pdvm_session_default_params();
    p.unfused = unfused;
    gpu_state *g = NULL;
    pdvm_status st = gpu_state_create(gl, m, &p, n_ctx, &g);
    if (st != PDVM_OK) fail_msg("%s: %s", name, pdvm_last_error());
    pdvm_ref_state *r = NULL;
    assert_int_equal(pdvm_ref_create(m, n_ctx, &r), PDVM_OK);
    synced_ref r16, f16;
    sync_init(&r16, m, n_ctx, g);
    sync_init(&f16, m, n_ctx, NULL);
    float *lg = malloc(n_vocab * sizeof *lg), *lr = malloc(n_vocab * sizeof *lr);
    float *l16 = malloc(n_vocab * sizeof *l16), *lf = malloc(n_vocab * sizeof *lf);
    assert_true(lg && lr && l16 && lf);

    const size_t n_prompt = sizeof prompt / sizeof prompt[0];
    assert_int_equal(gpu_state_eval(g, prompt, n_prompt, 0, lg), PDVM_OK);
    for (uint32_t i = 0; i < n_prompt; i++) {
        assert_int_equal(pdvm_ref_forward(r, prompt[i], i, lr), PDVM_OK);
        sync_forward(&f16, prompt[i], i, lf);
    }
    sync_forward(&r16, prompt[n_prompt - 1], (uint32_t)n_prompt - 1, l16);
    res->worst_rel = res->worst_rel_f16 = res->worst_step = 0;
    uint32_t pos = (uint32_t)n_prompt;
    for (int step = 0; step < steps; step++) {
        double e = rel_err(lg, lr, n_vocab), ef = rel_err(lg, lf, n_vocab);
        double es = rel_err(lg, l16, n_vocab);
        if (e > res->worst_rel || e != e) res->worst_rel = e;
        if (ef > res->worst_rel_f16 || ef != ef) res->worst_rel_f16 = ef;
        if (step < CHECK_LOGITS && (es > res->worst_step || es != es)) res->worst_step = es;
        if (step < CHECK_LOGITS && !(es < TOL_STEP))
            fail_msg("%s%s: logits rel err %.3g against the reference kernels on the GPU's KV "
                     "cache at step %d (pos %u)", name, unfused ? " unfused" : "", es, step, pos - 1);
        if (!(e < TOL_F32_REFERENCE) || !(ef < TOL_F32_REFERENCE))
            fail_msg("%s%s: free-running logits rel err %.3g (f32 reference), %.3g (f16 KV) at "
                     "step %d (pos %u)", name, unfused ? " unfused" : "", e, ef, step, pos - 1);
        int32_t tg = argmax(lg, n_vocab), tr = argmax(lr, n_vocab);
        if (tg != tr)
            fail_msg("%s%s: greedy token %d (gpu) != %d (reference) at step %d", name,
                     unfused ? " unfused" : "", tg, tr, step);
        res->ids[step] = tg;
        st = gpu_state_eval(g, &tg, 1, pos, lg);
        if (st != PDVM_OK) fail_msg("%s: eval at %u: %s", name, pos, pdvm_last_error());
        assert_int_equal(pdvm_ref_forward(r, tr, pos, lr), PDVM_OK);
        sync_forward(&r16, tr, pos, l16);
        sync_forward(&f16, tr, pos, lf);
        pos++;
    }
    res->dispatches = g->eval_dispatches;
    res->tokens = pos;
    print_message("%s%s n_ctx %u: worst logits rel err: per step %.2e (%d steps); free-running "
                  "vs pdvm_ref_forward %.2e, vs f16-KV reference %.2e (%d steps); %.1f "
                  "dispatches/token\n", name, unfused ? " unfused" : "", n_ctx, res->worst_step,
                  CHECK_LOGITS, res->worst_rel, res->worst_rel_f16, steps,
                  (double)res->dispatches / (double)res->tokens);
    free(lg);
    free(lr);
    free(l16);
    free(lf);
    sync_free(&r16);
    sync_free(&f16);
    pdvm_ref_free(r);
    gpu_state_free(g);
    pdvm_model_close(m);
}

static void fused_and_unfused_steps(pdvm_gl *gl, const char *name, uint32_t n_ctx, int steps)
{
    run_result *a = calloc(2, sizeof *a);
    assert_non_null(a);
    compare_run(gl, name, false, n_ctx, steps, &a[0]);
    compare_run(gl, name, true, n_ctx, steps, &a[1]);
    assert_memory_equal(a[0].ids, a[1].ids, (size_t)steps * sizeof a[0].ids[0]);
    free(a);
}

static void fused_and_unfused(pdvm_gl *gl, const char *name, uint32_t n_ctx)
{
    fused_and_unfused_steps(gl, name, n_ctx, STEPS);
}

static int open_gl(void **state)
{
    *state = test_gl_open();
    return *state ? 0 : -1;
}

static int close_gl(void **state)
{
    pdvm_gl_close(*state);
    return 0;
}

/* Every model, fused and unfused, on a context opened with env var
 * name=value in force; the group's context is current again afterwards. */
static void all_models_with(pdvm_gl *group_gl, const char *name, const char *value,
                            uint32_t n_ctx_last)
{
    setenv(name, value, 1);
    pdvm_gl *gl = NULL;
    pdvm_status st = pdvm_gl_open(NULL, &gl);
    unsetenv(name);
    if (st != PDVM_OK) fail_msg("%s=%s: %s", name, value, pdvm_last_error());
    const pdvm_gl_limits *l = pdvm_gl_get_limits(gl);
    if (!strcmp(name, "PDVM_LIMITS")) {
        assert_true(l->minimum);
        assert_int_equal(l->max_invocations, 128);
        assert_int_equal(l->max_ssbo_bindings, 4);
        assert_false(l->subgroup);
    } else {
        assert_int_equal(l->max_ssbo_bytes, atoll(value));
    }
    const char *models[] = {"stories260K.gguf", "stories260K-f16.gguf", "stories260K-q8_0.gguf",
                            "stories260K-q4_0.gguf"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        fused_and_unfused(gl, models[i], 256);
    if (n_ctx_last) fused_and_unfused(gl, models[0], n_ctx_last);
    pdvm_gl_close(gl);
    assert_int_equal(pdvm_gl_make_current(group_gl), PDVM_OK);
}

/* 16 KiB blocks: the KV cache in slabs of 256 positions (the run crosses
 * into the second), score buffers of 2 heads, every group split. */
static void tiny_blocks(void **state)
{
    setenv("PDVM_MAX_SSBO_BYTES", "16384", 1);
    pdvm_gl *gl = NULL;
    pdvm_status st = pdvm_gl_open(NULL, &gl);
    unsetenv("PDVM_MAX_SSBO_BYTES");
    if (st != PDVM_OK) fail_msg("%s", pdvm_last_error());
    fused_and_unfused_steps(gl, "stories260K.gguf", 2048, 300);
    pdvm_gl_close(gl);
    assert_int_equal(pdvm_gl_make_current(*state), PDVM_OK);
}

static void minimum_limits(void **state) { all_models_with(*state, "PDVM_LIMITS", "minimum", 0); }

/* 64 KiB blocks split token_embd and output (128 KiB in F32) by rows and,
 * at the model's context of 2048, each layer's KV cache into two slabs. */
static void small_blocks(void **state)
{
    all_models_with(*state, "PDVM_MAX_SSBO_BYTES", "65536", 2048);
}

static void f32(void **state) { fused_and_unfused(*state, "stories260K.gguf", 256); }
static void f16(void **state) { fused_and_unfused(*state, "stories260K-f16.gguf", 256); }
static void q8_0(void **state) { fused_and_unfused(*state, "stories260K-q8_0.gguf", 256); }
static void q4_0(void **state) { fused_and_unfused(*state, "stories260K-q4_0.gguf", 256); }

/* The model's own context length (2048): KV slabs of 1024 positions under
 * 64 KiB blocks, several attention chunks late in the run. */
static void q4_0_model_ctx(void **state) { fused_and_unfused(*state, "stories260K-q4_0.gguf", 0); }

/* Fused: embedding + 5 per layer + output, counted by the runtime. */
static void dispatch_budget(void **state)
{
    run_result r;
    char path[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", path, sizeof path);
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_model_open(path, &m), PDVM_OK);
    uint32_t n_layer = m->hp.n_layer;
    pdvm_model_close(m);
    compare_run(*state, "stories260K.gguf", false, 256, STEPS, &r);
    /* The prompt's first tokens skip the output projection: <= 5L + 2. */
    assert_true(r.dispatches <= r.tokens * (5ull * n_layer + 2));
    assert_true(r.dispatches >= (r.tokens - 4) * (5ull * n_layer + 2));
}

/* A model made from hyperparameters alone (pdvm_bench.h: no file data,
 * weights filled on the GPU) runs through both chains in a session of its
 * own, and the profile sees every dispatch. */
static void synthetic_model_and_hooks(void **state)
{
    pdvm_model *m = NULL;
    assert_int_equal(pdvm_synthetic_model("stories15M", PDVM_TYPE_Q4_0, &m), PDVM_OK);
    pdvm_session_params p = pdvm_session_default_params();
    p.n_ctx = 64;
    pdvm_session *s = NULL;
    if (pdvm_session_create(m, &p, &s) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    const uint32_t n_vocab = (uint32_t)m->output.ne[1];
    const float *lg = NULL;
    const int32_t toks[] = {1, 2, 3};
    assert_int_equal(pdvm_session_eval(s, toks, 3, &lg), PDVM_OK);
    uint32_t distinct = 0;
    for (uint32_t i = 0; i < n_vocab; i++) {
        assert_true(isfinite(lg[i]));
        distinct += lg[i] != lg[0];
    }
    assert_true(distinct > n_vocab / 2);

    pdvm_session_stats before, after;
    assert_int_equal(pdvm_session_set_profile(s, true), PDVM_OK);
    pdvm_session_get_stats(s, &before);
    assert_int_equal(pdvm_session_eval(s, toks, 1, &lg), PDVM_OK);
    pdvm_session_get_stats(s, &after);
    pdvm_profile_entry kt[16];
    size_t n = pdvm_session_get_profile(s, kt, 16);
    uint64_t calls = 0;
    for (size_t i = 0; i < n; i++) calls += kt[i].calls;
    assert_int_equal(calls, after.dispatches - before.dispatches);
    assert_int_equal(calls, 5 * m->hp.n_layer + 2);
    assert_int_equal(after.decode_dispatches - before.decode_dispatches, calls);
    assert_int_equal(pdvm_session_set_profile(s, false), PDVM_OK);

    assert_int_equal(pdvm_bench_set_unfused(s, true), PDVM_OK);
    pdvm_session_get_stats(s, &before);
    assert_int_equal(pdvm_session_eval(s, toks + 1, 1, &lg), PDVM_OK);
    pdvm_session_get_stats(s, &after);
    assert_int_equal(after.dispatches - before.dispatches, 17 * m->hp.n_layer + 3);
    for (uint32_t i = 0; i < n_vocab; i++) assert_true(isfinite(lg[i]));
    pdvm_session_free(s);
    pdvm_synthetic_free(m);
    assert_int_equal(pdvm_gl_make_current(*state), PDVM_OK);

    double us = -1;
    assert_int_equal(pdvm_bench_matvec(*state, PDVM_TYPE_Q4_K, 100, 512, 3, &us), PDVM_OK);
    assert_true(isfinite(us) && us >= 0);
    assert_int_equal(pdvm_bench_matvec(*state, PDVM_TYPE_Q8_1, 100, 512, 3, &us),
                     PDVM_ERR_UNSUPPORTED);
}

/* Greedy ids of n steps from a session (prompt: BOS, "Once"). */
static void greedy(pdvm_session *s, uint32_t n_vocab, int32_t *tok, const float **lg)
{
    int32_t best = 0;
    for (uint32_t i = 1; i < n_vocab; i++)
        if ((*lg)[i] > (*lg)[best]) best = (int32_t)i;
    *tok = best;
    assert_int_equal(pdvm_session_eval(s, tok, 1, lg), PDVM_OK);
}

/* Each GPU session owns its context and makes it current on every call:
 * two sessions (different models, so a wrong context would read the other
 * one's buffers) interleaved on one thread, with a stray context made
 * current between their calls, generate what each generates alone. */
static void sessions_interleaved_on_one_thread(void **state)
{
    char p1[TEST_PATH_MAX], p2[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", p1, sizeof p1);
    test_model_path("stories260K-q4_0.gguf", p2, sizeof p2);
    pdvm_model *m[2];
    assert_int_equal(pdvm_model_open(p1, &m[0]), PDVM_OK);
    assert_int_equal(pdvm_model_open(p2, &m[1]), PDVM_OK);
    pdvm_session_params sp = pdvm_session_default_params();
    sp.n_ctx = 64;
    enum { N = 24 };
    int32_t alone[2][N], mixed[2][N];
    const int32_t prompt[] = {1, 403};
    for (int k = 0; k < 2; k++) {
        pdvm_session *s;
        const float *lg;
        assert_int_equal(pdvm_session_create(m[k], &sp, &s), PDVM_OK);
        assert_int_equal(pdvm_session_eval(s, prompt, 2, &lg), PDVM_OK);
        for (int i = 0; i < N; i++) greedy(s, m[k]->hp.n_vocab, &alone[k][i], &lg);
        pdvm_session_free(s);
    }
    pdvm_session *s[2];
    const float *lg[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pdvm_session_create(m[k], &sp, &s[k]), PDVM_OK);
        assert_int_equal(pdvm_session_eval(s[k], prompt, 2, &lg[k]), PDVM_OK);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 2; k++) {
            assert_int_equal(pdvm_gl_make_current(*state), PDVM_OK); /* a stray context */
            greedy(s[k], m[k]->hp.n_vocab, &mixed[k][i], &lg[k]);
        }
    for (int k = 0; k < 2; k++) {
        pdvm_session_free(s[k]);
        pdvm_model_close(m[k]);
    }
    assert_memory_equal(alone, mixed, sizeof alone);
    assert_int_equal(pdvm_gl_make_current(*state), PDVM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(f32),  cmocka_unit_test(f16),
        cmocka_unit_test(q8_0), cmocka_unit_test(q4_0),
        cmocka_unit_test(q4_0_model_ctx), cmocka_unit_test(dispatch_budget),
        cmocka_unit_test(minimum_limits), cmocka_unit_test(small_blocks),
        cmocka_unit_test(tiny_blocks),
        cmocka_unit_test(synthetic_model_and_hooks),
        cmocka_unit_test(sessions_interleaved_on_one_thread),
    };
    return cmocka_run_group_tests(tests, open_gl, close_gl);
}
