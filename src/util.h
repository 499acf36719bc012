/* Small helpers every layer of the engine shares, each written once:
 * little-endian loads (GGUF and ggml blocks are little-endian), FNV-1a
 * hashes, alignment, a monotonic clock and the median of samples. */
#ifndef PDVM_UTIL_H
#define PDVM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

static inline uint16_t pdvm_rd_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t pdvm_rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t pdvm_rd_le64(const uint8_t *p)
{
    return (uint64_t)pdvm_rd_le32(p) | ((uint64_t)pdvm_rd_le32(p + 4) << 32);
}

/* v rounded up to a multiple of a (a > 0). */
static inline uint64_t pdvm_align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* FNV-1a (Fowler, Noll, Vo) over n bytes: 32-bit for hash tables and
 * seeds, 64-bit (h = 0 starts a new hash, else continues h) for cache keys
 * and checksums. */
uint32_t pdvm_fnv1a32(const void *data, size_t n);
uint64_t pdvm_fnv1a64(uint64_t h, const void *data, size_t n);

/* CLOCK_MONOTONIC in nanoseconds; CLOCK_THREAD_CPUTIME_ID of the calling
 * thread in nanoseconds. */
uint64_t pdvm_now_ns(void);
uint64_t pdvm_thread_cpu_ns(void);

/* A tuning variable from the environment: *out untouched and PDVM_OK when
 * it is unset or empty; PDVM_ERR_INVALID_ARG naming the variable and the
 * accepted range when it is not a decimal integer in [min, max] (a power
 * of two when pow2). */
pdvm_status pdvm_env_u32(const char *name, uint32_t min, uint32_t max, bool pow2, uint32_t *out);

/* Median of n > 0 samples (sorts v in place). */
double pdvm_median(double *v, size_t n);

#endif
