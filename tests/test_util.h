/* Helpers shared by every cmocka test binary (linked into all of them).
 * Include after <cmocka.h> and its prerequisites. Additions by other
 * engineers: keep them self-contained, one block per owner. */
#ifndef PDVM_TEST_UTIL_H
#define PDVM_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEST_PATH_MAX 4096

/* Directory of the shared test models: $PDVM_MODELS_DIR, else
 * "../shared/models" (relative to the project root, where tests run). */
const char *test_models_dir(void);

/* True when PDVM_REQUIRE_MODELS=1: a missing model then fails the test. */
bool test_require_models(void);

/* True when <models dir>/name is readable; never skips or fails. */
bool test_model_available(const char *name);

/* Write the path of <models dir>/name into out (cap bytes). When the file
 * is missing this does not return: it skip()s the current test with a
 * message, or fail()s it when PDVM_REQUIRE_MODELS=1. Call only from inside
 * a running cmocka test (or setup). */
void test_model_path(const char *name, char *out, size_t cap);

/* Read a whole file into a malloc'd buffer (*size bytes); fails the test
 * when it cannot. Caller frees. */
uint8_t *test_read_file(const char *path, size_t *size);

/* Deterministic pseudo-random numbers (splitmix64): same seed, same
 * sequence, on every machine. */
uint64_t test_rand_u64(uint64_t *state);
/* Uniform in [lo, hi). */
float test_rand_float(uint64_t *state, float lo, float hi);
/* Fill x[0..n) uniformly in [lo, hi) from seed. */
void test_fill_random(float *x, size_t n, uint64_t seed, float lo, float hi);

/* ||a - ref||_2 / ||ref||_2 in double; 0 when both are zero, INFINITY when
 * only ref is zero; NaN anywhere gives NaN (so `rel_err(...) < tol` fails). */
double rel_err(const float *a, const float *ref, size_t n);

#endif
