#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gl_util.h"
#include "pdvm.h"

pdvm_gl *test_gl_open(void)
{
    pdvm_gl *gl = NULL;
    if (pdvm_gl_open(NULL, &gl) != PDVM_OK) fail_msg("no GL context: %s", pdvm_last_error());
    return gl;
}

void test_sibling_path(const char *rel, char *out, size_t cap)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    snprintf(out, cap, "%s/%s", dirname(exe), rel);
}

void test_pdvm_command(char *out, size_t cap)
{
    char bin[4096];
    test_sibling_path("../pdvm", bin, sizeof bin);
    if (access(bin, X_OK) != 0) fail_msg("%s is not built", bin);
    const char *runner = getenv("PDVM_RUNNER");
    if (runner && *runner)
        snprintf(out, cap, "'%s' '%s'", runner, bin);
    else
        snprintf(out, cap, "'%s'", bin);
}

int test_run_command(const char *cmd, char *out, size_t cap)
{
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    while (fgetc(p) != EOF) {} /* drain so the child is never blocked */
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void test_chain_open(pdvm_gl *gl, const char *defines, test_chain *c)
{
    if (pdvm_gl_program_build(gl, "rt_latency", defines, &c->prog) != PDVM_OK)
        fail_msg("%s", pdvm_last_error());
    const uint32_t zero[4] = {0};
    assert_int_equal(pdvm_gl_buffer_create(gl, sizeof zero, zero, &c->counter), PDVM_OK);
    pdvm_gl_bind(gl, 0, &c->counter, 0, 0);
}

uint32_t test_chain_count(pdvm_gl *gl, const test_chain *c)
{
    uint32_t steps = 0xDEADBEEFu;
    assert_int_equal(pdvm_gl_buffer_read(gl, &c->counter, 0, 4, &steps), PDVM_OK);
    return steps;
}

void test_chain_close(pdvm_gl *gl, test_chain *c)
{
    pdvm_gl_buffer_delete(gl, &c->counter);
    pdvm_gl_program_delete(gl, &c->prog);
}

void test_flip_byte(const char *path, long offset)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    fputc(c ^ 0xFF, f);
    fclose(f);
}

void test_temp_dir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/pdvm-test-XXXXXX");
    assert_non_null(mkdtemp(out));
}
