/* GGUF v2/v3 reader, the engine's side: the public functions (pdvm.h,
 * "GGUF files") plus lookups by name, typed getters and the tensor table
 * with data pointers. The file is mmapped read-only, every count, length,
 * offset and size is validated against the file size before use, and the
 * accessors never read outside the map. Spec: ggml docs/gguf.md. */
#ifndef PDVM_GGUF_H
#define PDVM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pdvm.h"

/* The public types (pdvm.h) under the short names the reader uses. */
typedef pdvm_gguf_type gguf_type;
#define GGUF_TYPE_UINT8 PDVM_GGUF_TYPE_UINT8
#define GGUF_TYPE_INT8 PDVM_GGUF_TYPE_INT8
#define GGUF_TYPE_UINT16 PDVM_GGUF_TYPE_UINT16
#define GGUF_TYPE_INT16 PDVM_GGUF_TYPE_INT16
#define GGUF_TYPE_UINT32 PDVM_GGUF_TYPE_UINT32
#define GGUF_TYPE_INT32 PDVM_GGUF_TYPE_INT32
#define GGUF_TYPE_FLOAT32 PDVM_GGUF_TYPE_FLOAT32
#define GGUF_TYPE_BOOL PDVM_GGUF_TYPE_BOOL
#define GGUF_TYPE_STRING PDVM_GGUF_TYPE_STRING
#define GGUF_TYPE_ARRAY PDVM_GGUF_TYPE_ARRAY
#define GGUF_TYPE_UINT64 PDVM_GGUF_TYPE_UINT64
#define GGUF_TYPE_INT64 PDVM_GGUF_TYPE_INT64
#define GGUF_TYPE_FLOAT64 PDVM_GGUF_TYPE_FLOAT64
typedef pdvm_gguf_str gguf_str;
typedef pdvm_gguf_value gguf_value;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t type;             /* ggml type id (enum pdvm_type) */
    uint32_t n_dims;           /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] contiguous; unused dims are 1 */
    uint64_t offset;           /* relative to the data section */
    uint64_t nbytes;
    const void *data;          /* inside the map, aligned to general.alignment */
} gguf_tensor;

/* pdvm_gguf_open over a caller-owned buffer that must outlive the handle
 * (fuzzing, tests). */
pdvm_status pdvm_gguf_open_memory(const void *data, size_t size, pdvm_gguf **out);

/* Type of kv i (GGUF_TYPE_ARRAY for arrays). */
gguf_type pdvm_gguf_kv_type(const pdvm_gguf *g, uint64_t i);
int64_t pdvm_gguf_find_key(const pdvm_gguf *g, const char *key); /* -1: absent */

/* Typed getters by key name. Return false when the key is absent or has an
 * incompatible type. Integer getters accept any integer type whose value
 * fits; get_f32 accepts f32 and f64; get_bool accepts bool. */
bool pdvm_gguf_get_u32(const pdvm_gguf *g, const char *key, uint32_t *out);
bool pdvm_gguf_get_i64(const pdvm_gguf *g, const char *key, int64_t *out);
bool pdvm_gguf_get_f32(const pdvm_gguf *g, const char *key, float *out);
bool pdvm_gguf_get_bool(const pdvm_gguf *g, const char *key, bool *out);
bool pdvm_gguf_get_str(const pdvm_gguf *g, const char *key, gguf_str *out);

/* Arrays. elem_type is GGUF_TYPE_ARRAY for nested arrays. */
bool pdvm_gguf_get_arr(const pdvm_gguf *g, const char *key, gguf_type *elem_type,
                       uint64_t *n);
/* Element i of a string array (bounds-checked; false when out of range). */
bool pdvm_gguf_arr_str(const pdvm_gguf *g, const char *key, uint64_t i, gguf_str *out);
/* Raw little-endian element data of a numeric array (f32 scores, i32 types):
 * pointer to n elements of elem_type, possibly unaligned. NULL otherwise. */
const void *pdvm_gguf_arr_data(const pdvm_gguf *g, const char *key);

/* Tensor i (i < n_tensors) and lookup by name (NULL when absent). */
const gguf_tensor *pdvm_gguf_tensor(const pdvm_gguf *g, uint64_t i);
const gguf_tensor *pdvm_gguf_find_tensor(const pdvm_gguf *g, const char *name);

/* Compare a gguf_str with a C string. */
static inline bool gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

#endif
