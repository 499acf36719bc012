/* Arena layout: tensors at aligned offsets, never past the block limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arena.h"

static void offsets_are_aligned_and_disjoint(void **state)
{
    (void)state;
    pdvm_arena a;
    pdvm_arena_init(&a, 256, 1 << 20);
    const uint64_t sizes[] = {1, 255, 256, 257, 1000, 4096, 3};
    uint64_t prev_end = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t off = UINT64_MAX;
        assert_true(pdvm_arena_place(&a, sizes[i], &off));
        assert_int_equal(off % 256, 0);
        assert_true(off >= prev_end);
        assert_true(off - prev_end < 256); /* no more padding than alignment needs */
        prev_end = off + sizes[i];
        assert_int_equal(a.used, prev_end);
    }
}

static void block_limit_is_respected(void **state)
{
    (void)state;
    pdvm_arena a;
    pdvm_arena_init(&a, 16, 100);
    uint64_t off = 0;
    assert_true(pdvm_arena_place(&a, 90, &off));
    assert_int_equal(off, 0);
    /* 90 aligns up to 96; 96 + 5 = 101 > 100 */
    assert_false(pdvm_arena_place(&a, 5, &off));
    assert_int_equal(a.used, 90); /* unchanged by the refusal */
    assert_true(pdvm_arena_place(&a, 4, &off));
    assert_int_equal(off, 96);
    assert_int_equal(a.used, 100);
    assert_false(pdvm_arena_place(&a, 1, &off));
}

static void exact_fit_and_oversize(void **state)
{
    (void)state;
    pdvm_arena a;
    pdvm_arena_init(&a, 64, 128);
    uint64_t off = 1;
    assert_false(pdvm_arena_place(&a, 129, &off));
    assert_true(pdvm_arena_place(&a, 128, &off));
    assert_int_equal(off, 0);
    pdvm_arena_init(&a, 64, UINT64_MAX);
    a.used = UINT64_MAX - 3; /* aligning up would wrap around */
    assert_false(pdvm_arena_place(&a, 1, &off));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offsets_are_aligned_and_disjoint),
        cmocka_unit_test(block_limit_is_respected),
        cmocka_unit_test(exact_fit_and_oversize),
    };
    return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
