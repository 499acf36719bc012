#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"

uint32_t pdvm_fnv1a32(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

uint64_t pdvm_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (h == 0) h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t pdvm_now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t pdvm_thread_cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double pdvm_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

pdvm_status pdvm_env_u32(const char *name, uint32_t min, uint32_t max, bool pow2, uint32_t *out)
{
    const char *s = getenv(name);
    if (!s || !*s) return PDVM_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    bool ok = s[0] >= '0' && s[0] <= '9' && errno == 0 && *end == '\0' && v >= min && v <= max &&
              (!pow2 || (v & (v - 1)) == 0);
    if (!ok)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "%s='%s': expected %s from %u to %u", name, s,
                         pow2 ? "a power of two" : "an integer", min, max);
    *out = (uint32_t)v;
    return PDVM_OK;
}
