/* The shader embedder: the table built from glsl/, and the tool itself on
 * include chains, repeats, cycles and bad directives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_util.h"
#include "shaders.h"

static void embedded_table_resolves_includes(void **state)
{
    (void)state;
    const char *src = pdvm_shader_source("rmsnorm");
    assert_non_null(src);
    assert_null(strstr(src, "#include"));
    assert_null(strstr(src, "#version"));
    assert_non_null(strstr(src, "float wg_sum(float v)"));          /* from wg.glsl */
    assert_non_null(strstr(src, "wg_reduce_sum"));                  /* and reduce.glsl in it */
    assert_true(strncmp(src, "#line 1 ", 8) == 0);
    assert_null(pdvm_shader_source("no_such_shader"));
    assert_null(pdvm_shader_source(NULL));
    assert_null(pdvm_shader_file(0));
    assert_null(pdvm_shader_file(-1));
    assert_null(pdvm_shader_file(100000));
}

static void every_listed_shader_has_source(void **state)
{
    (void)state;
    size_t n = pdvm_shader_count();
    assert_true(n >= 3); /* rt_bandwidth, rt_latency and the model kernels */
    bool saw_latency = false;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(pdvm_shader_source(pdvm_shader_name(i)));
        saw_latency |= !strcmp(pdvm_shader_name(i), "rt_latency");
    }
    assert_true(saw_latency);
    assert_null(pdvm_shader_name(n));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Run the tool on dir; returns its exit status, output in out. */
static int embed(const char *dir, char *out, size_t cap)
{
    char tool[4096], cmd[8192];
    test_sibling_path("../tools/embed_shaders", tool, sizeof tool);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s/out.c'", tool, dir, dir);
    return test_run_command(cmd, out, cap);
}

static char *read_output(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/out.c", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void tool_includes_each_file_once_with_line_directives(void **state)
{
    (void)state;
    char dir[256], log[1024];
    test_temp_dir(dir, sizeof dir);
    /* sorted: a.comp=1, b.glsl=2, c.glsl=3 */
    write_file(dir, "a.comp", "#include \"b.glsl\"\n  #  include \"c.glsl\" // again\nvoid main() {}\n");
    write_file(dir, "b.glsl", "#include \"c.glsl\"\nfloat b_fn() { return c_fn(); }\n");
    write_file(dir, "c.glsl", "float c_fn() { return 1.0; } // \"quoted\" ?\?=\n");
    assert_int_equal(embed(dir, log, sizeof log), 0);
    const char *out = read_output(dir);
    assert_non_null(strstr(out, "\"#line 1 1\\n\"\n    \"#line 1 2\\n\"\n    \"#line 1 3\\n\""));
    assert_non_null(strstr(out, "\"#line 2 2\\n\"")); /* back in b.glsl after c.glsl */
    assert_non_null(strstr(out, "\"#line 2 1\\n\""));  /* back in a.comp after b.glsl */
    /* c.glsl's text appears once although included twice */
    const char *first = strstr(out, "float c_fn()");
    assert_non_null(first);
    assert_null(strstr(first + 1, "float c_fn()"));
    assert_non_null(strstr(out, "\\\"quoted\\\" \\?\\?="));
    assert_non_null(strstr(out, "{\"a\",")); /* only .comp files are shaders */
    assert_null(strstr(out, "{\"b\","));
}

static void tool_rejects_bad_trees(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b, *expect;
    } cases[] = {
        {"#include \"b.glsl\"\n", "#include \"a.comp\"\n", "include cycle"},
        {"#include \"missing.glsl\"\n", "", "no such file"},
        {"#include <b.glsl>\n", "", "malformed #include"},
        {"#include \"../b.glsl\"\n", "", "malformed #include"},
        {"#version 310 es\nvoid main() {}\n", "", "remove #version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[256], log[1024];
        test_temp_dir(dir, sizeof dir);
        write_file(dir, "a.comp", cases[i].a);
        write_file(dir, "b.glsl", cases[i].b);
        assert_int_equal(embed(dir, log, sizeof log), 1);
        if (!strstr(log, cases[i].expect)) fail_msg("case %zu: '%s' not in: %s", i, cases[i].expect, log);
        assert_non_null(strstr(log, "a.comp")); /* names the file */
        char path[512];
        snprintf(path, sizeof path, "%s/out.c", dir);
        assert_null(fopen(path, "r")); /* no half-written output */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedded_table_resolves_includes),
        cmocka_unit_test(every_listed_shader_has_source),
        cmocka_unit_test(tool_includes_each_file_once_with_line_directives),
        cmocka_unit_test(tool_rejects_bad_trees),
    };
    return cmocka_run_group_tests_name("shader_embed", tests, NULL, NULL);
}
