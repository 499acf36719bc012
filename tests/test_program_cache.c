/* The program-binary cache on disk: round trip, and every damaged entry
 * reads as a miss (the driver never sees it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gl_internal.h"
#include "gl_util.h"

static const unsigned char payload[] = "not a real program binary, but bytes all the same";

static void store_sample(const char *path, uint64_t key)
{
    pdvm_gl_blob blob = {0x875f, sizeof payload, (void *)payload};
    assert_true(pdvm_gl_cache_store(path, key, &blob));
}

static void round_trip(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sub/dir/entry.bin", dir); /* directories are created */
    store_sample(path, 42);
    pdvm_gl_blob got;
    assert_true(pdvm_gl_cache_load(path, 42, &got));
    assert_int_equal(got.format, 0x875f);
    assert_int_equal(got.size, sizeof payload);
    assert_memory_equal(got.data, payload, sizeof payload);
    free(got.data);
    assert_false(pdvm_gl_cache_load(path, 43, &got)); /* another key */
}

static void damage(const char *path, long at, int truncate_to)
{
    if (truncate_to < 0) {
        test_flip_byte(path, at);
        return;
    }
    assert_int_equal(truncate(path, truncate_to), 0);
}

static void damaged_entries_miss(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/e.bin", dir);
    pdvm_gl_blob got;
    const long payload_byte = 40; /* past the 32-byte header */
    store_sample(path, 7);
    damage(path, payload_byte, -1);
    assert_false(pdvm_gl_cache_load(path, 7, &got));
    store_sample(path, 7);
    damage(path, 0, -1); /* magic */
    assert_false(pdvm_gl_cache_load(path, 7, &got));
    store_sample(path, 7);
    damage(path, 0, 50); /* truncated payload */
    assert_false(pdvm_gl_cache_load(path, 7, &got));
    store_sample(path, 7);
    damage(path, 0, 10); /* truncated header */
    assert_false(pdvm_gl_cache_load(path, 7, &got));
    FILE *f = fopen(path, "ab"); /* trailing garbage */
    fputs("x", f);
    fclose(f);
    assert_false(pdvm_gl_cache_load(path, 7, &got));
    assert_false(pdvm_gl_cache_load("/nonexistent/pdvm/e.bin", 7, &got));
}

/* A FIFO where an entry belongs is a miss at once, not an open() that
 * waits for a writer (the test binary would hang here). */
static void fifo_entry_misses(void **state)
{
    (void)state;
    char dir[] = "/tmp/pdvm-cache-fifo-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/entry", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    pdvm_gl_blob b;
    assert_false(pdvm_gl_cache_load(path, 42, &b));
    assert_null(b.data);
    unlink(path);
    rmdir(dir);
}

static void cache_dir_follows_environment(void **state)
{
    (void)state;
    char buf[512];
    setenv("XDG_CACHE_HOME", "/tmp/xdg-test", 1);
    unsetenv("PDVM_NO_SHADER_CACHE");
    assert_true(pdvm_gl_cache_dir(buf, sizeof buf));
    assert_string_equal(buf, "/tmp/xdg-test/pdvm");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/someone", 1);
    assert_true(pdvm_gl_cache_dir(buf, sizeof buf));
    assert_string_equal(buf, "/home/someone/.cache/pdvm");
    setenv("PDVM_NO_SHADER_CACHE", "1", 1);
    assert_false(pdvm_gl_cache_dir(buf, sizeof buf));
    unsetenv("PDVM_NO_SHADER_CACHE");
}

static void hash_depends_on_every_byte(void **state)
{
    (void)state;
    const char a[] = "#version 310 es\nvoid main() {}\n";
    char b[sizeof a];
    memcpy(b, a, sizeof a);
    b[20] ^= 1;
    assert_true(pdvm_fnv1a64(0, a, sizeof a) != pdvm_fnv1a64(0, b, sizeof b));
    assert_true(pdvm_fnv1a64(1, a, sizeof a) != pdvm_fnv1a64(0, a, sizeof a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(damaged_entries_miss),
        cmocka_unit_test(fifo_entry_misses),
        cmocka_unit_test(cache_dir_follows_environment),
        cmocka_unit_test(hash_depends_on_every_byte),
    };
    return cmocka_run_group_tests_name("program_cache", tests, NULL, NULL);
}
