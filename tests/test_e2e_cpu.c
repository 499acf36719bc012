/* End to end on the CPU backend: greedy generation on every
 * stories260K*.gguf is deterministic, the F32 file continues "Once upon a
 * time" with the known text, and the session API keeps its contract
 * (context checks before any work, id validation, prefill == decode). */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pdvm.h"
#include "test_util.h"

#define PROMPT "Once upon a time"
#define F32_CONTINUATION \
    ", there was a little girl named Lily. She loved to play outside in the park."

static pdvm_model *open_model(const char *name)
{
    char path[TEST_PATH_MAX];
    test_model_path(name, path, sizeof path);
    pdvm_model *m = NULL;
    if (pdvm_model_open(path, &m) != PDVM_OK) fail_msg("%s: %s", name, pdvm_last_error());
    return m;
}

static pdvm_session *cpu_session(pdvm_model *m, uint32_t n_ctx)
{
    pdvm_session_params p = pdvm_session_default_params();
    p.backend = PDVM_BACKEND_CPU;
    p.n_ctx = n_ctx;
    pdvm_session *s = NULL;
    if (pdvm_session_create(m, &p, &s) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return s;
}

/* Greedy continuation of PROMPT, n_gen tokens at most, into out. */
static void generate(pdvm_model *m, int n_gen, char *out, size_t cap)
{
    pdvm_session *s = cpu_session(m, 256);
    pdvm_sampler_params sp = pdvm_sampler_default_params();
    sp.temp = 0.0f;
    pdvm_sampler *smp = NULL;
    assert_int_equal(pdvm_sampler_create(&sp, pdvm_model_hparams(m)->n_vocab, &smp), PDVM_OK);
    pdvm_detok *d = NULL;
    assert_int_equal(pdvm_detok_create(m, false, &d), PDVM_OK);
    int32_t ids[32];
    size_t n = 0, at = 0, len;
    const char *buf;
    assert_int_equal(pdvm_tokenize(m, PROMPT, strlen(PROMPT), true, false, ids, 32, &n), PDVM_OK);
    for (size_t i = 0; i < n; i++) pdvm_detok_push(d, ids[i], &buf, &len);
    const float *logits;
    assert_int_equal(pdvm_session_eval(s, ids, n, &logits), PDVM_OK);
    for (int i = 0; i < n_gen; i++) {
        int32_t t = pdvm_sampler_sample(smp, logits);
        if (t == pdvm_token_eos(m)) break;
        assert_int_equal(pdvm_detok_push(d, t, &buf, &len), PDVM_OK);
        assert_true(at + len < cap);
        memcpy(out + at, buf, len);
        at += len;
        assert_int_equal(pdvm_session_eval(s, &t, 1, &logits), PDVM_OK);
    }
    out[at] = '\0';
    pdvm_detok_free(d);
    pdvm_sampler_free(smp);
    pdvm_session_free(s);
}

static void test_f32_known_continuation(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    char out[4096];
    generate(m, 40, out, sizeof out);
    if (strncmp(out, F32_CONTINUATION, strlen(F32_CONTINUATION)) != 0)
        fail_msg("greedy continuation was '%s'", out);
    pdvm_model_close(m);
}

static int is_stories_gguf(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "stories260K", 11) == 0 && n > 5 && strcmp(name + n - 5, ".gguf") == 0;
}

static void test_every_file_deterministic(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", path, sizeof path); /* skip/fail if none */
    DIR *dir = opendir(test_models_dir());
    assert_non_null(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (!is_stories_gguf(e->d_name)) continue;
        pdvm_model *m = open_model(e->d_name);
        char a[4096], b[4096];
        generate(m, 100, a, sizeof a);
        generate(m, 100, b, sizeof b);
        if (strcmp(a, b) != 0) fail_msg("%s: two greedy runs differ", e->d_name);
        /* Every quantisation still starts the same story. */
        if (strncmp(a, ", there was a little girl named Lily", 36) != 0)
            fail_msg("%s: continuation '%s'", e->d_name, a);
        print_message("%s: deterministic, %zu bytes\n", e->d_name, strlen(a));
        pdvm_model_close(m);
        files++;
    }
    closedir(dir);
    assert_true(files >= 1);
}

static void test_context_checked_before_work(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    pdvm_session *s = cpu_session(m, 4);
    assert_int_equal(pdvm_session_n_ctx(s), 4);
    const int32_t ids[] = {1, 403, 407, 261, 378};
    const float *logits = (const float *)ids;
    assert_int_equal(pdvm_session_eval(s, ids, 5, &logits), PDVM_ERR_CONTEXT_FULL);
    assert_null(logits);
    assert_int_equal(pdvm_session_pos(s), 0);
    assert_int_equal(pdvm_session_eval(s, ids, 4, &logits), PDVM_OK);
    assert_int_equal(pdvm_session_pos(s), 4);
    assert_int_equal(pdvm_session_eval(s, ids, 1, &logits), PDVM_ERR_CONTEXT_FULL);
    assert_non_null(strstr(pdvm_last_error(), "context"));
    pdvm_session_reset(s);
    assert_int_equal(pdvm_session_pos(s), 0);
    assert_int_equal(pdvm_session_eval(s, ids, 1, &logits), PDVM_OK);
    pdvm_session_stats st;
    pdvm_session_get_stats(s, &st);
    assert_int_equal(st.tokens, 5);
    assert_int_equal(st.dispatches, 0);
    assert_string_equal(st.device, "cpu");
    pdvm_session_free(s);
    pdvm_model_close(m);
}

static void test_ids_validated(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    pdvm_session *s = cpu_session(m, 8);
    const float *logits;
    const int32_t bad[] = {1, 512}, neg[] = {-1};
    assert_int_equal(pdvm_session_eval(s, bad, 2, &logits), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_eval(s, neg, 1, &logits), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_eval(s, bad, 0, &logits), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_session_pos(s), 0);
    pdvm_session_free(s);
    pdvm_session_params p = pdvm_session_default_params();
    p.backend = PDVM_BACKEND_CPU;
    p.n_ctx = (1u << 20) + 1;
    assert_int_equal(pdvm_session_create(m, &p, &s), PDVM_ERR_INVALID_ARG);
    pdvm_model_close(m);
}

/* n_ctx 0 means min(n_ctx_train, 4096): the file says 2048. */
static void test_default_n_ctx(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    pdvm_session *s = cpu_session(m, 0);
    assert_int_equal(pdvm_session_n_ctx(s), 2048);
    assert_int_equal(pdvm_session_default_params().backend, PDVM_BACKEND_GPU);
    pdvm_session_free(s);
    pdvm_model_close(m);
}

/* Prefill in one call and token-by-token decode give the same logits. */
static void test_prefill_equals_decode(void **state)
{
    (void)state;
    pdvm_model *m = open_model("stories260K.gguf");
    pdvm_session *a = cpu_session(m, 16), *b = cpu_session(m, 16);
    const int32_t ids[] = {1, 403, 407, 261, 378};
    const float *la, *lb;
    assert_int_equal(pdvm_session_eval(a, ids, 5, &la), PDVM_OK);
    for (int i = 0; i < 5; i++) assert_int_equal(pdvm_session_eval(b, ids + i, 1, &lb), PDVM_OK);
    uint32_t n_vocab = pdvm_model_hparams(m)->n_vocab;
    assert_true(rel_err(la, lb, n_vocab) == 0.0);
    pdvm_session_free(a);
    pdvm_session_free(b);
    pdvm_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_known_continuation),
        cmocka_unit_test(test_every_file_deterministic),
        cmocka_unit_test(test_context_checked_before_work),
        cmocka_unit_test(test_ids_validated),
        cmocka_unit_test(test_default_n_ctx),
        cmocka_unit_test(test_prefill_equals_decode),
    };
    return cmocka_run_group_tests_name("end to end (cpu)", tests, NULL, NULL);
}
