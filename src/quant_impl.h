/* Block decoders shared by quant.c (dispatch, row and dot loops) and
 * quant_blocks.c (one decoder per ggml block format). Internal. */
#ifndef PDVM_QUANT_IMPL_H
#define PDVM_QUANT_IMPL_H

#include <stdint.h>

/* Largest block, in elements (the K-quant super-block). */
#define PDVM_MAX_BLOCK_ELEMS 256

/* Decode one block at b (any alignment) into y[block_elems]. */
typedef void (*pdvm_block_decoder)(const uint8_t *b, float *y);

void pdvm_dq_q4_0(const uint8_t *b, float *y);
void pdvm_dq_q4_1(const uint8_t *b, float *y);
void pdvm_dq_q5_0(const uint8_t *b, float *y);
void pdvm_dq_q5_1(const uint8_t *b, float *y);
void pdvm_dq_q8_0(const uint8_t *b, float *y);
void pdvm_dq_q2_k(const uint8_t *b, float *y);
void pdvm_dq_q3_k(const uint8_t *b, float *y);
void pdvm_dq_q4_k(const uint8_t *b, float *y);
void pdvm_dq_q5_k(const uint8_t *b, float *y);
void pdvm_dq_q6_k(const uint8_t *b, float *y);
void pdvm_dq_iq4_nl(const uint8_t *b, float *y);
void pdvm_dq_iq4_xs(const uint8_t *b, float *y);

#endif
