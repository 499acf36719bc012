/* `pdvm perplexity` on stories260K over tests/data/perplexity_stories.txt
 * (2442 tokens: 9 chunks of 256): the GPU and the CPU backend print the
 * same per-chunk line shape and final estimates that agree to 4
 * significant digits (relative difference below 5e-4: the GPU's f16 KV
 * cache moves the NLL in the 5th digit), and each agrees to 4 significant
 * digits with llama.cpp's figure for the same file, text and n_ctx
 * (tests/golden/perplexity, from tests/golden/perplexity_oracle.c). A text
 * shorter than two chunks is a one-line error and a non-zero exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "test_util.h"

static const char TEXT[] = "tests/data/perplexity_stories.txt";
static const char GOLDEN[] = "tests/golden/perplexity/stories260K-c256.txt";

/* The PPL of "Final estimate: PPL = P +/- E" in s. */
static double final_ppl(const char *s)
{
    const char *f = strstr(s, "Final estimate: PPL = ");
    if (!f) fail_msg("no final estimate in:\n%s", s);
    return atof(f + strlen("Final estimate: PPL = "));
}

static double golden_ppl(void)
{
    FILE *f = fopen(GOLDEN, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return final_ppl(buf);
}

static double run_ppl(const char *model, const char *backend)
{
    const char *args[] = {"perplexity", "-m", model, "-f", TEXT, "-c", "256", "--backend",
                          backend, NULL};
    cli_result r = cli_run(args, NULL);
    if (r.code != 0) fail_msg("%s: exit %d: %s", backend, r.code, r.err);
    assert_non_null(strstr(r.out, "[1]"));
    assert_non_null(strstr(r.out, "[9]"));
    assert_null(strstr(r.out, "[10]"));
    double p = final_ppl(r.out);
    print_message("%s: PPL %.4f\n", backend, p);
    cli_result_free(&r);
    return p;
}

static void gpu_cpu_and_llama_agree(void **state)
{
    (void)state;
    char model[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", model, sizeof model);
    double gpu = run_ppl(model, "gpu"), cpu = run_ppl(model, "cpu"), ref = golden_ppl();
    print_message("llama.cpp: PPL %.4f\n", ref);
    assert_true(fabs(gpu - cpu) / cpu < 5e-4);
    assert_true(fabs(gpu - ref) / ref < 5e-4);
    assert_true(fabs(cpu - ref) / ref < 5e-4);
}

static void short_text_is_an_error(void **state)
{
    (void)state;
    char model[TEST_PATH_MAX];
    test_model_path("stories260K.gguf", model, sizeof model);
    const char *args[] = {"perplexity", "-m", model, "-f", TEXT, "-c", "4096", "--backend", "cpu",
                          NULL};
    cli_expect_one_line_error(args, NULL, 1, "at least 8192 tokens");
    const char *bad[] = {"perplexity", "-m", model, "-f", TEXT, "--backend", "tpu", NULL};
    cli_expect_one_line_error(bad, NULL, 2, "--backend");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpu_cpu_and_llama_agree),
        cmocka_unit_test(short_text_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
