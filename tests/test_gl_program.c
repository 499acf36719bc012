/* Programs on a real context: the shared-memory reduction gives exact sums
 * at the driver's limits and at the GLES 3.1 minimums, compile errors name
 * the shader and line, and program binaries round-trip through the cache
 * (a corrupt entry falls back to compiling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gl_util.h"

static void use_private_cache(void)
{
    static char dir[256];
    test_temp_dir(dir, sizeof dir);
    setenv("XDG_CACHE_HOME", dir, 1);
    unsetenv("PDVM_NO_SHADER_CACHE");
    unsetenv("PDVM_LIMITS");
    unsetenv("PDVM_PLATFORM");
    unsetenv("PDVM_MAX_SSBO_BYTES");
}

/* Per-workgroup sums of x[0..n) with `groups` workgroups, compared exactly
 * with the host's. The output is poisoned first. */
static void check_sums(pdvm_gl *gl, const pdvm_gl_program *p, uint32_t wg, uint32_t n,
                       uint32_t groups)
{
    uint32_t *x = malloc((size_t)n * 4);
    uint64_t seed = n * 2654435761u + groups;
    for (uint32_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (uint32_t)(seed >> 52); /* < 4096: 100k of them fit a uint */
    }
    uint32_t poison[8], sums[8], expect[8] = {0};
    for (int g = 0; g < 8; g++) poison[g] = 0xDEADBEEFu;
    for (uint32_t i = 0; i < n; i++) expect[(i / wg) % groups] += x[i];
    pdvm_gl_buffer bx, bs;
    assert_int_equal(pdvm_gl_buffer_create(gl, (uint64_t)n * 4, x, &bx), PDVM_OK);
    assert_int_equal(pdvm_gl_buffer_create(gl, sizeof poison, poison, &bs), PDVM_OK);
    pdvm_gl_bind(gl, 0, &bx, 0, 0);
    pdvm_gl_bind(gl, 1, &bs, 0, 0);
    pdvm_gl_uniform_u32(p, "n", n);
    assert_int_equal(pdvm_gl_dispatch(gl, p, groups, 1, 1), PDVM_OK);
    assert_int_equal(pdvm_gl_check(gl, "reduction"), PDVM_OK);
    assert_int_equal(pdvm_gl_buffer_read(gl, &bs, 0, sizeof sums, sums), PDVM_OK);
    for (uint32_t g = 0; g < groups; g++)
        if (sums[g] != expect[g])
            fail_msg("wg %u, n %u, group %u of %u: sum %u, expected %u", wg, n, g, groups,
                     sums[g], expect[g]);
    assert_int_equal(sums[groups], 0xDEADBEEFu); /* nothing written past the groups */
    pdvm_gl_buffer_delete(gl, &bx);
    pdvm_gl_buffer_delete(gl, &bs);
    free(x);
}

/* An exact per-workgroup u32 sum through shared memory: the barrier and
 * shared-memory pattern every kernel's reduction uses, checked exactly.
 * Inline (a test's shader is not shipped in the library). */
static const char reduce_sum_src[] =
    "layout(local_size_x = WG_SIZE) in;\n"
    "layout(std430, binding = 0) readonly buffer X { uint x[]; };\n"
    "layout(std430, binding = 1) writeonly buffer Sums { uint sums[]; };\n"
    "uniform uint n;\n"
    "shared uint partial[WG_SIZE];\n"
    "void main()\n"
    "{\n"
    "    uint stride = gl_NumWorkGroups.x * uint(WG_SIZE), lid = gl_LocalInvocationID.x;\n"
    "    uint acc = 0u;\n"
    "    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) acc += x[i];\n"
    "    partial[lid] = acc;\n"
    "    memoryBarrierShared();\n"
    "    barrier();\n"
    "    for (uint s = uint(WG_SIZE) / 2u; s > 0u; s >>= 1u) {\n"
    "        if (lid < s) partial[lid] += partial[lid + s];\n"
    "        memoryBarrierShared();\n"
    "        barrier();\n"
    "    }\n"
    "    if (lid == 0u) sums[gl_WorkGroupID.x] = partial[0];\n"
    "}\n";

static void reduce_at_current_limits(uint32_t expect_wg)
{
    pdvm_gl *gl = test_gl_open();
    uint32_t wg = pdvm_gl_wg_size(gl, 1024, 4);
    if (expect_wg) assert_int_equal(wg, expect_wg);
    char defines[64];
    snprintf(defines, sizeof defines, "#define WG_SIZE %u\n", wg);
    pdvm_gl_program p;
    if (pdvm_gl_program_build_source(gl, "reduce_sum", reduce_sum_src, defines, &p) != PDVM_OK)
        fail_msg("%s", pdvm_last_error());
    const uint32_t sizes[] = {1, wg - 1, wg + 1, 3 * wg + 7, 100003};
    const uint32_t groups[] = {1, 3, 7};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
            check_sums(gl, &p, wg, sizes[i], groups[g]);
    pdvm_gl_program_delete(gl, &p);
    pdvm_gl_close(gl);
}

static void reduction_exact_at_driver_limits(void **state)
{
    (void)state;
    use_private_cache();
    reduce_at_current_limits(0);
}

static void reduction_exact_at_minimum_limits(void **state)
{
    (void)state;
    use_private_cache();
    setenv("PDVM_LIMITS", "minimum", 1);
    reduce_at_current_limits(128);
    unsetenv("PDVM_LIMITS");
}

/* 1-based line of the first line of path holding needle. */
static int line_of(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    for (int n = 1; fgets(line, sizeof line, f); n++)
        if (strstr(line, needle)) {
            fclose(f);
            return n;
        }
    fclose(f);
    fail_msg("%s has no '%s'", path, needle);
    return 0;
}

static void syntax_error_names_shader_and_line(void **state)
{
    (void)state;
    use_private_cache();
    pdvm_gl *gl = test_gl_open();
    const char *src = "layout(local_size_x = 1) in;\n"
                      "void main()\n"
                      "{\n"
                      "    uint x = 1u +;\n"
                      "}\n";
    pdvm_gl_program p;
    assert_int_equal(pdvm_gl_program_build_source(gl, "broken_kernel", src, NULL, &p),
                     PDVM_ERR_GPU);
    const char *msg = pdvm_last_error();
    assert_non_null(strstr(msg, "shader 'broken_kernel'"));
    assert_non_null(strstr(msg, "compile failed"));
    assert_non_null(strstr(msg, "broken_kernel:4:")); /* the line of the error */
    /* Lines after an #include still map to their own file: `float ss` in
     * rmsnorm.comp, after wg.glsl was pasted in, broken by a define. */
    char where[64];
    snprintf(where, sizeof where, "rmsnorm.comp:%d:", line_of("glsl/rmsnorm.comp", "float ss = 0.0;"));
    assert_int_equal(pdvm_gl_program_build(gl, "rmsnorm",
                                           "#define WG_SIZE 64\n#define N 8\n#define EPS 1e-5\n"
                                           "#define ss 5\n", &p), PDVM_ERR_GPU);
    if (!strstr(pdvm_last_error(), where)) fail_msg("want %s in: %s", where, pdvm_last_error());
    /* A bad define shows up as a preamble problem, not a source line. */
    assert_int_equal(pdvm_gl_program_build(gl, "rt_latency", "#define\n", &p), PDVM_ERR_GPU);
    assert_non_null(strstr(pdvm_last_error(), "rt_latency (preamble)"));
    assert_int_equal(pdvm_gl_program_build(gl, "no_such_shader", NULL, &p), PDVM_ERR_INVALID_ARG);
    assert_non_null(strstr(pdvm_last_error(), "no_such_shader"));
    pdvm_gl_close(gl);
}

static int count_entries(const char *dir, char *last, size_t cap)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, ".bin")) {
            snprintf(last, cap, "%s/%s", dir, e->d_name);
            n++;
        }
    if (d) closedir(d);
    return n;
}

static void build_latency(pdvm_gl *gl, bool expect_cached)
{
    test_chain c;
    test_chain_open(gl, "#define CACHE_TEST 1\n", &c);
    assert_int_equal(c.prog.from_cache, expect_cached);
    /* Whichever way it was made, the program works. */
    assert_int_equal(pdvm_gl_dispatch(gl, &c.prog, 1, 1, 1), PDVM_OK);
    assert_int_equal(pdvm_gl_dispatch(gl, &c.prog, 1, 1, 1), PDVM_OK);
    assert_int_equal(test_chain_count(gl, &c), 2);
    test_chain_close(gl, &c);
}

static void corrupt(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    for (long at = 32; at < size; at += 97) test_flip_byte(path, at); /* past the header */
}

static void binary_cache_round_trip_and_corrupt_fallback(void **state)
{
    (void)state;
    use_private_cache();
    pdvm_gl *gl = test_gl_open();
    if (pdvm_gl_get_info(gl)->n_binary_formats == 0) {
        pdvm_gl_close(gl);
        skip(); /* the driver has no program binaries: nothing to cache */
    }
    char dir[512], entry[1024];
    snprintf(dir, sizeof dir, "%s", pdvm_gl_get_info(gl)->cache_dir);
    assert_non_null(strstr(dir, getenv("XDG_CACHE_HOME")));
    build_latency(gl, false);
    assert_int_equal(count_entries(dir, entry, sizeof entry), 1);
    build_latency(gl, true);
    pdvm_gl_close(gl);

    gl = test_gl_open(); /* a new context, as a new process would have */
    build_latency(gl, true);
    corrupt(entry);
    build_latency(gl, false); /* falls back to compiling... */
    build_latency(gl, true);  /* ...and rewrote the entry */
    assert_int_equal(count_entries(dir, entry, sizeof entry), 1);
    pdvm_gl_close(gl);

    setenv("PDVM_NO_SHADER_CACHE", "1", 1);
    gl = test_gl_open();
    assert_string_equal(pdvm_gl_get_info(gl)->cache_dir, "");
    build_latency(gl, false);
    pdvm_gl_close(gl);
    unsetenv("PDVM_NO_SHADER_CACHE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reduction_exact_at_driver_limits),
        cmocka_unit_test(reduction_exact_at_minimum_limits),
        cmocka_unit_test(syntax_error_names_shader_and_line),
        cmocka_unit_test(binary_cache_round_trip_and_corrupt_fallback),
    };
    return cmocka_run_group_tests_name("gl_program", tests, NULL, NULL);
}
