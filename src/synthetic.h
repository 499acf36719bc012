/* Synthetic models: the exact shapes of real ones with no file behind
 * them. Their tensors have data == NULL; the GPU upload fills such tensors
 * with random but valid blocks (finite scales) generated on the GPU, so a
 * benchmark times what a real model of that shape would cost. */
#ifndef PDVM_SYNTHETIC_H
#define PDVM_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pdvm.h"

size_t pdvm_synthetic_count(void);
const char *pdvm_synthetic_name(size_t i);

/* Build the named shape ("llama-3-8b", ...) with every 2-D weight in `type`
 * (F16, Q8_0, Q4_0 or Q4_K; a K-quant tensor whose rows are not a multiple
 * of 256 falls back to Q4_0) and F32 norms. Free with pdvm_synthetic_free.
 * Errors: PDVM_ERR_INVALID_ARG (unknown name, listing the known ones),
 * PDVM_ERR_UNSUPPORTED (type). */
pdvm_status pdvm_synthetic_model(const char *name, uint32_t type, pdvm_model **out);
void pdvm_synthetic_free(pdvm_model *m);

/* Bytes of all weights one decode step reads: every layer matrix and norm,
 * the output matrix and norm, one embedding row. */
uint64_t pdvm_model_weight_bytes_per_token(const pdvm_model *m);

#endif
