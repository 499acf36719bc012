/* ggml tensor types and their block formats (CPU side). Layouts are ggml's
 * (ggml-common.h); decoding is bit-exact with ggml's to_float. */
#ifndef PDVM_QUANT_H
#define PDVM_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdvm.h"

/* Type ids as written in GGUF tensor infos (ggml_type). */
enum pdvm_type {
    PDVM_TYPE_F32 = 0,
    PDVM_TYPE_F16 = 1,
    PDVM_TYPE_Q4_0 = 2,
    PDVM_TYPE_Q4_1 = 3,
    PDVM_TYPE_Q5_0 = 6,
    PDVM_TYPE_Q5_1 = 7,
    PDVM_TYPE_Q8_0 = 8,
    PDVM_TYPE_Q8_1 = 9,
    PDVM_TYPE_Q2_K = 10,
    PDVM_TYPE_Q3_K = 11,
    PDVM_TYPE_Q4_K = 12,
    PDVM_TYPE_Q5_K = 13,
    PDVM_TYPE_Q6_K = 14,
    PDVM_TYPE_Q8_K = 15,
    PDVM_TYPE_IQ4_NL = 20,
    PDVM_TYPE_IQ4_XS = 23,
    PDVM_TYPE_BF16 = 30,
    PDVM_TYPE_COUNT = 43, /* ids at or above this are unknown */
};

/* Name as ggml prints it ("q4_0", "q4_K", "iq2_xxs"); "unknown" otherwise. */
const char *pdvm_type_name(uint32_t type);

/* Block geometry: elements per block and bytes per block. Both 0 for an id
 * that is not a known ggml type. Known but undecodable types (IQ*, TQ*) do
 * have geometry, so a file holding them can still be inspected. */
uint32_t pdvm_type_block_elems(uint32_t type);
uint32_t pdvm_type_block_bytes(uint32_t type);

/* True when pdvm_dequant_row can decode this type. */
bool pdvm_type_can_dequant(uint32_t type);

/* The names of the decodable types, ", "-separated, into buf (cap bytes,
 * truncated to fit). */
void pdvm_type_list_decodable(char *buf, size_t cap);

/* Bytes of n_elems elements of type; PDVM_ERR_FORMAT when n_elems is not a
 * multiple of the block size, PDVM_ERR_UNSUPPORTED for an unknown type. */
pdvm_status pdvm_type_row_bytes(uint32_t type, int64_t n_elems, uint64_t *out);

/* Decode n elements (a multiple of the block size) from src into dst.
 * Precondition: pdvm_type_can_dequant(type). */
void pdvm_dequant_row(uint32_t type, const void *src, float *dst, int64_t n);

/* sum_i dequant(row)[i] * x[i] over n elements, accumulated in float in the
 * same order as dequantize-then-dot (used by the reference forward pass). */
float pdvm_dot_row(uint32_t type, const void *row, const float *x, int64_t n);

/* IEEE half <-> float, round to nearest even (same as ggml's). */
float pdvm_f16_to_f32(uint16_t h);
uint16_t pdvm_f32_to_f16(float f);
float pdvm_bf16_to_f32(uint16_t h);

#endif
