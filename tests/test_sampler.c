/* Sampler: greedy argmax, fixed-seed determinism, the empirical
 * distribution against softmax(logits / T), and what top-k, top-p, min-p
 * and the repetition penalty exclude. All draws are seeded, so every
 * assertion is deterministic. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pdvm.h"
#include "test_util.h"

static pdvm_sampler *make(const pdvm_sampler_params *p, uint32_t n_vocab)
{
    pdvm_sampler *s = NULL;
    if (pdvm_sampler_create(p, n_vocab, &s) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return s;
}

/* Plain sampling: no top-k/top-p/min-p filtering. */
static pdvm_sampler_params plain(float temp, uint64_t seed)
{
    pdvm_sampler_params p = pdvm_sampler_default_params();
    p.temp = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    return p;
}

static void count_draws(pdvm_sampler *s, const float *logits, uint32_t n_vocab, int draws,
                        int *counts)
{
    memset(counts, 0, n_vocab * sizeof *counts);
    for (int i = 0; i < draws; i++) {
        int32_t t = pdvm_sampler_sample(s, logits);
        assert_true(t >= 0 && (uint32_t)t < n_vocab);
        counts[t]++;
    }
}

static void test_defaults(void **state)
{
    (void)state;
    pdvm_sampler_params p = pdvm_sampler_default_params();
    assert_float_equal(p.temp, 0.8f, 0);
    assert_int_equal(p.top_k, 40);
    assert_float_equal(p.top_p, 0.95f, 0);
    assert_float_equal(p.min_p, 0.05f, 0);
    assert_float_equal(p.repeat_penalty, 1.0f, 0);
    assert_int_equal(p.repeat_last_n, 64);
    assert_int_equal(p.seed, 0xFFFFFFFFu);
}

static void test_greedy_argmax_lowest_id_on_ties(void **state)
{
    (void)state;
    const float logits[] = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f};
    pdvm_sampler_params p = pdvm_sampler_default_params();
    p.temp = 0.0f;
    pdvm_sampler *s = make(&p, 5);
    for (int i = 0; i < 10; i++) assert_int_equal(pdvm_sampler_sample(s, logits), 1);
    pdvm_sampler_free(s);
    p.temp = -1.0f;
    s = make(&p, 5);
    assert_int_equal(pdvm_sampler_sample(s, logits), 1);
    pdvm_sampler_free(s);
}

static void test_same_seed_same_draws(void **state)
{
    (void)state;
    float logits[64];
    test_fill_random(logits, 64, 7, -2.0f, 2.0f);
    pdvm_sampler_params p = pdvm_sampler_default_params();
    p.top_k = 0; /* keep many candidates so different seeds differ */
    p.min_p = 0.0f;
    pdvm_sampler *a = make(&p, 64), *b = make(&p, 64);
    p.seed = 1234;
    pdvm_sampler *c = make(&p, 64);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        int32_t ta = pdvm_sampler_sample(a, logits), tb = pdvm_sampler_sample(b, logits);
        assert_int_equal(ta, tb);
        differ += ta != pdvm_sampler_sample(c, logits);
    }
    assert_true(differ > 50);
    pdvm_sampler_free(a);
    pdvm_sampler_free(b);
    pdvm_sampler_free(c);
}

static void test_distribution_matches_softmax(void **state)
{
    (void)state;
    const float logits[] = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f};
    const uint32_t n = 6;
    const float temp = 0.7f;
    const int draws = 50000;
    double want[6], sum = 0.0;
    for (uint32_t i = 0; i < n; i++) sum += want[i] = exp(logits[i] / temp);
    pdvm_sampler_params p = plain(temp, 42);
    pdvm_sampler *s = make(&p, n);
    int counts[6];
    count_draws(s, logits, n, draws, counts);
    for (uint32_t i = 0; i < n; i++) {
        double got = (double)counts[i] / draws, exp_p = want[i] / sum;
        /* 4 standard deviations of a binomial frequency at most */
        double tol = 4.0 * sqrt(exp_p * (1.0 - exp_p) / draws);
        if (fabs(got - exp_p) > tol)
            fail_msg("token %u: frequency %.4f, softmax %.4f (tol %.4f)", i, got, exp_p, tol);
    }
    pdvm_sampler_free(s);
}

static void test_top_k_keeps_k_best(void **state)
{
    (void)state;
    const float logits[] = {1.0f, 1.1f, 0.9f, 1.2f, 0.0f};
    pdvm_sampler_params p = plain(1.0f, 3);
    p.top_k = 2;
    pdvm_sampler *s = make(&p, 5);
    int counts[5];
    count_draws(s, logits, 5, 4000, counts);
    assert_true(counts[3] > 0 && counts[1] > 0);
    assert_int_equal(counts[0] + counts[2] + counts[4], 0);
    pdvm_sampler_free(s);
}

/* Probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1. */
static void probs_logits(float *logits)
{
    const double pr[] = {0.05, 0.5, 0.15, 0.3};
    for (int i = 0; i < 4; i++) logits[i] = (float)log(pr[i]);
}

static void test_top_p_smallest_prefix(void **state)
{
    (void)state;
    float logits[4];
    probs_logits(logits);
    pdvm_sampler_params p = plain(1.0f, 5);
    p.top_p = 0.75f; /* 0.5 < 0.75 <= 0.5 + 0.3: ids 1 and 3 */
    pdvm_sampler *s = make(&p, 4);
    int counts[4];
    count_draws(s, logits, 4, 4000, counts);
    assert_true(counts[1] > 0 && counts[3] > 0);
    assert_int_equal(counts[0] + counts[2], 0);
    pdvm_sampler_free(s);
}

static void test_min_p_relative_floor(void **state)
{
    (void)state;
    float logits[4];
    probs_logits(logits);
    pdvm_sampler_params p = plain(1.0f, 6);
    p.min_p = 0.2f; /* floor 0.2 * 0.5 = 0.1: drops only the 0.05 token (id 0) */
    pdvm_sampler *s = make(&p, 4);
    int counts[4];
    count_draws(s, logits, 4, 4000, counts);
    assert_true(counts[1] > 0 && counts[2] > 0 && counts[3] > 0);
    assert_int_equal(counts[0], 0);
    pdvm_sampler_free(s);
}

/* Temperature comes after the filters: min-p judged at T = 1 drops the
 * 0.05 token even though T = 10 would have flattened it above the floor,
 * and the survivors are then drawn almost uniformly. */
static void test_temperature_after_filters(void **state)
{
    (void)state;
    float logits[4];
    probs_logits(logits);
    pdvm_sampler_params p = plain(10.0f, 8);
    p.min_p = 0.2f;
    pdvm_sampler *s = make(&p, 4);
    int counts[4];
    count_draws(s, logits, 4, 3000, counts);
    assert_int_equal(counts[0], 0);
    for (int i = 1; i < 4; i++) assert_true(counts[i] > 800); /* ~1000 each */
    pdvm_sampler_free(s);
}

static void test_repeat_penalty(void **state)
{
    (void)state;
    const float logits[] = {2.0f, 1.5f, -1.0f, -1.2f};
    pdvm_sampler_params p = pdvm_sampler_default_params();
    p.temp = 0.0f;
    p.repeat_penalty = 2.0f; /* 2.0 -> 1.0 < 1.5 */
    p.repeat_last_n = 2;
    pdvm_sampler *s = make(&p, 4);
    assert_int_equal(pdvm_sampler_sample(s, logits), 0);
    pdvm_sampler_accept(s, 0);
    assert_int_equal(pdvm_sampler_sample(s, logits), 1);
    pdvm_sampler_accept(s, 0); /* counted once however often it repeats */
    assert_int_equal(pdvm_sampler_sample(s, logits), 1);
    pdvm_sampler_accept(s, 3);
    pdvm_sampler_accept(s, 3); /* token 0 leaves the 2-token window */
    assert_int_equal(pdvm_sampler_sample(s, logits), 0);
    pdvm_sampler_free(s);
    /* Negative logits are multiplied: -1.0 * 2 = -2.0 < -1.2. */
    const float neg[] = {-1.0f, -1.2f};
    s = make(&p, 2);
    pdvm_sampler_accept(s, 0);
    assert_int_equal(pdvm_sampler_sample(s, neg), 1);
    pdvm_sampler_free(s);
}

static void test_rejects_bad_params(void **state)
{
    (void)state;
    pdvm_sampler *s = (pdvm_sampler *)state;
    pdvm_sampler_params p = pdvm_sampler_default_params();
    assert_int_equal(pdvm_sampler_create(&p, 0, &s), PDVM_ERR_INVALID_ARG);
    assert_null(s);
    p.repeat_penalty = 0.0f;
    assert_int_equal(pdvm_sampler_create(&p, 8, &s), PDVM_ERR_INVALID_ARG);
    p = pdvm_sampler_default_params();
    p.temp = NAN;
    assert_int_equal(pdvm_sampler_create(&p, 8, &s), PDVM_ERR_INVALID_ARG);
    p = pdvm_sampler_default_params();
    p.repeat_last_n = -1;
    assert_int_equal(pdvm_sampler_create(&p, 8, &s), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_sampler_create(NULL, 8, &s), PDVM_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_greedy_argmax_lowest_id_on_ties),
        cmocka_unit_test(test_same_seed_same_draws),
        cmocka_unit_test(test_distribution_matches_softmax),
        cmocka_unit_test(test_top_k_keeps_k_best),
        cmocka_unit_test(test_top_p_smallest_prefix),
        cmocka_unit_test(test_min_p_relative_floor),
        cmocka_unit_test(test_temperature_after_filters),
        cmocka_unit_test(test_repeat_penalty),
        cmocka_unit_test(test_rejects_bad_params),
    };
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
