/* Failures the tool must report instead of hiding (issue: a CLI that never
 * lies): stdout that cannot be written, FIFOs where files belong, bench
 * paths and names checked before measuring, NaN weights, the model path
 * named once, prompts from a file. Each asserts the exit code and the
 * message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"
#include "pdvm.h"
#include "test_util.h"

static void model_path(char *out) { test_model_path("stories260K.gguf", out, TEST_PATH_MAX); }

static void run_with_stdout(cli_stdout mode, const char *needle)
{
    char path[TEST_PATH_MAX];
    model_path(path);
    cli_opts o = {.out_mode = mode, .timeout_s = 120};
    cli_result r = cli_run((const char *const[]){"run", "-m", path, "-p", "Once upon a time",
                                                 "-n", "400", "-c", "512", "--temp", "0",
                                                 "--backend", "cpu", NULL}, &o);
    if (r.code != 1) fail_msg("exit %d signal %d, stderr: %s", r.code, r.signal, r.err);
    if (!strstr(r.err, needle)) fail_msg("stderr lacks '%s': %s", needle, r.err);
    /* Stopped at the first failed write: no stats line, which comes last. */
    assert_null(strstr(r.err, "stats:"));
    cli_result_free(&r);
}

static void stdout_closed(void **state)
{
    (void)state;
    run_with_stdout(CLI_STDOUT_CLOSED, "standard output is closed");
    char path[TEST_PATH_MAX];
    model_path(path);
    cli_opts o = {.out_mode = CLI_STDOUT_CLOSED};
    cli_expect_one_line_error((const char *const[]){"inspect", path, NULL}, &o, 1,
                              "standard output is closed");
}

static void stdout_full(void **state)
{
    (void)state;
    run_with_stdout(CLI_STDOUT_FULL, "No space left on device");
    char path[TEST_PATH_MAX];
    model_path(path);
    cli_opts o = {.out_mode = CLI_STDOUT_FULL};
    cli_expect_one_line_error((const char *const[]){"inspect", path, NULL}, &o, 1,
                              "No space left on device");
}

static void stdout_reader_gone(void **state)
{
    (void)state;
    run_with_stdout(CLI_STDOUT_BROKEN_PIPE, "Broken pipe");
}

/* A FIFO would block open() forever: refused as not a regular file. */
static void fifo_model(void **state)
{
    (void)state;
    char dir[] = "/tmp/pdvm-fifo-XXXXXX", fifo[64];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/model.gguf", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    cli_opts o = {.timeout_s = 30};
    cli_expect_one_line_error((const char *const[]){"inspect", fifo, NULL}, &o, 3,
                              "not a regular file");
    cli_expect_one_line_error((const char *const[]){"run", "-m", fifo, "-p", "x", "--backend",
                                                    "cpu", NULL}, &o, 3, "not a regular file");
    cli_expect_one_line_error((const char *const[]){"tokenize", "-m", fifo, "-p", "x", NULL},
                              &o, 3, "not a regular file");
    unlink(fifo);
    rmdir(dir);
}

/* Arguments are checked before any measurement: with a platform forced
 * that cannot start (gbm without /dev/dri), a wrong order would end in the
 * platform's error (exit 4) instead of the argument's. */
static void bench_bad_arguments(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    model_path(path);
    const char *const env[] = {"PDVM_PLATFORM=gbm", NULL};
    cli_opts o = {.env = env, .timeout_s = 60};
    cli_expect_one_line_error((const char *const[]){"bench", "-m", path, "--out",
                                                    "/nonexistent/dir/x.jsonl", NULL},
                              &o, 1, "cannot write /nonexistent/dir/x.jsonl");
    cli_expect_one_line_error((const char *const[]){"bench", "--suite", "--models",
                                                    "/nonexistent", NULL},
                              &o, 2, "--models /nonexistent");
    cli_expect_one_line_error((const char *const[]){"bench", "-m", "/nonexistent/m.gguf", NULL},
                              &o, 3, "/nonexistent/m.gguf");
    cli_expect_one_line_error((const char *const[]){"bench", "--synthetic", "llama-9b", NULL},
                              &o, 2, "unknown synthetic model 'llama-9b'");
    cli_expect_one_line_error((const char *const[]){"bench", "--synthetic", "stories15M",
                                                    "--type", "q9_9", NULL},
                              &o, 2, "unknown --type 'q9_9'");
    cli_expect_one_line_error((const char *const[]){"bench", "--synthetic", "stories15M", "-np",
                                                    "4", "--depth", "16", NULL},
                              &o, 2, "-np N decodes every sequence from position 0");
    cli_expect_one_line_error((const char *const[]){"bench", "--synthetic", "stories15M", "-np",
                                                    "300", NULL},
                              &o, 2, "--parallel expects an integer in [1, 256]");
}

/* A copy of stories260K with one NaN in blk.0.attn_q.weight (F32). */
static void write_nan_model(const char *src, const char *dst)
{
    size_t size = 0;
    uint8_t *bytes = test_read_file(src, &size);
    pdvm_gguf *g = NULL;
    assert_int_equal(pdvm_gguf_open(src, &g), PDVM_OK);
    uint64_t at = 0;
    for (uint64_t i = 0; i < pdvm_gguf_n_tensors(g); i++) {
        pdvm_gguf_tensor_info t;
        assert_true(pdvm_gguf_get_tensor(g, i, &t));
        if (t.name.len == 19 && !memcmp(t.name.ptr, "blk.0.attn_q.weight", 19))
            at = pdvm_gguf_data_offset(g) + t.offset + 4 * 37;
    }
    pdvm_gguf_close(g);
    assert_true(at > 0 && at + 4 <= size);
    const uint8_t nan_f32[4] = {0x00, 0x00, 0xC0, 0x7F};
    memcpy(bytes + at, nan_f32, 4);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    fclose(f);
    free(bytes);
}

static void nan_tensor(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX], bad[] = "/tmp/pdvm-nan-XXXXXX";
    model_path(path);
    int fd = mkstemp(bad);
    assert_true(fd >= 0);
    close(fd);
    write_nan_model(path, bad);
    cli_expect_one_line_error((const char *const[]){"run", "-m", bad, "-p", "x", "--backend",
                                                    "cpu", "--check-tensors", NULL},
                              NULL, 3, "tensor 'blk.0.attn_q.weight' (f32) holds nan at element 37");
    cli_result r = cli_run((const char *const[]){"inspect", "--check", bad, NULL}, NULL);
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "'blk.0.attn_q.weight'"));
    cli_result_free(&r);
    /* The intact file passes the same checks. */
    r = cli_run((const char *const[]){"inspect", "--check", path, NULL}, NULL);
    assert_int_equal(r.code, 0);
    cli_result_free(&r);
    unlink(bad);
}

static size_t occurrences(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}

static void model_path_named_once(void **state)
{
    (void)state;
    const char *missing = "/nonexistent/dir/model.gguf";
    cli_result r = cli_run((const char *const[]){"run", "-m", missing, "-p", "x", "--backend",
                                                 "cpu", NULL}, NULL);
    assert_int_equal(r.code, 3);
    if (occurrences(r.err, missing) != 1) fail_msg("path not named exactly once: %s", r.err);
    cli_result_free(&r);
}

/* -f takes the prompt's bytes from a file: the same text as -p gives. */
static void prompt_from_file(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX], file[] = "/tmp/pdvm-prompt-XXXXXX";
    model_path(path);
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "Once upon a time", 16), 16);
    close(fd);
    const char *common[] = {"-n", "12", "--temp", "0", "--backend", "cpu"};
    cli_result a = cli_run((const char *const[]){"run", "-m", path, "-f", file, common[0],
                                                 common[1], common[2], common[3], common[4],
                                                 common[5], NULL}, NULL);
    cli_result b = cli_run((const char *const[]){"run", "-m", path, "-p", "Once upon a time",
                                                 common[0], common[1], common[2], common[3],
                                                 common[4], common[5], NULL}, NULL);
    assert_int_equal(a.code, 0);
    assert_int_equal(b.code, 0);
    assert_string_equal(a.out, b.out);
    cli_result_free(&a);
    cli_result_free(&b);
    unlink(file);
    cli_expect_one_line_error((const char *const[]){"run", "-m", path, "-f", "/nonexistent/p",
                                                    "--backend", "cpu", NULL},
                              NULL, 2, "/nonexistent/p");
    cli_expect_one_line_error((const char *const[]){"run", "-m", path, "-f", file, "-p", "x",
                                                    NULL}, NULL, 2, "one of -p PROMPT or -f FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stdout_closed),       cmocka_unit_test(stdout_full),
        cmocka_unit_test(stdout_reader_gone),  cmocka_unit_test(fifo_model),
        cmocka_unit_test(bench_bad_arguments), cmocka_unit_test(nan_tensor),
        cmocka_unit_test(model_path_named_once), cmocka_unit_test(prompt_from_file),
    };
    return cmocka_run_group_tests_name("cli_failures", tests, NULL, NULL);
}
