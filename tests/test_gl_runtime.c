/* The GL runtime on a real context (llvmpipe through surfaceless in CI):
 * platform choice, limits and their overrides, buffers, dispatch checks,
 * error reporting, timing and the measurements `pdvm info` shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "gl_util.h"

static void clear_env(void)
{
    unsetenv("PDVM_PLATFORM");
    unsetenv("PDVM_LIMITS");
    unsetenv("PDVM_MAX_SSBO_BYTES");
}

static void context_on_surfaceless(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = NULL;
    if (pdvm_gl_open("surfaceless", &gl) != PDVM_OK)
        fail_msg("surfaceless: %s", pdvm_last_error());
    assert_string_equal(pdvm_gl_platform_name(gl), "surfaceless");
    assert_non_null(strstr(pdvm_gl_platform_report(gl), "forced"));
    assert_true(strlen(pdvm_gl_renderer(gl)) > 0);
    const pdvm_device_info *in = pdvm_gl_get_info(gl);
    assert_non_null(strstr(in->gl_version, "OpenGL ES 3."));
    /* A conforming driver reports at least the GLES 3.1 minimums. */
    const pdvm_gl_limits *l = pdvm_gl_get_limits(gl);
    assert_true(l->max_ssbo_bindings >= 4);
    assert_true(l->max_invocations >= 128);
    assert_true(l->max_shared_bytes >= 16384);
    assert_true(l->max_ssbo_bytes >= (int64_t)1 << 27);
    assert_true(l->ssbo_align >= 1 && l->ssbo_align <= 256);
    assert_false(l->minimum);
    pdvm_gl_close(gl);
}

static void closing_one_context_keeps_another(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *a = test_gl_open();
    pdvm_gl *b = test_gl_open();
    pdvm_gl_close(b);
    assert_int_equal(pdvm_gl_make_current(a), PDVM_OK);
    double us = 0;
    if (pdvm_gl_measure_latency(a, &us) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    pdvm_gl_close(a);
}

static void default_order_reports_the_others(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = test_gl_open();
    const char *name = pdvm_gl_platform_name(gl);
    const char *report = pdvm_gl_platform_report(gl);
    if (!strcmp(name, "device")) assert_non_null(strstr(report, "gbm: "));
    if (!strcmp(name, "surfaceless")) {
        assert_non_null(strstr(report, "gbm: "));
        assert_non_null(strstr(report, "device: "));
    }
    pdvm_gl_close(gl);
}

static void forced_gbm_without_dri_fails_naming_gbm(void **state)
{
    (void)state;
    clear_env();
    if (access("/dev/dri", F_OK) == 0) skip(); /* the machine has DRM nodes */
    pdvm_gl *gl = (pdvm_gl *)0x1;
    assert_int_equal(pdvm_gl_open("gbm", &gl), PDVM_ERR_NO_PLATFORM);
    assert_null(gl);
    assert_non_null(strstr(pdvm_last_error(), "gbm: "));
    setenv("PDVM_PLATFORM", "gbm", 1); /* same through the environment */
    assert_int_equal(pdvm_gl_open(NULL, &gl), PDVM_ERR_NO_PLATFORM);
    assert_non_null(strstr(pdvm_last_error(), "gbm"));
    clear_env();
}

static void unknown_platform_is_invalid(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = NULL;
    assert_int_equal(pdvm_gl_open("wayland", &gl), PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "wayland"));
    setenv("PDVM_PLATFORM", "x11", 1);
    assert_int_equal(pdvm_gl_open(NULL, &gl), PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "PDVM_PLATFORM"));
    clear_env();
}

static void minimum_limits_and_ssbo_override(void **state)
{
    (void)state;
    clear_env();
    setenv("PDVM_LIMITS", "minimum", 1);
    pdvm_gl *gl = test_gl_open();
    const pdvm_gl_limits *l = pdvm_gl_get_limits(gl);
    assert_true(l->minimum);
    assert_int_equal(l->max_ssbo_bindings, 4);
    assert_int_equal(l->max_invocations, 128);
    assert_int_equal(l->max_shared_bytes, 16384);
    assert_int_equal(l->max_ssbo_bytes, (int64_t)1 << 27);
    assert_int_equal(l->max_wg_size[0], 128);
    assert_int_equal(l->ssbo_align, 256);
    assert_false(l->subgroup);
    assert_int_equal(pdvm_gl_wg_size(gl, 1024, 0), 128);
    assert_int_equal(pdvm_gl_wg_size(gl, 1024, 256), 64); /* 16 KiB / 256 B */
    assert_int_equal(pdvm_gl_wg_size(gl, 100, 0), 64);
    pdvm_gl_close(gl);

    setenv("PDVM_MAX_SSBO_BYTES", "1M", 1);
    gl = test_gl_open();
    assert_int_equal(pdvm_gl_get_limits(gl)->max_ssbo_bytes, 1 << 20);
    pdvm_gl_buffer b;
    assert_int_equal(pdvm_gl_buffer_create(gl, (1 << 20) + 4, NULL, &b), PDVM_ERR_GPU);
    assert_non_null(strstr(pdvm_last_error(), "1048580"));
    assert_non_null(strstr(pdvm_last_error(), "1048576"));
    assert_int_equal(pdvm_gl_buffer_create(gl, 1 << 20, NULL, &b), PDVM_OK);
    pdvm_gl_buffer_delete(gl, &b);
    pdvm_gl_close(gl);
    clear_env();
}

static void bad_limit_settings_are_rejected(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = NULL;
    setenv("PDVM_LIMITS", "tiny", 1);
    assert_int_equal(pdvm_gl_open(NULL, &gl), PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "PDVM_LIMITS"));
    clear_env();
    setenv("PDVM_MAX_SSBO_BYTES", "12Q", 1);
    assert_int_equal(pdvm_gl_open(NULL, &gl), PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "PDVM_MAX_SSBO_BYTES"));
    assert_null(gl);
    clear_env();
}

static void buffers_round_trip_and_check_ranges(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = test_gl_open();
    uint32_t init[64], got[64];
    for (int i = 0; i < 64; i++) init[i] = 0x1000u + (uint32_t)i;
    pdvm_gl_buffer b;
    assert_int_equal(pdvm_gl_buffer_create(gl, sizeof init, init, &b), PDVM_OK);
    assert_int_equal(b.size, sizeof init);
    const uint32_t patch[2] = {7, 9};
    assert_int_equal(pdvm_gl_buffer_write(gl, &b, 8 * 4, sizeof patch, patch), PDVM_OK);
    memset(got, 0xAB, sizeof got);
    assert_int_equal(pdvm_gl_buffer_read(gl, &b, 0, sizeof got, got), PDVM_OK);
    assert_int_equal(got[7], 0x1007u);
    assert_int_equal(got[8], 7);
    assert_int_equal(got[9], 9);
    assert_int_equal(got[63], 0x103Fu);
    assert_int_equal(pdvm_gl_buffer_read(gl, &b, 250, 8, got), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_gl_buffer_write(gl, &b, 0, 257, init), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_gl_buffer_create(gl, 0, NULL, &b), PDVM_ERR_INVALID_ARG);
    pdvm_gl_buffer_delete(gl, &b);
    assert_int_equal(b.id, 0);
    pdvm_gl_close(gl);
}

static void dispatch_counts_and_checks_grid(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = test_gl_open();
    test_chain c;
    test_chain_open(gl, NULL, &c);
    uint64_t before = pdvm_gl_dispatch_count(gl);
    for (int i = 0; i < 5; i++) assert_int_equal(pdvm_gl_dispatch(gl, &c.prog, 1, 1, 1), PDVM_OK);
    assert_int_equal(pdvm_gl_check(gl, "five dispatches"), PDVM_OK);
    assert_int_equal(pdvm_gl_dispatch_count(gl) - before, 5);
    assert_int_equal(test_chain_count(gl, &c), 5);
    uint32_t too_many = (uint32_t)pdvm_gl_get_limits(gl)->max_wg_count[0] + 1;
    assert_int_equal(pdvm_gl_dispatch(gl, &c.prog, too_many, 1, 1), PDVM_ERR_GPU);
    assert_non_null(strstr(pdvm_last_error(), "rt_latency"));
    assert_non_null(strstr(pdvm_last_error(), "GL_MAX_COMPUTE_WORK_GROUP_COUNT"));
    assert_int_equal(pdvm_gl_dispatch(gl, &c.prog, 0, 1, 1), PDVM_ERR_INVALID_ARG);
    assert_int_equal(pdvm_gl_dispatch_count(gl) - before, 5); /* refused ones do not count */
    test_chain_close(gl, &c);
    pdvm_gl_close(gl);
}

static void gl_errors_are_reported_with_context(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = test_gl_open();
    pdvm_gl_buffer b;
    assert_int_equal(pdvm_gl_buffer_create(gl, 1024, NULL, &b), PDVM_OK);
    /* A binding point past the limit raises GL_INVALID_VALUE. */
    uint32_t bad = (uint32_t)pdvm_gl_get_limits(gl)->max_ssbo_bindings + 1000;
    pdvm_gl_bind(gl, bad, &b, 0, 0);
    assert_int_equal(pdvm_gl_check(gl, "binding the test buffer"), PDVM_ERR_GPU);
    assert_non_null(strstr(pdvm_last_error(), "GL_INVALID_VALUE"));
    assert_non_null(strstr(pdvm_last_error(), "binding the test buffer"));
    assert_int_equal(pdvm_gl_check(gl, "nothing"), PDVM_OK); /* the flag was cleared */
    pdvm_gl_buffer_delete(gl, &b);
    pdvm_gl_close(gl);
}

static void timing_and_measurements(void **state)
{
    (void)state;
    clear_env();
    pdvm_gl *gl = test_gl_open();
    test_chain c;
    test_chain_open(gl, NULL, &c);
    uint64_t ns = 0;
    pdvm_gl_timer_begin(gl);
    for (int i = 0; i < 20; i++) assert_int_equal(pdvm_gl_dispatch(gl, &c.prog, 1, 1, 1), PDVM_OK);
    assert_int_equal(pdvm_gl_timer_end(gl, &ns), PDVM_OK);
    assert_true(ns > 0);
    double gbps = 0, us = 0;
    assert_int_equal(pdvm_gl_measure_bandwidth(gl, 16 << 20, &gbps), PDVM_OK);
    assert_true(gbps > 0.01 && gbps < 100000.0); /* physically possible */
    assert_int_equal(pdvm_gl_measure_latency(gl, &us), PDVM_OK); /* also checks the chain count */
    assert_true(us > 0);
    assert_int_equal(test_chain_count(gl, &c), 20);
    test_chain_close(gl, &c);
    pdvm_gl_close(gl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(context_on_surfaceless),
        cmocka_unit_test(closing_one_context_keeps_another),
        cmocka_unit_test(default_order_reports_the_others),
        cmocka_unit_test(forced_gbm_without_dri_fails_naming_gbm),
        cmocka_unit_test(unknown_platform_is_invalid),
        cmocka_unit_test(minimum_limits_and_ssbo_override),
        cmocka_unit_test(bad_limit_settings_are_rejected),
        cmocka_unit_test(buffers_round_trip_and_check_ranges),
        cmocka_unit_test(dispatch_counts_and_checks_grid),
        cmocka_unit_test(gl_errors_are_reported_with_context),
        cmocka_unit_test(timing_and_measurements),
    };
    return cmocka_run_group_tests_name("gl_runtime", tests, NULL, NULL);
}
