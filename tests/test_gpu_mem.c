/* Memory of GPU sessions on llvmpipe, where the GPU's buffers are the
 * process's own memory as on a board whose GPU shares the RAM:
 * - a generated model of 800 MB (tests/arch_models.h "big-embd": mostly an
 *   f32 token embedding, so its one token decodes in seconds) runs through
 *   `pdvm run` with a peak resident set under 1.25 times the file size,
 *   mapped and read (--no-mmap): the file is not resident next to the
 *   upload. Measured from the process (its stats line) and from outside
 *   (wait4), in a child whose parent holds nothing large;
 * - a context whose KV cache cannot fit a faked small memory
 *   (PDVM_MEM_AVAILABLE_MIB) is refused with exit 1, the numbers and the
 *   context that would fit, before anything is uploaded;
 * - mapped, read and locked models give the same GPU logits, and a CPU
 *   session on a read model after a GPU one (the data read in then) the
 *   same logits as on a mapped model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch_models.h"
#include "cli_util.h"
#include "pdvm.h"
#include "quant.h"
#include "test_util.h"

typedef struct big_file {
    char dir[64];
    char path[128];
    double mib;
} big_file;

/* Written by a child process, so that this process never holds the
 * model's bytes and the pdvm children it forks start small. */
static int write_big(void **state)
{
    static big_file f;
    char vocab[TEST_PATH_MAX];
    test_model_path("vocab/ggml-vocab-llama-spm.gguf", vocab, sizeof vocab);
    *strrchr(vocab, '/') = '\0';
    snprintf(f.dir, sizeof f.dir, "/tmp/pdvm-mem-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.path, sizeof f.path, "%s/big-embd.gguf", f.dir);
    uint32_t q4_0 = 0;
    assert_true(arch_type_from_name("q4_0", &q4_0));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(arch_model_write(arch_spec_find("big-embd"), q4_0, 7, false, vocab, f.path) ? 0 : 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct stat sb;
    assert_int_equal(stat(f.path, &sb), 0);
    f.mib = (double)sb.st_size / 1048576.0;
    assert_true(f.mib >= 200.0); /* the "at least 200 MB" */
    *state = &f;
    return 0;
}

static int remove_big(void **state)
{
    big_file *f = *state;
    if (f) {
        unlink(f->path);
        rmdir(f->dir);
    }
    return 0;
}

/* The number after `key` in text; fails the test when absent. */
static double number_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p) fail_msg("no '%s' in: %s", key, text);
    return strtod(p + strlen(key), NULL);
}

static void peak_under_1_25x(const big_file *f, const char *mode)
{
    cli_result r = cli_run((const char *const[]){"run", "-m", f->path, "-p", "", "-n", "1", "-c",
                                                  "64", "--temp", "0", mode, NULL}, NULL);
    if (r.code != 0) fail_msg("%s: exit %d: %s", mode, r.code, r.err);
    double weights = number_after(r.err, "memory: weights ");
    double own = number_after(r.err, "peak_rss_mib=");
    double outside = (double)r.maxrss_kib / 1024.0;
    print_message("%s: file %.1f MiB, GPU weights %.1f MiB, peak RSS %.1f MiB (%.3fx), "
                  "wait4 %.1f MiB\n", mode, f->mib, weights, own, own / f->mib, outside);
    /* The weights did go up (llvmpipe: into this process's memory)... */
    assert_true(weights > 0.95 * f->mib);
    /* ...and the file was not resident next to them. */
    assert_true(own < 1.25 * f->mib);
    assert_true(outside < 1.25 * f->mib);
    cli_result_free(&r);
}

static void test_peak_rss_mmap(void **state) { peak_under_1_25x(*state, "--mmap"); }

static void test_peak_rss_no_mmap(void **state) { peak_under_1_25x(*state, "--no-mmap"); }

/* big-embd's KV cache costs 4096 bytes a position (1 layer, 8 KV heads of
 * 128, K and V in f16): with 800 MiB "available" and the weights taking
 * about 764, the largest power-of-two context that fits is 8192
 * (test_mem_budget checks the advice's arithmetic). */
static void test_budget_refusal(void **state)
{
    const big_file *f = *state;
    const char *env[] = {"PDVM_MEM_AVAILABLE_MIB=800", NULL};
    cli_opts o = {.env = env};
    const char *const args[] = {"run", "-m", f->path, "-p", "", "-n", "1", "-c", "100000",
                                "--temp", "0", NULL};
    cli_expect_one_line_error(args, &o, 1, "not enough memory: needs ");
    cli_result r = cli_run(args, &o);
    print_message("%s", r.err);
    assert_non_null(strstr(r.err, "KV cache 390.6 MiB for n_ctx 100000"));
    assert_non_null(strstr(r.err, "800.0 MiB available (PDVM_MEM_AVAILABLE_MIB); "
                                  "try -c 8192 or a smaller type"));
    /* Refused before the upload: the child never held the weights. */
    assert_true((double)r.maxrss_kib / 1024.0 < 0.25 * f->mib);
    cli_result_free(&r);
}

static void test_malformed_knob_exit_2(void **state)
{
    const big_file *f = *state;
    const char *env[] = {"PDVM_MEM_AVAILABLE_MIB=12x", NULL};
    cli_opts o = {.env = env};
    cli_expect_one_line_error((const char *const[]){"run", "-m", f->path, "-p", "", "-n", "1",
                                                    NULL}, &o, 2, "PDVM_MEM_AVAILABLE_MIB='12x'");
}

/* ------------------------------------------ mapped, read, locked: same */

static const int32_t prompt[] = {1, 403, 407, 261, 378}; /* BOS "Once upon a time" */

static float *logits_of(pdvm_model *m, pdvm_backend backend)
{
    pdvm_session_params sp = pdvm_session_default_params();
    sp.n_ctx = 64;
    sp.backend = backend;
    pdvm_session *s = NULL;
    if (pdvm_session_create(m, &sp, &s) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    const float *lg = NULL;
    assert_int_equal(pdvm_session_eval(s, prompt, 5, &lg), PDVM_OK);
    uint32_t n = pdvm_model_hparams(m)->n_vocab;
    float *out = malloc(n * sizeof *out);
    assert_non_null(out);
    memcpy(out, lg, n * sizeof *out);
    pdvm_session_free(s);
    return out;
}

static pdvm_model *load(const char *path, bool mmap, bool mlock)
{
    pdvm_model_params p = pdvm_model_default_params();
    p.use_mmap = mmap;
    p.use_mlock = mlock;
    pdvm_model *m = NULL;
    pdvm_status st = pdvm_model_load(path, &p, &m);
    if (st == PDVM_ERR_NOMEM && mlock && strstr(pdvm_last_error(), "RLIMIT_MEMLOCK")) return NULL;
    if (st != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return m;
}

static void test_sources_same_logits(void **state)
{
    (void)state;
    char path[TEST_PATH_MAX];
    test_model_path("stories260K-q4_0.gguf", path, sizeof path);
    pdvm_model *mapped = load(path, true, false), *read = load(path, false, false);
    pdvm_model *locked = load(path, true, true); /* NULL where mlock is refused */
    uint32_t n = pdvm_model_hparams(mapped)->n_vocab;
    float *want_gpu = logits_of(mapped, PDVM_BACKEND_GPU);
    float *want_cpu = logits_of(mapped, PDVM_BACKEND_CPU);
    float *gpu_read = logits_of(read, PDVM_BACKEND_GPU);
    float *cpu_read = logits_of(read, PDVM_BACKEND_CPU); /* reads the data in now */
    float *gpu_read2 = logits_of(read, PDVM_BACKEND_GPU); /* from the data read in */
    assert_memory_equal(gpu_read, want_gpu, n * sizeof(float));
    assert_memory_equal(gpu_read2, want_gpu, n * sizeof(float));
    assert_memory_equal(cpu_read, want_cpu, n * sizeof(float));
    if (locked) {
        float *gpu_locked = logits_of(locked, PDVM_BACKEND_GPU);
        assert_memory_equal(gpu_locked, want_gpu, n * sizeof(float));
        free(gpu_locked);
    } else {
        print_message("mlock refused here (RLIMIT_MEMLOCK): locked model not compared\n");
    }
    /* The comparisons can fail: the two engines' logits differ in their
     * last bits (f16 KV cache, summation order). */
    assert_true(memcmp(want_cpu, want_gpu, n * sizeof(float)) != 0);
    free(want_gpu), free(want_cpu), free(gpu_read), free(cpu_read), free(gpu_read2);
    pdvm_model_close(mapped), pdvm_model_close(read), pdvm_model_close(locked);
}

int main(void)
{
    const struct CMUnitTest big[] = {
        cmocka_unit_test(test_peak_rss_mmap),
        cmocka_unit_test(test_peak_rss_no_mmap),
        cmocka_unit_test(test_budget_refusal),
        cmocka_unit_test(test_malformed_knob_exit_2),
    };
    const struct CMUnitTest small[] = {
        cmocka_unit_test(test_sources_same_logits),
    };
    int failed = cmocka_run_group_tests_name("gpu_mem_sources", small, NULL, NULL);
    return failed + cmocka_run_group_tests_name("gpu_mem_big_model", big, write_big, remove_big);
}
