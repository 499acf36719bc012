/* Random weights in every GGUF block format the GPU decodes, for the
 * batched-kernel tests: every byte random (quants, scale bytes, high
 * bits) except the f16 block scales, which are kept finite and of either
 * sign, so that every decode path and field is exercised. Test helper
 * (linked into every test binary). */
#ifndef PDVM_TEST_RAND_WEIGHTS_H
#define PDVM_TEST_RAND_WEIGHTS_H

#include <stdint.h>

/* n_out rows of n_in weights of `type` in GGUF layout (n_in a multiple of
 * the block size); *row_bytes set. Deterministic in seed. Caller frees. */
uint8_t *rand_weights(uint32_t type, uint32_t n_in, uint32_t n_out, uint64_t seed,
                      uint64_t *row_bytes);

/* The same rows decoded to f32 ([n_out][n_in]), by the CPU decoder. */
float *rand_weights_decode(uint32_t type, const uint8_t *w, uint64_t row_bytes, uint32_t n_in,
                           uint32_t n_out);

#endif
