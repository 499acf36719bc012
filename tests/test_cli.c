/* The `pdvm` tool as a user runs it: fork/exec of $PDVM_BIN (default
 * build/pdvm), checking exit codes (2 usage, 3 model), that errors are one
 * line on stderr, that stdout carries only the text and stderr ends with
 * the stats line. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"
#include "test_util.h"

/* Exit code `code`, nothing on stdout, exactly one line on stderr. */
static void expect_one_line_error(const char *const *args, int code, const char *needle)
{
    cli_expect_one_line_error(args, NULL, code, needle);
}

static void model_path(char *out)
{
    test_model_path("stories260K.gguf", out, TEST_PATH_MAX);
}

static void test_bad_flags_exit_2(void **state)
{
    (void)state;
    expect_one_line_error((const char *const[]){"run", "--bogus", NULL}, 2, "--bogus");
    expect_one_line_error((const char *const[]){"run", "-p", "hi", NULL}, 2, "-m");
    expect_one_line_error((const char *const[]){"run", "-m", "x", "-p", "y", "-n", "abc", NULL},
                          2, "--n-predict");
    expect_one_line_error((const char *const[]){"run", "-m", "x", "-p", "y", "--top-p", "2",
                                                NULL}, 2, "--top-p");
    expect_one_line_error((const char *const[]){"run", "-m", "x", "-p", "y", "--backend", "tpu",
                                                NULL}, 2, "tpu");
    expect_one_line_error((const char *const[]){"run", "-m", NULL}, 2, "value");
    expect_one_line_error((const char *const[]){"tokenize", "--nope", NULL}, 2, "--nope");
}

static void test_missing_model_exit_3(void **state)
{
    (void)state;
    expect_one_line_error((const char *const[]){"run", "-m", "/nonexistent/model.gguf", "-p",
                                                "hi", "--backend", "cpu", NULL},
                          3, "/nonexistent/model.gguf");
    expect_one_line_error((const char *const[]){"tokenize", "-m", "/nonexistent/model.gguf",
                                                "-p", "hi", NULL}, 3, NULL);
}

static void test_invalid_model_exit_3(void **state)
{
    (void)state;
    char name[] = "/tmp/pdvm-cli-bad-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "GGUF\x03\0\0\0garbage", 15), 15);
    close(fd);
    expect_one_line_error((const char *const[]){"run", "-m", name, "-p", "hi", "--backend",
                                                "cpu", NULL}, 3, NULL);
    unlink(name);
}

static void test_prompt_over_context_exit_2(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    model_path(path);
    expect_one_line_error((const char *const[]){"run", "-m", path, "-p",
                                                "Once upon a time there was a dog", "-c", "4",
                                                "--backend", "cpu", NULL}, 2, "context");
}

static void test_run_streams_prompt_then_text(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    model_path(path);
    cli_result r = cli_run((const char *const[]){"run", "-m", path, "-p", "Once upon a time",
                                                  "-n", "8", "--temp", "0", "--backend", "cpu",
                                                  NULL}, NULL);
    if (r.code != 0) fail_msg("exit %d: %s", r.code, r.err);
    const char *want = "Once upon a time, there was a little girl";
    if (strncmp(r.out, want, strlen(want)) != 0) fail_msg("stdout: '%s'", r.out);
    assert_int_equal(cli_count_lines(r.out), 1);
    assert_int_equal(r.out[strlen(r.out) - 1], '\n');
    const char *last = r.err + strlen(r.err) - 1;
    while (last > r.err && last[-1] != '\n') last--;
    assert_true(strncmp(last, "stats: prefill_tokens=5 prefill_tps=", 36) == 0);
    assert_non_null(strstr(last, " decode_tokens=7 "));
    assert_non_null(strstr(last, " dispatches_per_token=0.0 cpu_us_per_token="));
    cli_result_free(&r);
}

/* --no-mmap and --mlock hold the file differently (the CPU backend reads
 * it in, or locks it): same text; --mmap with --no-mmap is a usage error;
 * the memory line and the stats line carry the peak resident set. */
static void test_run_file_flags(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    model_path(path);
    expect_one_line_error((const char *const[]){"run", "-m", path, "-p", "hi", "--mmap",
                                                "--no-mmap", NULL}, 2, "contradict");
    const char *flags[] = {"--mmap", "--no-mmap", "--mlock"};
    char *first = NULL;
    for (size_t i = 0; i < 3; i++) {
        cli_result r = cli_run((const char *const[]){"run", "-m", path, "-p", "Once upon a time",
                                                      "-n", "8", "--temp", "0", "--backend",
                                                      "cpu", flags[i], NULL}, NULL);
        if (r.code == 1 && strstr(r.err, "RLIMIT_MEMLOCK")) { /* mlock refused here */
            cli_result_free(&r);
            continue;
        }
        if (r.code != 0) fail_msg("%s: exit %d: %s", flags[i], r.code, r.err);
        if (first) assert_string_equal(r.out, first);
        else first = strdup(r.out);
        const char *mem = strstr(r.err, "memory: KV cache ");
        assert_non_null(mem);
        assert_true(strtod(strstr(mem, "peak RSS ") + 9, NULL) > 0.0);
        assert_true(strtod(strstr(r.err, " peak_rss_mib=") + 14, NULL) > 0.0);
        cli_result_free(&r);
    }
    assert_non_null(first);
    free(first);
}

static void test_tokenize_prints_ids(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    model_path(path);
    cli_result r = cli_run((const char *const[]){"tokenize", "-m", path, "-p",
                                                  "Once upon a time", NULL}, NULL);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "1 403 407 261 378\n");
    cli_result_free(&r);
    r = cli_run((const char *const[]){"tokenize", "-m", path, "-p", "Once", "--pieces",
                                       "--no-bos", NULL}, NULL);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "403 ' Once'\n"); /* the piece's text */
    cli_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags_exit_2),
        cmocka_unit_test(test_missing_model_exit_3),
        cmocka_unit_test(test_invalid_model_exit_3),
        cmocka_unit_test(test_prompt_over_context_exit_2),
        cmocka_unit_test(test_run_streams_prompt_then_text),
        cmocka_unit_test(test_run_file_flags),
        cmocka_unit_test(test_tokenize_prints_ids),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
