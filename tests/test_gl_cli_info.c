/* `pdvm info` as a user runs it: the chosen platform and limits in JSON,
 * PDVM_LIMITS=minimum shown, a forced platform that cannot work failing
 * with exit code 4 and its name, bad options with exit code 2, the Mesa
 * driver in use named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gl_util.h"
#include "test_util.h"

static char out[1 << 16];

static int pdvm(const char *env, const char *args)
{
    char bin[8192], cmd[16384];
    test_pdvm_command(bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "env -u PDVM_PLATFORM -u PDVM_LIMITS %s %s %s", env, bin, args);
    return test_run_command(cmd, out, sizeof out);
}

static json_object *get(json_object *o, const char *path)
{
    char key[64];
    for (const char *p = path; o && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        json_object *next = NULL;
        if (!json_object_object_get_ex(o, key, &next)) fail_msg("no '%s' in: %s", path, out);
        o = next;
        p += n + (p[n] == '.');
    }
    return o;
}

static void info_json_minimum_limits(void **state)
{
    (void)state;
    assert_int_equal(pdvm("PDVM_LIMITS=minimum", "info --json"), 0);
    json_object *root = json_tokener_parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    assert_true(json_object_get_boolean(get(root, "limits.minimum")));
    assert_int_equal(json_object_get_int(get(root, "limits.max_invocations")), 128);
    assert_int_equal(json_object_get_int(get(root, "limits.max_ssbo_bindings")), 4);
    assert_int_equal(json_object_get_int(get(root, "limits.max_shared_bytes")), 16384);
    assert_int_equal(json_object_get_int64(get(root, "limits.max_ssbo_bytes")), 1 << 27);
    assert_false(json_object_get_boolean(get(root, "subgroup.used")));
    const char *platform = json_object_get_string(get(root, "platform"));
    assert_true(!strcmp(platform, "gbm") || !strcmp(platform, "device") ||
                !strcmp(platform, "surfaceless"));
    assert_true(strlen(json_object_get_string(get(root, "driver.renderer"))) > 0);
    assert_true(json_object_get_double(get(root, "measured.bandwidth_gbps")) > 0);
    assert_true(json_object_get_double(get(root, "measured.latency_us")) > 0);
    json_object_put(root);
}

static void info_text_names_platform_and_limits(void **state)
{
    (void)state;
    assert_int_equal(pdvm("", "info --platform surfaceless"), 0);
    assert_non_null(strstr(out, "platform        surfaceless"));
    assert_non_null(strstr(out, "as the driver reports"));
    assert_non_null(strstr(out, "SSBO offset alignment"));
    assert_non_null(strstr(out, "GB/s SSBO read"));
    assert_non_null(strstr(out, "us per dependent dispatch"));
}

static void forced_gbm_without_dri_exits_4(void **state)
{
    (void)state;
    if (access("/dev/dri", F_OK) == 0) skip();
    assert_int_equal(pdvm("", "info --platform gbm"), 4);
    assert_non_null(strstr(out, "gbm: "));
    assert_int_equal(pdvm("PDVM_PLATFORM=gbm", "info"), 4);
}

static void bad_options_exit_2(void **state)
{
    (void)state;
    assert_int_equal(pdvm("", "info --platform vulkan"), 2);
    assert_non_null(strstr(out, "vulkan"));
    assert_int_equal(pdvm("", "info --frobnicate"), 2);
    assert_int_equal(pdvm("", "info --platform"), 2);
    assert_int_equal(pdvm("PDVM_LIMITS=huge", "info"), 2);
}

/* Tuning variables are validated like PDVM_LIMITS: exit 2 naming the
 * variable and the accepted range, not a silent default or a wrap-around. */
static void bad_knobs_exit_2(void **state)
{
    (void)state;
    char model[TEST_PATH_MAX], args[TEST_PATH_MAX + 64];
    test_model_path("stories260K.gguf", model, sizeof model);
    snprintf(args, sizeof args, "run -m '%s' -p Once -n 1", model);
    const char *bad[] = {"PDVM_MV_WG=0", "PDVM_MV_WG=abc", "PDVM_MV_WG=4294967299",
                         "PDVM_MV_WG=96", "PDVM_MV_ROWS=9", "PDVM_MV_ROWS=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pdvm(bad[i], args) != 2) fail_msg("%s: want exit 2, got: %s", bad[i], out);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(bad[i], "="), bad[i]);
        assert_non_null(strstr(out, name));
        assert_non_null(strstr(out, "expected"));
    }
    assert_int_equal(pdvm("PDVM_MV_WG=128 PDVM_MV_ROWS=3", args), 0);
    assert_int_equal(pdvm("PDVM_MAX_SSBO_BYTES=8", "info"), 2);
    assert_non_null(strstr(out, "PDVM_MAX_SSBO_BYTES='8': expected a byte count from 4096"));
}

static const char *json_str_or_null(json_object *root, const char *path)
{
    json_object *o = get(root, path);
    return o ? json_object_get_string(o) : NULL;
}

/* The Mesa driver is named as GALLIUM_DRIVER / MESA_LOADER_DRIVER_OVERRIDE
 * take it, and follows them: $PDVM_EXPECT_DRIVER (make test-zink sets zink)
 * must be the one reported, and under a software DRI driver GALLIUM_DRIVER=
 * llvmpipe must turn it into llvmpipe. */
static void info_names_the_mesa_driver(void **state)
{
    (void)state;
    assert_int_equal(pdvm("", "info --json"), 0);
    json_object *root = json_tokener_parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    const char *driver = json_str_or_null(root, "driver.mesa_driver");
    const char *dri = json_str_or_null(root, "driver.dri_driver");
    const char *expect = getenv("PDVM_EXPECT_DRIVER");
    if (expect && *expect && (!driver || strcmp(driver, expect)))
        fail_msg("PDVM_EXPECT_DRIVER=%s but pdvm info reports %s (renderer %s)", expect,
                 driver ? driver : "no Mesa driver", json_str_or_null(root, "driver.renderer"));
    if (!strstr(json_str_or_null(root, "driver.egl_vendor"), "Mesa")) {
        assert_null(driver);
        json_object_put(root);
        return;
    }
    assert_non_null(driver);
    assert_non_null(dri);
    char line[96];
    snprintf(line, sizeof line, "Mesa driver     %s", driver);
    bool software = !strcmp(dri, "swrast") || !strcmp(dri, "kms_swrast");
    json_object_put(root);
    assert_int_equal(pdvm("", "info"), 0);
    if (!strstr(out, line)) fail_msg("no '%s' in: %s", line, out);
    if (!software) return;
    assert_int_equal(pdvm("GALLIUM_DRIVER=llvmpipe", "info"), 0);
    if (!strstr(out, "Mesa driver     llvmpipe (DRI driver ")) fail_msg("not llvmpipe: %s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(info_json_minimum_limits),
        cmocka_unit_test(info_text_names_platform_and_limits),
        cmocka_unit_test(forced_gbm_without_dri_exits_4),
        cmocka_unit_test(bad_options_exit_2),
        cmocka_unit_test(bad_knobs_exit_2),
        cmocka_unit_test(info_names_the_mesa_driver),
    };
    return cmocka_run_group_tests_name("gl_cli_info", tests, NULL, NULL);
}
