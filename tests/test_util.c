#include "test_util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

const char *test_models_dir(void)
{
    const char *d = getenv("PDVM_MODELS_DIR");
    return (d && *d) ? d : "../shared/models";
}

bool test_require_models(void)
{
    const char *r = getenv("PDVM_REQUIRE_MODELS");
    return r && strcmp(r, "1") == 0;
}

static bool join_path(const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", test_models_dir(), name);
    return n > 0 && (size_t)n < cap;
}

bool test_model_available(const char *name)
{
    char path[TEST_PATH_MAX];
    return join_path(name, path, sizeof path) && access(path, R_OK) == 0;
}

void test_model_path(const char *name, char *out, size_t cap)
{
    if (!join_path(name, out, cap)) fail_msg("model path for %s does not fit %zu bytes", name, cap);
    if (access(out, R_OK) == 0) return;
    if (test_require_models())
        fail_msg("PDVM_REQUIRE_MODELS=1 but %s is missing or unreadable", out);
    print_message("skipping: test model %s not found (set PDVM_MODELS_DIR or provide "
                  "../shared/models)\n", out);
    skip();
}

uint8_t *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0) fail_msg("cannot seek %s", path);
    long len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) fail_msg("cannot size %s", path);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf) fail_msg("out of memory reading %s", path);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) fail_msg("short read on %s", path);
    fclose(f);
    *size = (size_t)len;
    return buf;
}

uint64_t test_rand_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float test_rand_float(uint64_t *state, float lo, float hi)
{
    /* 24 random bits: exactly representable, strictly below 1. */
    float u = (float)(test_rand_u64(state) >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

void test_fill_random(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) x[i] = test_rand_float(&st, lo, hi);
}

double rel_err(const float *a, const float *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    if (isnan(num) || isnan(den)) return NAN;
    if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
    return sqrt(num / den);
}
