/* The sources of a GGUF's bytes (src/gguf_source.h): a mapped file whose
 * pages leave the process once a one-pass reader is done with them and
 * read back the same; a file opened without mmap that holds only its
 * header and 1-D tensors until its data is asked for, reads through the
 * window the same bytes as the map, and fails cleanly when the file shrinks
 * under it; mlock; --check-tensors through the window in both modes. The
 * file: a 16 MiB f32 matrix and a 1-D vector (tests/gguf_writer.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_source.h"
#include "gguf_writer.h"
#include "pdvm.h"
#include "quant.h"
#include "test_util.h"

enum { ROWS = 4096, COLS = 1024, BIG_BYTES = ROWS * COLS * 4, VEC = 1000 };

typedef struct fixture {
    char path[64];
    uint64_t size;
} fixture;

/* nan_at >= 0 puts a NaN at that element of "big". */
static void write_file(const char *path, int64_t nan_at, uint64_t *size)
{
    const gw_tensor t[] = {{"big", PDVM_TYPE_F32, 2, {COLS, ROWS, 1, 1}},
                           {"vec", PDVM_TYPE_F32, 1, {VEC, 1, 1, 1}}};
    gw w = {0};
    size_t info_at[2];
    gw_file(&w, NULL, 0, t, 2, 32, 5, info_at);
    if (nan_at >= 0) {
        float nan = NAN;
        size_t data = w.len - BIG_BYTES - (VEC * 4); /* "big" first, 32-aligned, then "vec" */
        memcpy(w.buf + data + 4 * (size_t)nan_at, &nan, 4);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(w.buf, 1, w.len, f), w.len);
    assert_int_equal(fclose(f), 0);
    *size = w.len;
    gw_free(&w);
}

static int setup(void **state)
{
    static fixture fx;
    snprintf(fx.path, sizeof fx.path, "/tmp/pdvm-src-XXXXXX");
    int fd = mkstemp(fx.path);
    assert_true(fd >= 0);
    close(fd);
    write_file(fx.path, -1, &fx.size);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    unlink(((fixture *)*state)->path);
    return 0;
}

/* A field of /proc/self/status in KiB ("RssFile:", "RssAnon:", "VmLck:"). */
static long status_kib(const char *field)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field))) v = strtol(line + strlen(field), NULL, 10);
    fclose(f);
    if (v < 0) skip(); /* a kernel without the field (before 4.5) */
    return v;
}

static uint64_t sum_bytes(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += p[i] * (uint64_t)(i % 251 + 1);
    return s;
}

static pdvm_gguf *open_src(const char *path, bool mmap, bool mlock)
{
    pdvm_gguf *g = NULL;
    if (pdvm_gguf_open_opts(path, mmap, mlock, &g) != PDVM_OK) fail_msg("%s", pdvm_last_error());
    return g;
}

static void test_release_drops_mapped_pages(void **state)
{
    const fixture *fx = *state;
    pdvm_gguf *g = open_src(fx->path, true, false);
    const gguf_tensor *big = pdvm_gguf_find_tensor(g, "big");
    gguf_window w = gguf_window_init(g);
    long before = status_kib("RssFile:");
    const void *p;
    assert_int_equal(gguf_window_get(&w, big->data, BIG_BYTES, &p), PDVM_OK);
    assert_ptr_equal(p, big->data); /* mapped: no copy */
    uint64_t sum = sum_bytes(p, BIG_BYTES);
    long touched = status_kib("RssFile:");
    gguf_window_release(&w, big->data, BIG_BYTES);
    long released = status_kib("RssFile:");
    print_message("RssFile: %ld KiB, %ld after reading 16 MiB, %ld after release\n", before,
                  touched, released);
    assert_true(touched - before >= 12 * 1024); /* the counters are approximate */
    assert_true(released - before <= 1024);
    /* The pages come back from the file, unchanged. */
    assert_true(sum_bytes(big->data, BIG_BYTES) == sum);
    gguf_window_free(&w);
    pdvm_gguf_close(g);
}

static void test_no_mmap_reads_on_demand(void **state)
{
    const fixture *fx = *state;
    pdvm_gguf *m = open_src(fx->path, true, false);
    long anon0 = status_kib("RssAnon:");
    pdvm_gguf *r = open_src(fx->path, false, false);
    long anon1 = status_kib("RssAnon:");
    assert_true(anon1 - anon0 < 2048); /* the 16 MiB matrix is not read in */
    const gguf_tensor *mb = pdvm_gguf_find_tensor(m, "big"), *rb = pdvm_gguf_find_tensor(r, "big");
    const gguf_tensor *mv = pdvm_gguf_find_tensor(m, "vec"), *rv = pdvm_gguf_find_tensor(r, "vec");
    assert_memory_equal(rv->data, mv->data, VEC * 4); /* 1-D: read at open */
    gguf_window w = gguf_window_init(r);
    const void *p;
    /* A piece in the middle, through the staging buffer. */
    uint64_t at = 3 * 1048576 + 4096, n = 5 * 1048576;
    assert_int_equal(gguf_window_get(&w, (const uint8_t *)rb->data + at, n, &p), PDVM_OK);
    assert_ptr_not_equal(p, (const uint8_t *)rb->data + at);
    assert_memory_equal(p, (const uint8_t *)mb->data + at, n);
    gguf_window_free(&w);
    /* Read in: the pointers hold the file's bytes. */
    assert_int_equal(pdvm_gguf_load_data(r), PDVM_OK);
    assert_true(status_kib("RssAnon:") - anon1 >= 15 * 1024);
    assert_memory_equal(rb->data, mb->data, BIG_BYTES);
    assert_int_equal(gguf_window_get(&w, rb->data, BIG_BYTES, &p), PDVM_OK);
    assert_ptr_equal(p, rb->data);
    assert_int_equal(pdvm_gguf_load_data(r), PDVM_OK); /* once is enough; twice is harmless */
    pdvm_gguf_close(r);
    pdvm_gguf_close(m);
}

static void test_no_mmap_file_shrinks(void **state)
{
    (void)state;
    char path[] = "/tmp/pdvm-src-shrink-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint64_t size;
    write_file(path, -1, &size);
    pdvm_gguf *r = open_src(path, false, false);
    const gguf_tensor *big = pdvm_gguf_find_tensor(r, "big");
    assert_int_equal(truncate(path, (off_t)(size / 2)), 0);
    gguf_window w = gguf_window_init(r);
    const void *p;
    assert_int_equal(gguf_window_get(&w, big->data, BIG_BYTES, &p), PDVM_ERR_IO);
    assert_non_null(strstr(pdvm_last_error(), "end of file"));
    assert_int_equal(pdvm_gguf_load_data(r), PDVM_ERR_IO);
    /* Outside the data (the header): refused, not read. */
    assert_int_equal(gguf_window_get(&w, (const uint8_t *)big->data - 64, 16, &p),
                     PDVM_ERR_INVALID_ARG);
    gguf_window_free(&w);
    pdvm_gguf_close(r);
    unlink(path);
}

/* AddressSanitizer turns mlock into a no-op that succeeds. */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_WORKS 0
#endif
#endif
#ifndef MLOCK_WORKS
#define MLOCK_WORKS 1
#endif

static void test_mlock(void **state)
{
    const fixture *fx = *state;
    if (!MLOCK_WORKS) skip();
    for (int mmap = 1; mmap >= 0; mmap--) {
        long before = status_kib("VmLck:");
        pdvm_gguf *g = NULL;
        pdvm_status st = pdvm_gguf_open_opts(fx->path, mmap, true, &g);
        if (st == PDVM_ERR_NOMEM) { /* no CAP_IPC_LOCK and a small ulimit -l */
            assert_non_null(strstr(pdvm_last_error(), "RLIMIT_MEMLOCK"));
            print_message("mlock refused: %s\n", pdvm_last_error());
            continue;
        }
        assert_int_equal(st, PDVM_OK);
        assert_true(status_kib("VmLck:") - before >= (long)(fx->size / 1024));
        const gguf_tensor *big = pdvm_gguf_find_tensor(g, "big");
        gguf_window w = gguf_window_init(g);
        gguf_window_release(&w, big->data, BIG_BYTES); /* locked: stays */
        assert_true(status_kib("VmLck:") - before >= (long)(fx->size / 1024));
        pdvm_gguf_close(g);
        assert_true(status_kib("VmLck:") <= before);
    }
}

static void test_check_tensors_both_sources(void **state)
{
    const fixture *fx = *state;
    /* Clean file: passes, and leaves no more of the map resident than a
     * window's worth. */
    pdvm_gguf *g = open_src(fx->path, true, false);
    long before = status_kib("RssFile:");
    assert_int_equal(pdvm_gguf_check_tensors(g), PDVM_OK);
    assert_true(status_kib("RssFile:") - before < 8 * 1024);
    pdvm_gguf_close(g);
    char path[] = "/tmp/pdvm-src-nan-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint64_t size;
    const int64_t bad = (int64_t)COLS * 3000 + 17; /* past the first window of rows */
    write_file(path, bad, &size);
    for (int mmap = 0; mmap < 2; mmap++) {
        pdvm_model_params p = pdvm_model_default_params();
        p.check_tensors = true;
        p.use_mmap = mmap;
        pdvm_model *m = NULL;
        assert_int_equal(pdvm_model_load(path, &p, &m), PDVM_ERR_FORMAT);
        char want[64];
        snprintf(want, sizeof want, "tensor 'big' (f32) holds nan at element %lld",
                 (long long)bad);
        if (!strstr(pdvm_last_error(), want)) fail_msg("%s", pdvm_last_error());
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_drops_mapped_pages),
        cmocka_unit_test(test_no_mmap_reads_on_demand),
        cmocka_unit_test(test_no_mmap_file_shrinks),
        cmocka_unit_test(test_mlock),
        cmocka_unit_test(test_check_tensors_both_sources),
    };
    return cmocka_run_group_tests_name("gguf_source", tests, setup, teardown);
}
