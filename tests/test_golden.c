/* The CPU reference reproduces llama.cpp's greedy token ids and text for
 * every model file and prompt in tests/golden. For F16/Q8_0/Q4_0 the
 * comparison is with llama.cpp on the same weights decoded exactly to F32
 * (*.f32act.tsv): llama.cpp's own quantized path rounds activations to
 * Q8_0 before each dot product, which pdvm's f32 reference does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "golden_check.h"

static void f32(void **state) { (void)state; golden_check("stories260K.gguf", "stories260K", PDVM_BACKEND_CPU); }
static void f16(void **state) { (void)state; golden_check("stories260K-f16.gguf", "stories260K-f16.f32act", PDVM_BACKEND_CPU); }
static void q8_0(void **state) { (void)state; golden_check("stories260K-q8_0.gguf", "stories260K-q8_0.f32act", PDVM_BACKEND_CPU); }
static void q4_0(void **state) { (void)state; golden_check("stories260K-q4_0.gguf", "stories260K-q4_0.f32act", PDVM_BACKEND_CPU); }
/* F16 weights: llama.cpp's native path keeps f32 activations, so the
 * native file is a second, independent check. */
static void f16_native(void **state) { (void)state; golden_check("stories260K-f16.gguf", "stories260K-f16", PDVM_BACKEND_CPU); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(f32), cmocka_unit_test(f16), cmocka_unit_test(q8_0),
        cmocka_unit_test(q4_0), cmocka_unit_test(f16_native),
    };
    return cmocka_run_group_tests_name("golden (llama.cpp) on the CPU reference", tests, NULL, NULL);
}
