/* GGUF v2/v3 reader: the file is mmapped read-only, every count, length,
 * offset and size is validated against the file size before use, and the
 * accessors below never read outside the map. Spec: ggml docs/gguf.md. */
#ifndef PDVM_GGUF_H
#define PDVM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

typedef enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
} gguf_type;

/* A string inside the map: NOT NUL-terminated, may contain NULs. */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

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

typedef struct pdvm_gguf pdvm_gguf;

/* Open, map and validate. Errors: PDVM_ERR_IO, PDVM_ERR_FORMAT (message has
 * the byte offset or tensor name), PDVM_ERR_UNSUPPORTED (big-endian file,
 * version other than 2/3). Unknown tensor type ids are a FORMAT error;
 * known ggml types we cannot decode are accepted here (inspect lists them). */
pdvm_status pdvm_gguf_open(const char *path, pdvm_gguf **out);
/* Same, over a caller-owned buffer that must outlive the handle (fuzzing). */
pdvm_status pdvm_gguf_open_memory(const void *data, size_t size, pdvm_gguf **out);
void pdvm_gguf_close(pdvm_gguf *g);

uint32_t pdvm_gguf_version(const pdvm_gguf *g);
uint32_t pdvm_gguf_alignment(const pdvm_gguf *g);
uint64_t pdvm_gguf_data_offset(const pdvm_gguf *g);
uint64_t pdvm_gguf_file_size(const pdvm_gguf *g);

/* Metadata: keys are indexed 0..n_kv-1 in file order. */
uint64_t pdvm_gguf_n_kv(const pdvm_gguf *g);
gguf_str pdvm_gguf_key(const pdvm_gguf *g, uint64_t i);
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

/* Value of kv i rendered as text like gguf-dump does (strings quoted,
 * arrays of more than max_items abbreviated with their length). Writes at
 * most cap bytes including the NUL. */
void pdvm_gguf_kv_to_text(const pdvm_gguf *g, uint64_t i, size_t max_items, char *buf,
                          size_t cap);

uint64_t pdvm_gguf_n_tensors(const pdvm_gguf *g);
const gguf_tensor *pdvm_gguf_tensor(const pdvm_gguf *g, uint64_t i);
const gguf_tensor *pdvm_gguf_find_tensor(const pdvm_gguf *g, const char *name);

/* Compare a gguf_str with a C string. */
bool gguf_str_eq(gguf_str s, const char *c);

/* --- additions by the GGUF engineer (additive) --- */

/* Short name of a metadata value type as gguf-dump prints it: "u8", "i32",
 * "f32", "bool", "str", "arr", ...; "?" for anything else. */
const char *pdvm_gguf_type_name(gguf_type t);

/* A metadata value by index, so keys that are not C strings (embedded NUL)
 * are reachable too. Integers land in u (unsigned types) or i (signed),
 * f32/f64 in f, bool in b, strings in s; arrays set elem_type and n only. */
typedef struct gguf_value {
    gguf_type type;
    union {
        uint64_t u;
        int64_t i;
        double f;
        bool b;
        gguf_str s;
    } v;
    gguf_type elem_type; /* arrays */
    uint64_t n;          /* arrays: element count */
} gguf_value;

/* Value of kv i; false when i is out of range. */
bool pdvm_gguf_kv_value(const pdvm_gguf *g, uint64_t i, gguf_value *out);
/* Element j of array kv i whose elements are scalars or strings; false when
 * out of range or the elements are arrays themselves. */
bool pdvm_gguf_kv_item(const pdvm_gguf *g, uint64_t i, uint64_t j, gguf_value *out);

#endif
