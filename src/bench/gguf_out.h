/* A streaming GGUF (version 3) writer for files too large to build in
 * memory: metadata and tensor infos first (their counts patched into the
 * header by gguf_out_end_header), then each tensor's data in order,
 * written in pieces with gguf_out_raw and padded with gguf_out_align. Layout per the GGUF spec
 * (ggml/docs/gguf.md): little-endian, strings as u64 length + bytes, data
 * of every tensor at an offset aligned to general.alignment (32). Errors
 * stick: after a failed write every call is a no-op and gguf_out_close
 * returns the first failure. */
#ifndef PDVM_GGUF_OUT_H
#define PDVM_GGUF_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pdvm.h"

enum { GGUF_OUT_ALIGN = 32 };

/* GGUF metadata value types (gguf_type). */
enum { GGUF_OUT_U32 = 4, GGUF_OUT_I32 = 5, GGUF_OUT_F32 = 6, GGUF_OUT_STR = 8,
       GGUF_OUT_ARR = 9 };

typedef struct gguf_out {
    FILE *f;
    const char *path;
    uint64_t data_offset; /* next tensor's offset within the data section */
    uint64_t n_kv, n_tensors; /* entries written so far */
    pdvm_status st;
} gguf_out;

/* Create path and write the header (counts filled in later).
 * Errors: PDVM_ERR_IO. */
pdvm_status gguf_out_open(gguf_out *g, const char *path);

void gguf_out_kv_u32(gguf_out *g, const char *key, uint32_t v);
void gguf_out_kv_f32(gguf_out *g, const char *key, float v);
void gguf_out_kv_str(gguf_out *g, const char *key, const char *v);
/* An array's header (key, element type, count); the caller then writes
 * the n items with gguf_out_str / gguf_out_raw. */
void gguf_out_kv_arr(gguf_out *g, const char *key, uint32_t elem_type, uint64_t n);
void gguf_out_str(gguf_out *g, const char *s);
void gguf_out_raw(gguf_out *g, const void *p, size_t n);

/* One tensor info (ne[0] innermost), in the order the data will follow;
 * nbytes is its data size. */
void gguf_out_tensor_info(gguf_out *g, const char *name, uint32_t n_dims, const int64_t *ne,
                          uint32_t type, uint64_t nbytes);
/* After the last info: the counts into the header, then the padding
 * before the data. */
void gguf_out_end_header(gguf_out *g);
/* Pad to the alignment after each tensor's data. */
void gguf_out_align(gguf_out *g);

/* Flush and close; on any failure the partial file is removed (when it
 * is a regular file). Returns
 * the first error (PDVM_ERR_IO). */
pdvm_status gguf_out_close(gguf_out *g);

#endif
