/* `pdvm tokenize` as a user runs it (fork/exec of $PDVM_BIN, default
 * build/pdvm) on the vocab-only files of <models>/vocab: llama-tokenize's
 * flags, bytes from a file and stdin taken as they are, invalid UTF-8, and
 * the exit codes of a bad command line (2) and an unsupported
 * pre-tokenizer (3). Expected ids are llama.cpp's (tests/data/tokenizer). */
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

#include "gguf.h"
#include "gguf_writer.h"
#include "test_util.h"

typedef struct cli_out {
    int code;
    char *out, *err;
} cli_out;

static char *read_fd(int fd)
{
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    lseek(fd, 0, SEEK_SET);
    for (ssize_t k; (k = read(fd, s + n, cap - n - 1)) > 0;) {
        n += (size_t)k;
        if (n + 1 == cap) {
            s = realloc(s, cap *= 2);
            assert_non_null(s);
        }
    }
    s[n] = '\0';
    return s;
}

static int temp_file(const void *data, size_t n, char *path)
{
    strcpy(path, "/tmp/pdvm-test-tok-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (n > 0) assert_int_equal(write(fd, data, n), (ssize_t)n);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* Run pdvm with args (NULL-terminated), stdin from in[0..n_in). */
static cli_out run(const char *const *args, const char *in, size_t n_in)
{
    const char *bin = getenv("PDVM_BIN");
    if (!bin || !*bin) bin = "build/pdvm";
    char in_path[64], out_path[64], err_path[64];
    int fin = temp_file(in, n_in, in_path), fout = temp_file(NULL, 0, out_path),
        ferr = temp_file(NULL, 0, err_path);
    const char *runner = getenv("PDVM_RUNNER"); /* an emulator, for a cross build */
    const char *argv[32];
    size_t n = 0;
    if (runner && *runner) argv[n++] = runner;
    argv[n++] = bin;
    for (size_t i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fin, 0);
        dup2(fout, 1);
        dup2(ferr, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    cli_out r = {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_fd(fout), read_fd(ferr)};
    close(fin);
    close(fout);
    close(ferr);
    unlink(in_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

static void done(cli_out *r)
{
    free(r->out);
    free(r->err);
}

static void vocab(const char *name, char *path)
{
    char rel[128];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", name);
    test_model_path(rel, path, TEST_PATH_MAX); /* skips or fails */
}

static void expect_out(const char *const *args, const char *in, size_t n_in, const char *want)
{
    cli_out r = run(args, in, n_in);
    if (r.code != 0 || strcmp(r.out, want) != 0)
        fail_msg("exit %d, stdout '%s' (want '%s'), stderr '%s'", r.code, r.out, want, r.err);
    done(&r);
}

static void test_ids_flags(void **state)
{
    (void)state;
    char m[TEST_PATH_MAX];
    vocab("llama-bpe", m);
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "Hello world", "--ids", NULL},
               NULL, 0, "[128000, 9906, 1917]\n");
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "Hello world", "--ids",
                                     "--no-bos", NULL},
               NULL, 0, "[9906, 1917]\n");
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "Hello world", NULL}, NULL, 0,
               "128000 9906 1917\n");
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "Hello world", "--show-count",
                                     "--ids", NULL},
               NULL, 0, "[128000, 9906, 1917]\nTotal number of tokens: 3\n");
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "Hi<|eot_id|>", "--ids", NULL},
               NULL, 0, "[128000, 13347, 128009]\n");
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "<|eot_id|>", "--ids", "--no-bos",
                                     "--no-parse-special", NULL},
               NULL, 0, "[27, 91, 68, 354, 851, 91, 29]\n");
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "Hello world", "--pieces", NULL},
               NULL, 0, "128000 '<|begin_of_text|>'\n9906 'Hello'\n1917 ' world'\n");
}

/* A file and stdin are bytes: the trailing newline is a token (198). */
static void test_file_and_stdin(void **state)
{
    (void)state;
    char m[TEST_PATH_MAX], path[64];
    vocab("llama-bpe", m);
    static const char text[] = "Hello world\n";
    int fd = temp_file(text, sizeof text - 1, path);
    close(fd);
    expect_out((const char *const[]){"tokenize", "-m", m, "-f", path, "--ids", NULL}, NULL, 0,
               "[128000, 9906, 1917, 198]\n");
    unlink(path);
    expect_out((const char *const[]){"tokenize", "-m", m, "--stdin", "--ids", NULL}, text,
               sizeof text - 1, "[128000, 9906, 1917, 198]\n");
}

/* Byte fallback: more ids than the buffer a byte count would give. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    char m[TEST_PATH_MAX];
    vocab("llama-spm", m);
    expect_out((const char *const[]){"tokenize", "-m", m, "-p", "\xff\xfe\x80" "abc \xc3 ",
                                     "--ids", NULL},
               NULL, 0, "[1, 29871, 258, 257, 131, 100, 12328, 29871, 198, 229, 153, 132]\n");
}

static void expect_exit(const char *const *args, int code, const char *in_err)
{
    cli_out r = run(args, NULL, 0);
    if (r.code != code || !strstr(r.err, in_err) || r.out[0] != '\0')
        fail_msg("exit %d (want %d), stderr '%s' (want '%s' in it), stdout '%s'", r.code, code,
                 r.err, in_err, r.out);
    done(&r);
}

static void test_errors(void **state)
{
    (void)state;
    char m[TEST_PATH_MAX], path[64];
    vocab("llama-bpe", m);
    expect_exit((const char *const[]){"tokenize", "-m", m, NULL}, 2, "-p TEXT");
    expect_exit((const char *const[]){"tokenize", "-m", m, "-p", "a", "--stdin", NULL}, 2,
                "one of");
    expect_exit((const char *const[]){"tokenize", "-m", m, "-f", "/nonexistent", NULL}, 1,
                "/nonexistent");
    /* A vocabulary whose pre-tokenizer we do not implement: exit 3, named. */
    gw kv = {0}, file = {0};
    gw_kv_str(&kv, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&kv, "tokenizer.ggml.pre", "klingon");
    gw_kv_arr(&kv, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, 1);
    gw_str(&kv, "a");
    gw_kv_arr(&kv, "tokenizer.ggml.merges", GGUF_TYPE_STRING, 0);
    gw_file(&file, &kv, 4, NULL, 0, 32, 0, NULL);
    int fd = temp_file(file.buf, file.len, path);
    close(fd);
    expect_exit((const char *const[]){"tokenize", "-m", path, "-p", "a", NULL}, 3, "'klingon'");
    unlink(path);
    gw_free(&kv);
    gw_free(&file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_flags),
        cmocka_unit_test(test_file_and_stdin),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("pdvm tokenize", tests, NULL, NULL);
}
