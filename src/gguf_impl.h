/* Internal layout of a parsed GGUF file, shared by gguf.c (parse and
 * validate), gguf_get.c (typed accessors) and gguf_kv_text.c (rendering).
 * Not part of any contract: only those files include it. */
#ifndef PDVM_GGUF_IMPL_H
#define PDVM_GGUF_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "gguf.h"
#include "util.h"

/* Nested arrays deeper than this are rejected: the spec allows nesting but
 * bounds nothing, and the renderers recurse. */
#define GGUF_MAX_DEPTH 8

typedef struct gguf_kv {
    gguf_str key;
    gguf_type type;
    uint64_t offset;       /* file offset of the key, for messages */
    const uint8_t *val;    /* scalar/string: the value; array: first element */
    uint64_t val_size;     /* bytes from val to the end of the value */
    gguf_type elem_type;   /* arrays only */
    uint64_t n;            /* arrays only: element count */
    uint64_t *str_off;     /* string arrays: offset of element i from val */
} gguf_kv;

/* Where the bytes under base come from (gguf_source.c). */
typedef enum gguf_src {
    GGUF_SRC_MEMORY = 0,   /* the caller's buffer */
    GGUF_SRC_MAP,          /* the file, mapped read-only */
    GGUF_SRC_READ,         /* an anonymous region the size of the file: the
                            * header and 1-D tensors read in at open, the
                            * rest when first needed (gguf_source.h) */
} gguf_src;

struct pdvm_gguf {
    const uint8_t *base;
    uint64_t size;
    gguf_src src;
    int fd;                /* GGUF_SRC_READ: the file, for pread; else -1 */
    bool locked;           /* mlock'ed: every byte stays resident */
    atomic_bool loaded;    /* GGUF_SRC_READ: all tensor data read in */
    pthread_mutex_t load_mu; /* serialises that read */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    uint64_t n_kv;
    gguf_kv *kv;
    size_t *kv_by_key;     /* kv indices sorted by key, for lookup */
    uint64_t n_tensors;
    gguf_tensor *tensors;
    size_t *t_by_name;     /* tensor indices sorted by name */
};

/* Parse and validate size bytes at data (not owned; src GGUF_SRC_MEMORY,
 * fd -1: the caller sets the source after). */
pdvm_status pdvm_gguf_parse(const void *data, uint64_t size, pdvm_gguf **out);
/* Release what the source holds (map, region, file); gguf_source.c. */
void pdvm_gguf_source_close(pdvm_gguf *g);

/* Byte size of one scalar of type t; 0 for strings, arrays and unknowns. */
uint64_t pdvm_gguf_scalar_size(gguf_type t);

/* memcmp-then-length order, the order of kv_by_key and t_by_name. */
int pdvm_gguf_str_cmp(gguf_str a, gguf_str b);

/* Index of key in g->kv, or -1. */
int64_t pdvm_gguf_find_kv(const pdvm_gguf *g, gguf_str key);

#endif
