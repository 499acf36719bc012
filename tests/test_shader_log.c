/* Compiler logs rewritten in terms of our file names and lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gl_internal.h"
#include "shaders.h"

static void mesa_format_inline_source(void **state)
{
    (void)state;
    char out[256];
    pdvm_gl_log_rewrite("4095:7(12): error: syntax error, unexpected '}'\n", "my_test", out,
                        sizeof out);
    assert_string_equal(out, "my_test:7: error: syntax error, unexpected '}'");
}

static void nvidia_format_and_preamble(void **state)
{
    (void)state;
    char out[256];
    pdvm_gl_log_rewrite("0(3) : error C0000: syntax error, unexpected identifier\n", "qkv", out,
                        sizeof out);
    assert_string_equal(out, "qkv (preamble):3: error C0000: syntax error, unexpected identifier");
}

static void embedded_file_number_maps_to_its_name(void **state)
{
    (void)state;
    const char *file = pdvm_shader_file(1);
    assert_non_null(file); /* glsl/ is not empty: the runtime ships its own shaders */
    char out[256], expect[256];
    pdvm_gl_log_rewrite("1:42(3): warning: unused variable\n", "x", out, sizeof out);
    snprintf(expect, sizeof expect, "%s:42: warning: unused variable", file);
    assert_string_equal(out, expect);
}

static void unknown_number_and_plain_lines(void **state)
{
    (void)state;
    char out[256];
    pdvm_gl_log_rewrite("  \n999:2(1): error: a\nerror: linking failed\n", "s", out, sizeof out);
    assert_string_equal(out, "s (source 999):2: error: a; error: linking failed");
}

static void output_is_truncated_not_overrun(void **state)
{
    (void)state;
    char out[16 + 8];
    memset(out, 'Z', sizeof out);
    pdvm_gl_log_rewrite("4095:1(1): error: a very long message indeed\n", "name", out, 16);
    assert_int_equal(strlen(out), 15);
    assert_int_equal(out[16], 'Z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mesa_format_inline_source),
        cmocka_unit_test(nvidia_format_and_preamble),
        cmocka_unit_test(embedded_file_number_maps_to_its_name),
        cmocka_unit_test(unknown_number_and_plain_lines),
        cmocka_unit_test(output_is_truncated_not_overrun),
    };
    return cmocka_run_group_tests_name("shader_log", tests, NULL, NULL);
}
