/* GPU fill of a synthetic tensor with random valid blocks (glsl/synth_fill.comp). */
#ifndef PDVM_SYNTH_FILL_H
#define PDVM_SYNTH_FILL_H

#include <stdint.h>

#include "gl_runtime.h"

/* Fill [offset, offset + bytes) of b (offset aligned to ssbo_align) with
 * random `type` blocks in the GPU's layout (gpu_repack.h), rows of
 * row_bytes starting at offset; the tail up to the next 4-byte boundary
 * is written too. Supports every type of gpu_types.h.
 * Errors: PDVM_ERR_UNSUPPORTED for other types, PDVM_ERR_GPU. */
pdvm_status pdvm_synth_fill(pdvm_gl *gl, const pdvm_gl_buffer *b, uint64_t offset,
                            uint64_t bytes, uint64_t row_bytes, uint32_t type, uint32_t seed);

#endif
