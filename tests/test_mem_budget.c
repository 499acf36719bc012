/* The memory budget (src/mem_budget.h): MemAvailable parsing, the refusal
 * message with its numbers, the advice (the largest power-of-two context
 * whose KV cache fits, checked on random budgets to fit and to be the
 * largest), and the PDVM_MEM_AVAILABLE_MIB knob. The GPU side (a session
 * refused before its upload) is in test_gpu_mem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_budget.h"
#include "pdvm.h"
#include "test_util.h"

static void test_meminfo_parse(void **state)
{
    (void)state;
    const char *text = "MemTotal:       24684000 kB\nMemFree:        23400000 kB\n"
                       "MemAvailable:   24200123 kB\nBuffers:           10000 kB\n";
    assert_true(pdvm_meminfo_available(text) == 24200123ull * 1024);
    assert_true(pdvm_meminfo_available("MemTotal: 5 kB\n") == 0);
    assert_true(pdvm_meminfo_available("XMemAvailable: 5 kB\n") == 0);
    assert_true(pdvm_meminfo_available("MemAvailable: 5 MB\n") == 0);
    /* This machine's: present (Linux 3.14+), and at most MemTotal. */
    static char real[8192]; /* /proc files have no size: read, not stat */
    FILE *f = fopen("/proc/meminfo", "r");
    assert_non_null(f);
    real[fread(real, 1, sizeof real - 1, f)] = '\0';
    fclose(f);
    uint64_t avail = pdvm_meminfo_available(real);
    unsigned long long total_kib = 0;
    assert_int_equal(sscanf(real, "MemTotal: %llu kB", &total_kib), 1);
    assert_true(avail > 0 && avail <= total_kib * 1024);
}

static void test_refusal_message(void **state)
{
    (void)state;
    const uint64_t mib = 1 << 20;
    /* The weights fit, the KV cache of n_ctx 32768 does not: 8192 would. */
    pdvm_mem_need need = {.weights = 1024 * mib, .kv = 4096 * mib, .scratch = 0,
                          .kv_per_pos = 128 * 1024, .n_ctx = 32768};
    pdvm_mem_avail avail = {2048 * mib, "MemAvailable"};
    assert_int_equal(pdvm_mem_check(&need, &avail), PDVM_ERR_NOMEM);
    assert_string_equal(pdvm_last_error(),
                        "not enough memory: needs 5.00 GiB (weights 1.00 GiB, KV cache 4.00 GiB "
                        "for n_ctx 32768, scratch 0.0 MiB), 2.00 GiB available (MemAvailable); "
                        "try -c 8192 or a smaller type");
    /* The weights alone do not fit: a smaller type is the only advice. */
    need = (pdvm_mem_need){.weights = 3584 * mib, .kv = 400 * mib, .scratch = 10 * mib,
                           .kv_per_pos = 51200, .n_ctx = 8192};
    avail = (pdvm_mem_avail){2150 * mib, "GL_NVX_gpu_memory_info"};
    assert_int_equal(pdvm_mem_check(&need, &avail), PDVM_ERR_NOMEM);
    assert_string_equal(pdvm_last_error(),
                        "not enough memory: needs 3.90 GiB (weights 3.50 GiB, KV cache 400.0 MiB "
                        "for n_ctx 8192, scratch 10.0 MiB), 2.10 GiB available "
                        "(GL_NVX_gpu_memory_info); try a smaller type");
    /* Four sequences: the context advised is each one's. */
    need = (pdvm_mem_need){.weights = 1024 * mib, .kv = 4096 * mib, .scratch = 0,
                           .kv_per_pos = 4 * 32 * 1024, .n_ctx = 32768, .n_seq = 4};
    avail = (pdvm_mem_avail){2048 * mib, "MemAvailable"};
    assert_int_equal(pdvm_mem_check(&need, &avail), PDVM_ERR_NOMEM);
    assert_string_equal(pdvm_last_error(),
                        "not enough memory: needs 5.00 GiB (weights 1.00 GiB, KV cache 4.00 GiB "
                        "for n_ctx 32768 x 4 sequences, scratch 0.0 MiB), 2.00 GiB available "
                        "(MemAvailable); try -c 8192, fewer sequences or a smaller type");
    need.weights = 2048 * mib;
    assert_int_equal(pdvm_mem_check(&need, &avail), PDVM_ERR_NOMEM);
    assert_non_null(strstr(pdvm_last_error(), "; try fewer sequences or a smaller type"));
    need = (pdvm_mem_need){.weights = 3584 * mib, .kv = 400 * mib, .scratch = 10 * mib,
                           .kv_per_pos = 51200, .n_ctx = 8192};
    avail = (pdvm_mem_avail){2150 * mib, "GL_NVX_gpu_memory_info"};
    /* Fits exactly; unknown availability is not checked. */
    avail.bytes = need.weights + need.kv + need.scratch;
    assert_int_equal(pdvm_mem_check(&need, &avail), PDVM_OK);
    avail.bytes = 0;
    assert_int_equal(pdvm_mem_check(&need, &avail), PDVM_OK);
}

/* The advised context fits next to the weights and twice it does not. */
static void test_advice_is_largest_fit(void **state)
{
    (void)state;
    uint64_t seed = 11;
    int advised = 0;
    for (int i = 0; i < 2000; i++) {
        pdvm_mem_need need = {.weights = test_rand_u64(&seed) % (8ull << 30),
                              .scratch = test_rand_u64(&seed) % (64u << 20),
                              .kv_per_pos = 1 + test_rand_u64(&seed) % (256u << 10),
                              .n_ctx = 1u << (test_rand_u64(&seed) % 21)};
        need.kv = need.kv_per_pos * need.n_ctx;
        pdvm_mem_avail avail = {1 + test_rand_u64(&seed) % (16ull << 30), "test"};
        uint64_t fixed = need.weights + need.scratch;
        pdvm_status st = pdvm_mem_check(&need, &avail);
        assert_int_equal(st, fixed + need.kv <= avail.bytes ? PDVM_OK : PDVM_ERR_NOMEM);
        const char *c = st == PDVM_OK ? NULL : strstr(pdvm_last_error(), "try -c ");
        if (!c) continue;
        uint64_t ctx = strtoull(c + 7, NULL, 10);
        assert_true(ctx >= 64 && (ctx & (ctx - 1)) == 0);
        assert_true(fixed + ctx * need.kv_per_pos <= avail.bytes);
        assert_true(fixed + 2 * ctx * need.kv_per_pos > avail.bytes);
        advised++;
    }
    assert_true(advised > 100); /* the property was exercised */
}

static void test_knob(void **state)
{
    (void)state;
    pdvm_mem_avail a = {0, NULL};
    setenv("PDVM_MEM_AVAILABLE_MIB", "123", 1);
    assert_int_equal(pdvm_mem_available(NULL, &a), PDVM_OK); /* no GL needed: the knob wins */
    assert_true(a.bytes == 123ull << 20);
    assert_string_equal(a.source, "PDVM_MEM_AVAILABLE_MIB");
    setenv("PDVM_MEM_AVAILABLE_MIB", "0", 1); /* the check off */
    assert_int_equal(pdvm_mem_available(NULL, &a), PDVM_OK);
    assert_true(a.bytes == 0);
    const char *bad[] = {"abc", "-1", "12x", "4294967295", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("PDVM_MEM_AVAILABLE_MIB", bad[i], 1);
        assert_int_equal(pdvm_mem_available(NULL, &a), PDVM_ERR_INVALID_ARG);
        assert_non_null(strstr(pdvm_last_error(), "PDVM_MEM_AVAILABLE_MIB="));
    }
    unsetenv("PDVM_MEM_AVAILABLE_MIB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo_parse),
        cmocka_unit_test(test_refusal_message),
        cmocka_unit_test(test_advice_is_largest_fit),
        cmocka_unit_test(test_knob),
    };
    return cmocka_run_group_tests_name("mem_budget", tests, NULL, NULL);
}
