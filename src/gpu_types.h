/* The weight types the GPU kernels decode: one row per type, from which
 * everything type-specific on the GPU side is derived: the shader function
 * names (glsl/dot.glsl, glsl/deq.glsl), the support check and its error
 * text, the row layout on the GPU (gpu_repack.h), the synthetic fill
 * (synth_fill.h) and `pdvm bench --type`. Adding a type is one row here
 * plus its shader functions. */
#ifndef PDVM_GPU_TYPES_H
#define PDVM_GPU_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

enum { GPU_MAX_FIELDS = 4 };

/* How the synthetic fill writes random weights: floats of the type, or
 * random block bytes with the f16 fields kept small and finite. */
typedef enum gpu_fill_kind {
    GPU_FILL_F32,
    GPU_FILL_F16,
    GPU_FILL_BF16,
    GPU_FILL_BLOCKS,
} gpu_fill_kind;

/* Bytes [src, src + size) of a GGUF block. */
typedef struct gpu_field {
    uint8_t src, size;
} gpu_field;

typedef struct gpu_type {
    uint32_t type;       /* enum pdvm_type */
    const char *dot;     /* segment dot product (dot.glsl) */
    const char *dot_v4;  /* the same through the uvec4 view, for rows whose bytes and
                          * start are multiples of 16 */
    const char *deq;     /* one element (deq.glsl), as ggml's to_float computes it */
    const char *seg;     /* a 32-element segment decoded to floats (seg.glsl), for
                          * the tiled mat-mat kernels */
    gpu_fill_kind fill;
    int16_t half_a, half_b; /* GPU_FILL_BLOCKS: byte offsets in the block of its f16
                             * fields (scale, min), -1 when absent */
    /* The GPU row layout. n_fields 0: blocks as in the file. Otherwise the
     * row is repacked: field 0 of every block in block order, then field
     * 1 of every block, ...; same bytes, same row size, the quants first
     * so that they sit on 16-byte boundaries (gpu_repack.h). */
    uint32_t n_fields;
    gpu_field fields[GPU_MAX_FIELDS];
} gpu_type;

/* The row of a type; NULL when the GPU has no kernel for it. */
const gpu_type *gpu_type_find(uint32_t type);

/* Rows in table order (f32, f16, bf16, then the block types), NULL past
 * the end. */
const gpu_type *gpu_type_at(size_t i);

/* The supported types' ggml names, ", "-separated, into buf (cap bytes,
 * truncated to fit). */
void gpu_type_names(char *buf, size_t cap);

/* A supported type by its ggml name, any case ("q4_K", "q4_k").
 * Returns false for other names. */
bool gpu_type_parse(const char *name, uint32_t *type);

/* PDVM_OK when the GPU decodes `type`; else PDVM_ERR_UNSUPPORTED with a
 * message naming the tensor (when not NULL), the type, and the supported
 * types. */
pdvm_status gpu_type_check(uint32_t type, const char *tensor);

#endif
